"""Scores at initialisation beyond SNIP's |g·w| (methods/_saliency.py): GraSP and SynFlow.

Both return `{PrunableWeight.name: float32 tensor shaped like the weight}` on `ctx.device`, and
leave no trace on the run: `.grad` is untouched (autograd.grad), BatchNorm running statistics are
restored and the global RNG is forked (methods/_saliency.py's `_no_side_effects`).

- `grasp_scores(ctx, n_batches)`: S = −θ ⊙ Hg (Wang, Zhang, Grosse, ICLR 2020, eq. 8), g the
  gradient of the summed task loss Σ_t L_t summed over `n_batches` calibration batches, H its
  Hessian over the same batches, Hg by double backprop: Hg = ∂(gᵀ·∂L/∂θ)/∂θ with g held fixed,
  as the public code computes it (two passes over the batches; the model in train mode). Each
  batch sees the same dropout masks in both passes (the RNG is re-seeded per batch), so H and g
  belong to one and the same stochastic loss.
- `SynFlowScorer`: Tanaka, Kunin, Yamins, Ganguli (NeurIPS 2020): R = 1ᵀ(Π_l |θ_l|)1, the
  network's output summed for an all-ones input (by default each task head's sum R_t divided by
  its own value, R = Σ_t R_t / R_t, so every head's flow weighs the same) with every parameter and buffer replaced by its
  absolute value, and the score |θ ⊙ ∂R/∂θ| for the weights still alive. It scores a private
  copy of the model (so the signed weights are never touched), in eval mode as the public code's
  prune loop puts the model (BatchNorm then applies its running statistics — at init mean 0,
  variance 1 — with |γ| and |β|; dropout is off), in float64.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping, Sequence

import torch

from bench.method import Context
from methods._saliency import _no_side_effects

Scores = dict[str, torch.Tensor]


def _grads(
    loss: torch.Tensor, params: Sequence[torch.Tensor], create_graph: bool = False
) -> list[torch.Tensor]:
    grads = torch.autograd.grad(loss, params, create_graph=create_graph, allow_unused=True)
    return [torch.zeros_like(p) if g is None else g for p, g in zip(params, grads, strict=True)]


def grasp_scores(ctx: Context, n_batches: int) -> Scores:
    """−θ ⊙ Hg of the summed task loss over `n_batches` calibration batches (module doc)."""
    if n_batches < 1:
        raise ValueError(f"n_batches must be at least 1, got {n_batches}")
    weights = ctx.all_prunable()
    params = [w.param for w in weights]
    g = [torch.zeros_like(p, dtype=torch.float32) for p in params]
    hg = [torch.zeros_like(p, dtype=torch.float32) for p in params]
    with _no_side_effects(ctx):
        batches = list(ctx.calibration_batches(n_batches))
        seeds = [ctx.seed * 1_000_003 + 7_717 + i for i in range(n_batches)]
        for batch, seed in zip(batches, seeds, strict=True):
            torch.manual_seed(seed)
            loss = sum(ctx.task_losses(batch).values())
            for total, grad in zip(g, _grads(loss, params), strict=True):  # type: ignore[arg-type]
                total.add_(grad.float())
        for batch, seed in zip(batches, seeds, strict=True):
            torch.manual_seed(seed)  # the first pass's dropout masks again
            loss = sum(ctx.task_losses(batch).values())
            grad_f = _grads(loss, params, create_graph=True)  # type: ignore[arg-type]
            z = sum((fixed.to(gf.dtype) * gf).sum() for fixed, gf in zip(g, grad_f, strict=True))
            for total, h in zip(hg, _grads(z, params), strict=True):  # type: ignore[arg-type]
                total.add_(h.float())
    ctx.cost.extra_forward_backward += n_batches  # the second (Hessian-gradient) pass
    notes = ctx.cost.notes
    notes["hessian_gradient_passes"] = notes.get("hessian_gradient_passes", 0) + n_batches
    return {
        w.name: -(w.param.detach().float() * h) for w, h in zip(weights, hg, strict=True)
    }


class SynFlowScorer:
    """Synaptic-flow scores of `ctx`'s prunable weights under a mask (module doc).

    Built once; each `scores(masks)` call is one forward and one backward of a single all-ones
    input of shape `input_shape` (C, H, W) through the absolute-valued float64 copy."""

    def __init__(
        self, ctx: Context, input_shape: Sequence[int], per_task_normalised: bool = True
    ) -> None:
        self.per_task_normalised = per_task_normalised
        self.model = copy.deepcopy(ctx.model).to(torch.float64).eval()
        with torch.no_grad():
            for value in self.model.state_dict().values():
                if value.is_floating_point():
                    value.abs_()
        modules = dict(self.model.named_modules())
        self.names = [w.name for w in ctx.all_prunable()]
        self.params = [_weight_of(modules[n]) for n in self.names]
        self.magnitudes = [p.detach().clone() for p in self.params]
        self.input = torch.ones((1, *input_shape), dtype=torch.float64, device=ctx.device)

    def scores(self, masks: Mapping[str, torch.Tensor] | None = None) -> Scores:
        with torch.no_grad():
            for name, p, magnitude in zip(self.names, self.params, self.magnitudes, strict=True):
                p.copy_(magnitude if masks is None else magnitude * masks[name].to(p.device))
        flows = [out.sum() for out in self.model(self.input).values()]
        if self.per_task_normalised:  # every head's flow counts as 1 (methods/synflow.py)
            flows = [f / f.detach() for f in flows if float(f.detach()) > 0]
        flow = sum(flows)
        grads = _grads(flow, self.params)  # type: ignore[arg-type]
        raw = [(g * p).detach().abs() for g, p in zip(grads, self.params, strict=True)]
        # R grows like a product over layers; scale to the largest score before leaving float64
        # (the ranking is unchanged by a common positive factor).
        top = max((float(r.max()) for r in raw if r.numel()), default=0.0)
        scale = 1.0 / top if top > 0 else 1.0
        return {n: (r * scale).float() for n, r in zip(self.names, raw, strict=True)}


def _weight_of(module: torch.nn.Module) -> torch.Tensor:
    weight = module.weight
    assert isinstance(weight, torch.Tensor)
    return weight

