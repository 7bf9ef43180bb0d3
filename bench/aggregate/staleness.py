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
from bench.record.identity import stale_reason
from bench.record.result import RunResult


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
            reason = stale_reason(RunResult(run.result), want.inputs)
        stale.append({"path": run.path, "method": run.method, "task": run.task, "target_sparsity":
                      run.target_sparsity, "seed": run.seed, "identity": run.identity,
                      "reason": reason})
    return current, stale
