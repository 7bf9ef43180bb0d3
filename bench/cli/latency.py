"""`bench latency RUN_DIR`: measured inference latency of a run's model, dense vs sparse kernels."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

DESCRIPTION = """\
Loads RUN_DIR/model.pt and times one forward pass (batch 1, eval input size, fp32, median of
--repeats) through (a) the dense kernels, which multiply the zeros, and (b) torch.sparse paths:
every groups=1 conv as unfold + CSR sparse matmul, and a per-layer best of dense and CSR; on a
CUDA machine also 2:4 semi-structured kernels on a 2:4-pruned copy. Writes RUN_DIR/latency.json
(format: docs/performance.md) next to the theoretical MACs from result.json.
Exit codes: 0 ok, 2 not a finished run directory."""


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "latency", help="dense vs sparse-kernel inference latency of a run → latency.json",
        description=DESCRIPTION, formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("run_dir", type=Path, nargs="?",
                   help="a finished run directory (or --grid for the pipeline's runs)")
    p.add_argument("--grid", action="store_true",
                   help="every run of the params file's grid with --seed (dense included), "
                   "one file for the report: --out (default reports/latency.json)")
    p.add_argument("--params", default="params.yaml", help="the configuration file (with --grid)")
    p.add_argument("--seed", type=int, default=None,
                   help="the seed measured with --grid (default: the grid's first seed)")
    p.add_argument("--out", type=Path, default=None, help="where --grid writes its JSON")
    p.add_argument("--repeats", type=int, default=10, help="timed passes per path (default: 10)")
    p.add_argument("--warmup", type=int, default=2, help="untimed passes first (default: 2)")
    p.add_argument("--input-size", type=int, nargs=2, metavar=("H", "W"), default=None,
                   help="input size (default: the run's eval image size)")
    p.add_argument("--threads", type=int, default=None, help="torch CPU threads")
    p.add_argument("--json", action="store_true", help="print the JSON instead of a summary")
    p.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from bench.errors import ConfigError
    from bench.perf.latency import measure_latency, write_latency

    if args.repeats < 1 or args.warmup < 0:
        raise ConfigError("--repeats must be ≥ 1 and --warmup ≥ 0")
    if args.grid == (args.run_dir is not None):
        raise ConfigError("give either RUN_DIR or --grid")
    if args.grid:
        return _grid(args)
    payload = measure_latency(args.run_dir, args.repeats, args.warmup,
                              tuple(args.input_size) if args.input_size else None, args.threads)
    path = write_latency(args.run_dir, payload)
    if args.json:
        print(json.dumps(payload, indent=2))
        return 0
    macs = payload["macs"]
    h, w = payload["input_size"]
    print(f"{args.run_dir}: {payload['method']} at measured sparsity "
          f"{payload['measured_sparsity'] or 0.0:.3f}, input 1×3×{h}×{w}, "
          f"{payload['device_name']}")
    if macs["theoretical_speedup"]:
        mh, mw = macs["input_size"]
        print(f"  theoretical at {mh}×{mw}: {macs['dense'] / 1e6:,.1f} → "
              f"{macs['sparse_theoretical'] / 1e6:,.1f} MMAC "
              f"({macs['theoretical_speedup']:.2f}× if zeros were free)")
    for name, entry in payload["paths"].items():
        if not entry.get("available"):
            print(f"  {name:<22} not measured: {entry.get('note')}")
            continue
        print(f"  {name:<22} {entry['median_ms']:>9.2f} ms  {entry['speedup_vs_dense']:.2f}× dense")
    print(f"  {payload['verdict']}")
    print(f"wrote {path}")
    return 0


def _grid(args: argparse.Namespace) -> int:
    from bench.config import load_config
    from bench.errors import ConfigError
    from bench.io import write_json_atomic
    from bench.perf.latency_grid import measure_grid
    from bench.record.spec import grid, run_dir

    config = load_config(args.params)
    seed = config.seeds[0] if args.seed is None else args.seed
    if seed not in config.seeds:
        raise ConfigError(f"--seed {seed} is not one of the grid's seeds {list(config.seeds)}")
    # The multi-task networks only: single-task references are Δm's reference, not entries.
    dirs = [run_dir(config, spec) for spec in grid(config)
            if spec.seed == seed and spec.task is None]
    payload = measure_grid(dirs, Path(config.runs_root), args.repeats, args.warmup, args.threads,
                           tuple(args.input_size) if args.input_size else None)
    out = args.out or Path(config.reports_root) / "latency.json"
    write_json_atomic(out, payload)
    for key, entry in payload["runs"].items():
        print(f"{key:<55} {entry['verdict']}")
    for key, why in payload["skipped"].items():
        print(f"{key:<55} not measured: {why}")
    print(f"wrote {out}")
    return 0
