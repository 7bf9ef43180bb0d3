"""One colour and one marker per method, the same in every figure of the report.

The registered methods have fixed entries: a family shares a hue and differs in shade and marker
(the AdapMTL variants blue, the DiSparse variants green, the init-time saliency criteria
orange/brown, the iterative magnitude methods purple), so a reader can follow a method from
figure to figure and tell the families apart. A method without an entry (a newly added one, or
one from `BENCH_METHODS_PATH`) gets a pair from a pool no fixed entry uses, chosen by a hash of
its name, so it keeps the same style from report to report; `styles_for` resolves the rare case
of two such methods drawing the same pair. tests/test_report_style.py checks that every
registered method's pair is distinct from every other's.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass


@dataclass(frozen=True)
class MethodStyle:
    colour: str  # a matplotlib colour (hex)
    marker: str  # a matplotlib marker


DENSE = MethodStyle("#333333", "s")
METHOD_STYLES: dict[str, MethodStyle] = {
    "dense": DENSE,
    "adapmtl": MethodStyle("#1f77b4", "o"),
    "adapmtl_equal_weights": MethodStyle("#6baed6", "s"),
    "adapmtl_shared_threshold": MethodStyle("#08306b", "^"),
    "disparse_static": MethodStyle("#2ca02c", "o"),
    "disparse_pt": MethodStyle("#74c476", "s"),
    "disparse_dynamic": MethodStyle("#00441b", "^"),
    "snip": MethodStyle("#ff7f0e", "D"),
    "grasp": MethodStyle("#fdae6b", "v"),
    "synflow": MethodStyle("#8c2d04", "P"),
    "imp": MethodStyle("#9467bd", "o"),
    "lth": MethodStyle("#c5b0d5", "^"),
    "gmp": MethodStyle("#e377c2", "X"),
    "rigl": MethodStyle("#d62728", "*"),
    "random": MethodStyle("#969696", "h"),
    "channel_l1": MethodStyle("#17becf", "p"),
    "channel_mtl": MethodStyle("#bcbd22", "d"),
}
# The fallback pool: colours no fixed entry uses (matplotlib's tab20b) × markers.
FALLBACK_COLOURS = ("#393b79", "#637939", "#8c6d31", "#843c39", "#7b4173", "#5254a3",
                    "#8ca252", "#bd9e39", "#ad494a", "#a55194")
FALLBACK_MARKERS = ("o", "s", "^", "v", "D", "P", "X", "*", "h", "p", "<", ">")
_FIXED = set(METHOD_STYLES.values())
_POOL = [p for p in (MethodStyle(c, m) for c in FALLBACK_COLOURS for m in FALLBACK_MARKERS)
         if p not in _FIXED]


def _fallback_index(method: str) -> int:
    return int(hashlib.sha1(method.encode()).hexdigest(), 16) % len(_POOL)


def method_style(method: str) -> MethodStyle:
    """The method's colour and marker (its fixed entry, else its pair from the pool)."""
    return METHOD_STYLES.get(method) or _POOL[_fallback_index(method)]


def styles_for(methods: list[str]) -> dict[str, MethodStyle]:
    """`method_style` for each of `methods`, with distinct pairs: a pool pair another method of
    the list already holds moves on to the next free one (in sorted order, so deterministic)."""
    styles = {m: METHOD_STYLES[m] for m in methods if m in METHOD_STYLES}
    used = set(styles.values())
    for method in sorted(m for m in set(methods) if m not in METHOD_STYLES):
        i = _fallback_index(method)
        for step in range(len(_POOL)):
            candidate = _POOL[(i + step) % len(_POOL)]
            if candidate not in used:
                break
        styles[method] = candidate
        used.add(candidate)
    return styles
