"""Checked runs → the leaderboard: tables per dataset × backbone × profile × target sparsity.

ΔT is computed here, per seed, against the dense run with the same dataset, backbone, profile and
seed (docs/protocol.md §2), then averaged over seeds — the `delta_t` stored in result.json is not trusted.
"""

from __future__ import annotations

import datetime as _dt
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from bench.aggregate.load import SPARSITY_TOLERANCE, InvalidRun, Run, load_runs
from bench.tasks import DELTA_T_KEYS, METRICS
from datasets.registry import DATASETS

LEADERBOARD_SCHEMA_VERSION = 1
REFERENCE_METHOD = "dense"
_METRIC_ORDER = {(m.task, m.key): i for i, m in enumerate(METRICS)}
_DIRECTION = {(m.task, m.key): m.higher_is_better for m in METRICS}


@dataclass(frozen=True)
class Scored:
    run: Run
    delta_t: dict[str, float]


def stat(values: list[float]) -> dict[str, float | None]:
    """Mean and sample standard deviation (ddof=1; null for a single seed)."""
    series = pd.Series(values, dtype="float64")
    std = float(series.std(ddof=1)) if len(series) > 1 else None
    return {"mean": float(series.mean()), "std": std}


def _mean(values: list[Any]) -> float | None:
    numbers = [float(v) for v in values if isinstance(v, (int, float)) and not isinstance(v, bool)]
    return float(pd.Series(numbers, dtype="float64").mean()) if numbers else None


def scoring_rule(dataset: str) -> str | None:
    spec = DATASETS.get(dataset)
    return spec.scoring if spec is not None else None


def _score(runs: list[Run], invalid: list[InvalidRun]) -> list[Scored]:
    from bench.scoring import delta_t

    dense = {(r.setting, r.seed): r for r in runs if r.method == REFERENCE_METHOD}
    scored: list[Scored] = []
    for run in runs:
        reference = dense.get((run.setting, run.seed))
        if reference is None:
            dataset, backbone, profile = run.setting
            invalid.append(InvalidRun(run.path, (
                f"missing dense reference: no valid dense run for {dataset}/{backbone} "
                f"profile {profile} seed {run.seed}"), run.result))
            continue
        try:
            values = delta_t(run.result["metrics"], reference.result["metrics"],
                             scoring=scoring_rule(run.result["dataset"]))
        except (KeyError, ValueError, TypeError, ZeroDivisionError) as exc:
            invalid.append(InvalidRun(run.path, f"cannot compute ΔT: {exc}", run.result))
            continue
        scored.append(Scored(run, {k: float(v) for k, v in values.items()}))
    return scored


def _mean_delta_t(items: list[Scored]) -> float:
    return sum(s.delta_t["mean"] for s in items) / len(items)


def _cost(runs: list[Run]) -> dict[str, float | None]:
    costs = [r.result.get("cost") or {} for r in runs]

    def ratio(c: dict[str, Any]) -> float | None:
        dense, sparse = c.get("macs_dense"), c.get("macs_sparse_theoretical")
        return sparse / dense if isinstance(dense, (int, float)) and dense and \
            isinstance(sparse, (int, float)) else None

    out = {key: _mean([c.get(key) for c in costs]) for key in
           ("train_seconds", "iterations", "extra_forward_backward", "rounds")}
    out["macs_ratio"] = _mean([ratio(c) for c in costs])
    return out


def _run_record(item: Scored) -> dict[str, Any]:
    r = item.run.result
    cost = r.get("cost") or {}
    return {
        "seed": item.run.seed,
        "path": item.run.path,
        "delta_t": {"mean": item.delta_t["mean"],
                    "by_task": {k: v for k, v in item.delta_t.items() if k != "mean"}},
        "sparsity_overall": r["sparsity"]["overall"],
        "train_seconds": cost.get("train_seconds"),
        "notes": cost.get("notes") or {},
        "method_params": r.get("method_params") or {},
    }


def _entry(method: str, items: list[Scored], rank: int | None) -> dict[str, Any]:
    items = sorted(items, key=lambda s: s.run.seed)
    results = [s.run.result for s in items]
    tasks = sorted({t for s in items for t in s.delta_t if t != "mean"})
    metric_keys = sorted({(t, k) for r in results for t, ks in r["metrics"].items() for k in ks})
    components = sorted({c for r in results for c in r["sparsity"]["by_component"]})
    return {
        "method": method,
        "rank": rank,
        "n_seeds": len(items),
        "seeds": [s.run.seed for s in items],
        "delta_t": {
            **stat([s.delta_t["mean"] for s in items]),
            "by_task": {t: stat([s.delta_t[t] for s in items if t in s.delta_t]) for t in tasks},
        },
        "metrics": {
            task: {key: stat([r["metrics"][task][key] for r in results
                              if key in r["metrics"].get(task, {})])
                   for (t, key) in metric_keys if t == task}
            for task in sorted({t for t, _ in metric_keys})
        },
        "sparsity": {
            "overall": stat([r["sparsity"]["overall"] for r in results]),
            "by_component": {c: stat([r["sparsity"]["by_component"][c] for r in results
                                      if c in r["sparsity"]["by_component"]])
                             for c in components},
        },
        "cost": _cost([s.run for s in items]),
        "method_params": results[0].get("method_params") or {},
        "runs": [_run_record(s) for s in items],
    }


def _columns(entries: list[dict[str, Any]], scoring: str | None) -> list[dict[str, Any]]:
    keys = {(t, k) for e in entries for t, ks in e["metrics"].items() for k in ks}
    counted = DELTA_T_KEYS.get(scoring or "", {})
    ordered = sorted(keys, key=lambda tk: (_METRIC_ORDER.get(tk, len(_METRIC_ORDER)), tk))
    return [{"task": t, "key": k, "higher_is_better": _DIRECTION.get((t, k)),
             "in_delta_t": k in counted.get(t, ())} for t, k in ordered]


def _ordered(names: set[str], first: tuple[str, ...]) -> list[str]:
    return [n for n in first if n in names] + sorted(names - set(first))


def _tables(scored: list[Scored]) -> list[dict[str, Any]]:
    dense: dict[tuple[str, str, str], list[Scored]] = {}
    groups: dict[tuple[tuple[str, str, str], float], dict[str, list[Scored]]] = {}
    for item in scored:
        if item.run.method == REFERENCE_METHOD:
            dense.setdefault(item.run.setting, []).append(item)
        else:
            key = (item.run.setting, item.run.target_sparsity)
            groups.setdefault(key, {}).setdefault(item.run.method, []).append(item)
    tables = []
    for (setting, target), by_method in sorted(groups.items()):
        dataset, backbone, profile = setting
        ranked = sorted(by_method.items(), key=lambda kv: (-_mean_delta_t(kv[1]), kv[0]))
        entries = [_entry(m, items, i + 1) for i, (m, items) in enumerate(ranked)]
        reference = _entry(REFERENCE_METHOD, dense[setting], None)
        scoring = scoring_rule(dataset)
        spec = DATASETS.get(dataset)
        task_names = {t for e in [reference, *entries] for t in e["metrics"]}
        component_names = {c for e in [reference, *entries] for c in e["sparsity"]["by_component"]}
        tasks = _ordered(task_names, spec.tasks if spec else ())
        tables.append({
            "id": f"{dataset}/{backbone}/{profile}/s{target:.2f}",
            "dataset": dataset, "backbone": backbone, "profile": profile,
            "target_sparsity": target, "scoring": scoring,
            "tasks": tasks,
            "components": _ordered(component_names, ("backbone", *tasks)),
            "metrics": _columns([reference, *entries], scoring),
            "reference": reference,
            "entries": entries,
        })
    return tables


def _provenance(parsed: list[dict[str, Any]]) -> dict[str, Any]:
    prov = [r.get("provenance") or {} for r in parsed]

    def count(*keys: str) -> dict[str, int]:
        values = []
        for p in prov:
            parts = [str(p[k]) for k in keys if p.get(k) not in (None, "")]
            if parts:
                values.append(" / ".join(parts))
        return dict(sorted(Counter(values).items()))

    return {
        "git_commits": count("git_commit"),
        "git_dirty_runs": sum(1 for p in prov if p.get("git_dirty")),
        "bench_versions": count("bench_version"),
        "torch_versions": count("torch_version"),
        "python_versions": count("python_version"),
        "devices": count("device", "device_name"),
    }


def build_leaderboard(runs_root: str | Path) -> dict[str, Any]:
    """Read every result under `runs_root` and build the leaderboard (docs/report.md)."""
    runs, invalid = load_runs(runs_root)
    found = len(runs) + len(invalid)
    scored = _score(runs, invalid)
    parsed = [r.result for r in runs] + [i.result for i in invalid if isinstance(i.result, dict)]
    return {
        "schema_version": LEADERBOARD_SCHEMA_VERSION,
        "generated_at": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        "runs_root": str(runs_root),
        "rules": {
            "sparsity_tolerance": SPARSITY_TOLERANCE,
            "ranking": "delta_t.mean, higher is better",
            "std": "sample standard deviation over seeds (ddof=1); null for one seed",
            "reference": REFERENCE_METHOD,
        },
        "counts": {"results": found, "valid": len(scored), "invalid": len(invalid)},
        "tables": _tables(scored),
        "invalid": sorted((i.to_dict() for i in invalid), key=lambda d: d["path"]),
        "provenance": _provenance(parsed),
    }
