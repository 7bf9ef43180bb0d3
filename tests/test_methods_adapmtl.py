"""adapmtl and its two ablations: STR parametrisation, closed-loop sparsity control with freeze,
the end correction, adaptive task weights, resume and determinism — on a tiny ResNet34
multi-task model with a hand-run loop that calls the hooks in the order bench/train/loop.py does."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import torch

from bench.method import Batch, Context, PruningMethod
from bench.models import build_model
from bench.registry import broken, discover
from methods._adapmtl import AdapMTLBase, AdapMTLParams
from methods._adapmtl_parts import SoftThreshold, TaskWeighting

TASKS = ("segment_semantic", "normal", "depth_zbuffer")
SLUGS = ("adapmtl", "adapmtl_shared_threshold", "adapmtl_equal_weights")
STEPS = 40


@pytest.fixture(autouse=True, scope="module")
def _one_thread() -> Iterator[None]:
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def _batch(seed: int) -> Batch:
    g = torch.Generator().manual_seed(seed)
    return {
        "rgb": torch.randn(2, 3, 32, 32, generator=g),
        "segment_semantic": torch.randn(2, 8, 4, 4, generator=g),
        "normal": torch.randn(2, 3, 4, 4, generator=g),
        "depth_zbuffer": torch.randn(2, 1, 4, 4, generator=g),
    }


def make_ctx(target: float, seed: int = 0, total: int = STEPS) -> Context:
    torch.manual_seed(seed)
    model = build_model("resnet34", TASKS, 8, width_mult=0.0625)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3, betas=(0.5, 0.999), weight_decay=1e-3)
    ctx = Context(
        model=model, prunable=model.prunable_weights(), optimizer=optimizer, tasks=TASKS,
        target_sparsity=target, total_steps=total, seed=seed, device=torch.device("cpu"),
    )

    def task_losses(batch: Batch) -> dict[str, torch.Tensor]:
        out = model(batch["rgb"])
        return {t: (out[t] - batch[t]).pow(2).mean() for t in TASKS}

    ctx._task_losses = task_losses
    return ctx


def build(slug: str, **params: Any) -> AdapMTLBase:
    method = discover()[slug](AdapMTLParams(**params))
    assert isinstance(method, AdapMTLBase)
    return method


def train(method: PruningMethod, ctx: Context, start: int = 0, stop: int | None = None) -> None:
    if start == 0:
        method.prepare(ctx)
    for step in range(start, stop if stop is not None else ctx.total_steps):
        ctx.step = step
        method.before_step(ctx)
        losses = ctx.task_losses(_batch(step))
        weights = method.loss_weights(ctx, {t: float(v.detach()) for t, v in losses.items()}) or {}
        ctx.optimizer.zero_grad(set_to_none=True)
        sum(weights.get(t, 1.0) * v for t, v in losses.items()).backward()  # type: ignore[union-attr]
        method.after_backward(ctx)
        ctx.optimizer.step()
        ctx.step = step + 1
        method.after_step(ctx)


def zeros(ctx: Context) -> int:
    return sum(int((w.weight == 0).sum()) for w in ctx.all_prunable())


def n_prunable(ctx: Context) -> int:
    return sum(w.weight.numel() for w in ctx.all_prunable())


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


def _snapshot(ctx: Context, method: PruningMethod) -> dict[str, Any]:
    import copy

    state = {"model": ctx.model.state_dict(), "optimizer": ctx.optimizer.state_dict(), "method": method.state_dict()}
    return {**copy.deepcopy(state), "rng": torch.get_rng_state()}  # dropout draws from it


@pytest.mark.parametrize(
    ("slug", "stop"),  # before and after the freeze
    [("adapmtl", 15), ("adapmtl", 30), ("adapmtl_shared_threshold", 15), ("adapmtl_equal_weights", 30)],
)
def test_resume_is_identical(slug: str, stop: int) -> None:
    _, reference = full_run(slug, 0.9, seed=1)
    ctx = make_ctx(0.9, seed=1)
    method = build(slug)
    method.setup(ctx)
    train(method, ctx, stop=stop)
    saved = _snapshot(ctx, method)
    ctx2 = make_ctx(0.9, seed=1)
    resumed = build(slug)
    resumed.setup(ctx2)  # as the loop: setup, then the checkpoint in this order
    ctx2.model.load_state_dict(saved["model"])
    ctx2.optimizer.load_state_dict(saved["optimizer"])
    resumed.load_state_dict(saved["method"])
    torch.set_rng_state(saved["rng"])
    train(resumed, ctx2, start=stop)
    resumed.finalize(ctx2)
    a, b = reference.model.state_dict(), ctx2.model.state_dict()
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
    assert reference.cost.notes == ctx2.cost.notes


def test_deterministic() -> None:
    _, a = full_run("adapmtl", 0.9, seed=3)
    _, b = full_run("adapmtl", 0.9, seed=3)
    sa, sb = a.model.state_dict(), b.model.state_dict()
    assert all(torch.equal(sa[k], sb[k]) for k in sa)


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
