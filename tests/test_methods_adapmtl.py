"""adapmtl and its two ablations: STR parametrisation, closed-loop sparsity control with freeze,
the end correction, adaptive task weights, resume and determinism — on a tiny ResNet34
multi-task model with a hand-run loop that calls the hooks in the order bench/train/loop.py does."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import pytest
import torch
from fixtures.tiny_mtl import (
    TASKS,
    assert_same_weights,
    n_prunable,
    one_thread,
    run_method,
    run_with_resume,
    tiny_ctx,
    train,
    zeros,
)

from bench.config import read_yaml
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
    return run_method(build(slug, **params), make_ctx(target, seed))


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
    assert len(logged["weight_decay"]) == STEPS


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


def test_no_per_component_intervention() -> None:
    """The only knob is one λ: no density floors, caps or resets among the parameters, and
    during a run every threshold moves only through its optimizer step (no writes to s)."""
    fields = {f.name for f in dataclasses.fields(AdapMTLParams)}
    assert not {n for n in fields if "floor" in n or "cap" in n}
    ctx = make_ctx(0.9)
    method = build("adapmtl")
    method.setup(ctx)
    versions = {g: s._version for g, s in method.thresholds.items()}
    steps = 0
    original = ctx.optimizer.step

    def counted_step(*args: Any, **kwargs: Any) -> Any:
        nonlocal steps
        steps += 1
        return original(*args, **kwargs)

    ctx.optimizer.step = counted_step  # type: ignore[method-assign]
    train(method, ctx, stop=method._ramp_steps)
    assert steps > 0
    for g, s in method.thresholds.items():  # one in-place write per optimizer step, none else
        assert s._version - versions[g] <= steps, g


def test_ablations_differ_in_one_switch_only() -> None:
    """Same Params class, fields and defaults; class attributes differ only in the switch; and
    params.yaml gives all three the same values."""
    methods = discover()
    base = methods["adapmtl"]
    switches = {"adapmtl_shared_threshold": "shared_threshold", "adapmtl_equal_weights": "adaptive_weights"}
    own = {"slug", "description", "__doc__", "__module__", "__qualname__", "__firstlineno__",
           "__static_attributes__"}
    for slug, switch in switches.items():
        cls = methods[slug]
        assert cls.Params is base.Params is AdapMTLParams
        assert issubclass(cls, AdapMTLBase) and cls.__mro__[1] is AdapMTLBase
        assert set(vars(cls)) - own == {switch}, slug  # overrides nothing but its switch
        assert getattr(cls, switch) != getattr(base, switch)
    yaml = read_yaml(Path(__file__).parents[1] / "params.yaml")["method_params"]
    assert yaml["adapmtl_shared_threshold"] == yaml["adapmtl"] == yaml["adapmtl_equal_weights"]
    assert set(yaml["adapmtl"]) == {f.name for f in dataclasses.fields(AdapMTLParams)}


def test_ablations_behave_as_their_switch_says() -> None:
    """A few steps past adaptive_start: equal_weights keeps every weight at 1 while adapmtl's
    become non-uniform; shared_threshold has exactly one threshold parameter, the others one per
    component; identical runs otherwise (the same thresholds for the same seed before the
    adaptive weights start)."""
    start = round(AdapMTLParams().adaptive_start * STEPS)
    window = max(AdapMTLParams().adaptive_min_window, round(AdapMTLParams().adaptive_window * STEPS))
    stop = start + window + 3
    runs = {}
    for slug in SLUGS:
        ctx = make_ctx(0.9)
        logged: dict[str, list[float]] = {}
        ctx._log = lambda k, v, logged=logged: logged.setdefault(k, []).append(v)
        method = build(slug)
        method.setup(ctx)
        train(method, ctx, stop=stop)
        runs[slug] = (method, ctx, logged)
    adap, equal, shared = (runs[s] for s in ("adapmtl", "adapmtl_equal_weights", "adapmtl_shared_threshold"))
    last = {t: adap[2][f"task_weight/{t}"][-1] for t in TASKS}
    assert len(set(last.values())) > 1
    assert all(set(equal[2][f"task_weight/{t}"]) == {1.0} for t in TASKS)
    assert len(shared[0].thresholds) == 1
    assert len(adap[0].thresholds) == len(equal[0].thresholds) == len(adap[1].components)
    for k in range(start):  # before adaptive_start the two per-component runs are the same
        for component in adap[1].components:
            assert adap[2][f"threshold/{component}"][k] == equal[2][f"threshold/{component}"][k]
