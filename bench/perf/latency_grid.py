"""`bench latency --grid`: the latency of one seed of every run of the grid, in one file
(`reports/latency.json`, schema `GRID_SCHEMA`) that the report reads. Importing this module
does not import torch, so the report can share the schema name."""

from __future__ import annotations

from pathlib import Path
from typing import Any

GRID_SCHEMA = "bench-latency-grid/1"
# `bench latency-paper`'s file: the same schema, `kind` set to this (bench/perf/paper_size.py).
REFERENCE_KIND = "paper-size reference"
REFERENCE_FILE = Path("reports/reference/latency_paper.json")


def measure_grid(run_dirs: list[Path], runs_root: Path, repeats: int, warmup: int,
                 threads: int | None,
                 input_size: tuple[int, int] | None = None) -> dict[str, Any]:
    """`measure_latency` for each finished run; the others are listed with the reason."""
    from bench.perf.latency import measure_latency
    from bench.provenance import now_iso
    from bench.record.result import read_result

    runs: dict[str, Any] = {}
    skipped: dict[str, str] = {}
    for run_dir in run_dirs:
        key = run_dir.relative_to(runs_root).as_posix()
        result = read_result(run_dir)
        status = result.status if result else None
        if status != "ok":
            skipped[key] = "no result.json" if status is None else f"run status {status}"
            continue
        runs[key] = measure_latency(run_dir, repeats, warmup, input_size, threads)
    return {"schema": GRID_SCHEMA, "created_at": now_iso(), "runs_root": str(runs_root),
            "repeats": repeats, "warmup": warmup, "runs": runs, "skipped": skipped}
