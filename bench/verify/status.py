"""A row's verification status, as the leaderboard and the report show it:
"verified 2/2 on AVX2", "failed 1/2 on AVX2" (1 of 2 held-out seeds inside the interval) or
"not verified" (no verification, or one of a row that has changed since: stale).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

NOT_VERIFIED = "not verified"
STALE = "stale: the row changed since it was verified (code, parameters, data or seeds)"


def outcome(passes: list[bool]) -> str:
    """"verified" when every held-out seed passed (and there was one), else "failed"."""
    return "verified" if passes and all(passes) else "failed"


def status_label(state: str, passed: int, total: int, platform: str) -> str:
    return f"{state} {passed}/{total} on {platform}"


def verification_status(record: Mapping[str, Any] | None,
                        row_identity: str | None) -> dict[str, Any]:
    """The status of a row whose identity is `row_identity`, given its verification file."""
    if record is None:
        return {"state": NOT_VERIFIED, "label": NOT_VERIFIED, "reason": "no verification"}
    if row_identity is None or record["row"]["identity"] != row_identity:
        return {"state": NOT_VERIFIED, "label": NOT_VERIFIED, "reason": STALE,
                "file": record.get("file"), "verified_identity": record["row"]["identity"]}
    passes = [bool(s["pass"]) for s in record["seeds"]]
    state = outcome(passes)
    platform = str(record["machine"]["platform"])
    return {"state": state, "label": status_label(state, sum(passes), len(passes), platform),
            "passed": sum(passes), "total": len(passes), "platform": platform,
            "seeds": [s.get("seed") for s in record["seeds"]], "file": record.get("file"),
            "created_at": record.get("created_at"), "reason": None}


def attach_status(tables: list[dict[str, Any]],
                  records: Mapping[tuple[str, str, str, float], Mapping[str, Any]]) -> None:
    """Put each ranked entry's `verification` status in place (entries carry `row_identity`)."""
    from bench.verify.record import record_key

    for table in tables:
        for entry in table["entries"]:
            record = records.get(record_key(table["dataset"], table["backbone"], entry["method"],
                                            table["target_sparsity"]))
            entry["verification"] = verification_status(record, entry.get("row_identity"))
