"""Structured (channel-pruned) runs: their recorded architecture, their rebuild and their sparsity.

A method with `changes_architecture = True` leaves a smaller dense network. Its result.json
records `structured: true` and `architecture.shapes`: every state_dict entry whose shape differs
from the dense architecture built from the run's configuration. `rebuild_model(result)` builds
that dense architecture and gives each recorded entry its pruned shape — convs, BatchNorms and
their channel attributes — so `model.pt` loads into it with nothing but `bench` (no
torch-pruning needed to read a run).

Sparsity of a structured run is measured from the pruned network against the dense
architecture: 1 − (conv weights of the pruned model / conv weights of the dense architecture),
overall, per component and per layer. A removed channel is as gone as a zero weight, and unlike
zeros it costs nothing at inference with ordinary dense kernels.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import torch
from torch import nn

from bench.method import PrunableWeight
from bench.sparsity import SparsityReport

Shapes = Mapping[str, Sequence[int]]


def changed_shapes(state: Mapping[str, torch.Tensor], dense: Shapes) -> dict[str, list[int]]:
    """The entries of `state` whose shape differs from the dense architecture's."""
    return {k: list(v.shape) for k, v in state.items() if tuple(v.shape) != tuple(dense[k])}


@torch.no_grad()
def apply_shapes(model: nn.Module, shapes: Shapes) -> None:
    """Give each named parameter / buffer of `model` the recorded shape (values zeroed: load the
    weights afterwards) and keep its module's channel attributes consistent."""
    touched: dict[str, nn.Module] = {}
    for key, shape in shapes.items():
        path, _, name = key.rpartition(".")
        module = model.get_submodule(path)
        if name in module._parameters and module._parameters[name] is not None:
            old = module._parameters[name]
            assert old is not None
            module._parameters[name] = nn.Parameter(
                torch.zeros(tuple(shape), dtype=old.dtype, device=old.device),
                requires_grad=old.requires_grad)
        elif name in module._buffers and module._buffers[name] is not None:
            old_buf = module._buffers[name]
            assert old_buf is not None
            module._buffers[name] = torch.zeros(tuple(shape), dtype=old_buf.dtype,
                                                device=old_buf.device)
        else:
            raise KeyError(f"{key}: no such parameter or buffer in the model")
        touched[path] = module
    for module in touched.values():
        _sync_attributes(module)


def _sync_attributes(module: nn.Module) -> None:
    if isinstance(module, nn.Conv2d):
        out, per_group = module.weight.shape[:2]
        if module.groups > 1 and module.groups == module.in_channels:  # depthwise stays depthwise
            module.groups = out
        module.out_channels, module.in_channels = out, per_group * module.groups
    elif isinstance(module, nn.modules.batchnorm._BatchNorm):
        ref = module.weight if module.weight is not None else module.running_mean
        assert ref is not None
        module.num_features = ref.shape[0]


def dense_model(result: Mapping[str, Any], device: str | torch.device = "cpu") -> nn.Module:
    """The dense architecture a run was trained on, from its result.json."""
    from bench.models import build_model
    from datasets.registry import dataset_spec

    spec = dataset_spec(result["dataset"])
    width = result["provenance"]["config"]["profile"]["width_mult"]
    with torch.device(device):
        return build_model(result["backbone"], spec.tasks, spec.num_classes, width)


def rebuild_model(result: Mapping[str, Any]) -> nn.Module:
    """The network a run's model.pt holds: the dense architecture, pruned to the recorded shapes
    when the run is structured."""
    model = dense_model(result)
    if result.get("structured"):
        apply_shapes(model, (result.get("architecture") or {}).get("shapes") or {})
    return model


@torch.no_grad()
def measure_structured(prunable: dict[str, list[PrunableWeight]], dense: Shapes) -> SparsityReport:
    """Conv weights removed against the dense architecture (`dense`: state_dict shapes)."""
    by_component: dict[str, float] = {}
    by_layer: dict[str, float] = {}
    kept_all = total_all = 0
    for component, weights in prunable.items():
        kept = total = 0
        for w in weights:
            n_dense = math.prod(dense[f"{w.name}.weight"])
            n = w.weight.numel()
            by_layer[w.name] = 1.0 - n / n_dense
            kept += n
            total += n_dense
        by_component[component] = 1.0 - kept / total if total else 0.0
        kept_all += kept
        total_all += total
    return SparsityReport(
        overall=1.0 - kept_all / total_all if total_all else 0.0,
        by_component=by_component, by_layer=by_layer,
        prunable_total=total_all, prunable_nonzero=kept_all,
    )


def layer_density(report: SparsityReport) -> dict[str, float]:
    """Per layer, the fraction of the dense layer's weights that remain."""
    return {name: 1.0 - s for name, s in report.by_layer.items()}
