"""`bench grid --executor slurm` against a real single-node Slurm (scripts/slurm-local.sh):
the grid as one job array gives exactly the local results, and a job told that its time is up
checkpoints, is requeued and still ends with the uninterrupted result."""

from __future__ import annotations

import contextlib
import json
import subprocess
import time
from pathlib import Path

import pytest
from conftest_slurm import TINY_PROFILE, assert_same_runs, bench, slurm_env, write_params

pytestmark = pytest.mark.slurm
__all__ = ["slurm_env"]  # the fixture, imported from conftest_slurm


def _latest_record(runs_root: Path) -> dict:
    return json.loads(sorted((runs_root / ".grid").glob("*.json"))[-1].read_text())


def test_slurm_grid_is_one_job_array_with_the_local_results(
    tmp_path: Path, slurm_env: dict[str, str]
) -> None:
    write_params(tmp_path, "params.yaml", runs_root="runs_slurm")
    write_params(tmp_path, "local.yaml", runs_root="runs_local")
    out = bench(tmp_path, "grid", "--executor", "slurm", "--wait", "--poll", "1", env=slurm_env).stdout
    record = _latest_record(tmp_path / "runs_slurm")
    array = record["array_job_id"]
    assert [r["job_id"] for r in record["runs"]] == [f"{array}_{i}" for i in range(4)]
    assert f"submitted array job {array} (4 runs)" in out and "4 COMPLETED" in out, out
    script = next((tmp_path / record["folder"]).glob("*_submission.sh")).read_text()
    for line in ("--array=0-3%", "--cpus-per-task=1", "--mem=1GB", "--time=5", "--signal=USR2@30"):
        assert line in script
    for run in record["runs"]:  # the logs of each job beside its run
        log = tmp_path / run["stderr"]
        assert log.parent == tmp_path / run["run_dir"] / "slurm"
        assert "Job completed successfully" in log.read_text()

    bench(tmp_path, "grid", "--params", "local.yaml", "-j", "2", "--threads", "1")
    assert_same_runs(tmp_path / "runs_slurm", tmp_path / "runs_local")
    again = bench(tmp_path, "grid", "--executor", "slurm", env=slurm_env).stdout
    assert again.strip() == "4 runs in the grid, 0 to do"
    status = bench(tmp_path, "grid", "--status", env=slurm_env).stdout
    assert status.count("COMPLETED") == 5 and " ok " in status


def _sacct(job_id: str, env: dict[str, str]) -> list[str]:
    out = subprocess.run(["sacct", "-D", "-X", "-n", "-P", "-o", "State", "-j", job_id],
                         capture_output=True, text=True, env=env, timeout=30).stdout
    return out.split()


def _queue_reason(job_id: str, env: dict[str, str]) -> str:
    out = subprocess.run(["squeue", "-h", "-j", job_id, "-o", "%T %r"],
                         capture_output=True, text=True, env=env, timeout=30).stdout.split()
    return out[1] if len(out) == 2 and out[0] == "PENDING" else ""


def _wait_for(what: str, condition, timeout: float = 60) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.2)


def test_time_limit_signal_checkpoints_requeues_and_resumes_to_the_same_result(
    tmp_path: Path, slurm_env: dict[str, str]
) -> None:
    # Long enough to be signalled mid-training; no periodic checkpoint: the one the resumed job
    # starts from is written on the signal.
    profile = {**TINY_PROFILE, "iterations": 100, "log_every": 2, "checkpoint_every": 1000}
    common = {"methods": [], "seeds": [0], "profiles": {"tiny": profile}}
    write_params(tmp_path, "params.yaml", runs_root="runs_slurm", **common)
    write_params(tmp_path, "local.yaml", runs_root="runs_local", **common)
    bench(tmp_path, "grid", "--executor", "slurm", env=slurm_env)
    run = _latest_record(tmp_path / "runs_slurm")["runs"][0]
    job_id, run_dir = run["job_id"], tmp_path / run["run_dir"]
    logged = run_dir / "dvclive" / "plots" / "metrics" / "lr.tsv"
    _wait_for("the run to start training", logged.exists)
    # What Slurm sends `signal_delay_s` before the time limit (submitit's USR_SIG).
    subprocess.run(["scancel", "--signal=USR2", job_id], check=True, env=slurm_env, timeout=30)
    # Slurm holds a requeued job back for about two minutes (reason BeginTime); let it go now.
    _wait_for("the requeue", lambda: _queue_reason(job_id, slurm_env) == "BeginTime")
    subprocess.run(["scontrol", "update", f"JobId={job_id}", "StartTime=now"],
                   env=slurm_env, timeout=30, check=True)
    done = bench(tmp_path, "grid", "--status", "--wait", "--poll", "1", env=slurm_env, check=False)
    log = (run_dir / "slurm" / f"{job_id}.err").read_text()
    # Accounting records the end of a job a moment after the queue lets go of it; a timeout
    # here is reported below, with the log.
    with contextlib.suppress(AssertionError):
        _wait_for("accounting", lambda: _sacct(job_id, slurm_env)[-1:] == ["COMPLETED"], timeout=30)
    attempts = _sacct(job_id, slurm_env)
    assert done.returncode == 0 and "1 COMPLETED" in done.stdout, (
        f"{done.stdout}{done.stderr}\nattempts: {attempts}\nlog:\n{log}")
    assert attempts == ["REQUEUED", "COMPLETED"], log
    assert "checkpoint written on signal" in log and "Requeued job" in log, log
    resumed_from = [ln for ln in log.splitlines() if "resuming" in ln]
    assert resumed_from and not resumed_from[0].endswith("from step 0"), log

    bench(tmp_path, "grid", "--params", "local.yaml", "--threads", "1")
    assert_same_runs(tmp_path / "runs_slurm", tmp_path / "runs_local")
