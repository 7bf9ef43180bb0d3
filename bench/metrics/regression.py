"""Single-channel regression tasks: depth (masked) and keypoints / edges (all pixels)."""

from __future__ import annotations

import numpy as np
import torch

from bench.metrics.base import TaskEvaluator, as_channel_map

DELTA_BASE = 1.25


class DepthEvaluator(TaskEvaluator):
    """Streaming depth metrics over valid pixels (ground truth g > 0) of a split.

    `abs_err` = mean |p − g|, `rel_err` = mean |p − g| / g, `delta_k` = fraction of pixels with
    max(p/g, g/p) < 1.25^k (k = 1, 2, 3), in the dataset's units (metres for NYU-v2, the
    log-normalised space for Taskonomy). The prediction is used as the head gives it (no
    clamping) for the errors; a pixel with p ≤ 0 has no meaningful ratio and counts as a miss
    for every `delta_k`.
    """

    task = "depth_zbuffer"

    def reset(self) -> None:
        self._count = 0
        self._abs_sum = 0.0
        self._rel_sum = 0.0
        self._delta_hits = np.zeros(3, dtype=np.int64)

    def _process_chunk(self, pred: torch.Tensor, target: torch.Tensor) -> None:
        target = as_channel_map(target)
        _check_single_channel(self.task, pred, target)
        valid = target > 0
        p, g = pred[valid], target[valid]
        if g.numel() == 0:
            return
        abs_err = (p - g).abs()
        self._count += int(g.numel())
        self._abs_sum += float(abs_err.sum())
        self._rel_sum += float((abs_err / g).sum())
        positive = p > 0
        p_safe = torch.where(positive, p, torch.ones_like(p))
        ratio = torch.maximum(p_safe / g, g / p_safe)
        ratio = torch.where(positive, ratio, torch.full_like(ratio, float("inf")))
        for k in range(3):
            self._delta_hits[k] += int((ratio < DELTA_BASE ** (k + 1)).sum())

    def evaluate(self) -> dict[str, float]:
        n = self._count
        self._require(n)
        out = {"abs_err": self._abs_sum / n, "rel_err": self._rel_sum / n}
        for k in range(3):
            out[f"delta{k + 1}"] = float(self._delta_hits[k]) / n
        return out


class AbsErrorEvaluator(TaskEvaluator):
    """Streaming mean |p − g| over every pixel (keypoints2d, edge_texture; [-1, 1] space)."""

    def __init__(self, task: str) -> None:
        self.task = task
        super().__init__()

    def reset(self) -> None:
        self._count = 0
        self._abs_sum = 0.0

    def _process_chunk(self, pred: torch.Tensor, target: torch.Tensor) -> None:
        target = as_channel_map(target)
        _check_single_channel(self.task, pred, target)
        self._count += int(target.numel())
        self._abs_sum += float((pred - target).abs().sum())

    def evaluate(self) -> dict[str, float]:
        self._require(self._count)
        return {"abs_err": self._abs_sum / self._count}


def _check_single_channel(task: str, pred: torch.Tensor, target: torch.Tensor) -> None:
    if pred.shape[1] != 1 or target.shape[1] != 1:
        raise ValueError(
            f"{task}: expected N×1 pred and target, got {tuple(pred.shape)} and "
            f"{tuple(target.shape)}"
        )
