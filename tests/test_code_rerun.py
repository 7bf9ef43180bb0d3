"""End to end: an edit to one method's code reruns that method's DVC stage and nothing else.

A scratch copy of the working tree (code, dvc.yaml, a tiny params.yaml: snip, grasp and random,
three seeds, 8 steps) runs `dvc repro`; then methods/snip.py is edited so that its masks differ,
and only `prune@snip` (with the `code` stage before it and aggregate, latency and report after
it) may run again; an edit to methods/_saliency.py, the helper snip and grasp share, reruns
those two and not random; an edit to a docs file reruns nothing. Minutes long: `pytest -m slow`.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from fixtures.scratch import scratch_checkout

# They read every run folder (and aggregate the methods' code): they may rerun after any change.
_DOWNSTREAM = {"aggregate", "latency", "report"}


def _scratch_repo(dest: Path) -> Path:
    return scratch_checkout(dest, dict(iterations=8, log_every=4, checkpoint_every=4, lr_step=4),
                            methods=["snip", "grasp", "random"], seeds=[0, 1, 2],
                            sparsities=[0.9])


def _repro(repo: Path) -> tuple[set[str], set[str]]:
    """Run `dvc repro`; the stages it ran and those it found unchanged."""
    env = {**os.environ, "PYTHONPATH": str(repo), "OMP_NUM_THREADS": "1",
           "MKL_NUM_THREADS": "1", "PATH": f"{Path(sys.executable).parent}{os.pathsep}"
           f"{os.environ.get('PATH', '')}"}
    env.pop("BENCH_METHODS_PATH", None)
    proc = subprocess.run(["dvc", "repro"], cwd=repo, env=env, capture_output=True, text=True,
                          timeout=1800)
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, out[-4000:]
    ran = set(re.findall(r"Running stage '([^']+)'", out))
    unchanged = set(re.findall(r"Stage '([^']+)' didn't change", out))
    return ran, unchanged


def _results(repo: Path, method: str) -> dict[str, dict[str, object]]:
    folder = repo / "runs" / "synthetic" / "resnet34" / method
    return {p.parent.relative_to(folder).as_posix(): json.loads(p.read_text())
            for p in sorted(folder.rglob("result.json"))}


@pytest.mark.slow
def test_an_edited_method_or_helper_reruns_only_the_stages_that_use_it(tmp_path: Path) -> None:
    repo = _scratch_repo(tmp_path / "repo")
    ran, _ = _repro(repo)
    assert {"code", "dense", "single_task", "prune@snip", "prune@grasp", "prune@random"} <= ran
    fingerprints = {p.name: p.read_bytes() for p in (repo / "runs" / "code").iterdir()}
    assert sorted(fingerprints) == ["dense.json", "grasp.json", "random.json", "snip.json"]
    snip_before = _results(repo, "snip")
    assert len(snip_before) == 3

    snip = repo / "methods" / "snip.py"
    edited = snip.read_text().replace(
        "global_topk_masks(scores, ctx.target_sparsity)",
        "global_topk_masks({k: -v for k, v in scores.items()}, ctx.target_sparsity)")  # keep the least salient
    assert edited != snip.read_text()
    snip.write_text(edited)
    ran, unchanged = _repro(repo)
    assert ran - _DOWNSTREAM == {"code", "prune@snip"}, ran
    assert {"dense", "single_task", "prune@grasp", "prune@random"} <= unchanged, unchanged
    after = {p.name: p.read_bytes() for p in (repo / "runs" / "code").iterdir()}
    assert after["dense.json"] == fingerprints["dense.json"]
    assert after["random.json"] == fingerprints["random.json"]
    assert after["snip.json"] != fingerprints["snip.json"]
    # The run identity holds the code fingerprint (bench/record/identity.py), so `bench grid`
    # finds the old snip runs stale and retrains them; the edit changes their masks.
    snip_after = _results(repo, "snip")
    assert all(snip_after[k]["identity"] != snip_before[k]["identity"] for k in snip_before)
    assert snip_after != snip_before

    helper = repo / "methods" / "_saliency.py"
    helper.write_text(helper.read_text() + "\n# an edit to the shared helper\n")
    grasp_before = _results(repo, "grasp")
    ran, unchanged = _repro(repo)
    assert ran - _DOWNSTREAM == {"code", "prune@snip", "prune@grasp"}, ran
    assert {"dense", "single_task", "prune@random"} <= unchanged, unchanged
    grasp_after = _results(repo, "grasp")
    assert all(grasp_after[k]["identity"] != grasp_before[k]["identity"] for k in grasp_before)

    (repo / "docs" / "methods.md").write_text((repo / "docs" / "methods.md").read_text() + "\nx\n")
    ran, unchanged = _repro(repo)
    assert not ran, f"a docs edit reran {ran}"
    assert {"code", "dense", "single_task", "prune@snip", "prune@grasp",
            "prune@random"} <= unchanged
