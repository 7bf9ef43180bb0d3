"""The accuracy–speed figure: ΔT against measured latency and against theoretical MACs.

One point per method × target sparsity (the leaderboard entry: mean ΔT over seeds, its 95 %
interval as the error bar), and the dense reference at (1, 0). Left panel: measured CPU latency
relative to the dense network, from `bench latency --grid` (reports/latency.json, one seed):
the fastest measured path of that run over its own dense baseline timed in turn with it — for an
unstructured run the best of dense kernels / CSR / per-layer hybrid, for a structured one its
smaller network against the unpruned architecture. Right panel: theoretical MACs relative to
dense (the entry's `cost.macs_ratio`: non-zero weights only, or the smaller network's own MACs).
The Pareto front — points no other point beats on both axes (faster and higher ΔT) — is joined
by a line and ringed.

Which size each speed comes from is marked: the latency axis names the embedded input size the
filled points were timed at, and the paper-size reference (`bench latency-paper`: full-width
network at 321×321, random weights, CPU, batch 1) adds a hollow marker per structured method at
its paper-size latency and the method's embedded ΔT (the reference has no accuracy), joined to
the filled point, and a dotted vertical line at the unstructured reference's best sparse path.
Each method keeps its colour and marker (bench/report/style.py); point labels are placed so that
none overlaps another (bench/report/label_place.py).
"""

from __future__ import annotations

from typing import Any

import matplotlib.pyplot as plt

from bench.report.figures import FigureRef, FigureWriter, _style
from bench.report.label_place import place_labels
from bench.report.labels import mpl_text
from bench.report.speed_reference import reference_speeds
from bench.report.stats import ci95
from bench.report.style import DENSE

ALT_PREFIX = "Accuracy against speed"


def _relative_latency(measured: dict[str, Any]) -> float | None:
    """Measured latency over the run's dense baseline, the fastest CPU path (1 / speed-up)."""
    speedups = [p["speedup_vs_dense"] for k, p in (measured.get("paths") or {}).items()
                if k != "semi_structured_2to4" and isinstance(p, dict) and p.get("available")
                and isinstance(p.get("speedup_vs_dense"), (int, float)) and p["speedup_vs_dense"] > 0]
    return 1.0 / max(speedups) if speedups else None


def speed_points(tables: list[dict[str, Any]], latency: dict[str, Any] | None) -> list[dict[str, Any]]:
    """One point per leaderboard entry: method, target, ΔT mean and interval, both x values."""
    runs = (latency or {}).get("runs") or {}
    points = []
    for table in tables:
        for entry in table["entries"]:
            measured = next((runs[r["path"]] for r in entry["runs"] if r["path"] in runs), None)
            points.append({
                "method": mpl_text(entry["method"]), "target": table["target_sparsity"],
                "mean": float(entry["delta_t"]["mean"]), "ci": ci95(entry["delta_t"]),
                "latency": _relative_latency(measured) if measured else None,
                "macs": (entry.get("cost") or {}).get("macs_ratio"),
            })
    return points


def pareto(points: list[tuple[float, float]]) -> list[tuple[float, float]]:
    """The points no other beats on both axes (lower x, higher y), sorted by x."""
    front = []
    best = float("-inf")
    for x, y in sorted(points, key=lambda p: (p[0], -p[1])):
        if y > best:
            front.append((x, y))
            best = y
    return front


def measured_size(latency: dict[str, Any] | None) -> str | None:
    """The input size the grid's latencies were measured at (e.g. "128×128")."""
    sizes = {"×".join(map(str, e["input_size"])) for e in ((latency or {}).get("runs") or {}).values()
             if isinstance(e, dict) and e.get("input_size")}
    return ", ".join(sorted(sizes)) or None


def _reference_marks(ax: Any, w: FigureWriter, mine: list[dict[str, Any]],
                     reference: dict[str, Any] | None) -> list[tuple[float, float]]:
    """The paper-size reference on the latency panel; the points it drew (to keep labels off)."""
    speeds = reference_speeds(reference)
    drawn: list[tuple[float, float]] = []
    size = next((s["size"] for s in speeds.values()), "")
    for method, speed in sorted(speeds.items()):
        if not speed["structured"]:
            ax.axvline(speed["relative_latency"], color="0.45", linestyle=(0, (1, 2)),
                       linewidth=1, label=f"unstructured {100 * speed['target']:.0f}% at {size} "
                       "(best sparse path" + (", within noise)" if speed["within_noise"] else ")"))
            continue
        label = mpl_text(method)
        for p in mine:
            if p["method"] != label or abs(p["target"] - speed["target"]) > 1e-9:
                continue
            x = float(speed["relative_latency"])
            style = w.style(label)
            ax.plot([p["latency"], x], [p["mean"], p["mean"]], color=style.colour, linewidth=0.8,
                    linestyle=":")
            ax.plot([x], [p["mean"]], marker=style.marker, markersize=6, linestyle="none",
                    markerfacecolor="white", markeredgecolor=style.colour, markeredgewidth=1.2)
            drawn.append((x, p["mean"]))
    if drawn:
        ax.plot([], [], marker="o", markerfacecolor="white", markeredgecolor="0.3", linestyle="none",
                label=f"hollow: structured at {size}")
    return drawn


def _usual_target(points: list[dict[str, Any]]) -> float | None:
    """The target most points have: their labels leave it out (the caption names it)."""
    targets = [p["target"] for p in points]
    return max(sorted(set(targets)), key=targets.count) if targets else None


def _point_label(point: dict[str, Any], usual: float | None) -> str:
    if usual is not None and abs(point["target"] - usual) < 1e-9:
        return str(point["method"])
    return f"{point['method']} {100 * point['target']:.0f}%"


def _panel_title(key: str, size: str | None, marks: list[tuple[float, float]],
                 reference: dict[str, Any] | None) -> str:
    if key != "latency":
        return "non-zero weights' MACs (no kernel skips zeros)"
    filled = f"filled: embedded model at {size}" if size else "embedded model"
    if not reference:
        return filled
    return f"{filled}\npaper size: {reference_label(reference)}"


def reference_label(reference: dict[str, Any] | None) -> str:
    if not reference:
        return ""
    return (f"{'×'.join(map(str, reference['input_size']))}, width ×{reference['model']['width_mult']:g}, "
            f"random weights, CPU batch 1")


def accuracy_speed(w: FigureWriter, setting: str, tables: list[dict[str, Any]],
                   latency: dict[str, Any] | None,
                   reference: dict[str, Any] | None = None) -> FigureRef:
    title = f"Accuracy vs speed — {setting}"
    points = speed_points(tables, latency)
    size = measured_size(latency)
    panels = [("latency", "measured CPU latency / dense"), ("macs", "theoretical MACs / dense")]
    panels = [(key, label) for key, label in panels
              if any(isinstance(p[key], (int, float)) for p in points)]
    if not panels:
        return FigureRef(title, note="no measured latency or MACs to plot (bench latency --grid)")
    usual = _usual_target(points)
    with _style():
        fig, axes = plt.subplots(1, len(panels), figsize=(4.6 * len(panels) + 2.2, 4.6),
                                 sharey=True, squeeze=False)
        marks: dict[str, list[tuple[float, float]]] = {}
        for ax, (key, label) in zip(axes[0], panels, strict=True):
            mine = [p for p in points if isinstance(p[key], (int, float))]
            ax.axhline(0, color="0.35", linestyle="--", linewidth=1)
            ax.plot([1.0], [0.0], marker=DENSE.marker, color=DENSE.colour, linestyle="none",
                    label="dense")
            for method in sorted({p["method"] for p in mine}):
                group = [p for p in mine if p["method"] == method]
                err = [[p["mean"] - p["ci"][0] if p["ci"] else 0.0 for p in group],
                       [p["ci"][1] - p["mean"] if p["ci"] else 0.0 for p in group]]
                style = w.style(method)
                ax.errorbar([p[key] for p in group], [p["mean"] for p in group], yerr=err,
                            fmt=style.marker, color=style.colour, markersize=4.5, capsize=2.5,
                            linewidth=1, label=method)
            marks[key] = _reference_marks(ax, w, mine, reference) if key == "latency" else []
            front = pareto([(1.0, 0.0)] + [(float(p[key]), p["mean"]) for p in mine])
            ax.plot([x for x, _ in front], [y for _, y in front], color="0.1", linewidth=0.9,
                    linestyle=":", drawstyle="steps-post", label="Pareto front")
            ax.scatter([x for x, _ in front], [y for _, y in front], s=70, facecolors="none",
                       edgecolors="0.1", linewidths=0.9)
            ax.set_xlabel(label + " (lower is faster)")
            ax.set_title(_panel_title(key, size, marks[key], reference), fontsize=8)
        axes[0][0].set_ylabel("ΔT (%) vs dense")
        known: dict[str, Any] = {}  # one legend for both panels, each entry once
        for ax in axes[0]:
            handles, labels = ax.get_legend_handles_labels()
            known.update(zip(labels, handles, strict=True))
        if usual is not None:  # what a label without a target means, in the figure itself
            (blank,) = axes[0][-1].plot([], [], linestyle="none", marker="none")
            known[f"point labels: method (target {100 * usual:.0f}% unless shown)"] = blank
        axes[0][-1].legend(list(known.values()), list(known), frameon=False, fontsize=7,
                           loc="upper left", bbox_to_anchor=(1.0, 1.0))
        for ax, (key, _) in zip(axes[0], panels, strict=True):
            mine = [p for p in points if isinstance(p[key], (int, float))]
            place_labels(ax, [(float(p[key]), p["mean"]) for p in mine],
                         [_point_label(p, usual) for p in mine],
                         avoid=[(1.0, 0.0), *marks[key]], fontsize=6, color="0.25")
        png, svg = w.save(fig, f"{setting}-accuracy-vs-speed")
    measured = sum(isinstance(p["latency"], (int, float)) for p in points)
    alt = (f"{ALT_PREFIX} on {setting}: ΔT in percent with 95% intervals against "
           + " and against ".join(label for _, label in panels)
           + f", one point per method and target sparsity ({measured} of {len(points)} with a "
           "measured latency), the dense model at (1, 0); the dotted step line and rings mark "
           "the Pareto front (faster and more accurate than every other point)"
           + (f"; hollow markers: the structured methods' latency at paper size "
              f"({reference_label(reference)}), at their embedded ΔT" if any(marks.values()) else "")
           + (f"; a label without a target is at {100 * usual:.0f}%" if usual is not None else "")
           + ".")
    return FigureRef(title, alt, png, svg)
