"""Write the leaderboard as JSON (the full structure) and CSV (one row per table × method)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pandas as pd

LEADERBOARD_JSON = "leaderboard.json"
LEADERBOARD_CSV = "leaderboard.csv"
METRICS_JSON = "metrics.json"


def _ci(summary: dict[str, Any], side: int) -> float | None:
    ci = summary.get("ci95")
    return float(ci[side]) if ci else None


def _dm(entry: dict[str, Any], what: str | int) -> float | None:
    """A field of the entry's Δm (vs the single-task references); None without them."""
    summary = entry.get("delta_m")
    if not summary:
        return None
    return _ci(summary, what) if isinstance(what, int) else summary.get(what)


def _flat_row(table: dict[str, Any], entry: dict[str, Any], reference: bool) -> dict[str, Any]:
    row: dict[str, Any] = {
        "dataset": table["dataset"], "backbone": table["backbone"], "profile": table["profile"],
        "target_sparsity": table["target_sparsity"], "method": entry["method"],
        "reference": reference, "rank": entry["rank"], "n_seeds": entry["n_seeds"],
        "seeds": " ".join(str(s) for s in entry["seeds"]),
        "delta_t_mean": entry["delta_t"]["mean"], "delta_t_std": entry["delta_t"]["std"],
        "delta_t_ci_low": _ci(entry["delta_t"], 0), "delta_t_ci_high": _ci(entry["delta_t"], 1),
        "delta_m_mean": _dm(entry, "mean"), "delta_m_std": _dm(entry, "std"),
        "delta_m_ci_low": _dm(entry, 0), "delta_m_ci_high": _dm(entry, 1),
        "rank_group": (entry.get("rank_group") or {}).get("label"),
        "within_null_band": entry.get("within_null_band"),
        "null_band_low": (table.get("null_band") or {}).get("low"),
        "null_band_high": (table.get("null_band") or {}).get("high"),
        "reference_kind": table.get("reference_kind"),
        "start": entry.get("start"),
        "budget_units": (entry.get("cost") or {}).get("budget_units"),
    }
    for task, value in entry["delta_t"]["by_task"].items():
        row[f"delta_t.{task}_mean"] = value["mean"]
        row[f"delta_t.{task}_std"] = value["std"]
        row[f"delta_t.{task}_ci_low"] = _ci(value, 0)
        row[f"delta_t.{task}_ci_high"] = _ci(value, 1)
    for task, value in ((entry.get("delta_m") or {}).get("by_task") or {}).items():
        row[f"delta_m.{task}_mean"] = value["mean"]
        row[f"delta_m.{task}_ci_low"] = _ci(value, 0)
        row[f"delta_m.{task}_ci_high"] = _ci(value, 1)
    for task, keys in entry["metrics"].items():
        for key, value in keys.items():
            row[f"{task}.{key}_mean"] = value["mean"]
            row[f"{task}.{key}_std"] = value["std"]
    row["sparsity.overall_mean"] = entry["sparsity"]["overall"]["mean"]
    row["sparsity.overall_std"] = entry["sparsity"]["overall"]["std"]
    for component, value in entry["sparsity"]["by_component"].items():
        row[f"sparsity.{component}_mean"] = value["mean"]
    for key, value in entry["cost"].items():
        row[f"cost.{key}"] = value
    return row


def leaderboard_frame(leaderboard: dict[str, Any]) -> pd.DataFrame:
    rows = []
    for table in leaderboard["tables"]:
        rows.append(_flat_row(table, table["reference"], True))
        rows.extend(_flat_row(table, e, False) for e in table["entries"])
    return pd.DataFrame(rows)


def _write_atomic(path: Path, text: str) -> None:
    from bench.io import write_text_atomic  # unique temp name, then a rename

    write_text_atomic(path, text)


def dvc_metrics(leaderboard: dict[str, Any]) -> dict[str, Any]:
    """A small nested summary for `dvc metrics show` / `dvc exp show`: ΔT, Δm and measured
    sparsity per table and method (the full leaderboard is too wide for a terminal)."""
    out: dict[str, Any] = {}
    for table in leaderboard["tables"]:
        key = f"{table['dataset']}/{table['backbone']}/s{table['target_sparsity']}"
        out[key] = {
            e["method"]: {
                "delta_t": e["delta_t"]["mean"],
                "delta_t_ci95": e["delta_t"].get("ci95"),
                "delta_m": _dm(e, "mean"),
                "delta_m_ci95": (e.get("delta_m") or {}).get("ci95"),
                "rank_group": (e.get("rank_group") or {}).get("label"),
                "sparsity": e["sparsity"]["overall"]["mean"],
            }
            # The dense reference too: its Δm is what sharing one network costs before pruning.
            for e in [table["reference"], *table["entries"]]
        }
        out[key]["null_band_half_width"] = (table.get("null_band") or {}).get("half_width")
    out["invalid_runs"] = len(leaderboard["invalid"])
    out["stale_runs"] = len(leaderboard.get("stale") or [])
    return out


def write_leaderboard(leaderboard: dict[str, Any], out_dir: str | Path) -> tuple[Path, Path]:
    out = Path(out_dir)
    json_path, csv_path = out / LEADERBOARD_JSON, out / LEADERBOARD_CSV
    _write_atomic(json_path, json.dumps(leaderboard, indent=2, allow_nan=False) + "\n")
    _write_atomic(csv_path, leaderboard_frame(leaderboard).to_csv(index=False))
    _write_atomic(out / METRICS_JSON, json.dumps(dvc_metrics(leaderboard), indent=2) + "\n")
    return json_path, csv_path
