"""Seed statistics of the leaderboard: intervals, pairwise tests, rank groups, the noise floor
and the minimum detectable difference (docs/report.md, "How to read ...").

Interval: a two-sided 95 % Student-t interval of the mean over seeds. A percentile bootstrap
over 3–5 seeds has only a handful of distinct resamples and understates the spread, so the
t-interval is the honest choice at the seed counts a benchmark can afford. One seed gives none.

Comparisons: two rows are compared by a two-sided t-test on their per-seed ΔT — Welch's
(unequal variances) or, with `pairing="paired"`, the paired test over the seeds both have. The
caller picks one pairing for every comparison of a leaderboard (leaderboard.PAIRING), so the
choice is made once, not per row where it could be picked for the answer it gives. The p-values
of one table are a family: Holm's step-down correction keeps the chance of any false
"significant" in a table at α, whatever the number of methods.

Rank group of entry i: [1 + #entries significantly better than i, n − #entries significantly
worse than i] — the ranks the tests leave possible for it.

Noise floor: dense's own per-seed ΔT, each dense seed scored against the reference every row is
scored against (the mean of the dense seeds' metrics), i.e. scored like a method. To first order
these are each seed's deviation from the dense mean, so their sample standard deviation (ddof=1)
is the usual unbiased estimate of dense's seed noise (leave-one-out scoring would inflate it by
n/(n−1)). Their 95 % interval is the one noise floor shown; a method whose per-seed ΔT a test
cannot tell from those values is "not distinguishable from dense".

Prediction interval (`bench verify`): where a new seed of a row should land, 95 % of the time —
not the interval of the row's mean, which a single new run misses far more often.
"""

from __future__ import annotations

import itertools
import math
import warnings
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np
from scipy import stats as _scipy_stats

CONFIDENCE = 0.95
# The family-wise error rate of one table's tests (Holm), matching the intervals' 95 %.
ALPHA = 1 - CONFIDENCE
# The power at which the minimum detectable difference is quoted (the usual design target).
POWER = 0.8
PAIRINGS = ("welch", "paired")
INTERVAL_RULE = (
    "95% Student-t interval of the mean over seeds: mean ± t(0.975, n−1)·s/√n; null for one seed"
)
PREDICTION_RULE = (
    "95% prediction interval for one new seed: mean ± t(0.975, n−1)·s·√(1 + 1/n) over the row's "
    "n seeds (s: sample sd, ddof=1); null for one seed"
)
Metrics = Mapping[str, Mapping[str, float]]
Scorer = Callable[[Metrics, Metrics], Mapping[str, float]]
Sample = Mapping[int, float]  # seed → per-seed value


def summary(values: Sequence[float]) -> dict[str, Any]:
    """Mean, sample std (ddof=1) and the 95 % t-interval of the mean; null where n < 2."""
    data = np.asarray(values, dtype="float64")
    mean = float(math.fsum(values) / len(values))
    if len(data) < 2:
        return {"mean": mean, "std": None, "ci95": None}
    std = float(np.std(data, ddof=1))
    if std == 0:  # scipy's interval needs a positive scale; no spread is a zero-width interval
        return {"mean": mean, "std": 0.0, "ci95": [mean, mean]}
    low, high = _scipy_stats.t.interval(CONFIDENCE, len(data) - 1, loc=mean,
                                        scale=float(_scipy_stats.sem(data)))
    return {"mean": mean, "std": std, "ci95": [float(low), float(high)]}


def prediction_interval(values: Sequence[float],
                        confidence: float = CONFIDENCE) -> dict[str, Any] | None:
    """Where one new seed's value falls with probability `confidence`, if the n values and the
    new one are independent draws from one normal distribution (`bench verify`):

        mean ± t_{(1+c)/2}(n − 1) · s · √(1 + 1/n)

    s the sample standard deviation (ddof=1). It is √(n + 1) times wider than the interval of
    the mean (s/√n): a new seed brings its own noise, s, besides the mean's uncertainty, s/√n.
    None for fewer than 2 values (no spread to measure).
    """
    n = len(values)
    if n < 2:
        return None
    mean = math.fsum(values) / n
    std = float(np.std(np.asarray(values, dtype="float64"), ddof=1))
    t = float(_scipy_stats.t.ppf(0.5 + confidence / 2, n - 1))
    half = t * std * math.sqrt(1 + 1 / n)
    return {"mean": mean, "low": mean - half, "high": mean + half, "half_width": half,
            "std": std, "n": n, "df": n - 1, "t": t, "confidence": confidence}


def inside(value: float, interval: Mapping[str, Any]) -> bool:
    """Whether `value` lies in the closed interval [low, high]."""
    return bool(interval["low"] <= value <= interval["high"])


def mean_metrics(runs: Sequence[Metrics]) -> dict[str, dict[str, float]]:
    """Metric-wise mean over runs, over the keys every run has."""
    tasks = set.intersection(*(set(m) for m in runs))
    out: dict[str, dict[str, float]] = {}
    for task in sorted(tasks):
        keys = set.intersection(*(set(m[task]) for m in runs))
        out[task] = {k: math.fsum(float(m[task][k]) for m in runs) / len(runs) for k in sorted(keys)}
    return out


def dense_seed_values(dense: Sequence[Metrics], score: Scorer) -> list[float]:
    """ΔT of each dense seed against the metric means of all dense seeds (the rows' reference):
    dense scored like a method; [] for fewer than 2 seeds."""
    if len(dense) < 2:
        return []
    reference = mean_metrics(dense)
    return [float(score(m, reference)["mean"]) for m in dense]


def noise_floor(values: Sample) -> dict[str, Any] | None:
    """Dense's own 95 % interval over its per-seed ΔT; None for fewer than 2 dense seeds."""
    if len(values) < 2:
        return None
    seeds = sorted(values)
    s = summary([values[k] for k in seeds])
    low, high = s["ci95"]
    return {"mean": s["mean"], "low": low, "high": high, "half_width": (high - low) / 2,
            "std": s["std"], "n_dense_seeds": len(seeds), "seeds": seeds,
            "values": [values[k] for k in seeds],
            "estimator": "95% t-interval of dense's per-seed ΔT, each dense seed against the "
                         "mean of the dense seeds (the reference every row is scored against)"}


def p_value(a: Sample, b: Sample, pairing: str) -> float | None:
    """Two-sided p-value of "a and b have the same mean": Welch's t-test, or the paired t-test
    over the seeds both have. None when no test can be made (fewer than 2 values a side or
    common seeds, or no spread at all)."""
    if pairing not in PAIRINGS:
        raise ValueError(f"unknown pairing {pairing!r} (one of {', '.join(PAIRINGS)})")
    # Near-identical samples make scipy warn about precision; the p-value it returns (or nan,
    # for no spread at all) is still the answer, so the warning is noise here.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        if pairing == "paired":
            common = sorted(set(a) & set(b))
            if len(common) < 2:
                return None
            result = _scipy_stats.ttest_rel([a[k] for k in common], [b[k] for k in common])
        else:
            if len(a) < 2 or len(b) < 2:
                return None
            result = _scipy_stats.ttest_ind(list(a.values()), list(b.values()), equal_var=False)
    p = float(result.pvalue)
    return p if math.isfinite(p) else None


def holm(pvalues: Sequence[float | None]) -> list[float | None]:
    """Holm's step-down adjusted p-values; the family is the tests made (None stays None).

    Sorted ascending, p_(k) becomes max_{j≤k} min(1, (m − j + 1)·p_(j)); a hypothesis is rejected
    at family-wise level α when its adjusted p is ≤ α.
    """
    made = sorted((p, i) for i, p in enumerate(pvalues) if p is not None)
    out: list[float | None] = [None] * len(pvalues)
    running = 0.0
    for k, (p, i) in enumerate(made):
        running = max(running, min(1.0, (len(made) - k) * p))
        out[i] = running
    return out


def _mean(sample: Sample) -> float:
    return math.fsum(sample.values()) / len(sample)


def _significant(adjusted: float | None, alpha: float) -> bool:
    return adjusted is not None and adjusted <= alpha


def pairwise(samples: Sequence[Sample], pairing: str,
             alpha: float = ALPHA) -> list[dict[str, Any]]:
    """Every pair (i < j) of samples: difference of means (i − j), raw and Holm-adjusted p,
    and whether the difference is significant at family-wise level `alpha`."""
    pairs = list(itertools.combinations(range(len(samples)), 2))
    raw = [p_value(samples[i], samples[j], pairing) for i, j in pairs]
    return [{"a": i, "b": j, "mean_difference": _mean(samples[i]) - _mean(samples[j]),
             "p": p, "p_holm": q, "significant": _significant(q, alpha)}
            for (i, j), p, q in zip(pairs, raw, holm(raw), strict=True)]


def versus(samples: Sequence[Sample], reference: Sample, pairing: str,
           alpha: float = ALPHA) -> list[dict[str, Any]]:
    """Each sample against one reference (dense), Holm over the samples."""
    raw = [p_value(s, reference, pairing) for s in samples]
    return [{"mean_difference": _mean(s) - _mean(reference) if reference else None,
             "p": p, "p_holm": q, "significant": _significant(q, alpha)}
            for s, p, q in zip(samples, raw, holm(raw), strict=True)]


def rank_groups(means: Sequence[float], pairs: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Rank group of each entry from the significant pairs (indices as in `pairwise`)."""
    n = len(means)
    better = [0] * n  # how many entries are significantly better than entry i
    worse = [0] * n   # how many entries are significantly worse than entry i
    for pair in pairs:
        if not pair["significant"]:
            continue
        i, j = pair["a"], pair["b"]
        top, bottom = (i, j) if means[i] > means[j] else (j, i)
        better[bottom] += 1
        worse[top] += 1
    groups = []
    for i in range(n):
        low, high = 1 + better[i], n - worse[i]
        groups.append({"low": low, "high": high,
                       "label": str(low) if low == high else f"{low}–{high}"})
    return groups


def typical_sd(samples: Sequence[Sample]) -> float | None:
    """The median of the rows' per-seed standard deviations (rows with at least 2 seeds): the
    spread of a typical row. A pooled sd would let one erratic method (a collapse on some seeds)
    set every pair's detectable difference."""
    usable = [np.asarray(list(s.values()), dtype="float64") for s in samples if len(s) >= 2]
    if not usable:
        return None
    return float(np.median([np.std(s, ddof=1) for s in usable]))


def minimum_detectable_difference(samples: Sequence[Sample], alpha: float = ALPHA,
                                  power: float = POWER) -> dict[str, Any] | None:
    """The smallest ΔT difference between two rows that a table of these samples detects with
    `power`, at the level α/m Holm uses for its first test (m = number of pairs):

        MDD = (t_{1−α/(2m)}(df) + t_{power}(df)) · s · √(2/n),   df = 2(n − 1)

    s the median of the rows' per-seed sds (`typical_sd`), n the fewest seeds of a row with at
    least 2 (the conservative choice when rows differ). None without two seeds anywhere.
    """
    s = typical_sd(samples)
    counts = [len(x) for x in samples if len(x) >= 2]
    if s is None or not counts:
        return None
    n = min(counts)
    m = max(len(samples) * (len(samples) - 1) // 2, 1)
    df = 2 * (n - 1)
    t_alpha = float(_scipy_stats.t.ppf(1 - alpha / (2 * m), df))
    t_power = float(_scipy_stats.t.ppf(power, df))
    return {"value": (t_alpha + t_power) * s * math.sqrt(2 / n), "typical_sd": s,
            "n_seeds": n, "n_pairs": m, "alpha_per_test": alpha / m, "power": power,
            "df": df}
