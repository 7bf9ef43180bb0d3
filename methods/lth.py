"""Lottery ticket with late rewinding (Frankle, Dziugaite, Roy, Carbin, ICML 2020), one-shot.

Start "dense", with the rewind checkpoint: the runner loads the dense run of the same seed into
the model — its branch point under the equal budget, its final weights under the papers' — and
hands over that run's early checkpoint (`rewind.pt`, saved at the dense method's
`rewind_fraction`, 5 % of its steps: step k) as `ctx.rewind_state` (bench/train/start.py).
In `prepare` the mask keeps the globally largest |w| of the loaded dense weights, exactly
round(s·N) pruned; the whole network — surviving weights, biases, BatchNorm parameters and
running statistics — is then rewound to the checkpoint, the mask applied, the optimizer state
reset, and the ticket trains with the mask fixed for the steps the budget gives every from-dense
run, its learning rate rewound with its weights (the dense schedule from step k, as Frankle et
al. continue the schedule from the rewind point).

One-shot, as the lottery-ticket baseline of the AdapMTL paper's comparison is one pruning of a
trained model. Iterative LTH (20 % per round, a full retraining each) needs R chained full
trainings, each the parent of the next; the runner does not chain runs, so it is not offered
(docs/methods.md). Deviation from Frankle et al.: the ticket trains T − b steps (equal budget)
or T (papers') after the rewind, where the paper trains T − k; what its weights have seen, in
steps, is in docs/methods.md.
"""

from __future__ import annotations

import torch

from bench.masks import MaskedMethod, global_topk_masks
from bench.method import Context


class Lth(MaskedMethod):
    slug = "lth"
    description = "lottery ticket: magnitude mask of the trained dense model, rewound to its early checkpoint"
    paper = (
        "Frankle, Dziugaite, Roy, Carbin. Linear Mode Connectivity and the Lottery Ticket "
        "Hypothesis. ICML 2020 (late rewinding); Frankle, Carbin. ICLR 2019"
    )
    start = "dense"
    needs_rewind = True

    @torch.no_grad()
    def prepare(self, ctx: Context) -> None:
        if ctx.rewind_state is None:
            raise RuntimeError("lth needs the dense run's rewind checkpoint in ctx.rewind_state")
        scores = {w.name: w.param.detach().abs() for w in ctx.all_prunable()}
        masks = global_topk_masks(scores, ctx.target_sparsity)
        ctx.model.load_state_dict(ctx.rewind_state)  # copies in place: optimizer refs hold
        self.set_masks(ctx, masks)
        ctx.reset_optimizer_state()
        ctx.cost.rounds += 1
        ctx.cost.notes["rewind"] = "to the dense run's rewind checkpoint (all parameters and buffers); optimizer reset"
