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
        "reference, summarise over seeds with 95% intervals, rank groups and the null band, and "
        "list invalid and stale runs with their reason. A run is stale when its identity differs "
        "from what --params asks for at its path; stale runs are never ranked.",
    )
    parser.add_argument("--runs", default="runs", help="runs root (default: runs)")
    parser.add_argument("--params", default="params.yaml",
                        help="the configuration whose runs are ranked (default: params.yaml)")
    parser.add_argument("--any-identity", action="store_true",
                        help="rank every run found, grouped by recorded identity, without "
                        "checking it against --params")
    parser.add_argument("--out", default="reports", help="output directory (default: reports)")
    parser.set_defaults(handler=_handle)


def _handle(args: argparse.Namespace) -> int:
    from pathlib import Path

    from bench.aggregate import aggregate
    from bench.errors import ConfigError

    runs = Path(args.runs)
    if not runs.is_dir():
        # A typo must not replace the leaderboard with an empty one: refuse, write nothing.
        raise ConfigError(f"--runs {runs}: no such directory; nothing written")
    expected = None
    if not args.any_identity:
        from bench.aggregate.staleness import Expected
        from bench.config import load_config
        from bench.runs import expected_identities

        wanted = expected_identities(load_config(args.params))
        expected = {path: Expected(identity, inputs) for path, (identity, inputs) in wanted.items()}
    leaderboard = aggregate(runs, args.out, expected)
    counts = leaderboard["counts"]
    print(
        f"{counts['results']} results: {counts['valid']} valid, {counts['invalid']} invalid, "
        f"{counts['stale']} stale; "
        f"{len(leaderboard['tables'])} tables -> {Path(args.out) / 'leaderboard.json'}"
    )
    for item in leaderboard["invalid"]:
        print(f"  invalid: {item['path']}: {item['reason']}")
    for item in leaderboard["stale"]:
        print(f"  stale: {item['path']}: {item['reason']}")
    return 0
