"""disparse_static, disparse_pt, disparse_dynamic: exact sparsity, masks held through Adam,
determinism, resume, the union arbiter, ERK and drop/regrow — on a tiny ResNet34 multi-task
model with a hand-run loop that calls the hooks in the order bench/train/loop.py does.
disparse_pt starts from a tiny trained dense parent (`from_dense`), as the runner hands it."""

from __future__ import annotations

import math
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
)

from bench.method import Context, PruningMethod
from bench.registry import broken, discover
from methods._disparse import per_task_gradients, per_task_magnitude, union_arbiter
from methods.disparse_dynamic import (
    DisparseDynamicParams,
)
from methods.disparse_pt import DisparsePt, DisparsePtParams
from methods.disparse_static import DisparseStaticParams
from methods.snip import Snip, SnipParams

SLUGS = ("disparse_static", "disparse_pt", "disparse_dynamic")
pytestmark = pytest.mark.usefixtures("one_thread")
__all__ = ["one_thread"]  # the fixture, imported
STEPS = 12
FAST: dict[str, Any] = {
    "disparse_static": DisparseStaticParams(calibration_batches=2),
    "disparse_pt": DisparsePtParams(),
    "disparse_dynamic": DisparseDynamicParams(min_update_interval=3),
}


def make_ctx(target: float, seed: int = 0, total: int = STEPS) -> Context:
    return tiny_ctx(target, seed, total)


def ctx_for(slug: str, target: float, seed: int = 0, total: int = STEPS) -> Context:
    """A context at the method's start: initialisation, or a trained dense parent."""
    ctx = make_ctx(target, seed, total)
    return from_dense(ctx) if discover()[slug].start == "dense" else ctx


def build(slug: str, params: Any = None) -> PruningMethod:
    return discover()[slug](params if params is not None else FAST[slug])


def full_run(
    slug: str, target: float, seed: int = 0, params: Any = None, total: int = STEPS
) -> tuple[PruningMethod, Context]:
    return run_method(build(slug, params), ctx_for(slug, target, seed, total))


def test_registered() -> None:
    assert set(SLUGS) <= set(discover())
    assert not set(SLUGS) & set(broken())


@pytest.mark.parametrize("target", [0.0, 0.5, 0.7, 0.9, 0.95])
@pytest.mark.parametrize("slug", SLUGS)
def test_exact_sparsity_and_masks_hold(slug: str, target: float) -> None:
    method, ctx = full_run(slug, target)
    masks = method.masks  # type: ignore[attr-defined]
    n = n_prunable(ctx)
    assert sum(int((~m).sum()) for m in masks.values()) == round(target * n)
    for w in ctx.all_prunable():  # pruned weights stayed exactly zero through Adam + decay
        assert torch.all(w.weight[~masks[w.name]] == 0)
    measured = sum(int((w.weight == 0).sum()) for w in ctx.all_prunable()) / n
    assert abs(measured - target) < 0.005
    state = {k: v.shape for k, v in ctx.model.state_dict().items()}
    assert state == {k: v.shape for k, v in make_ctx(target).model.state_dict().items()}


@pytest.mark.parametrize("slug", SLUGS)
def test_deterministic(slug: str) -> None:
    _, a = full_run(slug, 0.9, seed=3)
    _, b = full_run(slug, 0.9, seed=3)
    assert_same_weights(a, b)
    assert a.cost == b.cost


@pytest.mark.parametrize("split", [3, 6])
@pytest.mark.parametrize("slug", SLUGS)
def test_resume_is_identical(slug: str, split: int) -> None:
    _, straight = full_run(slug, 0.9, seed=1)
    resumed = run_with_resume(lambda t, seed: ctx_for(slug, t, seed), build, slug, split)
    assert_same_weights(straight, resumed)
    assert straight.cost == resumed.cost


def test_per_task_gradients_have_no_side_effects_and_reach_own_head() -> None:
    ctx = make_ctx(0.9)
    buffers = {k: v.clone() for k, v in ctx.model.named_buffers()}
    rng = torch.get_rng_state()
    grads = per_task_gradients(ctx, 2)
    assert all(w.param.grad is None for w in ctx.all_prunable())
    assert all(torch.equal(v, buffers[k]) for k, v in ctx.model.named_buffers())
    assert torch.equal(rng, torch.get_rng_state())
    assert ctx.cost.extra_forward_backward == 2
    assert ctx.cost.notes["per_task_backward_passes"] == 6
    for t in TASKS:
        assert set(grads[t]) == {w.name for w in ctx.prunable["backbone"] + ctx.prunable[t]}
        assert all(float(grads[t][w.name].sum()) > 0 for w in ctx.prunable[t])


def _check_union(ctx: Context, scores: dict[str, dict[str, torch.Tensor]], n_keep: int) -> float:
    masks, rho = union_arbiter(ctx, scores, n_keep)
    assert sum(int(m.sum()) for m in masks.values()) == n_keep
    backbone = [w.name for w in ctx.prunable["backbone"]]
    kept_by: dict[str, dict[str, torch.Tensor]] = {}
    for t in TASKS:  # each task's own top ⌈ρ·N_t⌉ (no ties in continuous scores)
        names = backbone + [w.name for w in ctx.prunable[t]]
        flat = torch.cat([scores[t][n].flatten() for n in names])
        k = math.ceil(rho * flat.numel())
        top = torch.zeros_like(flat, dtype=torch.bool)
        top[torch.topk(flat, k).indices] = True
        kept_by[t], offset = {}, 0
        for n in names:
            kept_by[t][n] = top[offset : offset + scores[t][n].numel()].view_as(scores[t][n])
            offset += scores[t][n].numel()
    mismatched = 0
    for n in backbone:
        union = kept_by[TASKS[0]][n] | kept_by[TASKS[1]][n] | kept_by[TASKS[2]][n]
        mismatched += int((union != masks[n]).sum())
    for t in TASKS:
        for w in ctx.prunable[t]:
            mismatched += int((kept_by[t][w.name] != masks[w.name]).sum())
    assert mismatched <= len(TASKS)  # only the boundary weights at ρ itself may differ
    return rho


def test_union_arbiter_is_union_of_per_task_topk_at_calibrated_ratio() -> None:
    ctx = make_ctx(0.9)
    g = torch.Generator().manual_seed(0)
    scores = {
        t: {w.name: torch.rand(w.param.shape, generator=g) for w in ctx.prunable["backbone"] + ctx.prunable[t]}
        for t in TASKS
    }
    n = n_prunable(ctx)
    rhos = [_check_union(ctx, scores, n - round(s * n)) for s in (0.5, 0.7, 0.9, 0.95)]
    assert rhos == sorted(rhos, reverse=True)
    masks, _ = union_arbiter(ctx, scores, n - round(0.9 * n))
    sparsity = {
        c: 1 - sum(int(masks[w.name].sum()) for w in ws) / sum(w.param.numel() for w in ws)
        for c, ws in ctx.prunable.items()
    }
    # Independent task scores: backbone weights get three chances, so it is the densest part.
    assert all(sparsity["backbone"] < sparsity[t] for t in TASKS)


def test_union_arbiter_with_identical_scores_is_one_ranking() -> None:
    ctx = make_ctx(0.9)
    shared = {w.name: torch.rand(w.param.shape) for w in ctx.all_prunable()}
    scores = {t: {w.name: shared[w.name] for w in ctx.prunable["backbone"] + ctx.prunable[t]} for t in TASKS}
    n = n_prunable(ctx)
    masks, _ = union_arbiter(ctx, scores, n // 10)
    assert sum(int(m.sum()) for m in masks.values()) == n // 10


def test_static_notes_and_different_component_sparsities() -> None:
    method, ctx = full_run("disparse_static", 0.9)
    assert 0 < ctx.cost.notes["keep_ratio_per_task"] < 1
    assert ctx.cost.extra_forward_backward == 2
    masks = method.masks  # type: ignore[attr-defined]
    dens = {c: sum(int(masks[w.name].sum()) for w in ws) / sum(w.param.numel() for w in ws) for c, ws in ctx.prunable.items()}
    assert len({round(d, 4) for d in dens.values()}) > 1


@pytest.mark.parametrize("scoring_init", ["model", "xavier_normal"])
def test_static_scores_the_same_weights_as_snip(scoring_init: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """Same scoring conditions: by default both score the model's own init; under the Xavier
    option both score the same seeded draw; either way training starts from the model's init."""
    import methods.disparse_static as static_module
    import methods.snip as snip_module

    assert DisparseStaticParams().scoring_init == SnipParams().scoring_init == "model"
    seen: dict[str, list[torch.Tensor]] = {}

    def spy(module: Any, name: str) -> None:
        original = getattr(module, name)

        def wrapped(ctx: Context, *args: Any, **kwargs: Any) -> Any:
            seen[name] = [w.param.detach().clone() for w in ctx.all_prunable()]
            return original(ctx, *args, **kwargs)

        monkeypatch.setattr(module, name, wrapped)

    spy(static_module, "per_task_connection_saliency")
    spy(snip_module, "summed_saliency")
    starts = []
    for method in (discover()["disparse_static"](DisparseStaticParams(2, scoring_init)),  # type: ignore[arg-type]
                   Snip(SnipParams(2, scoring_init))):  # type: ignore[arg-type]
        ctx = make_ctx(0.9)
        init = [w.param.detach().clone() for w in ctx.all_prunable()]
        method.setup(ctx)
        method.prepare(ctx)
        for w, start in zip(ctx.all_prunable(), init, strict=True):
            assert torch.equal(w.param, start * method.masks[w.name])  # type: ignore[attr-defined]
        starts.append(init)
    scored_static, scored_snip = seen["per_task_connection_saliency"], seen["summed_saliency"]
    assert all(torch.equal(a, b) for a, b in zip(scored_static, scored_snip, strict=True))
    same_as_init = all(torch.equal(a, b) for a, b in zip(scored_static, starts[0], strict=True))
    assert same_as_init == (scoring_init == "model")


def test_pt_prunes_the_trained_model_at_step_zero_by_magnitude() -> None:
    assert discover()["disparse_pt"].start == "dense"
    ctx = ctx_for("disparse_pt", 0.9)
    scores = per_task_magnitude(ctx)  # the trained dense weights the runner loaded
    method = DisparsePt(DisparsePtParams())
    method.setup(ctx)
    method.prepare(ctx)
    assert ctx.cost.extra_forward_backward == 0 and ctx.cost.notes["score"] == "magnitude"
    assert sum(int((w.weight == 0).sum()) for w in ctx.all_prunable()) == round(0.9 * n_prunable(ctx))
    expected, _ = union_arbiter(ctx, scores, n_prunable(ctx) - round(0.9 * n_prunable(ctx)))
    assert all(torch.equal(method.masks[n], expected[n]) for n in expected)
    # A head follows its own task's ranking: its smallest kept |w| ≥ its largest pruned |w|.
    for t in TASKS:
        kept = torch.cat([scores[t][w.name][method.masks[w.name]] for w in ctx.prunable[t]])
        pruned = torch.cat([scores[t][w.name][~method.masks[w.name]] for w in ctx.prunable[t]])
        assert kept.min() >= pruned.max()
    train(method, ctx, 0)
    method.finalize(ctx)
    assert sum(int((w.weight == 0).sum()) for w in ctx.all_prunable()) == round(0.9 * n_prunable(ctx))


def test_pt_gradient_score() -> None:
    params = DisparsePtParams(score="gradient", calibration_batches=1)
    method, ctx = full_run("disparse_pt", 0.7, params=params)
    assert ctx.cost.extra_forward_backward == 1
    assert sum(int((~m).sum()) for m in method.masks.values()) == round(0.7 * n_prunable(ctx))
