"""DeepLab-ResNet34 backbone (docs/protocol.md §3): a ResNet-34 body with output stride 8.

Layers 3 and 4 keep stride 1 and dilate their 3×3 convs by 2 and 4 instead, as in DeepLab-v2
(every block of a dilated layer is dilated, padding = dilation, so spatial size is kept).
There is no ImageNet pretraining: convs start from N(0, 0.01), BatchNorm from (1, 0).

Module names (used as `PrunableWeight.name` under the `backbone.` prefix): `conv1`, `bn1`,
`layer{1..4}.{block}.conv1|bn1|conv2|bn2`, `layer{2,3,4}.0.downsample.0` (1×1 conv) and
`.downsample.1` (its BatchNorm).
"""

from __future__ import annotations

import torch
from torch import nn

BLOCKS = (3, 4, 6, 3)
WIDTHS = (64, 128, 256, 512)
STRIDES = (1, 2, 1, 1)
DILATIONS = (1, 1, 2, 4)
INIT_STD = 0.01


def scaled_width(channels: int, width_mult: float) -> int:
    """`channels × width_mult`, rounded to the nearest integer, at least 1."""
    return max(1, round(channels * width_mult))


class BasicBlock(nn.Module):
    """Two 3×3 convs with BatchNorm and an identity (or 1×1 conv + BN) shortcut."""

    def __init__(self, in_channels: int, channels: int, stride: int = 1, dilation: int = 1) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(
            in_channels,
            channels,
            3,
            stride=stride,
            padding=dilation,
            dilation=dilation,
            bias=False,
        )
        self.bn1 = nn.BatchNorm2d(channels)
        self.relu = nn.ReLU(inplace=True)
        self.conv2 = nn.Conv2d(
            channels, channels, 3, padding=dilation, dilation=dilation, bias=False
        )
        self.bn2 = nn.BatchNorm2d(channels)
        self.downsample: nn.Module | None = None
        if stride != 1 or in_channels != channels:
            self.downsample = nn.Sequential(
                nn.Conv2d(in_channels, channels, 1, stride=stride, bias=False),
                nn.BatchNorm2d(channels),
            )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        identity = x if self.downsample is None else self.downsample(x)
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return self.relu(out + identity)


class DeepLabResNet34(nn.Module):
    """N×3×H×W → N×`out_channels`×⌈H/8⌉×⌈W/8⌉ features."""

    def __init__(self, width_mult: float = 1.0) -> None:
        super().__init__()
        widths = [scaled_width(w, width_mult) for w in WIDTHS]
        self.conv1 = nn.Conv2d(3, widths[0], 7, stride=2, padding=3, bias=False)
        self.bn1 = nn.BatchNorm2d(widths[0])
        self.relu = nn.ReLU(inplace=True)
        self.maxpool = nn.MaxPool2d(3, stride=2, padding=1)
        in_channels = widths[0]
        layers = []
        for n_blocks, width, stride, dilation in zip(
            BLOCKS, widths, STRIDES, DILATIONS, strict=True
        ):
            blocks = [BasicBlock(in_channels, width, stride, dilation)]
            blocks += [BasicBlock(width, width, 1, dilation) for _ in range(n_blocks - 1)]
            layers.append(nn.Sequential(*blocks))
            in_channels = width
        self.layer1, self.layer2, self.layer3, self.layer4 = layers
        self.out_channels: int = in_channels
        _init_weights(self)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
        return self.layer4(self.layer3(self.layer2(self.layer1(x))))


def _init_weights(model: nn.Module) -> None:
    for m in model.modules():
        if isinstance(m, nn.Conv2d):
            nn.init.normal_(m.weight, 0.0, INIT_STD)
        elif isinstance(m, nn.BatchNorm2d):
            nn.init.ones_(m.weight)
            nn.init.zeros_(m.bias)
