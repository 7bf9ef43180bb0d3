"""Channel pruning on torch-pruning's dependency graph, shared by `channel_l1` and `channel_mtl`.

A structured method removes whole output channels, so the pruned network is a smaller dense
network. Which channels must go together (a residual stage's channels across every block and
its shortcut, the BatchNorm after a conv, the input channels of every consumer — the four ASPP
branches of every task head read the backbone's last channels) is not written here: it is what
torch-pruning's `DependencyGraph` traces. One *group* is a set of coupled channels pruned
together; a subclass scores each group's channels, and `ChannelPlan.select` removes the
lowest-scored channels across all groups (global ranking) until the removed prunable weights
reach the target.

Fixed interfaces: the stem's 3 input channels and each head's classifier outputs (the task's
channels) are never pruned (classifiers are ignored as group roots; the input is no layer's
output). Every group keeps at least one channel.

Hitting the target. Removing one channel removes a different number of weights per group (and
that number shrinks as the consumers lose channels), so a single global threshold moves the
pruned fraction in steps — one channel of the backbone's last stage carries every head's ASPP
inputs. Selection therefore walks the channels from the least important up and takes each one
whose removal does not overshoot the target count; it stops once within 0.1 pp of the target.
The weights counted are the conv weights (`ctx.prunable`), exactly as the benchmark measures
a structured run (bench/structured.py).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, ClassVar

import torch
from torch import nn

from bench.method import Context, PruningMethod

Scores = list[torch.Tensor]  # one score per channel of each group, in group order
STOP_WITHIN = 0.001  # stop filling once the removed fraction is this close below the target


def trace_input(ctx: Context) -> torch.Tensor:
    """An input for tracing the graph; its values and size do not change the coupling."""
    return torch.zeros(1, 3, 64, 64, device=ctx.device)


class ChannelPlan:
    """The dependency graph of `model` and, per group, the convs whose output or input channels
    it holds (for counting the weights a choice removes)."""

    def __init__(self, model: nn.Module, example: torch.Tensor, keep: list[nn.Module]) -> None:
        import torch_pruning as tp

        was_training = model.training
        model.eval()  # tracing runs a forward pass: BatchNorm statistics must not move
        try:
            self.graph = tp.DependencyGraph().build_dependency(
                model, example_inputs=example, verbose=False,
                output_transform=lambda out: sum(v.float().sum() for v in out.values()),
            )
        finally:
            model.train(was_training)
        self.names = {m: n for n, m in model.named_modules()}
        self.groups = list(self.graph.get_all_groups(ignored_layers=keep,
                                                     root_module_types=[nn.Conv2d]))
        self.convs = [m for m in model.modules() if isinstance(m, nn.Conv2d)]
        self.out_of: dict[nn.Conv2d, int] = {}  # conv → index of the group holding its outputs
        self.in_of: dict[nn.Conv2d, int] = {}
        for g, group in enumerate(self.groups):
            for item in group:
                module = item.dep.target.module
                if isinstance(module, nn.Conv2d):
                    role = self.out_of if self.graph.is_out_channel_pruning_fn(item.dep.handler) else self.in_of
                    role.setdefault(module, g)
        self.size = [len(group[0].idxs) for group in self.groups]

    def group_names(self, g: int) -> list[str]:
        """Names of the convs whose output channels group `g` holds."""
        return [self.names[c] for c, i in self.out_of.items() if i == g]

    def weights(self, kept: list[int]) -> int:
        """Conv weights of the network when group g keeps `kept[g]` channels."""
        return sum(self._numel(conv, kept) for conv in self.convs)

    def _numel(self, conv: nn.Conv2d, kept: list[int]) -> int:
        out = kept[self.out_of[conv]] if conv in self.out_of else conv.out_channels
        kh, kw = conv.kernel_size
        if conv.groups > 1 and conv.groups == conv.in_channels:  # depthwise: one input each
            return out * kh * kw
        inp = kept[self.in_of[conv]] if conv in self.in_of else conv.in_channels
        return out * (inp // conv.groups) * kh * kw

    def select(self, scores: Scores, target: float, dense_weights: int) -> list[list[int]]:
        """Channels to remove per group: the least important first, each taken unless it would
        overshoot round(target × dense_weights) removed weights."""
        kept = list(self.size)
        goal = round(target * dense_weights)
        removed = dense_weights - self.weights(kept)
        order = sorted(((float(s), g, c) for g, score in enumerate(scores)
                        for c, s in enumerate(score.tolist())))
        chosen: list[list[int]] = [[] for _ in self.groups]
        touched = {g: [c for c in self.convs if self.out_of.get(c) == g or self.in_of.get(c) == g]
                   for g in range(len(self.groups))}
        for _, g, c in order:
            if goal - removed <= STOP_WITHIN * dense_weights:
                break
            if kept[g] <= 1:
                continue
            before = sum(self._numel(conv, kept) for conv in touched[g])
            kept[g] -= 1
            delta = before - sum(self._numel(conv, kept) for conv in touched[g])
            if removed + delta > goal:
                kept[g] += 1
                continue
            removed += delta
            chosen[g].append(c)
        return chosen

    def prune(self, chosen: list[list[int]]) -> None:
        for group, idxs in zip(self.groups, chosen, strict=True):
            if idxs:
                group.prune(idxs=sorted(idxs), record_history=False)


def fixed_interfaces(model: nn.Module) -> list[nn.Module]:
    """The convs whose outputs are the task outputs: never group roots."""
    heads = getattr(model, "heads", {})
    return [m for head in heads.values() for name, m in head.named_modules()
            if isinstance(m, nn.Conv2d) and name.endswith("classifier")]


def conv_types() -> list[type]:
    return [nn.modules.conv._ConvNd]


class ChannelPruning(PruningMethod):
    """Prunes channels once in `prepare` (from the trained dense model), then fine-tunes the
    smaller network for the steps the budget gives it. Subclasses implement `scores`."""

    start = "dense"
    changes_architecture: ClassVar[bool] = True

    def scores(self, ctx: Context, plan: ChannelPlan) -> Scores:
        raise NotImplementedError

    def prepare(self, ctx: Context) -> None:
        if ctx.target_sparsity <= 0:
            return
        plan = ChannelPlan(ctx.model, trace_input(ctx), fixed_interfaces(ctx.model))
        dense_weights = plan.weights(plan.size)
        chosen = plan.select(self.scores(ctx, plan), ctx.target_sparsity, dense_weights)
        plan.prune(chosen)
        ctx.rebuild_optimizer()  # the pruned convs hold new, smaller Parameters
        ctx.cost.rounds += 1
        ctx.cost.notes["channels_removed"] = sum(len(c) for c in chosen)
        ctx.cost.notes["channels_total"] = sum(plan.size)


def normalised(importance: Callable[[Any], torch.Tensor], groups: list[Any]) -> Scores:
    """Each group's channel importance divided by its mean (`normalised_scores`)."""
    return normalised_scores([importance(group).detach().float().cpu() for group in groups])


def normalised_scores(scores: Scores) -> Scores:
    """Each group's scores divided by their mean: comparable across layers of different scale,
    so one global ranking can be made (torch-pruning's "mean" normaliser)."""
    return [s / s.mean() if float(s.mean()) > 0 else torch.ones_like(s) for s in scores]
