"""Find every `result.json` under a runs root, parse it and check it (docs/report.md, validity).

Nothing here imports torch: results are read as JSON only.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.record.result import RESULT_FILE, SPARSITY_TOLERANCE, check_result, load_result

__all__ = ["SPARSITY_TOLERANCE", "InvalidRun", "Run", "check_result", "load_runs", "read_run"]


@dataclass(frozen=True)
class Run:
    """A parsed, checked result; `path` is the run directory relative to the runs root."""

    path: str
    result: dict[str, Any]

    @property
    def method(self) -> str:
        return str(self.result["method"])

    @property
    def task(self) -> str | None:
        """The task of a single-task reference (Δm's reference); None for a multi-task run."""
        value = self.result.get("task")
        return value if isinstance(value, str) and value else None

    @property
    def key(self) -> tuple[Any, ...]:
        return (*self.setting, self.method, self.target_sparsity, self.seed, self.task)

    @property
    def setting(self) -> tuple[str, str, str, str]:
        """Dataset, backbone, profile name and the setting identity (the hash of data, backbone
        and the profile's content): what runs of one table and their dense reference share."""
        r = self.result
        return (r["dataset"], r["backbone"], r["profile"], str(r.get("setting_identity") or ""))

    @property
    def identity(self) -> str | None:
        value = self.result.get("identity")
        return value if isinstance(value, str) else None

    @property
    def start(self) -> str:
        start = self.result.get("start")
        return str(start.get("point", "init")) if isinstance(start, dict) else "init"

    @property
    def seed(self) -> int:
        return int(self.result["seed"])

    @property
    def target_sparsity(self) -> float:
        return round(float(self.result["target_sparsity"]), 6)


@dataclass(frozen=True)
class InvalidRun:
    path: str
    reason: str
    result: dict[str, Any] | None = None

    def to_dict(self) -> dict[str, Any]:
        r = self.result if isinstance(self.result, dict) else {}
        out: dict[str, Any] = {"path": self.path, "reason": self.reason}
        for key in ("method", "task", "dataset", "backbone", "profile", "target_sparsity", "seed",
                    "status"):
            value = r.get(key)
            out[key] = value if isinstance(value, (str, int, float)) else None
        return out


def read_run(result_file: Path, runs_root: Path) -> Run | InvalidRun:
    rel = result_file.parent.relative_to(runs_root).as_posix()
    result, unreadable = load_result(result_file)
    if unreadable is not None:
        return InvalidRun(rel, unreadable)
    reason = check_result(result)
    if reason is not None or not isinstance(result, dict):  # check_result refuses non-objects
        return InvalidRun(rel, reason or "not a JSON object",
                          result if isinstance(result, dict) else None)
    return Run(rel, result)


def load_runs(runs_root: str | Path) -> tuple[list[Run], list[InvalidRun]]:
    """Every `result.json` under `runs_root`, split into checked runs and invalid ones.

    Two results for the same (dataset, backbone, profile, method, target, seed, task) are both kept
    out: which one is right cannot be told from the files.
    """
    root = Path(runs_root)
    runs: list[Run] = []
    invalid: list[InvalidRun] = []
    if not root.is_dir():
        return runs, invalid
    for result_file in sorted(root.rglob(RESULT_FILE)):
        item = read_run(result_file, root)
        (runs if isinstance(item, Run) else invalid).append(item)  # type: ignore[arg-type]
    by_key: dict[tuple[Any, ...], list[Run]] = {}
    for run in runs:
        by_key.setdefault(run.key, []).append(run)
    unique: list[Run] = []
    for group in by_key.values():
        if len(group) == 1:
            unique.append(group[0])
            continue
        paths = ", ".join(r.path for r in group)
        invalid.extend(InvalidRun(r.path, f"duplicate results for one run: {paths}", r.result)
                       for r in group)
    return unique, invalid
