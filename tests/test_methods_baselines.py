"""gmp, rigl, synflow, grasp: each method's defining behaviour — gmp's cubic schedule, rigl's
fixed per-layer counts and update window, synflow's independence of data and weight signs,
grasp's sign convention on a hand-made net. Sparsity, determinism and resume are the
conformance suite's (tests/test_conformance.py runs it over every registered method)."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest
import torch
from fixtures.tiny_mtl import n_prunable, one_thread, tiny_ctx, train, zeros
from torch import nn

from bench.method import Batch, Context, PrunableWeight
from bench.registry import broken, discover
from methods._dst import erk_counts
from methods._init_scores import SynFlowScorer, grasp_scores
from methods.gmp import Gmp, GmpParams, cubic_schedule, cubic_sparsity
from methods.grasp import Grasp, GraspParams
from methods.rigl import Rigl, RiglParams
from methods.synflow import Synflow, SynflowParams

SLUGS = ("gmp", "rigl", "synflow", "grasp")
pytestmark = pytest.mark.usefixtures("one_thread")
__all__ = ["one_thread"]  # the fixture, imported


def check_gmp() -> None:
    # s_t = s_f·(1 − (1 − (t − t0)/(t1 − t0))³), t0 = 30, t1 = 90 of 120 steps, Δt = 12.
    assert cubic_sparsity(30, 30, 90, 0.9) == 0.0
    assert cubic_sparsity(60, 30, 90, 0.9) == pytest.approx(0.9 * (1 - 0.5**3))
    assert cubic_sparsity(90, 30, 90, 0.9) == 0.9
    assert cubic_sparsity(200, 30, 90, 0.9) == 0.9
    schedule = cubic_schedule(120, 10_000, 0.9, 0.25, 0.75, 0.1)
    assert [s for s, _ in schedule] == [42, 54, 66, 78, 90]
    assert dict(schedule)[54] == round(10_000 * 0.9 * (1 - (1 - 24 / 60) ** 3))  # 7056
    assert schedule[-1] == (90, 9_000)  # exactly on target at t1
    # In a run: dense until t0, then after each event exactly the scheduled count is zero.
    ctx = tiny_ctx(0.8, 0, 20)
    method = Gmp(GmpParams(start_fraction=0.25, end_fraction=0.75, pruning_interval_fraction=0.1))
    method.setup(ctx)
    expected = dict(cubic_schedule(20, n_prunable(ctx), 0.8, 0.25, 0.75, 0.1))
    assert list(expected) == [7, 9, 11, 13, 15]
    seen: dict[int, int] = {}
    method.prepare(ctx)
    for step in range(20):
        train(method, ctx, step, step + 1)
        seen[step + 1] = zeros(ctx)
    assert seen[5] == 0
    for step, count in expected.items():
        assert seen[step] == count
    assert seen[20] == round(0.8 * n_prunable(ctx))
    # The stem is held dense (the RigL code's GMP baseline); the count comes from the others.
    stem = ctx.prunable["backbone"][0]
    assert stem.name == "backbone.conv1" and bool((stem.weight != 0).all())
    assert ctx.cost.notes["held_dense"] == ["backbone.conv1"]
    ctx = tiny_ctx(0.8, 0, 20)
    method = Gmp(GmpParams(start_fraction=0.25, end_fraction=0.75, pruning_interval_fraction=0.1,
                           prune_first_layer=True))
    method.setup(ctx)
    train(method, ctx)
    method.finalize(ctx)
    assert int((ctx.prunable["backbone"][0].weight == 0).sum()) > 0
    assert zeros(ctx) == round(0.8 * n_prunable(ctx))


def check_rigl() -> None:
    ctx = tiny_ctx(0.9, 0, 40)
    method = Rigl(RiglParams(min_update_interval=3))
    method.setup(ctx)
    method.prepare(ctx)
    shapes = {w.name: w.param.shape for w in ctx.all_prunable()}
    erk = erk_counts(shapes, 0.9, 1.0)
    history = [{n: m.clone() for n, m in method.masks.items()}]
    for step in range(40):
        train(method, ctx, step, step + 1)
        history.append({n: m.clone() for n, m in method.masks.items()})
    changed = [
        step for step in range(1, 41)
        if any(not torch.equal(history[step][n], history[step - 1][n]) for n in shapes)
    ]
    assert changed and set(changed) <= set(range(3, 30, 3))  # every ΔT = 3, none from 75 % on
    assert ctx.cost.rounds == len(range(3, 30, 3))
    for masks in history:  # per-layer counts are ERK's, unchanged by every update
        assert {n: int(m.sum()) for n, m in masks.items()} == erk
    for w in ctx.all_prunable():
        assert torch.all(w.weight[~history[-1][w.name]] == 0)


def _sign_flipped(ctx: Context) -> Context:
    """`ctx` with the sign of a random half of every prunable weight flipped."""
    g = torch.Generator().manual_seed(5)
    with torch.no_grad():
        for w in ctx.all_prunable():
            w.param.mul_(torch.where(torch.rand(w.param.shape, generator=g) < 0.5, -1.0, 1.0))
    return ctx


def check_synflow() -> None:
    def masks_of(ctx: Context) -> dict[str, torch.Tensor]:
        method = Synflow(SynflowParams(rounds=5))
        method.setup(ctx)
        method.prepare(ctx)
        return method.masks

    reference = masks_of(tiny_ctx(0.9, 0, 10))
    other_data = tiny_ctx(0.9, 0, 10)
    real = other_data._calibration
    assert real is not None

    def shifted() -> Iterator[Batch]:  # different images and labels, the same shape
        for batch in real():
            yield {k: v * 3 + 1 for k, v in batch.items()}

    other_data._calibration = shifted
    flipped = _sign_flipped(tiny_ctx(0.9, 0, 10))
    before = {w.name: w.param.clone() for w in flipped.all_prunable()}
    for ctx in (other_data, flipped):
        masks = masks_of(ctx)
        assert all(torch.equal(masks[n], reference[n]) for n in reference)
    for w in flipped.all_prunable():  # the signed weights are where they were (pruned ones 0)
        kept = reference[w.name]
        assert torch.equal(w.param[kept], before[w.name][kept])
    # Scores of the absolute-valued network do not see the signs at all.
    a = SynFlowScorer(tiny_ctx(0.9, 0, 10), (3, 32, 32)).scores()
    b = SynFlowScorer(_sign_flipped(tiny_ctx(0.9, 0, 10)), (3, 32, 32)).scores()
    assert all(torch.equal(a[n], b[n]) for n in a)


class _TwoLayer(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.backbone = nn.Linear(3, 2, bias=False)
        self.head = nn.Linear(2, 1, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(torch.tanh(self.backbone(x)))


def _hand_made_ctx(target: float) -> tuple[Context, _TwoLayer, list[Batch]]:
    torch.manual_seed(0)
    model = _TwoLayer()
    g = torch.Generator().manual_seed(1)
    batches = [{"x": torch.randn(4, 3, generator=g), "y": torch.randn(4, 1, generator=g)}
               for _ in range(2)]
    ctx = Context(
        model=model, optimizer=torch.optim.Adam(model.parameters()), tasks=("t",),
        prunable={"backbone": [PrunableWeight("backbone", "backbone", model.backbone)],
                  "t": [PrunableWeight("t", "head", model.head)]},
        target_sparsity=target, total_steps=1, seed=0, device=torch.device("cpu"),
    )
    ctx._calibration = lambda: iter(batches)
    ctx._task_losses = lambda b: {"t": (model(b["x"]) - b["y"]).pow(2).mean()}
    return ctx, model, batches


def check_grasp() -> None:
    ctx, model, batches = _hand_made_ctx(0.5)
    theta = torch.cat([model.backbone.weight.detach().flatten(), model.head.weight.detach().flatten()])

    def loss(flat: torch.Tensor) -> torch.Tensor:
        w1, w2 = flat[:6].view(2, 3), flat[6:].view(1, 2)
        return sum(  # type: ignore[return-value]
            ((torch.tanh(b["x"] @ w1.T) @ w2.T) - b["y"]).pow(2).mean() for b in batches
        )

    grad = torch.autograd.functional.jacobian(loss, theta)
    hessian = torch.autograd.functional.hessian(loss, theta)
    expected = -theta * (hessian @ grad)  # S(−θ) = −θ ⊙ Hg
    scores = grasp_scores(ctx, 2)
    got = torch.cat([scores["backbone"].flatten(), scores["head"].flatten()])
    torch.testing.assert_close(got, expected, rtol=1e-4, atol=1e-7)
    # The paper's sign convention: the highest scores are removed, the lowest kept.
    ctx, model, _ = _hand_made_ctx(0.5)
    method = Grasp(GraspParams(calibration_batches=2))
    method.setup(ctx)
    method.prepare(ctx)
    kept = torch.cat([method.masks["backbone"].flatten(), method.masks["head"].flatten()])
    assert int(kept.sum()) == 4
    assert torch.equal(kept, expected <= expected.sort().values[3])


CHECKS: dict[str, Callable[[], None]] = {
    "gmp": check_gmp, "rigl": check_rigl, "synflow": check_synflow, "grasp": check_grasp,
}


def test_registered() -> None:
    assert set(SLUGS) <= set(discover())
    assert not set(SLUGS) & set(broken())
    assert all(discover()[s].start == "init" for s in SLUGS)


@pytest.mark.parametrize("slug", SLUGS)
def test_defining_behaviour(slug: str) -> None:
    CHECKS[slug]()
