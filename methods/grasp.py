"""GraSP (Wang, Zhang, Grosse, ICLR 2020): prune once at initialisation so as to preserve the
gradient flow, then train with the mask fixed.

Score S(−θ) = −θ ⊙ Hg (the paper's eq. 8) of the summed task loss Σ_t L_t, g and H over
`calibration_batches` training batches, Hg by double backprop (methods/_init_scores.py). Sign
convention, as in the paper (Algorithm 1: remove the top fraction by S) and the public code
(alecwangcq/GraSP, pruner/GraSP.py: `-layer.weight.data * layer.weight.grad`, the top
`num_params_to_rm` scores removed, the rest kept): the weights with the HIGHEST scores are pruned —
removing them reduces the gradient norm least, or increases it. Selection is a global top-k over
all prunable weights, exactly round(s·N) pruned (the lowest N − round(s·N) scores kept).

Deviations from the public code: it divides the classifier's logits by a temperature T = 200
before the cross-entropy; the tasks here are a segmentation cross-entropy and two regressions
with no common logit scale, so the losses are used as they are (T = 1). It re-initialises the
Linear layers (its classifiers) with Xavier-normal before scoring; the model here has no Linear
layers (the heads are convolutions), so the model's own initialisation is scored unless
`scoring_init: xavier_normal` re-draws every prunable layer (`snip`'s option of the same name;
both score the model's own initialisation by default). It draws
a class-balanced sample (25 per class on CIFAR-10); here plain training batches. The score
is not normalised by |ΣS| (a positive factor, which leaves the ranking unchanged).
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from typing import Literal

from bench.masks import MaskedMethod, global_topk_masks
from bench.method import Context
from methods._init_scores import grasp_scores
from methods._saliency import xavier_scoring_weights

_SALT = 29


@dataclass(frozen=True)
class GraspParams:
    # Training batches over which g and Hg are summed (the paper: about 250 samples on CIFAR-10).
    calibration_batches: int = 4
    # Weights the score is measured under: the model's own init, or Xavier-normal (as snip).
    scoring_init: Literal["model", "xavier_normal"] = "model"

    def __post_init__(self) -> None:
        if self.calibration_batches < 1:
            raise ValueError(f"calibration_batches must be ≥ 1, got {self.calibration_batches}")


class Grasp(MaskedMethod):
    slug = "grasp"
    description = "GraSP: prune the highest −θ⊙Hg of the summed task loss at init, global top-k"
    paper = (
        "Wang, Zhang, Grosse. Picking Winning Tickets Before Training by Preserving Gradient "
        "Flow. ICLR 2020"
    )
    Params = GraspParams
    start = "init"

    def prepare(self, ctx: Context) -> None:
        scoring = (
            xavier_scoring_weights(ctx, _SALT)
            if self.params.scoring_init == "xavier_normal"
            else contextlib.nullcontext()
        )
        with scoring:
            scores = grasp_scores(ctx, self.params.calibration_batches)
        # Highest S pruned = lowest −S kept: the global top-k keeps the highest of what it is given.
        self.set_masks(ctx, global_topk_masks({n: -s for n, s in scores.items()}, ctx.target_sparsity))
        ctx.cost.notes["saliency"] = (
            f"−θ⊙Hg of the summed task loss at init, highest pruned, {self.params.scoring_init} weights"
        )
