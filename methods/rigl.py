"""RigL (Evci, Gale, Menick, Castro, Elsen, ICML 2020): dynamic sparse training from
initialisation, regrowth by the gradient of the training loss.

- Initial masks: ERK (power 1.0, RigL's), exactly N − round(s·N) weights kept, seeded positions.
- Every `interval` = max(`min_update_interval`, round(`update_interval_fraction`·T)) finished
  steps while step < round(`stop_fraction`·T) (no updates in the last 25 %): with
  f = `drop_fraction`·(1 + cos(π·step/stop))/2, each layer with k kept weights drops the ⌊f·k⌋
  active weights of smallest |w| and regrows as many inactive ones (the just-dropped included)
  with the largest |g|, g the dense gradient of the summed task loss Σ_t L_t on the step's own
  training batch (the gradient the optimizer just used, read before the masks zero it). Per-layer
  counts never change; regrown weights start at 0 with zeroed Adam moments.
- Drop, grow, ERK and the schedule are methods/_dst.py, shared with `disparse_dynamic`; what
  differs is the regrowth ranking: one ranking by the summed loss here, against DiSparse's
  per-task gradients on the same step's batch arbitrated by the union rule.

Deviations from the public code (google-research/rigl, sparse_optimizers.py): there a mask-update
iteration replaces that iteration's optimizer step; here the benchmark owns the loop, so the
step is taken and the mask is updated right after it (the grow score is still the gradient of
that step's batch at the pre-step weights, the drop score the post-step magnitudes). There,
N(0, 1e-5) noise breaks ties in the drop score; here ties break by position (stable sort), so
runs are reproducible without extra randomness. Growth is capped at the candidates with a
nonzero gradient (a weight regrown at 0 with no gradient would stay 0 and push the measured
sparsity past the target). The public ImageNet runs keep the first layer dense; here every
prunable layer, the stem included, is one more ERK layer.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch

from bench.method import Context
from methods._dst import DynamicSparseTraining, check_schedule


@dataclass(frozen=True)
class RiglParams:
    # Steps between mask updates as a fraction of the run: RigL's ΔT = 100 steps, i.e. 100 of
    # the 20,000-step paper profiles.
    update_interval_fraction: float = 0.005
    # Floor on that interval in steps, so short runs (the CPU profile) get time to recover.
    min_update_interval: int = 10
    # Mask updates stop at this fraction of the run (RigL: 75 %).
    stop_fraction: float = 0.75
    # Initial update fraction, cosine-decayed to 0 at the stop step (RigL: 0.3).
    drop_fraction: float = 0.3
    # ERK exponent; RigL's ERK is 1.0.
    erk_power_scale: float = 1.0

    def __post_init__(self) -> None:
        check_schedule(self)


class Rigl(DynamicSparseTraining):
    slug = "rigl"
    description = "RigL: ERK sparse training, magnitude drop, regrowth by |∂(Σ_t L_t)/∂w|"
    paper = "Evci, Gale, Menick, Castro, Elsen. Rigging the Lottery: Making All Tickets Winners. ICML 2020"
    Params = RiglParams
    start = "init"
    mask_salt = 0x816
    log_key = "rigl/drop_fraction"

    def __init__(self, params: Any = None) -> None:
        super().__init__(params)
        # |g| of the current step's batch, captured in after_backward of an update step and
        # consumed in its after_step (never across a checkpoint: both happen within one step).
        self._grow_scores: dict[str, torch.Tensor] = {}

    def after_backward(self, ctx: Context) -> None:
        if self.is_update_step(ctx, ctx.step + 1):  # after_step will see ctx.step + 1
            self._grow_scores = {
                w.name: torch.zeros_like(w.param, dtype=torch.float32)
                if w.param.grad is None
                else w.param.grad.detach().float().abs()
                for w in ctx.all_prunable()
            }
        super().after_backward(ctx)  # now the pruned weights' gradients are zeroed

    def regrowth_gradients(self, ctx: Context) -> dict[str, list[torch.Tensor]]:
        scores, self._grow_scores = self._grow_scores, {}
        if not scores:
            raise RuntimeError("rigl: no gradient captured for this update step")
        return {name: [score] for name, score in scores.items()}
