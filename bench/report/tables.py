"""A leaderboard table (from leaderboard.json) → what the template draws: two header rows and
rows of cells, laid out like Table 2 of the AdapMTL paper (tasks' metrics, ΔT_i, sparsity, ΔT)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from bench.report.labels import (
    arrow,
    cell,
    component_label,
    dom_id,
    metric_label,
    metric_scale,
    task_label,
)
from bench.tasks import METRICS

_DESCRIPTIONS = {(m.task, m.key): m.description for m in METRICS}


def _column(label: str, better: bool | None, title: str = "", aux: bool = False,
            subscript: str = "") -> dict[str, Any]:
    return {"label": label, "arrow": arrow(better), "title": title, "aux": aux,
            "subscript": subscript, "col": None,
            "better": "" if better is None else ("higher" if better else "lower")}


def _columns(table: dict[str, Any]) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Top header row (groups, with rowspan/colspan) and the per-column row under it."""
    top: list[dict[str, Any]] = [
        {**_column("#", None, "rank by ΔT"), "rowspan": 2, "colspan": 1},
        {**_column("Method", None), "rowspan": 2, "colspan": 1},
        {**_column("Seeds", None, "number of seeds"), "rowspan": 2, "colspan": 1},
    ]
    sub: list[dict[str, Any]] = []
    for task in table["tasks"]:
        specs = [m for m in table["metrics"] if m["task"] == task]
        top.append({**_column(task_label(task), None), "rowspan": 1, "colspan": len(specs) + 1})
        for m in specs:
            sub.append(_column(metric_label(m["key"]), m["higher_is_better"],
                               _DESCRIPTIONS.get((task, m["key"]), m["key"]), not m["in_delta_t"]))
        sub.append(_column("ΔT", True, f"ΔT of {task} (percent, vs dense)",
                           subscript=component_label(task).lower()))
    components = [*table["components"], "overall"]
    top.append({**_column("Sparsity (%)", None, "measured, mean over seeds"),
                "rowspan": 1, "colspan": len(components)})
    sub.extend(_column(component_label(c), None, f"measured sparsity: {c}") for c in components)
    top.append({**_column("ΔT", True, "mean of ΔT_i over tasks (percent)"), "rowspan": 2,
                "colspan": 1})
    for index, column in enumerate(top[:3]):
        column["col"] = index
    for index, column in enumerate(sub):
        column["col"] = 3 + index
    top[-1]["col"] = 3 + len(sub)
    return top, sub


def _row(table: dict[str, Any], entry: dict[str, Any], href: str, reference: bool) -> list[dict[str, Any]]:
    cells: list[dict[str, Any]] = [
        {"text": "ref" if reference else str(entry["rank"]), "std": "",
         "sort": "0" if reference else str(entry["rank"])},
        {"text": entry["method"], "std": "", "sort": entry["method"], "href": href},
        {"text": str(entry["n_seeds"]), "std": "", "sort": str(entry["n_seeds"])},
    ]
    by_task = entry["delta_t"]["by_task"]
    for task in table["tasks"]:
        for m in (m for m in table["metrics"] if m["task"] == task):
            scale, decimals = metric_scale(m["key"])
            cells.append(cell(entry["metrics"].get(task, {}).get(m["key"]), decimals, scale))
        cells.append({**cell(by_task.get(task)), "delta_t": True})
    by_component = entry["sparsity"]["by_component"]
    for component in table["components"]:
        cells.append(cell(by_component.get(component), 2, 100.0))
    cells.append(cell(entry["sparsity"]["overall"], 2, 100.0))
    cells.append({**cell(entry["delta_t"]), "delta_t": True})
    if reference:  # ΔT of the reference against itself is 0 by definition; show a dash
        for c in cells:
            if c.get("delta_t"):
                c["text"], c["std"] = "–", ""
    return cells


def _mark_best(rows: list[dict[str, Any]], betters: list[str]) -> None:
    """Bold the best mean of each directed column among the ranked (non-reference) rows."""
    ranked = [r for r in rows if not r["reference"]]
    for index, better in enumerate(betters):
        if not better or not ranked:
            continue
        values = [(float(r["cells"][index]["sort"]), r) for r in ranked
                  if r["cells"][index]["sort"] not in ("", None)]
        if len(values) < 2:
            continue
        best = max(v for v, _ in values) if better == "higher" else min(v for v, _ in values)
        for value, row in values:
            if value == best:
                row["cells"][index]["best"] = True


def table_view(table: dict[str, Any], method_href: Callable[[str], str]) -> dict[str, Any]:
    top, sub = _columns(table)
    rows = [{"reference": True, "method": table["reference"]["method"],
             "cells": _row(table, table["reference"], method_href(table["reference"]["method"]),
                           True)}]
    rows += [{"reference": False, "method": e["method"],
              "cells": _row(table, e, method_href(e["method"]), False)} for e in table["entries"]]
    # Column-by-column sort direction, aligned with the cells of a row.
    betters = ["", "", ""] + [c["better"] for c in sub] + ["higher"]
    for row in rows:
        for c in row["cells"]:
            c.setdefault("href", None)
            c.setdefault("best", False)
            c.setdefault("delta_t", False)
    _mark_best(rows, betters)
    return {"id": table["id"], "dom_id": "table-" + dom_id(table["id"]), "top": top, "sub": sub, "rows": rows, "betters": betters,
            "has_aux": any(c["aux"] for c in sub)}
