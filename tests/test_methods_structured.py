"""The structured track: channel_l1 and channel_mtl remove whole channels (methods/_structured.py),
the run records the pruned shapes and `bench` rebuilds, re-measures and times the model."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from bench.conformance import TINY, tiny_config
from bench.models import build_model
from bench.record.spec import RunSpec, dense_spec, run_dir
from bench.structured import dense_model, measure_structured, rebuild_model
from bench.train import TrainOptions, train_run
from methods._structured import ChannelPlan, fixed_interfaces
from methods.channel_mtl import ChannelMtl, head_of

TASKS = ("segment_semantic", "depth_zbuffer", "normal")


def tiny_model() -> torch.nn.Module:
    torch.manual_seed(0)
    return build_model("resnet34", TASKS, 13, 0.125)


def dense_shapes(model: torch.nn.Module) -> dict[str, tuple[int, ...]]:
    return {k: tuple(v.shape) for k, v in model.state_dict().items()}


@pytest.mark.parametrize("target", [0.3, 0.7, 0.9])
def test_pruned_fraction_is_on_target_and_interfaces_are_kept(target: float) -> None:
    model = tiny_model()
    dense = dense_shapes(model)
    plan = ChannelPlan(model, torch.zeros(1, 3, 64, 64), fixed_interfaces(model))
    scores = [torch.rand(n, generator=torch.Generator().manual_seed(g))
              for g, n in enumerate(plan.size)]
    plan.prune(plan.select(scores, target, plan.weights(plan.size)))
    measured = measure_structured(model.prunable_weights(), dense).overall
    assert abs(measured - target) <= 0.005
    assert model.backbone.conv1.in_channels == 3  # the stem reads RGB
    out = model(torch.zeros(1, 3, 64, 64))
    assert {t: o.shape[1] for t, o in out.items()} == {"segment_semantic": 13, "depth_zbuffer": 1,
                                                       "normal": 3}


def test_union_rule_keeps_a_backbone_channel_that_one_task_needs(
        monkeypatch: pytest.MonkeyPatch) -> None:
    model = tiny_model()
    plan = ChannelPlan(model, torch.zeros(1, 3, 64, 64), fixed_interfaces(model))
    backbone = [g for g in range(len(plan.groups)) if head_of(plan, g, TASKS) is None]
    heads = [g for g in range(len(plan.groups)) if head_of(plan, g, TASKS) is not None]
    assert backbone and heads and len(heads) == 3 * 4 * 2  # per head: 4 branches × 2 hidden convs
    # Channel 0 of every backbone group matters to depth only; nothing else matters much.
    per_task = {t: [torch.ones(n) for n in plan.size] for t in TASKS}
    for g in backbone:
        per_task["depth_zbuffer"][g][0] = 100.0
        per_task["normal"][g][1] = 0.0  # needed by no task: the first to go
        per_task["segment_semantic"][g][1] = 0.0
        per_task["depth_zbuffer"][g][1] = 0.0
    method = ChannelMtl()
    monkeypatch.setattr(method, "task_scores", lambda ctx, p: per_task)

    class Ctx:
        tasks = TASKS

    scores = method.scores(Ctx(), plan)  # type: ignore[arg-type]
    chosen = plan.select(scores, 0.7, plan.weights(plan.size))
    for g in backbone:
        assert 0 not in chosen[g], plan.group_names(g)  # kept: one task keeps it
        assert plan.size[g] == 1 or 1 in chosen[g]  # removed: no task keeps it


def test_head_groups_score_their_own_task_only() -> None:
    model = tiny_model()
    plan = ChannelPlan(model, torch.zeros(1, 3, 64, 64), fixed_interfaces(model))
    per_task = {t: [torch.full((n,), float(i + 1)) for n in plan.size] for i, t in enumerate(TASKS)}
    method = ChannelMtl()
    method.task_scores = lambda ctx, p: per_task  # type: ignore[method-assign]

    class Ctx:
        tasks = TASKS

    scores = method.scores(Ctx(), plan)  # type: ignore[arg-type]
    for g, score in enumerate(scores):
        task = head_of(plan, g, TASKS)
        expected = 3.0 if task is None else float(TASKS.index(task) + 1)  # union: the max
        assert torch.equal(score, torch.full_like(score, expected))


@pytest.fixture(scope="module")
def l1_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, object]:
    work = tmp_path_factory.mktemp("structured")
    config = tiny_config("channel_l1", {}, work)
    train_run(config, dense_spec(0), TrainOptions(progress=False,
                                                  out_dir=run_dir(config, dense_spec(0))))
    out = work / "l1"
    train_run(config, RunSpec("channel_l1", 0.7, 0), TrainOptions(progress=False, out_dir=out))
    return out, config


def test_result_records_the_pruned_architecture_and_rebuilds_identically(
        l1_run: tuple[Path, object]) -> None:
    from bench.data import PreparedDataset
    from bench.train.evaluation import evaluate_split
    from bench.train.setup import prepared_root

    out, config = l1_run
    result = json.loads((out / "result.json").read_text())
    assert result["structured"] is True
    assert abs(result["sparsity"]["overall"] - 0.7) <= 0.005
    shapes = result["architecture"]["shapes"]
    assert shapes and "backbone.conv1.weight" in shapes and shapes["backbone.conv1.weight"][1] == 3
    assert result["cost"]["macs_sparse_theoretical"] < 0.5 * result["cost"]["macs_dense"]
    model = rebuild_model(result)
    model.load_state_dict(torch.load(out / "model.pt", weights_only=True))
    dense = {k: tuple(v.shape) for k, v in dense_model(result, "meta").state_dict().items()}
    report = measure_structured(model.prunable_weights(), dense)  # type: ignore[operator]
    assert report.overall == pytest.approx(result["sparsity"]["overall"])
    assert report.by_component == pytest.approx(result["sparsity"]["by_component"])
    test = PreparedDataset(prepared_root(config), "test")  # type: ignore[arg-type]
    metrics = evaluate_split(model, model, test, TINY.eval_batch_size, torch.device("cpu"),
                             torch.autocast("cpu", enabled=False))
    assert metrics == result["metrics"]


def test_bench_sparsity_measures_a_structured_run_against_the_dense_shapes(
        l1_run: tuple[Path, object], capsys: pytest.CaptureFixture[str]) -> None:
    from bench.cli import main

    out, _ = l1_run
    assert main(["sparsity", str(out), "--json"]) == 0
    payload = json.loads(capsys.readouterr().out)
    result = json.loads((out / "result.json").read_text())
    assert payload["overall"] == pytest.approx(result["sparsity"]["overall"])


def test_latency_of_a_structured_model_is_measured_as_it_is(l1_run: tuple[Path, object]) -> None:
    from bench.perf.latency import measure_latency

    out, _ = l1_run
    payload = measure_latency(out, repeats=2, warmup=0)
    paths = payload["paths"]
    assert payload["structured"] is True
    assert paths["structured"]["available"] and len(paths["structured"]["times_ms"]) == 2
    assert paths["dense"]["description"].startswith("the unpruned architecture")
    assert not paths["sparse_csr"]["available"]  # no zeros to skip
    assert payload["macs"]["theoretical_speedup"] > 2  # the smaller network's own MACs


def test_taylor_contraction_is_the_gradient_of_a_gate_on_the_channel() -> None:
    """channel_mtl's per-channel Σ w·g over the convs writing a channel equals ∂L/∂gate of a
    multiplicative gate (at 1) on that channel's output in every one of those convs — the
    quantity Molchanov et al. square — for a residual stage's coupled channels too."""
    from methods.channel_mtl import gate_contractions

    model = tiny_model()
    plan = ChannelPlan(model, torch.zeros(1, 3, 64, 64), fixed_interfaces(model))
    coupled = max(range(len(plan.groups)), key=lambda g: len(plan.group_names(g)))
    writers = [c for c, g in plan.out_of.items() if g == coupled]
    assert len(writers) > 1  # a residual stage: several convs write the same channels
    gate = torch.ones(plan.size[coupled], requires_grad=True)
    hooks = [c.register_forward_hook(lambda m, i, o: o * gate.view(1, -1, 1, 1)) for c in writers]
    x = torch.randn(2, 3, 64, 64, generator=torch.Generator().manual_seed(1))
    out = model.eval()(x)
    loss = out["depth_zbuffer"].square().mean() + out["segment_semantic"].mean()
    weights = [m.weight for m in model.modules() if isinstance(m, torch.nn.Conv2d)]
    found = torch.autograd.grad(loss, [gate, *weights], allow_unused=True)
    for h in hooks:
        h.remove()
    grads = {w: g for w, g in zip(weights, found[1:], strict=True) if g is not None}
    got = gate_contractions(plan, grads)[coupled]
    assert torch.allclose(got.float(), found[0], rtol=1e-4, atol=1e-6)
    assert float(found[0].abs().max()) > 0
