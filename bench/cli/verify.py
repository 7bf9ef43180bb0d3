"""`bench verify`: retrain a leaderboard row at held-out seeds and check each against the row's
95 % prediction interval; `--coverage`: how often that check passes on the seeds a leaderboard
already has (docs/verify.md)."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from bench.cli._common import add_params_argument

DESCRIPTION = """\
Train METHOD's row (one target of params.yaml's grid) at held-out seeds — by default the two
smallest seeds in neither `seeds` nor `dense_seeds` — with the row's identity but for the seed,
into <runs_root>-verify/ (a from-dense method's dense parents too), score each against the
leaderboard's reference (the mean of the dense seeds) and check its ΔT against the row's 95%
prediction interval for a new seed: mean ± t(0.975, n−1)·s·√(1 + 1/n) over the row's n seeds.
Writes <reports_root>/verify/<dataset>-<backbone>-<method>-s<target>.json; `dvc repro` then shows the row as
"verified 2/2 on <kernels>" or "failed 1/2 on <kernels>" (seeds inside / seeds checked).
The row's runs must be current (`dvc repro` first).
--coverage trains nothing: for every row of a leaderboard with at least 4 seeds it leaves each
seed out in turn and checks it against the interval of the others (torch-free).
Exit codes: 0 every held-out seed inside the interval, 1 a seed outside it (or a run that could
not train), 2 bad input (unknown method, a target the method does not run at, a seed that is not
held out, a row that is not current), 3 data not available."""


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser(
        "verify", help="retrain a row at held-out seeds and check them against its interval",
        description=DESCRIPTION, formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("method", nargs="?", default=None, metavar="METHOD",
                   help="the method whose row is verified (see `bench methods`)")
    add_params_argument(p)
    p.add_argument("--target", type=float, default=None,
                   help="the row's target sparsity (default: the highest the method runs at)")
    p.add_argument("--seeds", type=int, nargs="+", default=None, metavar="S",
                   help="held-out seeds (default: the 2 smallest in neither seeds nor dense_seeds)")
    p.add_argument("-j", "--jobs", type=int, default=0,
                   help="runs at a time (default 0: all of them, at most 4 per core)")
    p.add_argument("--threads", type=int, default=None,
                   help="threads per run (default: the profile's `threads`)")
    p.add_argument("--out", type=Path, default=None,
                   help="folder of the verification files (default: <reports_root>/verify)")
    p.add_argument("--coverage", action="store_true",
                   help="train nothing: leave-one-seed-out coverage of the prediction interval "
                   "on the rows of --leaderboard")
    p.add_argument("--leaderboard", type=Path, default=Path("reports/leaderboard.json"),
                   help="--coverage: the leaderboard read (default: reports/leaderboard.json)")
    p.add_argument("--json", action="store_true", help="--coverage: print the result as JSON")
    p.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from bench.errors import ConfigError

    if args.coverage:
        if args.method is not None:
            raise ConfigError("--coverage measures every row of the leaderboard; give no METHOD")
        return _coverage(args)
    if args.method is None:
        raise ConfigError("METHOD is required (or --coverage)")
    if args.jobs < 0:
        raise ConfigError(f"--jobs: must be 0 (all at once) or more, got {args.jobs}")
    if args.threads is not None and args.threads < 1:
        raise ConfigError(f"--threads: must be at least 1, got {args.threads}")
    return _verify(args)


def _verify(args: argparse.Namespace) -> int:
    from bench.cli._common import load
    from bench.submit.running import allow_running, submitted_row
    from bench.verify.check import build_record, check_seeds, seed_line
    from bench.verify.heldout import (
        current_row,
        held_out_seeds,
        pick_target,
        resolve_method,
        train_held_out,
    )
    from bench.verify.record import VERIFY_DIR, write_record

    config = load(args)
    method = resolve_method(config, args.method)
    submitted = submitted_row(config, method) if method not in config.methods else None
    if submitted is not None:  # its row, parameters and stored code (docs/submitting.md)
        config = submitted.config
        allow_running(method)
    target = pick_target(config, method, args.target)
    seeds = held_out_seeds(config, args.seeds)
    row = current_row(config, method, target, submitted.runs_config if submitted else None)
    print(f"verifying {method} at {target}: held-out seeds {', '.join(map(str, seeds))} "
          f"against its {len(row.runs)} seeds", flush=True)
    held_out = train_held_out(config, method, target, seeds, args.jobs, args.threads)
    values, interval, checks = check_seeds(row.runs, row.reference, held_out)
    record = build_record(method, target, row.runs, row.reference, values, interval, checks,
                          _machine(held_out))
    out = write_record(args.out or Path(config.reports_root) / VERIFY_DIR, record)
    for check in checks:
        print(seed_line(check, interval))
    print(f"{method} s{target}: {record['label']} -> {out}")
    return 0 if record["outcome"] == "verified" else 1


def _machine(held_out: dict[int, Any]) -> dict[str, Any]:
    """The versions and kernels the held-out seeds ran with; `platform` names them in the
    status: the CPU kernel set for CPU runs, else the accelerator."""
    import torch

    from bench.provenance import cpu_capability, provenance

    info = provenance(torch.device("cpu"))
    devices = {str(((r.result or {}).get("provenance") or {}).get("device") or "cpu"):
               str(((r.result or {}).get("provenance") or {}).get("device_name") or "")
               for r in held_out.values()}
    accelerators = sorted(name for device, name in devices.items()
                          if not device.startswith("cpu") and name)
    return {
        "platform": accelerators[0] if accelerators else cpu_capability(),
        "cpu_capability": cpu_capability(),
        "devices": sorted(devices),
        "torch_version": info["torch_version"],
        "python_version": info["python_version"],
        "bench_version": info["bench_version"],
        "git_commit": info["git_commit"],
        "git_dirty": info["git_dirty"],
    }


def _coverage(args: argparse.Namespace) -> int:
    from bench.errors import ConfigError
    from bench.verify.coverage import coverage, format_coverage, leaderboard_samples

    try:
        leaderboard = json.loads(args.leaderboard.read_text(encoding="utf-8"))
    except OSError:
        raise ConfigError(f"--leaderboard {args.leaderboard}: cannot be read (run `bench "
                          "aggregate` or `dvc repro` first)") from None
    except ValueError as exc:
        raise ConfigError(f"--leaderboard {args.leaderboard}: not JSON ({exc})") from None
    if not isinstance(leaderboard, dict) or not isinstance(leaderboard.get("tables"), list):
        raise ConfigError(f"--leaderboard {args.leaderboard}: not a leaderboard (no `tables`)")
    result = coverage(leaderboard_samples(leaderboard))
    print(json.dumps(result, indent=2) if args.json else format_coverage(result))
    return 0
