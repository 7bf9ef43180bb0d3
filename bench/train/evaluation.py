"""Evaluate a model on one split with the streaming evaluators (bench/metrics)."""

from __future__ import annotations

from collections.abc import Callable

import torch

from bench.data import PreparedDataset, eval_batches
from bench.metrics import MultiTaskEvaluator


@torch.no_grad()
def evaluate_split(
    forward: Callable[[torch.Tensor], dict[str, torch.Tensor]],
    model: torch.nn.Module,
    dataset: PreparedDataset,
    batch_size: int,
    device: torch.device,
    autocast: torch.autocast,
    channels_last: bool = False,
    tasks: tuple[str, ...] | None = None,
) -> dict[str, dict[str, float]]:
    """Metrics of `tasks` (default: every task of the dataset; a single-task network has one)."""
    was_training = model.training
    model.eval()
    evaluator = MultiTaskEvaluator(tasks or dataset.tasks, dataset.num_classes,
                                   dataset.class_weights)
    try:
        for batch in eval_batches(dataset, batch_size, device=device):
            rgb = batch["rgb"]
            if channels_last:
                rgb = rgb.contiguous(memory_format=torch.channels_last)
            with autocast:
                outputs = forward(rgb)
            evaluator.process({t: o.float() for t, o in outputs.items()}, batch)
    finally:
        model.train(was_training)
    return evaluator.evaluate()
