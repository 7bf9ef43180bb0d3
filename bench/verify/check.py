"""Score held-out seeds against the leaderboard's own reference and judge each against the row's
95 % prediction interval; build the verification record (bench/verify/record.py). No torch:
the caller measures the machine.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any

from bench.aggregate import stats
from bench.aggregate.load import InvalidRun, Run
from bench.aggregate.scored import REFERENCE_KIND, score_runs
from bench.verify.identity import row_identity, row_inputs
from bench.verify.record import VERIFY_SCHEMA_VERSION
from bench.verify.status import outcome, status_label


@dataclass(frozen=True)
class SeedCheck:
    """One held-out seed: its ΔT (None when its run cannot be scored) and whether it passed."""

    seed: int
    delta_t: float | None
    passed: bool
    path: str
    identity: str | None = None
    cpu_capability: str | None = None
    reason: str | None = None


def judge(row: stats.Sample, held_out: Mapping[int, float | None]
          ) -> tuple[dict[str, Any], dict[int, bool]]:
    """The row's prediction interval and, per held-out seed, whether its ΔT lies in it (a seed
    with no ΔT fails). A row needs 2 seeds for an interval (ValueError otherwise)."""
    interval = stats.prediction_interval([row[k] for k in sorted(row)])
    if interval is None:
        raise ValueError(f"a prediction interval needs at least 2 seeds of the row, got {len(row)}")
    return interval, {seed: value is not None and stats.inside(value, interval)
                      for seed, value in held_out.items()}


def _capability(run: Run | InvalidRun) -> str | None:
    provenance = (run.result or {}).get("provenance") or {}
    value = provenance.get("cpu_capability") if isinstance(provenance, dict) else None
    return value if isinstance(value, str) else None


def check_seeds(row_runs: Sequence[Run], reference: Sequence[Run],
                held_out: Mapping[int, Run | InvalidRun]
                ) -> tuple[dict[int, float], dict[str, Any], list[SeedCheck]]:
    """Score the row's runs and the held-out ones as the leaderboard scores its rows (the same
    function, against the mean of the dense seeds), then judge the held-out seeds."""
    fresh = [run for run in held_out.values() if isinstance(run, Run)]
    scored, invalid = score_runs([*reference, *row_runs, *fresh])
    delta = {id(s.run): s.delta_t["mean"] for s in scored}
    unscored = {i.path: i.reason for i in invalid}
    row = {run.seed: delta[id(run)] for run in row_runs if id(run) in delta}
    values: dict[int, float | None] = {}
    reasons: dict[int, str | None] = {}
    for seed, run in held_out.items():
        if isinstance(run, InvalidRun):
            values[seed], reasons[seed] = None, f"not rankable: {run.reason}"
        else:
            values[seed] = delta.get(id(run))
            reasons[seed] = None if id(run) in delta else unscored.get(run.path, "not scored")
    interval, passes = judge(row, values)
    checks = [SeedCheck(seed, values[seed], passes[seed], run.path,
                        run.identity if isinstance(run, Run) else None, _capability(run),
                        reasons[seed])
              for seed, run in sorted(held_out.items())]
    return row, interval, checks


def build_record(method: str, target: float, row_runs: Sequence[Run], reference: Sequence[Run],
                 row: Mapping[int, float], interval: Mapping[str, Any],
                 checks: Sequence[SeedCheck], machine: Mapping[str, Any]) -> dict[str, Any]:
    """The verification as `reports/verify/<dataset>-<backbone>-<method>-s<target>.json` holds
    it (docs/verify.md)."""
    rows = [r.result for r in row_runs]
    first = rows[0]
    passes = [c.passed for c in checks]
    return {
        "schema_version": VERIFY_SCHEMA_VERSION,
        "method": method,
        "target_sparsity": target,
        "row": {
            "identity": row_identity(rows, [r.result for r in reference]),
            "dataset": first.get("dataset"), "backbone": first.get("backbone"),
            "profile": first.get("profile"), "setting_identity": first.get("setting_identity"),
            "seeds": sorted(row), "delta_t": {str(k): row[k] for k in sorted(row)},
            "reference_kind": REFERENCE_KIND,
            "cpu_capabilities": sorted({c for c in map(_capability, row_runs) if c}),
            "inputs": row_inputs(rows, [r.result for r in reference]),
        },
        "interval": {**dict(interval), "rule": stats.PREDICTION_RULE},
        "seeds": [{**{k: v for k, v in asdict(c).items() if k != "passed"}, "pass": c.passed}
                  for c in checks],
        "passed": sum(passes), "total": len(passes),
        "outcome": outcome(passes),
        "label": status_label(outcome(passes), sum(passes), len(passes),
                              str(machine["platform"])),
        "machine": dict(machine),
        "created_at": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
    }


def seed_line(check: SeedCheck, interval: Mapping[str, Any]) -> str:
    """`seed 8: ΔT -12.3 in [-30.1, 5.6]: pass`, one per held-out seed."""
    value = "–" if check.delta_t is None else f"{check.delta_t:+.1f}"
    where = "in" if check.passed else "not in"
    line = (f"seed {check.seed}: ΔT {value} {where} [{interval['low']:+.1f}, "
            f"{interval['high']:+.1f}]: {'pass' if check.passed else 'FAIL'}")
    return line + (f" ({check.reason})" if check.reason else "")
