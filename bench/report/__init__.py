"""`bench report`: leaderboard.json (+ runs' dvclive logs) → a static, offline HTML site.

Reads JSON and TSV only (no torch); see docs/report.md.
"""

from __future__ import annotations

from bench.report.render import build_report, read_leaderboard

__all__ = ["build_report", "read_leaderboard"]
