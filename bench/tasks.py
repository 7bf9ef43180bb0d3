"""Task names, metric directions and which metrics enter ΔT (docs/protocol.md §1).

This module is the one `MetricSpec` table: ΔT, the aggregate and the report all read it, so a
metric's direction is written down exactly once.
"""

from __future__ import annotations

from dataclasses import dataclass

TASKS = ("segment_semantic", "normal", "depth_zbuffer", "keypoints2d", "edge_texture")
NYU_TASKS = ("segment_semantic", "normal", "depth_zbuffer")
TASKONOMY_TASKS = TASKS

# The label value every segmentation target uses for "do not score this pixel".
IGNORE_INDEX = 255


@dataclass(frozen=True)
class MetricSpec:
    task: str
    key: str
    higher_is_better: bool
    description: str


METRICS: tuple[MetricSpec, ...] = (
    MetricSpec("segment_semantic", "miou", True, "mean IoU over classes present (dataset-level)"),
    MetricSpec("segment_semantic", "pixel_acc", True, "pixel accuracy over labelled pixels"),
    MetricSpec("segment_semantic", "ce_err", False, "(prior-weighted) cross-entropy"),
    MetricSpec("normal", "angle_mean", False, "mean angle error, degrees"),
    MetricSpec("normal", "angle_median", False, "median angle error, degrees"),
    MetricSpec("normal", "within_11.25", True, "fraction of pixels with error < 11.25 deg"),
    MetricSpec("normal", "within_22.5", True, "fraction of pixels with error < 22.5 deg"),
    MetricSpec("normal", "within_30", True, "fraction of pixels with error < 30 deg"),
    MetricSpec("normal", "cosine", True, "mean cosine similarity"),
    MetricSpec("depth_zbuffer", "abs_err", False, "mean absolute error"),
    MetricSpec("depth_zbuffer", "rel_err", False, "mean relative error |p-g|/g"),
    MetricSpec("depth_zbuffer", "delta1", True, "fraction with max(p/g,g/p) < 1.25"),
    MetricSpec("depth_zbuffer", "delta2", True, "fraction with max(p/g,g/p) < 1.25^2"),
    MetricSpec("depth_zbuffer", "delta3", True, "fraction with max(p/g,g/p) < 1.25^3"),
    MetricSpec("keypoints2d", "abs_err", False, "mean absolute error in [-1,1] space"),
    MetricSpec("edge_texture", "abs_err", False, "mean absolute error in [-1,1] space"),
)

_BY_KEY = {(m.task, m.key): m for m in METRICS}

# Which metrics count in ΔT, per scoring rule (docs/protocol.md §1). Synthetic task sets use the rule of
# the dataset they imitate.
DELTA_T_KEYS: dict[str, dict[str, tuple[str, ...]]] = {
    "nyu": {
        "segment_semantic": ("miou", "pixel_acc"),
        "normal": ("angle_mean", "angle_median", "within_11.25", "within_22.5", "within_30"),
        "depth_zbuffer": ("abs_err", "rel_err", "delta1", "delta2", "delta3"),
    },
    "taskonomy": {
        "segment_semantic": ("ce_err",),
        "normal": ("cosine",),
        "depth_zbuffer": ("abs_err",),
        "keypoints2d": ("abs_err",),
        "edge_texture": ("abs_err",),
    },
}


def metric_spec(task: str, key: str) -> MetricSpec:
    try:
        return _BY_KEY[(task, key)]
    except KeyError:
        raise KeyError(f"no metric {task}.{key} in the MetricSpec table") from None


def output_channels(task: str, num_classes: int) -> int:
    """Channels of a task head's output (docs/protocol.md §1)."""
    if task == "segment_semantic":
        return num_classes
    if task == "normal":
        return 3
    if task in ("depth_zbuffer", "keypoints2d", "edge_texture"):
        return 1
    raise KeyError(f"unknown task {task!r}; known: {', '.join(TASKS)}")
