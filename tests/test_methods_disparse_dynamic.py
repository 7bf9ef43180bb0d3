"""disparse_dynamic's sparse training: ERK counts, drop by magnitude and regrowth by the union of
per-task gradient ranks, the update schedule, and the masks and Adam state across an update —
on the tiny multi-task model and hand-run loop of fixtures/tiny_mtl.py."""

from __future__ import annotations

import math
from typing import Any

import pytest
import torch
from fixtures.tiny_mtl import batch as tiny_batch
from fixtures.tiny_mtl import n_prunable, one_thread, run_method, tiny_ctx, train

from bench.method import Context
from methods._disparse import per_task_gradients_over, split_batch
from methods.disparse_dynamic import (
    DisparseDynamic,
    DisparseDynamicParams,
    drop_and_grow,
    erk_counts,
)

pytestmark = pytest.mark.usefixtures("one_thread")
__all__ = ["one_thread"]  # the fixture, imported


def make_ctx(target: float, total: int) -> Context:
    return tiny_ctx(target, 0, total)


def full_run(target: float, params: DisparseDynamicParams, total: int) -> tuple[Any, Context]:
    return run_method(DisparseDynamic(params), make_ctx(target, total))


def test_erk_counts_exact_and_dense_layers_capped() -> None:
    shapes = {"stem": (8, 3, 7, 7), "a": (16, 8, 3, 3), "b": (64, 64, 3, 3), "c": (4, 64, 1, 1)}
    total = sum(math.prod(s) for s in shapes.values())
    for s in (0.0, 0.5, 0.7, 0.9, 0.95, 0.99):
        counts = erk_counts(shapes, s, 1.0)
        assert sum(counts.values()) == total - round(s * total)
        assert all(0 <= counts[n] <= math.prod(shapes[n]) for n in shapes)
    counts = erk_counts(shapes, 0.9, 1.0)
    assert counts["c"] == 256  # dense: its ERK density would exceed 1
    dens = {n: counts[n] / math.prod(shapes[n]) for n in shapes}
    assert dens["b"] < dens["stem"] < dens["a"] < 1
    raw = {n: sum(shapes[n]) / math.prod(shapes[n]) for n in shapes}  # ERK: density ∝ raw
    assert dens["a"] / dens["stem"] == pytest.approx(raw["a"] / raw["stem"], rel=1e-2)
    assert erk_counts(shapes, 0.5, 1.0)["b"] == 17140  # stem, a, c dense; b takes the rest


def test_drop_and_grow_keeps_count_and_uses_union_of_task_ranks() -> None:
    weight = torch.tensor([5.0, 1.0, 4.0, 0.5, 0, 0, 0, 0])
    mask = weight != 0
    g1 = torch.tensor([0, 0, 0, 0, 9.0, 8.0, 0.1, 0.2])
    g2 = torch.tensor([0, 0, 0, 0, 0.1, 0.2, 7.0, 0.3])
    new = drop_and_grow(weight, mask, [g1, g2], 2)  # drop 0.5 and 1.0; task 1 → 4, task 2 → 6
    assert new.tolist() == [True, False, True, False, True, False, True, False]
    new = drop_and_grow(weight, mask, [g1], 2)
    assert new.tolist() == [True, False, True, False, True, True, False, False]
    new = drop_and_grow(weight, mask, [g1, g2], 3)  # 3rd: best rank 1 → task 1's #2 (index 5)
    assert int(new.sum()) == 4 and new[5] and new[4] and new[6]


@pytest.mark.parametrize("total,interval,expected", [(16, 4, [4, 8]), (17, 4, [4, 8, 12]), (3, 10, []), (1, 10, []), (2, 1, [1])])
def test_dynamic_schedule_and_short_runs(total: int, interval: int, expected: list[int]) -> None:
    params = DisparseDynamicParams(min_update_interval=interval, update_interval_fraction=1e-4)
    method, ctx = full_run(0.9, params, total)
    assert method.update_steps(ctx) == expected  # type: ignore[attr-defined]
    assert ctx.cost.rounds == len(expected)
    assert ctx.cost.extra_forward_backward == len(expected)  # one pass over each update's batch
    assert sum(int((~m).sum()) for m in method.masks.values()) == round(0.9 * n_prunable(ctx))  # type: ignore[attr-defined]


def test_dynamic_update_phase_ending_on_an_update_step_runs_to_completion() -> None:
    # stop = 0.75·16 = 12 is a multiple of the interval (the step where the public code crashes);
    # and stop_fraction 1.0 puts the last candidate update on the final step.
    for stop_fraction in (0.75, 1.0):
        params = DisparseDynamicParams(min_update_interval=4, stop_fraction=stop_fraction)
        method, ctx = full_run(0.9, params, 16)
        assert ctx.cost.rounds == (2 if stop_fraction == 0.75 else 3)
        assert method.drop_fraction_at(ctx, 0) == 0.5  # type: ignore[attr-defined]


def test_dynamic_counts_per_layer_fixed_and_regrown_start_at_zero_with_fresh_adam() -> None:
    ctx = make_ctx(0.9, 16)
    method = DisparseDynamic(DisparseDynamicParams(min_update_interval=4))
    method.setup(ctx)
    train(method, ctx, 0, 3)
    before = {n: m.clone() for n, m in method.masks.items()}
    counts = {n: int(m.sum()) for n, m in before.items()}
    train(method, ctx, 3, 4)
    assert ctx.cost.rounds == 1 and ctx.cost.notes["weights_regrown"] > 0
    changed = 0
    for w in ctx.all_prunable():
        new = method.masks[w.name]
        assert int(new.sum()) == counts[w.name]
        fresh = new & ~before[w.name]
        changed += int(fresh.sum())
        assert torch.all(w.weight[fresh] == 0)
        state = ctx.optimizer.state[w.param]
        assert torch.all(state["exp_avg"][fresh] == 0) and torch.all(state["exp_avg_sq"][fresh] == 0)
    assert changed == ctx.cost.notes["weights_regrown"]
    train(method, ctx, 4)
    method.finalize(ctx)
    assert sum(int((~m).sum()) for m in method.masks.values()) == round(0.9 * n_prunable(ctx))


def test_regrowth_is_scored_on_the_update_steps_own_batch() -> None:
    """The per-task gradients that rank regrowth are those of the batch the update step trains
    on (in `batch_chunks` parts), at the weights before that step; the extra passes leave
    BatchNorm statistics and the RNG untouched."""
    params = DisparseDynamicParams(min_update_interval=4, update_interval_fraction=1e-4)
    checked: list[int] = []

    class Watching(DisparseDynamic):
        def before_step(self, ctx: Context) -> None:
            buffers = {k: v.clone() for k, v in ctx.model.named_buffers()}
            rng = torch.get_rng_state()
            super().before_step(ctx)
            assert all(torch.equal(v, buffers[k]) for k, v in ctx.model.named_buffers())
            assert torch.equal(rng, torch.get_rng_state())
            if not self._grow_scores:
                return
            batch = ctx.train_batch
            assert batch is not None
            own = per_task_gradients_over(ctx, lambda: split_batch(batch, 2))
            other = per_task_gradients_over(ctx, lambda: split_batch(tiny_batch(99), 2))
            for task, scores in self._grow_scores.items():
                assert all(torch.equal(g, own[task][n]) for n, g in scores.items())
                assert any(not torch.equal(g, other[task][n]) for n, g in scores.items())
            checked.append(ctx.step)

    _, ctx = run_method(Watching(params), make_ctx(0.9, 8))
    assert checked == [3] and ctx.cost.rounds == 1  # scored before step 4, updated after it
    assert split_batch(tiny_batch(0), 2)[1]["rgb"].shape[0] == 1
