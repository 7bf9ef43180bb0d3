"""SynFlow (Tanaka, Kunin, Yamins, Ganguli, NeurIPS 2020): data-free iterative pruning at
initialisation by synaptic flow, then training with the mask fixed.

`rounds` times: score every surviving weight by |θ ⊙ ∂R/∂θ|, R the summed output (all task
heads) of the network with absolute-valued parameters for an all-ones input, the pruned weights
held at zero (methods/_init_scores.py); then prune, by a global top-k among the survivors, to
the exponential schedule: after round r the density is (1 − s)^(r/rounds), exact counts
round(N·(1 − (1 − s)^(r/rounds))), the last round exactly round(s·N) (the counts are `imp`'s
`pruned_counts`). Iterating is what avoids layer collapse; the paper uses 100 rounds.

The paper's network has one output; here T task heads share the backbone. With the literal
R = Σ_t R_t (`task_flow: summed`) the head with the most output channels carries most of the
flow, and on the embedded default at 0.9 the depth and normal heads were pruned to 100 % (the
segmentation head, 13 channels, kept them out-flowed). So by default each head's flow is
normalised by its own current value, R = Σ_t R_t / R_t (one backward pass; ∂R/∂θ =
Σ_t (∂R_t/∂θ)/R_t): every head's layers carry a flow of 1, the backbone's T, and no head
out-weighs another — the equal task weighting of the summed loss the other methods use.
The model's own signed initial weights are never modified: the scores come from a private
absolute-valued copy, and training starts from the original initialisation.

No data enters the scores. The input's shape (C, H, W) is read from one training batch, as the
public code reads it from its data loader; that batch is counted in
`cost.extra_forward_backward`, and the `rounds` single-input float64 passes in `cost.rounds`.

Deviations from the public code (ganguli-lab/Synaptic-Flow, Pruners/pruners.py, prune.py): it
scores the model itself in float32 (a `model.double()` is commented out) and restores the signs
afterwards; here a float64 copy is scored — R of the absolute-valued full-width model is already
5.9e37 at a 64×64 input (float32 ends at 3.4e38), so it overflows at the paper's 321×321 crops —
and the live model is left alone. Its global
threshold prunes every score ≤ the k-th value (ties can overshoot); here exact counts. BatchNorm
is in eval mode as there (its prune loop's default `train_mode=False`): at initialisation the
running statistics are mean 0 / variance 1, so BatchNorm is the affine |γ|·x + |β|.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from bench.masks import MaskedMethod, global_topk_masks
from bench.method import Context
from methods._init_scores import SynFlowScorer
from methods.imp import pruned_counts


@dataclass(frozen=True)
class SynflowParams:
    # Scoring-and-pruning rounds on the exponential schedule (the paper: 100).
    rounds: int = 100
    # How the task heads' flows combine: `normalised` R = Σ_t R_t / R_t (each head's flow
    # weighs 1) or `summed` R = Σ_t R_t (the literal single-output objective).
    task_flow: Literal["normalised", "summed"] = "normalised"

    def __post_init__(self) -> None:
        if self.rounds < 1:
            raise ValueError(f"rounds must be ≥ 1, got {self.rounds}")


class Synflow(MaskedMethod):
    slug = "synflow"
    description = "SynFlow: data-free iterative synaptic-flow pruning at init, exponential schedule"
    paper = (
        "Tanaka, Kunin, Yamins, Ganguli. Pruning neural networks without any data by iteratively "
        "conserving synaptic flow. NeurIPS 2020"
    )
    Params = SynflowParams
    start = "init"

    def prepare(self, ctx: Context) -> None:
        if ctx.target_sparsity <= 0:
            return
        rgb = next(iter(ctx.calibration_batches(1)))["rgb"]  # its shape only
        scorer = SynFlowScorer(
            ctx, tuple(rgb.shape[1:]), self.params.task_flow == "normalised"
        )
        weights = ctx.all_prunable()
        n_weights = sum(w.param.numel() for w in weights)
        rounds = self.params.rounds
        kept_per_round = (1 - ctx.target_sparsity) ** (1 / rounds)
        counts = pruned_counts(n_weights, ctx.target_sparsity, kept_per_round, rounds)
        masks = None
        for n_pruned in counts:
            scores = scorer.scores(masks)
            if masks is not None:  # the pruned stay pruned
                scores = {n: s.masked_fill(~masks[n], -1.0) for n, s in scores.items()}
            masks = {
                n: m.to(ctx.device) for n, m in global_topk_masks(scores, n_pruned / n_weights).items()
            }
        assert masks is not None
        self.set_masks(ctx, masks)
        ctx.cost.rounds += rounds
        ctx.cost.notes["synflow_input"] = [1, *rgb.shape[1:]]
        ctx.cost.notes["saliency"] = "synaptic flow, |θ| float64 copy in eval mode, all-ones input"
