"""The compact summary a reader sees first: per setting, method × target sparsity → ΔT (vs the
dense multi-task model) and Δm (vs the single-task networks), each ± the half-width of its 95 %
interval, and the rank group, with the setting's null band beside it.

One structure feeds the index page and the paper tables (`bench report --format latex|markdown`).
"""

from __future__ import annotations

from typing import Any

from bench.report.labels import safe_name
from bench.report.stats import (
    NOT_DISTINGUISHABLE,
    best_group,
    budget_text,
    delta_m_text,
    delta_t_text,
    group_label,
    in_null_band,
    null_band,
    start_of,
)


def setting_name(table: dict[str, Any]) -> str:
    return f"{table['dataset']} / {table['backbone']} / {table['profile']}"


def group_settings(tables: list[dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    """Tables by setting (dataset, backbone, profile and its identity). The identity's short
    hash joins the name only where two identities share a name: they are never mixed."""
    keyed: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for table in tables:
        keyed.setdefault((setting_name(table), str(table.get("setting_identity") or "")),
                         []).append(table)
    names = [name for name, _ in keyed]
    return {(f"{name} @{identity[:8]}" if names.count(name) > 1 and identity else name): group
            for (name, identity), group in keyed.items()}


def _band(tables: list[dict[str, Any]]) -> dict[str, Any] | None:
    """The setting's null band (the dense runs are shared by its targets, so it is one band;
    the widest is shown if tables ever disagree)."""
    bands = [b for b in (null_band(t) for t in tables) if b is not None]
    return max(bands, key=lambda b: b["half_width"]) if bands else None


def _method_order(tables: list[dict[str, Any]]) -> list[str]:
    """By rank at the highest target (where methods differ most), then the others by name."""
    order: list[str] = []
    for table in sorted(tables, key=lambda t: -t["target_sparsity"]):
        order += [e["method"] for e in table["entries"] if e["method"] not in order]
    return order


def summary_view(name: str, tables: list[dict[str, Any]]) -> dict[str, Any]:
    """`{"setting", "targets", "rows": [{"method", "start", "cells": [...]}], "null_band"}`."""
    tables = sorted(tables, key=lambda t: t["target_sparsity"])
    targets = [f"{100 * t['target_sparsity']:.0f}" for t in tables]
    by_target = [{e["method"]: e for e in t["entries"]} for t in tables]
    bold = [best_group(t["entries"]) for t in tables]
    rows = []
    for method in _method_order(tables):
        cells: list[dict[str, Any] | None] = []
        start = "–"
        for index, entries in enumerate(by_target):
            entry = entries.get(method)
            if entry is None:
                cells.append(None)
                continue
            start = start_of(entry) if start == "–" else start
            text = delta_t_text(entry)
            cells.append({"mean": text["mean"], "pm": text["pm"], "interval": text["interval"],
                          "dm": delta_m_text(entry),
                          "group": group_label(entry), "best": method in bold[index],
                          "budget": budget_text(entry),
                          "flag": NOT_DISTINGUISHABLE if in_null_band(entry) else "",
                          "sort": repr(float(entry["delta_t"]["mean"]))})
        rows.append({"method": method, "start": start, "cells": cells,
                     "href": f"methods/{safe_name(method)}.html"})
    band = _band(tables)
    others = [b for b in (null_band({"null_band": t.get("null_band_alternative")})
                          for t in tables) if b is not None]
    other = max(others, key=lambda b: b["half_width"]) if others else None
    # The dense multi-task model's own Δm per target (its ΔT is 0 by definition).
    reference_dm = [delta_m_text(t["reference"]) if t.get("reference") else None for t in tables]
    return {"reference_dm": reference_dm,
            "alternative": None if other is None else
            {"text": f"±{other['half_width']:.1f}",
             "kind": str((tables[0].get("null_band_alternative") or {}).get("reference_kind", ""))},
            "setting": name, "targets": targets, "rows": rows, "null_band": band,
            "null_band_text": "" if band is None else f"±{band['half_width']:.1f}",
            "anchors": [t["id"] for t in tables]}


def summaries(leaderboard: dict[str, Any]) -> list[dict[str, Any]]:
    return [summary_view(name, tables)
            for name, tables in group_settings(leaderboard["tables"]).items()]
