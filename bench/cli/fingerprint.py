"""`bench fingerprint`: the code each method's runs depend on, one file per method.

The pipeline's `code` stage writes `<slug>.json` for `dense` and every method of params.yaml's
`methods:`; the training stages depend on their method's file instead of on code folders, so an
edit to methods/snip.py reruns `prune@snip` only (bench/record/code.py says what counts). A
method whose code did not change gets a byte-identical file. Torch-free and quick.
"""

from __future__ import annotations

import argparse
from pathlib import Path


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    parser = sub.add_parser(
        "fingerprint",
        help="hash the code each method's runs depend on (one <slug>.json per method)",
        description="For dense and every method in --params' `methods:` (or the slugs given), "
        "list the files a run of that method executes and that decide its result (the method's "
        "module, its helpers, the training code) with their sha256. With --out, write "
        "<slug>.json per method there (stable bytes; other .json files in it are removed); "
        "otherwise print one line per method.",
    )
    parser.add_argument("slugs", nargs="*", metavar="SLUG",
                        help="methods to fingerprint (default: dense and params.yaml's methods)")
    parser.add_argument("--params", default="params.yaml",
                        help="the configuration whose methods are fingerprinted "
                        "(default: params.yaml)")
    parser.add_argument("--out", default=None, help="write <slug>.json files to this directory")
    parser.set_defaults(handler=_handle)


def _methods(params: str) -> list[str]:
    from bench.config import read_yaml
    from bench.errors import ConfigError

    path = Path(params)
    if not path.exists():
        raise ConfigError(f"{path}: file not found (run from the repository root or pass --params)")
    methods = read_yaml(path).get("methods") or []
    if not isinstance(methods, list) or not all(isinstance(m, str) for m in methods):
        raise ConfigError(f"{path}: methods: must be a list of method names")
    return ["dense", *(m for m in methods if m != "dense")]


def _handle(args: argparse.Namespace) -> int:
    from bench.errors import ConfigError
    from bench.io import write_text_atomic
    from bench.record.code import canonical_json, digest, fingerprint

    slugs = list(dict.fromkeys(args.slugs or _methods(args.params)))
    prints = {}
    for slug in slugs:
        try:
            prints[slug] = fingerprint(slug)
        except KeyError as exc:
            raise ConfigError(f"bench fingerprint: {exc.args[0]}") from None
    if args.out is None:
        for slug, fp in prints.items():
            print(f"{slug}  {digest(fp)}  ({len(fp['files'])} files)")
        return 0
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    for stale in out.glob("*.json"):
        if stale.stem not in prints:
            stale.unlink()
    for slug, fp in prints.items():
        path = out / f"{slug}.json"
        text = canonical_json(fp)
        if not path.exists() or path.read_text() != text:  # unchanged files keep their mtime
            write_text_atomic(path, text)
    print(f"{len(prints)} fingerprints -> {out}")
    return 0
