"""The paper-size latency reference (`bench latency-paper`, reports/reference/latency_paper.json)
beside the embedded measurements: its table rows and the speeds the accuracy–speed figure marks.

The file is committed, not made by `dvc repro`: full-width Deeplab-ResNet34 with three ASPP heads
at 321×321, random weights pruned with the methods' criteria (latency only), so it has speeds
and no accuracy. Read as JSON; no torch."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from bench.perf.latency_grid import GRID_SCHEMA, REFERENCE_KIND
from bench.report.inputs import read_json_object
from bench.report.labels import fmt
from bench.report.speed import _row, spread, within_noise

log = logging.getLogger(__name__)


def read_reference(path: Path | None) -> dict[str, Any] | None:
    """The reference file, or None when there is none (or it is not one: logged)."""
    data = read_json_object(path)
    if data is not None and (data.get("schema") != GRID_SCHEMA or data.get("kind") != REFERENCE_KIND):
        log.warning("ignoring %s: not a `bench latency-paper` file", path)
        return None
    return data


def _size(entry: dict[str, Any]) -> str:
    return "×".join(map(str, entry["input_size"]))


def reference_view(reference: dict[str, Any] | None) -> dict[str, Any] | None:
    """Rows per device and batch size (structured models first), and the labels the table needs:
    the model, input, weights, machine and repeats."""
    if reference is None or not reference.get("runs"):
        return None
    rows = []
    for key, entry in reference["runs"].items():
        target = fmt(entry["target_sparsity"], 0, 100.0) + "%"
        row = _row(target, entry["method"], "", entry)
        device = entry["device_name"] if entry.get("device") == "cuda" else entry.get("device")
        rows.append({**row, "key": key, "device": device,
                     "batch": entry["batch_size"], "repeats": entry["repeats"]})
    machine = reference.get("machine") or {}
    load = reference.get("load_average") or {}
    return {
        "rows": rows, "skipped": sorted((reference.get("skipped") or {}).items()),
        "model": reference["model"]["description"], "input": "×".join(map(str, reference["input_size"])),
        "weights": reference["weights"], "created_at": reference["created_at"],
        "machine": (f"{machine.get('cpu_model', '?')}, kernels {machine.get('cpu_capability', '?')}, "
                    f"{machine.get('threads', '?')} thread(s) of {machine.get('logical_cpus', '?')} "
                    "logical CPUs"),
        "load": (f"load average {load['start'][0]:.1f} at the start, {load['end'][0]:.1f} at the "
                 "end" if load.get("start") and load.get("end") else ""),
        "repeats": ", ".join(f"{r} at batch {b}"
                             for b, r in (reference.get("repeats_by_batch") or {}).items()),
        "warmup": reference.get("warmup"),
    }


def reference_speeds(reference: dict[str, Any] | None, device: str = "cpu",
                     batch: int = 1) -> dict[str, dict[str, Any]]:
    """Per method of the reference at `device` and `batch`: its latency relative to the dense
    kernels (the fastest measured path, 1 / speed-up), its target, the input size and whether
    that path's repeats overlap the dense kernels' (within the measured noise)."""
    speeds: dict[str, dict[str, Any]] = {}
    for entry in (reference or {}).get("runs", {}).values():
        if entry.get("device") != device or entry.get("batch_size") != batch:
            continue
        found = [p for k, p in entry["paths"].items()
                 if k not in ("dense", "semi_structured_2to4") and p.get("available")]
        if found:
            best = max(found, key=lambda p: p["speedup_vs_dense"])
            speeds[entry["method"]] = {
                "relative_latency": 1.0 / best["speedup_vs_dense"],
                "target": entry["target_sparsity"], "size": _size(entry),
                "structured": bool(entry.get("structured")),
                "within_noise": within_noise(spread(best), spread(entry["paths"]["dense"]))}
    return speeds
