"""Stale runs: results whose identity is not the one params.yaml asks for at their path.

A run is ranked only if its recorded `identity` equals the expected one; any other run — another
profile content, other method parameters, other data, a stale dense parent, or not in the grid —
is listed with the first inputs that differ (docs/report.md, docs/protocol.md §9).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from bench.aggregate.load import Run


@dataclass(frozen=True)
class Expected:
    """What params.yaml asks for at one run path: its identity and the inputs hashed."""

    identity: str
    inputs: dict[str, Any]


def split_stale(runs: list[Run], expected: Mapping[str, Expected]) -> tuple[list[Run], list[dict[str, Any]]]:
    """Split runs into those params.yaml asks for (same identity) and stale ones, with why."""
    current: list[Run] = []
    stale: list[dict[str, Any]] = []
    for run in runs:
        want = expected.get(run.path)
        if want is not None and run.identity == want.identity:
            current.append(run)
            continue
        if want is None:
            reason = "not in the grid params.yaml asks for"
        else:
            found = (run.result.get("provenance") or {}).get("config") or {}
            reason = "trained with other settings: " + identity_diff(found, want.inputs)
        stale.append({"path": run.path, "method": run.method, "task": run.task, "target_sparsity":
                      run.target_sparsity, "seed": run.seed, "identity": run.identity,
                      "reason": reason})
    return current, stale


def identity_diff(found: Mapping[str, Any], wanted: Mapping[str, Any], prefix: str = "") -> str:
    """The first few keys where a run's recorded identity inputs differ from the wanted ones."""
    diffs: list[str] = []
    for key in sorted(set(found) | set(wanted)):
        a, b = found.get(key), wanted.get(key)
        if a == b:
            continue
        if isinstance(a, Mapping) and isinstance(b, Mapping):
            diffs.append(identity_diff(a, b, f"{prefix}{key}."))
        else:
            diffs.append(f"{prefix}{key} {a!r} (params.yaml: {b!r})")
    return "; ".join(d for d in diffs if d)[:300] or "unrecorded identity"
