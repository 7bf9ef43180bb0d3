"""Which runs of the grid are done, missing, failed or stale — read from the run directories.

A run is addressed exactly as in the DVC pipeline (`bench.record.spec.run_dir`), and is *done* only
when its `result.json` says `ok` and was written under the configuration that the grid would
use now (its `identity`). Everything else is work for an executor.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from bench.config import Config
from bench.record.identity import resolved_config, run_identity, stale_reason
from bench.record.result import CHECKPOINT_FILE, read_result
from bench.record.spec import RunSpec, grid, run_dir

RunState = Literal["done", "missing", "failed", "stale"]
TODO: tuple[RunState, ...] = ("missing", "failed", "stale")


@dataclass(frozen=True)
class PlannedRun:
    spec: RunSpec
    run_dir: Path
    state: RunState
    detail: str = ""

    @property
    def todo(self) -> bool:
        return self.state in TODO

    @property
    def label(self) -> str:
        return self.spec.label


def expected_identity(config: Config, spec: RunSpec) -> tuple[str, dict[str, Any]]:
    inputs = resolved_config(config, spec)
    return run_identity(inputs), inputs


def plan_run(config: Config, spec: RunSpec) -> PlannedRun:
    out = run_dir(config, spec)
    result = read_result(out)
    if result is None:
        detail = "checkpoint present, will resume" if (out / CHECKPOINT_FILE).exists() else ""
        return PlannedRun(spec, out, "missing", detail)
    wanted, inputs = expected_identity(config, spec)
    if result.identity != wanted:
        return PlannedRun(spec, out, "stale", stale_reason(result, inputs))
    if not result.ok:
        return PlannedRun(spec, out, "failed", result.reason)
    return PlannedRun(spec, out, "done")


def plan(config: Config) -> list[PlannedRun]:
    """Every run of `bench.record.spec.grid(config)`, in the pipeline's order, with its state."""
    return [plan_run(config, spec) for spec in grid(config)]


def format_plan(runs: list[PlannedRun]) -> str:
    lines = []
    for r in runs:
        line = f"{r.state:<8} {r.run_dir}"
        if r.detail:
            line += f"  ({r.detail})"
        lines.append(line)
    counts = {state: sum(r.state == state for r in runs) for state in ("done", *TODO)}
    summary = ", ".join(f"{n} {state}" for state, n in counts.items())
    lines.append(f"{len(runs)} runs: {summary}")
    return "\n".join(lines)
