"""Multi-task aware channel pruning of the trained dense model: per-task first-order Taylor
importance (Molchanov et al., CVPR 2019), the union rule on the shared backbone, each head by its
own task.

Start "dense". In `prepare`, `calibration_batches` train batches (counted in the cost) give, for
each task separately and each batch b, the gradient of that task's loss. A channel's importance
for task t is Molchanov et al.'s first-order Taylor criterion for a group of parameters,

    I_t(c) = mean_b ( Σ_{w ∈ S_c} w · ∂L_t,b/∂w )²,

with S_c the weights that write channel c: its filter in every conv whose output channels the
channel's group holds (a residual stage's channels are written by several convs, coupled by
torch-pruning's dependency graph). The signed sum is the loss change a gate on the channel's
output would see when closed, so it is their gate formulation with the gate right after the
convolutions; squaring per batch and averaging over batches is theirs too. Each task's
importances are divided by the group's mean for that task (comparable across layers). A backbone
channel scores the *maximum* over tasks — under one global threshold it stays exactly when at
least one task keeps it (the union rule); a head channel scores its own task's importance only,
so each head is cut by what its task needs. The least important channels go until the target
fraction of conv weights is removed (methods/_structured.py), then the smaller network is
fine-tuned for the steps the budget gives every from-dense run.

The calibration passes run in eval mode (no dropout, BatchNorm statistics untouched), so the
importance is that of the trained model as it predicts.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from bench.method import Context
from methods._structured import ChannelPlan, ChannelPruning, Scores, normalised_scores


@dataclass(frozen=True)
class ChannelMtlParams:
    calibration_batches: int = 4  # train batches whose task gradients score the channels

    def __post_init__(self) -> None:
        if self.calibration_batches < 1:
            raise ValueError(f"calibration_batches must be ≥ 1, got {self.calibration_batches}")


def conv_weights(ctx: Context) -> list[nn.Parameter]:
    return [m.weight for m in ctx.model.modules() if isinstance(m, nn.Conv2d)]  # type: ignore[misc]


def gate_contractions(plan: ChannelPlan, grads: dict[Any, torch.Tensor]) -> Scores:
    """Per group, per channel: Σ w · g over the filters of every conv writing that channel."""
    out = []
    for g, group in enumerate(plan.groups):
        total = torch.zeros(plan.size[g], dtype=torch.float64)
        for item in group:
            conv = item.dep.target.module
            if not (isinstance(conv, nn.Conv2d) and conv in plan.out_of and plan.out_of[conv] == g
                    and plan.graph.is_out_channel_pruning_fn(item.dep.handler)):
                continue
            grad = grads.get(conv.weight)
            if grad is None:
                continue
            idxs = torch.as_tensor(item.idxs)
            local = (conv.weight.detach()[idxs] * grad[idxs]).flatten(1).sum(1)
            total.index_add_(0, torch.as_tensor(item.root_idxs), local.double().cpu())
        out.append(total)
    return out


def task_taylor(ctx: Context, plan: ChannelPlan, n_batches: int) -> dict[str, Scores]:
    """Per task, Molchanov's I_t(c): the per-batch squared gate contraction, averaged."""
    weights = conv_weights(ctx)
    acc = {t: [torch.zeros(n, dtype=torch.float64) for n in plan.size] for t in ctx.tasks}
    was_training = ctx.model.training
    ctx.model.eval()
    try:
        for batch in ctx.calibration_batches(n_batches):
            losses = ctx.task_losses(batch)
            for i, task in enumerate(ctx.tasks):
                found = torch.autograd.grad(losses[task], weights, allow_unused=True,
                                            retain_graph=i < len(ctx.tasks) - 1)
                grads = {w: g.detach() for w, g in zip(weights, found, strict=True) if g is not None}
                for total, c in zip(acc[task], gate_contractions(plan, grads), strict=True):
                    total += c.square()
    finally:
        ctx.model.train(was_training)
    return {t: [(s / n_batches).float() for s in scores] for t, scores in acc.items()}


def head_of(plan: ChannelPlan, g: int, tasks: tuple[str, ...]) -> str | None:
    """The task whose head holds group `g`'s channels, None for a backbone group."""
    names = plan.group_names(g)
    for task in tasks:
        if names and all(n.startswith(f"heads.{task}.") for n in names):
            return task
    return None


class ChannelMtl(ChannelPruning):
    slug = "channel_mtl"
    description = "structured: per-task first-order Taylor channel importance (Σw·g)², union rule on the backbone, then fine-tuning"
    paper = ("Molchanov et al. Importance Estimation for Neural Network Pruning. CVPR 2019 "
             "(per-task Taylor importance; union rule on the shared backbone)")
    Params = ChannelMtlParams

    def scores(self, ctx: Context, plan: ChannelPlan) -> Scores:
        per_task = self.task_scores(ctx, plan)
        out = []
        for g in range(len(plan.groups)):
            task = head_of(plan, g, ctx.tasks)
            if task is not None:
                out.append(per_task[task][g])
            else:  # union rule: kept when any task keeps it under the one global threshold
                out.append(torch.stack([per_task[t][g] for t in ctx.tasks]).amax(0))
        return out

    def task_scores(self, ctx: Context, plan: ChannelPlan) -> dict[str, Scores]:
        taylor = task_taylor(ctx, plan, self.params.calibration_batches)
        return {t: normalised_scores(scores) for t, scores in taylor.items()}
