"""`--executor local`: the grid's runs on this machine, `jobs` at a time.

Each run gets a fresh process (one run per process) held to its share of the cores,
so two runs on two cores do not fight over threads — oversubscribed OpenMP makes torch many
times slower than running the same runs one after the other.
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import sys
from concurrent.futures import Future, ProcessPoolExecutor, as_completed
from pathlib import Path
from typing import Any

from bench.config import Config
from bench.grid.job import RunJob, limit_threads
from bench.grid.plan import PlannedRun

log = logging.getLogger(__name__)


def available_cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


def threads_per_run(jobs: int, cores: int | None = None) -> int:
    return max(1, (cores or available_cores()) // max(1, jobs))


def _fresh_process_context() -> multiprocessing.context.BaseContext:
    """Fresh processes without paying torch's import per run: a fork server that imported the
    training code once (before any OpenMP thread pool exists) forks one child per run."""
    if "forkserver" not in multiprocessing.get_all_start_methods():
        return multiprocessing.get_context("spawn")
    context = multiprocessing.get_context("forkserver")
    # torch._dynamo (the optimizers) and dvclive (the run logger) are imported lazily, seconds each.
    context.set_forkserver_preload(
        ["bench.grid.job", "bench.train", "methods", "torch._dynamo", "dvclive"]
    )
    return context


def start_fork_server() -> None:
    """Start the fork server now, so that its imports (seconds) overlap the caller's own start
    (loading the configuration, planning the grid) instead of following it."""
    context = _fresh_process_context()
    if context.get_start_method() == "forkserver":
        from multiprocessing import forkserver

        forkserver.ensure_running()


def _child_init(threads: int) -> None:
    # Before the run is unpickled (which may import torch) in the fresh process.
    for var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
        os.environ[var] = str(threads)


def _call(job: RunJob) -> dict[str, Any]:
    limit_threads(job.threads)
    return job()


def run_local(
    config: Config, runs: list[PlannedRun], jobs: int = 1, threads: int | None = None,
    print_summary: bool = True,
) -> int:
    """Run `runs` (those still to do) locally, `jobs` at a time with `threads` each (default:
    the profile's `threads`, else this machine's cores // jobs); returns the number that failed."""
    todo = [r for r in runs if r.todo]
    if not todo:
        log.info("nothing to run: every run of the grid is done")
        return 0
    threads = threads or config.recipe.threads or threads_per_run(jobs)
    jobs = max(1, min(jobs, len(todo)))
    workdir = str(Path.cwd())
    log.info("running %d run(s), %d at a time, %d thread(s) each", len(todo), jobs, threads)
    failed = 0
    context = _fresh_process_context()
    fresh = {"max_tasks_per_child": 1} if sys.version_info >= (3, 11) else {}
    with ProcessPoolExecutor(
        jobs, mp_context=context, initializer=_child_init, initargs=(threads,), **fresh
    ) as pool:
        futures: dict[Future[dict[str, Any]], PlannedRun] = {
            pool.submit(_call, RunJob(config, r.spec, workdir, threads)): r for r in todo
        }
        for future in as_completed(futures):
            run = futures[future]
            try:
                summary = future.result()
            except Exception as exc:  # a failed run must not stop the others
                failed += 1
                print(f"failed   {run.run_dir}  ({str(exc).splitlines()[0] if str(exc) else type(exc).__name__})", flush=True)
                continue
            print(f"done     {run.run_dir}  ({summary['train_seconds']:.1f} s)", flush=True)
    if print_summary:
        print(f"{len(todo) - failed} run(s) done, {failed} failed", flush=True)
    return failed
