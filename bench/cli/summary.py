"""`bench summary`: parameter and MAC counts of a model, built on the meta device (no memory)."""

from __future__ import annotations

import argparse
import json
from typing import Any

from datasets.registry import DATASETS

DEFAULT_INPUT_SIZE = {"nyuv2": (480, 640), "taskonomy": (224, 224)}
SYNTHETIC_INPUT_SIZE = (64, 64)


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    parser = sub.add_parser(
        "summary",
        help="parameter counts and MACs per component of a model",
        description="Build a model on the meta device and print its parameters (all, and "
        "prunable conv/linear weights) and forward MACs per component.",
    )
    parser.add_argument("--backbone", choices=("resnet34", "mobilenetv2"), default="resnet34")
    parser.add_argument(
        "--dataset", choices=sorted(DATASETS), default="nyuv2", help="decides tasks and classes"
    )
    parser.add_argument(
        "--width-mult", type=_positive_float, default=1.0, help="channel multiplier (default 1)"
    )
    parser.add_argument(
        "--input-size",
        type=_positive_int,
        nargs=2,
        metavar=("H", "W"),
        default=None,
        help="input height and width for MACs (default: 480 640 for nyuv2, 224 224 for "
        "taskonomy, 64 64 for the synthetic datasets)",
    )
    parser.add_argument("--json", action="store_true", help="print JSON instead of a table")
    parser.set_defaults(handler=run)


def default_input_size(dataset: str, synthetic: bool) -> tuple[int, int]:
    if synthetic:
        return SYNTHETIC_INPUT_SIZE
    return DEFAULT_INPUT_SIZE.get(dataset, SYNTHETIC_INPUT_SIZE)


def summarize(
    backbone: str, dataset: str, width_mult: float = 1.0, input_size: tuple[int, int] | None = None
) -> dict[str, Any]:
    """Counts of the model `bench` would build for `dataset` (see `run` for the keys)."""
    import torch

    from bench.models import build_model
    from bench.models.macs import component_macs
    from datasets.registry import dataset_spec

    spec = dataset_spec(dataset)
    if input_size is None:
        input_size = default_input_size(spec.name, spec.synthetic)
    with torch.device("meta"):
        model = build_model(backbone, spec.tasks, spec.num_classes, width_mult=width_mult)
    params: dict[str, Any] = {"backbone": _count(model.backbone)}
    for task in spec.tasks:
        params[task] = _count(model.heads[task])
    params["total"] = _count(model)
    by_component = {
        component: sum(w.weight.numel() for w in weights)
        for component, weights in model.prunable_weights().items()
    }
    params["prunable"] = sum(by_component.values())
    return {
        **params,
        "prunable_by_component": by_component,
        "macs": component_macs(model, input_size),
        "input_size": list(input_size),
        "width_mult": width_mult,
        "backbone_name": backbone,
        "dataset": dataset,
    }


def run(args: argparse.Namespace) -> int:
    """Print JSON keys `backbone`, each task, `total`, `prunable` (parameter counts),
    `prunable_by_component`, `macs`, `input_size`, `width_mult`, `backbone_name`, `dataset`."""
    input_size = tuple(args.input_size) if args.input_size else None
    summary = summarize(args.backbone, args.dataset, args.width_mult, input_size)  # type: ignore[arg-type]
    if args.json:
        print(json.dumps(summary, indent=2))
    else:
        print(format_table(summary))
    return 0


def format_table(summary: dict[str, Any]) -> str:
    components = list(summary["prunable_by_component"])
    h, w = summary["input_size"]
    lines = [
        f"{summary['backbone_name']} on {summary['dataset']}, width_mult "
        f"{summary['width_mult']:g}, MACs at {h}x{w} (batch 1)",
        f"{'component':<20} {'params':>14} {'prunable':>14} {'MACs':>18}",
    ]
    for name in components:
        lines.append(
            f"{name:<20} {summary[name]:>14,} {summary['prunable_by_component'][name]:>14,} "
            f"{summary['macs'][name]:>18,}"
        )
    lines.append(
        f"{'total':<20} {summary['total']:>14,} {summary['prunable']:>14,} "
        f"{summary['macs']['total']:>18,}"
    )
    return "\n".join(lines)


def _positive_float(text: str) -> float:
    value = float(text)
    if not value > 0:
        raise argparse.ArgumentTypeError(f"must be positive, got {text}")
    return value


def _positive_int(text: str) -> int:
    value = int(text)
    if value <= 0:
        raise argparse.ArgumentTypeError(f"must be positive, got {text}")
    return value


def _count(module: Any) -> int:
    return sum(p.numel() for p in module.parameters())
