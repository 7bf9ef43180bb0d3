"""`bench grid` without a cluster: planning, overrides, the requeue path, the local executor and
the hand-back to DVC."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import torch
from conftest_slurm import REPO, bench, write_params

from bench.cli import main
from bench.cli.grid import cluster_overrides
from bench.config import load_config
from bench.grid.job import RunJob, preempt_signal
from bench.grid.plan import expected_identity, plan
from bench.grid.slurm import executor_parameters
from bench.io import write_json_atomic
from bench.record.spec import RunSpec, run_dir
from bench.train import TrainOptions, train_run


def fake_result(config: Any, spec: RunSpec, status: str = "ok", identity: str | None = None,
                inputs: dict[str, Any] | None = None) -> None:
    wanted, wanted_inputs = expected_identity(config, spec)
    write_json_atomic(run_dir(config, spec) / "result.json", {
        "status": status, "reason": "non-finite loss at step 3 in task normal" if status != "ok" else None,
        "identity": identity or wanted, "provenance": {"config": inputs or wanted_inputs},
    })


def test_dry_run_lists_every_run_of_the_pipeline_with_its_state(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    write_params(tmp_path)
    config = load_config("params.yaml")
    specs = [p.spec for p in plan(config)]
    assert specs == [RunSpec("dense", 0.0, 0), RunSpec("dense", 0.0, 1),
                     RunSpec("random", 0.5, 0), RunSpec("random", 0.5, 1)]
    fake_result(config, specs[0])
    fake_result(config, specs[1], status="failed")
    _, inputs = expected_identity(config, specs[2])
    edited = {**inputs, "code": {"files": {**inputs["code"]["files"], "methods/random.py": "0" * 16}}}
    fake_result(config, specs[2], identity="0123456789abcdef", inputs=edited)
    assert main(["grid", "--dry-run"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split() == ["done", "runs/synthetic/resnet34/dense/s0.0/seed0"]
    assert lines[1].startswith("failed   runs/synthetic/resnet34/dense/s0.0/seed1  (non-finite loss")
    assert lines[2].startswith("stale    runs/synthetic/resnet34/random/s0.5/seed0  (code changed: methods/random.py)")
    assert lines[3].split() == ["missing", "runs/synthetic/resnet34/random/s0.5/seed1"]
    assert lines[4] == "4 runs: 1 done, 1 missing, 1 failed, 1 stale"


def test_single_task_references_are_in_the_grid_and_selected_apart(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    write_params(tmp_path, single_task_references=True)
    config = load_config("params.yaml")
    single = [p.spec for p in plan(config) if p.spec.task is not None]
    assert [(s.task, s.seed) for s in single] == [
        (t, k) for t in ("segment_semantic", "normal", "depth_zbuffer") for k in (0, 1)]
    assert main(["grid", "--dry-run", "--single-task"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split() == ["missing", "runs/synthetic/resnet34/single_task/segment_semantic/seed0"]
    assert lines[-1] == "6 runs: 0 done, 6 missing, 0 failed, 0 stale"
    assert main(["grid", "--dry-run", "--method", "dense"]) == 0  # the multi-task dense runs only
    lines = capsys.readouterr().out.splitlines()
    assert lines[-1].startswith("2 runs:") and "single_task" not in "".join(lines)
    # `single_task_references: false`: the stage still leaves its (empty) output folder.
    write_params(tmp_path, single_task_references=False)
    assert main(["grid", "--single-task"]) == 0
    assert "0 runs in the grid" in capsys.readouterr().out
    assert (tmp_path / "runs" / "synthetic" / "resnet34" / "single_task").is_dir()


def test_cluster_settings_are_validated_and_overridable(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    write_params(tmp_path)
    assert main(["grid", "--dry-run", "--cluster", "gpus=2"]) == 2
    assert "--cluster: unknown key 'gpus'" in capsys.readouterr().err
    assert main(["grid", "--dry-run", "--cluster", "time_min=0"]) == 2
    assert "time_min must be positive" in capsys.readouterr().err
    assert main(["grid", "--dry-run", "--cluster", "mem_gb=lots"]) == 2
    assert "--cluster: mem_gb: expected an integer" in capsys.readouterr().err
    write_params(tmp_path, cluster={"partition": "gpu", "walltime": 5})
    assert main(["grid", "--dry-run"]) == 2
    assert "params.yaml: cluster: unknown key 'walltime'" in capsys.readouterr().err

    write_params(tmp_path, cluster={"partition": "gpu", "account": "lab", "extra": {"qos": "high"}})
    args = type("Args", (), {"cluster": ["time_min=600", "gpus_per_run=2", "partition=a100"]})()
    cluster = cluster_overrides(args, load_config("params.yaml")).cluster
    params = executor_parameters(cluster, "bench-tiny")
    assert params["timeout_min"] == 600 and params["gpus_per_node"] == 2
    assert params["slurm_partition"] == "a100" and params["slurm_account"] == "lab"
    assert params["slurm_additional_parameters"] == {"qos": "high"}
    assert params["cpus_per_task"] == cluster.cpus_per_run and params["mem_gb"] == cluster.mem_gb
    assert params["slurm_setup"][0] == "export OMP_NUM_THREADS=8 MKL_NUM_THREADS=8"


def test_checkpoint_resubmits_the_run_with_resume(tmp_path: Path) -> None:
    write_params(tmp_path)
    config = load_config(tmp_path / "params.yaml")
    job = RunJob(config, RunSpec("dense", 0.0, 0), str(tmp_path), threads=1, resume=False)
    again = job.checkpoint()
    assert isinstance(again.function, RunJob) and again.function is not job
    assert again.function.resume and again.function.spec == job.spec and not again.args


def test_signal_while_training_checkpoints_the_step_then_requeues_and_resumes_identically(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """What happens under submitit, without Slurm: its handler is stood in for by a fake."""
    monkeypatch.chdir(tmp_path)
    write_params(tmp_path, seeds=[0], methods=[],
                 profiles={"tiny": {"width_mult": 0.0625, "iterations": 6, "batch_size": 2,
                                    "crop": None, "eval_batch_size": 8, "log_every": 2,
                                    "checkpoint_every": 1000, "device": "cpu"}})
    config = load_config("params.yaml")
    spec = RunSpec("dense", 0.0, 0)
    handed_over: list[int] = []

    def submitit_handler(signum: int, frame: Any) -> None:
        handed_over.append(signum)
        raise SystemExit(-1)  # submitit requeues, then exits

    original_train = RunJob._train

    def train_then_get_signalled(self: RunJob, stop: Any) -> Any:
        os.kill(os.getpid(), preempt_signal())  # lands while the first step runs
        return original_train(self, stop)

    threads = torch.get_num_threads()
    previous = signal.signal(preempt_signal(), submitit_handler)
    try:
        monkeypatch.setattr(RunJob, "_train", train_then_get_signalled)
        with pytest.raises(SystemExit):
            RunJob(config, spec, str(tmp_path), threads=1)()
        monkeypatch.setattr(RunJob, "_train", original_train)
        assert handed_over == [preempt_signal()]
        checkpoint = torch.load(run_dir(config, spec) / "checkpoint.pt", weights_only=False)
        assert checkpoint["step"] == 1  # written at the end of the step the signal hit
        assert signal.getsignal(preempt_signal()) is submitit_handler  # handler restored
        summary = RunJob(config, spec, str(tmp_path), threads=1).checkpoint().function()
        assert summary["status"] == "ok"
        whole = train_run(config, spec, TrainOptions(progress=False, out_dir=tmp_path / "whole"))
    finally:
        signal.signal(preempt_signal(), previous)
        torch.set_num_threads(threads)
    resumed = json.loads((run_dir(config, spec) / "result.json").read_text())
    assert resumed["metrics"] == whole["metrics"]  # type: ignore[index]


def _copy_project(dst: Path) -> None:
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc")
    for name in ("bench", "methods", "datasets", "reports/templates", "reports/static",
                 "reports/verify", "reports/reference", "submissions"):  # dvc.yaml deps
        if (REPO / name).exists():
            shutil.copytree(REPO / name, dst / name, ignore=ignore)
    shutil.copy(REPO / "dvc.yaml", dst / "dvc.yaml")


def _run(cwd: Path, *cmd: str) -> str:
    env = {**os.environ, "OMP_NUM_THREADS": "1",
           "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"}
    done = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, timeout=300, env=env)
    assert done.returncode == 0, f"{' '.join(cmd)}:\n{done.stdout}\n{done.stderr}"
    return done.stdout + done.stderr


@pytest.mark.skipif(not (REPO / "dvc.yaml").exists(), reason="needs the project's dvc.yaml")
def test_local_grid_then_dvc_takes_the_results_without_retraining(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    _copy_project(tmp_path)
    write_params(tmp_path, seeds=[0])
    git = ["git", "-c", "user.name=test", "-c", "user.email=test@example.com"]
    _run(tmp_path, "git", "init", "-q")
    _run(tmp_path, sys.executable, "-m", "dvc", "init", "-q")
    _run(tmp_path, *git, "add", "-A")
    _run(tmp_path, *git, "commit", "-q", "-m", "tiny project")

    out = bench(tmp_path, "grid", "-j", "2", "--threads", "1").stdout
    assert "2 runs in the grid, 2 to do" in out and "2 run(s) done, 0 failed" in out
    results = sorted(tmp_path.glob("runs/**/result.json"))
    stamps = {p: p.stat().st_mtime_ns for p in results}
    monkeypatch.chdir(tmp_path)  # data_root and runs_root are relative
    assert main(["grid", "-j", "2"]) == 0
    assert capsys.readouterr().out.strip() == "2 runs in the grid, 0 to do"

    # The grid's runs are those `bench train` makes (same thread count: bit-identical on CPU).
    config = load_config("params.yaml")
    spec = RunSpec("random", 0.5, 0)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        alone = train_run(config, spec, TrainOptions(progress=False, out_dir=tmp_path / "alone"))
    finally:
        torch.set_num_threads(threads)
    on_grid = json.loads((run_dir(config, spec) / "result.json").read_text())
    assert on_grid["metrics"] == alone["metrics"]  # type: ignore[index]

    assert "dvc commit --force fetch prepare code dense prune" in bench(tmp_path, "grid", "--commit").stdout
    repro = _run(tmp_path, sys.executable, "-m", "dvc", "repro")
    for stage in ("prepare", "dense", "prune@random"):
        assert f"Stage '{stage}' didn't change, skipping" in repro, repro
    assert "Running stage 'dense" not in repro and "Running stage 'prune" not in repro
    assert "Running stage 'aggregate'" in repro and "Running stage 'report'" in repro
    assert (tmp_path / "reports" / "leaderboard.json").exists()
    assert {p: p.stat().st_mtime_ns for p in results} == stamps
    assert "up to date" in _run(tmp_path, sys.executable, "-m", "dvc", "status")


def test_status_reads_the_array_from_sacct_and_explains_failures(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from bench.grid import status

    monkeypatch.chdir(tmp_path)
    write_params(tmp_path)
    config = load_config("params.yaml")
    specs = [p.spec for p in plan(config)]
    fake_result(config, specs[0])
    fake_result(config, specs[1], status="failed")
    log = run_dir(config, specs[2]) / "slurm" / "7_2.err"
    log.parent.mkdir(parents=True)
    log.write_text("INFO submitit: Starting\nslurmstepd: error: *** JOB 7_2 CANCELLED DUE TO TIME LIMIT ***\n")
    record = {
        "created": "2026-01-01T00:00:00+00:00", "array_job_id": "7",
        "runs": [{"job_id": f"7_{i}", "run_dir": str(run_dir(config, s)),
                  "stderr": str(run_dir(config, s) / "slurm" / f"7_{i}.err")}
                 for i, s in enumerate(specs)],
    }
    write_json_atomic(tmp_path / "runs" / ".grid" / "20260101-000000.json", record)
    sacct = "7_0|COMPLETED|0:0|None\n7_1|FAILED|1:0|NonZeroExitCode\n7_2|TIMEOUT|0:0|TimeLimit\n7_3|PENDING|0:0|Resources\n"
    answers = {"sacct": sacct, "squeue": "7_3|PENDING|Resources\n"}
    monkeypatch.setattr(status.subprocess, "run",
                        lambda cmd, **k: subprocess.CompletedProcess(cmd, 0, answers[cmd[0]], ""))
    assert main(["grid", "--status"]) == 1
    out = capsys.readouterr().out
    assert "grid runs/.grid/20260101-000000.json: array job 7, 4 run(s)" in out
    assert "COMPLETED     7_0        ok       runs/synthetic/resnet34/dense/s0.0/seed0" in out
    assert "reason: exit 1:0; non-finite loss at step 3 in task normal" in out
    assert "reason: exit 0:0; TimeLimit" in out and "log: runs/synthetic/resnet34/random/s0.5/seed0/slurm/7_2.err" in out
    assert "PENDING       7_3        missing  runs/synthetic/resnet34/random/s0.5/seed1  (waiting: Resources)" in out
    assert out.strip().endswith("1 COMPLETED, 1 FAILED, 1 PENDING, 1 TIMEOUT")
    assert status._expand("12_[0-3,5%2]") == ["12_0", "12_1", "12_2", "12_3", "12_5"]


def test_status_trusts_the_queue_over_lagging_accounting(monkeypatch: pytest.MonkeyPatch) -> None:
    from bench.grid import status

    # Just requeued: slurmdbd still holds the ended attempt, the controller already queues the next.
    answers = {"sacct": "5|FAILED|1:0|None\n6|COMPLETED|0:0|None\n", "squeue": "5|PENDING|BeginTime\n"}
    monkeypatch.setattr(status.subprocess, "run",
                        lambda cmd, **k: subprocess.CompletedProcess(cmd, 0, answers[cmd[0]], ""))
    jobs = status.job_states({"array_job_id": "5", "runs": []})
    assert jobs["5"] == status.JobInfo("PENDING", "", "BeginTime")
    assert jobs["6"].state == "COMPLETED"
