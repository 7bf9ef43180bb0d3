"""Gradual magnitude pruning (Zhu & Gupta, ICLR-W 2018) from initialisation, in one budget.

Train dense from initialisation until t0 = `start_fraction`·T; then every Δt =
max(1, round(`pruning_interval_fraction`·T)) finished steps up to t1 = `end_fraction`·T, prune the
globally smallest |w| among the surviving weights so that the sparsity follows the cubic schedule
(Zhu & Gupta eq. 1 with s_i = 0):

    s_t = s_f · (1 − (1 − (t − t0)/(t1 − t0))³)

(exact count round(s_t·N) at each event, never decreasing; the event at t1 lands exactly on
round(s_f·N)). Training goes on with the final mask to the end. The scorer is |w|, the selector
the global top-k and the schedule this cubic: the rounds machinery is `imp`'s
(`IterativeMagnitudePruning`), which also performs any event owed at `finalize`.

Defaults: t0 = 20 %, t1 = 75 %, Δt = 1 % of the run. Zhu & Gupta prescribe the cubic shape and
Δt of 100 to 1000 steps but no universal t0/t1; these are the fractions of the GMP baseline in
the RigL authors' public code (google-research/rigl, CIFAR: pruning from step 20,000 to 75,000 of
97,656, every 1,000 steps), rounded.

First layer: the stem convolution is held dense (`prune_first_layer: false`), as in the GMP
baseline of the RigL authors' code (CIFAR flag `prune_first_layer` False; ImageNet
`first_layer_sparsity` 0). There the other layers then take the target sparsity and the model as
a whole ends a little below it; here every row must measure the same sparsity, so the exact
count round(s_f·N) over all prunable weights is taken from the other layers (the stem is 588 of
the embedded model's 357,036 prunable weights, so at 90 % the others end at 90.15 %).

Deviation: the paper's (and TF model_pruning's) masks are per layer, every layer at s_t; here
the threshold is global across all prunable weights (backbone and heads), as docs/protocol.md
§5 specifies and as the other magnitude baselines here (`imp`, `lth`) rank.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from bench.method import Context
from methods.imp import IterativeMagnitudePruning, Schedule


@dataclass(frozen=True)
class GmpParams:
    # Fractions of ctx.total_steps: first and last pruning event (t0, t1).
    start_fraction: float = 0.2
    end_fraction: float = 0.75
    # Δt, the steps between pruning events, as a fraction of the run (at least one step).
    pruning_interval_fraction: float = 0.01
    # False: the stem convolution stays dense (the RigL code's GMP baseline).
    prune_first_layer: bool = False

    def __post_init__(self) -> None:
        if not 0 <= self.start_fraction < self.end_fraction <= 1:
            raise ValueError("need 0 ≤ start_fraction < end_fraction ≤ 1")
        if not 0 < self.pruning_interval_fraction <= 1:
            raise ValueError("pruning_interval_fraction must be in (0, 1]")


def cubic_sparsity(step: int, t0: int, t1: int, final_sparsity: float) -> float:
    """Zhu & Gupta's s_t (s_i = 0): 0 up to t0, s_f from t1 on, cubic in between."""
    if step <= t0:
        return 0.0
    if step >= t1:
        return final_sparsity
    return final_sparsity * (1 - (1 - (step - t0) / (t1 - t0)) ** 3)


def cubic_schedule(
    total_steps: int, n_weights: int, target_sparsity: float, t0_fraction: float,
    t1_fraction: float, interval_fraction: float,
) -> Schedule:
    """(step, total pruned after it) at every event t0 + kΔt in (t0, t1], plus t1 itself."""
    if target_sparsity <= 0:
        return []
    t0 = min(total_steps, math.floor(t0_fraction * total_steps + 0.5))
    t1 = max(t0 + 1, min(total_steps, math.floor(t1_fraction * total_steps + 0.5)))
    dt = max(1, round(interval_fraction * total_steps))
    steps = sorted({*range(t0 + dt, t1, dt), t1})
    final = round(target_sparsity * n_weights)
    counts = [round(cubic_sparsity(s, t0, t1, target_sparsity) * n_weights) for s in steps]
    counts[-1] = final  # exact target at t1
    return [(s, min(c, final)) for s, c in zip(steps, counts, strict=True)]


class Gmp(IterativeMagnitudePruning):
    slug = "gmp"
    description = "gradual magnitude pruning: cubic schedule, global |w|, from initialisation"
    paper = "Zhu, Gupta. To prune, or not to prune: exploring the efficacy of pruning for model compression. ICLR Workshop 2018"
    Params = GmpParams
    start = "init"

    def held_dense(self, ctx: Context) -> set[str]:
        return set() if self.params.prune_first_layer else {ctx.prunable["backbone"][0].name}

    def prepare(self, ctx: Context) -> None:
        ctx.cost.notes["held_dense"] = sorted(self.held_dense(ctx))
        super().prepare(ctx)

    def schedule(self, ctx: Context, n_weights: int) -> Schedule:
        p = self.params
        return cubic_schedule(
            ctx.total_steps, n_weights, ctx.target_sparsity,
            p.start_fraction, p.end_fraction, p.pruning_interval_fraction,
        )
