"""`--executor slurm`: the grid's runs as one Slurm job array, through submitit.

A submission gets its own folder `<runs_root>/.grid/<stamp>/` (submitit's pickles and logs:
job ids restart when a cluster's state is reset, so the folder must never be shared) and a
record `<runs_root>/.grid/<stamp>.json` mapping each array task to its run directory, which
`bench grid --status` reads back. Each run directory gets `slurm/<job id>.out|.err` links to
its job's logs (turned into copies by `bench grid --commit`, see `materialize_logs`).
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import os
import shutil
from pathlib import Path
from typing import Any

import submitit

from bench.config import Cluster, Config
from bench.errors import ConfigError
from bench.grid.job import RunJob
from bench.grid.plan import PlannedRun
from bench.io import write_json_atomic
from bench.typed import to_dict

log = logging.getLogger(__name__)
GRID_DIR = ".grid"
LOG_DIR = "slurm"


def grid_root(config: Config) -> Path:
    return Path(config.runs_root) / GRID_DIR


def executor_parameters(cluster: Cluster, job_name: str) -> dict[str, Any]:
    """submitit's AutoExecutor parameters for one run of the grid."""
    threads = cluster.cpus_per_run
    params: dict[str, Any] = {
        "name": job_name,
        "timeout_min": cluster.time_min,
        "cpus_per_task": cluster.cpus_per_run,
        "mem_gb": cluster.mem_gb,
        "slurm_array_parallelism": cluster.max_parallel,
        "slurm_signal_delay_s": cluster.signal_delay_s,
        # Before python starts, so torch never sees more threads than the run has cores.
        "slurm_setup": [
            f"export OMP_NUM_THREADS={threads} MKL_NUM_THREADS={threads}",
            *cluster.setup,
        ],
    }
    if cluster.gpus_per_run:
        params["gpus_per_node"] = cluster.gpus_per_run
    if cluster.partition:
        params["slurm_partition"] = cluster.partition
    if cluster.account:
        params["slurm_account"] = cluster.account
    if cluster.extra:
        params["slurm_additional_parameters"] = dict(cluster.extra)
    return params


def _new_stamp(root: Path) -> str:
    stamp = dt.datetime.now().strftime("%Y%m%d-%H%M%S")
    candidate, n = stamp, 1
    while (root / candidate).exists() or (root / f"{candidate}.json").exists():
        n += 1
        candidate = f"{stamp}-{n}"
    return candidate


def submit(config: Config, runs: list[PlannedRun], params_file: str) -> Path | None:
    """Submit every run still to do as one job array; returns the submission record's path."""
    if shutil.which("sbatch") is None:
        raise ConfigError(
            "--executor slurm: `sbatch` is not on PATH; run this on a Slurm submit host "
            "(to try it here: scripts/slurm-local.sh start, then export SLURM_CONF=...)"
        )
    busy = queued_runs(config)
    todo = [r for r in runs if r.todo and str(r.run_dir) not in busy]
    for r in runs:
        if r.todo and str(r.run_dir) in busy:
            print(f"queued   {r.run_dir}  (already in job {busy[str(r.run_dir)]}; not resubmitted)")
    if not todo:
        log.info("nothing to submit: every run of the grid is done or already queued")
        return None
    root = grid_root(config)
    stamp = _new_stamp(root)
    folder = root / stamp
    folder.mkdir(parents=True)
    cluster = config.cluster
    executor = submitit.AutoExecutor(
        folder=folder, cluster="slurm", slurm_max_num_timeout=cluster.max_requeue
    )
    executor.update_parameters(**executor_parameters(cluster, f"bench-{config.profile}"))
    workdir = str(Path.cwd())
    try:
        with executor.batch():
            jobs = [executor.submit(RunJob(config, r.spec, workdir, cluster.cpus_per_run)) for r in todo]
    except submitit.core.utils.FailedJobError as exc:
        shutil.rmtree(folder, ignore_errors=True)
        message = " ".join(str(exc).split())
        raise ConfigError(f"sbatch refused the job array (check the cluster: section): {message}") from None
    entries = []
    for run, job in zip(todo, jobs, strict=True):
        links = link_logs(run.run_dir, job.job_id, job.paths.stdout, job.paths.stderr)
        entries.append({
            "job_id": job.job_id,
            "run_dir": str(run.run_dir),
            "method": run.spec.method,
            "task": run.spec.task,
            "target_sparsity": run.spec.target_sparsity,
            "seed": run.spec.seed,
            "state_at_submission": run.state,
            "stdout": str(links[0]),
            "stderr": str(links[1]),
        })
    record = {
        "created": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        "executor": "slurm",
        "params": params_file,
        "profile": config.profile,
        "workdir": workdir,
        "folder": str(folder),
        "array_job_id": jobs[0].job_id.split("_")[0],
        "cluster": to_dict(cluster),
        "runs": entries,
    }
    path = root / f"{stamp}.json"
    write_json_atomic(path, record)
    return path


def queued_runs(config: Config) -> dict[str, str]:
    """Run directories whose job of an earlier submission is still pending or running."""
    from bench.grid.status import ACTIVE, job_states

    busy: dict[str, str] = {}
    for path in sorted(grid_root(config).glob("*.json")):
        record = read_submission(path)
        states = job_states(record)
        for run in record["runs"]:
            info = states.get(run["job_id"])
            if info is not None and info.state in ACTIVE:
                busy[run["run_dir"]] = run["job_id"]
    return busy


def link_logs(run_dir: Path, job_id: str, stdout: Path, stderr: Path) -> tuple[Path, Path]:
    """`<run_dir>/slurm/<job id>.out|.err` → the job's logs in the submission folder."""
    logs = run_dir / LOG_DIR
    logs.mkdir(parents=True, exist_ok=True)
    made = []
    for target, suffix in ((stdout, "out"), (stderr, "err")):
        link = logs / f"{job_id}.{suffix}"
        if link.is_symlink() or link.exists():
            link.unlink()
        link.symlink_to(os.path.relpath(target.resolve(), logs.resolve()))
        made.append(link)
    return made[0], made[1]


def materialize_logs(run_dir: Path) -> None:
    """Replace the log links of a run by copies (DVC then caches plain files); drop dangling ones."""
    logs = run_dir / LOG_DIR
    if not logs.is_dir():
        return
    for link in logs.iterdir():
        if not link.is_symlink():
            continue
        target = link.resolve()
        link.unlink()
        if target.is_file():
            shutil.copyfile(target, link)


def latest_submission(config: Config) -> Path:
    found = sorted(grid_root(config).glob("*.json"))
    if not found:
        raise ConfigError(f"no submitted grid under {grid_root(config)} (submit with --executor slurm)")
    return found[-1]


def read_submission(path: Path) -> dict[str, Any]:
    try:
        record: dict[str, Any] = json.loads(Path(path).read_text())
    except (OSError, json.JSONDecodeError) as exc:
        raise ConfigError(f"{path}: not a readable grid submission ({exc})") from None
    return record
