"""Every method has one colour and marker, distinct from every other method's and the same in
every figure of the report; point labels do not overlap, however crowded the points."""

from __future__ import annotations

import itertools
from pathlib import Path
from typing import Any

import matplotlib.pyplot as plt
import pytest
from matplotlib.colors import to_hex
from matplotlib.container import BarContainer, ErrorbarContainer
from matplotlib.figure import Figure
from matplotlib.text import Annotation, Text

from bench.registry import discover
from bench.report.figures import FigureWriter, delta_t_vs_sparsity, sparsity_bars
from bench.report.label_place import place_labels
from bench.report.speed_figure import accuracy_speed
from bench.report.style import METHOD_STYLES, method_style, styles_for

REGISTERED = sorted(discover())


@pytest.mark.parametrize("method", REGISTERED)
def test_each_registered_method_has_its_own_colour_and_marker(method: str) -> None:
    mine = method_style(method)
    others = {m: method_style(m) for m in REGISTERED if m != method}
    assert mine not in others.values(), [m for m, s in others.items() if s == mine]
    assert styles_for(REGISTERED)[method] == mine  # the same whatever else a report shows
    assert styles_for([method])[method] == mine


def test_the_fixed_colours_are_all_different() -> None:
    colours = [s.colour.lower() for s in METHOD_STYLES.values()]
    assert len(set(colours)) == len(colours)


def test_methods_without_an_entry_get_distinct_stable_pairs() -> None:
    new = [f"method_{i}" for i in range(40)]
    styles = styles_for([*REGISTERED, *new])
    assert len(set(styles.values())) == len(styles)
    assert all(styles[m] not in METHOD_STYLES.values() for m in new)
    assert styles_for(new) == {m: styles[m] for m in new}


def _text_box(label: Annotation, renderer: Any) -> tuple[float, float, float, float]:
    """The box of the label's text (an Annotation's own extent includes its leader line)."""
    x0, y0, x1, y1 = Text.get_window_extent(label, renderer).extents
    return float(x0), float(y0), float(x1), float(y1)


class RecordingWriter(FigureWriter):
    """A FigureWriter that also keeps what each figure drew, before writing it as usual."""

    def __init__(self, site_dir: Path, methods: list[str]) -> None:
        super().__init__(site_dir, methods)
        self.drawn: dict[str, list[tuple[str, str, str | None]]] = {}
        self.labels: dict[str, list[tuple[float, float, float, float]]] = {}
        self.titles: dict[str, list[str]] = {}

    def save(self, fig: Any, name: str) -> tuple[str, str]:
        assert isinstance(fig, Figure)
        fig.canvas.draw()
        renderer = fig.canvas.get_renderer()  # type: ignore[attr-defined]
        marks: list[tuple[str, str, str | None]] = []
        boxes = []
        for ax in fig.axes:
            for c in ax.containers:
                if isinstance(c, ErrorbarContainer) and c.lines[0] is not None:  # not a bar's
                    line = c.lines[0]
                    marks.append((str(c.get_label()), to_hex(line.get_color()), str(line.get_marker())))
                elif isinstance(c, BarContainer):
                    marks.append((str(c.get_label()), to_hex(c.patches[0].get_facecolor()), None))
            boxes += [_text_box(t, renderer) for t in ax.texts if isinstance(t, Annotation)]
        self.drawn[name] = marks
        self.labels[name] = boxes
        self.titles[name] = [ax.get_title() for ax in fig.axes]
        return super().save(fig, name)


def _tables(methods: list[str], crowded: bool = False) -> list[dict[str, Any]]:
    entries = []
    for i, m in enumerate(methods):
        mean = 0.1 * (i % 4) if crowded else -2.0 + 0.4 * i
        entries.append({
            "method": m, "delta_t": {"mean": mean, "ci95": [mean - 0.5, mean + 0.5]},
            "runs": [{"path": f"{m}/seed0", "seed": 0}],
            "cost": {"macs_ratio": 0.1 + (0.002 * i if crowded else 0.05 * i)},
            "sparsity": {"overall": {"mean": 0.9, "std": 0.0},
                         "by_component": {"backbone": {"mean": 0.9, "std": 0.0}}},
        })
    return [{"target_sparsity": 0.9, "components": ["backbone"], "entries": entries}]


def _latency(methods: list[str], crowded: bool = False) -> dict[str, Any]:
    runs = {}
    for i, m in enumerate(methods):
        speedup = 1.0 + (0.01 * i if crowded else 0.2 * i)
        runs[f"{m}/seed0"] = {"input_size": [128, 128], "paths": {
            "dense": {"available": True, "speedup_vs_dense": 1.0},
            "sparse_csr": {"available": True, "speedup_vs_dense": speedup}}}
    return {"runs": runs}


def test_every_figure_draws_each_method_in_its_style(tmp_path: Path) -> None:
    methods = [m for m in REGISTERED if m != "dense"]
    w = RecordingWriter(tmp_path, methods)
    tables = _tables(methods)
    delta_t_vs_sparsity(w, "s", tables)
    sparsity_bars(w, "s", tables[0])
    accuracy_speed(w, "s", tables, _latency(methods))
    assert len(w.drawn) == 3
    for name, marks in w.drawn.items():
        assert {label for label, _, _ in marks} == set(methods), name
        for label, colour, marker in marks:
            expected = method_style(label)
            assert colour == expected.colour.lower(), (name, label)
            assert marker in (None, expected.marker), (name, label)


def _overlapping(boxes: list[tuple[float, float, float, float]]) -> list[tuple[int, int]]:
    return [(i, j) for (i, a), (j, b) in itertools.combinations(enumerate(boxes), 2)
            if a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3]]


def test_the_accuracy_speed_labels_do_not_overlap_on_crowded_points(tmp_path: Path) -> None:
    methods = [m for m in REGISTERED if m != "dense"]
    w = RecordingWriter(tmp_path, methods)
    accuracy_speed(w, "s", _tables(methods, crowded=True), _latency(methods, crowded=True))
    (boxes,) = w.labels.values()
    assert len(boxes) == 2 * len(methods)  # one label per point, in both panels
    assert _overlapping(boxes) == []


def test_placed_labels_do_not_overlap_even_on_one_spot(tmp_path: Path) -> None:
    fig, ax = plt.subplots(figsize=(4, 3))
    points = [(0.5 + 0.001 * i, 0.5) for i in range(30)]
    ax.plot(*zip(*points, strict=True), "o")
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1)
    labels = place_labels(ax, points, [f"label {i}" for i in range(30)], fontsize=6)
    fig.savefig(tmp_path / "crowded.png")  # the saved layout is the one placed in
    renderer = fig.canvas.get_renderer()  # type: ignore[attr-defined]
    boxes = [_text_box(t, renderer) for t in labels]
    plt.close(fig)
    assert len(boxes) == 30 and _overlapping(boxes) == []


def _reference_entry(method: str, structured: bool, speedup: float) -> dict[str, Any]:
    path = "structured" if structured else "sparse_csr"
    return {"device": "cpu", "batch_size": 1, "method": method, "target_sparsity": 0.9,
            "structured": structured, "input_size": [321, 321],
            "paths": {"dense": {"available": True, "speedup_vs_dense": 1.0},
                      path: {"available": True, "speedup_vs_dense": speedup}}}


def test_the_accuracy_speed_figure_marks_which_size_each_speed_comes_from(tmp_path: Path) -> None:
    methods = ["channel_l1", "snip"]
    reference = {"input_size": [321, 321], "model": {"width_mult": 1.0}, "runs": {
        "cpu/batch1/channel_l1": _reference_entry("channel_l1", True, 3.0),
        "cpu/batch8/channel_l1": _reference_entry("channel_l1", True, 9.0),  # not batch 1
        "cpu/batch1/global_magnitude": _reference_entry("global_magnitude", False, 0.5)}}
    w = RecordingWriter(tmp_path, methods)
    ref = accuracy_speed(w, "s", _tables(methods), _latency(methods), reference)
    (titles,) = w.titles.values()
    assert "embedded model at 128×128" in titles[0] and "paper size: 321×321" in titles[0]
    assert "hollow markers" in ref.alt and "321×321, width ×1" in ref.alt
    without = accuracy_speed(RecordingWriter(tmp_path, methods), "t", _tables(methods),
                             _latency(methods))
    assert "hollow" not in without.alt
