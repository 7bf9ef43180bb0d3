"""`bench fetch nyuv2|taskonomy`: download a real dataset, or register a copy you already have.

Either way the copy is validated (structure, counts, checksums where known) and recorded in
`<data-root>/<dataset>/raw.json`, which `bench prepare <dataset>` reads. Without network the
command prints what to download, from where and what to run next, and exits with 3. The
embedded synthetic datasets need no fetch (`bench prepare synthetic`).
"""

from __future__ import annotations

import argparse
from pathlib import Path

REAL_DATASETS = ("nyuv2", "taskonomy")


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "fetch",
        help="download a real dataset (nyuv2, taskonomy) or register a local copy",
        description="Download NYU-v2 (AdaShare release, resumable) or Tiny-Taskonomy (Omnidata "
        "downloader + StanfordVL split/prior files), verify it and record it in "
        "<data-root>/<dataset>/raw.json; with --raw, validate and register a copy that is "
        "already on this machine instead. Exit codes: 0 ok, 3 data unavailable (offline, "
        "downloader missing, not a valid copy). See docs/datasets.md.",
    )
    p.add_argument("dataset", choices=REAL_DATASETS)
    p.add_argument("--raw", type=Path, default=None, metavar="PATH",
                   help="register this already downloaded (unpacked) copy; no download")
    p.add_argument("--data-root", type=Path, default=None,
                   help="where datasets live (default: data_root of the params file, else "
                        "./data)")
    p.add_argument("--params", default="params.yaml", help="params file (default: %(default)s)")
    p.add_argument("--timeout", type=float, default=30.0,
                   help="network timeout in seconds (default: 30)")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from datasets import nyuv2, taskonomy

    module = {"nyuv2": nyuv2, "taskonomy": taskonomy}[args.dataset]
    if args.data_root is None:
        args.data_root = Path("data")
        if Path(args.params).exists():
            from bench.config import load_config

            args.data_root = Path(load_config(args.params).data_root)
    if args.raw is not None:
        info = module.register(args.data_root, args.raw)
    else:
        info = module.fetch(args.data_root, progress=not args.no_progress, timeout=args.timeout)
    warnings = f", {len(info['warnings'])} warning(s) in raw.json" if info["warnings"] else ""
    print(f"{args.dataset}: raw copy at {info['path']} (layout {info['layout']}) registered in "
          f"{args.data_root / args.dataset / 'raw.json'}{warnings}; next: "
          f"bench prepare {args.dataset}")
    return 0
