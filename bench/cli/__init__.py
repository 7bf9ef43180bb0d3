"""The `bench` command. Each module in this package with a `register(subparsers)` function adds
one subcommand; heavy imports (torch) happen inside the handlers, so `bench --help`,
`bench aggregate` and `bench report` stay light."""

from __future__ import annotations

import argparse
import importlib
import logging
import pkgutil
import sys
from collections.abc import Sequence

from bench.errors import EXIT_CODES


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="bench",
        description="mtl-prune-bench: benchmark pruning methods for multi-task networks.",
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    import bench.cli as package

    for info in sorted(pkgutil.iter_modules(package.__path__), key=lambda i: i.name):
        if info.name.startswith("_"):
            continue
        module = importlib.import_module(f"bench.cli.{info.name}")
        register = getattr(module, "register", None)
        if register is not None:
            register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(levelname)s %(name)s: %(message)s",
    )
    from bench.record.code import memoized

    try:
        with memoized():  # one import analysis per command, however many runs it plans
            return int(args.handler(args) or 0)
    except tuple(EXIT_CODES) as exc:  # type: ignore[misc]
        code = next(c for t, c in EXIT_CODES.items() if isinstance(exc, t))
        print(f"bench {args.command}: error: {exc}", file=sys.stderr)
        return code
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
