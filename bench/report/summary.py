"""The compact summary a reader sees first: per setting, method × (target sparsity, budget) →
ΔT (vs the dense multi-task model) and Δm (vs the single-task networks), each ± the half-width
of its 95 % interval, and the rank group; per column the budget and the minimum detectable
difference, with the setting's noise floor (dense's own interval) beside it.

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
    indistinguishable,
    mdd_text,
    noise_floor,
    start_of,
    table_budget_text,
    verification_of,
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


def _floor(tables: list[dict[str, Any]]) -> dict[str, Any] | None:
    """The setting's noise floor (its dense runs are shared by every table, so it is one
    interval; the widest is shown if tables ever disagree)."""
    floors = [f for f in (noise_floor(t) for t in tables) if f is not None]
    return max(floors, key=lambda f: f["half_width"]) if floors else None


def _column_order(table: dict[str, Any]) -> tuple[Any, ...]:
    budget = table.get("budget_units")
    return (table["target_sparsity"], budget is None, budget or 0.0)


def _method_order(tables: list[dict[str, Any]]) -> list[str]:
    """By rank at the highest target (where methods differ most), then the others by name."""
    order: list[str] = []
    for table in sorted(tables, key=lambda t: -t["target_sparsity"]):
        order += [e["method"] for e in table["entries"] if e["method"] not in order]
    return order


def summary_view(name: str, tables: list[dict[str, Any]]) -> dict[str, Any]:
    """`{"setting", "targets", "budgets", "mdd", "rows": [{"method", "start", "cells": [...]}],
    "noise_floor"}`: a column per table, i.e. per target sparsity and budget."""
    tables = sorted(tables, key=_column_order)
    targets = [f"{100 * t['target_sparsity']:.0f}" for t in tables]
    by_target = [{e["method"]: e for e in t["entries"]} for t in tables]
    bold = [best_group(t) for t in tables]
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
                          "flag": NOT_DISTINGUISHABLE if indistinguishable(entry) else "",
                          "verified": verification_of(entry)["state"],
                          "verified_label": verification_of(entry)["label"],
                          "sort": repr(float(entry["delta_t"]["mean"]))})
        rows.append({"method": method, "start": start, "cells": cells,
                     "href": f"methods/{safe_name(method)}.html"})
    floor = _floor(tables)
    # The dense multi-task model's own Δm per column (its ΔT is 0 by definition).
    reference_dm = [delta_m_text(t["reference"]) if t.get("reference") else None for t in tables]
    return {"reference_dm": reference_dm,
            "setting": name, "targets": targets, "rows": rows,
            "budgets": [table_budget_text(t) for t in tables],
            "mdd": [mdd_text(t) for t in tables],
            "noise_floor": floor,
            "noise_floor_text": "" if floor is None else f"±{floor['half_width']:.1f}",
            "anchors": [t["id"] for t in tables]}


def summaries(leaderboard: dict[str, Any]) -> list[dict[str, Any]]:
    return [summary_view(name, tables)
            for name, tables in group_settings(leaderboard["tables"]).items()]
