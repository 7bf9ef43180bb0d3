"""SNIP (Lee et al., ICLR 2019): prune once at initialisation by connection saliency |g·w|.

The saliency is that of the summed task loss Σ_t L_t (the multi-task objective with equal
weights), its gradient accumulated over `calibration_batches` training batches; the kept set is
the global top-k over every prunable weight (backbone and all heads together), exactly
round(s·N) pruned. Training then runs with the mask fixed, from the model's own initial weights.

By default (`scoring_init: model`) the saliency is measured on the model's own initial weights,
the ones every method of the benchmark trains from and the ones DiSparse-static scores, so the
SNIP vs DiSparse comparison differs in the criterion only (summed vs per-task saliency), not in
the weights scored. `scoring_init: xavier_normal` scores a seeded Xavier-normal draw instead, as
SNIP's authors (variance-scaling init) and the DiSparse public code do; under the paper's
N(0, 0.01) init the BatchNorm-free heads pass little signal at init, so the literal model-init
score can leave a head with very few weights at high sparsity.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from typing import Literal

from bench.masks import MaskedMethod, global_topk_masks
from bench.method import Context
from methods._saliency import XAVIER_SALT, summed_saliency, xavier_scoring_weights


@dataclass(frozen=True)
class SnipParams:
    # Calibration batches (of the training batch size) whose gradients are summed before
    # scoring; the paper uses one. Independent of the run length: it is a one-off estimate.
    calibration_batches: int = 4
    # Weights the saliency is measured under: the model's own initial weights (the ones every
    # method trains from, as disparse_static) or a seeded Xavier-normal draw (SNIP / DiSparse code).
    scoring_init: Literal["model", "xavier_normal"] = "model"

    def __post_init__(self) -> None:
        if self.calibration_batches < 1:
            raise ValueError(f"calibration_batches must be ≥ 1, got {self.calibration_batches}")


class Snip(MaskedMethod):
    slug = "snip"
    description = "SNIP: one-shot |g·w| saliency of the summed task loss at init, global top-k"
    paper = "Lee, Ajanthan, Torr. SNIP: Single-shot Network Pruning. ICLR 2019"
    Params = SnipParams

    def prepare(self, ctx: Context) -> None:
        scoring = (
            xavier_scoring_weights(ctx, XAVIER_SALT)
            if self.params.scoring_init == "xavier_normal"
            else contextlib.nullcontext()
        )
        with scoring:
            scores = summed_saliency(ctx, self.params.calibration_batches)
        self.set_masks(ctx, global_topk_masks(scores, ctx.target_sparsity))
        ctx.cost.notes["saliency"] = (
            f"|g·w| of the summed task loss at init, {self.params.scoring_init} weights"
        )
