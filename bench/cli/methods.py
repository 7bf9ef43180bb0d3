"""`bench methods`: the registered pruning methods, their parameters, and broken plugins."""

from __future__ import annotations

import argparse
import dataclasses
import json


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "methods",
        help="list the pruning methods (slug, description, parameters)",
        description="Lists every method found in methods/ (and BENCH_METHODS_PATH). Plugins that "
        "fail to load are listed by name with their error; exit code 1 if any is broken.",
    )
    p.add_argument("--json", action="store_true", help="print JSON")
    p.add_argument("--out", default=None, help="with --json: write the JSON to this file")
    p.set_defaults(handler=run)


def describe() -> dict[str, dict[str, object]]:
    from bench.registry import discover

    out: dict[str, dict[str, object]] = {}
    for slug, cls in discover().items():
        params = {
            f.name: (f.default if f.default is not dataclasses.MISSING else None)
            for f in dataclasses.fields(cls.Params)
        }
        out[slug] = {
            "description": cls.description, "paper": cls.paper, "params": params,
            # "init" or "dense" (from the trained dense run of the same seed; docs/methods.md)
            "start": cls.start, "needs_rewind": cls.needs_rewind,
        }
    return out


def run(args: argparse.Namespace) -> int:
    from bench.registry import broken

    methods = describe()
    bad = broken()
    if args.json:
        payload = {"methods": methods, "broken": bad}
        if args.out:
            from bench.io import write_json_atomic

            # The report reads {slug: {description, paper, params, start, needs_rewind}};
            # broken plugins ride along.
            write_json_atomic(args.out, json.loads(json.dumps({**methods, **{
                f"broken:{name}": {"description": f"BROKEN: {error}", "paper": "", "params": {},
                                    "start": None, "needs_rewind": False}
                for name, error in bad.items()
            }}, default=str)))
        else:
            print(json.dumps(payload, indent=2, default=str))
        return 1 if bad else 0
    width = max((len(s) for s in methods), default=10)
    for slug, info in methods.items():
        print(f"{slug:<{width}}  {info['description']}")
        rewind = ", rewinds to its early checkpoint" if info["needs_rewind"] else ""
        start = "the trained dense run" + rewind if info["start"] == "dense" else "initialisation"
        print(f"{'':<{width}}    starts from: {start}")
        params = info["params"]
        if params:
            text = ", ".join(f"{k}={v}" for k, v in params.items())  # type: ignore[attr-defined]
            print(f"{'':<{width}}    params: {text}")
    for name, error in bad.items():
        print(f"BROKEN {name}: {error}")
    return 1 if bad else 0
