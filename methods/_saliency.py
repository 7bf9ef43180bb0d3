"""Connection saliency |g·w| (SNIP, Lee et al. 2019) over calibration batches; shared helper.

Two entry points, both returning `{PrunableWeight.name: float32 tensor shaped like the weight}`
on `ctx.device`:

- `summed_saliency(ctx, n_batches)`: g is the gradient of the *summed* task loss Σ_t L_t,
  accumulated (summed) over `n_batches` calibration batches; the score is |g ⊙ w|. SNIP's score
  on one batch is the special case `n_batches=1`; summing gradients over several batches is the
  gradient of the loss over a larger batch, which lowers the variance of the estimate.
- `per_task_saliency(ctx, n_batches, tasks=None)`: the same with one gradient per task
  (|g_t ⊙ w| of L_t alone), from a single forward pass per batch, for methods that arbitrate
  between tasks (DiSparse). Each task's dict holds only the weights its loss reaches: the
  backbone and that task's own head.

Both score the trainable tensor (`PrunableWeight.param`), which is the effective weight for
plain and masked models. `abs_per_batch=True` sums |g_b ⊙ w| over batches b instead (what the
DiSparse public code accumulates); the default sums the gradients first.

`xavier_scoring_weights(ctx, salt)` is a context manager that swaps Xavier-normal weights into
every prunable layer and puts the model's own weights back on exit: the `scoring_init:
xavier_normal` option of snip and disparse_static (SNIP's authors score under variance-scaling
initialisation, and the DiSparse public code re-initialises its scoring copy with
`xavier_normal_`). Both methods pass `XAVIER_SALT`, so under that option they score the same
draw. Their default scores the model's own initial weights (docs/methods.md says why).

Side effects are none: gradients are taken with `torch.autograd.grad` (`.grad` is untouched),
BatchNorm running statistics are restored afterwards, and the global RNG (dropout in the heads)
is forked, so the training steps see exactly what they would have seen without the
calibration. The batches are counted in `ctx.cost` by `ctx.calibration_batches`.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Sequence

import torch

from bench.method import Context, PrunableWeight

Scores = dict[str, torch.Tensor]
XAVIER_SALT = 23  # one seeded draw shared by the methods that score under Xavier weights


@contextlib.contextmanager
def _no_side_effects(ctx: Context) -> Iterator[None]:
    buffers = {k: v.detach().clone() for k, v in ctx.model.named_buffers()}
    devices = [ctx.device] if ctx.device.type == "cuda" else []
    try:
        with torch.random.fork_rng(devices=devices, device_type=ctx.device.type):
            yield
    finally:
        with torch.no_grad():
            for name, value in ctx.model.named_buffers():
                value.copy_(buffers[name])


@contextlib.contextmanager
def xavier_scoring_weights(ctx: Context, salt: int = 0) -> Iterator[None]:
    """Score under Xavier-normal weights (seeded by `ctx.generator(salt)`); restore on exit."""
    generator = ctx.generator(salt)
    weights = ctx.all_prunable()
    saved = [w.param.detach().clone() for w in weights]
    try:
        with torch.no_grad():
            for w in weights:
                fresh = torch.empty(w.param.shape, dtype=torch.float32)
                torch.nn.init.xavier_normal_(fresh, generator=generator)
                w.param.copy_(fresh)
        yield
    finally:
        with torch.no_grad():
            for w, original in zip(weights, saved, strict=True):
                w.param.copy_(original)


def _grads(
    loss: torch.Tensor, weights: Sequence[PrunableWeight], retain: bool
) -> list[torch.Tensor]:
    params = [w.param for w in weights]
    grads = torch.autograd.grad(loss, params, retain_graph=retain, allow_unused=True)
    return [torch.zeros_like(p) if g is None else g for p, g in zip(params, grads, strict=True)]


def _accumulate(
    totals: list[torch.Tensor],
    weights: Sequence[PrunableWeight],
    grads: Sequence[torch.Tensor],
    abs_per_batch: bool,
) -> None:
    for total, w, g in zip(totals, weights, grads, strict=True):
        total.add_((g.float() * w.param.detach().float()).abs() if abs_per_batch else g.float())


def _finish(
    weights: Sequence[PrunableWeight], totals: list[torch.Tensor], abs_per_batch: bool
) -> Scores:
    if abs_per_batch:
        return {w.name: t for w, t in zip(weights, totals, strict=True)}
    return {
        w.name: (t * w.param.detach().float()).abs() for w, t in zip(weights, totals, strict=True)
    }


def summed_saliency(ctx: Context, n_batches: int, abs_per_batch: bool = False) -> Scores:
    """|g ⊙ w| with g = ∂(Σ_t L_t)/∂w summed over `n_batches` calibration batches."""
    if n_batches < 1:
        raise ValueError(f"n_batches must be at least 1, got {n_batches}")
    weights = ctx.all_prunable()
    totals = [torch.zeros_like(w.param, dtype=torch.float32) for w in weights]
    with _no_side_effects(ctx):
        for batch in ctx.calibration_batches(n_batches):
            loss = sum(ctx.task_losses(batch).values())
            grads = _grads(loss, weights, retain=False)  # type: ignore[arg-type]
            _accumulate(totals, weights, grads, abs_per_batch)
    return _finish(weights, totals, abs_per_batch)


def per_task_saliency(
    ctx: Context, n_batches: int, tasks: Sequence[str] | None = None, abs_per_batch: bool = False
) -> dict[str, Scores]:
    """{task: |g_t ⊙ w|} over the backbone and head_t, g_t = ∂L_t/∂w summed over batches."""
    if n_batches < 1:
        raise ValueError(f"n_batches must be at least 1, got {n_batches}")
    tasks = tuple(tasks if tasks is not None else ctx.tasks)
    reach = {t: ctx.prunable["backbone"] + ctx.prunable[t] for t in tasks}
    totals = {t: [torch.zeros_like(w.param, dtype=torch.float32) for w in reach[t]] for t in tasks}
    with _no_side_effects(ctx):
        for batch in ctx.calibration_batches(n_batches):
            losses = ctx.task_losses(batch)
            for i, t in enumerate(tasks):
                grads = _grads(losses[t], reach[t], retain=i < len(tasks) - 1)
                _accumulate(totals[t], reach[t], grads, abs_per_batch)
    return {t: _finish(reach[t], totals[t], abs_per_batch) for t in tasks}
