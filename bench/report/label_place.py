"""Point labels that do not overlap: a deterministic greedy placement.

Each label, in the order given, takes the first candidate position — 8 directions around its
point, on rings of growing radius — whose box stays inside the axes and overlaps neither an
earlier label nor any point's marker. A label off its first ring gets a thin leader line to its
point. The figure's layout is settled (drawn) before placing and then frozen, so the display
coordinates the boxes are computed in are the ones the saved file has. When no candidate fits,
the label goes to the first free position found outside the axes (still overlapping nothing),
so a crowded figure grows labels at its edge instead of stacking them.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.text import Annotation
from matplotlib.transforms import Bbox

# Directions (dx, dy) in the order tried: the upper right first, as labels are usually set.
DIRECTIONS = ((1, 1), (1, -1), (-1, 1), (-1, -1), (1, 0), (-1, 0), (0, 1), (0, -1))
RINGS_PT = (3.0, 9.0, 16.0, 24.0, 34.0, 46.0, 60.0, 76.0)  # candidate offsets, points
MARKER_PT = 3.5  # half the side of the box kept free around every point
PAD_PX = 1.0  # space kept between two labels


def _overlaps(box: Bbox, taken: list[Bbox]) -> bool:
    return any(box.overlaps(other) for other in taken)


def _box(x: float, y: float, dx: float, dy: float, w: float, h: float) -> Bbox:
    """The box of a w×h text whose alignment follows the direction of its offset (dx, dy)."""
    left = x + dx - (w if dx < 0 else (w / 2 if dx == 0 else 0))
    bottom = y + dy - (h if dy < 0 else (h / 2 if dy == 0 else 0))
    return Bbox.from_extents(left - PAD_PX, bottom - PAD_PX, left + w + PAD_PX, bottom + h + PAD_PX)


def _alignment(dx: float, dy: float) -> tuple[str, str]:
    ha = "left" if dx > 0 else ("right" if dx < 0 else "center")
    va = "bottom" if dy > 0 else ("top" if dy < 0 else "center")
    return ha, va


def _rings() -> list[float]:
    """The candidate radii: RINGS_PT, then wider rings until a position is free (the plane
    beyond every label and point is, so the search ends)."""
    return [*RINGS_PT, *(RINGS_PT[-1] + 16.0 * k for k in range(1, 200))]


def _free_position(x: float, y: float, w: float, h: float, taken: list[Bbox], inside: Bbox,
                   px_per_pt: float) -> tuple[int, float, float, Bbox]:
    """(ring, dx, dy, box): the first free candidate inside the axes among RINGS_PT, else the
    first free one at all."""
    outside = None
    for ring, radius in enumerate(_rings()):
        for ux, uy in DIRECTIONS:
            scale = radius * px_per_pt / (2 ** 0.5 if ux and uy else 1.0)
            dx, dy = ux * scale, uy * scale
            box = _box(x, y, dx, dy, w, h)
            if _overlaps(box, taken):
                continue
            if inside.contains(box.x0, box.y0) and inside.contains(box.x1, box.y1):
                return ring, dx, dy, box
            outside = outside or (ring, dx, dy, box)
        if outside is not None and ring >= len(RINGS_PT) - 1:
            return outside
    raise AssertionError("unreachable: the outermost rings are free")


def place_labels(ax: Axes, points: Sequence[tuple[float, float]], texts: Sequence[str],
                 avoid: Sequence[tuple[float, float]] = (), **text_kw: Any) -> list[Annotation]:
    """Annotate each of `points` (data coordinates) with its text, no two labels overlapping
    and none covering a point or one of `avoid` (more points to keep clear)."""
    fig = ax.get_figure(root=True)
    assert isinstance(fig, Figure)
    fig.canvas.draw()  # settles the layout (constrained layout runs at draw time) ...
    fig.set_layout_engine("none")  # ... and freezes it, so the boxes stay where computed
    renderer = fig.canvas.get_renderer()  # type: ignore[attr-defined]
    inside = ax.get_window_extent(renderer)
    px_per_pt = fig.dpi / 72.0
    anchors = [tuple(ax.transData.transform(p)) for p in [*points, *avoid]]
    r = MARKER_PT * px_per_pt
    taken = [Bbox.from_extents(x - r, y - r, x + r, y + r) for x, y in anchors]
    labels = []
    for (px, py), text, (ax_x, ax_y) in zip(points, texts, anchors, strict=False):
        probe = ax.text(0, 0, text, **text_kw)
        extent = probe.get_window_extent(renderer)
        probe.remove()
        w, h = extent.width, extent.height
        ring, dx, dy, box = _free_position(ax_x, ax_y, w, h, taken, inside, px_per_pt)
        ha, va = _alignment(dx, dy)
        leader: dict[str, Any] | None = {"arrowstyle": "-", "color": "0.6", "linewidth": 0.5,
                                         "shrinkA": 0, "shrinkB": 2} if ring > 0 else None
        labels.append(ax.annotate(text, (px, py), xytext=(dx / px_per_pt, dy / px_per_pt),
                                  textcoords="offset points", ha=ha, va=va, annotation_clip=False,
                                  arrowprops=leader, **text_kw))
        taken.append(box)
    return labels
