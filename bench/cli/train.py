"""`bench train`: one run of one method at one target sparsity and seed."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from bench.cli._common import add_params_argument, load


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "train",
        help="train one method at one target sparsity and seed",
        description="Train one run and write runs/<dataset>/<backbone>/<method>/s<target>/"
        "seed<k>/result.json and model.pt. A finished run is never overwritten (--force "
        "replaces it). Runs that override params.yaml (--iterations, --dataset, --backbone, a "
        "--profile other than its `profile:`) go to <runs_root>-scratch/... unless --out is "
        "given, so the pipeline's runs stay untouched. Exit codes: 0 ok, 1 run failed (e.g. "
        "non-finite loss; result.json says why), 2 bad configuration or a finished/busy run, "
        "3 data not available.",
    )
    add_params_argument(p)
    p.add_argument("--dataset", default=None, help="use this dataset instead of `dataset:`")
    p.add_argument("--backbone", default=None, help="use this backbone instead of `backbone:`")
    p.add_argument("--method", default=None,
                   help="method slug (see `bench methods`); required unless --single-task")
    p.add_argument("--single-task", default=None, metavar="TASK",
                   help="train the dense single-task reference of TASK (only that task's head; "
                   "Δm's reference) into <runs_root>/<dataset>/<backbone>/single_task/TASK/"
                   "seed<k>")
    p.add_argument(
        "--sparsity", type=float, default=None,
        help="target sparsity in [0, 1) (default: 0 for dense; required otherwise)",
    )
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--device", choices=("auto", "cpu", "cuda"), default=None,
                   help="overrides the profile's device (auto picks CUDA when present)")
    p.add_argument("--resume", action="store_true",
                   help="continue from the run's last checkpoint if there is one; on a "
                   "finished run, do nothing")
    p.add_argument("--force", action="store_true",
                   help="retrain and replace a finished run")
    p.add_argument("--iterations", type=int, default=None,
                   help="override the profile's iteration count (dry runs; writes to the "
                   "scratch folder unless --out is given)")
    p.add_argument("--stop-after", type=int, default=None, metavar="STEPS",
                   help="stop as if killed after STEPS steps, keeping the checkpoint")
    p.add_argument("--out", type=Path, default=None, help="write the run here instead")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from bench.errors import ConfigError

    if args.iterations is not None and args.iterations <= 0:
        raise ConfigError(f"--iterations must be positive, got {args.iterations}")
    config = load(args)
    if args.single_task is not None:
        if args.method not in (None, "dense"):
            raise ConfigError(f"--single-task: a single-task reference is dense, not "
                              f"--method {args.method}")
        if args.sparsity:
            raise ConfigError("--single-task: a single-task reference has target sparsity 0")
        args.method = "dense"
        _check_task(config, args.single_task)
    elif args.method is None:
        raise ConfigError("--method is required (or --single-task TASK)")
    sparsity = args.sparsity
    if sparsity is None:
        if args.method != "dense":
            raise ConfigError("--sparsity is required for a pruning method")
        sparsity = 0.0
    try:
        from bench.record.spec import RunSpec

        spec = RunSpec(args.method, sparsity, args.seed, args.single_task)
    except ValueError as exc:
        raise ConfigError(f"--sparsity: {exc}") from None
    from bench.registry import get_method_class

    try:
        get_method_class(args.method)
    except KeyError as exc:
        raise ConfigError(f"--method: {exc.args[0]}") from None
    from bench.train import TrainOptions, train_run
    from bench.train.runlock import finished_result

    out, scratch = _out_dir(args, config, spec)
    before = finished_result(out)
    options = TrainOptions(
        resume=args.resume,
        device=args.device,
        stop_after=args.stop_after,
        iterations=args.iterations,
        progress=not args.no_progress,
        out_dir=out,
        force=args.force or scratch,  # scratch runs are throwaway: a new dry run replaces one
    )
    result = train_run(config, spec, options)
    if result is None:
        print(f"stopped after {args.stop_after} steps; continue with --resume")
        return 0
    if before is not None and result == before.data:
        print(f"{out} is already finished; nothing to do (--force retrains it)")
        return 0
    summary = {
        "status": result["status"],
        "sparsity": result["sparsity"]["overall"],
        "train_seconds": result["cost"]["train_seconds"],
        "budget_units": result["cost"].get("budget_units"),
    }
    print(json.dumps(summary))
    if scratch:
        print(f"overrides of {args.params} given: the run is in {out} (not the pipeline's runs)",
              file=sys.stderr)
    return 0


def _check_task(config: Any, task: str) -> None:
    from bench.errors import ConfigError
    from bench.record.spec import dataset_tasks

    tasks = dataset_tasks(config)
    if task not in tasks:
        raise ConfigError(f"--single-task {task}: not a task of {config.dataset} "
                          f"(tasks: {', '.join(tasks)})")


def _out_dir(args: argparse.Namespace, config: Any, spec: Any) -> tuple[Path, bool]:
    """Where the run goes, and whether that is the scratch folder: a run that overrides what
    params.yaml asks for must never land in (and replace) one of the pipeline's runs."""
    from bench.config import load_config
    from bench.record.spec import run_dir

    if args.out is not None:
        return args.out, False
    as_written = load_config(args.params)
    pipeline = run_dir(as_written, spec)
    if args.iterations is None and run_dir(config, spec) == pipeline and (
        config.profile == as_written.profile
    ):
        return pipeline, False
    root = Path(config.runs_root)
    scratch = root.with_name(root.name + "-scratch")
    return scratch / config.profile / run_dir(config, spec).relative_to(root), True
