"""random, snip, imp, lth: exact sparsity, masks held through Adam, determinism, resume, and
each method's own behaviour — on a tiny ResNet34 multi-task model with a hand-run loop that
calls the hooks in the order bench/train/loop.py does. imp and lth start from a tiny trained
dense parent (`from_dense`), as the runner hands it to them (tests/test_start.py checks the
runner's side)."""

from __future__ import annotations

from typing import Any

import pytest
import torch
from fixtures.tiny_mtl import (
    TASKS,
    assert_same_weights,
    from_dense,
    n_prunable,
    one_thread,
    run_method,
    run_with_resume,
    tiny_ctx,
    train,
    zeros,
)

from bench.masks import global_topk_masks
from bench.method import Context, PruningMethod
from bench.registry import broken, discover
from methods._saliency import per_task_saliency, summed_saliency, xavier_scoring_weights
from methods.imp import Imp, ImpParams
from methods.lth import Lth
from methods.random import RandomPruning, per_layer_counts
from methods.snip import Snip, SnipParams

SLUGS = ("random", "snip", "imp", "lth")
pytestmark = pytest.mark.usefixtures("one_thread")
__all__ = ["one_thread"]  # the fixture, imported
STEPS = 20


def make_ctx(target: float, seed: int = 0, total: int = STEPS) -> Context:
    return tiny_ctx(target, seed, total)


def ctx_for(slug: str, target: float, seed: int = 0, total: int = STEPS) -> Context:
    """A context at the method's start: initialisation, or a trained dense parent."""
    ctx = make_ctx(target, seed, total)
    return from_dense(ctx) if discover()[slug].start == "dense" else ctx


def build(slug: str, params: Any = None) -> PruningMethod:
    return discover()[slug](params)


def full_run(
    slug: str, target: float, seed: int = 0, params: Any = None
) -> tuple[PruningMethod, Context]:
    return run_method(build(slug, params), ctx_for(slug, target, seed))


def test_registered() -> None:
    assert set(SLUGS) <= set(discover())
    assert not set(SLUGS) & set(broken())


@pytest.mark.parametrize("target", [0.5, 0.7, 0.9, 0.95])
@pytest.mark.parametrize("slug", SLUGS)
def test_exact_sparsity_and_masks_hold(slug: str, target: float) -> None:
    method, ctx = full_run(slug, target)
    assert zeros(ctx) == round(target * n_prunable(ctx))
    # Pruned weights stayed exactly zero through Adam with weight decay.
    for w in ctx.all_prunable():
        mask = method.masks[w.name]  # type: ignore[attr-defined]
        assert torch.all(w.weight[~mask] == 0)
    state = {k: v.shape for k, v in ctx.model.state_dict().items()}
    assert state == {k: v.shape for k, v in make_ctx(target).model.state_dict().items()}


@pytest.mark.parametrize("slug", SLUGS)
def test_deterministic(slug: str) -> None:
    _, a = full_run(slug, 0.9, seed=3)
    _, b = full_run(slug, 0.9, seed=3)
    assert_same_weights(a, b)
    assert a.cost == b.cost


@pytest.mark.parametrize("split", [7, 13])
@pytest.mark.parametrize("slug", SLUGS)
def test_resume_is_identical(slug: str, split: int) -> None:
    _, straight = full_run(slug, 0.9, seed=1)
    resumed = run_with_resume(lambda t, seed: ctx_for(slug, t, seed), build, slug, split)
    assert_same_weights(straight, resumed)
    assert straight.cost == resumed.cost


def test_random_is_uniform_per_layer_and_seeded() -> None:
    assert per_layer_counts([10, 10, 10], 0.55) == [6, 5, 5]  # 16.5 rounds half to even: 16
    assert sum(per_layer_counts([7, 13, 1000, 3], 0.9)) == round(0.9 * 1023)
    ctx = make_ctx(0.9)
    method = RandomPruning()
    method.setup(ctx)
    method.prepare(ctx)
    for w in ctx.all_prunable():
        n = w.weight.numel()
        assert abs(int((~method.masks[w.name]).sum()) - 0.9 * n) <= 1
    other = make_ctx(0.9, seed=1)
    method2 = RandomPruning()
    method2.setup(other)
    method2.prepare(other)
    assert any(not torch.equal(method.masks[k], method2.masks[k]) for k in method.masks)


def test_snip_keeps_global_topk_of_saliency_without_side_effects() -> None:
    ctx = make_ctx(0.9)
    buffers = {k: v.clone() for k, v in ctx.model.named_buffers()}
    rng = torch.get_rng_state()
    scores = summed_saliency(ctx, 2)
    assert all(w.param.grad is None for w in ctx.all_prunable())
    assert all(torch.equal(v, buffers[k]) for k, v in ctx.model.named_buffers())
    assert torch.equal(rng, torch.get_rng_state())
    assert ctx.cost.extra_forward_backward == 2

    method = Snip(SnipParams(calibration_batches=2, scoring_init="model"))
    method.setup(ctx)
    method.prepare(ctx)  # the same two batches: calibration is seeded by ctx.step
    assert ctx.cost.extra_forward_backward == 4
    kept = torch.cat([scores[n][m].flatten() for n, m in method.masks.items()])
    pruned = torch.cat([scores[n][~m].flatten() for n, m in method.masks.items()])
    assert pruned.numel() == round(0.9 * n_prunable(ctx))
    assert pruned.max() <= kept.min()


def test_snip_scores_under_xavier_but_trains_the_model_init() -> None:
    ctx = make_ctx(0.9)
    init = {w.name: w.param.detach().clone() for w in ctx.all_prunable()}
    with xavier_scoring_weights(ctx, 5):
        scores = summed_saliency(ctx, 2)
        assert not torch.equal(ctx.all_prunable()[0].param, init[ctx.all_prunable()[0].name])
    assert all(torch.equal(w.param, init[w.name]) for w in ctx.all_prunable())
    method = Snip(SnipParams(calibration_batches=2, scoring_init="xavier_normal"))
    method.setup(ctx)
    method.prepare(ctx)
    for w in ctx.all_prunable():
        mask = method.masks[w.name]
        assert torch.equal(w.param, init[w.name] * mask)
    for component, weights in ctx.prunable.items():  # no component pruned away whole
        assert sum(int(method.masks[w.name].sum()) for w in weights) > 0, component
    assert set(scores) == set(method.masks)


def test_per_task_saliency_reaches_backbone_and_own_head() -> None:
    ctx = make_ctx(0.9)
    scores = per_task_saliency(ctx, 1)
    assert set(scores) == set(TASKS)
    for t in TASKS:
        names = {w.name for w in ctx.prunable["backbone"] + ctx.prunable[t]}
        assert set(scores[t]) == names
        assert all(float(scores[t][w.name].sum()) > 0 for w in ctx.prunable[t])


def test_start_points() -> None:
    assert {s: discover()[s].start for s in SLUGS} == {
        "random": "init", "snip": "init", "imp": "dense", "lth": "dense"}
    assert [s for s in SLUGS if discover()[s].needs_rewind] == ["lth"]


def test_imp_prunes_the_trained_model_first_then_rounds_with_fine_tuning() -> None:
    ctx = ctx_for("imp", 0.9)
    trained = {w.name: w.param.detach().clone() for w in ctx.all_prunable()}
    method = Imp(ImpParams(rounds=5, end_fraction=0.5))
    method.setup(ctx)
    method.prepare(ctx)
    assert ctx.cost.notes["round_steps"] == [0, 3, 5, 8, 10]  # 0 … 0.5·20, half up
    # Round 1, before any fine-tuning: the smallest |w| of the trained dense weights.
    first = ctx.cost.notes["pruned_after_round"][0]
    expected = global_topk_masks({n: w.abs() for n, w in trained.items()}, first)
    assert all(torch.equal(method.masks[n], expected[n]) for n in trained)
    assert method.rounds_done == 1 and ctx.cost.rounds == 1
    train(method, ctx, 0)
    method.finalize(ctx)
    assert ctx.cost.rounds == 5
    fractions = ctx.cost.notes["pruned_after_round"]
    assert fractions == sorted(fractions) and fractions[-1] == pytest.approx(0.9, abs=1e-5)
    # The per-round pruned fraction of the survivors is fixed: 1 − 0.1^(1/5) ≈ 0.369.
    alive = [1.0] + [1 - f for f in fractions]
    assert all(abs(alive[i + 1] / alive[i] - 0.1**0.2) < 1e-3 for i in range(5))
    w = ctx.prunable["backbone"][0]  # fine-tuned: the survivors moved, nothing was rewound
    mask = method.masks[w.name]
    assert not torch.equal(w.weight[mask], trained[w.name][mask])


def test_lth_ticket_is_the_trained_magnitude_mask_on_the_rewind_checkpoint() -> None:
    ctx = ctx_for("lth", 0.9)
    assert ctx.rewind_state is not None
    trained = {w.name: w.param.detach().clone() for w in ctx.all_prunable()}
    rewind = ctx.rewind_state
    method = Lth()
    method.setup(ctx)
    method.prepare(ctx)  # the ticket as step 0 sees it
    assert ctx.cost.rounds == 1
    expected = global_topk_masks({n: w.abs() for n, w in trained.items()}, 0.9)
    assert all(torch.equal(method.masks[n], expected[n]) for n in trained)
    assert ctx.optimizer.state == {} or all(not s for s in ctx.optimizer.state.values())
    for k, v in ctx.model.state_dict().items():
        name = k[: -len(".weight")]
        if k.endswith(".weight") and name in method.masks:
            mask = method.masks[name]
            assert torch.equal(v[mask], rewind[k][mask]) and torch.all(v[~mask] == 0), k
        else:
            assert torch.equal(v, rewind[k]), k  # biases, BatchNorm parameters and statistics
    assert zeros(ctx) == round(0.9 * n_prunable(ctx))
    train(method, ctx, 0)
    method.finalize(ctx)
    assert zeros(ctx) == round(0.9 * n_prunable(ctx))


def test_lth_without_a_rewind_checkpoint_says_so() -> None:
    ctx = make_ctx(0.9)
    method = Lth()
    method.setup(ctx)
    with pytest.raises(RuntimeError, match="rewind"):
        method.prepare(ctx)


def test_imp_reaches_target_even_when_run_is_shorter_than_rounds() -> None:
    method = Imp(ImpParams(rounds=30))
    ctx = ctx_for("imp", 0.95, total=3)
    method.setup(ctx)
    train(method, ctx)
    method.finalize(ctx)
    assert zeros(ctx) == round(0.95 * n_prunable(ctx))
    assert ctx.cost.rounds == 30
