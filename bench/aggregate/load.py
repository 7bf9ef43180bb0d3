"""Find every `result.json` under a runs root, parse it and check it (docs/report.md, validity).

Nothing here imports torch: results are read as JSON only.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

SCHEMA_VERSIONS = (1,)
RESULT_FILE = "result.json"
# A run whose measured overall sparsity is further than this from its target is not ranked.
SPARSITY_TOLERANCE = 0.005
_REQUIRED_STR = ("method", "dataset", "backbone", "profile")


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


def _number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _check_structure(r: Any) -> str | None:
    if not isinstance(r, dict):
        return "result.json is not a JSON object"
    version = r.get("schema_version")
    if version not in SCHEMA_VERSIONS:
        return f"unknown schema_version {version!r} (supported: {SCHEMA_VERSIONS})"
    for key in _REQUIRED_STR:
        if not isinstance(r.get(key), str) or not r[key]:
            return f"missing or non-string key {key!r}"
    if not _number(r.get("target_sparsity")):
        return "missing or non-numeric target_sparsity"
    if not isinstance(r.get("seed"), int) or isinstance(r.get("seed"), bool):
        return "missing or non-integer seed"
    if r.get("status") not in ("ok", "failed"):
        return f"unknown status {r.get('status')!r}"
    return None


def _check_outcome(r: dict[str, Any]) -> str | None:
    if r["status"] == "failed":
        return f"run failed: {r.get('reason') or 'no reason given'}"
    sparsity = r.get("sparsity")
    if not isinstance(sparsity, dict) or not _number(sparsity.get("overall")):
        return "missing measured sparsity.overall"
    by_component = sparsity.get("by_component")
    if not isinstance(by_component, dict) or not all(_number(v) for v in by_component.values()):
        return "missing or non-numeric sparsity.by_component"
    metrics = r.get("metrics")
    if not isinstance(metrics, dict) or not metrics:
        return "missing test metrics"
    for task, values in metrics.items():
        if not isinstance(values, dict):
            return f"metrics.{task} is not an object"
        for key, value in values.items():
            if not _number(value):
                return f"non-finite or non-numeric metric {task}.{key} = {value!r}"
    off = abs(float(sparsity["overall"]) - float(r["target_sparsity"]))
    if off > SPARSITY_TOLERANCE + 1e-9:
        return (
            f"measured sparsity {100 * sparsity['overall']:.2f}% is {100 * off:.2f} pp off the "
            f"target {100 * r['target_sparsity']:.2f}% (tolerance {100 * SPARSITY_TOLERANCE:.1f} pp)"
        )
    return None


def check_result(result: Any) -> str | None:
    """Why a parsed result cannot be ranked, or None when it can (before the dense check)."""
    return _check_structure(result) or _check_outcome(result)


def read_run(result_file: Path, runs_root: Path) -> Run | InvalidRun:
    rel = result_file.parent.relative_to(runs_root).as_posix()
    try:
        result = json.loads(result_file.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as exc:
        return InvalidRun(rel, f"unreadable result.json: {exc}")
    except json.JSONDecodeError as exc:
        return InvalidRun(rel, f"invalid JSON in result.json: {exc}")
    reason = check_result(result)
    if reason is not None:
        return InvalidRun(rel, reason, result if isinstance(result, dict) else None)
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
