"""Streaming evaluation metrics for every task (docs/protocol.md §1).

Each task has an evaluator with `reset / process / evaluate` that pools sums over all valid
pixels of a split, so results are independent of batch size and order. Metric keys and their
directions are those of the `MetricSpec` table in `bench.tasks`; every value is a plain float,
ratios as fractions in [0, 1], angles in degrees.

    ev = MultiTaskEvaluator(("segment_semantic", "normal"), num_classes=40)
    for batch in loader:
        ev.process(model(batch["rgb"]), batch)
    ev.evaluate()  # {"segment_semantic": {"miou": ..., ...}, "normal": {...}}
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

import torch

from bench.metrics.base import TaskEvaluator
from bench.metrics.normal import MEDIAN_BIN_DEGREES, NormalEvaluator
from bench.metrics.regression import AbsErrorEvaluator, DepthEvaluator
from bench.metrics.segmentation import ClassWeights, SegmentationEvaluator
from bench.tasks import TASKS


def make_evaluator(
    task: str, num_classes: int | None, class_weights: ClassWeights | None = None
) -> TaskEvaluator:
    """A fresh evaluator for `task`; `num_classes` (and `class_weights`) only matter for
    `segment_semantic`, where `num_classes` is required."""
    if task == "segment_semantic":
        if num_classes is None:
            raise ValueError("segment_semantic: num_classes is required")
        return SegmentationEvaluator(num_classes, class_weights)
    if task == "normal":
        return NormalEvaluator()
    if task == "depth_zbuffer":
        return DepthEvaluator()
    if task in ("keypoints2d", "edge_texture"):
        return AbsErrorEvaluator(task)
    raise KeyError(f"unknown task {task!r}; known: {', '.join(TASKS)}")


def evaluate(
    task: str,
    pred: torch.Tensor,
    target: torch.Tensor,
    num_classes: int | None = None,
    class_weights: ClassWeights | None = None,
) -> dict[str, float]:
    """Metrics of one whole batch (`pred` the raw head output, `target` as the loader yields
    it). For segmentation `num_classes` defaults to `pred.shape[1]`."""
    if task == "segment_semantic" and num_classes is None:
        num_classes = int(pred.shape[1])
    evaluator = make_evaluator(task, num_classes, class_weights)
    evaluator.process(pred, target)
    return evaluator.evaluate()


class MultiTaskEvaluator:
    """One evaluator per task; `process` takes the model's outputs and a loader batch."""

    def __init__(
        self,
        tasks: Iterable[str],
        num_classes: int | None,
        class_weights: ClassWeights | None = None,
    ) -> None:
        self.evaluators: dict[str, TaskEvaluator] = {
            task: make_evaluator(task, num_classes, class_weights) for task in tasks
        }

    @property
    def tasks(self) -> tuple[str, ...]:
        return tuple(self.evaluators)

    def reset(self) -> None:
        for evaluator in self.evaluators.values():
            evaluator.reset()

    def process(
        self, outputs: Mapping[str, torch.Tensor], batch: Mapping[str, torch.Tensor]
    ) -> None:
        """Accumulate one batch: `outputs[task]` raw head outputs, `batch[task]` targets."""
        for task, evaluator in self.evaluators.items():
            if task not in outputs:
                raise KeyError(f"model outputs have no {task!r} (have: {', '.join(outputs)})")
            if task not in batch:
                raise KeyError(f"batch has no target for {task!r} (has: {', '.join(batch)})")
            evaluator.process(outputs[task], batch[task])

    def evaluate(self) -> dict[str, dict[str, float]]:
        return {task: evaluator.evaluate() for task, evaluator in self.evaluators.items()}


__all__ = [
    "MEDIAN_BIN_DEGREES",
    "AbsErrorEvaluator",
    "DepthEvaluator",
    "MultiTaskEvaluator",
    "NormalEvaluator",
    "SegmentationEvaluator",
    "TaskEvaluator",
    "evaluate",
    "make_evaluator",
]
