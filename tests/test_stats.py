"""Seed statistics: t-intervals, null band, rank groups, stale runs never ranked."""

from __future__ import annotations

import statistics
from pathlib import Path

import pytest
from fixtures.results import build_fixture_runs, fake_metrics, run_path, write_run

from bench.aggregate import build_leaderboard
from bench.aggregate.staleness import Expected
from bench.aggregate.stats import null_values, rank_groups, summary
from bench.scoring import delta_t


def test_summary_is_a_student_t_interval() -> None:
    values = [1.0, 2.0, 4.0]
    s = summary(values)
    half = 4.302652730 * statistics.stdev(values) / 3 ** 0.5  # t(0.975, 2)
    assert s["mean"] == pytest.approx(7 / 3)
    assert s["ci95"] == pytest.approx([7 / 3 - half, 7 / 3 + half])
    assert summary([5.0]) == {"mean": 5.0, "std": None, "ci95": None}


@pytest.mark.parametrize(
    ("intervals", "labels"),
    [
        ([(9, 11), (8, 10.5), (0, 2)], ["1–2", "1–2", "3"]),
        ([(9, 11), (5, 7), (0, 2)], ["1", "2", "3"]),
        ([(0, 10), (4, 5), (3, 4.5)], ["1–3", "1–3", "1–3"]),
        ([(9, 11), (6, 10), (5, 7)], ["1–2", "1–3", "2–3"]),
    ],
)
def test_rank_groups_respect_the_intervals(intervals: list[tuple[float, float]],
                                           labels: list[str]) -> None:
    assert [g["label"] for g in rank_groups(intervals)] == labels


def test_null_values_under_both_references() -> None:
    dense = [fake_metrics("dense", 0.0, s) for s in (0, 1, 2)]

    def score(m, r):  # type: ignore[no-untyped-def]
        return delta_t(m, r, scoring="nyu")

    pairs = null_values(dense, "same_seed", score)
    loo = null_values(dense, "mean_of_dense_seeds", score)
    assert len(pairs) == 6 and len(loo) == 3
    assert pairs[0] == pytest.approx(score(dense[0], dense[1])["mean"])
    assert null_values(dense[:1], "same_seed", score) == []


def test_rows_are_flagged_inside_the_null_band(tmp_path: Path) -> None:
    build_fixture_runs(tmp_path, methods=("snip",), sparsities=(0.9,), seeds=(0, 1, 2))
    # A "method" that is dense itself must be flagged as not distinguishable from dense.
    for seed in (0, 1, 2):
        write_run(tmp_path, "random", 0.9, seed, metrics=fake_metrics("dense", 0.0, seed))
    table = build_leaderboard(tmp_path)["tables"][0]
    random = next(e for e in table["entries"] if e["method"] == "random")
    snip = next(e for e in table["entries"] if e["method"] == "snip")
    assert random["within_null_band"] is True
    assert snip["within_null_band"] is False
    assert random["rank"] == 1 and snip["rank_group"]["high"] == 2


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
