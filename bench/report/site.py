"""What the pages show, gathered from the leaderboard, `methods.json` and the runs' logs."""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from bench.report.figures import (
    FigureRef,
    FigureWriter,
    RunLog,
    delta_t_vs_sparsity,
    sparsity_bars,
    sparsity_dynamics,
    training_curves,
)
from bench.report.inputs import read_json_object
from bench.report.labels import cell, dom_id, fmt, legend_items, safe_name
from bench.report.speed import speed_view
from bench.report.speed_figure import accuracy_speed
from bench.report.speed_reference import reference_view
from bench.report.stats import budget_text, delta_t_text, group_label, indistinguishable, start_of
from bench.report.summary import group_settings, summary_view
from bench.report.tables import table_view

ADAPMTL_PREFIX = "adapmtl"


def method_href(method: str) -> str:
    return f"methods/{safe_name(method)}.html"


def value_text(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value, sort_keys=True)


def read_methods_json(path: Path | None) -> dict[str, dict[str, Any]]:
    """`{slug: {description, paper, params}}` written by the pipeline; optional, checked."""
    data = read_json_object(path) or {}
    return {str(k): v for k, v in data.items() if isinstance(v, dict)}


def _logs(tables: Iterable[dict[str, Any]], method: str, runs_root: Path) -> list[RunLog]:
    """The lowest-seed run of `method` per target sparsity (the reference for `dense`)."""
    logs: dict[float, RunLog] = {}
    for table in tables:
        entries = [table["reference"]] if method == table["reference"]["method"] else \
            [e for e in table["entries"] if e["method"] == method]
        for entry in entries:
            run = min(entry["runs"], key=lambda r: r["seed"])
            target = 0.0 if entry["rank"] is None else table["target_sparsity"]
            logs.setdefault(target, RunLog(target, run["seed"], runs_root / run["path"]))
    return [logs[t] for t in sorted(logs)]


def all_methods(leaderboard: dict[str, Any]) -> list[str]:
    names = {leaderboard["rules"]["reference"]}
    for table in leaderboard["tables"]:
        names.update(e["method"] for e in table["entries"])
    names.update(str(i["method"]) for i in [*leaderboard["invalid"], *stale_runs(leaderboard)]
                 if i.get("method"))
    reference = leaderboard["rules"]["reference"]
    return [reference] + sorted(names - {reference})


def stale_runs(leaderboard: dict[str, Any]) -> list[dict[str, Any]]:
    """Runs not ranked because their identity differs from what params.yaml asks for."""
    stale = leaderboard.get("stale") or []
    return [s for s in stale if isinstance(s, dict)]


class SiteBuilder:
    """Builds the figures once and the context of each page."""

    def __init__(self, leaderboard: dict[str, Any], runs_root: Path, site_dir: Path,
                 methods_info: dict[str, dict[str, Any]],
                 latency: dict[str, Any] | None = None,
                 reference: dict[str, Any] | None = None) -> None:
        self.lb = leaderboard
        self.latency = latency
        self.reference = reference  # the paper-size latency reference (bench latency-paper)
        self.runs_root = runs_root
        self.methods = all_methods(leaderboard)
        self.info = methods_info
        self.writer = FigureWriter(site_dir, self.methods[1:])
        self.settings = group_settings(leaderboard["tables"])
        self.dynamics: dict[tuple[str, str], FigureRef] = {}

    def _dynamics(self, setting: str, method: str) -> FigureRef:
        key = (setting, method)
        if key not in self.dynamics:
            tables = self.settings[setting]
            self.dynamics[key] = sparsity_dynamics(
                self.writer, method, setting, _logs(tables, method, self.runs_root),
                tables[0]["components"])
        return self.dynamics[key]

    def index_context(self) -> dict[str, Any]:
        settings = []
        for name, tables in self.settings.items():
            adaptive = sorted({e["method"] for t in tables for e in t["entries"]
                               if e["method"].startswith(ADAPMTL_PREFIX)})
            settings.append({
                "name": name,
                "anchor": dom_id(name.replace(" / ", "-")),
                "summary": summary_view(name, tables),
                "delta_t_figure": delta_t_vs_sparsity(self.writer, name, tables),
                "tables": [{"target": fmt(t["target_sparsity"], 0, 100.0),
                            "anchor": dom_id(t["id"]),
                            "view": table_view(t, method_href),
                            "bars": sparsity_bars(self.writer, name, t)} for t in tables],
                "dynamics": [self._dynamics(name, m) for m in adaptive],
                "speed": speed_view(self.latency, tables, method_href),
                "speed_figure": accuracy_speed(self.writer, name, tables, self.latency,
                                               self.reference),
            })
        methods = [{"slug": m, "href": method_href(m),
                    "description": value_text(self.info.get(m, {}).get("description", ""))}
                   for m in self.methods]
        return {"settings": settings, "methods": methods, "invalid": self.lb["invalid"],
                "speed_reference": reference_view(self.reference),
                "stale": stale_runs(self.lb), "legend": legend_items(self.lb["tables"])}

    def method_context(self, method: str) -> dict[str, Any]:
        info = self.info.get(method, {})
        params: dict[str, Any] = info["params"] if isinstance(info.get("params"), dict) else {}
        results: list[dict[str, Any]] = []
        runs: list[dict[str, Any]] = []
        param_sets: dict[str, list[str]] = {}
        figures: list[FigureRef] = []
        for name, tables in self.settings.items():
            found = False
            for table in tables:
                entries = [table["reference"]] if method == table["reference"]["method"] else \
                    [e for e in table["entries"] if e["method"] == method]
                for entry in entries:
                    found = True
                    if entry["rank"] is None and any(r["setting"] == name for r in results):
                        continue
                    results.append(self._result_row(name, table, entry))
                    runs.extend(self._run_rows(name, table, entry))
            if found:
                figures.append(training_curves(self.writer, method, name,
                                               _logs(tables, method, self.runs_root),
                                               tables[0]["tasks"]))
                if method.startswith(ADAPMTL_PREFIX):
                    figures.append(self._dynamics(name, method))
        for row in runs:
            param_sets.setdefault(row["params_key"], []).append(row["where"])
        return {
            "method": method,
            "description": value_text(info.get("description", "")),
            "paper": value_text(info.get("paper", "")),
            "params": [(str(k), value_text(v)) for k, v in sorted(params.items())],
            "param_sets": [{"params": [(k, value_text(v)) for k, v in json.loads(key).items()],
                            "used_in": sorted(set(where))} for key, where in param_sets.items()],
            "results": results,
            "runs": runs,
            "invalid": [i for i in self.lb["invalid"] if i.get("method") == method],
            "stale": [i for i in stale_runs(self.lb) if i.get("method") == method],
            "figures": figures,
        }

    @staticmethod
    def _result_row(setting: str, table: dict[str, Any], entry: dict[str, Any]) -> dict[str, Any]:
        cost = entry["cost"]
        reference = entry["rank"] is None
        text = delta_t_text(entry)
        return {
            "setting": setting,
            "target": "dense" if reference else fmt(table["target_sparsity"], 0, 100.0) + "%",
            "rank": "ref" if reference else f"{group_label(entry)} / {len(table['entries'])}",
            "rank_sort": 0 if reference else entry["rank"],
            "delta_t": {"text": "ref." if reference else text["mean"],
                        "std": "" if reference else text["pm"], "title": text["interval"],
                        "sort": "" if reference else repr(float(entry["delta_t"]["mean"]))},
            "flag": not reference and indistinguishable(entry),
            "start": start_of(entry), "budget": budget_text(entry),
            "sparsity": cell(entry["sparsity"]["overall"], 2, 100.0),
            "seeds": entry["n_seeds"],
            "train_seconds": fmt(cost.get("train_seconds"), 1),
            "iterations": fmt(cost.get("iterations"), 0),
            "macs_ratio": fmt(cost.get("macs_ratio"), 3),
            "extra_forward_backward": fmt(cost.get("extra_forward_backward"), 0),
            "rounds": fmt(cost.get("rounds"), 1),
        }

    @staticmethod
    def _run_rows(setting: str, table: dict[str, Any], entry: dict[str, Any]) -> list[dict[str, Any]]:
        target = "dense" if entry["rank"] is None else fmt(table["target_sparsity"], 0, 100.0) + "%"
        return [{
            "setting": setting, "target": target, "seed": run["seed"], "path": run["path"],
            "delta_t": fmt(run["delta_t"]["mean"]), "sparsity": fmt(run["sparsity_overall"], 2, 100.0),
            "train_seconds": fmt(run["train_seconds"], 1),
            "notes": [(str(k), value_text(v)) for k, v in sorted(run["notes"].items())],
            "params_key": json.dumps(run["method_params"], sort_keys=True),
            "where": f"{setting}, {target}",
        } for run in entry["runs"]]
