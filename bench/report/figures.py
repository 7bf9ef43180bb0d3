"""The report's figures (matplotlib Agg + seaborn), each written as PNG and SVG.

(a) ΔT vs target sparsity (the paper's Figure 4, with 95 % intervals and dense's own interval,
the noise floor), (b) AdapMTL's component-wise sparsity over iterations (Figure 3), (c) per-task
training loss and task weights, (d) measured sparsity by component. A figure whose data is missing comes back as a note instead of an image.
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import pandas as pd  # noqa: E402
import seaborn as sns  # noqa: E402

from bench.report.labels import component_label, mpl_text, safe_name, task_label  # noqa: E402
from bench.report.logs import METRICS_DIR, read_group  # noqa: E402
from bench.report.stats import ci95, noise_floor  # noqa: E402
from bench.report.style import MethodStyle, method_style, styles_for  # noqa: E402

_RC = {"figure.constrained_layout.use": True, "svg.hashsalt": "mtl-prune-bench", "svg.fonttype": "path", "figure.dpi": 110,
       "axes.titlesize": 10, "axes.labelsize": 9, "legend.fontsize": 8}


@dataclass(frozen=True)
class FigureRef:
    """An embedded figure (`png`/`svg` relative to the site root) or a note saying why not."""

    title: str
    alt: str = ""
    png: str | None = None
    svg: str | None = None
    note: str | None = None


@dataclass(frozen=True)
class RunLog:
    """One run whose logs a figure reads: its target sparsity, seed and directory."""

    target: float
    seed: int
    run_dir: Path


class FigureWriter:
    """Writes the figures; `style(label)` is a method's colour and marker (bench/report/style.py),
    the same in every figure."""

    def __init__(self, site_dir: Path, methods: list[str]) -> None:
        self.site_dir = site_dir
        (site_dir / "figures").mkdir(parents=True, exist_ok=True)
        self.styles = {mpl_text(m): s for m, s in styles_for(methods).items()}
        self.palette = {label: s.colour for label, s in self.styles.items()}

    def style(self, label: str) -> MethodStyle:
        """The style of the method shown as `label` (its `mpl_text`)."""
        if label not in self.styles:  # not known when the writer was made: its own pair
            self.styles[label] = method_style(label.replace(r"\$", "$"))
            self.palette[label] = self.styles[label].colour
        return self.styles[label]

    def save(self, fig: Any, name: str) -> tuple[str, str]:
        stem = f"figures/{safe_name(name.replace(' / ', '-'))}"
        fig.savefig(self.site_dir / f"{stem}.png")
        fig.savefig(self.site_dir / f"{stem}.svg", metadata={"Date": None})
        plt.close(fig)
        return f"{stem}.png", f"{stem}.svg"


def _style() -> Any:
    rc: dict[str, Any] = {**sns.axes_style("whitegrid"), **_RC}
    return plt.rc_context(rc)  # type: ignore[arg-type]


def robust_limits(means: list[float], extras: list[float]) -> tuple[float, float]:
    """A y-range that one outlier cannot squash: a fence of 5 robust standard deviations
    (1.4826 × the median absolute deviation, at least 2 ΔT) around the median of the means,
    shrunk to what the data needs (`extras`: interval ends, the noise floor; and 0). Points
    outside are drawn clipped at the edge, with their value."""
    centre = statistics.median(means)
    mad = statistics.median(abs(v - centre) for v in means)
    spread = max(5 * 1.4826 * mad, 2.0)
    fence = (centre - spread, centre + spread)
    values = [v for v in [*means, *extras] if fence[0] <= v <= fence[1]]
    low, high = min([*values, 0.0]), max([*values, 0.0])
    pad = 0.06 * (high - low or 1.0)
    return low - pad, high + pad


def _points(tables: list[dict[str, Any]]) -> list[dict[str, Any]]:
    points = []
    for t in tables:
        for e in t["entries"]:
            interval = ci95(e["delta_t"])
            points.append({"method": mpl_text(e["method"]), "target": 100 * t["target_sparsity"],
                           "mean": float(e["delta_t"]["mean"]), "ci": interval})
    return points


def delta_t_vs_sparsity(w: FigureWriter, setting: str, tables: list[dict[str, Any]]) -> FigureRef:
    title = f"ΔT vs target sparsity — {setting}"
    points = _points(tables)
    if not points:
        return FigureRef(title, note="no ranked runs to plot")
    bands = [b for b in (noise_floor(t) for t in tables) if b is not None]
    band = max(bands, key=lambda b: b["half_width"]) if bands else None
    extras = [v for p in points if p["ci"] for v in p["ci"]]
    extras += [band["low"], band["high"]] if band else []
    low, high = robust_limits([p["mean"] for p in points], extras)
    methods = sorted({p["method"] for p in points})
    targets = sorted({p["target"] for p in points})
    step = min((b - a for a, b in zip(targets, targets[1:], strict=False)), default=10.0)
    clipped = []
    with _style():
        fig, ax = plt.subplots(figsize=(6.4, 3.6))
        if band:
            ax.axhspan(band["low"], band["high"], color="0.6", alpha=0.25, linewidth=0,
                       label=f"dense 95% CI ±{band['half_width']:.1f}")
        ax.axhline(0, color="0.35", linestyle="--", linewidth=1, label="dense")
        for i, method in enumerate(methods):
            # Dodge the methods sideways so that their error bars do not hide each other.
            shift = (i - (len(methods) - 1) / 2) * step * 0.3 / max(len(methods), 1)
            mine = sorted((p for p in points if p["method"] == method), key=lambda p: p["target"])
            xs = [p["target"] + shift for p in mine]
            ys = [min(max(p["mean"], low), high) for p in mine]
            err = [[p["mean"] - p["ci"][0] if p["ci"] else 0.0 for p in mine],
                   [p["ci"][1] - p["mean"] if p["ci"] else 0.0 for p in mine]]
            style = w.style(method)
            color = style.colour
            inside = [j for j, p in enumerate(mine) if low <= p["mean"] <= high]
            ax.plot(xs, ys, color=color, linewidth=1.2, alpha=0.8)
            ax.errorbar([xs[j] for j in inside], [ys[j] for j in inside],
                        yerr=[[err[0][j] for j in inside], [err[1][j] for j in inside]],
                        fmt=style.marker, color=color, markersize=4.5, capsize=2.5,
                        linewidth=1, label=method)
            for j, p in enumerate(mine):
                if j not in inside:
                    clipped.append(p)
                    up = p["mean"] > high
                    ax.plot(xs[j], ys[j], marker="^" if up else "v", color=color, markersize=8)
                    ax.annotate(f"{p['mean']:.1f}", (xs[j], ys[j]), fontsize=7, color=color,
                                xytext=(4, -10 if up else 4), textcoords="offset points")
        ax.set_ylim(low, high)
        ax.set_xticks(targets)
        ax.set_xlabel("target sparsity (%)")
        ax.set_ylabel("ΔT (%) vs dense")
        ax.legend(frameon=False, loc="upper left", bbox_to_anchor=(1.0, 1.0))
        png, svg = w.save(fig, f"{setting}-delta-t-vs-sparsity")
    names = ", ".join(methods)
    alt = (f"Points with error bars of ΔT in percent against target sparsity for {names} on "
           f"{setting}; error bars are 95% intervals over seeds, the dashed line is the dense "
           "model" + (f", the grey band dense's own 95% interval (the noise floor) "
                         f"±{band['half_width']:.1f}" if band else "")
           + (f"; {len(clipped)} point(s) beyond the plotted range are drawn as arrows at its "
              "edge with their value" if clipped else "") + ".")
    return FigureRef(title, alt, png, svg)


def sparsity_bars(w: FigureWriter, setting: str, table: dict[str, Any]) -> FigureRef:
    target = table["target_sparsity"]
    title = f"Measured sparsity by component — {setting}, target {100 * target:.0f}%"
    components = [*table["components"], "overall"]
    bars = []
    for entry in table["entries"]:
        values = {**entry["sparsity"]["by_component"], "overall": entry["sparsity"]["overall"]}
        bars.append((mpl_text(entry["method"]), [values.get(c) for c in components]))
    if not bars:
        return FigureRef(title, note="no ranked runs to plot")
    width = 0.8 / len(bars)
    with _style():
        fig, ax = plt.subplots(figsize=(6.4, 3.0))
        for i, (method, stats) in enumerate(bars):
            xs = [c + (i - (len(bars) - 1) / 2) * width for c in range(len(components))]
            ys = [100 * s["mean"] if s else 0.0 for s in stats]
            errs = [100 * s["std"] if s and s.get("std") else 0.0 for s in stats]
            ax.bar(xs, ys, width=width, yerr=errs, capsize=1.5, color=w.style(method).colour,
                   label=method, error_kw={"linewidth": 0.8})
        ax.axhline(100 * target, color="0.2", linestyle=":", linewidth=1, label="target")
        ax.set_ylim(0, 100)
        ax.set_xticks(range(len(components)), [component_label(c) for c in components])
        ax.set_ylabel("measured sparsity (%)")
        ax.legend(frameon=False, fontsize=7, loc="upper left", bbox_to_anchor=(1.0, 1.0))
        png, svg = w.save(fig, f"{setting}-s{target:.2f}-sparsity-by-component")
    alt = (f"Bar chart of measured sparsity in percent (axis from 0 to 100) per component "
           f"(backbone, task heads, overall) for each method at target {100 * target:.0f}% on "
           f"{setting}, with ±1 std over seeds as error bars; the dotted line is the target.")
    return FigureRef(title, alt, png, svg)


def sparsity_dynamics(w: FigureWriter, method: str, setting: str, logs: list[RunLog],
                      components: list[str]) -> FigureRef:
    title = f"{method}: component-wise sparsity over training — {setting}"
    names = ["overall", *components]
    read = [(log, read_group(log.run_dir, "sparsity", names)) for log in logs]
    panels = [(log, frame) for log, frame in read if frame is not None]
    if not panels:
        where = ", ".join(str(log.run_dir / METRICS_DIR / "sparsity") for log in logs) or "-"
        return FigureRef(title, note=f"skipped: no dvclive sparsity logs ({where})")
    with _style():
        fig, axes = plt.subplots(1, len(panels), figsize=(3.6 * len(panels) + 0.8, 3.0),
                                 sharey=True, squeeze=False)
        for ax, (log, frame) in zip(axes[0], panels, strict=True):
            frame = frame.assign(value=100 * frame["value"],
                                 component=frame["name"].map(component_label))
            parts = frame[frame["name"] != "overall"]
            sns.lineplot(data=parts, x="step", y="value", hue="component", ax=ax, linewidth=1.4,
                         errorbar=None)
            overall = frame[frame["name"] == "overall"]
            ax.plot(overall["step"], overall["value"], color="black", linestyle="--",
                    linewidth=1.2, label="Overall")
            ax.axhline(100 * log.target, color="0.5", linestyle=":", linewidth=1)
            ax.set_title(f"target {100 * log.target:.0f}% (seed {log.seed})")
            ax.set_xlabel("iteration")
            ax.set_ylabel("sparsity (%)")
            ax.legend(frameon=False, fontsize=7)
        png, svg = w.save(fig, f"{setting}-{method}-sparsity-dynamics")
    alt = (f"Line charts of {method}'s measured sparsity in percent per component against "
           f"training iteration on {setting}, one panel per target sparsity; the dashed line is "
           "the overall sparsity, the dotted line the target.")
    return FigureRef(title, alt, png, svg)


def training_curves(w: FigureWriter, method: str, setting: str, logs: list[RunLog],
                    tasks: list[str]) -> FigureRef:
    title = f"{method}: training loss and task weights — {setting}"
    frames = []
    for log in logs:
        label = "dense" if log.target == 0 else f"{100 * log.target:.0f}%"
        for group in ("loss", "weight"):
            frame = read_group(log.run_dir, group, tasks)
            if frame is not None:
                frames.append(frame.assign(group=group, target=label))
    if not frames or not any((f["group"] == "loss").any() for f in frames):
        where = ", ".join(str(log.run_dir / METRICS_DIR / "loss") for log in logs) or "-"
        return FigureRef(title, note=f"skipped: no dvclive loss logs ({where})")
    data = pd.concat(frames, ignore_index=True)
    groups = [g for g in ("loss", "weight") if (data["group"] == g).any()]
    present = [t for t in tasks if (data["name"] == t).any()]
    with _style():
        fig, axes = plt.subplots(len(groups), len(present), squeeze=False, sharex=True,
                                 figsize=(3.0 * len(present) + 0.6, 2.4 * len(groups)))
        for r, group in enumerate(groups):
            for c, task in enumerate(present):
                ax = axes[r][c]
                part = data[(data["group"] == group) & (data["name"] == task)]
                if len(part):
                    sns.lineplot(data=part, x="step", y="value", hue="target", ax=ax, errorbar=None,
                                 linewidth=1.2, legend=(r == 0 and c == len(present) - 1))
                ax.set_title(f"{task_label(task)} {group}" if r == 0 else "")
                ax.set_ylabel(f"{group}" if c == 0 else "")
                ax.set_xlabel("iteration" if r == len(groups) - 1 else "")
        legend = axes[0][-1].get_legend()
        if legend is not None:
            legend.set_title("target")
            legend.set_frame_on(False)
        png, svg = w.save(fig, f"{setting}-{method}-training-curves")
    alt = (f"Line charts of {method}'s per-task training loss"
           f"{' and adaptive task weights' if 'weight' in groups else ''} against iteration on "
           f"{setting}, one line per target sparsity.")
    return FigureRef(title, alt, png, svg)
