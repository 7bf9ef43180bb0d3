"""The training loop: result files, determinism, resume, failure on non-finite loss."""

from __future__ import annotations

import dataclasses
import json
import textwrap
from pathlib import Path

import pytest
import torch

from bench import registry
from bench.cli import main
from bench.config import Config
from bench.errors import RunFailedError
from bench.record.spec import RunSpec, run_dir
from bench.train import TrainOptions, train_run

RESULT_KEYS = {
    "schema_version", "method", "dataset", "backbone", "profile", "target_sparsity", "seed",
    "status", "reason", "sparsity", "metrics", "val_metrics", "method_params",
    "cost", "provenance", "start", "identity", "setting_identity",
}
COST_KEYS = {
    "train_seconds", "eval_seconds", "iterations", "params_total", "params_nonzero",
    "prunable_total", "prunable_nonzero", "macs_dense", "macs_sparse_theoretical",
    "extra_forward_backward", "rounds", "notes", "budget_units",
}


def test_dense_run_writes_a_complete_result(tiny: Config) -> None:
    spec = RunSpec("dense", 0.0, 0)
    result = train_run(tiny, spec, TrainOptions(progress=False))
    out = run_dir(tiny, spec)
    on_disk = json.loads((out / "result.json").read_text())
    assert on_disk == json.loads(json.dumps(result))
    assert set(on_disk) == RESULT_KEYS
    assert set(on_disk["cost"]) == COST_KEYS
    assert on_disk["status"] == "ok" and on_disk["schema_version"] == 2
    assert on_disk["sparsity"]["overall"] == 0.0
    assert set(on_disk["sparsity"]["by_component"]) == {"backbone", *on_disk["metrics"]}
    assert on_disk["metrics"]["segment_semantic"]["miou"] > 0
    assert on_disk["cost"]["iterations"] == tiny.recipe.iterations
    assert on_disk["start"] == {"point": "init"} and on_disk["cost"]["budget_units"] == 1.0
    assert torch.load(out / "rewind.pt", weights_only=True)["step"] == 1  # 5% of 16 steps, ≥ 1
    assert torch.load(out / "branch.pt", weights_only=True)["step"] == 8  # the branch point, 50%
    assert on_disk["cost"]["macs_sparse_theoretical"] == on_disk["cost"]["macs_dense"]
    prov = on_disk["provenance"]
    assert prov["torch_version"] == torch.__version__ and prov["config"]["seed"] == 0
    assert prov["git_commit"] is None or len(prov["git_commit"]) == 40
    assert not (out / "checkpoint.pt").exists()
    state = torch.load(out / "model.pt", weights_only=True)
    assert any(k.startswith("heads.normal.") for k in state)
    assert (out / "dvclive" / "plots" / "metrics" / "loss" / "normal.tsv").exists()


def test_single_task_reference_has_only_its_task(tiny: Config) -> None:
    """Δm's reference: the same recipe and seed, one head, only that task evaluated."""
    spec = RunSpec("dense", 0.0, 0, "normal")
    result = train_run(tiny, spec, TrainOptions(progress=False))
    out = run_dir(tiny, spec)
    assert out.parts[-3:] == ("single_task", "normal", "seed0")
    assert set(result) == RESULT_KEYS | {"task"}
    assert result["task"] == "normal" and result["method"] == "dense"
    assert set(result["metrics"]) == set(result["val_metrics"]) == {"normal"}
    assert set(result["sparsity"]["by_component"]) == {"backbone", "normal"}
    assert result["provenance"]["config"]["task"] == "normal"
    assert result["identity"] != run_identity_of(tiny, RunSpec("dense", 0.0, 0))
    heads = {k.split(".")[1] for k in torch.load(out / "model.pt", weights_only=True)
             if k.startswith("heads.")}
    assert heads == {"normal"} and not (out / "rewind.pt").exists()


def run_identity_of(config: Config, spec: RunSpec) -> str:
    from bench.record.identity import resolved_config, run_identity

    return run_identity(resolved_config(config, spec))


def test_same_seed_same_metrics_and_other_seed_differs(tiny: Config, tmp_path: Path) -> None:
    runs = [
        train_run(tiny, RunSpec("dense", 0.0, seed), TrainOptions(progress=False, out_dir=tmp_path / name))
        for name, seed in (("a", 0), ("b", 0), ("c", 1))
    ]
    assert runs[0]["metrics"] == runs[1]["metrics"]  # type: ignore[index]
    assert runs[0]["metrics"] != runs[2]["metrics"]  # type: ignore[index]


def test_resume_after_kill_gives_the_same_result(tiny: Config, tmp_path: Path) -> None:
    spec = RunSpec("dense", 0.0, 0)
    whole = train_run(tiny, spec, TrainOptions(progress=False, out_dir=tmp_path / "whole"))
    out = tmp_path / "killed"
    stopped = train_run(tiny, spec, TrainOptions(progress=False, out_dir=out, stop_after=5))
    assert stopped is None and (out / "checkpoint.pt").exists()
    resumed = train_run(tiny, spec, TrainOptions(progress=False, out_dir=out, resume=True))
    assert resumed["metrics"] == whole["metrics"]  # type: ignore[index]
    a = torch.load(tmp_path / "whole" / "model.pt", weights_only=True)
    b = torch.load(out / "model.pt", weights_only=True)
    assert all(torch.equal(a[k], b[k]) for k in a)
    steps = (out / "dvclive" / "plots" / "metrics" / "loss" / "normal.tsv").read_text().split()
    assert len(steps) == len(set(steps)) or True  # rows are (step, value) pairs
    rows = (out / "dvclive" / "plots" / "metrics" / "loss" / "normal.tsv").read_text().splitlines()
    logged = [int(r.split("\t")[0]) for r in rows[1:]]
    assert logged == sorted(set(logged)), "a resumed run must not log a step twice"


NAN_METHOD = textwrap.dedent(
    """
    import torch
    from bench.method import PruningMethod

    class NanBomb(PruningMethod):
        slug = "nan_bomb"
        description = "poisons the normal head at step 3 (test only)"

        def before_step(self, ctx):
            if ctx.step == 3:
                with torch.no_grad():
                    ctx.model.heads["normal"].branches[0].classifier.weight.fill_(float("nan"))
    """
)


def test_non_finite_loss_fails_the_run_with_step_and_task(
    tiny: Config, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    plugins = tmp_path / "plugins"
    plugins.mkdir()
    (plugins / "nan_bomb.py").write_text(NAN_METHOD)
    monkeypatch.setenv("BENCH_METHODS_PATH", str(plugins))
    registry.discover(refresh=True)
    try:
        config = dataclasses.replace(tiny, methods=("nan_bomb",))
        out = tmp_path / "nan"
        with pytest.raises(RunFailedError, match="step 3 in task normal"):
            train_run(config, RunSpec("nan_bomb", 0.5, 0), TrainOptions(progress=False, out_dir=out))
        result = json.loads((out / "result.json").read_text())
        assert result["status"] == "failed"
        assert "non-finite loss" in result["reason"] and "normal" in result["reason"]
    finally:
        monkeypatch.delenv("BENCH_METHODS_PATH")
        registry.discover(refresh=True)


def test_train_cli_and_sparsity_cli(tiny: Config, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "cli"
    spec = RunSpec("dense", 0.0, 0)
    train_run(tiny, spec, TrainOptions(progress=False, out_dir=out))
    assert main(["sparsity", str(out), "--json"]) == 0
    measured = json.loads(capsys.readouterr().out)
    assert measured["overall"] == 0.0 and "backbone" in measured["by_component"]
