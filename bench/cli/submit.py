"""`bench submit METHOD --out FILE`: one archive with a method's code, parameters and current
runs, for someone else to import and verify (docs/submitting.md)."""

from __future__ import annotations

import argparse


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    parser = sub.add_parser(
        "submit",
        help="pack a method's code, parameters and current runs into one bundle (tar.gz)",
        description="Write one archive: the method's module and its helpers (the files of its "
        "code fingerprint), its parameters and the setting (dataset, backbone, profile and its "
        "recipe, budget, seeds, sparsities), every current run's result.json (identity and code "
        "fingerprint included) and training logs, the dense reference's identities, the "
        "versions and CPU kernels that produced the runs and this machine's, and a manifest of "
        "sha256 hashes of every member. Never checkpoints (*.pt: docs/checkpoints.md). Stale "
        "runs are left out. Exit code 2 when the method has no current runs. Another checkout "
        "adds the runs with `bench import FILE` (docs/submitting.md).",
    )
    parser.add_argument("method", metavar="METHOD", help="the method's slug (methods/<slug>.py)")
    parser.add_argument("--out", required=True, help="the archive to write (e.g. METHOD.tar.gz)")
    parser.add_argument("--params", default="params.yaml",
                        help="the configuration the runs were trained under (default: params.yaml)")
    parser.set_defaults(handler=_handle)


def _handle(args: argparse.Namespace) -> int:
    from pathlib import Path

    from bench.config import load_config
    from bench.submit.bundle import write_bundle

    config = load_config(args.params, method_params=False)
    written = write_bundle(config, args.method, Path(args.out))
    print(f"{args.method}: {written.runs} current runs and {len(written.code_files)} code files "
          f"({', '.join(written.code_files)}) -> {written.path} ({written.size / 1024:.0f} KiB)")
    print(f"  bundle id {written.bundle_id} (sha256 of its manifest); archive sha256 "
          f"{written.archive_sha256}: publish both beside the archive")
    print(f"  a reader runs: bench import {written.path.name}, reads the code, then "
          f"bench verify {args.method}")
    return 0
