"""Seed statistics of the leaderboard: intervals, the null band and rank groups (docs/report.md).

Interval: a two-sided 95 % Student-t interval of the mean over seeds,
mean ± t(0.975, n−1) · s / √n. A percentile bootstrap over 3–5 seeds has only a handful of
distinct resamples and understates the spread, so the t-interval is the honest choice at the
seed counts a benchmark can afford. One seed gives no interval (null).

Null band: what ΔT a run that *is* dense scores by chance. Each dense seed is scored as if it
were a method, against the reference the leaderboard uses for everyone else:
- reference "mean_of_dense_seeds": dense seed k against the metric means of the other dense
  seeds (leave-one-out);
- reference "same_seed": dense seed i against dense seed j, for every ordered pair i ≠ j.
The band is ± the largest absolute value of those ΔT. Both are computed on every setting, so the
choice of reference is measured, not assumed (docs/report.md, "Reference").

Rank groups: entries sorted by mean ΔT; entry i's group runs from 1 + the number of entries
whose interval lies wholly above i's, to the number of entries whose interval is not wholly
below i's. An entry that no interval separates from the leader shares rank 1.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from scipy import stats as _scipy_stats

CONFIDENCE = 0.95
INTERVAL_RULE = (
    "95% Student-t interval of the mean over seeds: mean ± t(0.975, n−1)·s/√n; null for one seed"
)
Metrics = Mapping[str, Mapping[str, float]]
Scorer = Callable[[Metrics, Metrics], Mapping[str, float]]


def summary(values: Sequence[float]) -> dict[str, Any]:
    """Mean, sample std (ddof=1) and the 95 % t-interval of the mean; null where n < 2."""
    n = len(values)
    mean = math.fsum(values) / n
    if n < 2:
        return {"mean": mean, "std": None, "ci95": None}
    std = math.sqrt(math.fsum((v - mean) ** 2 for v in values) / (n - 1))
    half = float(_scipy_stats.t.ppf(0.5 + CONFIDENCE / 2, n - 1)) * std / math.sqrt(n)
    return {"mean": mean, "std": std, "ci95": [mean - half, mean + half]}


def mean_metrics(runs: Sequence[Metrics]) -> dict[str, dict[str, float]]:
    """Metric-wise mean over runs, over the keys every run has."""
    tasks = set.intersection(*(set(m) for m in runs))
    out: dict[str, dict[str, float]] = {}
    for task in sorted(tasks):
        keys = set.intersection(*(set(m[task]) for m in runs))
        out[task] = {k: math.fsum(float(m[task][k]) for m in runs) / len(runs) for k in sorted(keys)}
    return out


def null_values(dense: Sequence[Metrics], reference_kind: str, score: Scorer) -> list[float]:
    """ΔT of each dense seed scored as a method under `reference_kind` (see module doc)."""
    if len(dense) < 2:
        return []
    if reference_kind == "mean_of_dense_seeds":
        return [float(score(m, mean_metrics([o for j, o in enumerate(dense) if j != i]))["mean"])
                for i, m in enumerate(dense)]
    if reference_kind == "same_seed":
        return [float(score(dense[i], dense[j])["mean"])
                for i, j in itertools.permutations(range(len(dense)), 2)]
    raise ValueError(f"unknown reference kind {reference_kind!r}")


def null_band(values: Sequence[float], reference_kind: str,
              n_dense_seeds: int) -> dict[str, Any] | None:
    if not values:
        return None
    half = max(abs(v) for v in values)
    estimator = ("leave-one-out: each dense seed against the mean of the others"
                 if reference_kind == "mean_of_dense_seeds"
                 else "all ordered pairs of dense seeds")
    return {"low": -half, "high": half, "half_width": half, "values": list(values),
            "n_dense_seeds": n_dense_seeds,
            "estimator": estimator, "reference_kind": reference_kind}


def overlaps(interval: Sequence[float], band: Mapping[str, float]) -> bool:
    return interval[0] <= band["high"] and interval[1] >= band["low"]


def bounds(entry_summary: Mapping[str, Any]) -> tuple[float, float]:
    ci = entry_summary.get("ci95")
    mean = float(entry_summary["mean"])
    return (float(ci[0]), float(ci[1])) if ci else (mean, mean)


def rank_groups(intervals: Sequence[tuple[float, float]]) -> list[dict[str, Any]]:
    """Rank groups for entries already sorted best first (see module doc)."""
    groups = []
    for lo, hi in intervals:
        low = 1 + sum(1 for o_lo, _ in intervals if o_lo > hi)
        high = sum(1 for _, o_hi in intervals if o_hi >= lo)
        high = max(high, low)
        label = str(low) if low == high else f"{low}–{high}"
        groups.append({"low": low, "high": high, "label": label})
    return groups
