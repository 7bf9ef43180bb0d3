"""A row's identity apart from the seed: what a verification verified.

A row (method × target of one setting) is its runs' identity inputs with the seed left out — the
method, its parameters, the target, the budget's start point, the profile, the data and the code
fingerprint (bench/record/identity.py) — together with those of its dense reference (every ΔT is
scored against it) and the seeds of both (they decide the interval). A from-dense run's parent
identity depends on its seed, so it is left out too; the reference's inputs stand for it. The
leaderboard and `bench verify` compute it from the same recorded inputs, so a verification whose
row identity no longer matches the row (code or parameters changed, seeds added) is stale.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from typing import Any


def recorded_inputs(result: Mapping[str, Any]) -> dict[str, Any]:
    """The identity inputs a result.json recorded (`provenance.config`); {} when it has none."""
    provenance = result.get("provenance")
    inputs = provenance.get("config") if isinstance(provenance, Mapping) else None
    return dict(inputs) if isinstance(inputs, Mapping) else {}


def seedless(inputs: Mapping[str, Any]) -> dict[str, Any]:
    """A run's identity inputs without what depends on its seed (the seed, its parent's identity)."""
    out = {k: v for k, v in inputs.items() if k != "seed"}
    start = out.get("start")
    if isinstance(start, Mapping):
        out["start"] = {k: v for k, v in start.items() if k != "parent_identity"}
    return out


def row_inputs(rows: Sequence[Mapping[str, Any]],
               reference: Sequence[Mapping[str, Any]]) -> dict[str, Any] | None:
    """What the row's results (and its dense reference's) share apart from the seed; None when
    they do not all share it (runs of several identities mixed in one row) or one side is empty."""
    method = [seedless(recorded_inputs(r)) for r in rows]
    dense = [seedless(recorded_inputs(r)) for r in reference]
    if not method or not dense or any(m != method[0] for m in method) or \
            any(d != dense[0] for d in dense):
        return None
    return {"row": method[0], "reference": dense[0],
            "seeds": sorted(int(r["seed"]) for r in rows),
            "reference_seeds": sorted(int(r["seed"]) for r in reference)}


def row_identity(rows: Sequence[Mapping[str, Any]],
                 reference: Sequence[Mapping[str, Any]]) -> str | None:
    """The hash of `row_inputs` (16 hex digits, like a run's identity), or None."""
    inputs = row_inputs(rows, reference)
    if inputs is None:
        return None
    text = json.dumps(inputs, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()[:16]
