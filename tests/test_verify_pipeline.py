"""End to end: `dvc repro`, then `bench verify` trains held-out seeds beside the pipeline's runs,
and the next `dvc repro` shows each row's status in the leaderboard, the CSV and the report;
an edit to the method's code makes its row not current (verify refuses, exit 2) and, once
rerun, its verification stale ("not verified").

A scratch copy of the working tree with a tiny profile (48 steps, 64 scenes, 3 seeds, 4 dense
seeds; random, and lth, which starts from the dense run of its seed). 48 steps, not the 8 of
tests/test_code_rerun.py: after 24 the dense runs still predict no depth within 1.25× (δ1 = 0),
and ΔT, relative to dense, cannot be computed against a zero. Whether a held-out seed of
so short a run lands inside the interval is not asserted — it is whatever these seeds give —
only that the exit code, the file, the leaderboard and the report agree with each other and
with the interval. Minutes long: `pytest -m slow`.
"""

from __future__ import annotations

import csv
import json
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from fixtures.scratch import scratch_checkout

HELD_OUT = (4, 5)  # the smallest seeds in neither seeds (0-2) nor dense_seeds (0-3)


def _scratch_repo(dest: Path) -> Path:
    return scratch_checkout(dest, dict(iterations=48, log_every=8, checkpoint_every=16,
                                       lr_step=16),
                            methods=["random", "lth"], seeds=[0, 1, 2],
                            dense_seeds=[0, 1, 2, 3], sparsities=[0.9])


def _env(repo: Path) -> dict[str, str]:
    env = {**os.environ, "PYTHONPATH": str(repo), "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1",
           "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"}
    env.pop("BENCH_METHODS_PATH", None)
    return env


def _repro(repo: Path) -> set[str]:
    proc = subprocess.run(["dvc", "repro"], cwd=repo, env=_env(repo), capture_output=True,
                          text=True, timeout=1800)
    assert proc.returncode == 0, (proc.stdout + proc.stderr)[-4000:]
    return set(re.findall(r"Running stage '([^']+)'", proc.stdout + proc.stderr))


def _bench(repo: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "bench", *args], cwd=repo, env=_env(repo),
                          capture_output=True, text=True, timeout=1800)


def _entry(repo: Path, method: str) -> dict[str, Any]:
    board = json.loads((repo / "reports" / "leaderboard.json").read_text())
    return next(e for t in board["tables"] for e in t["entries"] if e["method"] == method)


def _grid_identity(repo: Path, method: str, seed: int) -> str:
    """The identity the grid would give the row's run at `seed`, computed in the scratch copy."""
    code = ("from bench.config import load_config; from bench.record.spec import RunSpec; "
            "from bench.record.identity import resolved_config, run_identity; "
            f"print(run_identity(resolved_config(load_config('params.yaml'), "
            f"RunSpec({method!r}, 0.9, {seed}))))")
    done = subprocess.run([sys.executable, "-c", code], cwd=repo, env=_env(repo),
                          capture_output=True, text=True, timeout=300, check=True)
    return done.stdout.strip()


def _verify(repo: Path, method: str) -> dict[str, Any]:
    done = _bench(repo, "verify", method)
    assert done.returncode in (0, 1), done.stdout + done.stderr
    record = json.loads((repo / "reports" / "verify" / f"synthetic-resnet34-{method}-s0.9.json").read_text())
    interval = record["interval"]
    seeds = record["seeds"]
    assert [s["seed"] for s in seeds] == list(HELD_OUT)
    for seed in seeds:  # each decision is the interval's, and the command prints it
        assert seed["pass"] == (interval["low"] <= seed["delta_t"] <= interval["high"])
        assert f"seed {seed['seed']}: ΔT" in done.stdout
        assert seed["identity"] == _grid_identity(repo, method, seed["seed"])
    assert (done.returncode == 0) == all(s["pass"] for s in seeds) == \
        (record["outcome"] == "verified")
    assert record["label"] == (f"{record['outcome']} {sum(s['pass'] for s in seeds)}/2 on "
                               f"{record['machine']['platform']}")
    assert record["row"]["seeds"] == [0, 1, 2] and interval["n"] == 3
    assert record["row"]["identity"] == _entry(repo, method)["row_identity"]
    return record


@pytest.mark.slow
def test_verify_trains_held_out_seeds_and_the_report_shows_the_status(tmp_path: Path) -> None:
    repo = _scratch_repo(tmp_path / "repo")
    _repro(repo)
    assert _entry(repo, "random")["verification"]["label"] == "not verified"
    pipeline_runs = sorted(p.relative_to(repo) for p in (repo / "runs").rglob("result.json"))

    random = _verify(repo, "random")
    lth = _verify(repo, "lth")
    verify_runs = repo / "runs-verify" / "synthetic" / "resnet34"
    # The held-out runs and lth's dense parents are beside the pipeline's runs, not in them.
    assert sorted(p.relative_to(repo) for p in (repo / "runs").rglob("result.json")) == \
        pipeline_runs
    for seed in HELD_OUT:
        parent = json.loads((verify_runs / "dense" / "s0.0" / f"seed{seed}" /
                             "result.json").read_text())
        child = json.loads((verify_runs / "lth" / "s0.9" / f"seed{seed}" /
                            "result.json").read_text())
        assert child["start"]["parent_identity"] == parent["identity"]
        assert (verify_runs / "random" / "s0.9" / f"seed{seed}" / "result.json").is_file()
    assert not (verify_runs / "dense" / "s0.0" / "seed0").exists()  # the reference is not retrained

    ran = _repro(repo)  # reports/verify is a dependency of aggregate: only it and report rerun
    assert "aggregate" in ran and ran <= {"aggregate", "report"}, ran
    for method, record in (("random", random), ("lth", lth)):
        assert _entry(repo, method)["verification"]["label"] == record["label"]
    with (repo / "reports" / "leaderboard.csv").open() as handle:
        labels = {row["method"]: row["verification"] for row in csv.DictReader(handle)}
    assert labels["random"] == random["label"] and labels["lth"] == lth["label"]
    index = (repo / "reports" / "site" / "index.html").read_text()
    assert random["label"] in index and lth["label"] in index

    # An edit to random's code: its row is no longer current, so verify refuses (one line) ...
    module = repo / "methods" / "random.py"
    module.write_text(module.read_text() + "\n# an edit\n")
    done = _bench(repo, "verify", "random")
    assert done.returncode == 2 and "dvc repro" in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1, done.stderr
    # ... and once the row is retrained, its verification is stale; lth's still holds.
    _repro(repo)
    status = _entry(repo, "random")["verification"]
    assert status["label"] == "not verified" and status["reason"].startswith("stale")
    assert _entry(repo, "lth")["verification"]["label"] == lth["label"]
