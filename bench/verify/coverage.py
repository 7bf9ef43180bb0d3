"""Calibration without training: how often would `bench verify` pass on the seeds a leaderboard
already has? Leave one seed out of a row, build the 95 % prediction interval from the others
(bench/aggregate/stats.py), and check whether the left-out seed falls inside; over every seed of
every row with enough seeds, the rate should be near 95 % if the interval is honest. Reads the
leaderboard JSON only (no torch).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from bench.aggregate.stats import CONFIDENCE, Sample, inside, prediction_interval

# Rows with fewer seeds say little about calibration: an interval from 2 seeds (t = 12.7, one
# degree of freedom) covers almost anything. From 4, each interval has 3 seeds (t = 4.30).
MIN_SEEDS = 4


def leave_one_out(sample: Sample) -> list[dict[str, Any]]:
    """For each seed: the prediction interval of the other seeds and whether the seed is in it."""
    out = []
    for seed in sorted(sample):
        others = [sample[k] for k in sorted(sample) if k != seed]
        interval = prediction_interval(others)
        if interval is None:
            continue
        out.append({"seed": seed, "value": sample[seed], "low": interval["low"],
                    "high": interval["high"], "inside": inside(sample[seed], interval)})
    return out


def coverage(rows: Mapping[str, Sample], min_seeds: int = MIN_SEEDS) -> dict[str, Any]:
    """Leave-one-seed-out coverage of the rows with at least `min_seeds` seeds: per row and
    overall, the fraction of left-out seeds inside their interval (`rate`, None when no row
    qualifies), against the `expected` confidence."""
    per_row = []
    for name, sample in rows.items():
        if len(sample) < max(min_seeds, 3):  # 3: two others, the fewest with a spread
            continue
        checks = leave_one_out(sample)
        covered = sum(c["inside"] for c in checks)
        per_row.append({"row": name, "n_seeds": len(sample), "checks": len(checks),
                        "covered": covered, "rate": covered / len(checks),
                        "outside": [c["seed"] for c in checks if not c["inside"]]})
    checks = sum(r["checks"] for r in per_row)
    covered = sum(r["covered"] for r in per_row)
    return {"expected": CONFIDENCE, "min_seeds": min_seeds, "rows": per_row, "checks": checks,
            "covered": covered, "rate": covered / checks if checks else None}


def leaderboard_samples(leaderboard: Mapping[str, Any]) -> dict[str, Sample]:
    """Each ranked row's per-seed ΔT, named `<table id> <method>` (the dense reference is left
    out: its per-seed ΔT are scored against a mean that includes them)."""
    out: dict[str, Sample] = {}
    for table in leaderboard.get("tables") or []:
        for entry in table.get("entries") or []:
            out[f"{table['id']} {entry['method']}"] = {
                int(r["seed"]): float(r["delta_t"]["mean"]) for r in entry.get("runs") or []}
    return out


def format_coverage(result: Mapping[str, Any]) -> str:
    lines = []
    for row in result["rows"]:
        outside = ", ".join(str(s) for s in row["outside"]) or "none"
        lines.append(f"{row['row']}: {row['covered']}/{row['checks']} inside "
                     f"(seeds outside: {outside})")
    if result["rate"] is None:
        lines.append(f"no row with {result['min_seeds']} or more seeds: no coverage to measure")
    else:
        lines.append(f"leave-one-seed-out coverage: {result['covered']}/{result['checks']} = "
                     f"{100 * result['rate']:.1f}% (the interval's nominal "
                     f"{100 * result['expected']:.0f}%) over {len(result['rows'])} rows")
    return "\n".join(lines)
