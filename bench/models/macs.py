"""Multiply-accumulate counts of one forward pass (batch 1), per prunable layer.

Counts come from forward hooks on every `nn.Conv2d` / `nn.Linear`: a conv costs
output elements × (in_channels / groups) × kh × kw, a linear output elements × in_features.
Biases, BatchNorm, activations and pooling are not counted (they are not prunable and are a
small share). The pass runs on the meta device — parameters and buffers are swapped for meta
tensors with `torch.func.functional_call` — so a full-size model costs nothing to count and the
model itself is left untouched.

`sparse_macs` is ShrinkBench's "theoretical" sparse cost: each layer's dense MACs times the
fraction of its weights that are non-zero. It assumes zero weights are skipped for free.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

import torch
from torch import nn


def layer_macs(model: nn.Module, input_size: tuple[int, int]) -> dict[str, int]:
    """MACs per conv / linear layer, keyed by the module's full name (= `PrunableWeight.name`).

    `input_size` is (height, width) of one 3-channel image. A module that runs several times in
    one pass is counted every time.
    """
    counts: dict[str, int] = {}
    handles = []
    for name, module in model.named_modules():
        if isinstance(module, (nn.Conv2d, nn.Linear)):
            counts[name] = 0
            handles.append(module.register_forward_hook(_counter(name, counts)))
    was_training = model.training
    model.eval()  # no dropout, and BatchNorm accepts a 1×1 map at batch 1
    try:
        try:
            _meta_forward(model, input_size)
        except (RuntimeError, NotImplementedError):
            # A module holding a plain (non-buffer) tensor cannot mix with meta tensors: count
            # with a real forward pass on the model's own device instead.
            counts.update(dict.fromkeys(counts, 0))
            _real_forward(model, input_size)
    finally:
        model.train(was_training)
        for handle in handles:
            handle.remove()
    return counts


def component_macs(model: nn.Module, input_size: tuple[int, int]) -> dict[str, int]:
    """MACs per component (`backbone`, one per task head) and `total`.

    `model` must have `prunable_weights()` (a `MultiTaskModel`); its grouping decides which
    layer belongs to which component.
    """
    per_layer = layer_macs(model, input_size)
    groups = model.prunable_weights()  # type: ignore[operator]
    result = {
        component: sum(per_layer[w.name] for w in weights) for component, weights in groups.items()
    }
    result["total"] = sum(result.values())
    return result


def sparse_macs(layer_macs: Mapping[str, int], density_by_layer: Mapping[str, float]) -> int:
    """Σ over layers of MACs × density (non-zero fraction of the layer's weight), rounded.

    Every layer of `layer_macs` needs a density; a missing one is an error rather than silently
    counted dense or empty.
    """
    missing = [name for name in layer_macs if name not in density_by_layer]
    if missing:
        raise KeyError(f"no density for layer(s): {', '.join(missing[:5])}")
    total = 0.0
    for name, macs in layer_macs.items():
        density = float(density_by_layer[name])
        if not 0.0 <= density <= 1.0:
            raise ValueError(f"density of {name} must be in [0, 1], got {density}")
        total += macs * density
    return round(total)


def _counter(name: str, counts: dict[str, int]) -> Callable[..., None]:
    def hook(module: nn.Module, inputs: tuple[torch.Tensor, ...], output: torch.Tensor) -> None:
        if isinstance(module, nn.Conv2d):
            kh, kw = module.kernel_size
            per_output = module.in_channels // module.groups * kh * kw
        elif isinstance(module, nn.Linear):
            per_output = module.in_features
        else:  # only conv and linear layers get this hook
            raise TypeError(f"cannot count MACs of {type(module).__name__}")
        counts[name] += output.numel() * per_output

    return hook


def _meta_forward(model: nn.Module, input_size: tuple[int, int]) -> None:
    height, width = input_size
    x = torch.empty(1, 3, height, width, device="meta")
    tensors = {
        name: torch.empty_like(t, device="meta")
        for name, t in (*model.named_parameters(), *model.named_buffers())
    }
    with torch.no_grad():
        torch.func.functional_call(model, tensors, (x,), strict=False)


def _real_forward(model: nn.Module, input_size: tuple[int, int]) -> None:
    first = next(model.parameters(), None)
    device = first.device if first is not None else torch.device("cpu")
    with torch.no_grad():
        model(torch.zeros(1, 3, *input_size, device=device))
