"""What a reader must know about a row before believing it, read from its runs' `cost.notes`.

Rules are keyed on the note a run records, not on the method, so any method that records the
same quantity gets the same warning:

- `weight_decay_at_target`: the closed-loop weight decay λ when the target was reached (AdapMTL
  family). Its official code's default is 1e-4; a λ orders of magnitude above it means the row
  measures weight-decay shrinkage as much as learned thresholds (docs/methods.md, adapmtl).
  Runs whose note is null never reached the target before the end.
- `weights_touched_fraction`: the share of prunable weights an end correction restored or
  zeroed to land on the target; above `CORRECTION_LIMIT` in any seed, the row says so.
"""

from __future__ import annotations

import statistics
from collections.abc import Mapping, Sequence
from typing import Any

CORRECTION_LIMIT = 0.01  # an end correction moving more than 1 % of the weights is shown
OFFICIAL_DECAY = 1e-4  # AdapMTL's official weight decay, the scale λ is read against


def _g(value: float) -> str:
    return f"{value:.2g}"


def row_notes(notes: Sequence[Mapping[str, Any]]) -> list[str]:
    """One sentence per rule that applies to the runs' notes (one mapping per seed)."""
    out: list[str] = []
    n = len(notes)
    if any("weight_decay_at_target" in x for x in notes):
        lams = [float(x["weight_decay_at_target"]) for x in notes
                if isinstance(x.get("weight_decay_at_target"), (int, float))]
        if lams:
            out.append(
                f"λ at target: median {_g(statistics.median(lams))} "
                f"({_g(min(lams))}–{_g(max(lams))} over {len(lams)} seeds; "
                f"{_g(statistics.median(lams) / OFFICIAL_DECAY)}× the official 1e-4)")
        if len(lams) < n:
            out.append(f"target not reached before the end in {n - len(lams)} of {n} seeds")
    moved = [float(x["weights_touched_fraction"]) for x in notes
             if isinstance(x.get("weights_touched_fraction"), (int, float))]
    over = [m for m in moved if m > CORRECTION_LIMIT]
    if over:
        out.append(f"end correction moved {100 * max(over):.1f} % of the weights "
                   f"(more than {100 * CORRECTION_LIMIT:.0f} % in {len(over)} of {n} seeds)")
    return out
