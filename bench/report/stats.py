"""The leaderboard's statistics as the report shows them: ΔT ± the half-width of its 95 %
interval, the rank group, the bold leader's group, the noise floor (dense's own interval), the
minimum detectable difference and the "not distinguishable from dense" flag.

Every reader is defensive (`.get`): a leaderboard written before schema 3 lacks some of these
fields, and the report then shows a dash (or nothing bold) where they would be.
"""

from __future__ import annotations

from typing import Any

NOT_DISTINGUISHABLE = "not distinguishable from dense"
START_LABELS = {"init": "init", "dense": "dense", "mixed": "mixed"}


def ci95(stat: dict[str, Any] | None) -> tuple[float, float] | None:
    """The (low, high) of a statistic's 95 % interval, or None when there is none (one seed)."""
    interval = (stat or {}).get("ci95")
    if not isinstance(interval, (list, tuple)) or len(interval) != 2 or None in interval:
        return None
    return float(interval[0]), float(interval[1])


def half_width(stat: dict[str, Any] | None) -> float | None:
    """Half the width of the 95 % interval: what "±" means next to a headline ΔT."""
    interval = ci95(stat)
    return None if interval is None else (interval[1] - interval[0]) / 2


def signed(value: float | None, decimals: int = 1) -> str:
    if value is None:
        return "–"
    text = f"{value:+.{decimals}f}"
    return "+0.0" if text in ("-0.0", "+0.0") else text.replace("-", "−")


def pm(value: float | None, decimals: int = 1) -> str:
    return "" if value is None else f"± {value:.{decimals}f}"


# What each score is measured against, as every table labels it.
DELTA_T_REFERENCE = "vs dense multi-task"
DELTA_M_REFERENCE = "vs single-task"


def delta_t_text(entry: dict[str, Any], decimals: int = 1, key: str = "delta_t") -> dict[str, str]:
    """`{"mean": "+2.1", "pm": "± 0.8", "interval": "95% CI [1.3, 2.9]"}` for an entry's ΔT
    (`key="delta_m"`: its Δm, all dashes when the single-task references are missing)."""
    stat = entry.get(key) or {}
    interval = ci95(stat)
    return {
        "mean": signed(stat.get("mean"), decimals),
        "pm": pm(half_width(stat), decimals),
        "interval": "no interval (one seed)" if interval is None else
        f"95% CI [{interval[0]:.{decimals}f}, {interval[1]:.{decimals}f}]",
    }


def delta_m_text(entry: dict[str, Any], decimals: int = 1) -> dict[str, str] | None:
    """The entry's Δm like `delta_t_text`, or None without single-task references."""
    if not isinstance(entry.get("delta_m"), dict):
        return None
    return delta_t_text(entry, decimals, key="delta_m")


def group_label(entry: dict[str, Any]) -> str:
    """The rank group ("1–3": not separated from the leader), else the plain rank."""
    group = entry.get("rank_group")
    if isinstance(group, dict) and group.get("label"):
        return str(group["label"])
    return "" if entry.get("rank") is None else str(entry["rank"])


def group_low(entry: dict[str, Any]) -> int | None:
    group = entry.get("rank_group")
    if isinstance(group, dict) and isinstance(group.get("low"), int):
        return int(group["low"])
    return None


def best_group(table: dict[str, Any]) -> set[str]:
    """The methods to bold: those the table's pairwise tests do not find significantly worse
    than the leader — and only when that is not the whole table, so that the bold excludes
    something. A leaderboard without pairwise tests (schema < 3) bolds nothing."""
    entries = table.get("entries") or []
    pairwise = table.get("pairwise")
    if not entries or not isinstance(pairwise, dict):
        return set()
    leader = entries[0]["method"]
    worse = {pair["b"] if pair["a"] == leader else pair["a"]
             for pair in pairwise.get("pairs") or []
             if pair.get("significant") and leader in (pair.get("a"), pair.get("b"))}
    top = {e["method"] for e in entries if e["method"] not in worse}
    return top if len(top) < len(entries) else set()


def indistinguishable(entry: dict[str, Any]) -> bool:
    """The test against dense's per-seed ΔT found no difference (or could not be made)."""
    return bool(entry.get("not_distinguishable_from_dense"))


def noise_floor(table: dict[str, Any]) -> dict[str, Any] | None:
    """Dense's own 95 % interval over its per-seed ΔT: the one noise floor of a table."""
    floor = table.get("noise_floor")
    if not isinstance(floor, dict) or floor.get("low") is None or floor.get("high") is None:
        return None
    low, high = float(floor["low"]), float(floor["high"])
    return {"low": low, "high": high, "half_width": (high - low) / 2,
            "mean": float(floor.get("mean") or 0.0),
            "n": floor.get("n_dense_seeds") or (table.get("reference") or {}).get("n_seeds"),
            "estimator": floor.get("estimator") or ""}


def noise_floor_text(table: dict[str, Any], decimals: int = 1) -> str:
    floor = noise_floor(table)
    if floor is None:
        return "no noise floor (fewer than 2 dense seeds)"
    return f"±{floor['half_width']:.{decimals}f}"


def mdd_of(table: dict[str, Any]) -> float | None:
    value = (table.get("minimum_detectable_difference") or {}).get("value")
    return float(value) if isinstance(value, (int, float)) else None


def mdd_text(table: dict[str, Any], decimals: int = 1) -> str:
    """The table's minimum detectable difference in ΔT, or a dash (fewer than 2 seeds)."""
    value = mdd_of(table)
    return "–" if value is None else f"{value:.{decimals}f}"


def table_budget_text(table: dict[str, Any]) -> str:
    """The budget every row of a table shares (tables are split by budget)."""
    value = table.get("budget_units")
    return "–" if not isinstance(value, (int, float)) else f"{float(value):.2f}×"


def start_of(entry: dict[str, Any]) -> str:
    return START_LABELS.get(str(entry.get("start")), "–") if entry.get("start") else "–"


def budget_of(entry: dict[str, Any]) -> float | None:
    value = (entry.get("cost") or {}).get("budget_units")
    return float(value) if isinstance(value, (int, float)) else None


def budget_text(entry: dict[str, Any]) -> str:
    value = budget_of(entry)
    return "–" if value is None else f"{value:.2f}×"


# Sort order of the verification column: verified rows first, failed ones last.
_VERIFICATION_ORDER = {"verified": "0", "not verified": "1", "failed": "2"}


def verification_of(entry: dict[str, Any]) -> dict[str, Any]:
    """The row's `bench verify` status ("verified 2/2 on AVX2", "failed 1/2 on AVX2", "not
    verified"); a leaderboard written before verification existed has none: not verified."""
    status = entry.get("verification")
    if not isinstance(status, dict) or not isinstance(status.get("label"), str):
        return {"state": "not verified", "label": "not verified", "reason": "no verification",
                "sort": _VERIFICATION_ORDER["not verified"]}
    state = str(status.get("state") or "not verified")
    return {**status, "state": state, "sort": _VERIFICATION_ORDER.get(state, "1")}
