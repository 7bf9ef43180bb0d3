"""Surface normals: angle error statistics and mean cosine similarity."""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

from bench.metrics.base import TaskEvaluator

# Resolution of the streaming median: the angle range [0°, 180°] is cut into bins this wide.
MEDIAN_BIN_DEGREES = 0.01
_NUM_BINS = int(round(180.0 / MEDIAN_BIN_DEGREES))
THRESHOLDS_DEGREES = (11.25, 22.5, 30.0)
_THRESHOLD_KEYS = ("within_11.25", "within_22.5", "within_30")


class NormalEvaluator(TaskEvaluator):
    """Streaming normal metrics over valid pixels (ground-truth norm > 0) of a split.

    The prediction is upsampled bilinearly to label resolution, then L2-normalised per pixel
    (a predicted zero vector stays zero: cosine 0, error 90°); the target is normalised too.
    Error = degrees(arccos(clip(cos, −1, 1))).

    - `angle_mean`: mean error; `within_t`: fraction of pixels with error < t (strict), exact.
    - `angle_median`: from a histogram of 0.01°-wide bins over [0°, 180°]. The median is the
      mean of the centres of the bins that hold the two middle order statistics (the same one
      for odd counts), so it is within half a bin (0.005°) of the exact median.
    - `cosine`: mean cosine similarity.
    """

    task = "normal"

    def reset(self) -> None:
        self._count = 0
        self._angle_sum = 0.0
        self._cos_sum = 0.0
        self._within = np.zeros(len(THRESHOLDS_DEGREES), dtype=np.int64)
        self._histogram = np.zeros(_NUM_BINS, dtype=np.int64)

    def _process_chunk(self, pred: torch.Tensor, target: torch.Tensor) -> None:
        if pred.shape[1] != 3 or target.dim() != 4 or target.shape[1] != 3:
            raise ValueError(
                f"normal: expected N×3 pred and target, got {tuple(pred.shape)} and "
                f"{tuple(target.shape)}"
            )
        target = target.to(torch.float64)
        valid = (target != 0).any(dim=1)  # (a norm over dim 1 is slow on CPU)
        if not bool(valid.any()):
            return
        p = F.normalize(pred.permute(0, 2, 3, 1)[valid], dim=1)
        g = F.normalize(target.permute(0, 2, 3, 1)[valid], dim=1)
        cos = (p * g).sum(dim=1).clamp(-1.0, 1.0)
        angle = torch.rad2deg(torch.acos(cos))
        self._count += int(angle.numel())
        self._angle_sum += float(angle.sum())
        self._cos_sum += float(cos.sum())
        for i, t in enumerate(THRESHOLDS_DEGREES):
            self._within[i] += int((angle < t).sum())
        bins = (angle / MEDIAN_BIN_DEGREES).long().clamp(0, _NUM_BINS - 1)
        self._histogram += torch.bincount(bins, minlength=_NUM_BINS).cpu().numpy()

    def evaluate(self) -> dict[str, float]:
        n = self._count
        self._require(n)
        cumulative = np.cumsum(self._histogram)
        middle = np.array([(n - 1) // 2, n // 2])  # 0-based ranks of the middle values
        bins = np.searchsorted(cumulative, middle, side="right")
        median = float(((bins + 0.5) * MEDIAN_BIN_DEGREES).mean())
        out = {"angle_mean": self._angle_sum / n, "angle_median": median}
        for key, hits in zip(_THRESHOLD_KEYS, self._within, strict=True):
            out[key] = float(hits) / n
        out["cosine"] = self._cos_sum / n
        return out
