"""Iterative magnitude pruning (IMP) inside the dense training budget, no rewind.

Train dense until `start_fraction` of the steps, then at `rounds` evenly spaced rounds (the last
at `end_fraction`) prune the globally smallest |w| among the weights still alive, the same
fraction p of the remaining weights each round, p = 1 − (1 − s)^(1/rounds), so the last round
lands exactly on the target (exact counts: round r leaves round(N·(1−p)^r) weights, the last
round(N·(1−s))). Training goes on with the growing mask to the end; nothing is rewound.

`IterativeMagnitudePruning` below is shared with `lth` (which adds rewinding): a subclass
chooses the pruned count and the step of each round; this class runs the rounds in `after_step`
(several in one step when a short run puts them there, merged into one cut — pruning the k
smallest, then the next j smallest, without training in between, is the same as pruning the
k + j smallest once), and `finalize` performs any round still owed, so the target is always
reached.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import torch

from bench.masks import MaskedMethod, global_topk_masks
from bench.method import Context

Schedule = list[tuple[int, int]]  # per round: (step after which it runs, total pruned after it)


def round_step(total_steps: int, fraction: float) -> int:
    """The step count after which an event at `fraction` of training happens (≥ 1, ≤ total)."""
    return min(max(total_steps, 1), max(1, math.floor(fraction * total_steps + 0.5)))


def spread(total_steps: int, first: float, last: float, rounds: int) -> list[int]:
    """`rounds` steps evenly spaced from fraction `first` to `last` of training."""
    if rounds == 1:
        return [round_step(total_steps, last)]
    return [
        round_step(total_steps, first + (last - first) * r / (rounds - 1)) for r in range(rounds)
    ]


def pruned_counts(
    n_weights: int, target_sparsity: float, kept_per_round: float, rounds: int
) -> list[int]:
    """Total pruned after each round when each round keeps `kept_per_round` of the survivors;
    the last count is exactly round(s·N)."""
    counts = [round(n_weights * (1 - kept_per_round**r)) for r in range(1, rounds)]
    counts.append(round(target_sparsity * n_weights))
    return [min(c, counts[-1]) for c in counts]


class IterativeMagnitudePruning(MaskedMethod):
    """Magnitude rounds on a schedule; subclasses set `schedule` and may override `after_round`."""

    def __init__(self, params: Any = None) -> None:
        super().__init__(params)
        self.rounds_done = 0
        self._schedule: Schedule = []
        self._n_weights = 0

    def schedule(self, ctx: Context, n_weights: int) -> Schedule:
        raise NotImplementedError

    def after_round(self, ctx: Context) -> None:
        """Called once after the rounds due at a step have been cut (LTH rewinds here)."""

    def setup(self, ctx: Context) -> None:
        super().setup(ctx)
        self._n_weights = sum(w.param.numel() for w in ctx.all_prunable())
        self._schedule = self.schedule(ctx, self._n_weights)

    def prepare(self, ctx: Context) -> None:
        ctx.cost.notes["round_steps"] = [step for step, _ in self._schedule]
        ctx.cost.notes["pruned_after_round"] = [
            round(n / self._n_weights, 6) for _, n in self._schedule
        ]

    def after_step(self, ctx: Context) -> None:
        super().after_step(ctx)
        due = sum(1 for step, _ in self._schedule if step <= ctx.step)
        if due > self.rounds_done:
            self._cut(ctx, due)
            self.after_round(ctx)

    def finalize(self, ctx: Context) -> None:
        if self.rounds_done < len(self._schedule):
            self._cut(ctx, len(self._schedule))
        super().finalize(ctx)

    @torch.no_grad()
    def _cut(self, ctx: Context, rounds: int) -> None:
        """Prune to the count of round `rounds`: the smallest |w| among the survivors."""
        n_pruned = self._schedule[rounds - 1][1]
        scores = {}
        for name, w in self._weights.items():
            score = w.param.detach().abs().float()
            mask = self._device_masks.get(name)
            if mask is not None:
                score = score.masked_fill(~mask, -1.0)  # the pruned stay pruned
            scores[name] = score
        self.set_masks(ctx, global_topk_masks(scores, n_pruned / self._n_weights))
        ctx.cost.rounds += rounds - self.rounds_done
        self.rounds_done = rounds

    def state_dict(self) -> dict[str, Any]:
        return {**super().state_dict(), "rounds_done": self.rounds_done}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        super().load_state_dict(state)
        self.rounds_done = int(state.get("rounds_done", 0))


@dataclass(frozen=True)
class ImpParams:
    # Fractions of ctx.total_steps: dense warm-up until the first round, last round at the end.
    start_fraction: float = 0.1
    end_fraction: float = 0.6
    rounds: int = 10

    def __post_init__(self) -> None:
        if not 0 <= self.start_fraction <= self.end_fraction <= 1:
            raise ValueError("need 0 ≤ start_fraction ≤ end_fraction ≤ 1")
        if self.rounds < 1:
            raise ValueError(f"rounds must be ≥ 1, got {self.rounds}")


class Imp(IterativeMagnitudePruning):
    slug = "imp"
    description = "iterative global magnitude pruning during training, no rewind"
    paper = "Han et al. NeurIPS 2015 (iterative magnitude pruning), as run in the AdapMTL paper"
    Params = ImpParams

    def schedule(self, ctx: Context, n_weights: int) -> Schedule:
        if ctx.target_sparsity <= 0:
            return []
        p = self.params
        kept = (1 - ctx.target_sparsity) ** (1 / p.rounds)
        steps = spread(ctx.total_steps, p.start_fraction, p.end_fraction, p.rounds)
        counts = pruned_counts(n_weights, ctx.target_sparsity, kept, p.rounds)
        return list(zip(steps, counts, strict=True))
