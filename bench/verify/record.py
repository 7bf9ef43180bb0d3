"""`reports/verify/<dataset>-<backbone>-<method>-s<target>.json`: the one module that writes and
reads a verification (schema in docs/verify.md). Plain JSON; no torch: the aggregate step reads
these files.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from bench.io import write_json_atomic

# 1: the first schema (row identity, prediction interval, per-seed ΔT and pass, machine).
VERIFY_SCHEMA_VERSION = 1
VERIFY_DIR = "verify"

log = logging.getLogger(__name__)
RecordKey = tuple[str, str, str, float]


def record_name(dataset: str, backbone: str, method: str, target_sparsity: float) -> str:
    """`synthetic-resnet34-snip-s0.9.json`: the setting, the method and the target as the run
    folders spell them (`s0.9`), so rows of two datasets or backbones never share a file."""
    return f"{dataset}-{backbone}-{method}-s{float(target_sparsity)}.json"


def record_key(dataset: str, backbone: str, method: str, target_sparsity: float) -> RecordKey:
    return dataset, backbone, method, round(float(target_sparsity), 6)


def _row_of(record: Mapping[str, Any]) -> tuple[str, str, str, float]:
    """(dataset, backbone, method, target) of a verification: what names and keys its file."""
    row = record["row"]
    return row["dataset"], row["backbone"], record["method"], record["target_sparsity"]


def write_record(directory: str | Path, record: Mapping[str, Any]) -> Path:
    path = Path(directory) / record_name(*_row_of(record))
    write_json_atomic(path, dict(record))
    return path


def check_record(record: Any) -> str | None:
    """Why a parsed file is not a verification this version can read; None if it is one."""
    if not isinstance(record, dict):
        return "not a JSON object"
    if record.get("schema_version") != VERIFY_SCHEMA_VERSION:
        return f"schema_version {record.get('schema_version')!r}, expected {VERIFY_SCHEMA_VERSION}"
    row, machine = record.get("row"), record.get("machine")
    checks = {
        "method": isinstance(record.get("method"), str),
        "target_sparsity": isinstance(record.get("target_sparsity"), (int, float)),
        "row.identity": isinstance(row, dict) and isinstance(row.get("identity"), str),
        "row.dataset": isinstance(row, dict) and isinstance(row.get("dataset"), str),
        "row.backbone": isinstance(row, dict) and isinstance(row.get("backbone"), str),
        "seeds": isinstance(record.get("seeds"), list) and all(
            isinstance(s, dict) and isinstance(s.get("pass"), bool) for s in record["seeds"]),
        "machine.platform": isinstance(machine, dict) and isinstance(machine.get("platform"), str),
    }
    missing = [key for key, ok in checks.items() if not ok]
    return f"missing or malformed: {', '.join(missing)}" if missing else None


def read_records(directory: str | Path) -> dict[RecordKey, dict[str, Any]]:
    """Every readable verification in `directory` by (dataset, backbone, method, target); a file
    that cannot be read is logged and left out (its row shows "not verified")."""
    out: dict[RecordKey, dict[str, Any]] = {}
    root = Path(directory)
    if not root.is_dir():
        return out
    for path in sorted(root.glob("*.json")):
        try:
            record = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            log.warning("%s: unreadable verification (%s); ignored", path, exc)
            continue
        problem = check_record(record)
        if problem is not None:
            log.warning("%s: not a verification (%s); ignored", path, problem)
            continue
        record["file"] = path.name
        out[record_key(*_row_of(record))] = record
    return out
