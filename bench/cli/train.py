"""`bench train`: one run of one method at one target sparsity and seed."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from bench.cli._common import add_params_argument, load


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "train",
        help="train one method at one target sparsity and seed",
        description="Train one run and write runs/<dataset>/<backbone>/<method>/s<target>/"
        "seed<k>/result.json and model.pt. Exit codes: 0 ok, 1 run failed (e.g. non-finite "
        "loss; result.json says why), 2 bad configuration.",
    )
    add_params_argument(p)
    p.add_argument("--method", required=True, help="method slug (see `bench methods`)")
    p.add_argument(
        "--sparsity", type=float, default=None,
        help="target sparsity in [0, 1) (default: 0 for dense; required otherwise)",
    )
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--device", choices=("auto", "cpu", "cuda"), default=None,
                   help="overrides the profile's device (auto picks CUDA when present)")
    p.add_argument("--resume", action="store_true",
                   help="continue from the run's last checkpoint if there is one")
    p.add_argument("--iterations", type=int, default=None,
                   help="override the profile's iteration count (dry runs)")
    p.add_argument("--stop-after", type=int, default=None, metavar="STEPS",
                   help="stop as if killed after STEPS steps, keeping the checkpoint")
    p.add_argument("--out", type=Path, default=None, help="write the run here instead")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from bench.errors import ConfigError

    config = load(args)
    sparsity = args.sparsity
    if sparsity is None:
        if args.method != "dense":
            raise ConfigError("--sparsity is required for a pruning method")
        sparsity = 0.0
    try:
        from bench.runs import RunSpec

        spec = RunSpec(args.method, sparsity, args.seed)
    except ValueError as exc:
        raise ConfigError(f"--sparsity: {exc}") from None
    from bench.registry import get_method_class

    try:
        get_method_class(args.method)
    except KeyError as exc:
        raise ConfigError(f"--method: {exc.args[0]}") from None
    from bench.train import TrainOptions, train_run

    options = TrainOptions(
        resume=args.resume,
        device=args.device,
        stop_after=args.stop_after,
        iterations=args.iterations,
        progress=not args.no_progress,
        out_dir=args.out,
    )
    result = train_run(config, spec, options)
    if result is None:
        print(f"stopped after {args.stop_after} steps; continue with --resume")
        return 0
    summary = {
        "status": result["status"],
        "sparsity": result["sparsity"]["overall"],
        "delta_t": (result["delta_t"] or {}).get("mean"),
        "train_seconds": result["cost"]["train_seconds"],
    }
    print(json.dumps(summary))
    return 0
