"""Multi-task aware channel pruning of the trained dense model: per-task first-order Taylor
importance, the union rule on the shared backbone, each head by its own task.

Start "dense". In `prepare`, `calibration_batches` train batches (counted in the cost) give, for
each task separately, the gradient of that task's loss; a channel's importance for the task is
the first-order Taylor estimate |w · ∂L_t/∂w| summed over its weights, averaged over the coupled
convs of its group (torch-pruning's group Taylor) and divided by the group's mean for that task.
A backbone channel scores the *maximum* over tasks — under one global threshold it stays exactly
when at least one task keeps it (the union rule); a head channel scores its own task's
importance only, so each head is cut by what its task needs. The least important channels go
until the target fraction of conv weights is removed (methods/_structured.py), then the smaller
network is fine-tuned for the profile's whole budget.

The calibration passes run in eval mode (no dropout, BatchNorm statistics untouched), so the
importance is that of the trained model as it predicts.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from bench.method import Context
from methods._structured import ChannelPlan, ChannelPruning, Scores, conv_types, normalised


@dataclass(frozen=True)
class ChannelMtlParams:
    calibration_batches: int = 4  # train batches whose task gradients score the channels

    def __post_init__(self) -> None:
        if self.calibration_batches < 1:
            raise ValueError(f"calibration_batches must be ≥ 1, got {self.calibration_batches}")


def task_gradients(ctx: Context, n_batches: int) -> dict[str, dict[nn.Parameter, torch.Tensor]]:
    """Per task, the gradient of its loss summed over `n_batches` calibration batches, for every
    conv weight."""
    weights: list[nn.Parameter] = [m.weight for m in ctx.model.modules()  # type: ignore[misc]
                                   if isinstance(m, nn.Conv2d)]
    grads = {t: [torch.zeros_like(w) for w in weights] for t in ctx.tasks}
    was_training = ctx.model.training
    ctx.model.eval()
    try:
        for batch in ctx.calibration_batches(n_batches):
            losses = ctx.task_losses(batch)
            for i, task in enumerate(ctx.tasks):
                found = torch.autograd.grad(losses[task], weights, allow_unused=True,
                                            retain_graph=i < len(ctx.tasks) - 1)
                for acc, g in zip(grads[task], found, strict=True):
                    if g is not None:
                        acc += g.detach()
    finally:
        ctx.model.train(was_training)
    return {t: dict(zip(weights, gs, strict=True)) for t, gs in grads.items()}


def head_of(plan: ChannelPlan, g: int, tasks: tuple[str, ...]) -> str | None:
    """The task whose head holds group `g`'s channels, None for a backbone group."""
    names = plan.group_names(g)
    for task in tasks:
        if names and all(n.startswith(f"heads.{task}.") for n in names):
            return task
    return None


class ChannelMtl(ChannelPruning):
    slug = "channel_mtl"
    description = "structured: per-task Taylor channel importance, union rule on the backbone, then fine-tuning"
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
        import torch_pruning as tp

        taylor = tp.importance.GroupTaylorImportance(group_reduction="mean", normalizer=None,
                                                     target_types=conv_types())
        grads = task_gradients(ctx, self.params.calibration_batches)
        saved: dict[nn.Parameter, torch.Tensor | None] = {w: w.grad for w in grads[ctx.tasks[0]]}
        per_task: dict[str, Scores] = {}
        try:
            for task in ctx.tasks:
                for w, g in grads[task].items():
                    w.grad = g
                per_task[task] = normalised(taylor, plan.groups)
        finally:
            for w, old in saved.items():
                w.grad = old
        return per_task
