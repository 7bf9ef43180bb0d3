"""`bench submit` and `bench import` between two scratch checkouts, from files alone.

The author's checkout has a method this repository lacks (`lucky`, with its own helper) and
runs whose result.json files carry the identities the checkout computes (written by the
fixture, no training: tests/test_submit_e2e.py trains for real). Its module raises when
imported, so every step here — submit, import, aggregate — proves it never imports it. The
reader's checkout is the same code without the method: the import adds the runs as submitted,
unverified rows; a checkout that differs in what makes rows comparable (setting, training code,
dense reference, a helper, the slug) refuses the bundle with one line and writes nothing.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml
from conftest_slurm import write_params
from fixtures.submission import (
    LUCKY,
    LUCKY_UNIMPORTABLE,
    add_lucky,
    bench_in,
    scratch_checkout,
    write_fake_runs,
    write_yaml,
)
from test_torch_free import _CLI

from bench.submit.archive import read_archive, write_archive

SEEDS = [0, 1, 2]


def _params(tmp: Path) -> dict[str, Any]:
    path = write_params(tmp, name="base.yaml", methods=["random", "lucky"], seeds=SEEDS,
                        data_root=str(tmp / "data"))
    params = yaml.safe_load(path.read_text())
    params["method_params"]["lucky"] = {"salt": 5}
    return params


@pytest.fixture(scope="module")
def author(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    tmp = tmp_path_factory.mktemp("submit")
    params = _params(tmp)
    repo = scratch_checkout(tmp / "author", params)
    # Prepared once for every checkout here (same data, same manifest), by a configuration
    # that does not name lucky: loading params.yaml checks its methods by importing them.
    write_yaml(tmp / "prepare.yaml", {**params, "methods": ["random"], "method_params": {
        k: v for k, v in params["method_params"].items() if k != "lucky"}})
    done = bench_in(repo, "prepare", "synthetic", "--params", str(tmp / "prepare.yaml"))
    assert done.returncode == 0, done.stderr
    add_lucky(repo, LUCKY_UNIMPORTABLE)
    before = bench_in(repo, "submit", "lucky", "--out", str(tmp / "none.tar.gz"))
    write_fake_runs(repo)
    done = bench_in(repo, "submit", "lucky", "--out", str(tmp / "lucky.tar.gz"))
    assert done.returncode == 0, done.stderr
    return {"tmp": tmp, "repo": repo, "params": params, "bundle": tmp / "lucky.tar.gz",
            "submit": done, "before": before}


def _reader(author: dict[str, Any], name: str,
            change: Callable[[Path, dict[str, Any]], None] | None = None) -> Path:
    params = json.loads(json.dumps(author["params"]))
    params["methods"] = ["random"]
    del params["method_params"]["lucky"]
    repo = scratch_checkout(author["tmp"] / name, params)
    if change is not None:
        change(repo, params)
        write_yaml(repo / "params.yaml", params)
    return repo


def _written(repo: Path) -> set[str]:
    return {p.relative_to(repo).as_posix() for folder in ("submissions", "runs")
            if (repo / folder).exists() for p in (repo / folder).rglob("*")} | \
        {p.name for p in repo.glob(".bench-import-*")}


def test_a_method_without_current_runs_is_refused(author: dict[str, Any]) -> None:
    before = author["before"]
    assert before.returncode == 2
    assert before.stderr.strip().count("\n") == 0
    assert "lucky: no current runs" in before.stderr
    assert not (author["tmp"] / "none.tar.gz").exists()


def test_the_bundle_holds_code_parameters_runs_and_logs_but_no_weights(
        author: dict[str, Any]) -> None:
    members, _ = read_archive(author["bundle"])
    code = sorted(n for n in members if n.startswith("code/"))
    assert code == ["code/bench/masks.py", "code/methods/__init__.py",
                    "code/methods/_lucky_draw.py", "code/methods/lucky.py",
                    "code/methods/random.py"]
    runs = sorted(n for n in members if n.startswith("runs/"))
    for seed in SEEDS:
        folder = f"runs/synthetic/resnet34/lucky/s0.5/seed{seed}"
        assert f"{folder}/result.json" in runs
        assert f"{folder}/dvclive/plots/metrics/loss/normal.tsv" in runs
    assert not any(n.endswith(".pt") for n in members)
    assert not any("/dense/" in n or "/random/" in n for n in members)
    manifest = json.loads(members["manifest.json"])
    assert set(manifest["members"]) == set(members) - {"manifest.json"}
    record = json.loads(members["submission.json"])
    assert record["slug"] == "lucky" and record["method_params"] == {"salt": 5}
    assert record["setting"]["profile"] == "tiny"
    assert record["setting"]["recipe"]["iterations"] == author["params"]["profiles"]["tiny"][
        "iterations"]
    assert sorted(record["reference"]["identities"]) == ["0", "1", "2"]
    assert [r["seed"] for r in record["runs"]] == SEEDS
    assert record["produced_with"]["cpu_capability"] == {"AVX2": 3}
    assert record["submitted_from"]["cpu_capability"]
    result = json.loads(members["runs/synthetic/resnet34/lucky/s0.5/seed0/result.json"])
    fingerprint = result["provenance"]["config"]["code"]["files"]
    assert fingerprint["methods/lucky.py"] == record["code"]["files"]["methods/lucky.py"]
    assert "bench/train/loop.py" in fingerprint
    assert "bundle id" in author["submit"].stdout


def test_import_adds_unverified_submitted_rows_and_never_runs_the_code(
        author: dict[str, Any]) -> None:
    repo = _reader(author, "reader")
    done = bench_in(repo, "import", str(author["bundle"]))
    assert done.returncode == 0, done.stderr
    out = done.stdout
    assert "NOT imported or run" in out and "submissions/lucky/code/" in out
    assert "less submissions/lucky/code/methods/lucky.py" in out
    assert "bench verify lucky" in out
    assert (repo / "submissions/lucky/code/methods/lucky.py").read_text() == LUCKY_UNIMPORTABLE
    assert (repo / "submissions/lucky/code/methods/_lucky_draw.py").is_file()
    runs = repo / "runs/submitted/synthetic/resnet34/lucky/s0.5"
    assert sorted(p.name for p in runs.iterdir()) == ["seed0", "seed1", "seed2"]
    assert not list(runs.rglob("*.pt"))
    assert not list(repo.glob(".bench-import-*"))

    again = bench_in(repo, "import", str(author["bundle"]))
    assert again.returncode == 2 and "already imported" in again.stderr

    # The reader's own runs (the dense reference and random), then the leaderboard.
    write_fake_runs(repo)
    done = bench_in(repo, "aggregate")
    assert done.returncode == 0, done.stderr
    assert "lucky: submitted, unverified" in done.stdout
    leaderboard = json.loads((repo / "reports/leaderboard.json").read_text())
    assert leaderboard["counts"]["stale"] == 0, leaderboard["stale"]
    (table,) = leaderboard["tables"]
    entries = {e["method"]: e for e in table["entries"]}
    assert set(entries) == {"random", "lucky"}
    assert entries["lucky"]["submitted"] is True and entries["random"]["submitted"] is False
    assert entries["lucky"]["verification"]["label"] == "unverified"
    assert entries["lucky"]["n_seeds"] == 3
    assert "submitted" in (repo / "reports/leaderboard.csv").read_text().splitlines()[0]

    # The same with torch unimportable: ranking submitted rows reads files only.
    blocked = subprocess.run([sys.executable, "-c", _CLI, "aggregate"], cwd=repo,
                             env={**os.environ, "PYTHONPATH": str(repo)}, capture_output=True,
                             text=True, timeout=300)
    assert blocked.returncode == 0, blocked.stderr
    assert "lucky: submitted, unverified" in blocked.stdout

    # An edit to the training code makes the submitted runs stale, like the pipeline's own.
    loop = repo / "bench/train/loop.py"
    loop.write_text(loop.read_text() + "\n# an edit\n")
    done = bench_in(repo, "aggregate")
    stale = json.loads((repo / "reports/leaderboard.json").read_text())["stale"]
    assert any(s["method"] == "lucky" and "bench/train/loop.py" in s["reason"] for s in stale)

    # --force replaces the import (here: with the same bundle).
    loop.write_text(loop.read_text().replace("\n# an edit\n", ""))
    done = bench_in(repo, "import", str(author["bundle"]), "--force")
    assert done.returncode == 0, done.stderr


def _add_method(repo: Path, params: dict[str, Any]) -> None:
    add_lucky(repo, LUCKY)


def _other_helper(repo: Path, params: dict[str, Any]) -> None:
    (repo / "methods/_lucky_draw.py").write_text('"""Another helper of the same name."""\n')


def _longer_profile(repo: Path, params: dict[str, Any]) -> None:
    params["profiles"]["tiny"]["iterations"] = 6


def _edited_training(repo: Path, params: dict[str, Any]) -> None:
    loop = repo / "bench/train/loop.py"
    loop.write_text(loop.read_text() + "\n# another version of the benchmark\n")


def _other_dense(repo: Path, params: dict[str, Any]) -> None:
    params["method_params"]["dense"] = {"rewind_fraction": 0.1}


def _other_backbone(repo: Path, params: dict[str, Any]) -> None:
    params["backbone"] = "mobilenetv2"


REFUSED = {
    "slug of this checkout": (_add_method, "slug 'lucky' is a method of this checkout"),
    "helper differs": (_other_helper, "code/methods/_lucky_draw.py differs from this checkout's"),
    "profile content": (_longer_profile, "setting differs from this checkout's: profile.iterations"),
    "training code": (_edited_training, "training code differs from this checkout's: "
                                        "bench/train/loop.py"),
    "dense reference": (_other_dense, "dense reference differs from this checkout's: "
                                      "method_params.rewind_fraction"),
    "backbone": (_other_backbone, "backbone: the bundle's runs are on 'resnet34'"),
}


@pytest.mark.parametrize("case", sorted(REFUSED))
def test_import_refuses_a_bundle_that_differs_from_this_checkout(
        author: dict[str, Any], case: str) -> None:
    change, needle = REFUSED[case]
    repo = _reader(author, f"refuse-{case.replace(' ', '-')}", change)
    before = _written(repo)
    done = bench_in(repo, "import", str(author["bundle"]))
    assert done.returncode == 2, done.stdout + done.stderr
    assert len(done.stderr.strip().splitlines()) == 1 and needle in done.stderr, done.stderr
    assert "nothing written" in done.stderr
    assert _written(repo) == before


def test_import_needs_the_data_prepared_here(author: dict[str, Any], tmp_path: Path) -> None:
    repo = _reader(author, "unprepared",
                   lambda _, params: params.update(data_root=str(tmp_path / "no-data")))
    done = bench_in(repo, "import", str(author["bundle"]))
    assert done.returncode == 3 and "not prepared here" in done.stderr
    assert _written(repo) == set()


def _import_altered(author: dict[str, Any], name: str, members: dict[str, bytes],
                    reseal: bool = True) -> tuple[Any, Path]:
    """Write `members` as a bundle (its manifest rebuilt to match when `reseal`, as a forger
    would) and import it into a fresh reader checkout: (the finished command, the checkout)."""
    from bench.submit.manifest import build_manifest

    if reseal:
        del members["manifest.json"]
        members["manifest.json"] = build_manifest(members)
    path = author["tmp"] / f"{name}.tar.gz"
    write_archive(path, members)
    repo = _reader(author, name)
    return bench_in(repo, "import", str(path)), repo


def test_a_tampered_bundle_is_refused_and_nothing_is_written(author: dict[str, Any]) -> None:
    members, _ = read_archive(author["bundle"])
    name = "runs/synthetic/resnet34/lucky/s0.5/seed1/result.json"
    result = json.loads(members[name])
    result["metrics"]["segment_semantic"]["miou"] += 0.05  # a better row; the manifest unchanged
    members[name] = json.dumps(result).encode()
    done, repo = _import_altered(author, "tampered", members, reseal=False)
    assert done.returncode == 2
    assert f"member {name!r} does not match its sha256" in done.stderr
    assert _written(repo) == set()


def test_a_run_whose_identity_does_not_hold_here_is_refused(author: dict[str, Any]) -> None:
    """Manifest and record rewritten consistently, but a run's parameters are not the ones the
    bundle says: the identity recomputed here from the staged code and parameters differs."""
    members, _ = read_archive(author["bundle"])
    record = json.loads(members["submission.json"])
    record["method_params"] = {"salt": 6}
    members["submission.json"] = json.dumps(record).encode()
    done, repo = _import_altered(author, "forged", members)
    assert done.returncode == 2, done.stderr
    assert "would not be the same run here" in done.stderr and "method_params.salt" in done.stderr
    assert _written(repo) == set()


def test_an_unexpected_member_is_refused(author: dict[str, Any]) -> None:
    members, _ = read_archive(author["bundle"])
    members["runs/synthetic/resnet34/lucky/s0.5/seed0/model.pt"] = b"weights"
    done, repo = _import_altered(author, "weights", members)
    assert done.returncode == 2 and "is a checkpoint" in done.stderr
    assert _written(repo) == set()


def test_a_module_that_is_not_the_method_it_claims_is_refused(author: dict[str, Any]) -> None:
    """Record and manifest consistent, but the module defines another slug: its facts cannot be
    read from the source, which is refused as one line, not a traceback."""
    from bench.submit.archive import sha256

    members, _ = read_archive(author["bundle"])
    source = LUCKY_UNIMPORTABLE.replace('slug = "lucky"', 'slug = "lucky2"').encode()
    members["code/methods/lucky.py"] = source
    record = json.loads(members["submission.json"])
    record["code"]["files"]["methods/lucky.py"] = sha256(source)[:16]
    members["submission.json"] = json.dumps(record).encode()
    done, repo = _import_altered(author, "other-slug", members)
    assert done.returncode == 2, done.stderr
    assert len(done.stderr.strip().splitlines()) == 1 and "no class with slug" in done.stderr
    assert _written(repo) == set()
