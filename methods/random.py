"""Random pruning at initialisation: every layer gets the target sparsity, the mask stays fixed.

The naive baseline every informed criterion must beat. Per-layer counts are exact: layer l
prunes ⌊s·n_l⌋ or ⌈s·n_l⌉ weights, the rounding spread by largest remainder so the model as a
whole prunes exactly round(s·N).
"""

from __future__ import annotations

import math

import torch

from bench.masks import MaskedMethod, Masks
from bench.method import Context

_SALT = 11


def per_layer_counts(sizes: list[int], target_sparsity: float) -> list[int]:
    """Pruned count per layer: each near s·n_l, summing to exactly round(s·Σn_l)."""
    ideal = [target_sparsity * n for n in sizes]
    counts = [math.floor(x) for x in ideal]
    missing = round(target_sparsity * sum(sizes)) - sum(counts)
    # Largest fractional part first; ties go to the earlier layer (stable sort).
    order = sorted(range(len(sizes)), key=lambda i: -(ideal[i] - counts[i]))
    for i in order[:missing]:
        counts[i] += 1
    return counts


def random_masks(ctx: Context) -> Masks:
    generator = ctx.generator(_SALT)
    weights = ctx.all_prunable()
    counts = per_layer_counts([w.param.numel() for w in weights], ctx.target_sparsity)
    masks: Masks = {}
    for w, n_prune in zip(weights, counts, strict=True):
        keep = torch.ones(w.param.numel(), dtype=torch.bool)
        keep[torch.randperm(keep.numel(), generator=generator)[:n_prune]] = False
        masks[w.name] = keep.view(w.param.shape)
    return masks


class RandomPruning(MaskedMethod):
    slug = "random"
    description = "random mask at init, the target sparsity in every layer, fixed during training"
    paper = (
        "baseline (e.g. Liu et al. ICLR 2022, 'The Unreasonable Effectiveness of Random Pruning')"
    )

    def prepare(self, ctx: Context) -> None:
        self.set_masks(ctx, random_masks(ctx))
