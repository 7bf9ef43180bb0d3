"""Submitted rows in the leaderboard: marked, and "unverified" until `bench verify` passes.

A leaderboard entry is submitted when its runs are the imported ones (under
`<runs_root>/submitted/`, bench/submit/layout.py). Its numbers are the author's and its code has
not run here, so where the verification status says a row was never verified ("not verified"),
a submitted row says **unverified**; a verification, passed or failed, shows as for any row.
Torch-free: the aggregate step calls it.
"""

from __future__ import annotations

from typing import Any

from bench.submit.layout import is_submitted

UNVERIFIED = "unverified"
# Verification states that say something was checked (bench/verify/status.py).
CHECKED = ("verified", "failed")


def is_submitted_entry(entry: dict[str, Any]) -> bool:
    runs = entry.get("runs") or []
    return bool(runs) and all(is_submitted(str(r.get("path", ""))) for r in runs)


def mark_submitted(tables: list[dict[str, Any]]) -> None:
    """Set each ranked entry's `submitted` flag; a submitted entry not checked by `bench verify`
    is labelled "unverified"."""
    for table in tables:
        for entry in table["entries"]:
            entry["submitted"] = is_submitted_entry(entry)
            status = entry.get("verification")
            if entry["submitted"] and isinstance(status, dict) \
                    and status.get("state") not in CHECKED:
                status["label"] = UNVERIFIED


def aggregate_line(entry: dict[str, Any]) -> str:
    """What `bench aggregate` prints for a submitted entry."""
    status = (entry.get("verification") or {}).get("label") or UNVERIFIED
    hint = f" (its code has not run here: bench verify {entry['method']})" \
        if status == UNVERIFIED else ""
    return f"    {entry['method']}: submitted, {status}{hint}"
