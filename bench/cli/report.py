"""`bench report`: render the leaderboard as a static HTML site with figures."""

from __future__ import annotations

import argparse


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    parser = sub.add_parser(
        "report",
        help="reports/leaderboard.json -> reports/site/index.html (+ method pages, figures)",
        description="Render leaderboard tables (paper Table 2 layout), figures from the runs' "
        "dvclive logs, a page per method and the invalid runs. The site works offline.",
    )
    parser.add_argument("--leaderboard", default="reports/leaderboard.json",
                        help="leaderboard written by `bench aggregate`")
    parser.add_argument("--runs", default="runs", help="runs root, for the dvclive logs")
    parser.add_argument("--out", default="reports/site", help="site directory")
    parser.add_argument("--methods", default=None,
                        help="method descriptions {slug: {description, paper, params}} "
                        "(default: methods.json next to the leaderboard, optional)")
    parser.add_argument("--latency", default=None,
                        help="measured latency from `bench latency --grid` (default: "
                        "latency.json next to the leaderboard, optional)")
    parser.set_defaults(handler=_handle)


def _handle(args: argparse.Namespace) -> int:
    from bench.report import build_report

    index = build_report(args.leaderboard, args.runs, args.out, args.methods, args.latency)
    print(f"report -> {index}")
    return 0
