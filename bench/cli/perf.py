"""`bench perf`: training-step time of every method relative to dense (same model, batches and
device, in one process), optional loader / evaluation throughput, and `--project`: projected
GPU time of the paper profiles."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from bench.cli._common import add_params_argument, load

DESCRIPTION = """\
Builds one run state per method on the profile's model and data, runs each method's prepare,
then times --steps training steps of each through the real training loop, interleaving the
methods chunk by chunk, and prints median step time and the ratio to dense (CPU time on a CPU
device, so other processes' load cancels out; wall time on CUDA). Targets: mask-based methods
≤ 1.10× dense on CPU (≤ 1.05× on GPU), soft-threshold methods ≤ 1.15× (≤ 1.05×).
--project prints the projected H100 time of the paper profiles instead (no training).
See docs/performance.md. Exit codes: 0 ok, 1 --check and a target missed, 2 bad arguments."""


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("perf", help="step-time ratios of the methods vs dense; --project: GPU "
                       "time projection", description=DESCRIPTION,
                       formatter_class=argparse.RawDescriptionHelpFormatter)
    add_params_argument(p)
    p.add_argument("--methods", default="all",
                   help="comma-separated slugs, or `all` registered methods (default)")
    p.add_argument("--sparsity", type=float, default=0.9, help="target sparsity (default: 0.9)")
    p.add_argument("--steps", type=int, default=20, help="timed steps per method (default: 20)")
    p.add_argument("--chunk", type=int, default=None,
                   help="steps per method per round (default: the profile's log_every)")
    p.add_argument("--at", type=float, default=0.7,
                   help="fraction of the run where the timed window starts (default: 0.7)")
    p.add_argument("--device", choices=("auto", "cpu", "cuda"), default=None,
                   help="override the profile's device")
    p.add_argument("--threads", type=int, default=None, help="torch CPU threads")
    p.add_argument("--num-workers", type=int, default=None,
                   help="override the profile's loader workers (each method keeps its own "
                   "loader alive, so 11 methods × 6 workers are 66 processes)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--dataset", default=None, help="override `dataset:` of the params file")
    p.add_argument("--backbone", default=None, help="override `backbone:` of the params file")
    p.add_argument("--image-size", type=int, nargs=2, metavar=("H", "W"), default=None,
                   help="synthetic datasets: render images of this size (into a separate data "
                   "root), e.g. to time a paper profile's crop without the real data")
    p.add_argument("--throughput", action="store_true",
                   help="also measure loader and evaluation throughput (dense model)")
    p.add_argument("--check", action="store_true", help="exit 1 if a method misses its target")
    p.add_argument("--project", action="store_true",
                   help="print the projected H100 time per paper run and grid; no training")
    p.add_argument("--utilisation", type=float, default=None,
                   help="--project: assumed fraction of peak (default: 0.35)")
    p.add_argument("--peak-tflops", type=float, default=None,
                   help="--project: peak TFLOP/s (default: 989, H100 SXM dense bf16)")
    p.add_argument("--out", type=Path, default=None, help="also write the results as JSON")
    p.set_defaults(handler=run)


def sized_config(config: Any, image_size: tuple[int, int] | None, args: argparse.Namespace) -> Any:
    """Apply --dataset / --backbone / --threads / --image-size to the loaded config."""
    import dataclasses

    from bench.errors import ConfigError
    from bench.perf.steps import with_profile
    from datasets.registry import DATASETS

    changes: dict[str, Any] = {}
    if args.dataset:
        if args.dataset not in DATASETS:
            raise ConfigError(f"--dataset: unknown {args.dataset!r} (known: {', '.join(DATASETS)})")
        changes["dataset"] = args.dataset
    if args.backbone:
        changes["backbone"] = args.backbone
    config = dataclasses.replace(config, **changes)
    if args.threads is not None:
        config = with_profile(config, threads=args.threads)
    if args.num_workers is not None:
        config = with_profile(config, num_workers=args.num_workers)
    if image_size is not None:
        if not DATASETS[config.dataset].synthetic:
            raise ConfigError("--image-size applies to the synthetic datasets only")
        h, w = image_size
        synthetic = dataclasses.replace(config.synthetic, height=h, width=w, num_train=64,
                                        num_val=8, num_test=8)
        # A separate data root, so the pipeline's prepared copy is never re-rendered.
        config = dataclasses.replace(config, synthetic=synthetic,
                                     data_root=str(Path(config.data_root) / f"perf-{h}x{w}"))
    return config


def run(args: argparse.Namespace) -> int:
    from bench.errors import ConfigError

    config = load(args)
    if args.project:
        return _project(config, args)
    if args.steps < 1 or not 0 <= args.at < 1 or not 0 < args.sparsity < 1:
        raise ConfigError("need --steps ≥ 1, 0 ≤ --at < 1 and 0 < --sparsity < 1")
    config = sized_config(config, tuple(args.image_size) if args.image_size else None, args)
    from bench import registry
    from bench.perf.steps import measure_steps

    known = registry.discover()
    methods = sorted(known) if args.methods == "all" else [m.strip() for m in args.methods.split(",")]
    unknown = [m for m in methods if m not in known]
    if unknown:
        raise ConfigError(f"--methods: unknown {unknown[0]!r} (see `bench methods`)")
    report = measure_steps(config, methods, args.sparsity, args.steps, args.chunk, args.at,
                           args.device, args.seed,
                           progress=lambda line: print(f"  {line}", file=sys.stderr))
    print(report.table())
    payload: dict[str, Any] = {"steps": report.to_dict()}
    if args.throughput:
        payload["throughput"] = _throughput(config, args)
    if args.out:
        _write(args.out, payload, args.device or config.recipe.device)
    missed = [m for m in report.methods if report.meets_target(m) is False]
    if missed:
        print(f"over target: {', '.join(missed)}")
    return 1 if args.check and missed else 0


def _throughput(config: Any, args: argparse.Namespace) -> dict[str, Any]:
    from bench.perf.throughput import eval_throughput, loader_throughput
    from bench.record.spec import RunSpec
    from bench.train.state import build_state

    state = build_state(config, RunSpec("dense", 0.0, args.seed), args.device, None)
    r = config.recipe
    loader = loader_throughput(state.datasets["train"], r.batch_size, r.crop, r.resize,
                               r.num_workers, batches=10, seed=args.seed)
    evaluation = eval_throughput(state, "test", repeats=2)
    print(f"loader: {loader['samples_per_second']:.1f} samples/s (batch {r.batch_size}, "
          f"{r.num_workers} workers); evaluation: {evaluation['images_per_second']:.1f} images/s "
          f"({evaluation['images']} test images {evaluation['image_size']}, "
          f"batch {r.eval_batch_size})")
    return {"loader": loader, "evaluation": evaluation}


def _project(config: Any, args: argparse.Namespace) -> int:
    from bench.perf.projection import (
        DEFAULT_UTILISATION,
        H100_SXM_BF16_DENSE_TFLOPS,
        format_projection,
        project_all,
    )

    rows = project_all(config, args.utilisation or DEFAULT_UTILISATION,
                       args.peak_tflops or H100_SXM_BF16_DENSE_TFLOPS)
    print(format_projection(rows))
    if args.out:
        _write(args.out, {"projection": rows}, None)
    return 0


def _write(path: Path, payload: dict[str, Any], device: str | None) -> None:
    import torch

    from bench.io import write_json_atomic
    from bench.provenance import provenance

    dev = torch.device("cuda" if device in ("cuda", "auto") and torch.cuda.is_available() else "cpu")
    write_json_atomic(path, {**payload, "argv": sys.argv[1:], "provenance": provenance(dev)})
    print(f"wrote {path}")
