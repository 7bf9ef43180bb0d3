"""The multi-task model and its prunable-weight grouping (interface used by the whole bench)."""

from __future__ import annotations

import torch
from torch import nn

from bench.method import PrunableWeight


class MultiTaskModel(nn.Module):
    """`backbone` maps N×3×H×W to features; `heads[task]` maps features to that task's output.

    `forward` returns {task: raw head output} at feature resolution (H/8 for ResNet34, H/32 for
    MobileNetV2); losses and metrics upsample to label resolution (bilinear).
    """

    def __init__(self, backbone: nn.Module, heads: dict[str, nn.Module]) -> None:
        super().__init__()
        self.backbone = backbone
        self.heads = nn.ModuleDict(heads)

    @property
    def tasks(self) -> tuple[str, ...]:
        return tuple(self.heads.keys())

    def forward(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        features = self.backbone(x)
        return {task: head(features) for task, head in self.heads.items()}

    def prunable_weights(self) -> dict[str, list[PrunableWeight]]:
        """Every conv / linear weight, grouped by component: `backbone`, then one per task."""
        groups: dict[str, list[PrunableWeight]] = {"backbone": []}
        groups["backbone"] = _collect("backbone", "backbone", self.backbone)
        for task, head in self.heads.items():
            groups[task] = _collect(task, f"heads.{task}", head)
        return groups


def _collect(component: str, prefix: str, module: nn.Module) -> list[PrunableWeight]:
    # Names are the module's path in the whole model, so they are unique across components.
    return [
        PrunableWeight(component, f"{prefix}.{name}" if name else prefix, m)
        for name, m in module.named_modules()
        if isinstance(m, (nn.Conv2d, nn.Linear))
    ]


def build_model(
    backbone: str,
    tasks: tuple[str, ...],
    num_classes: int,
    width_mult: float = 1.0,
    head_dropout: float = 0.5,
) -> MultiTaskModel:
    """Build the paper's network (width_mult=1, head_dropout=0.5) or a narrower copy of it."""
    from bench.models.heads import ASPPHead
    from bench.models.mobilenetv2 import MobileNetV2Backbone
    from bench.models.resnet34 import DeepLabResNet34
    from bench.tasks import output_channels

    if backbone == "resnet34":
        body: nn.Module = DeepLabResNet34(width_mult=width_mult)
    elif backbone == "mobilenetv2":
        body = MobileNetV2Backbone(width_mult=width_mult)
    else:
        raise KeyError(f"unknown backbone {backbone!r} (known: resnet34, mobilenetv2)")
    in_ch: int = body.out_channels  # type: ignore[assignment]
    heads: dict[str, nn.Module] = {
        t: ASPPHead(in_ch, output_channels(t, num_classes), width_mult=width_mult,
                    dropout=head_dropout)
        for t in tasks
    }
    return MultiTaskModel(body, heads)
