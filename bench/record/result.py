"""`result.json`: the one module that writes and reads a run's result (schema in
docs/results.md). Plain JSON; no torch.

`RunResult` is the typed view every reader uses: the fields that address and judge a run are
properties, the rest (metrics, sparsity, cost, provenance) stays plain JSON for the aggregate
step and the report. `check` says why a result cannot be ranked.
"""

from __future__ import annotations

import json
import logging
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.io import write_json_atomic

# 2: one identity (`identity`, no provenance.config_hash), no per-run ΔT (the aggregate step
# scores every run), the code fingerprint in the identity inputs, the CPU kernel capability.
SCHEMA_VERSION = 2
RESULT_FILE = "result.json"
MODEL_FILE = "model.pt"
CHECKPOINT_FILE = "checkpoint.pt"
# A run whose measured overall sparsity is further than this from its target is not ranked.
SPARSITY_TOLERANCE = 0.005
_REQUIRED_STR = ("method", "dataset", "backbone", "profile")

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class RunResult:
    """A parsed result.json (any status); `data` is the JSON object as written."""

    data: dict[str, Any]

    @property
    def status(self) -> str | None:
        value = self.data.get("status")
        return value if isinstance(value, str) else None

    @property
    def ok(self) -> bool:
        return self.status == "ok"

    @property
    def identity(self) -> str | None:
        value = self.data.get("identity")
        return value if isinstance(value, str) else None

    @property
    def inputs(self) -> dict[str, Any]:
        """The identity inputs the run was trained under (bench/record/identity.py), recorded
        as `provenance.config`."""
        value = (self.data.get("provenance") or {}).get("config")
        return value if isinstance(value, dict) else {}

    @property
    def reason(self) -> str:
        return str(self.data.get("reason") or "no reason given")

    @property
    def start(self) -> dict[str, Any]:
        value = self.data.get("start")
        return value if isinstance(value, dict) else {"point": "init"}

    @property
    def iterations(self) -> int:
        return int((self.data.get("cost") or {}).get("iterations") or 0)

    @property
    def metrics(self) -> dict[str, dict[str, float]] | None:
        value = self.data.get("metrics")
        return value if isinstance(value, dict) else None


def read_result(run_dir: str | Path) -> RunResult | None:
    """The run's result, or None when it has none (or an unreadable one: logged)."""
    path = Path(run_dir) / RESULT_FILE
    if not path.exists():
        return None
    data, error = load_result(path)
    if error is not None:
        log.warning("%s: %s", path, error)
    return RunResult(data) if isinstance(data, dict) else None


def load_result(path: Path) -> tuple[dict[str, Any] | None, str | None]:
    """(parsed object, None) or (None, why it cannot be read): for readers that list bad files."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as exc:
        return None, f"unreadable {RESULT_FILE}: {exc}"
    except json.JSONDecodeError as exc:
        return None, f"invalid JSON in {RESULT_FILE}: {exc}"
    return data, None


def write_result(run_dir: Path, result: dict[str, Any]) -> RunResult:
    """Write `result.json` atomically; returns the result as written (with schema_version)."""
    data = {"schema_version": SCHEMA_VERSION, **result}
    write_json_atomic(Path(run_dir) / RESULT_FILE, data)
    return RunResult(data)


def _number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _check_structure(r: Any) -> str | None:
    if not isinstance(r, dict):
        return f"{RESULT_FILE} is not a JSON object"
    version = r.get("schema_version")
    if version != SCHEMA_VERSION:
        return (f"schema_version {version!r} (this version reads {SCHEMA_VERSION}): written by "
                "another version of the benchmark; retrain it")
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
