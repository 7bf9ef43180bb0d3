"""The result file of a run (schema in docs/results.md)."""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

from bench.io import write_json_atomic

SCHEMA_VERSION = 1
RESULT_FILE = "result.json"
MODEL_FILE = "model.pt"
CHECKPOINT_FILE = "checkpoint.pt"

log = logging.getLogger(__name__)


def read_result(run_dir: str | Path) -> dict[str, Any] | None:
    path = Path(run_dir) / RESULT_FILE
    if not path.exists():
        return None
    try:
        result: dict[str, Any] = json.loads(path.read_text())
    except json.JSONDecodeError:
        log.warning("%s is not valid JSON", path)
        return None
    return result


def dense_reference_metrics(dense_dir: Path) -> dict[str, dict[str, float]] | None:
    result = read_result(dense_dir)
    if not result or result.get("status") != "ok":
        return None
    metrics: dict[str, dict[str, float]] = result["metrics"]
    return metrics


def delta_t_against(
    metrics: dict[str, dict[str, float]] | None, dense_dir: Path, scoring: str
) -> dict[str, float] | None:
    from bench.scoring import delta_t

    if not metrics:
        return None
    reference = dense_reference_metrics(dense_dir)
    if reference is None:
        return None
    try:
        return delta_t(metrics, reference, scoring=scoring)
    except ValueError as exc:  # e.g. a dense metric of exactly 0: ΔT is undefined, not 0
        log.warning("ΔT against %s is undefined: %s", dense_dir, exc)
        return None


def write_result(run_dir: Path, result: dict[str, Any]) -> dict[str, Any]:
    """Write `result.json` atomically; returns the result as written (with schema_version)."""
    result = {"schema_version": SCHEMA_VERSION, **result}
    write_json_atomic(Path(run_dir) / RESULT_FILE, result)
    return result
