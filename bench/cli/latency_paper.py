"""`bench latency-paper`: paper-size inference latency of the pruned architectures, a reference
table (reports/reference/latency_paper.json) the report shows beside the embedded measurements."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

DESCRIPTION = """\
Times the paper's network — Deeplab-ResNet34 at full width with one ASPP head per task of NYU-v2
(40 classes, depth, normals) — at 321×321, batch 1 and 8, on the CPU (and CUDA when present):
the unpruned architecture (dense kernels), each structured method's network pruned with its own
criterion to the structured target of --params, and the network with the unstructured target's
fraction of its weights zeroed by global magnitude on the CSR and per-layer hybrid paths of
`bench latency`. The weights are random (latency depends on the architecture and the kernels,
not on what the weights learned); the JSON says so. One CPU pass at this size takes seconds, so
this is not part of `dvc repro`: it writes a reference table to commit (format:
docs/performance.md, "Paper-size reference").
Exit codes: 0 ok, 2 bad arguments."""


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "latency-paper", help="paper-size latency of the pruned architectures → reference JSON",
        description=DESCRIPTION, formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--params", default="params.yaml",
                   help="the targets (structured_sparsities[0], the largest of sparsities) and "
                   "method_params")
    p.add_argument("--out", type=Path, default=None,
                   help="where to write the JSON (default reports/reference/latency_paper.json)")
    p.add_argument("--batch-sizes", type=int, nargs="+", default=[1, 8])
    p.add_argument("--repeats", type=int, nargs="+", default=[5, 3],
                   help="timed passes per batch size: one value for all, or one per batch size "
                   "(default: 5 at batch 1, 3 at batch 8)")
    p.add_argument("--warmup", type=int, default=1, help="untimed passes first (default: 1)")
    p.add_argument("--sparse-batch-sizes", type=int, nargs="*", default=[1],
                   help="batch sizes at which the CSR / hybrid paths are timed (default: 1)")
    p.add_argument("--input-size", type=int, nargs=2, metavar=("H", "W"), default=[321, 321])
    p.add_argument("--width-mult", type=float, default=1.0,
                   help="network width (default 1.0, the paper's; smaller for a quick check)")
    p.add_argument("--methods", default="channel_l1,channel_mtl",
                   help="structured methods, comma-separated (default: channel_l1,channel_mtl)")
    p.add_argument("--devices", nargs="+", default=None, choices=("cpu", "cuda"),
                   help="where to time (default: cpu, and cuda when torch sees a GPU)")
    p.add_argument("--threads", type=int, default=1,
                   help="torch CPU threads (default 1: the pipeline's latency stage's choice)")
    p.add_argument("--seed", type=int, default=0, help="the random weights' and inputs' seed")
    p.add_argument("--json", action="store_true", help="print the JSON instead of a summary")
    p.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from bench.config import load_config
    from bench.errors import ConfigError

    batches, repeats = tuple(args.batch_sizes), tuple(args.repeats)
    if len(repeats) == 1:
        repeats = repeats * len(batches)
    if len(repeats) != len(batches):
        raise ConfigError("--repeats takes one value, or one per --batch-sizes value")
    if min(batches) < 1 or min(repeats) < 1 or args.warmup < 0 or args.width_mult <= 0:
        raise ConfigError("--batch-sizes and --repeats must be ≥ 1, --warmup ≥ 0, "
                          "--width-mult > 0")
    config = load_config(args.params)
    if not config.structured_sparsities or not config.sparsities:
        raise ConfigError(f"{args.params}: needs structured_sparsities and sparsities")
    methods = tuple(m for m in args.methods.split(",") if m)
    devices = tuple(args.devices) if args.devices else _default_devices()
    if "cuda" in devices and not _cuda():
        raise ConfigError("--devices cuda: torch sees no CUDA device here")
    return _measure(args, config, batches, repeats, methods, devices)


def _cuda() -> bool:
    import torch

    return bool(torch.cuda.is_available())


def _default_devices() -> tuple[str, ...]:
    return ("cpu", "cuda") if _cuda() else ("cpu",)


def _measure(args: argparse.Namespace, config: object, batches: tuple[int, ...],
             repeats: tuple[int, ...], methods: tuple[str, ...], devices: tuple[str, ...]) -> int:
    from bench.config import Config
    from bench.errors import ConfigError
    from bench.io import write_json_atomic
    from bench.perf.latency_grid import REFERENCE_FILE
    from bench.perf.paper_size import PaperSize, measure_paper_size
    from bench.registry import discover

    assert isinstance(config, Config)
    registered = discover()
    for slug in methods:
        if slug not in registered or not registered[slug].changes_architecture:
            raise ConfigError(f"--methods: {slug!r} is not a registered structured method")
    spec = PaperSize(
        structured_target=config.structured_sparsities[0], unstructured_target=max(config.sparsities),
        method_params={slug: config.params_for(slug) for slug in methods},
        structured_methods=methods, width_mult=args.width_mult,
        input_size=(args.input_size[0], args.input_size[1]), batch_sizes=batches, repeats=repeats,
        warmup=args.warmup, sparse_batch_sizes=tuple(args.sparse_batch_sizes), devices=devices,
        threads=args.threads, seed=args.seed,
    )
    payload = measure_paper_size(spec)
    out = args.out or REFERENCE_FILE
    write_json_atomic(out, payload)
    if args.json:
        print(json.dumps(payload, indent=2))
        return 0
    print(f"{payload['model']['description']}, input {'×'.join(map(str, spec.input_size))}, "
          f"weights {payload['weights']}; {payload['machine']['cpu_model']}, "
          f"{payload['machine']['threads']} thread(s), {payload['wall_seconds']:.0f} s")
    for key, entry in payload["runs"].items():
        cells = [f"{name} {p['median_ms']:.0f} ms ({p['speedup_vs_dense']:.2f}×)"
                 for name, p in entry["paths"].items() if p.get("available")]
        print(f"  {key:<34} sparsity {entry['measured_sparsity']:.3f}: {', '.join(cells)}")
    for key, why in payload["skipped"].items():
        print(f"  {key:<34} not measured: {why}")
    print(f"wrote {out}")
    return 0
