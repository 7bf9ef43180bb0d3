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


def _floor(table: dict[str, Any], side: str) -> float | None:
    """An end ("low"/"high"/"half_width") of the table's noise floor, dense's own interval."""
    return (table.get("noise_floor") or {}).get(side)


def _mdd(table: dict[str, Any]) -> float | None:
    return (table.get("minimum_detectable_difference") or {}).get("value")


def _flat_row(table: dict[str, Any], entry: dict[str, Any], reference: bool) -> dict[str, Any]:
    row: dict[str, Any] = {
        "table": table["id"],
        "dataset": table["dataset"], "backbone": table["backbone"], "profile": table["profile"],
        "target_sparsity": table["target_sparsity"], "table_budget_units": table.get("budget_units"),
        "method": entry["method"],
        "reference": reference, "rank": entry["rank"], "n_seeds": entry["n_seeds"],
        "seeds": " ".join(str(s) for s in entry["seeds"]),
        "delta_t_mean": entry["delta_t"]["mean"], "delta_t_std": entry["delta_t"]["std"],
        "delta_t_ci_low": _ci(entry["delta_t"], 0), "delta_t_ci_high": _ci(entry["delta_t"], 1),
        "delta_m_mean": _dm(entry, "mean"), "delta_m_std": _dm(entry, "std"),
        "delta_m_ci_low": _dm(entry, 0), "delta_m_ci_high": _dm(entry, 1),
        "rank_group": (entry.get("rank_group") or {}).get("label"),
        "not_distinguishable_from_dense": entry.get("not_distinguishable_from_dense"),
        "vs_dense_p_holm": (entry.get("vs_dense") or {}).get("p_holm"),
        "noise_floor_low": _floor(table, "low"), "noise_floor_high": _floor(table, "high"),
        "minimum_detectable_difference": _mdd(table),
        "reference_kind": table.get("reference_kind"),
        "start": entry.get("start"),
        "budget_units": (entry.get("cost") or {}).get("budget_units"),
        # `bench verify`'s status of the row ("verified 2/2 on AVX2"); empty for the reference.
        "verification": (entry.get("verification") or {}).get("label"),
        # An imported submission's row (bench import; docs/submitting.md).
        "submitted": bool(entry.get("submitted")),
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


def metrics_key(table: dict[str, Any], prefix: bool) -> str:
    """A table's key in metrics.json: `s<target %>/b<budget>` ("s90/b1"), short because DVC
    makes each key path a column header; the setting is prefixed only where the leaderboard has
    more than one (the pipeline ranks one setting, which its params already name)."""
    budget = table.get("budget_units")
    key = f"s{100 * table['target_sparsity']:g}/b" + ("?" if budget is None else f"{budget:g}")
    if not prefix:
        return key
    identity = str(table.get("setting_identity") or "")[:8]
    return (f"{table['dataset']}/{table['backbone']}/{table['profile']}"
            + (f"@{identity}" if identity else "") + f"/{key}")


def dvc_metrics(leaderboard: dict[str, Any]) -> dict[str, Any]:
    """The headline for `dvc metrics show` / `dvc exp show` (docs/report.md): per table and
    method ΔT with its 95 % interval, the rank group, the budget and the "not distinguishable
    from dense" flag; per table the minimum detectable difference and dense's own interval.
    Nothing else: every value is a column of `dvc exp show`."""
    settings = {(t["dataset"], t["backbone"], t["profile"], t.get("setting_identity"))
                for t in leaderboard["tables"]}
    out: dict[str, Any] = {}
    for table in leaderboard["tables"]:
        row: dict[str, Any] = {
            e["method"]: {
                "delta_t": e["delta_t"]["mean"],
                "delta_t_low": _ci(e["delta_t"], 0),
                "delta_t_high": _ci(e["delta_t"], 1),
                "group": (e.get("rank_group") or {}).get("label"),
                "budget": (e.get("cost") or {}).get("budget_units"),
                "same_as_dense": e.get("not_distinguishable_from_dense"),
            }
            for e in table["entries"]
        }
        row["mdd"] = _mdd(table)
        row["dense_low"], row["dense_high"] = _floor(table, "low"), _floor(table, "high")
        out[metrics_key(table, len(settings) > 1)] = row
    return out


def write_leaderboard(leaderboard: dict[str, Any], out_dir: str | Path) -> tuple[Path, Path]:
    out = Path(out_dir)
    json_path, csv_path = out / LEADERBOARD_JSON, out / LEADERBOARD_CSV
    _write_atomic(json_path, json.dumps(leaderboard, indent=2, allow_nan=False) + "\n")
    _write_atomic(csv_path, leaderboard_frame(leaderboard).to_csv(index=False))
    _write_atomic(out / METRICS_JSON, json.dumps(dvc_metrics(leaderboard), indent=2) + "\n")
    return json_path, csv_path
