"""End to end: an author submits a method, a reader imports, ranks and verifies it.

Two scratch clones of this checkout (the same commit; a tiny profile: 48 steps, 64 scenes,
seeds 0–4 for the methods and the dense reference). The author writes a method this repository
lacks (`lucky`, with its own helper), trains its grid and the dense reference, and runs
`bench submit`. The reader, whose checkout has no such method, trains its own dense reference
and random, and runs `bench import`: a tampered copy of the bundle is refused with nothing
written; the bundle's row appears in `bench aggregate` as submitted and unverified, its code
never imported. `bench verify lucky` then runs the stored code at held-out seeds; it passes, and
`bench aggregate` and the report show the row as verified. Minutes long: `pytest -m slow`.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from fixtures.submission import LUCKY, add_lucky, bench_in, write_yaml

from bench.submit.archive import read_archive, write_archive

sys.path.insert(0, str(Path(__file__).parent))
from test_code_rerun import _scratch_repo  # noqa: E402


def _clone(dest: Path, with_lucky: bool) -> Path:
    repo = _scratch_repo(dest)  # the tiny profile: 64 scenes
    params = yaml.safe_load((repo / "params.yaml").read_text())
    # 48 steps, not 8: at 8 the depth δ thresholds are all 0, and ΔT (a relative change)
    # cannot be computed against a zero reference. The dense reference at the methods' seeds.
    params["profiles"][params["profile"]].update(iterations=48, log_every=8,
                                                 checkpoint_every=16, lr_step=16)
    # Five seeds: three gave one row an interval far narrower than its seeds' spread (a 95 %
    # prediction interval from n = 3 rests on a standard deviation of 2 degrees of freedom).
    params["seeds"] = [0, 1, 2, 3, 4]
    params["dense_seeds"] = []
    params["methods"] = ["random", "lucky"] if with_lucky else ["random"]
    if with_lucky:
        params["method_params"]["lucky"] = {"salt": 5}
        add_lucky(repo, LUCKY)
    write_yaml(repo / "params.yaml", params)
    git = ["git", "-c", "user.name=bench", "-c", "user.email=bench@localhost"]
    subprocess.run([*git, "commit", "-qam", "params"], cwd=repo, check=True)
    if with_lucky:  # the author commits the new method
        subprocess.run([*git, "add", "methods"], cwd=repo, check=True)
        subprocess.run([*git, "commit", "-qm", "lucky"], cwd=repo, check=True)
    return repo


def _ok(repo: Path, *args: str) -> str:
    done = bench_in(repo, *args, timeout=1800)
    assert done.returncode == 0, f"bench {' '.join(args)}\n{done.stdout[-3000:]}{done.stderr[-3000:]}"
    return done.stdout


def _entry(repo: Path, method: str) -> dict[str, object]:
    leaderboard = json.loads((repo / "reports/leaderboard.json").read_text())
    (table,) = leaderboard["tables"]
    return next(e for e in table["entries"] if e["method"] == method)


@pytest.mark.slow
def test_submit_import_verify(tmp_path: Path) -> None:
    author = _clone(tmp_path / "author", with_lucky=True)
    _ok(author, "prepare", "synthetic")
    _ok(author, "grid", "--method", "dense", "--method", "lucky", "-j", "2")
    out = _ok(author, "submit", "lucky", "--out", str(tmp_path / "lucky.tar.gz"))
    assert "5 current runs" in out

    reader = _clone(tmp_path / "reader", with_lucky=False)
    _ok(reader, "prepare", "synthetic")
    _ok(reader, "grid", "--method", "dense", "--method", "random", "-j", "2")

    # A tampered copy (a better mIoU for one seed, the manifest unchanged) is refused first.
    members, _ = read_archive(tmp_path / "lucky.tar.gz")
    name = "runs/synthetic/resnet34/lucky/s0.9/seed0/result.json"
    result = json.loads(members[name])
    result["metrics"]["segment_semantic"]["miou"] += 0.1
    members[name] = json.dumps(result).encode()
    write_archive(tmp_path / "tampered.tar.gz", members)
    done = bench_in(reader, "import", str(tmp_path / "tampered.tar.gz"))
    assert done.returncode == 2 and "does not match its sha256" in done.stderr
    assert not (reader / "submissions" / "lucky").exists()
    assert not (reader / "runs" / "submitted").exists()

    out = _ok(reader, "import", str(tmp_path / "lucky.tar.gz"))
    assert "NOT imported or run" in out
    out = _ok(reader, "aggregate")
    assert "lucky: submitted, unverified" in out
    entry = _entry(reader, "lucky")
    assert entry["submitted"] is True and entry["n_seeds"] == 5
    assert entry["verification"]["label"] == "unverified"  # type: ignore[index]
    assert _entry(reader, "random")["submitted"] is False

    out = _ok(reader, "verify", "lucky")
    assert "verified 2/2 on" in out, out
    out = _ok(reader, "aggregate")
    entry = _entry(reader, "lucky")
    label = entry["verification"]["label"]  # type: ignore[index]
    assert label.startswith("verified 2/2 on"), label
    _ok(reader, "report")
    assert label in (reader / "reports/site/index.html").read_text()
