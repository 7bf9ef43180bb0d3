"""`bench report`: render the leaderboard as a static HTML site with figures."""

from __future__ import annotations

import argparse


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    parser = sub.add_parser(
        "report",
        help="reports/leaderboard.json -> reports/site/index.html (+ method pages, figures), "
        "or the summary tables as LaTeX / Markdown",
        description="Render leaderboard tables (paper Table 2 layout), figures from the runs' "
        "dvclive logs, a page per method and the invalid runs. The site works offline.",
    )
    parser.add_argument("--leaderboard", default="reports/leaderboard.json",
                        help="leaderboard written by `bench aggregate`")
    parser.add_argument("--runs", default="runs", help="runs root, for the dvclive logs")
    parser.add_argument("--out", default=None,
                        help="site directory (default reports/site); with --format latex or "
                        "markdown, the file to write (default: print)")
    parser.add_argument("--format", choices=("html", "latex", "markdown"), default="html",
                        help="html: the site; latex / markdown: the summary tables for a paper "
                        "(ΔT ± 95%% CI half-width and rank group per method and target)")
    parser.add_argument("--methods", default=None,
                        help="method descriptions {slug: {description, paper, params}} "
                        "(default: methods.json next to the leaderboard, optional)")
    parser.add_argument("--latency", default=None,
                        help="measured latency from `bench latency --grid` (default: "
                        "latency.json next to the leaderboard, optional)")
    parser.add_argument("--latency-reference", default=None,
                        help="paper-size latency from `bench latency-paper` (default: "
                        "reference/latency_paper.json next to the leaderboard, optional)")
    parser.set_defaults(handler=_handle)


def _handle(args: argparse.Namespace) -> int:
    from pathlib import Path

    from bench.report import build_report, read_leaderboard
    from bench.report.paper import render_paper

    if args.format != "html":
        text = render_paper(read_leaderboard(Path(args.leaderboard)), args.format)
        if args.out is None:
            print(text, end="")
        else:
            Path(args.out).parent.mkdir(parents=True, exist_ok=True)
            Path(args.out).write_text(text, encoding="utf-8")
            print(f"report ({args.format}) -> {args.out}")
        return 0
    index = build_report(args.leaderboard, args.runs, args.out or "reports/site", args.methods,
                         args.latency, args.latency_reference)
    print(f"report -> {index}")
    return 0
