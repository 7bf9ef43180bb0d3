"""`bench grid`: the whole benchmark grid of params.yaml, locally or as one Slurm job array."""

from __future__ import annotations

import argparse
import logging
from pathlib import Path
from typing import Any

import yaml

from bench.cli._common import add_params_argument

log = logging.getLogger(__name__)

DESCRIPTION = """\
Run every run of the pipeline (`dvc repro`'s dense and prune stages: exactly bench.record.spec.grid of
params.yaml) that is not done yet: missing, failed, or stale (written under another
configuration). Finished runs whose configuration is unchanged are never rerun. Runs land in the
same run directories as in the pipeline; afterwards `bench grid --commit` hands them to DVC and
`dvc repro` aggregates and reports without training. See docs/cluster.md.
Exit codes: 0 ok, 1 a run or job failed, 2 bad configuration."""


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "grid", help="run the whole grid (locally or on Slurm), show its state, hand it to DVC",
        description=DESCRIPTION, formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add_params_argument(p)
    what = p.add_mutually_exclusive_group()
    what.add_argument("--dry-run", action="store_true",
                      help="list every run as done / missing / failed / stale; run nothing")
    what.add_argument("--status", nargs="?", const="latest", default=None, metavar="SUBMISSION",
                      help="state of a submitted Slurm grid (default: the latest "
                      "<runs_root>/.grid/*.json)")
    what.add_argument("--commit", action="store_true",
                      help="hand the finished grid to DVC (dvc commit -f fetch prepare code dense single_task prune)")
    p.add_argument("--dataset", default=None, help="use this dataset instead of `dataset:`")
    p.add_argument("--backbone", default=None, help="use this backbone instead of `backbone:`")
    p.add_argument("--executor", choices=("local", "slurm"), default="local",
                   help="local: this machine, -j runs at a time; slurm: one job array via submitit")
    p.add_argument("-j", "--jobs", type=int, default=1,
                   help="local executor: runs at a time (0: all of them, at most 4 per core), each "
                   "held to the profile's `threads`, else cores // jobs threads (at least 1)")
    p.add_argument("--method", action="append", default=None, metavar="SLUG",
                   help="only this method's runs (repeatable); the pipeline runs one method's "
                   "grid per DVC stage (`dense`: the multi-task dense runs only)")
    p.add_argument("--single-task", action="store_true",
                   help="only the single-task reference runs (task × seed; with --method: "
                   "those too); the pipeline's `single_task` stage")
    p.add_argument("--threads", type=int, default=None,
                   help="local executor: threads per run (default: cores // jobs). CPU results "
                   "are bit-identical only between runs with the same thread count")
    p.add_argument("--cluster", action="append", default=[], metavar="KEY=VALUE",
                   help="override a key of the `cluster:` section (repeatable), "
                   "e.g. --cluster partition=gpu --cluster time_min=600")
    p.add_argument("--wait", action="store_true",
                   help="slurm: wait until every job has ended, then show the grid's state")
    p.add_argument("--poll", type=float, default=5.0, metavar="SECONDS",
                   help="how often --wait asks the cluster (default: 5)")
    p.set_defaults(handler=run)


def load_grid_config(args: argparse.Namespace) -> Any:
    from bench.config import load_config
    from bench.errors import ConfigError

    overrides = {k: getattr(args, k) for k in ("dataset", "backbone", "profile") if getattr(args, k)}
    if overrides and args.commit:
        raise ConfigError(
            "--commit hands params.yaml's grid to DVC; set dataset/backbone/profile there "
            f"instead of --{next(iter(overrides))}"
        )
    return cluster_overrides(args, load_config(args.params, overrides))


def cluster_overrides(args: argparse.Namespace, config: Any) -> Any:
    """The config with `--cluster KEY=VALUE` applied, validated like params.yaml."""
    import dataclasses

    from bench.config import Cluster
    from bench.errors import ConfigError
    from bench.typed import build, to_dict

    if not args.cluster:
        return config
    raw = to_dict(config.cluster)
    for item in args.cluster:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise ConfigError(f"--cluster: expected KEY=VALUE, got {item!r}")
        raw[key.strip()] = yaml.safe_load(value) if value.strip() else None
    cluster = build(Cluster, raw, "--cluster")
    return dataclasses.replace(config, cluster=cluster)


def prepare_data(config: Any) -> None:
    """Generate / check the dataset once here, not in every run at the same time."""
    from bench.train.setup import prepared_root

    prepared_root(config)


def run(args: argparse.Namespace) -> int:
    from bench.errors import ConfigError
    from bench.grid.plan import format_plan, plan

    if args.jobs is not None and args.jobs < 0:
        raise ConfigError(f"--jobs: must be 0 (all at once) or more, got {args.jobs}")
    if args.threads is not None and args.threads < 1:
        raise ConfigError(f"--threads: must be at least 1, got {args.threads}")
    if args.executor == "local" and args.status is None and not (args.dry_run or args.commit):
        from bench.grid.local import start_fork_server

        start_fork_server()
    config = load_grid_config(args)
    if args.status is not None:
        from bench.grid.slurm import latest_submission, read_submission
        from bench.grid.status import show

        path = latest_submission(config) if args.status == "latest" else Path(args.status)
        return show(read_submission(path), path, wait=args.wait, poll_s=args.poll)
    runs = select(plan(config), args)
    if args.single_task and not config.single_task_references:
        # The pipeline's single_task stage still needs its (empty) output folder.
        from bench.record.spec import SINGLE_TASK_DIR

        (Path(config.runs_root) / config.dataset / config.backbone / SINGLE_TASK_DIR).mkdir(
            parents=True, exist_ok=True)
        print(f"single_task_references is false in {args.params}: no single-task runs")
    if args.dry_run:
        print(format_plan(runs))
        return 0
    if args.commit:
        from bench.grid.handback import hand_back

        return hand_back(runs, has_prune_runs=any(r.spec.method != "dense" for r in runs),
                         has_single_task_runs=any(r.spec.task is not None for r in runs))
    todo = [r for r in runs if r.todo]
    print(f"{len(runs)} runs in the grid, {len(todo)} to do", flush=True)
    if not todo:
        return 0
    prepare_data(config)
    if args.executor == "local":
        from bench.grid.local import run_local

        # Dense runs first: from-dense methods (imp, lth, disparse_pt, ...) start from them.
        phases = [[r for r in runs if r.spec.method == "dense"],
                  [r for r in runs if r.spec.method != "dense"]]
        failed = sum(run_local(config, phase, _jobs(args.jobs, phase), args.threads,
                                         print_summary=False)
                     for phase in phases if any(r.todo for r in phase))
        print(f"{len(todo) - failed} run(s) done, {failed} failed", flush=True)
        return 1 if failed else 0
    return submit_slurm(args, config, runs)


def select(runs: list[Any], args: argparse.Namespace) -> list[Any]:
    """The runs `--method` and `--single-task` ask for (all of them when neither is given)."""
    from bench.errors import ConfigError

    if args.method:
        unknown = sorted(set(args.method) - {r.spec.method for r in runs})
        if unknown:
            raise ConfigError(f"--method {unknown[0]}: not in the grid of {args.params}")
    if not args.method and not args.single_task:
        return runs
    return [r for r in runs if (r.spec.task is not None and args.single_task)
            or (r.spec.task is None and r.spec.method in (args.method or ()))]


def _jobs(requested: int, runs: list[Any]) -> int:
    """`-j 0`: every run of the phase at once (at most 4 per core), each on its profile's
    threads: one-thread runs time-share the cores, so no core idles at the end of a stage whose
    run count is not a multiple of the core count (3 seeds on 2 cores: 1.5 run-times, not 2)."""
    if requested:
        return requested
    from bench.grid.local import available_cores

    return max(1, min(sum(r.todo for r in runs), 4 * available_cores()))


def submit_slurm(args: argparse.Namespace, config: Any, runs: list[Any]) -> int:
    from bench.grid.slurm import read_submission, submit
    from bench.grid.status import show

    path = submit(config, runs, args.params)
    if path is None:
        return 0
    record = read_submission(path)
    follow = "bench grid --status" + ("" if args.params == "params.yaml" else f" --params {args.params}")
    print(f"submitted array job {record['array_job_id']} ({len(record['runs'])} runs); "
          f"record: {path}; follow with `{follow}`", flush=True)
    if args.wait:
        return show(record, path, wait=True, poll_s=args.poll)
    return 0
