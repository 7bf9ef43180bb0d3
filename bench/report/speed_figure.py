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
"""

from __future__ import annotations

from typing import Any

import matplotlib.pyplot as plt

from bench.report.figures import FigureRef, FigureWriter, _style
from bench.report.labels import mpl_text
from bench.report.stats import ci95

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


def accuracy_speed(w: FigureWriter, setting: str, tables: list[dict[str, Any]],
                   latency: dict[str, Any] | None) -> FigureRef:
    title = f"Accuracy vs speed — {setting}"
    points = speed_points(tables, latency)
    panels = [("latency", "measured CPU latency, relative to dense"),
              ("macs", "theoretical MACs, relative to dense")]
    panels = [(key, label) for key, label in panels
              if any(isinstance(p[key], (int, float)) for p in points)]
    if not panels:
        return FigureRef(title, note="no measured latency or MACs to plot (bench latency --grid)")
    with _style():
        fig, axes = plt.subplots(1, len(panels), figsize=(4.2 * len(panels) + 1.2, 3.4),
                                 sharey=True, squeeze=False)
        for ax, (key, label) in zip(axes[0], panels, strict=True):
            mine = [p for p in points if isinstance(p[key], (int, float))]
            ax.axhline(0, color="0.35", linestyle="--", linewidth=1)
            ax.plot([1.0], [0.0], marker="s", color="0.2", linestyle="none", label="dense")
            for method in sorted({p["method"] for p in mine}):
                group = [p for p in mine if p["method"] == method]
                err = [[p["mean"] - p["ci"][0] if p["ci"] else 0.0 for p in group],
                       [p["ci"][1] - p["mean"] if p["ci"] else 0.0 for p in group]]
                ax.errorbar([p[key] for p in group], [p["mean"] for p in group], yerr=err,
                            fmt="o", color=w.palette.get(method), markersize=4, capsize=2.5,
                            linewidth=1, label=method)
                for p in group:
                    ax.annotate(f"{100 * p['target']:.0f}%", (p[key], p["mean"]), fontsize=6,
                                xytext=(3, 3), textcoords="offset points", color="0.3")
            front = pareto([(1.0, 0.0)] + [(float(p[key]), p["mean"]) for p in mine])
            ax.plot([x for x, _ in front], [y for _, y in front], color="0.1", linewidth=0.9,
                    linestyle=":", drawstyle="steps-post", label="Pareto front")
            ax.scatter([x for x, _ in front], [y for _, y in front], s=70, facecolors="none",
                       edgecolors="0.1", linewidths=0.9)
            ax.set_xlabel(label + " (lower is faster)")
        axes[0][0].set_ylabel("ΔT (%) vs dense")
        handles, labels = axes[0][-1].get_legend_handles_labels()
        axes[0][-1].legend(handles, labels, frameon=False, fontsize=7, loc="upper left",
                           bbox_to_anchor=(1.0, 1.0))
        png, svg = w.save(fig, f"{setting}-accuracy-vs-speed")
    measured = sum(isinstance(p["latency"], (int, float)) for p in points)
    alt = (f"{ALT_PREFIX} on {setting}: ΔT in percent with 95% intervals against "
           + " and against ".join(label for _, label in panels)
           + f", one point per method and target sparsity ({measured} of {len(points)} with a "
           "measured latency), the dense model at (1, 0); the dotted step line and rings mark "
           "the Pareto front (faster and more accurate than every other point).")
    return FigureRef(title, alt, png, svg)
