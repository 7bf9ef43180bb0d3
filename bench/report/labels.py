"""How metrics, tasks and numbers are shown: labels, units, decimals (the paper's Table 2 style)."""

from __future__ import annotations

import hashlib
import re
from typing import Any

TASK_LABELS = {
    "segment_semantic": "Semantic Seg.",
    "normal": "Surface Normal",
    "depth_zbuffer": "Depth",
    "keypoints2d": "Keypoints",
    "edge_texture": "Edges",
}
COMPONENT_LABELS = {
    "backbone": "Backbone",
    "segment_semantic": "Seg",
    "normal": "Normal",
    "depth_zbuffer": "Depth",
    "keypoints2d": "Keyp.",
    "edge_texture": "Edge",
    "overall": "Overall",
}
METRIC_LABELS = {
    "miou": "mIoU",
    "pixel_acc": "Pix Acc",
    "ce_err": "CE Err",
    "angle_mean": "Mean",
    "angle_median": "Median",
    "within_11.25": "11.25°",
    "within_22.5": "22.5°",
    "within_30": "30°",
    "cosine": "Cosine",
    "abs_err": "Abs Err",
    "rel_err": "Rel Err",
    "delta1": "δ<1.25",
    "delta2": "δ<1.25²",
    "delta3": "δ<1.25³",
}
# Fractions in [0, 1] shown in percent, as the papers' tables do.
PERCENT_KEYS = {"miou", "pixel_acc", "within_11.25", "within_22.5", "within_30",
                "delta1", "delta2", "delta3"}
DECIMALS = {"abs_err": 4, "rel_err": 4, "cosine": 4, "ce_err": 4}


def task_label(task: str) -> str:
    return TASK_LABELS.get(task, task)


def component_label(component: str) -> str:
    return COMPONENT_LABELS.get(component, component)


def metric_label(key: str) -> str:
    return METRIC_LABELS.get(key, key)


def arrow(higher_is_better: bool | None) -> str:
    return "" if higher_is_better is None else ("↑" if higher_is_better else "↓")


def metric_scale(key: str) -> tuple[float, int]:
    """(multiplier, decimals) for showing a metric."""
    if key in PERCENT_KEYS:
        return 100.0, 2
    return 1.0, DECIMALS.get(key, 2)


def fmt(value: float | None, decimals: int = 2, scale: float = 1.0) -> str:
    if value is None:
        return "–"
    return f"{value * scale:.{decimals}f}"


def cell(stat: dict[str, Any] | None, decimals: int = 2, scale: float = 1.0) -> dict[str, Any]:
    """A table cell: shown mean, shown std (empty for one seed) and the numeric sort key."""
    if not stat or stat.get("mean") is None:
        return {"text": "–", "std": "", "sort": ""}
    std = stat.get("std")
    return {
        "text": fmt(stat["mean"], decimals, scale),
        "std": "" if std is None else "±" + fmt(std, decimals, scale),
        "sort": repr(float(stat["mean"])),
    }


def safe_name(text: str) -> str:
    """A file-name-safe slug; a hash suffix keeps distinct names distinct after cleaning."""
    cleaned = re.sub(r"[^A-Za-z0-9_.-]+", "-", text).strip(".-") or "x"
    if cleaned != text:
        cleaned += "-" + hashlib.sha1(text.encode()).hexdigest()[:8]
    return cleaned


def dom_id(text: str) -> str:
    """An HTML id / CSS-selector-safe version of `text` (letters, digits, `_`, `-`)."""
    return re.sub(r"[^A-Za-z0-9_-]", "_", text.replace("/", "-"))


def mpl_text(text: str) -> str:
    """Matplotlib treats `$...$` as mathtext; show method names literally."""
    return text.replace("$", r"\$")
