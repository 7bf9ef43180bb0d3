"""`bench check-method SLUG`: the conformance suite for one method (or all)."""

from __future__ import annotations

import argparse


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "check-method",
        help="run the conformance suite on a method (tiny synthetic model, seconds)",
        description="Trains the method on a tiny synthetic model and checks measured sparsity "
        "(±0.5 points), masks staying zero, no disk writes or test-split reads by its hooks, "
        "determinism, resume and an unchanged architecture. Exit code 1 if any check fails.",
    )
    p.add_argument("slug", nargs="+", help="method slug(s), or `all`")
    p.add_argument("--targets", type=float, nargs="+", default=[0.5, 0.9])
    p.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from bench.conformance import run_checks
    from bench.errors import ConfigError
    from bench.registry import discover

    for t in args.targets:
        if not 0 <= t < 1:
            raise ConfigError(f"--targets: target sparsity must be in [0, 1), got {t}")
    slugs = list(discover()) if args.slug == ["all"] else args.slug
    failed = 0
    for slug in slugs:
        report = run_checks(slug, tuple(args.targets))
        print(report.format(), flush=True)
        failed += not report.passed
    return 1 if failed else 0
