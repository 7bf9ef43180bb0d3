"""Helpers for the grid tests: a tiny project on disk, `bench` as a subprocess, and a real
single-node Slurm (scripts/slurm-local.sh) for the tests marked `slurm`."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import torch
import yaml

REPO = Path(__file__).resolve().parents[1]
BENCH = [sys.executable, "-m", "bench"]
TINY_PROFILE = {
    "width_mult": 0.0625, "iterations": 4, "batch_size": 2, "crop": None, "eval_batch_size": 8,
    "log_every": 2, "checkpoint_every": 2, "lr_step": 2, "device": "cpu",
}
HOW_TO_START = (
    "no Slurm here: install it with .ci/install-slurm, start one with scripts/slurm-local.sh "
    "start and export the SLURM_CONF it prints (or set CI=true to let the tests start it)"
)


def write_params(root: Path, name: str = "params.yaml", **changes: Any) -> Path:
    """A tiny grid: dense + random at 0.5, two seeds, seconds per run on one core (no
    single-task references unless `single_task_references=True` is passed)."""
    params: dict[str, Any] = {
        "dataset": "synthetic", "backbone": "resnet34", "profile": "tiny",
        "methods": ["random"], "sparsities": [0.5], "structured_sparsities": [], "seeds": [0, 1],
        "dense_seeds": [],
        "data_root": "data", "runs_root": "runs", "reports_root": "reports",
        "synthetic": {"height": 32, "width": 32, "num_train": 16, "num_val": 8, "num_test": 8,
                      "seed": 0},
        "profiles": {"tiny": dict(TINY_PROFILE)},
        "method_params": {"dense": {}, "random": {}},
        "budget": {"mode": "equal", "branch_fraction": 0.5},
        "single_task_references": False,
        "cluster": {"partition": None, "time_min": 5, "gpus_per_run": 0, "cpus_per_run": 1,
                    "mem_gb": 1, "signal_delay_s": 30},
    }
    params.update(changes)
    path = root / name
    path.write_text(yaml.safe_dump(params, sort_keys=False))
    return path


def bench(cwd: Path, *args: str, check: bool = True, timeout: float = 300,
          env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    full_env = {**os.environ, "OMP_NUM_THREADS": "1", **(env or {})}
    done = subprocess.run([*BENCH, *args], cwd=cwd, capture_output=True, text=True,
                          timeout=timeout, env=full_env)
    if check and done.returncode != 0:
        raise AssertionError(f"bench {' '.join(args)} -> {done.returncode}\n{done.stdout}\n{done.stderr}")
    return done


def result_files(runs_root: Path) -> list[Path]:
    return sorted(p.relative_to(runs_root) for p in runs_root.rglob("result.json") if ".grid" not in p.parts)


def assert_same_runs(a: Path, b: Path) -> None:
    """Identical metrics, sparsity and final weights, run by run."""
    names = result_files(a)
    assert names and names == result_files(b)
    for name in names:
        ra, rb = (json.loads((root / name).read_text()) for root in (a, b))
        for key in ("status", "metrics", "val_metrics", "sparsity"):
            assert ra[key] == rb[key], f"{name}: {key} differs"
        assert ra["identity"] == rb["identity"]
        wa, wb = (torch.load(root / name.parent / "model.pt", weights_only=True) for root in (a, b))
        assert wa.keys() == wb.keys()
        assert all(torch.equal(wa[k], wb[k]) for k in wa), f"{name}: model.pt differs"


# --- a real single-node Slurm --------------------------------------------------------------

def _slurm_answers(env: dict[str, str]) -> bool:
    conf = env.get("SLURM_CONF")
    if shutil.which("sinfo") is None or (conf and not Path(conf).exists()):
        return False  # (without a config sinfo may spend seconds looking for a controller)
    try:
        done = subprocess.run(["sinfo", "-h"], capture_output=True, text=True, timeout=20, env=env)
    except (OSError, subprocess.SubprocessError):
        return False
    return done.returncode == 0 and bool(done.stdout.strip())


def _local_cluster_env(state_dir: str | None = None) -> dict[str, str]:
    env = dict(os.environ)
    if state_dir:
        env["SLURM_LOCAL_DIR"] = state_dir
    line = subprocess.run([str(REPO / "scripts" / "slurm-local.sh"), "env"], capture_output=True,
                          text=True, env=env).stdout.strip()
    env["SLURM_CONF"] = line.split("=", 1)[1]
    return env


@pytest.fixture(scope="session")
def slurm_env() -> Iterator[dict[str, str]]:
    """Environment for commands that talk to a running Slurm with accounting.

    Uses the cluster the environment already points at, else one left running by
    `scripts/slurm-local.sh start`; in CI (CI=true) starts a private one and stops it after."""
    env = dict(os.environ)
    if os.environ.get("SLURM_CONF") and _slurm_answers(env):
        yield env
        return
    env = _local_cluster_env()
    if _slurm_answers(env):
        yield env
        return
    if os.environ.get("CI", "").lower() not in ("true", "1"):
        pytest.skip(HOW_TO_START)
    if shutil.which("slurmctld") is None and not Path("/usr/sbin/slurmctld").exists():
        pytest.fail("CI=true but Slurm is not installed: .ci/install-slurm should have run")
    state = tempfile.mkdtemp(prefix="slurm-local-", dir="/tmp")  # munged needs a world-x path
    env = _local_cluster_env(state)
    env["SLURM_LOCAL_PORT"] = os.environ.get("SLURM_LOCAL_PORT", "26817")
    script = str(REPO / "scripts" / "slurm-local.sh")
    started = subprocess.run([script, "start"], capture_output=True, text=True, env=env, timeout=180)
    if started.returncode != 0:
        subprocess.run([script, "stop"], env=env, capture_output=True, timeout=120)
        pytest.fail(f"could not start Slurm:\n{started.stdout}\n{started.stderr}")
    try:
        yield env
    finally:
        subprocess.run([script, "stop"], env=env, capture_output=True, timeout=120)
