"""DeepLab-v2 ASPP head, one per task (docs/protocol.md §3).

Four parallel branches with atrous rates 6/12/18/24; each is a dilated 3×3 conv to 1024
channels, ReLU, Dropout(0.5), 1×1 conv 1024→1024, ReLU, Dropout(0.5) and a 1×1 classifier to
the task's channels. Branch outputs are summed. All head convs have biases; weights start from
N(0, 0.01) and biases from 0.

A narrower copy (width_mult < 1) multiplies the input of each head conv by the fixed factor
1/√width_mult (`Gain`, no parameters). The heads have no BatchNorm, so with the paper's N(0, 0.01)
at 1/16 width each layer's gain std·√fan-in is 4× below the full-width network's and the output
starts ~60× smaller: the heads sit on a small-initialisation plateau whose length varies from
seed to seed (docs/performance.md, "The embedded default"). The factor restores the paper's
signal gain while the stored weights keep the paper's N(0, 0.01) scale, so criteria that compare
magnitudes across backbone and heads (global magnitude, saliency) see the paper's proportions.
At width 1 there is no factor: exactly the paper's head.

Module names (under `heads.<task>.`): `branches.{0..3}.conv1` (3×3 dilated),
`branches.{i}.conv2` (1×1) and `branches.{i}.classifier` (1×1 to the task's channels).
"""

from __future__ import annotations

import math
from collections import OrderedDict

import torch
from torch import nn

RATES = (6, 12, 18, 24)
HIDDEN = 1024
DROPOUT = 0.5
INIT_STD = 0.01


class ASPPHead(nn.Module):
    """N×`in_channels`×h×w features → N×`out_channels`×h×w task output."""

    def __init__(self, in_channels: int, out_channels: int, width_mult: float = 1.0,
                 dropout: float = DROPOUT) -> None:
        super().__init__()
        hidden = max(1, round(HIDDEN * width_mult))
        self.out_channels = out_channels
        self.branches = nn.ModuleList(
            _branch(in_channels, hidden, out_channels, rate, dropout, 1 / math.sqrt(width_mult))
            for rate in RATES
        )
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.normal_(m.weight, 0.0, INIT_STD)
                if m.bias is not None:
                    nn.init.zeros_(m.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.branches[0](x)
        for branch in self.branches[1:]:
            out = out + branch(x)
        return out


class AtrousConv2d(nn.Conv2d):
    """A dilated 3×3 conv with padding = dilation. When the dilation reaches the feature map's
    size, every off-centre tap reads only zero padding, so the output is exactly the 1×1 conv of
    the centre tap: computed that way, it costs 1/9 of the work. That is the case for every ASPP
    branch on the embedded default's 4×4 feature maps; the weights, their gradients (exactly 0 off
    the centre either way) and the state_dict are unchanged."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        dh, dw = self.dilation
        if dh >= x.shape[-2] and dw >= x.shape[-1] and self.padding == self.dilation:
            return nn.functional.conv2d(x, self.weight[:, :, 1:2, 1:2], self.bias)
        return super().forward(x)


class Gain(nn.Module):
    """Multiplies its input by a fixed factor (see the module docstring); no state."""

    def __init__(self, factor: float) -> None:
        super().__init__()
        self.factor = factor

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * self.factor


class Dropout(nn.Dropout):
    """nn.Dropout (same semantics and state_dict). On CPU the keep-mask comes from uniform
    draws, about 3× faster there than the `bernoulli_` of F.dropout, which took 16% of a
    synthetic_cpu training step; CUDA keeps the fused kernel."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.training or x.is_cuda or not 0 < self.p < 1 or self.inplace:
            return super().forward(x)
        keep = torch.rand_like(x) >= self.p
        return x * keep.to(x.dtype).mul_(1.0 / (1.0 - self.p))


def _branch(in_channels: int, hidden: int, out_channels: int, rate: int,
            dropout: float, gain: float) -> nn.Sequential:
    def gained(name: str, conv: nn.Conv2d) -> list[tuple[str, nn.Module]]:
        return ([(f"gain_{name}", Gain(gain))] if gain != 1 else []) + [(name, conv)]

    return nn.Sequential(OrderedDict([
        *gained("conv1", AtrousConv2d(in_channels, hidden, 3, padding=rate, dilation=rate)),
        ("relu1", nn.ReLU(inplace=True)),
        ("drop1", Dropout(dropout)),
        *gained("conv2", nn.Conv2d(hidden, hidden, 1)),
        ("relu2", nn.ReLU(inplace=True)),
        ("drop2", Dropout(dropout)),
        *gained("classifier", nn.Conv2d(hidden, out_channels, 1)),
    ]))
