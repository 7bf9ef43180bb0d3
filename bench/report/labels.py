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
# The unit a header shows; what the cells are in (percent for the fractions above).
DEGREE_KEYS = {"angle_mean", "angle_median"}
# Every abbreviation a table header uses, spelled out in the legend under the tables.
LEGEND = {
    "mIoU": "mean intersection-over-union over the classes present, %",
    "Pix Acc": "pixel accuracy over labelled pixels, %",
    "CE Err": "cross-entropy error of the segmentation (prior-weighted on Taskonomy), "
              "lower is better",
    "Mean, Median": "mean and median angle between predicted and true surface normals, °",
    "11.25°, 22.5°, 30°": "share of pixels whose normal is within that angle of the truth, %",
    "Cosine": "mean cosine similarity of predicted and true normals",
    "Abs Err": "mean absolute depth error (in the dataset's depth units; keypoints and edges: "
               "in [-1, 1] space)",
    "Rel Err": "mean relative depth error |prediction − truth| / truth",
    "δ<1.25ⁿ": "share of pixels with max(prediction/truth, truth/prediction) below 1.25ⁿ, %",
    "ΔT_i": "relative change of task i's metrics against dense, summed with their directions, %",
    "ΔT": "vs dense multi-task: mean of ΔT_i over tasks, % (higher is better); ± is the "
          "half-width of the 95 % interval over seeds",
    "Δm": "vs single-task: ΔT's formula with each task's reference the dense single-task "
          "network of that task (mean over its seeds), % (higher is better; – without "
          "single-task runs); ± as for ΔT",
    "Group": "rank group: the ranks that pairwise t-tests between the methods of the table "
             "(Holm-corrected) leave possible (e.g. 1–3); bold: not significantly worse than "
             "the leader",
    "Start": "where the method starts: init (random initialisation) or dense (the trained dense "
             "model of the same seed)",
    "Budget": "total training cost in units of one dense run's budget; a table ranks one "
              "budget only",
    "Seeds": "number of seeds averaged",
    "Verified": "bench verify: held-out seeds retrained and each checked against the row's 95 % "
                "prediction interval for a new seed; \"verified 2/2 on AVX2\": both inside, "
                "trained with AVX2 kernels; \"failed 1/2\": one of two inside; not verified: "
                "none yet, or the row changed since (docs/verify.md)",
    "↑ / ↓": "higher / lower is better",
    "†": "reported beside ΔT but not counted in it",
}


def task_label(task: str) -> str:
    return TASK_LABELS.get(task, task)


def component_label(component: str) -> str:
    return COMPONENT_LABELS.get(component, component)


def metric_label(key: str) -> str:
    return METRIC_LABELS.get(key, key)


_LEGEND_TERM = {"miou": "mIoU", "pixel_acc": "Pix Acc", "ce_err": "CE Err",
                "angle_mean": "Mean, Median", "angle_median": "Mean, Median",
                "within_11.25": "11.25°, 22.5°, 30°", "within_22.5": "11.25°, 22.5°, 30°",
                "within_30": "11.25°, 22.5°, 30°", "cosine": "Cosine", "abs_err": "Abs Err",
                "rel_err": "Rel Err", "delta1": "δ<1.25ⁿ", "delta2": "δ<1.25ⁿ", "delta3": "δ<1.25ⁿ"}
_ALWAYS = ("ΔT", "Δm", "ΔT_i", "Group", "Seeds", "Start", "Budget", "Verified", "↑ / ↓")


def legend_items(tables: list[dict[str, Any]]) -> list[tuple[str, str]]:
    """The legend's (term, meaning) pairs for the metric columns these tables show."""
    terms = {_LEGEND_TERM.get(m["key"], "") for t in tables for m in t["metrics"]}
    if any(not m["in_delta_t"] for t in tables for m in t["metrics"]):
        terms.add("†")
    return [(term, meaning) for term, meaning in LEGEND.items() if term in terms or term in _ALWAYS]


def metric_unit(key: str) -> str:
    """The unit a header shows for a metric's cells: "%" for fractions shown in percent, "°"."""
    return "%" if key in PERCENT_KEYS else ("°" if key in DEGREE_KEYS else "")


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
