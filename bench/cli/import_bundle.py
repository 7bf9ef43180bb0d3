"""`bench import FILE`: add a submitted method's runs as *submitted*, unverified rows, without
importing or running its code (docs/submitting.md)."""

from __future__ import annotations

import argparse

from bench.submit import limits


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    parser = sub.add_parser(
        "import",
        help="add a bundle's runs as submitted rows (its code is stored, never run)",
        description="Check a bundle written by `bench submit`: every member a plain regular file "
        f"within the limits ({limits.describe()}), no absolute paths, '..', links, devices or "
        "duplicate names; every member's sha256 and size as the manifest lists them; the runs "
        "trained in this checkout's setting (dataset, profile and recipe, data, training code, "
        "dense reference) with the identities this checkout computes for them. Any problem: "
        "exit code 2, one line, nothing written (3 when the data is not prepared here). Then "
        "store the code under submissions/<slug>/code/ and the runs under "
        "<runs_root>/submitted/, where `bench aggregate` ranks them marked submitted and "
        "unverified. The submitted module is never imported or run: read it, then "
        "`bench verify <slug>` runs it on held-out seeds.",
    )
    parser.add_argument("file", metavar="FILE", help="the bundle (.tar.gz)")
    parser.add_argument("--params", default="params.yaml",
                        help="this checkout's configuration (default: params.yaml)")
    parser.add_argument("--force", action="store_true",
                        help="replace an earlier import of the same method")
    parser.set_defaults(handler=_handle)


def _handle(args: argparse.Namespace) -> int:
    import os
    from pathlib import Path

    from bench.config import load_config
    from bench.submit.install import import_bundle

    config = load_config(args.params, method_params=False)
    done = import_bundle(Path(args.file), config, force=args.force)
    sub = done.submission
    targets = sorted({r.target_sparsity for r in sub.runs})
    seeds = sorted({r.seed for r in sub.runs})
    code_dir = done.store / "code"
    module = code_dir / "methods" / f"{sub.slug}.py"

    def shown(path: Path) -> str:  # relative to the working directory when below it
        rel = os.path.relpath(path)
        return str(path) if rel.startswith("..") else rel

    print(f"imported {sub.slug}: {len(sub.runs)} runs ({sub.dataset}/{sub.backbone}, target "
          f"{', '.join(f'{t:g}' for t in targets)}, seeds {', '.join(map(str, seeds))}) as "
          f"submitted rows, unverified; bundle id {done.bundle_id}, archive sha256 "
          f"{done.archive_sha256}")
    print(f"  its code was NOT imported or run. It is stored in {shown(code_dir)}/ "
          f"({', '.join(sorted(sub.code_files))}); read it before running it, e.g. "
          f"less {shown(module)}")
    print(f"  runs: {shown(done.runs)}/")
    print(f"  next: bench aggregate (the row is marked submitted, unverified); "
          f"bench verify {sub.slug} runs the submitted code on held-out seeds")
    return 0
