"""Checkpoints through a DVC remote (docs/checkpoints.md), end to end in scratch clones.

An author copy of the working tree (a tiny params.yaml: the dense reference, lth — from the dense
run's rewind point — and channel_l1, structured; three seeds, 64 scenes, 16 steps) runs
`dvc repro`, commits dvc.lock and a local-directory remote in .dvc/config, and `dvc push`es; its
own cache is then deleted, so the remote holds the only copy. A `git clone` of it `dvc pull`s:
every checkpoint comes back byte for byte, `dvc repro` reruns only the stages whose outputs are
not cached (fetch, prepare, code: seconds) and trains nothing, `dvc status` is clean, and
`bench latency --grid` and `bench report` work on the pulled runs. The channel-pruned model
reloads into its smaller network (bench/runload.py) and scores what its result.json records.
Minutes long: `pytest -m slow`.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from fixtures.scratch import GIT, scratch_checkout

_GIT = GIT
_SEEDS = [0, 1, 2]
# Stages whose outputs dvc.yaml keeps out of the cache (`cache: false`): the dataset (a real one
# is not ours to redistribute; the embedded one is generated) and the code fingerprints (derived
# from the committed source). A clone rebuilds them in seconds, byte-identical.
_UNCACHED = {"fetch", "prepare", "code"}
_TRAINING = {"dense", "single_task", "prune@lth", "prune@channel_l1"}


def _author_repo(dest: Path) -> Path:
    # 16 steps at a high rate: the dense runs' depth δ1 is no longer 0 (at 8 steps it is, and ΔT
    # divides by it), so the leaderboard and the report have rows.
    return scratch_checkout(dest, dict(iterations=16, lr=0.03, lr_step=16, log_every=4,
                                       checkpoint_every=4),
                            methods=["lth", "channel_l1"], seeds=_SEEDS, dense_seeds=_SEEDS,
                            sparsities=[0.9], structured_sparsities=[0.7])


def _run(repo: Path, *cmd: str) -> str:
    env = {**os.environ, "PYTHONPATH": str(repo), "OMP_NUM_THREADS": "1",
           "MKL_NUM_THREADS": "1", "DVC_NO_ANALYTICS": "1",
           "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"}
    env.pop("BENCH_METHODS_PATH", None)
    proc = subprocess.run(list(cmd), cwd=repo, env=env, capture_output=True, text=True,
                          timeout=1800)
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, f"{' '.join(cmd)}:\n{out[-4000:]}"
    return out


def _repro(repo: Path) -> tuple[set[str], set[str]]:
    """Run `dvc repro`; the stages it ran and those it found unchanged."""
    out = _run(repo, "dvc", "repro")
    return (set(re.findall(r"Running stage '([^']+)'", out)),
            set(re.findall(r"Stage '([^']+)' didn't change", out)))


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _checkpoints(repo: Path) -> dict[str, str]:
    runs = repo / "runs"
    return {p.relative_to(runs).as_posix(): _sha256(p) for p in sorted(runs.rglob("*.pt"))}


def _run_files(repo: Path) -> dict[str, tuple[int, int, str]]:
    """Every file of every run folder: size, modification time and hash. Training a run again
    rewrites its result.json and model.pt and appends to its dvclive logs."""
    runs = repo / "runs" / "synthetic"
    return {p.relative_to(runs).as_posix(): (p.stat().st_size, p.stat().st_mtime_ns, _sha256(p))
            for p in sorted(runs.rglob("*")) if p.is_file()}


def _flat(metrics: dict[str, dict[str, float]]) -> dict[str, float]:
    return {f"{task}/{name}": value for task, values in metrics.items()
            for name, value in values.items()}


@pytest.mark.slow
def test_checkpoints_pushed_to_a_dvc_remote_are_pulled_identical_and_used_without_training(
    tmp_path: Path,
) -> None:
    author = _author_repo(tmp_path / "author")
    ran, _ = _repro(author)
    assert ran >= _TRAINING, ran
    # What a lab commits: the lock (which output has which hash), the headline metrics, and the
    # remote's address in .dvc/config; credentials would go to the uncommitted .dvc/config.local.
    remote = tmp_path / "remote"
    _run(author, "dvc", "remote", "add", "-d", "store", str(remote))
    subprocess.run([*_GIT, "add", "dvc.lock", "reports/metrics.json", ".dvc/config"],
                   cwd=author, check=True)
    subprocess.run([*_GIT, "commit", "-qm", "runs"], cwd=author, check=True)
    _run(author, "dvc", "push")
    assert "in sync" in _run(author, "dvc", "status", "--cloud")
    published = _checkpoints(author)
    base = "synthetic/resnet34"
    for seed in _SEEDS:  # the final models, and the dense runs' rewind and branch points
        for run in (f"dense/s0.0/seed{seed}", f"lth/s0.9/seed{seed}",
                    f"channel_l1/s0.7/seed{seed}"):
            assert f"{base}/{run}/model.pt" in published, sorted(published)
        for point in ("rewind.pt", "branch.pt"):
            assert f"{base}/dense/s0.0/seed{seed}/{point}" in published, sorted(published)
    # The remote is now the only copy outside the author's working tree.
    shutil.rmtree(author / ".dvc" / "cache")

    reader = tmp_path / "reader"
    subprocess.run(["git", "clone", "-q", str(author), str(reader)], check=True)
    assert not (reader / "runs").exists() and not (reader / ".dvc" / "cache").exists()
    _run(reader, "dvc", "pull")
    assert _checkpoints(reader) == published
    for record in (author / "runs" / base).rglob("result.json"):
        assert (reader / record.relative_to(author)).read_bytes() == record.read_bytes()

    pulled = _run_files(reader)
    ran, unchanged = _repro(reader)
    assert ran <= _UNCACHED, f"a pulled clone reran {ran - _UNCACHED}"
    assert _TRAINING | {"aggregate", "latency", "report"} <= unchanged, unchanged
    assert "up to date" in _run(reader, "dvc", "status")

    latency = tmp_path / "latency.json"
    _run(reader, "bench", "latency", "--grid", "--threads", "1", "--repeats", "1", "--warmup", "0",
         "--input-size", "32", "32", "--out", str(latency))
    measured = json.loads(latency.read_text())
    assert not measured["skipped"], measured["skipped"]
    assert measured["runs"][f"{base}/channel_l1/s0.7/seed0"]["structured"] is True
    assert {f"{base}/{run}/seed0" for run in ("dense/s0.0", "lth/s0.9", "channel_l1/s0.7")} \
        == set(measured["runs"])
    leaderboard = json.loads((reader / "reports" / "leaderboard.json").read_text())
    assert {"lth", "channel_l1"} <= {e["method"] for t in leaderboard["tables"]
                                     for e in t["entries"]}, leaderboard["invalid"]
    site = tmp_path / "site"
    _run(reader, "bench", "report", "--leaderboard", "reports/leaderboard.json", "--runs", "runs",
         "--latency", str(latency), "--out", str(site))
    index = (site / "index.html").read_text()
    assert 'class="plain speed"' in index and "channel_l1" in index  # the measured latency table
    assert _run_files(reader) == pulled, "a pulled run folder changed: something retrained"

    from bench.runload import evaluate_run, load_model
    from bench.structured import dense_model

    for run in ("dense/s0.0", "lth/s0.9", "channel_l1/s0.7"):
        folder = reader / "runs" / base / run / "seed0"
        model, result = load_model(folder)
        state = model.state_dict()
        floats = [v for v in state.values() if v.is_floating_point()]
        assert sum(v.numel() for v in floats) == result["cost"]["params_total"]
        assert sum(int((v != 0).sum()) for v in floats) == result["cost"]["params_nonzero"]
        if run.startswith("channel_l1"):  # the smaller network the recorded shapes describe
            dense = dense_model(result).state_dict()
            assert result["structured"] and result["architecture"]["shapes"]
            assert all(tuple(state[k].shape) == tuple(shape) != tuple(dense[k].shape)
                       for k, shape in result["architecture"]["shapes"].items())
            assert sum(v.numel() for v in floats) < sum(
                v.numel() for v in dense.values() if v.is_floating_point())
        scored = _flat(evaluate_run(folder, "test", data_root=reader / "data"))
        assert scored == pytest.approx(_flat(result["metrics"]), rel=1e-4, abs=1e-6)
