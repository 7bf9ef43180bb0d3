"""DiSparse PT (Sun et al., CVPR 2022): the union arbiter applied to a trained dense model,
then fine-tuning, all within the dense run's step budget.

The run trains dense for round(`pretrain_fraction`·T) steps, then prunes once: each task t ranks
backbone ∪ head_t by its own score, head weights follow their task, a backbone weight is kept if
any task keeps it, and the shared per-task keep ratio ρ is solved so that exactly
N − round(s·N) weights survive (methods/_disparse.py). The remaining steps fine-tune with the
mask fixed; the optimiser (Adam moments) and the learning-rate schedule simply continue.

Score (`score`): "magnitude" (default) is |w| per task, the score the public code uses for its
PT results on NYU-v2 and Cityscapes (`disparse_prune_pretrained_l1`) and the one docs/protocol.md §5 names;
with |w| the tasks still disagree because each ranks the shared backbone against its own head.
"gradient" is |g_t ⊙ w| of each task's loss on the trained weights (`calibration_batches`
batches), DiSparse's disentangled connection sensitivity; the public code's Taskonomy variant
multiplies by w² instead, which we do not reproduce.

Deviations from the public code: it fine-tunes a fully trained dense model (20,000 iterations)
for 1,000 more at lr 1e-5 with a fresh optimiser, i.e. ~5 % extra training; here the same total
budget as dense is split (pre-training steps recorded in `cost.notes.pretrain_steps`), and ρ is
solved for the target instead of hand-tuned (their 90 % NYU-v2 setting is ρ = 0.1).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from bench.masks import MaskedMethod
from bench.method import Context
from methods._disparse import (
    PAPER,
    kept_count,
    per_task_connection_saliency,
    per_task_magnitude,
    union_arbiter,
)


@dataclass(frozen=True)
class DisparsePtParams:
    # Fraction of the run trained dense before pruning; the rest fine-tunes the sparse model.
    pretrain_fraction: float = 0.5
    # "magnitude": |w| per task (public code, NYU-v2); "gradient": |g_t·w| per task.
    score: Literal["magnitude", "gradient"] = "magnitude"
    # Train batches for the "gradient" score (ignored for "magnitude").
    calibration_batches: int = 50

    def __post_init__(self) -> None:
        if not 0.0 <= self.pretrain_fraction <= 1.0:
            raise ValueError(f"pretrain_fraction must be in [0, 1], got {self.pretrain_fraction}")
        if self.calibration_batches < 1:
            raise ValueError(f"calibration_batches must be ≥ 1, got {self.calibration_batches}")


class DisparsePt(MaskedMethod):
    slug = "disparse_pt"
    description = "DiSparse PT: dense pre-training, per-task union-arbiter pruning, fine-tuning"
    paper = PAPER
    Params = DisparsePtParams

    def __init__(self, params: Any = None) -> None:
        super().__init__(params)
        self.pruned = False

    def prune_step(self, ctx: Context) -> int:
        """Finished steps after which the dense model is pruned."""
        return min(ctx.total_steps, max(0, round(self.params.pretrain_fraction * ctx.total_steps)))

    def prepare(self, ctx: Context) -> None:
        ctx.cost.notes["pretrain_steps"] = self.prune_step(ctx)
        ctx.cost.notes["score"] = self.params.score
        if self.prune_step(ctx) == 0:
            self._prune(ctx)

    def after_step(self, ctx: Context) -> None:
        super().after_step(ctx)
        if not self.pruned and ctx.step >= self.prune_step(ctx):
            self._prune(ctx)

    def finalize(self, ctx: Context) -> None:
        if not self.pruned:  # only when the loop ran fewer steps than planned
            self._prune(ctx)
        super().finalize(ctx)

    def _prune(self, ctx: Context) -> None:
        if self.params.score == "gradient":
            scores = per_task_connection_saliency(ctx, self.params.calibration_batches)
        else:
            scores = per_task_magnitude(ctx)
        total = sum(w.param.numel() for w in ctx.all_prunable())
        masks, keep_ratio = union_arbiter(ctx, scores, kept_count(total, ctx.target_sparsity))
        del scores
        self.set_masks(ctx, masks)
        self.pruned = True
        ctx.cost.notes["pruned_at_step"] = ctx.step
        ctx.cost.notes["keep_ratio_per_task"] = keep_ratio

    def state_dict(self) -> dict[str, Any]:
        return {**super().state_dict(), "pruned": self.pruned}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        super().load_state_dict(state)
        self.pruned = bool(state.get("pruned", False))
