"""A leaderboard table (from leaderboard.json) → what the template draws: two header rows and
rows of cells. The headline comes first — method (a column that stays put while the table
scrolls), ΔT (vs dense multi-task) and Δm (vs single-task), each ± the half-width of its 95 %
interval, the rank group, seeds, start point, budget and `bench verify` status — then the tasks' metrics and ΔT_i in the layout of Table 2 of the AdapMTL paper, then
the measured sparsity."""

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
    metric_unit,
    task_label,
)
from bench.report.stats import (
    DELTA_M_REFERENCE,
    DELTA_T_REFERENCE,
    NOT_DISTINGUISHABLE,
    best_group,
    budget_of,
    budget_text,
    delta_m_text,
    delta_t_text,
    group_label,
    group_low,
    indistinguishable,
    mdd_text,
    noise_floor,
    noise_floor_text,
    start_of,
    table_budget_text,
    verification_of,
)
from bench.tasks import METRICS

_DESCRIPTIONS = {(m.task, m.key): m.description for m in METRICS}
# The headline columns before the per-metric ones (Method, ΔT, Δm, Group, Seeds, Start, Budget,
# Verified).
HEAD = 8


def _column(label: str, better: bool | None, title: str = "", aux: bool = False,
            subscript: str = "", unit: str = "", ref: str = "") -> dict[str, Any]:
    return {"label": label, "arrow": arrow(better), "title": title, "aux": aux, "unit": unit,
            "ref": ref,
            "subscript": subscript, "col": None, "key": "",
            "better": "" if better is None else ("higher" if better else "lower")}


def _columns(table: dict[str, Any]) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Top header row (groups, with rowspan/colspan) and the per-column row under it."""
    top: list[dict[str, Any]] = [
        {**_column("Method", None), "rowspan": 2, "colspan": 1, "key": "method"},
        {**_column("ΔT", True, "mean over seeds ± half-width of the 95% interval, percent vs "
                   "the dense multi-task model", unit="%", ref=DELTA_T_REFERENCE),
         "rowspan": 2, "colspan": 1, "key": "delta_t"},
        {**_column("Δm", True, "mean over seeds ± half-width of the 95% interval, percent vs "
                   "the single-task networks (mean over their seeds); – without them", unit="%",
                   ref=DELTA_M_REFERENCE), "rowspan": 2, "colspan": 1, "key": "delta_m"},
        {**_column("Group", None, "rank group: the ranks the pairwise tests (Holm-corrected) "
                   "leave possible"), "rowspan": 2, "colspan": 1, "key": "group"},
        {**_column("Seeds", None, "number of seeds"), "rowspan": 2, "colspan": 1},
        {**_column("Start", None, "init: random initialisation; dense: the trained dense "
                   "model of the same seed"), "rowspan": 2, "colspan": 1},
        {**_column("Budget", None, "total training cost in dense-budget units; a table "
                   "ranks one budget only", unit="× dense"), "rowspan": 2, "colspan": 1,
         "key": "budget"},
        {**_column("Verified", None, "bench verify: held-out seeds retrained, each checked "
                   "against the row's 95% prediction interval for a new seed (docs/verify.md)"),
         "rowspan": 2, "colspan": 1, "key": "verified"},
    ]
    sub: list[dict[str, Any]] = []
    for task in table["tasks"]:
        specs = [m for m in table["metrics"] if m["task"] == task]
        top.append({**_column(task_label(task), None), "rowspan": 1, "colspan": len(specs) + 1})
        for m in specs:
            sub.append(_column(metric_label(m["key"]), m["higher_is_better"],
                               _DESCRIPTIONS.get((task, m["key"]), m["key"]), not m["in_delta_t"],
                               unit=metric_unit(m["key"])))
        sub.append(_column("ΔT", True, f"ΔT of {task} (percent, vs dense)",
                           subscript=component_label(task).lower(), unit="%"))
    components = [*table["components"], "overall"]
    top.append({**_column("Sparsity", None, "measured, mean over seeds", unit="%"),
                "rowspan": 1, "colspan": len(components)})
    sub.extend(_column(component_label(c), None, f"measured sparsity: {c}") for c in components)
    for index, column in enumerate(top[:HEAD]):
        column["col"] = index
    for index, column in enumerate(sub):
        column["col"] = HEAD + index
    return top, sub


def _headline(table: dict[str, Any], entry: dict[str, Any], href: str,
              reference: bool) -> list[dict[str, Any]]:
    if reference:
        floor = noise_floor(table)
        delta = {"text": "ref.", "std": noise_floor_text(table) if floor else "",
                 "sort": "0.0",
                 "title": "the dense reference; ± is dense's own 95% interval over its per-seed "
                 "ΔT (each seed against the mean of the dense seeds): the noise floor"
                 + (f", [{floor['low']:.1f}, {floor['high']:.1f}]" if floor else "")}
    else:
        text = delta_t_text(entry)
        delta = {"text": text["mean"], "std": text["pm"], "title": text["interval"],
                 "sort": repr(float(entry["delta_t"]["mean"])),
                 "flag": NOT_DISTINGUISHABLE if indistinguishable(entry) else ""}
    dm = delta_m_text(entry)
    m_cell = ({"text": "–", "std": "", "sort": "", "title": "no single-task references"}
              if dm is None else
              {"text": dm["mean"], "std": dm["pm"], "title": dm["interval"],
               "sort": repr(float(entry["delta_m"]["mean"]))})
    budget = budget_of(entry)
    verified = verification_of(entry)
    return [
        {"text": entry["method"] + (" (submitted)" if entry.get("submitted") else ""),
         "std": "", "sort": entry["method"], "href": href,
         "cls": "method", **row_note_flag(entry)},
        {**delta, "cls": "headline"},
        {**m_cell, "cls": "headline delta-m"},
        {"text": "ref." if reference else group_label(entry), "std": "",
         "sort": "0" if reference else str(group_low(entry) or entry["rank"]), "cls": "group"},
        {"text": str(entry["n_seeds"]), "std": "", "sort": str(entry["n_seeds"])},
        {"text": start_of(entry), "std": "", "sort": start_of(entry)},
        {"text": budget_text(entry), "std": "", "sort": "" if budget is None else repr(budget),
         "cls": "budget"},
        {"text": "–", "std": "", "sort": "", "cls": "verified",
         "title": "the reference: not a row to verify"} if reference else
        {"text": verified["label"], "std": "", "sort": verified["sort"],
         "cls": f"verified {verified['state'].replace(' ', '-')}",
         "title": verified.get("reason") or f"{verified.get('file')}, "
                                              f"{verified.get('created_at')}"},
    ]


def _row(table: dict[str, Any], entry: dict[str, Any], href: str, reference: bool) -> list[dict[str, Any]]:
    cells = _headline(table, entry, href, reference)
    by_task = entry["delta_t"]["by_task"]
    for task in table["tasks"]:
        for m in (m for m in table["metrics"] if m["task"] == task):
            scale, decimals = metric_scale(m["key"])
            cells.append(cell(entry["metrics"].get(task, {}).get(m["key"]), decimals, scale))
        cells.append({**cell(by_task.get(task)), "cls": "dt"})
        if reference:  # ΔT_i of the reference against itself is 0 by definition: a dash
            cells[-1].update(text="–", std="")
    by_component = entry["sparsity"]["by_component"]
    for component in table["components"]:
        cells.append(cell(by_component.get(component), 2, 100.0))
    cells.append(cell(entry["sparsity"]["overall"], 2, 100.0))
    return cells


def table_view(table: dict[str, Any], method_href: Callable[[str], str]) -> dict[str, Any]:
    top, sub = _columns(table)
    bold = best_group(table)
    rows = [{"reference": True, "method": table["reference"]["method"], "flag": False,
             "cells": _row(table, table["reference"], method_href(table["reference"]["method"]),
                           True)}]
    rows += [{"reference": False, "method": e["method"], "flag": indistinguishable(e),
              "cells": _row(table, e, method_href(e["method"]), False)} for e in table["entries"]]
    for row in rows:
        for c in row["cells"]:
            for key, default in (("href", None), ("cls", ""), ("title", ""), ("flag", "")):
                c.setdefault(key, default)
            c["best"] = False
        # Bold only the ΔT of the rows not significantly worse than the leader, and only when
        # some row is (best_group).
        row["cells"][1]["best"] = row["method"] in bold and not row["reference"]
    # Column-by-column sort direction, aligned with the cells of a row.
    betters = ["", "higher", "higher", "", "", "", "", ""] + [c["better"] for c in sub]
    return {"id": table["id"], "dom_id": "table-" + dom_id(table["id"]), "top": top, "sub": sub,
            "rows": rows, "betters": betters, "has_aux": any(c["aux"] for c in sub),
            "noise_floor": noise_floor_text(table) if noise_floor(table) else None,
            "mdd": mdd_text(table), "budget": table_budget_text(table)}


ROW_NOTE_FLAG = "ⁿ"


def row_note_flag(entry: dict[str, Any]) -> dict[str, str]:
    """A mark on the method cell whose tooltip reads the row's notes (bench/aggregate/row_notes)."""
    notes = entry.get("row_notes") or []
    return {"flag": ROW_NOTE_FLAG, "title": "; ".join(notes)} if notes else {}
