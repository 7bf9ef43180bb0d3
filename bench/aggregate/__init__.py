"""`bench aggregate`: every `runs/**/result.json` → `reports/leaderboard.{json,csv}`.

Reads JSON only (pandas, no torch), so results can be checked anywhere (docs/report.md).
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from bench.aggregate.export import leaderboard_frame, write_leaderboard
from bench.aggregate.leaderboard import build_leaderboard
from bench.aggregate.load import SPARSITY_TOLERANCE, check_result, load_runs
from bench.aggregate.staleness import Expected


def aggregate(runs_root: str | Path, out_dir: str | Path,
              expected: Mapping[str, Expected] | None = None,
              verify_dir: str | Path | None = None) -> dict[str, Any]:
    """Build the leaderboard from `runs_root` (with the verification status of each row from
    `verify_dir`) and write it to `out_dir`; returns it."""
    leaderboard = build_leaderboard(runs_root, expected, verify_dir)
    write_leaderboard(leaderboard, out_dir)
    return leaderboard


__all__ = [
    "SPARSITY_TOLERANCE",
    "aggregate",
    "build_leaderboard",
    "check_result",
    "leaderboard_frame",
    "load_runs",
    "write_leaderboard",
]
