"""Dynamic sparse training (RigL-style drop and regrow), shared by `rigl` and `disparse_dynamic`.

The pieces, each independent of how a method ranks regrowth candidates:

- `erk_counts`: Erdős–Rényi-Kernel kept counts per layer (density_l ∝ ((Σ dims)/(Π dims))^power),
  scaled so the model keeps exactly N − round(s·N) weights; a layer whose density would exceed 1
  is made dense and the others rescaled (repeatedly); integer counts by largest remainder.
- `random_masks`: seeded positions for those counts.
- `drop_and_grow`: one layer's update — drop the active weights of smallest |w|, regrow as many
  inactive ones by the best rank over one or more gradient rankings (with one ranking this is
  RigL's top-|g|; with one per task it is DiSparse's union arbiter). The layer's count is fixed.
- `DynamicSparseTraining`: the schedule (an update every `interval` finished steps while
  step < stop, cosine-decayed drop fraction) and the swap that zeroes regrown weights and their
  Adam moments. A subclass supplies `regrowth_gradients` (per layer, a list of rankings).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import torch

from bench.masks import MaskedMethod
from bench.method import Context
from methods._disparse import kept_count

Shapes = Mapping[str, tuple[int, ...]]  # torch.Size is a tuple


def erk_counts(shapes: Shapes, target_sparsity: float, power: float = 1.0) -> dict[str, int]:
    """Kept weights per layer under ERK, summing to exactly N − round(s·N)."""
    sizes = {n: math.prod(s) for n, s in shapes.items()}
    budget = kept_count(sum(sizes.values()), target_sparsity)
    raw = {n: (sum(s) / sizes[n]) ** power for n, s in shapes.items()}
    dense: set[str] = set()
    eps = 0.0
    while len(dense) < len(sizes):
        rest = [n for n in sizes if n not in dense]
        eps = (budget - sum(sizes[n] for n in dense)) / sum(raw[n] * sizes[n] for n in rest)
        top = max(raw[n] for n in rest)
        if eps * top <= 1.0:
            break
        dense.update(n for n in rest if raw[n] == top)
    ideal = {n: float(sizes[n]) if n in dense else eps * raw[n] * sizes[n] for n in sizes}
    counts = {n: min(sizes[n], math.floor(v)) for n, v in ideal.items()}
    short = budget - sum(counts.values())
    by_remainder = sorted(
        (n for n in sizes if counts[n] < sizes[n]), key=lambda n: ideal[n] - counts[n], reverse=True
    )
    for n in by_remainder[:short]:
        counts[n] += 1
    return counts


def random_masks(
    shapes: Shapes, counts: Mapping[str, int], generator: torch.Generator
) -> dict[str, torch.Tensor]:
    """Each layer keeps `counts[name]` uniformly random positions."""
    masks = {}
    for name, shape in shapes.items():
        flat = torch.zeros(math.prod(shape), dtype=torch.bool)
        flat[torch.randperm(flat.numel(), generator=generator)[: counts[name]]] = True
        masks[name] = flat.view(tuple(shape))
    return masks


def drop_and_grow(
    weight: torch.Tensor, mask: torch.Tensor, task_grads: list[torch.Tensor], n_swap: int
) -> torch.Tensor:
    """Drop the `n_swap` active weights of smallest |w|, regrow as many inactive ones by the
    best rank over the rankings in `task_grads` (union arbiter; one ranking = plain top-k).
    Returns the new mask; its count is unchanged.

    Only positions where some ranking's gradient is nonzero are regrown: `n_swap` is capped at
    the number of such inactive positions. A zero-gradient position (e.g. a dilated tap that only
    ever sees padding) would otherwise be regrown at 0 and stay 0, silently raising the measured
    sparsity above the target."""
    active = mask.flatten()
    n = active.numel()
    live = torch.zeros_like(active)
    for grad in task_grads:
        live |= grad.flatten() > 0
    n_swap = min(n_swap, int((live & ~active).sum()))
    if n_swap == 0:
        return mask.clone()
    magnitude = weight.detach().abs().flatten().float()
    drop_key = torch.where(active, magnitude, torch.full_like(magnitude, math.inf))
    dropped = torch.sort(drop_key, stable=True).indices[:n_swap]
    after = active.clone()
    after[dropped] = False
    n_tasks = len(task_grads)
    best = torch.full((n,), n * n_tasks, dtype=torch.long, device=active.device)
    positions = torch.arange(n, device=active.device) * n_tasks
    for t, grad in enumerate(task_grads):
        key = torch.where(after, torch.full_like(magnitude, -1.0), grad.flatten().float())
        order = torch.sort(key, descending=True, stable=True).indices
        rank = torch.empty_like(order)
        rank[order] = positions + t  # unique per (rank, task): no ties left in `best`
        best = torch.minimum(best, rank)
    best = torch.where(live, best, best + n * n_tasks)  # zero-gradient candidates last
    best[after] = 2 * n * n_tasks
    grown = torch.topk(best, n_swap, largest=False).indices
    after[grown] = True
    return after.view_as(mask)


class DynamicSparseTraining(MaskedMethod):
    """ERK masks at init, then drop-and-grow updates on a schedule.

    Params must have `update_interval_fraction`, `min_update_interval`, `stop_fraction`,
    `drop_fraction` and `erk_power_scale`. Subclasses implement `regrowth_gradients` and set
    `mask_salt` (seeds the initial positions) and `log_key`."""

    mask_salt = 0
    log_key = "dst/drop_fraction"

    def regrowth_gradients(self, ctx: Context) -> dict[str, list[torch.Tensor]]:
        """Per prunable weight, the non-negative gradient rankings its regrowth follows."""
        raise NotImplementedError

    def interval(self, ctx: Context) -> int:
        p = self.params
        return max(p.min_update_interval, round(p.update_interval_fraction * ctx.total_steps))

    def stop_step(self, ctx: Context) -> int:
        return round(self.params.stop_fraction * ctx.total_steps)

    def update_steps(self, ctx: Context) -> list[int]:
        """Finished-step counts after which the mask is updated."""
        stop = min(self.stop_step(ctx), ctx.total_steps)
        return list(range(self.interval(ctx), stop, self.interval(ctx)))

    def is_update_step(self, ctx: Context, step: int) -> bool:
        return 0 < step < min(self.stop_step(ctx), ctx.total_steps) and step % self.interval(ctx) == 0

    def drop_fraction_at(self, ctx: Context, step: int) -> float:
        stop = self.stop_step(ctx)
        return self.params.drop_fraction * (1 + math.cos(math.pi * step / stop)) / 2 if stop else 0.0

    def prepare(self, ctx: Context) -> None:
        shapes = {w.name: w.param.shape for w in ctx.all_prunable()}
        counts = erk_counts(shapes, ctx.target_sparsity, self.params.erk_power_scale)
        self.set_masks(ctx, random_masks(shapes, counts, ctx.generator(salt=self.mask_salt)))
        notes = ctx.cost.notes
        notes["initial_distribution"] = f"ERK (power {self.params.erk_power_scale})"
        notes["update_interval_steps"] = self.interval(ctx)
        notes["update_stop_step"] = self.stop_step(ctx)
        notes["weights_regrown"] = 0

    def after_step(self, ctx: Context) -> None:
        super().after_step(ctx)
        if self.is_update_step(ctx, ctx.step):
            self._update(ctx, self.drop_fraction_at(ctx, ctx.step))

    @torch.no_grad()
    def _swap(self, ctx: Context, fraction: float, grads: Mapping[str, list[torch.Tensor]]) -> int:
        new_masks, regrown = {}, 0
        for w in ctx.all_prunable():
            mask = self._device_masks[w.name]
            kept = int(mask.sum())
            n_swap = int(fraction * kept)
            if n_swap == 0 or kept == mask.numel():
                new_masks[w.name] = mask
                continue
            new = drop_and_grow(w.param, mask, grads[w.name], n_swap)
            fresh = new & ~mask
            state = ctx.optimizer.state.get(w.param, {})
            for key in ("exp_avg", "exp_avg_sq", "max_exp_avg_sq"):
                if isinstance(state.get(key), torch.Tensor) and state[key].shape == fresh.shape:
                    state[key].masked_fill_(fresh, 0.0)
            w.param.masked_fill_(fresh, 0.0)
            regrown += int(fresh.sum())
            new_masks[w.name] = new
        self.set_masks(ctx, new_masks)
        return regrown

    def _update(self, ctx: Context, fraction: float) -> None:
        grads = self.regrowth_gradients(ctx)
        regrown = self._swap(ctx, fraction, grads)
        ctx.cost.rounds += 1
        ctx.cost.notes["weights_regrown"] = ctx.cost.notes.get("weights_regrown", 0) + regrown
        ctx.log(self.log_key, fraction)


def check_schedule(params: Any) -> None:
    """The update-schedule fields RigL and DiSparse-dynamic share, each in its range."""
    if not 0.0 < params.update_interval_fraction <= 1.0:
        raise ValueError("update_interval_fraction must be in (0, 1]")
    if params.min_update_interval < 1:
        raise ValueError("min_update_interval must be ≥ 1")
    if not 0.0 <= params.stop_fraction <= 1.0:
        raise ValueError("stop_fraction must be in [0, 1]")
    if not 0.0 <= params.drop_fraction <= 1.0:
        raise ValueError("drop_fraction must be in [0, 1]")
    if params.erk_power_scale < 0:
        raise ValueError("erk_power_scale must be ≥ 0")
