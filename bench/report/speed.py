""""Does sparsity make it faster?": theoretical MACs beside measured latency, per pruned model.

Reads the file `bench latency --grid` writes (one seed of every run of the grid); a run it did
not measure is left out of the table, and the table says so."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from bench.perf.latency_grid import GRID_SCHEMA
from bench.report.inputs import read_json_object
from bench.report.labels import fmt

log = logging.getLogger(__name__)


def read_latency(path: Path | None) -> dict[str, Any] | None:
    """The latency grid file, or None when there is none (or it cannot be read: logged)."""
    data = read_json_object(path)
    if data is not None and data.get("schema") != GRID_SCHEMA:
        log.warning("ignoring %s: not a `bench latency --grid` file", path)
        return None
    return data


def _speed(entry: dict[str, Any], path: str) -> str:
    found = entry["paths"].get(path) or {}
    if not found.get("available"):
        return "—"
    return f"{fmt(found['median_ms'], 2)} ms ({found['speedup_vs_dense']:.2f}×)"


def _row(target: str, method: str, href: str, measured: dict[str, Any]) -> dict[str, Any]:
    macs = measured["macs"]
    dense = measured["paths"]["dense"]
    return {
        "target": target, "method": method, "href": href,
        "sparsity": fmt(measured["measured_sparsity"] or 0.0, 2, 100.0),
        "macs": (f"{macs['dense'] / 1e6:,.1f} → {macs['sparse_theoretical'] / 1e6:,.1f} M "
                 f"({macs['theoretical_speedup']:.2f}×)") if macs.get("theoretical_speedup") else "—",
        "dense_ms": fmt(dense["median_ms"], 2),
        "csr": _speed(measured, "sparse_csr"),
        "hybrid": _speed(measured, "sparse_hybrid"),
        "two_four": _speed(measured, "semi_structured_2to4"),
        "verdict": measured["verdict"],
    }


def speed_view(latency: dict[str, Any] | None, tables: list[dict[str, Any]],
               href: Any) -> dict[str, Any] | None:
    """Rows of one setting (dense reference first, then each target's entries by rank)."""
    if latency is None:
        return None
    runs: dict[str, Any] = latency["runs"]
    rows: list[dict[str, Any]] = []
    missing = 0
    for table in tables:
        entries = ([] if rows else [(table["reference"], "dense")]) + [
            (e, fmt(table["target_sparsity"], 0, 100.0) + "%") for e in table["entries"]]
        for entry, target in entries:
            measured = next((runs[r["path"]] for r in entry["runs"] if r["path"] in runs), None)
            if measured is None:
                missing += 1
                continue
            rows.append(_row(target, entry["method"], href(entry["method"]), measured))
    if not rows:
        return None
    first = next(iter(runs.values()))
    return {"rows": rows, "missing": missing, "device": first["device_name"],
            "input": "×".join(map(str, first["input_size"])),
            "repeats": latency["repeats"]}
