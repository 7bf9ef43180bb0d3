"""The streaming-evaluator contract (detectron2 style: `reset / process / evaluate`).

Every evaluator keeps sums over all valid pixels of the split (a dataset-level confusion matrix,
error sums, a histogram for the median), so its result does not depend on the evaluation batch
size or on batch order (docs/protocol.md §1). Per-pixel work runs in float64 on whatever device the
prediction lives on; each chunk is reduced there to a few numbers that are added to float64 /
int64 accumulators on the CPU. Large batches are processed in chunks of images so the float64
copies stay bounded in memory.
"""

from __future__ import annotations

from abc import ABC, abstractmethod

import torch

from bench.losses import to_label_resolution

# Upper bound on elements of one float64 chunk at label resolution (2**24 ≈ 128 MiB).
CHUNK_ELEMENTS = 1 << 24


class TaskEvaluator(ABC):
    """Accumulates one task's metrics over a split; `evaluate` returns plain floats."""

    task: str = ""

    def __init__(self) -> None:
        self.reset()

    @abstractmethod
    def reset(self) -> None:
        """Forget everything processed so far."""

    @abstractmethod
    def evaluate(self) -> dict[str, float]:
        """Metrics over everything processed since the last `reset`."""

    @abstractmethod
    def _process_chunk(self, pred: torch.Tensor, target: torch.Tensor) -> None:
        """Accumulate one chunk: `pred` float64 at label resolution, `target` on its device."""

    def process(self, pred: torch.Tensor, target: torch.Tensor) -> None:
        """Add one batch: `pred` the head's raw output, `target` as the loader yields it."""
        if pred.dim() != 4:
            raise ValueError(f"{self.task}: pred must be N×C×h×w, got shape {tuple(pred.shape)}")
        if target.shape[0] != pred.shape[0]:
            raise ValueError(
                f"{self.task}: pred has {pred.shape[0]} samples but target has {target.shape[0]}"
            )
        per_sample = pred.shape[1] * target.shape[-2] * target.shape[-1]
        step = max(1, CHUNK_ELEMENTS // max(1, per_sample))
        with torch.no_grad(), torch.autocast(device_type=pred.device.type, enabled=False):
            for start in range(0, pred.shape[0], step):
                chunk = pred[start : start + step].detach().to(torch.float64)
                chunk = to_label_resolution(chunk, target.shape[-2:])
                self._process_chunk(chunk, target[start : start + step].to(chunk.device))

    def _require(self, count: float) -> None:
        if count <= 0:
            raise ValueError(f"{self.task}: no valid pixels were processed; nothing to evaluate")


def as_channel_map(target: torch.Tensor) -> torch.Tensor:
    """A single-channel target as N×1×H×W (accepts N×H×W too), in float64."""
    if target.dim() == 3:
        target = target.unsqueeze(1)
    return target.to(torch.float64)
