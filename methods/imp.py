"""Iterative magnitude pruning (IMP, Han et al. NeurIPS 2015) of the trained dense model.

Start "dense": the runner loads the dense run of the same seed before `setup` — its branch
point under the equal budget, its final weights under the papers' (bench/train/start.py). Pruning then alternates with fine-tuning, as in Han et al.: `rounds`
rounds, the first at step 0 (on the trained weights), the others evenly spaced up to
`end_fraction` of the fine-tuning budget, each pruning the globally smallest |w| among the
weights still alive, the same fraction p of the survivors each round,
p = 1 − (1 − s)^(1/rounds), so the last round lands exactly on the target (exact counts: round r
leaves round(N·(1−p)^r) weights, the last round(N·(1−s))). The rest of the budget fine-tunes
the final mask. The run trains the steps the budget gives every from-dense run (T − b under the
equal budget, T under the papers'); the dense training it starts from is counted in
`cost.budget_units`.

`IterativeMagnitudePruning` runs any such schedule: a subclass chooses the pruned count and the
step of each round; rounds due at step 0 are cut in `prepare`, later ones in `after_step`
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


def spread(total_steps: int, last: float, rounds: int) -> list[int]:
    """`rounds` steps evenly spaced from 0 to fraction `last` of training (half up)."""
    if rounds == 1:
        return [0]
    end = last * total_steps
    return [min(total_steps, math.floor(end * r / (rounds - 1) + 0.5)) for r in range(rounds)]


def pruned_counts(
    n_weights: int, target_sparsity: float, kept_per_round: float, rounds: int
) -> list[int]:
    """Total pruned after each round when each round keeps `kept_per_round` of the survivors;
    the last count is exactly round(s·N)."""
    counts = [round(n_weights * (1 - kept_per_round**r)) for r in range(1, rounds)]
    counts.append(round(target_sparsity * n_weights))
    return [min(c, counts[-1]) for c in counts]


class IterativeMagnitudePruning(MaskedMethod):
    """Magnitude rounds on a schedule; subclasses set `schedule`."""

    def __init__(self, params: Any = None) -> None:
        super().__init__(params)
        self.rounds_done = 0
        self._schedule: Schedule = []
        self._n_weights = 0

    def schedule(self, ctx: Context, n_weights: int) -> Schedule:
        raise NotImplementedError

    def held_dense(self, ctx: Context) -> set[str]:
        """Prunable weights never pruned; the schedule's counts are taken from the others."""
        return set()

    def setup(self, ctx: Context) -> None:
        super().setup(ctx)
        self._n_weights = sum(w.param.numel() for w in ctx.all_prunable())
        self._schedule = self.schedule(ctx, self._n_weights)

    def prepare(self, ctx: Context) -> None:
        ctx.cost.notes["round_steps"] = [step for step, _ in self._schedule]
        ctx.cost.notes["pruned_after_round"] = [
            round(n / self._n_weights, 6) for _, n in self._schedule
        ]
        self._cut_due(ctx)

    def after_step(self, ctx: Context) -> None:
        super().after_step(ctx)
        self._cut_due(ctx)

    def finalize(self, ctx: Context) -> None:
        if self.rounds_done < len(self._schedule):
            self._cut(ctx, len(self._schedule))
        super().finalize(ctx)

    def _cut_due(self, ctx: Context) -> None:
        due = sum(1 for step, _ in self._schedule if step <= ctx.step)
        if due > self.rounds_done:
            self._cut(ctx, due)

    @torch.no_grad()
    def _cut(self, ctx: Context, rounds: int) -> None:
        """Prune to the count of round `rounds`: the smallest |w| among the survivors."""
        n_pruned = self._schedule[rounds - 1][1]
        dense = self.held_dense(ctx)
        scores = {}
        for name, w in self._weights.items():
            score = w.param.detach().abs().float()
            if name in dense:
                score = torch.full_like(score, math.inf)
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
    # Pruning rounds; the first prunes the trained dense weights at step 0.
    rounds: int = 10
    # Fraction of the fine-tuning budget by which the last round has run; the rest fine-tunes.
    end_fraction: float = 0.5

    def __post_init__(self) -> None:
        if not 0 <= self.end_fraction <= 1:
            raise ValueError(f"end_fraction must be in [0, 1], got {self.end_fraction}")
        if self.rounds < 1:
            raise ValueError(f"rounds must be ≥ 1, got {self.rounds}")


class Imp(IterativeMagnitudePruning):
    slug = "imp"
    description = "iterative global magnitude pruning of the trained dense model, fine-tuning between rounds"
    paper = "Han, Pool, Tran, Dally. Learning both Weights and Connections. NeurIPS 2015"
    Params = ImpParams
    start = "dense"

    def schedule(self, ctx: Context, n_weights: int) -> Schedule:
        if ctx.target_sparsity <= 0:
            return []
        p = self.params
        kept = (1 - ctx.target_sparsity) ** (1 / p.rounds)
        steps = spread(ctx.total_steps, p.end_fraction, p.rounds)
        counts = pruned_counts(n_weights, ctx.target_sparsity, kept, p.rounds)
        return list(zip(steps, counts, strict=True))
