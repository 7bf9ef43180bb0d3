"""Each run's ΔT against its setting's reference: the mean of the setting's dense seeds'
metrics (docs/protocol.md §2; `REFERENCE_KIND`). The leaderboard scores its rows with it and
`bench verify` its held-out seeds, so both use one rule.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from bench.aggregate import stats
from bench.aggregate.load import InvalidRun, Run
from datasets.registry import DATASETS

REFERENCE_METHOD = "dense"
# Measured on the embedded default (docs/report.md, "Reference"): scoring against the mean of the
# dense seeds' metrics gives a narrower noise floor than scoring each seed against the dense run
# of the same seed, whose own seed noise then enters every ΔT twice.
REFERENCE_KIND = "mean_of_dense_seeds"


@dataclass(frozen=True)
class Scored:
    run: Run
    delta_t: dict[str, float]


def scoring_rule(dataset: str) -> str | None:
    spec = DATASETS.get(dataset)
    return spec.scoring if spec is not None else None


def scorer(dataset: str) -> stats.Scorer:
    from bench.scoring import delta_t

    rule = scoring_rule(dataset)
    return lambda metrics, reference: delta_t(metrics, reference, scoring=rule)


def delta_m_scorer(dataset: str) -> stats.Scorer:
    """Δm's form: the mean, not the sum, over a task's metrics (docs/protocol.md §2)."""
    from bench.scoring import delta_m as mean_within_task

    rule = scoring_rule(dataset)
    return lambda metrics, reference: mean_within_task(metrics, reference, scoring=rule)


def _reference_metrics(dense: list[Run], run: Run, all_dense_mean: Any) -> Any:
    """`all_dense_mean`: the metric means over every dense seed of the run's setting, computed
    once per setting: every run is scored against it, dense seeds too (stats.py, noise floor)."""
    if REFERENCE_KIND == "same_seed":
        same = [d for d in dense if d.seed == run.seed]
        return same[0].result["metrics"] if same else None
    return all_dense_mean if dense else None


def score_runs(runs: list[Run]) -> tuple[list[Scored], list[InvalidRun]]:
    """Each run's ΔT against its setting's reference (the dense runs among `runs`), exactly as
    the leaderboard scores its rows: `bench verify` scores held-out seeds with it. Returns the
    scored runs and those that cannot be scored (with the reason)."""
    dense: dict[tuple[Any, ...], list[Run]] = {}
    for r in runs:
        if r.method == REFERENCE_METHOD:
            dense.setdefault(r.setting, []).append(r)
    means = {setting: stats.mean_metrics([d.result["metrics"] for d in ds])
             for setting, ds in dense.items()}
    scored: list[Scored] = []
    invalid: list[InvalidRun] = []
    for run in runs:
        reference = _reference_metrics(dense.get(run.setting, []), run, means.get(run.setting))
        if reference is None:
            dataset, backbone, profile = run.setting[:3]
            needed = "another dense seed" if run.method == REFERENCE_METHOD else "a dense run"
            if run.method == REFERENCE_METHOD and REFERENCE_KIND != "same_seed":
                # A lone dense seed is still the reference of its setting, with no noise floor.
                scored.append(Scored(run, {"mean": 0.0}))
                continue
            invalid.append(InvalidRun(run.path, (
                f"missing dense reference: no valid {needed} for {dataset}/{backbone} "
                f"profile {profile} seed {run.seed}"), run.result))
            continue
        try:
            values = scorer(run.result["dataset"])(run.result["metrics"], reference)
        except (KeyError, ValueError, TypeError, ZeroDivisionError) as exc:
            invalid.append(InvalidRun(run.path, f"cannot compute ΔT: {exc}", run.result))
            continue
        scored.append(Scored(run, {k: float(v) for k, v in values.items()}))
    return scored, invalid
