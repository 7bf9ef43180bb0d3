"""L1-norm filter pruning (Li et al., ICLR 2017) of the trained dense model, global across layers.

Start "dense": the runner loads the dense run of the same seed (its branch point under the equal
budget, its final weights under the papers'). In `prepare` every
channel group of torch-pruning's dependency graph (methods/_structured.py) is scored by the L1
norm of its weights — the filter's own weights and the input slices of the convs that read it,
averaged over the coupled convs (torch-pruning's group L1) — divided by the group's mean so that
one global ranking spans layers of different scale; the least important channels are removed
until the target fraction of conv weights is gone. The smaller dense network is then
fine-tuned for the steps the budget gives every from-dense run.
"""

from __future__ import annotations

from bench.method import Context
from methods._structured import ChannelPlan, ChannelPruning, Scores, conv_types, normalised


class ChannelL1(ChannelPruning):
    slug = "channel_l1"
    description = "structured: global L1-norm channel pruning of the trained dense model, then fine-tuning"
    paper = "Li, Kadav, Durdanovic, Samet, Graf. Pruning Filters for Efficient ConvNets. ICLR 2017"

    def scores(self, ctx: Context, plan: ChannelPlan) -> Scores:
        import torch_pruning as tp

        l1 = tp.importance.MagnitudeImportance(p=1, group_reduction="mean", normalizer=None,
                                               target_types=conv_types())
        return normalised(l1, plan.groups)
