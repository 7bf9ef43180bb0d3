"""DiSparse dynamic (Sun et al., CVPR 2022): dynamic sparse training (RigL-style drop and regrow)
whose regrowth is arbitrated between tasks.

- Initial masks: Erdős–Rényi-Kernel densities (density_l ∝ ((Σ dims)/(Π dims))^power), scaled
  so the model keeps exactly N − round(s·N) weights; a layer whose density would exceed 1 is
  made dense and the others rescaled (repeatedly); per-layer counts are integers by
  largest-remainder rounding, so the total is exact. Positions are random (seeded).
- Every `interval` = max(`min_update_interval`, round(`update_interval_fraction`·T)) finished
  steps, while step < round(`stop_fraction`·T): with drop fraction
  f = `drop_fraction`·(1 + cos(π·step/stop))/2, each layer with k kept weights drops the
  ⌊f·k⌋ active weights of smallest |w| and regrows as many among the inactive ones (the
  just-dropped included), so every layer keeps exactly k weights and the sparsity stays on
  target throughout. ⌊f·k⌋ is capped at the number of inactive positions with a nonzero
  gradient for some task, so nothing is regrown where it could never move off zero.
- Regrowth score: per-task gradient magnitude |∂L_t/∂w| on the update step's own training batch,
  at the weights before that step (as DiSparse's train.py scores the current `gt_batch` before
  training on it), the batch cut into `batch_chunks` parts whose |∂L_t/∂w| are summed (the
  public code's `split_num`: 2 on NYU-v2 and Cityscapes, 8 on Taskonomy). The extra forward and
  per-task backward passes over that batch are counted as one extra batch per update; they
  leave BatchNorm statistics and the RNG as they were. A head layer regrows by its own task's
  ranking. A
  backbone layer regrows by DiSparse's union arbiter: each task ranks the candidates, a
  candidate's priority is its best rank over tasks (ties: task order), and the ⌊f·k⌋ best are
  regrown — i.e. the union of every task's top-j with j chosen so the union has exactly ⌊f·k⌋.
- Newly grown weights start at exactly zero with fresh Adam moments (exp_avg = exp_avg_sq = 0),
  as RigL initialises new connections; a weight dropped and regrown in the same update is
  simply kept (value and moments).
Each mask update is counted in `cost.rounds`, its batches in `cost.extra_forward_backward`.
ERK, drop-and-grow and the schedule are methods/_dst.py, shared with `rigl`; this module adds
the per-task regrowth ranking.

Deviations from the public code (dynamic_prune.py, train.py): it crashes at the end of the update
phase (undefined `copy_v2`) — this one runs to completion (docs/protocol.md §8.6); its backbone regrowth is
the union of each task's full quota, so the backbone drifts above its ERK density until a final
re-prune, whereas here the count per layer is fixed at every update; it keeps the stem dense
outside the ERK budget (the overall sparsity then misses the target), here the stem is one
more ERK layer; regrown weights there resume their stale pre-drop values, here they start at 0.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch

from bench.method import Context
from methods._disparse import PAPER, per_task_gradients_over, split_batch
from methods._dst import (
    DynamicSparseTraining,
    check_schedule,
    drop_and_grow,
    erk_counts,
    random_masks,
)

__all__ = ["DisparseDynamic", "DisparseDynamicParams", "drop_and_grow", "erk_counts", "random_masks"]


@dataclass(frozen=True)
class DisparseDynamicParams:
    # Steps between mask updates as a fraction of the run (public NYU-v2 config: 50 of 20,000).
    update_interval_fraction: float = 0.0025
    # Floor on that interval in steps, so short runs (the CPU profile) get time to recover.
    min_update_interval: int = 10
    # Mask updates stop at this fraction of the run (public: 15,000 of 20,000).
    stop_fraction: float = 0.75
    # Initial drop fraction, cosine-decayed to 0 at the stop step (public: 0.5).
    drop_fraction: float = 0.5
    # ERK exponent; 1.0 is RigL's ERK, the public DiSparse code softens it to 0.9.
    erk_power_scale: float = 0.9
    # Parts the update step's batch is cut into, their per-task |gradients| summed (public
    # code: 2 on NYU-v2 and Cityscapes, 8 on Taskonomy).
    batch_chunks: int = 2

    def __post_init__(self) -> None:
        check_schedule(self)
        if self.batch_chunks < 1:
            raise ValueError(f"batch_chunks must be ≥ 1, got {self.batch_chunks}")


class DisparseDynamic(DynamicSparseTraining):
    slug = "disparse_dynamic"
    description = "DiSparse dynamic: ERK sparse training, magnitude drop, per-task union regrowth"
    paper = PAPER
    Params = DisparseDynamicParams
    mask_salt = 0xD15
    log_key = "disparse/drop_fraction"

    def __init__(self, params: Any = None) -> None:
        super().__init__(params)
        # Per-task |g| of the current step's batch at the pre-step weights, scored in
        # before_step of an update step and consumed in its after_step (within one step, so
        # never across a checkpoint).
        self._grow_scores: dict[str, dict[str, torch.Tensor]] = {}

    def before_step(self, ctx: Context) -> None:
        super().before_step(ctx)
        if self.is_update_step(ctx, ctx.step + 1):  # after_step will see ctx.step + 1
            batch = ctx.train_batch
            if batch is None:
                raise RuntimeError("disparse_dynamic: the loop gave no training batch")
            self._grow_scores = per_task_gradients_over(
                ctx, lambda: split_batch(batch, self.params.batch_chunks))
            ctx.count_extra_batches(1)

    def regrowth_gradients(self, ctx: Context) -> dict[str, list[torch.Tensor]]:
        """Each layer's per-task |∂L_t/∂w| (the tasks whose loss reaches it, in task order)."""
        grads, self._grow_scores = self._grow_scores, {}
        if not grads:
            raise RuntimeError("disparse_dynamic: no gradient scored for this update step")
        return {
            w.name: [g[w.name] for g in grads.values() if w.name in g] for w in ctx.all_prunable()
        }
