""""Does sparsity make it faster?": theoretical MACs beside measured latency, per pruned model.

Reads the file `bench latency --grid` writes (one seed of every run of the grid); a run it did
not measure is left out of the table, and the table says so. A verdict whose best sparse path
is within the measured noise (its repeats' inter-quartile range overlaps the dense kernels')
reads "no measurable difference"."""

from __future__ import annotations

import logging
import statistics
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


def spread(found: dict[str, Any]) -> tuple[float, float] | None:
    """The inter-quartile range of a path's repeats (ms): recorded by `bench latency`, else
    computed from its `times_ms`; None when neither is there (e.g. the 2:4 path)."""
    if isinstance(found.get("q1_ms"), (int, float)) and isinstance(found.get("q3_ms"), (int, float)):
        return float(found["q1_ms"]), float(found["q3_ms"])
    times = [float(t) for t in found.get("times_ms") or [] if isinstance(t, (int, float))]
    if len(times) < 2:
        return None
    q1, _, q3 = statistics.quantiles(times, n=4, method="inclusive")
    return q1, q3


def within_noise(path: tuple[float, float] | None, dense: tuple[float, float] | None) -> bool:
    """A path and the dense kernels whose repeats' inter-quartile ranges overlap are not told
    apart by this measurement."""
    return path is not None and dense is not None and path[0] <= dense[1] and dense[0] <= path[1]


def _speed(entry: dict[str, Any], path: str, dense: tuple[float, float] | None) -> dict[str, Any]:
    found = entry["paths"].get(path) or {}
    if not found.get("available"):
        return {"text": "—", "spread": "", "noise": False}
    iqr = spread(found)
    noise = path != "semi_structured_2to4" and within_noise(iqr, dense)
    return {"text": f"{fmt(found['median_ms'], 2)} ms ({found['speedup_vs_dense']:.2f}×)",
            "spread": "" if iqr is None else f"IQR {iqr[0]:.2f}–{iqr[1]:.2f}",
            "noise": noise}


def _verdict(measured: dict[str, Any], cells: dict[str, dict[str, Any]]) -> tuple[str, bool]:
    """The stored verdict, unless the best sparse path is within the measured noise."""
    paths = {k: v for k, v in measured["paths"].items()
             if k != "dense" and isinstance(v, dict) and v.get("available")}
    if not paths:
        return str(measured.get("verdict", "")), False
    best = max(paths, key=lambda k: paths[k]["speedup_vs_dense"])
    if cells.get(best, {}).get("noise"):
        return (f"no measurable difference: the best sparse path ({best}, "
                f"{paths[best]['speedup_vs_dense']:.2f}×) is within the spread of the dense "
                "kernels' repeats"), True
    return str(measured.get("verdict", "")), False


def _row(target: str, method: str, href: str, measured: dict[str, Any]) -> dict[str, Any]:
    macs = measured["macs"]
    dense = measured["paths"]["dense"]
    dense_iqr = spread(dense)
    cells = {path: _speed(measured, path, dense_iqr)
             for path in ("sparse_csr", "sparse_hybrid", "semi_structured_2to4", "structured")}
    verdict, noise = _verdict(measured, cells)
    return {
        "target": target, "method": method, "href": href,
        "sparsity": fmt(measured["measured_sparsity"] or 0.0, 2, 100.0),
        "macs": (f"{macs['dense'] / 1e6:,.1f} → {macs['sparse_theoretical'] / 1e6:,.1f} M "
                 f"({macs['theoretical_speedup']:.2f}×)") if macs.get("theoretical_speedup") else "—",
        "dense_ms": {"text": f"{fmt(dense['median_ms'], 2)} ms", "noise": False,
                     "spread": "" if dense_iqr is None else
                     f"IQR {dense_iqr[0]:.2f}–{dense_iqr[1]:.2f}"},
        "csr": cells["sparse_csr"], "hybrid": cells["sparse_hybrid"],
        "two_four": cells["semi_structured_2to4"],
        "structured": cells["structured"],
        "verdict": verdict, "noise": noise,
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
