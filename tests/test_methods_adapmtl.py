"""adapmtl and its two ablations: STR parametrisation, closed-loop sparsity control with freeze,
the end correction, adaptive task weights, resume and determinism — on a tiny ResNet34
multi-task model with a hand-run loop that calls the hooks in the order bench/train/loop.py does."""

from __future__ import annotations

from typing import Any

import pytest
import torch
from fixtures.tiny_mtl import (
    TASKS,
    assert_same_weights,
    n_prunable,
    one_thread,
    run_with_resume,
    tiny_ctx,
    train,
    zeros,
)

from bench.method import Context
from bench.registry import broken, discover
from methods._adapmtl import AdapMTLBase, AdapMTLParams
from methods._adapmtl_parts import SoftThreshold, TaskWeighting

SLUGS = ("adapmtl", "adapmtl_shared_threshold", "adapmtl_equal_weights")
pytestmark = pytest.mark.usefixtures("one_thread")
__all__ = ["one_thread"]  # the fixture, imported
STEPS = 40


def make_ctx(target: float, seed: int = 0, total: int = STEPS) -> Context:
    return tiny_ctx(target, seed, total)


def build(slug: str, **params: Any) -> AdapMTLBase:
    method = discover()[slug](AdapMTLParams(**params))
    assert isinstance(method, AdapMTLBase)
    return method


def full_run(slug: str, target: float, seed: int = 0, **params: Any) -> tuple[AdapMTLBase, Context]:
    ctx = make_ctx(target, seed)
    method = build(slug, **params)
    method.setup(ctx)
    train(method, ctx)
    method.finalize(ctx)
    return method, ctx


def test_registered() -> None:
    methods = discover()
    assert set(SLUGS) <= set(methods) and not set(SLUGS) & set(broken())
    assert methods["adapmtl_shared_threshold"].shared_threshold
    assert not methods["adapmtl_equal_weights"].adaptive_weights
    assert methods["adapmtl"].adaptive_weights and not methods["adapmtl"].shared_threshold


def test_soft_threshold_is_str() -> None:
    s = torch.nn.Parameter(torch.tensor(-2.0))
    w = torch.randn(50, requires_grad=True)
    g = torch.randn(50)
    out = SoftThreshold(s, {})(w)
    got = torch.autograd.grad((out * g).sum(), [w, s])
    ref = torch.sign(w) * torch.relu(w.abs() - torch.sigmoid(s))
    want = torch.autograd.grad((ref * g).sum(), [w, s])
    assert torch.equal(out, ref)
    assert torch.allclose(got[0], want[0]) and torch.allclose(got[1], want[1])


@pytest.mark.parametrize("slug", SLUGS)
def test_parametrised_then_plain_again(slug: str) -> None:
    ctx = make_ctx(0.9)
    before = {k: v.shape for k, v in ctx.model.state_dict().items()}
    method = build(slug)
    method.setup(ctx)
    during = ctx.model.state_dict()
    assert any(k.endswith("parametrizations.weight.original") for k in during)
    assert not any("threshold" in k for k in during)  # s lives in the optimizer and the method
    thresholds = ctx.optimizer.param_groups[-1]["params"]
    assert len(thresholds) == (1 if slug == "adapmtl_shared_threshold" else 1 + len(TASKS))
    train(method, ctx, stop=3)
    method.finalize(ctx)
    assert {k: v.shape for k, v in ctx.model.state_dict().items()} == before


@pytest.mark.parametrize("target", [0.5, 0.7, 0.9, 0.95])
def test_reaches_target_by_ramp_end_and_lands_on_it(target: float) -> None:
    method, ctx = full_run("adapmtl", target)
    notes = ctx.cost.notes
    assert notes["target_reached_step"] is not None
    assert notes["target_reached_step"] <= 0.75 * STEPS
    assert abs(zeros(ctx) / n_prunable(ctx) - target) <= 0.005
    assert all(not s.requires_grad for s in method.thresholds.values())


@pytest.mark.parametrize("slug", SLUGS[1:])
def test_ablations_reach_target(slug: str) -> None:
    _, ctx = full_run(slug, 0.9)
    assert abs(zeros(ctx) / n_prunable(ctx) - 0.9) <= 0.005


def test_frozen_thresholds_stay_put() -> None:
    ctx = make_ctx(0.7)
    method = build("adapmtl")
    method.setup(ctx)
    train(method, ctx, stop=30)
    assert method.frozen
    frozen = {g: s.detach().clone() for g, s in method.thresholds.items()}
    train(method, ctx, start=30)  # Adam with weight decay and momentum keeps running
    assert all(torch.equal(frozen[g], s) for g, s in method.thresholds.items())


@pytest.mark.parametrize("overshoot", [True, False])
def test_correction_lands_on_exact_count(overshoot: bool) -> None:
    target = 0.8
    ctx = make_ctx(target)
    method = build("adapmtl")
    method.setup(ctx)
    train(method, ctx, stop=2)
    with torch.no_grad():  # put the thresholds off target on purpose
        quantile = 0.9 if overshoot else 0.6
        latent = torch.cat([t.abs().flatten() for t in method._all_latent])
        tau = latent.kthvalue(round(quantile * latent.numel())).values
        for s in method.thresholds.values():
            s.fill_(float(torch.logit(tau)))
    before = {w.name: w.weight.detach().clone() for w in ctx.all_prunable()}
    method.finalize(ctx)
    assert zeros(ctx) == round(target * n_prunable(ctx))
    for w in ctx.all_prunable():  # one direction only, and survivors keep their exact values
        now, was = w.weight != 0, before[w.name] != 0
        if overshoot:
            assert torch.all(now[was]) and torch.equal(w.weight[was], before[w.name][was])
        else:
            assert not torch.any(now & ~was) and torch.equal(w.weight[now], before[w.name][now])


def test_task_weighting_formula() -> None:
    weighting = TaskWeighting(("a", "b"), start=2, window=2)
    losses = [{"a": 1.0, "b": 1.0}, {"a": 5.0, "b": 5.0}, {"a": 2.0, "b": 4.0},
              {"a": 1.0, "b": 2.0}, {"a": 2.0, "b": 1.0}]
    got = [weighting.update(i, x) for i, x in enumerate(losses)]
    assert got[:4] == [{"a": 1.0, "b": 1.0}] * 4  # before the start, then filling the window
    mean_a = (abs(2.0 - 1.0) / 1.0 + abs(1.0 - 2.0) / 2.0) / 2
    mean_b = (abs(4.0 - 2.0) / 2.0 + abs(2.0 - 1.0) / 1.0) / 2
    assert got[4]["a"] == pytest.approx(2 * mean_a / (mean_a + mean_b))
    assert sum(got[4].values()) == pytest.approx(2.0)


@pytest.mark.parametrize("slug", ["adapmtl", "adapmtl_equal_weights"])
def test_task_weights_and_logs(slug: str) -> None:
    ctx = make_ctx(0.9)
    logged: dict[str, list[float]] = {}
    ctx._log = lambda k, v: logged.setdefault(k, []).append(v)
    method = build(slug)
    method.setup(ctx)
    train(method, ctx)
    for task in TASKS:
        weights = logged[f"task_weight/{task}"]
        assert len(weights) == STEPS and weights[: round(0.25 * STEPS)] == [1.0] * round(0.25 * STEPS)
        if slug == "adapmtl_equal_weights":
            assert set(weights) == {1.0}
    if slug == "adapmtl":
        assert any(v != 1.0 for v in logged["task_weight/normal"])
        assert sum(logged[f"task_weight/{t}"][-1] for t in TASKS) == pytest.approx(len(TASKS))
    for component in ctx.components:
        assert len(logged[f"threshold/{component}"]) == STEPS
    assert "weight_decay/threshold" in logged and "weight_decay/weights" in logged


@pytest.mark.parametrize(
    ("slug", "stop"),  # before and after the freeze
    [("adapmtl", 15), ("adapmtl", 30), ("adapmtl_shared_threshold", 15), ("adapmtl_equal_weights", 30)],
)
def test_resume_is_identical(slug: str, stop: int) -> None:
    _, reference = full_run(slug, 0.9, seed=1)
    resumed = run_with_resume(make_ctx, build, slug, stop)
    assert_same_weights(reference, resumed)
    assert reference.cost.notes == resumed.cost.notes


def test_deterministic() -> None:
    _, a = full_run("adapmtl", 0.9, seed=3)
    _, b = full_run("adapmtl", 0.9, seed=3)
    assert_same_weights(a, b)


def test_density_floors_set_runaway_components_back() -> None:
    target = 0.8
    ctx = make_ctx(target)
    method = build("adapmtl", component_density_floor=0.5, backbone_density_floor=1.0)
    method.setup(ctx)
    train(method, ctx, stop=2)
    with torch.no_grad():  # a threshold above every weight: each component would be all zeros
        for s in method.thresholds.values():
            s.fill_(10.0)
    step = method._ramp_steps // 2  # the ramp allows 1 − 0.4 = 0.6 density here
    _, by_component = method._sparsity()
    assert all(v == 1.0 for v in by_component.values())
    assert method._enforce_floors(step, target, by_component)
    _, after = method._sparsity()
    for component, sparsity in after.items():
        floor = 1.0 if component == "backbone" else 0.5
        assert sparsity == pytest.approx(1 - floor * 0.6, abs=1e-3), component
    assert sorted(method.capped) == sorted(after)
    assert not method._enforce_floors(step, target, after)  # at the floor: nothing to do
