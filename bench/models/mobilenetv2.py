"""MobileNetV2 backbone (docs/protocol.md §3): the torchvision layout without the classifier, stride 32.

Written from the paper's table (Sandler et al. 2018, Table 2) and torchvision's module layout,
so module names match torchvision's `features` (under the `backbone.` prefix):
`features.0.0` (stem 3×3/2 conv), `features.{1..17}.conv.*` (inverted residual blocks: for
expansion t≠1 `conv.0.0` is the 1×1 expansion, `conv.1.0` the 3×3 depthwise, `conv.2` the 1×1
projection and `conv.3` its BatchNorm; for t=1 `conv.0.0` is depthwise, `conv.1` the
projection), `features.18.0` (last 1×1 conv).

Width rule. For width_mult ≥ 1, channels are `c × width_mult` made divisible by 8 exactly as
torchvision does, and the last conv is 1280 × width_mult. For width_mult < 1 (CPU-sized
builds), channels are made divisible by 4 with a floor of 4 (rounding to multiples of 8 would
keep a 1/8-width model at ≥ 8 channels everywhere, i.e. not much smaller), and the last conv
shrinks too: 1280 × width_mult, same rounding (torchvision keeps it at 1280).

Init follows torchvision: Kaiming-normal (fan_out) convs, BatchNorm (1, 0).
"""

from __future__ import annotations

import torch
from torch import nn

# (expansion t, output channels c, repeats n, first stride s)
INVERTED_RESIDUAL_SETTINGS = (
    (1, 16, 1, 1),
    (6, 24, 2, 2),
    (6, 32, 3, 2),
    (6, 64, 4, 2),
    (6, 96, 3, 1),
    (6, 160, 3, 2),
    (6, 320, 1, 1),
)
STEM_CHANNELS = 32
LAST_CHANNELS = 1280


def make_divisible(value: float, divisor: int, min_value: int | None = None) -> int:
    """Nearest multiple of `divisor` to `value`, at least `min_value`, never below 90% of it."""
    min_value = divisor if min_value is None else min_value
    rounded = max(min_value, int(value + divisor / 2) // divisor * divisor)
    if rounded < 0.9 * value:
        rounded += divisor
    return rounded


def scaled_channels(channels: int, width_mult: float) -> int:
    """Channels of a layer at `width_mult` (see the module docstring for the rule)."""
    divisor = 8 if width_mult >= 1.0 else 4
    return make_divisible(channels * width_mult, divisor)


class ConvBNReLU6(nn.Sequential):
    """Conv (no bias) → BatchNorm → ReLU6; children `0`, `1`, `2` as in torchvision."""

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: int = 3,
        stride: int = 1,
        groups: int = 1,
    ) -> None:
        super().__init__(
            nn.Conv2d(
                in_channels,
                out_channels,
                kernel_size,
                stride=stride,
                padding=(kernel_size - 1) // 2,
                groups=groups,
                bias=False,
            ),
            nn.BatchNorm2d(out_channels),
            nn.ReLU6(inplace=True),
        )


class InvertedResidual(nn.Module):
    """1×1 expansion (if t≠1) → 3×3 depthwise → linear 1×1 projection; residual when shapes match."""

    def __init__(self, in_channels: int, out_channels: int, stride: int, expansion: int) -> None:
        super().__init__()
        hidden = int(round(in_channels * expansion))
        self.use_residual = stride == 1 and in_channels == out_channels
        layers: list[nn.Module] = []
        if expansion != 1:
            layers.append(ConvBNReLU6(in_channels, hidden, kernel_size=1))
        layers += [
            ConvBNReLU6(hidden, hidden, stride=stride, groups=hidden),
            nn.Conv2d(hidden, out_channels, 1, bias=False),
            nn.BatchNorm2d(out_channels),
        ]
        self.conv = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.conv(x)
        return x + out if self.use_residual else out


class MobileNetV2Backbone(nn.Module):
    """N×3×H×W → N×`out_channels`×⌈H/32⌉×⌈W/32⌉ features."""

    def __init__(self, width_mult: float = 1.0) -> None:
        super().__init__()
        in_channels = scaled_channels(STEM_CHANNELS, width_mult)
        last = scaled_channels(LAST_CHANNELS, width_mult) if width_mult != 1.0 else LAST_CHANNELS
        layers: list[nn.Module] = [ConvBNReLU6(3, in_channels, stride=2)]
        for expansion, channels, repeats, stride in INVERTED_RESIDUAL_SETTINGS:
            out_channels = scaled_channels(channels, width_mult)
            for i in range(repeats):
                layers.append(
                    InvertedResidual(in_channels, out_channels, stride if i == 0 else 1, expansion)
                )
                in_channels = out_channels
        layers.append(ConvBNReLU6(in_channels, last, kernel_size=1))
        self.features = nn.Sequential(*layers)
        self.out_channels: int = last
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out")
            elif isinstance(m, nn.BatchNorm2d):
                nn.init.ones_(m.weight)
                nn.init.zeros_(m.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.features(x)  # type: ignore[no-any-return]
