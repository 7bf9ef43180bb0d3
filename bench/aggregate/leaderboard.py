"""Checked runs → the leaderboard: one table per setting (data, backbone, profile content) ×
target sparsity × budget (rows trained with different budgets are never ranked together).

ΔT is computed here, per seed, against the reference built from the setting's dense seeds
(docs/protocol.md §2; `REFERENCE_KIND`), then summarised over seeds with its 95 % interval;
rows of a table are compared by pairwise t-tests, Holm-corrected, which give the rank groups,
and each row is tested against dense's own per-seed ΔT (bench/aggregate/stats.py). Δm is
computed against the single-task references (bench/aggregate/delta_m.py), which are never
ranked themselves. The `delta_t` stored in
result.json is not trusted. Runs are grouped by their recorded identity, never by names: runs of
one profile name trained with different content land in different tables, and with `expected`
identities (what params.yaml asks for) any other run is listed as stale and not ranked.
"""

from __future__ import annotations

import datetime as _dt
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pandas as pd

from bench.aggregate import delta_m, stats
from bench.aggregate.load import SPARSITY_TOLERANCE, Run, load_runs
from bench.aggregate.provenance import provenance_counts
from bench.aggregate.row_notes import row_notes
from bench.aggregate.scored import (
    REFERENCE_KIND,
    REFERENCE_METHOD,
    Scored,
    delta_m_scorer,
    score_runs,
    scorer,
    scoring_rule,
)
from bench.aggregate.staleness import Expected, split_stale
from bench.submit.marks import mark_submitted
from bench.tasks import DELTA_T_KEYS, METRICS
from bench.verify.identity import row_identity
from bench.verify.record import read_records
from bench.verify.status import attach_status
from datasets.registry import DATASETS

LEADERBOARD_SCHEMA_VERSION = 3
# One choice for every comparison of the leaderboard (stats.PAIRINGS), never per row. "paired"
# would compare seed k of one row with seed k of the other (the same data order and
# initialisation); Welch until a measurement shows pairing narrows the tests.
PAIRING = "welch"
# Budgets are compared at this precision: rows whose budgets round alike share a table.
BUDGET_DECIMALS = 2
_METRIC_ORDER = {(m.task, m.key): i for i, m in enumerate(METRICS)}
_DIRECTION = {(m.task, m.key): m.higher_is_better for m in METRICS}


def stat(values: list[float]) -> dict[str, Any]:
    """Mean, sample standard deviation (ddof=1) and 95 % t-interval; null for a single seed."""
    return stats.summary(values)


def _mean(values: list[Any]) -> float | None:
    numbers = [float(v) for v in values if isinstance(v, (int, float)) and not isinstance(v, bool)]
    return float(pd.Series(numbers, dtype="float64").mean()) if numbers else None


def _mean_delta_t(items: list[Scored]) -> float:
    return sum(s.delta_t["mean"] for s in items) / len(items)


def _cost(runs: list[Run]) -> dict[str, float | None]:
    costs = [r.result.get("cost") or {} for r in runs]

    def ratio(c: dict[str, Any]) -> float | None:
        dense, sparse = c.get("macs_dense"), c.get("macs_sparse_theoretical")
        return sparse / dense if isinstance(dense, (int, float)) and dense and \
            isinstance(sparse, (int, float)) else None

    out = {key: _mean([c.get(key) for c in costs]) for key in
           ("train_seconds", "iterations", "extra_forward_backward", "rounds", "budget_units")}
    out["macs_ratio"] = _mean([ratio(c) for c in costs])
    return out


def _run_record(item: Scored, dm: dict[str, float] | None = None) -> dict[str, Any]:
    r = item.run.result
    cost = r.get("cost") or {}
    return {
        "seed": item.run.seed,
        "path": item.run.path,
        "identity": item.run.identity,
        "delta_t": {"mean": item.delta_t["mean"],
                    "by_task": {k: v for k, v in item.delta_t.items() if k != "mean"}},
        "delta_m": None if dm is None else {
            "mean": dm["mean"], "by_task": {k: v for k, v in dm.items() if k != "mean"}},
        "sparsity_overall": r["sparsity"]["overall"],
        "train_seconds": cost.get("train_seconds"),
        "notes": cost.get("notes") or {},
        "method_params": r.get("method_params") or {},
    }


def _entry(method: str, items: list[Scored], rank: int | None,
           dm_reference: Mapping[str, Any] | None = None) -> dict[str, Any]:
    items = sorted(items, key=lambda s: s.run.seed)
    score = delta_m_scorer(items[0].run.result["dataset"])
    dms = [delta_m.per_run(s.run.result["metrics"], dm_reference, score) for s in items]
    results = [s.run.result for s in items]
    tasks = sorted({t for s in items for t in s.delta_t if t != "mean"})
    metric_keys = sorted({(t, k) for r in results for t, ks in r["metrics"].items() for k in ks})
    components = sorted({c for r in results for c in r["sparsity"]["by_component"]})
    starts = sorted({s.run.start for s in items})
    return {
        "method": method,
        "rank": rank,
        "start": starts[0] if len(starts) == 1 else "mixed",
        "n_seeds": len(items),
        "seeds": [s.run.seed for s in items],
        "delta_t": {
            **stat([s.delta_t["mean"] for s in items]),
            "by_task": {t: stat([s.delta_t[t] for s in items if t in s.delta_t]) for t in tasks},
        },
        "delta_m": delta_m.summarise(dms),
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
        "row_notes": row_notes([(r.get("cost") or {}).get("notes") or {} for r in results]),
        "method_params": results[0].get("method_params") or {},
        "runs": [_run_record(s, dm) for s, dm in zip(items, dms, strict=True)],
    }


def _columns(entries: list[dict[str, Any]], scoring: str | None) -> list[dict[str, Any]]:
    keys = {(t, k) for e in entries for t, ks in e["metrics"].items() for k in ks}
    counted = DELTA_T_KEYS.get(scoring or "", {})
    ordered = sorted(keys, key=lambda tk: (_METRIC_ORDER.get(tk, len(_METRIC_ORDER)), tk))
    return [{"task": t, "key": k, "higher_is_better": _DIRECTION.get((t, k)),
             "in_delta_t": k in counted.get(t, ())} for t, k in ordered]


def _ordered(names: set[str], first: tuple[str, ...]) -> list[str]:
    return [n for n in first if n in names] + sorted(names - set(first))


def _dense_sample(dense: list[Scored]) -> dict[int, float]:
    """Dense's per-seed ΔT, each seed against the mean of the dense seeds (stats.py):
    what every row is tested against, whatever the reference kind."""
    ordered = sorted(dense, key=lambda d: d.run.seed)
    values = stats.dense_seed_values([d.run.result["metrics"] for d in ordered],
                                     scorer(ordered[0].run.result["dataset"]))
    # One dense seed has no spread to measure: no noise floor, and every row untestable.
    return {d.run.seed: v for d, v in zip(ordered, values, strict=True)} if values else {}


def _sample(entry: dict[str, Any]) -> dict[int, float]:
    return {int(r["seed"]): float(r["delta_t"]["mean"]) for r in entry["runs"]}


def _compare(entries: list[dict[str, Any]], dense: dict[int, float]) -> dict[str, Any]:
    """Pairwise tests (Holm over the table) → rank groups; each row against dense (Holm over
    the rows) → the "not distinguishable from dense" flag. Returns the table's pairwise record."""
    samples = [_sample(e) for e in entries]
    pairs = stats.pairwise(samples, PAIRING)
    groups = stats.rank_groups([e["delta_t"]["mean"] for e in entries], pairs)
    for entry, group, test in zip(entries, groups, stats.versus(samples, dense, PAIRING),
                                  strict=True):
        entry["rank_group"] = group
        entry["vs_dense"] = test
        entry["not_distinguishable_from_dense"] = not test["significant"]
    return {"test": PAIRING, "correction": "holm", "alpha": stats.ALPHA,
            "pairs": [{**{k: v for k, v in pair.items() if k not in ("a", "b")},
                       "a": entries[pair["a"]]["method"], "b": entries[pair["b"]]["method"]}
                      for pair in pairs]}


def _budget(run: Run) -> float | None:
    """The run's budget in dense budgets, rounded to the precision tables are split at."""
    value = (run.result.get("cost") or {}).get("budget_units")
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return round(float(value), BUDGET_DECIMALS)


def _budget_key(key: tuple[tuple[str, ...], float, float | None]) -> tuple[Any, ...]:
    setting, target, budget = key
    return (setting, target, budget is None, budget or 0.0)


def _tables(scored: list[Scored],
            single: Mapping[tuple[str, ...], Mapping[str, list[Run]]]) -> list[dict[str, Any]]:
    dense: dict[tuple[str, ...], list[Scored]] = {}
    groups: dict[tuple[tuple[str, ...], float, float | None], dict[str, list[Scored]]] = {}
    for item in scored:
        if item.run.method == REFERENCE_METHOD:
            dense.setdefault(item.run.setting, []).append(item)
        else:
            key = (item.run.setting, item.run.target_sparsity, _budget(item.run))
            groups.setdefault(key, {}).setdefault(item.run.method, []).append(item)
    tables = []
    for (setting, target, budget), by_method in sorted(groups.items(), key=lambda kv:
                                                       _budget_key(kv[0])):
        dataset, backbone, profile, setting_id = setting
        ranked = sorted(by_method.items(), key=lambda kv: (-_mean_delta_t(kv[1]), kv[0]))
        spec = DATASETS.get(dataset)
        task_names = {t for items in [dense[setting], *by_method.values()] for s in items
                      for t in s.run.result["metrics"]}
        single_task = delta_m.reference_table(single.get(setting, {}))
        dm_reference = delta_m.reference_metrics(single_task, sorted(task_names))
        entries = [_entry(m, items, i + 1, dm_reference) for i, (m, items) in enumerate(ranked)]
        for entry, (_, items) in zip(entries, ranked, strict=True):
            # What a verification of this row must have verified (bench/verify/identity.py).
            entry["row_identity"] = row_identity([s.run.result for s in items],
                                                 [d.run.result for d in dense[setting]])
        reference = _entry(REFERENCE_METHOD, dense[setting], None, dm_reference)
        reference["reference_kind"] = REFERENCE_KIND
        dense_sample = _dense_sample(dense[setting])
        pairwise = _compare(entries, dense_sample)
        scoring = scoring_rule(dataset)
        component_names = {c for e in [reference, *entries] for c in e["sparsity"]["by_component"]}
        tasks = _ordered(task_names, spec.tasks if spec else ())
        short = f"@{setting_id[:8]}" if setting_id else ""
        tables.append({
            "id": f"{dataset}/{backbone}/{profile}{short}/s{target:.2f}/"
                  + ("b?" if budget is None else f"b{budget:.2f}"),
            "dataset": dataset, "backbone": backbone, "profile": profile,
            "setting_identity": setting_id or None,
            "target_sparsity": target, "budget_units": budget, "scoring": scoring,
            "tasks": tasks,
            "components": _ordered(component_names, ("backbone", *tasks)),
            "metrics": _columns([reference, *entries], scoring),
            "reference_kind": REFERENCE_KIND,
            "noise_floor": stats.noise_floor(dense_sample),
            "pairwise": pairwise,
            "minimum_detectable_difference": stats.minimum_detectable_difference(
                [_sample(e) for e in entries]),
            "reference": reference,
            "single_task_reference": single_task,
            "delta_m_reference_kind": delta_m.REFERENCE_KIND,
            "entries": entries,
        })
    return tables


def build_leaderboard(runs_root: str | Path,
                      expected: Mapping[str, Expected] | None = None,
                      verify_dir: str | Path | None = None) -> dict[str, Any]:
    """Read every result under `runs_root` and build the leaderboard (docs/report.md).

    `expected` maps run paths (relative to `runs_root`) to the identity params.yaml asks for
    there; runs elsewhere or of another identity are listed as stale and never ranked.
    `verify_dir` holds `bench verify`'s files: each entry's `verification` status comes from
    them ("not verified" without one, or with one of a row that has changed since).
    """
    runs, invalid = load_runs(runs_root)
    found = len(runs) + len(invalid)
    stale: list[dict[str, Any]] = []
    if expected is not None:
        runs, stale = split_stale(runs, expected)
    runs, single = delta_m.split_single_task(runs, invalid)
    scored, unscored = score_runs(runs)
    invalid.extend(unscored)
    parsed = [r.result for r in [*runs, *single]] + [i.result for i in invalid
                                                      if isinstance(i.result, dict)]
    tables = _tables(scored, delta_m.references(single))
    attach_status(tables, read_records(verify_dir) if verify_dir is not None else {})
    mark_submitted(tables)  # imported rows (runs/submitted): "unverified" until verified
    return {
        "schema_version": LEADERBOARD_SCHEMA_VERSION,
        "generated_at": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        "runs_root": str(runs_root),
        "rules": {
            "sparsity_tolerance": SPARSITY_TOLERANCE,
            "tables": "one per setting × target sparsity × budget_units (rounded to "
                      f"{BUDGET_DECIMALS} decimals); the setting's dense runs are the reference "
                      "of each",
            "ranking": "delta_t.mean, higher is better; rank groups from pairwise tests",
            "std": "sample standard deviation over seeds (ddof=1); null for one seed",
            "interval": stats.INTERVAL_RULE,
            "pairing": PAIRING,
            "pairwise_test": ("two-sided Welch t-test (scipy.stats.ttest_ind, equal_var=False) "
                              "on the rows' per-seed ΔT" if PAIRING == "welch" else
                              "two-sided paired t-test (scipy.stats.ttest_rel) on the rows' "
                              "per-seed ΔT over their common seeds"),
            "multiple_comparisons": f"Holm step-down over the pairs of a table, family-wise "
                                    f"α = {stats.ALPHA:.2f}; no test (null p) for fewer than 2 "
                                    "seeds a side",
            "rank_group": "[1 + #rows significantly better, n − #rows significantly worse]",
            "bold": "the rows not significantly worse than the leader, only when that is not "
                    "the whole table",
            "noise_floor": "95% t-interval of dense's per-seed ΔT, each dense seed against the "
                           "mean of the dense seeds (the rows' reference)",
            "not_distinguishable_from_dense": "the row's per-seed ΔT against dense's, the same "
                                              "test, Holm over the rows of the table, not "
                                              "significant",
            "minimum_detectable_difference": (
                f"(t_(1−α/(2m))(df) + t_{stats.POWER}(df))·s·√(2/n), df = 2(n−1), m the number "
                "of pairs, s the median per-seed sd of the rows, n their fewest seeds: the ΔT "
                f"difference detected with power {stats.POWER}"),
            "reference": REFERENCE_METHOD,
            "reference_kind": REFERENCE_KIND,
            "delta_m": "mean over tasks of the mean over each task's metrics of the signed "
                       "relative change against the single-task references (per task the mean "
                       "over seeds of the dense single-task network's metrics); null without "
                       "them",
            "delta_m_reference_kind": delta_m.REFERENCE_KIND,
            "verification": "`bench verify`: held-out seeds each inside the row's "
                            + stats.PREDICTION_RULE + "; a verification of a row whose identity "
                            "(apart from the seed) has changed since is stale: not verified",
            "identity_checked": expected is not None,
        },
        "counts": {"results": found, "valid": len(scored) + len(single),
                   "single_task": len(single), "invalid": len(invalid), "stale": len(stale)},
        "tables": tables,
        "invalid": sorted((i.to_dict() for i in invalid), key=lambda d: d["path"]),
        "stale": sorted(stale, key=lambda d: d["path"]),
        "provenance": provenance_counts(parsed),
    }
