"""DiSparse static (Sun et al., CVPR 2022): prune at initialisation with disentangled per-task
saliency and a union arbiter, then train with the mask fixed.

For each task t, the connection saliency |g_t ⊙ w| of t's own loss L_t (summed over
`calibration_batches` train batches) scores backbone ∪ head_t. Each task keeps the top fraction
ρ of its ranking; head weights follow their task; a backbone weight is kept if any task keeps it.
ρ (one ratio shared by the tasks) is calibrated so that the whole model keeps exactly
N − round(s·N) weights (methods/_disparse.py explains how); the calibrated ρ is recorded in
`cost.notes.keep_ratio_per_task`. Backbone and heads therefore end at different sparsities
(the backbone denser: each of its weights has T chances to be kept).

Deviations from the public code (SHI-Labs/DiSparse-Multitask-Model-Compression, prune_utils.py):
ρ is solved for the target instead of hand-tuned per dataset (their 90 % NYU-v2 run uses
ρ = 0.08 and lands near the target); by default (`scoring_init: model`) saliency is taken on
the model's own initial weights, the ones training starts from and the ones SNIP scores,
instead of a Xavier-re-initialised copy (`scoring_init: xavier_normal`, the same seeded draw as
SNIP's option); BatchNorm statistics and the RNG are left untouched by the calibration passes.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from typing import Literal

from bench.masks import MaskedMethod
from bench.method import Context
from methods._disparse import PAPER, kept_count, per_task_connection_saliency, union_arbiter
from methods._saliency import XAVIER_SALT, xavier_scoring_weights


@dataclass(frozen=True)
class DisparseStaticParams:
    # Train batches whose per-task |g_t·w| are summed before ranking (the public code: 50).
    # A one-off estimate, independent of the run length.
    calibration_batches: int = 50
    # Weights the saliency is measured under: the model's own initial weights (the ones every
    # method trains from, as snip) or a seeded Xavier-normal draw (the public code's copy).
    scoring_init: Literal["model", "xavier_normal"] = "model"

    def __post_init__(self) -> None:
        if self.calibration_batches < 1:
            raise ValueError(f"calibration_batches must be ≥ 1, got {self.calibration_batches}")


class DisparseStatic(MaskedMethod):
    slug = "disparse_static"
    description = "DiSparse static: per-task |g_t·w| at init, union arbiter over the backbone"
    paper = PAPER
    Params = DisparseStaticParams

    def prepare(self, ctx: Context) -> None:
        scoring = (
            xavier_scoring_weights(ctx, XAVIER_SALT)
            if self.params.scoring_init == "xavier_normal"
            else contextlib.nullcontext()
        )
        with scoring:
            scores = per_task_connection_saliency(ctx, self.params.calibration_batches)
        total = sum(w.param.numel() for w in ctx.all_prunable())
        masks, keep_ratio = union_arbiter(ctx, scores, kept_count(total, ctx.target_sparsity))
        del scores
        self.set_masks(ctx, masks)
        ctx.cost.notes["saliency"] = (
            f"per-task |g_t·w| at init, {self.params.scoring_init} weights, union arbiter over the backbone"
        )
        ctx.cost.notes["keep_ratio_per_task"] = keep_ratio
