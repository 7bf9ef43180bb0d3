"""The networks `bench latency-paper` times: the paper-size model and its pruned copies.

Latency depends on the architecture and the kernels, not on what the weights learned, so the
models are built from the model builder's random initialisation (the paper's N(0, 0.01) for
every conv) and pruned with the benchmark's own code:

- structured (channel_l1, channel_mtl): the method's own `prepare` — torch-pruning's dependency
  graph, the method's channel scores and the global selection of methods/_structured.py — on a
  copy of the random network, at the structured target. channel_mtl's task gradients come from
  synthetic calibration batches (random images and random labels): its scores, and so the
  architecture it keeps, are those of a random network, not of a trained one;
- unstructured: global magnitude (the smallest |w| over every prunable weight set to zero) at
  the unstructured target; with one N(0, 0.01) draw for every conv this zeroes about the target
  fraction of every layer. It stands for the unstructured rows, whose trained layer densities
  differ from method to method.
"""

from __future__ import annotations

import copy
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from bench.method import Batch, Context
from bench.models import MultiTaskModel, build_model

WEIGHTS = "random (architecture pruned with the method's criterion; latency only)"
UNSTRUCTURED_METHOD = "global_magnitude"


@dataclass(frozen=True)
class Calibration:
    """Synthetic batches for a method that needs task gradients (channel_mtl)."""

    batch_size: int = 2
    size: tuple[int, int] = (128, 128)

    def describe(self, n_batches: int) -> str:
        h, w = self.size
        return (f"{n_batches} synthetic batches of {self.batch_size} random {h}×{w} images with "
                "random labels (latency only: the scores are a random network's)")


def paper_model(backbone: str, tasks: tuple[str, ...], num_classes: int, width_mult: float,
                seed: int) -> MultiTaskModel:
    """The model builder's network at `width_mult`, randomly initialised from `seed`, eval."""
    torch.manual_seed(seed)
    return build_model(backbone, tasks, num_classes, width_mult).eval()


def conv_weights(model: nn.Module) -> int:
    """Conv weights of `model`: what a structured run's sparsity counts (bench/structured.py)."""
    return sum(m.weight.numel() for m in model.modules() if isinstance(m, nn.Conv2d))


def _random_batch(tasks: tuple[str, ...], num_classes: int, calibration: Calibration,
                  generator: torch.Generator, device: torch.device) -> Batch:
    n, (h, w) = calibration.batch_size, calibration.size
    batch: Batch = {"rgb": torch.randn(n, 3, h, w, generator=generator)}
    for task in tasks:
        if task == "segment_semantic":
            batch[task] = torch.randint(0, num_classes, (n, h, w), generator=generator)
        elif task == "normal":
            normals = torch.randn(n, 3, h, w, generator=generator)
            batch[task] = normals / normals.norm(dim=1, keepdim=True)
        else:  # depth and the other dense regression targets: positive values
            batch[task] = torch.rand(n, 1, h, w, generator=generator) + 0.1
    return {k: v.to(device) for k, v in batch.items()}


def _context(model: MultiTaskModel, target: float, seed: int, num_classes: int,
             calibration: Calibration, device: torch.device) -> Context:
    from bench.losses import task_losses

    tasks = model.tasks
    ctx = Context(model=model, prunable=model.prunable_weights(),
                  optimizer=torch.optim.SGD(model.parameters(), lr=0.0), tasks=tasks,
                  target_sparsity=target, total_steps=1, seed=seed, device=device)
    generator = torch.Generator().manual_seed(seed)

    def batches() -> Iterator[Batch]:
        while True:
            yield _random_batch(tasks, num_classes, calibration, generator, device)

    ctx._calibration = batches
    ctx._task_losses = lambda b: task_losses(model(b["rgb"]), b)
    return ctx


def structured_copy(dense: MultiTaskModel, slug: str, target: float, params: dict[str, Any],
                    num_classes: int, seed: int, calibration: Calibration,
                    device: torch.device) -> tuple[MultiTaskModel, dict[str, Any]]:
    """A copy of `dense` channel-pruned by method `slug`'s own `prepare` at `target`, and what
    was done: measured sparsity (conv weights removed), channels removed, calibration used."""
    from bench.registry import get_method_class
    from bench.typed import build

    cls = get_method_class(slug)
    if not cls.changes_architecture:
        raise ValueError(f"{slug} is not a structured (channel-removing) method")
    model = copy.deepcopy(dense).to(device)
    method = cls(build(cls.Params, params, f"method_params.{slug}"))
    ctx = _context(model, target, seed, num_classes, calibration, device)
    method.prepare(ctx)
    model.eval()
    before, after = conv_weights(dense), conv_weights(model)
    n_batches = ctx.cost.extra_forward_backward
    return model, {
        "measured_sparsity": 1.0 - after / before,
        "conv_weights": {"dense": before, "pruned": after},
        "by_component": _component_sparsity(dense, model),
        "channels_removed": ctx.cost.notes.get("channels_removed"),
        "channels_total": ctx.cost.notes.get("channels_total"),
        "criterion": f"{slug}'s own scores and selection ({cls.__module__})",
        "calibration": calibration.describe(n_batches) if n_batches else None,
        "method_params": params,
    }


def _component_sparsity(dense: MultiTaskModel, pruned: MultiTaskModel) -> dict[str, float]:
    def sizes(model: MultiTaskModel) -> dict[str, int]:
        return {c: sum(w.weight.numel() for w in ws if isinstance(w.module, nn.Conv2d))
                for c, ws in model.prunable_weights().items()}

    before, after = sizes(dense), sizes(pruned)
    return {c: 1.0 - after[c] / before[c] for c in before if before[c]}


@torch.no_grad()
def magnitude_copy(dense: MultiTaskModel, target: float) -> tuple[MultiTaskModel, dict[str, Any]]:
    """A copy of `dense` with the `target` fraction of its prunable weights (smallest |w| over
    all of them at once) set to zero, and its measured sparsity per layer and overall."""
    model = copy.deepcopy(dense)
    weights = [w.weight for ws in model.prunable_weights().values() for w in ws]
    magnitudes = torch.cat([w.detach().abs().flatten() for w in weights])
    k = round(target * magnitudes.numel())
    if k > 0:
        threshold = magnitudes.kthvalue(k).values
        for w in weights:
            w.mul_((w.abs() > threshold).to(w.dtype))
    density = {w.name: float((w.weight != 0).float().mean())
               for ws in model.prunable_weights().values() for w in ws}
    zeros = sum(int((w == 0).sum()) for w in weights)
    layer_sparsity = [1.0 - d for d in density.values()]
    return model, {
        "measured_sparsity": zeros / magnitudes.numel(),
        "density_by_layer": density,
        "layer_sparsity_range": [min(layer_sparsity), max(layer_sparsity)],
        "criterion": "global magnitude: the smallest |w| over every prunable weight at once",
    }
