"""Seed statistics: t-intervals, pairwise tests with Holm's correction, rank groups, the test
against dense, the minimum detectable difference, budgets, stale runs never ranked."""

from __future__ import annotations

import math
import statistics
from pathlib import Path

import pytest
from fixtures.results import build_fixture_runs, fake_metrics, fake_result, run_path, write_run

from bench.aggregate import build_leaderboard, leaderboard
from bench.aggregate.staleness import Expected
from bench.aggregate.stats import (
    dense_seed_values,
    holm,
    minimum_detectable_difference,
    p_value,
    pairwise,
    rank_groups,
    summary,
    versus,
)
from bench.report.stats import best_group
from bench.scoring import delta_t


def test_summary_is_a_student_t_interval() -> None:
    values = [1.0, 2.0, 4.0]
    s = summary(values)
    half = 4.302652730 * statistics.stdev(values) / 3 ** 0.5  # t(0.975, 2)
    assert s["mean"] == pytest.approx(7 / 3)
    assert s["ci95"] == pytest.approx([7 / 3 - half, 7 / 3 + half])
    assert summary([5.0]) == {"mean": 5.0, "std": None, "ci95": None}


def test_holm_on_known_p_values() -> None:
    # Sorted: .005·4 = .02, .01·3 = .03, .03·2 = .06, .04·1 = .04 → kept monotone at .06.
    assert holm([0.01, 0.04, 0.03, 0.005]) == pytest.approx([0.03, 0.06, 0.06, 0.02])
    assert holm([0.5, 0.9]) == pytest.approx([1.0, 1.0])  # capped at 1
    # A test that could not be made (None) is not part of the family.
    assert holm([0.02, None, 0.04]) == [pytest.approx(0.04), None, pytest.approx(0.04)]


# Two groups far apart, close within: ΔT around 10 and around 0, three seeds each.
SEPARATED = [{0: 10.0, 1: 10.5, 2: 9.5}, {0: 10.2, 1: 9.8, 2: 10.1},
             {0: 0.0, 1: 0.5, 2: -0.5}, {0: 0.1, 1: -0.2, 2: 0.3}]


def test_two_separated_groups_give_the_expected_rank_groups_and_bold() -> None:
    pairs = pairwise(SEPARATED, "welch")
    assert len(pairs) == 6
    significant = {(p["a"], p["b"]) for p in pairs if p["significant"]}
    assert significant == {(0, 2), (0, 3), (1, 2), (1, 3)}
    assert all(p["p_holm"] >= p["p"] for p in pairs)
    means = [statistics.mean(s.values()) for s in SEPARATED]
    groups = rank_groups(means, pairs)
    assert [g["label"] for g in groups] == ["1–2", "1–2", "3–4", "3–4"]
    names = ["a", "b", "c", "d"]
    table = {"entries": [{"method": m} for m in names],
             "pairwise": {"pairs": [{**p, "a": names[p["a"]], "b": names[p["b"]]}
                                    for p in pairs]}}
    assert best_group(table) == {"a", "b"}


def test_identical_values_give_no_significant_pair_and_nothing_bold() -> None:
    same = [{0: 1.0, 1: 2.0, 2: 3.0}] * 3
    pairs = pairwise(same, "welch")
    assert [p["p"] for p in pairs] == pytest.approx([1.0] * 3)
    assert not any(p["significant"] for p in pairs)
    assert [g["label"] for g in rank_groups([2.0] * 3, pairs)] == ["1–3"] * 3
    flat = [{0: 4.0, 1: 4.0}] * 2  # no spread at all: no test can be made
    assert pairwise(flat, "paired")[0]["p"] is None
    assert not pairwise(flat, "welch")[0]["significant"]
    table = {"entries": [{"method": m} for m in "xyz"],
             "pairwise": {"pairs": [{**p, "a": "xyz"[p["a"]], "b": "xyz"[p["b"]]}
                                    for p in pairs]}}
    assert best_group(table) == set()  # the whole table: the bold would exclude nothing


def test_rank_group_rule_on_given_pairs() -> None:
    """Entry i: [1 + #significantly better, n − #significantly worse]."""
    pairs = [{"a": 0, "b": 1, "significant": False}, {"a": 0, "b": 2, "significant": True},
             {"a": 1, "b": 2, "significant": False}]
    assert [g["label"] for g in rank_groups([3.0, 2.0, 1.0], pairs)] == ["1–2", "1–3", "2–3"]


def test_paired_and_welch_are_both_available() -> None:
    # A shift of ~0.5 that every seed shows, under seed noise of ±4: only pairing sees it.
    a, b = {0: 1.0, 1: 5.0, 2: 9.0}, {0: 0.5, 1: 4.6, 2: 8.4}
    assert p_value(a, b, "welch") == pytest.approx(0.88504, abs=1e-4)
    assert p_value(a, b, "paired") == pytest.approx(0.01307, abs=1e-4)
    assert p_value({0: 1.0}, b, "welch") is None  # one seed: no test
    assert p_value({0: 1.0, 5: 2.0}, b, "paired") is None  # one common seed
    with pytest.raises(ValueError, match="unknown pairing"):
        p_value(a, b, "bootstrap")


def test_versus_dense_holm_over_the_rows() -> None:
    dense = {0: 0.3, 1: -0.4, 2: 0.1}
    tests = versus([SEPARATED[0], SEPARATED[3]], dense, "welch")
    assert tests[0]["significant"] and not tests[1]["significant"]
    raw = [p_value(SEPARATED[0], dense, "welch"), p_value(SEPARATED[3], dense, "welch")]
    assert [t["p_holm"] for t in tests] == pytest.approx(holm(raw))
    assert tests[0]["mean_difference"] == pytest.approx(10.0)


def test_minimum_detectable_difference_by_hand() -> None:
    # Three rows of three seeds, each with sd 1: s = 1, n = 3, m = 3 pairs, df = 4.
    rows = [{0: 0.0, 1: 1.0, 2: 2.0}, {0: 5.0, 1: 6.0, 2: 7.0}, {0: -1.0, 1: 0.0, 2: 1.0}]
    mdd = minimum_detectable_difference(rows)
    assert mdd is not None
    # Tables: t(1 − 0.05/6, 4) = 3.961, t(0.8, 4) = 0.941.
    assert mdd["value"] == pytest.approx((3.961 + 0.941) * 1.0 * math.sqrt(2 / 3), rel=1e-3)
    assert (mdd["n_seeds"], mdd["n_pairs"], mdd["df"], mdd["typical_sd"]) == (3, 3, 4, 1.0)
    assert minimum_detectable_difference([{0: 1.0}, {0: 2.0}]) is None  # one seed each


def test_dense_seed_values_are_scored_against_the_mean_of_all_dense_seeds() -> None:
    dense = [fake_metrics("dense", 0.0, s) for s in (0, 1, 2)]

    def score(m, r):  # type: ignore[no-untyped-def]
        return delta_t(m, r, scoring="nyu")

    values = dense_seed_values(dense, score)
    mean = {t: {k: sum(d[t][k] for d in dense) / 3 for k in dense[0][t]} for t in dense[0]}
    assert len(values) == 3 and values[0] == pytest.approx(score(dense[0], mean)["mean"])
    assert sum(values) == pytest.approx(0, abs=0.05)  # deviations from the mean, to first order
    assert dense_seed_values(dense[:1], score) == []


def test_rows_that_are_dense_are_not_distinguishable_from_dense(tmp_path: Path) -> None:
    build_fixture_runs(tmp_path, methods=("snip",), sparsities=(0.9,), seeds=(0, 1, 2))
    # A "method" that is dense itself must be flagged as not distinguishable from dense.
    for seed in (0, 1, 2):
        write_run(tmp_path, "random", 0.9, seed, metrics=fake_metrics("dense", 0.0, seed))
    table = build_leaderboard(tmp_path)["tables"][0]
    random = next(e for e in table["entries"] if e["method"] == "random")
    snip = next(e for e in table["entries"] if e["method"] == "snip")
    assert random["not_distinguishable_from_dense"] is True
    assert snip["not_distinguishable_from_dense"] is False
    assert snip["vs_dense"]["p_holm"] <= 0.05 < random["vs_dense"]["p_holm"]
    assert random["rank"] == 1 and snip["rank_group"]["label"] == "2"
    # The one noise floor: dense's own interval over its per-seed ΔT.
    floor = table["noise_floor"]
    reference = table["reference"]["delta_t"]
    assert [floor["low"], floor["high"]] == pytest.approx(reference["ci95"])
    assert "null_band" not in table and "null_band_alternative" not in table
    (pair,) = table["pairwise"]["pairs"]
    assert (pair["a"], pair["b"], pair["significant"]) == ("random", "snip", True)
    assert table["pairwise"]["test"] == leaderboard.PAIRING == "welch"
    assert table["minimum_detectable_difference"]["n_pairs"] == 1


def test_rows_of_different_budgets_are_never_ranked_together(tmp_path: Path) -> None:
    build_fixture_runs(tmp_path, methods=("snip",), sparsities=(0.9,), seeds=(0, 1, 2),
                       with_failed=False, with_logs=False)
    for seed in (0, 1, 2):  # imp from the trained dense run: two dense budgets
        cost = {**fake_result("imp", 0.9, seed)["cost"], "budget_units": 2.0004}
        write_run(tmp_path, "imp", 0.9, seed, cost=cost)
    lb = build_leaderboard(tmp_path)
    assert [(t["id"].rsplit("/", 2)[1:], [e["method"] for e in t["entries"]])
            for t in lb["tables"]] == [(["s0.90", "b1.00"], ["snip"]),
                                        (["s0.90", "b2.00"], ["imp"])]
    assert [t["budget_units"] for t in lb["tables"]] == [1.0, 2.0]
    # The setting's dense runs (budget 1) are the reference of both tables.
    assert lb["tables"][0]["reference"] == lb["tables"][1]["reference"]
    assert all(t["entries"][0]["rank_group"]["label"] == "1" for t in lb["tables"])
    assert lb["rules"]["pairing"] == "welch" and "budget_units" in lb["rules"]["tables"]


def test_runs_of_another_identity_are_stale_and_never_ranked(tmp_path: Path) -> None:
    build_fixture_runs(tmp_path, methods=("snip",), sparsities=(0.9,), seeds=(0, 1))
    expected = {}
    for method, target, seed in [("dense", 0.0, 0), ("dense", 0.0, 1), ("snip", 0.9, 0),
                                 ("snip", 0.9, 1)]:
        path = run_path(tmp_path, method, target, seed).relative_to(tmp_path).as_posix()
        inputs = {"profile": {"iterations": 150}, "seed": seed}
        expected[path] = Expected(f"id-{method}-{seed}", inputs)
    for method, target, seed in [("dense", 0.0, 0), ("dense", 0.0, 1), ("snip", 0.9, 0)]:
        write_run(tmp_path, method, target, seed, identity=f"id-{method}-{seed}")
    write_run(tmp_path, "snip", 0.9, 1, identity="id-short",
              provenance={"config": {"profile": {"iterations": 10}, "seed": 1}})
    lb = build_leaderboard(tmp_path, expected)
    assert lb["counts"]["stale"] == 1
    stale = lb["stale"][0]
    assert stale["path"].endswith("snip/s0.90/seed1")
    assert "profile.iterations 10 (params.yaml: 150)" in stale["reason"]
    snip = lb["tables"][0]["entries"][0]
    assert snip["seeds"] == [0]


def test_one_profile_name_with_two_contents_makes_two_tables(tmp_path: Path) -> None:
    for seed in (0, 1):
        write_run(tmp_path, "dense", 0.0, seed, setting_identity="long")
        write_run(tmp_path, "snip", 0.9, seed, setting_identity="long")
    other = tmp_path / "scratch"
    for seed in (0, 1):
        write_run(other, "dense", 0.0, seed, setting_identity="short")
        write_run(other, "snip", 0.9, seed, setting_identity="short")
    lb = build_leaderboard(tmp_path)
    assert sorted(t["setting_identity"] for t in lb["tables"]) == ["long", "short"]
    assert all(e["n_seeds"] == 2 for t in lb["tables"] for e in t["entries"])


def test_one_erratic_row_does_not_set_the_detectable_difference() -> None:
    steady = [{0: 0.0, 1: 1.0, 2: 2.0}, {0: 5.0, 1: 6.0, 2: 7.0}, {0: -1.0, 1: 0.0, 2: 1.0}]
    erratic = {0: -300.0, 1: 0.0, 2: -150.0}
    with_one = minimum_detectable_difference([*steady, erratic])
    assert with_one is not None and with_one["typical_sd"] == 1.0  # the median of 1, 1, 1, 150
