"""Δm: every leaderboard row against the single-task references (docs/protocol.md §2).

Per seed, Δm is `bench.scoring.delta_m` as Maninis et al. 2019 and LibMTL (Δp) define it — the
same metric set and directions as ΔT, but the *mean* over a task's metrics, then over tasks
(ΔT sums within a task) — with the reference of task t the mean over seeds of the dense
single-task network of t. The multi-task dense model gets a Δm too: what sharing one
backbone costs or gains before any pruning. A table's Δm is null unless every one of its tasks
has at least one valid single-task run in the same setting.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

from bench.aggregate import stats
from bench.aggregate.load import InvalidRun, Run

REFERENCE_KIND = "mean_of_single_task_seeds"
Scorer = Callable[[Mapping[str, Any], Mapping[str, Any]], Mapping[str, float]]


def split_single_task(runs: Sequence[Run], invalid: list[InvalidRun]) -> tuple[list[Run], list[Run]]:
    """(multi-task runs, single-task references); a malformed reference is listed invalid."""
    multi: list[Run] = []
    single: list[Run] = []
    for run in runs:
        if run.task is None:
            multi.append(run)
        elif run.method != "dense" or run.target_sparsity != 0:
            invalid.append(InvalidRun(run.path, f"single-task reference of {run.task} is not a "
                                      f"dense run ({run.method}, s{run.target_sparsity})", run.result))
        elif not isinstance(run.result["metrics"].get(run.task), dict):
            invalid.append(InvalidRun(run.path, f"single-task reference has no metrics for its "
                                      f"task {run.task}", run.result))
        else:
            single.append(run)
    return multi, single


def references(single: Sequence[Run]) -> dict[tuple[str, ...], dict[str, list[Run]]]:
    """setting → task → its single-task runs."""
    out: dict[tuple[str, ...], dict[str, list[Run]]] = {}
    for run in single:
        out.setdefault(run.setting, {}).setdefault(str(run.task), []).append(run)
    return out


def reference_table(by_task: Mapping[str, Sequence[Run]]) -> dict[str, dict[str, Any]]:
    """{task: {"n_seeds", "seeds", "metrics": mean over seeds}} as the leaderboard shows it."""
    out = {}
    for task in sorted(by_task):
        runs = sorted(by_task[task], key=lambda r: r.seed)
        means = stats.mean_metrics([{task: r.result["metrics"][task]} for r in runs])
        out[task] = {"n_seeds": len(runs), "seeds": [r.seed for r in runs],
                     "metrics": means.get(task, {})}
    return out


def reference_metrics(table: Mapping[str, Mapping[str, Any]],
                      tasks: Sequence[str]) -> dict[str, dict[str, float]] | None:
    """The metrics Δm scores against, or None when a task of the table has no reference."""
    if not tasks or any(t not in table for t in tasks):
        return None
    return {t: dict(table[t]["metrics"]) for t in tasks}


def per_run(metrics: Mapping[str, Any], reference: Mapping[str, Any] | None,
            score: Scorer) -> dict[str, float] | None:
    """{task: Δm_t, "mean": Δm} of one run, or None without a (usable) reference."""
    if reference is None:
        return None
    try:
        return {k: float(v) for k, v in score(metrics, reference).items()}
    except (KeyError, ValueError, TypeError, ZeroDivisionError):
        return None


def summarise(values: Sequence[dict[str, float] | None]) -> dict[str, Any] | None:
    """The entry's Δm over seeds like ΔT's (mean, std, 95 % t-interval, by task); null unless
    every seed has one."""
    if not values or any(v is None for v in values):
        return None
    seeds: list[dict[str, float]] = [v for v in values if v is not None]
    tasks = sorted({t for v in seeds for t in v if t != "mean"})
    return {**stats.summary([v["mean"] for v in seeds]),
            "by_task": {t: stats.summary([v[t] for v in seeds if t in v]) for t in tasks},
            "reference_kind": REFERENCE_KIND}
