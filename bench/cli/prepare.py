"""`bench prepare DATASET`: write a dataset in the prepared format (datasets/prepared.py).

Each dataset has one entry in `PREPARERS`: a function taking a `PrepareRequest` and returning
the manifest it wrote (or found up to date). Real datasets read their raw files from `--raw`;
the synthetic ones are generated and ignore it (with a warning).
"""

from __future__ import annotations

import argparse
import logging
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class PrepareRequest:
    dataset: str
    data_root: Path
    params: Path  # params.yaml; may not exist
    raw: Path | None  # raw download location, for the real datasets


Preparer = Callable[[PrepareRequest], dict[str, Any]]


def _load_config(params: Path) -> Any | None:
    """The validated config, or None when there is no params file (defaults apply)."""
    if not params.exists():
        return None
    from bench.config import load_config

    return load_config(params)


def prepare_synthetic(request: PrepareRequest) -> dict[str, Any]:
    from bench.config import SyntheticData
    from datasets.synthetic import prepare

    if request.raw is not None:
        log.warning("--raw %s is not used: %s is generated, not read", request.raw, request.dataset)
    config = _load_config(request.params)
    cfg = config.synthetic if config is not None else SyntheticData()
    return prepare(request.data_root, request.dataset, cfg)


def prepare_real(request: PrepareRequest) -> dict[str, Any]:
    """nyuv2 / taskonomy: from --raw, else from the copy `bench fetch` registered."""
    import importlib

    module = importlib.import_module(f"datasets.{request.dataset}")
    manifest: dict[str, Any] = module.prepare(request.data_root, request.raw)
    return manifest


# Dataset name → preparer; real datasets add an entry here (their function reads `request.raw`).
PREPARERS: dict[str, Preparer] = {
    "synthetic": prepare_synthetic,
    "synthetic_taskonomy": prepare_synthetic,
    "nyuv2": prepare_real,
    "taskonomy": prepare_real,
}


def summary(manifest: dict[str, Any], root: Path) -> str:
    from datasets.prepared import SPLITS

    splits = manifest["splits"]
    order = sorted(splits, key=lambda s: SPLITS.index(s) if s in SPLITS else len(SPLITS))
    counts = ", ".join(f"{split} {splits[split]['count']}" for split in order)
    height, width = manifest["image_size"]
    return (
        f"{manifest['dataset']}: {counts} ({height}×{width}, {len(manifest['tasks'])} tasks: "
        f"{', '.join(manifest['tasks'])}) in {root}"
    )


def run(args: argparse.Namespace) -> int:
    from bench.errors import ConfigError
    from datasets.prepared import prepared_dir

    if args.dataset not in PREPARERS:
        raise ConfigError(
            f"no preparer for dataset {args.dataset!r} (available: {', '.join(sorted(PREPARERS))})"
        )
    params = Path(args.params)
    data_root = args.data_root
    if data_root is None:
        config = _load_config(params)
        data_root = config.data_root if config is not None else "data"
    request = PrepareRequest(
        dataset=args.dataset,
        data_root=Path(data_root),
        params=params,
        raw=None if args.raw is None else Path(args.raw),
    )
    root = prepared_dir(request.data_root, args.dataset)
    if args.verify:
        if not (root / "manifest.json").exists():
            from bench.errors import DataUnavailableError

            raise DataUnavailableError(f"data not available: {root} holds no prepared "
                                       f"{args.dataset}; run `bench prepare {args.dataset}`")
    else:
        PREPARERS[args.dataset](request)
    # Every file against the manifest's sha256, also when the copy was already up to date: this
    # is the check the pipeline's prepare stage makes before any run trains on the data.
    from datasets.prepared import verify_prepared

    manifest = verify_prepared(root, hashes=True)
    print(summary(manifest, root) + (" (verified)" if args.verify else ""))
    return 0


def register(subparsers: Any) -> None:
    from datasets.registry import DATASETS

    parser = subparsers.add_parser(
        "prepare",
        help="write a dataset in the prepared on-disk format",
        description=(
            "Write DATASET under DATA_ROOT/DATASET/prepared in the format every run reads. "
            "Synthetic datasets are generated from the `synthetic:` section of the params file "
            "(defaults when there is no params file); nyuv2 and taskonomy read --raw. "
            "Re-running with the same inputs does nothing but verify every file against the "
            "manifest's sha256 (exit 3 naming a damaged file)."
        ),
    )
    parser.add_argument("dataset", metavar="DATASET", choices=sorted(DATASETS),
                        help=f"one of: {', '.join(sorted(DATASETS))}")
    parser.add_argument("--data-root", default=None,
                        help="where prepared datasets live (default: data_root of the params "
                             "file, else ./data)")
    parser.add_argument("--params", default="params.yaml", help="params file (default: %(default)s)")
    parser.add_argument("--raw", default=None, metavar="PATH",
                        help="raw download to prepare from (real datasets only; not used by "
                             "synthetic datasets)")
    parser.add_argument("--verify", action="store_true",
                        help="only check the prepared copy against its manifest (sizes and "
                             "sha256); exit 3 naming the first file that differs")
    parser.set_defaults(handler=run)
