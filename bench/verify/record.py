"""`reports/verify/<method>-s<target>.json`: the one module that writes and reads a verification
(schema in docs/verify.md). Plain JSON; no torch: the aggregate step reads these files.
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
RecordKey = tuple[str, float]


def record_name(method: str, target_sparsity: float) -> str:
    """`snip-s0.9.json`: the method and the target as its run folders spell them (`s0.9`)."""
    return f"{method}-s{float(target_sparsity)}.json"


def record_key(method: str, target_sparsity: float) -> RecordKey:
    return method, round(float(target_sparsity), 6)


def write_record(directory: str | Path, record: Mapping[str, Any]) -> Path:
    path = Path(directory) / record_name(record["method"], record["target_sparsity"])
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
        "seeds": isinstance(record.get("seeds"), list) and all(
            isinstance(s, dict) and isinstance(s.get("pass"), bool) for s in record["seeds"]),
        "machine.platform": isinstance(machine, dict) and isinstance(machine.get("platform"), str),
    }
    missing = [key for key, ok in checks.items() if not ok]
    return f"missing or malformed: {', '.join(missing)}" if missing else None


def read_records(directory: str | Path) -> dict[RecordKey, dict[str, Any]]:
    """Every readable verification in `directory` by (method, target); a file that cannot be
    read is logged and left out (its row shows "not verified")."""
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
        out[record_key(record["method"], record["target_sparsity"])] = record
    return out
