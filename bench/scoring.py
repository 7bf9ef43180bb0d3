"""The multi-task score ΔT against a dense reference (docs/protocol.md §2).

    ΔT_i = 100 · Σ_j (−1)^{l_j} (M_j − M_ref,j) / M_ref,j      (a sum over task i's metrics)
    ΔT   = mean_i ΔT_i

with l_j = 1 when metric j is lower-is-better (AdapMTL, DiSparse: a *sum* within a task). Δm
(`delta_m`, LibMTL and Maninis et al. 2019) takes the *mean* within a task instead:

    Δm_t = 100 · (1/K_t) Σ_k (−1)^{l_k} (M_k − M_ref,k) / M_ref,k    (K_t: task t's metric count)
    Δm   = mean_t Δm_t

Which metrics count is the scoring rule's (`bench.tasks.DELTA_T_KEYS`), their direction the
`MetricSpec` table's. Pure python on purpose: the aggregate step and the report read result
files and must not import torch.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Mapping

from bench.tasks import DELTA_T_KEYS, metric_spec

Metrics = Mapping[str, Mapping[str, float]]

# Tasks that only the Taskonomy-style task set has; their presence selects its rule.
_TASKONOMY_ONLY = ("keypoints2d", "edge_texture")


def infer_scoring(metrics: Metrics) -> str:
    """The scoring rule: "taskonomy" if keypoints2d or edge_texture is present, else "nyu"."""
    return "taskonomy" if any(t in metrics for t in _TASKONOMY_ONLY) else "nyu"


def delta_t(metrics: Metrics, reference: Metrics, scoring: str | None = None) -> dict[str, float]:
    """{task: ΔT_i, ..., "mean": ΔT} of `metrics` against `reference` (both {task: {key: v}}).

    Every task in `metrics` is scored and must be covered by the rule; tasks only in
    `reference` are ignored. Raises ValueError naming the task and key when a counted metric is
    missing (from either side), not a finite number, or the reference value is 0.
    """
    rule_name = scoring if scoring is not None else infer_scoring(metrics)
    if rule_name not in DELTA_T_KEYS:
        raise ValueError(f"unknown scoring {rule_name!r} (known: {', '.join(DELTA_T_KEYS)})")
    rule = DELTA_T_KEYS[rule_name]
    uncovered = [t for t in metrics if t not in rule]
    if uncovered:
        raise ValueError(
            f"task {uncovered[0]!r} has no ΔT metrics under scoring {rule_name!r} "
            f"(covers: {', '.join(rule)})"
        )
    tasks = [t for t in rule if t in metrics]
    if not tasks:
        raise ValueError("no tasks to score: the metrics are empty")
    out: dict[str, float] = {}
    for task in tasks:
        out[task] = _task_delta(task, rule[task], metrics, reference)
    out["mean"] = sum(out[t] for t in tasks) / len(tasks)
    return out


def delta_m(metrics: Metrics, reference: Metrics, scoring: str | None = None) -> dict[str, float]:
    """{task: Δm_t, ..., "mean": Δm}: like `delta_t`, but each task's relative changes are
    averaged over its counted metrics, not summed, so a task with five metrics weighs no more
    than one with two (module doc). Raises like `delta_t`."""
    sums = delta_t(metrics, reference, scoring)
    rule = DELTA_T_KEYS[scoring if scoring is not None else infer_scoring(metrics)]
    out = {task: value / len(rule[task]) for task, value in sums.items() if task != "mean"}
    out["mean"] = sum(out.values()) / len(out)
    return out


def _task_delta(task: str, keys: tuple[str, ...], metrics: Metrics, reference: Metrics) -> float:
    total = 0.0
    for key in keys:
        value = _lookup(metrics, task, key, "metrics")
        ref = _lookup(reference, task, key, "reference")
        if ref == 0:
            raise ValueError(f"reference {task}.{key} is 0; ΔT divides by it")
        sign = 1.0 if metric_spec(task, key).higher_is_better else -1.0
        total += sign * (value - ref) / ref
    return 100.0 * total


def _lookup(metrics: Metrics, task: str, key: str, side: str) -> float:
    try:
        raw = metrics[task][key]
    except KeyError:
        raise ValueError(f"{side} has no {task}.{key}, which ΔT needs") from None
    if isinstance(raw, bool) or not isinstance(raw, numbers.Real) or not math.isfinite(raw):
        raise ValueError(f"{side} {task}.{key} is {raw!r}, not a finite number")
    return float(raw)
