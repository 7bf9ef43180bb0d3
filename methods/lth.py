"""Lottery ticket hypothesis (Frankle & Carbin, ICLR 2019), compressed into one training budget.

Each round prunes `fraction_pruned_per_round` (20 %) of the surviving weights by global
magnitude, then rewinds the whole network — surviving weights, biases, BatchNorm affine
parameters and running statistics — to its values at initialisation (kept from `prepare`) and
resets the optimizer's state. Rounds needed: R = ⌈log(1 − s) / log(1 − 0.2)⌉, the last one
cutting only what is left to land exactly on the target. The rounds end the R equal training
segments of the first `end_fraction` of the steps; the final ticket then trains, from its
initial values, for the rest.

Deviation: the paper retrains each ticket for a full schedule (R+1 full trainings); here all
rounds share the dense budget of ctx.total_steps, and the learning-rate schedule is *not*
rewound (it keeps decaying over the whole run), so the final ticket trains at the learning rate
of the second part of the schedule. See docs/methods.md.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import torch

from bench.method import Context
from methods.imp import IterativeMagnitudePruning, Schedule, pruned_counts, spread


def rounds_needed(target_sparsity: float, fraction_pruned_per_round: float) -> int:
    """Smallest R with (1 − p)^R ≤ 1 − s (a hair of slack for float error at exact powers)."""
    if target_sparsity <= 0:
        return 0
    ratio = math.log(1 - target_sparsity) / math.log(1 - fraction_pruned_per_round)
    return max(1, math.ceil(ratio - 1e-9))


@dataclass(frozen=True)
class LthParams:
    # Frankle & Carbin prune 20 % of the remaining weights per round.
    fraction_pruned_per_round: float = 0.2
    # Fraction of ctx.total_steps by which the last round has happened.
    end_fraction: float = 0.5

    def __post_init__(self) -> None:
        if not 0 < self.fraction_pruned_per_round < 1:
            raise ValueError("fraction_pruned_per_round must be in (0, 1)")
        if not 0 < self.end_fraction <= 1:
            raise ValueError("end_fraction must be in (0, 1]")


class Lth(IterativeMagnitudePruning):
    slug = "lth"
    description = "lottery ticket: 20% magnitude rounds, rewind to init after each, one budget"
    paper = "Frankle, Carbin. The Lottery Ticket Hypothesis. ICLR 2019"
    Params = LthParams

    def __init__(self, params: Any = None) -> None:
        super().__init__(params)
        self.initial_state: dict[str, torch.Tensor] = {}

    def schedule(self, ctx: Context, n_weights: int) -> Schedule:
        p = self.params
        rounds = rounds_needed(ctx.target_sparsity, p.fraction_pruned_per_round)
        if rounds == 0:
            return []
        # Equal segments: round r ends segment r of [0, end_fraction].
        steps = spread(ctx.total_steps, p.end_fraction / rounds, p.end_fraction, rounds)
        counts = pruned_counts(
            n_weights, ctx.target_sparsity, 1 - p.fraction_pruned_per_round, rounds
        )
        return list(zip(steps, counts, strict=True))

    def prepare(self, ctx: Context) -> None:
        super().prepare(ctx)
        # On the CPU: a full-size model is ~0.4 GB, better kept out of accelerator memory.
        self.initial_state = {
            k: v.detach().to("cpu", copy=True) for k, v in ctx.model.state_dict().items()
        }
        ctx.cost.notes["rewind"] = "to init (all parameters and buffers); optimizer reset"

    @torch.no_grad()
    def after_round(self, ctx: Context) -> None:
        ctx.model.load_state_dict(self.initial_state)  # copies in place: optimizer refs hold
        self.apply_masks()
        ctx.reset_optimizer_state()

    def state_dict(self) -> dict[str, Any]:
        return {**super().state_dict(), "initial_state": self.initial_state}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        super().load_state_dict(state)
        self.initial_state = {k: v.cpu() for k, v in state.get("initial_state", {}).items()}
