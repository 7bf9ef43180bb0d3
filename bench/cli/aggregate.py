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
        "reference, summarise over seeds with 95% intervals, rank groups from pairwise tests, "
        "a test against dense and the minimum detectable difference, one table per target and "
        "budget, and list invalid and stale runs with their reason. A run is stale when its identity differs "
        "from what --params asks for at its path; stale runs are never ranked.",
    )
    parser.add_argument("--runs", default="runs", help="runs root (default: runs)")
    parser.add_argument("--params", default="params.yaml",
                        help="the configuration whose runs are ranked (default: params.yaml)")
    parser.add_argument("--any-identity", action="store_true",
                        help="rank every run found, grouped by recorded identity, without "
                        "checking it against --params")
    parser.add_argument("--out", default="reports", help="output directory (default: reports)")
    parser.add_argument("--verify", default=None, metavar="DIR",
                        help="`bench verify`'s files, read for each row's verification status "
                        "(default: <out>/verify)")
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
        from bench.record.identity import expected_identities
        from bench.submit.store import submitted_expected

        config = load_config(args.params, method_params=False)
        # Imported submissions' runs (runs/submitted/, docs/submitting.md): checked alike.
        wanted = {**expected_identities(config), **submitted_expected(config)}
        expected = {path: Expected(identity, inputs) for path, (identity, inputs) in wanted.items()}
    verify_dir = Path(args.verify) if args.verify else Path(args.out) / "verify"
    leaderboard = aggregate(runs, args.out, expected, verify_dir)
    counts = leaderboard["counts"]
    print(
        f"{counts['results']} results: {counts['valid']} valid, {counts['invalid']} invalid, "
        f"{counts['stale']} stale; "
        f"{len(leaderboard['tables'])} tables -> {Path(args.out) / 'leaderboard.json'}"
    )
    for table in leaderboard["tables"]:
        # One line per table: a table ranks one budget only, so its budget is part of the line.
        budget, floor = table.get("budget_units"), table.get("noise_floor")
        mdd = (table.get("minimum_detectable_difference") or {}).get("value")
        print(f"  table {table['id']}: {len(table['entries'])} methods, budget "
              + ("?" if budget is None else f"{budget:.2f}") + "× dense, dense 95% CI "
              + ("–" if floor is None else f"±{floor['half_width']:.1f}")
              + ", min. detectable difference " + ("–" if mdd is None else f"{mdd:.1f}"))
        for entry in table["entries"]:
            status = entry.get("verification") or {}
            if entry.get("submitted"):  # an imported row: submitted, and whether verified
                from bench.submit.marks import aggregate_line

                print(aggregate_line(entry))
            elif status.get("file"):  # rows with a verification file, current or stale
                print(f"    {entry['method']}: {status['label']}"
                      + (f" ({status['reason']})" if status.get("reason") else ""))
    for item in leaderboard["invalid"]:
        print(f"  invalid: {item['path']}: {item['reason']}")
    for item in leaderboard["stale"]:
        print(f"  stale: {item['path']}: {item['reason']}")
    return 0
