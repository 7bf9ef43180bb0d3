"""`bench aggregate`: collect every run's result.json into the leaderboard."""

from __future__ import annotations

import argparse
import logging

log = logging.getLogger(__name__)


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    parser = sub.add_parser(
        "aggregate",
        help="runs/**/result.json -> reports/leaderboard.json and .csv",
        description="Read every result.json under --runs, compute ΔT per seed against the dense "
        "run, average over seeds, rank by ΔT and list invalid runs with their reason. "
        "Reads JSON only (no torch).",
    )
    parser.add_argument("--runs", default="runs", help="runs root (default: runs)")
    parser.add_argument("--out", default="reports", help="output directory (default: reports)")
    parser.set_defaults(handler=_handle)


def _handle(args: argparse.Namespace) -> int:
    from pathlib import Path

    from bench.aggregate import aggregate

    runs = Path(args.runs)
    if not runs.is_dir():
        log.warning("runs directory %s does not exist; writing an empty leaderboard", runs)
    leaderboard = aggregate(runs, args.out)
    counts = leaderboard["counts"]
    print(
        f"{counts['results']} results: {counts['valid']} valid, {counts['invalid']} invalid; "
        f"{len(leaderboard['tables'])} tables -> {Path(args.out) / 'leaderboard.json'}"
    )
    for item in leaderboard["invalid"]:
        print(f"  invalid: {item['path']}: {item['reason']}")
    return 0
