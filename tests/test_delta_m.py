"""Δm in the leaderboard: every row against the mean of the single-task references' seeds, the
mean within a task (LibMTL, Maninis et al.) where ΔT sums (AdapMTL, DiSparse)."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from fixtures.results import (
    DENSE_METRICS,
    TASKS,
    build_fixture_runs,
    write_run,
    write_single_task_run,
    write_single_task_runs,
)

from bench.aggregate import aggregate, build_leaderboard
from bench.aggregate.staleness import Expected
from bench.scoring import delta_m, delta_t

SEG_ST = {0: {"miou": 0.20, "pixel_acc": 0.50}, 1: {"miou": 0.22, "pixel_acc": 0.52}}  # mean .21/.51
SEG_SNIP = {0: {"miou": 0.2016, "pixel_acc": 0.4914}, 1: {"miou": 0.231, "pixel_acc": 0.5355}}
T_975_1 = 12.706204736  # t(0.975, 1)


def _metrics(seg: dict[str, float]) -> dict[str, dict[str, float]]:
    return {**DENSE_METRICS, "segment_semantic": dict(seg)}


def _hand_example(root: Path) -> None:
    """Single-task normal/depth equal the dense model's; segmentation alone scores .21/.51."""
    for seed in (0, 1):
        write_run(root, "dense", 0.0, seed, metrics=_metrics({"miou": 0.21, "pixel_acc": 0.51}))
        write_run(root, "snip", 0.9, seed, metrics=_metrics(SEG_SNIP[seed]))
        write_single_task_run(root, "segment_semantic", seed, SEG_ST[seed])
        for task in ("normal", "depth_zbuffer"):
            write_single_task_run(root, task, seed, DENSE_METRICS[task])


def test_delta_m_by_hand(tmp_path: Path) -> None:
    _hand_example(tmp_path)
    lb = build_leaderboard(tmp_path)
    (table,) = lb["tables"]
    snip = table["entries"][0]
    # seed 0: seg 100·((.2016−.21)/.21 + (.4914−.51)/.51)/2 = (−4 − 3.6470588)/2; the others 0
    # seed 1: seg 100·((.231−.21)/.21 + (.5355−.51)/.51)/2 = (10 + 5)/2
    seg = [-3.8235294, 7.5]
    per_seed = [s / 3 for s in seg]
    assert [r["delta_m"]["mean"] for r in snip["runs"]] == pytest.approx(per_seed)
    assert snip["runs"][0]["delta_m"]["by_task"]["segment_semantic"] == pytest.approx(seg[0])
    dm = snip["delta_m"]
    assert dm["mean"] == pytest.approx(sum(per_seed) / 2)
    std = abs(per_seed[1] - per_seed[0]) / math.sqrt(2)
    assert dm["std"] == pytest.approx(std)
    half = T_975_1 * std / math.sqrt(2)
    assert dm["ci95"] == pytest.approx([dm["mean"] - half, dm["mean"] + half])
    assert dm["by_task"]["segment_semantic"]["mean"] == pytest.approx(sum(seg) / 2)
    assert dm["by_task"]["normal"]["mean"] == 0 and dm["by_task"]["depth_zbuffer"]["mean"] == 0
    # The dense multi-task model is scored too: here exactly the single-task means, Δm 0.
    assert table["reference"]["delta_m"]["mean"] == pytest.approx(0)
    assert table["reference"]["delta_m"]["std"] == pytest.approx(0)
    ref = table["single_task_reference"]
    assert set(ref) == set(TASKS)
    assert ref["segment_semantic"]["n_seeds"] == 2
    assert ref["segment_semantic"]["metrics"] == pytest.approx({"miou": 0.21, "pixel_acc": 0.51})
    # ΔT keeps its own reference, the dense multi-task seeds (seg .21/.51 there too), and its
    # sum within a task: twice Δm here, where only segmentation (two metrics) moves.
    assert snip["delta_t"]["mean"] == pytest.approx(2 * dm["mean"])


# The worked example of docs/protocol.md §2: the same numbers under ΔT and Δm.
WORKED_REFERENCE = {
    "segment_semantic": {"miou": 0.20, "pixel_acc": 0.50},
    "normal": {"angle_mean": 20.0, "angle_median": 15.0, "within_11.25": 0.30,
               "within_22.5": 0.60, "within_30": 0.70},
    "depth_zbuffer": {"abs_err": 0.50, "rel_err": 0.20, "delta1": 0.60, "delta2": 0.80,
                      "delta3": 0.90},
}
WORKED_MODEL = {
    "segment_semantic": {"miou": 0.22, "pixel_acc": 0.49},            # +10 %, −2 %
    "normal": {**WORKED_REFERENCE["normal"], "angle_mean": 19.0,      # lower is better: +5 %
               "within_11.25": 0.33},                                 # +10 %
    "depth_zbuffer": {**WORKED_REFERENCE["depth_zbuffer"], "abs_err": 0.55},  # −10 %
}


def test_delta_t_sums_and_delta_m_averages_within_a_task() -> None:
    dt = delta_t(WORKED_MODEL, WORKED_REFERENCE, scoring="nyu")
    dm = delta_m(WORKED_MODEL, WORKED_REFERENCE, scoring="nyu")
    # ΔT (AdapMTL, DiSparse): per task the sum — seg 10 − 2 = 8, normal 5 + 10 = 15, depth −10;
    # then the mean over tasks: 13/3.
    assert [dt["segment_semantic"], dt["normal"], dt["depth_zbuffer"]] == pytest.approx(
        [8.0, 15.0, -10.0])
    assert dt["mean"] == pytest.approx(13 / 3)
    # Δm (LibMTL, Maninis et al.): per task the mean — seg 8/2 = 4, normal 15/5 = 3,
    # depth −10/5 = −2; then the mean over tasks: 5/3.
    assert [dm["segment_semantic"], dm["normal"], dm["depth_zbuffer"]] == pytest.approx(
        [4.0, 3.0, -2.0])
    assert dm["mean"] == pytest.approx(5 / 3)
    # Taskonomy counts one metric per task: there the two forms agree.
    taskonomy = {"segment_semantic": {"ce_err": 1.1}, "normal": {"cosine": 0.8}}
    ref = {"segment_semantic": {"ce_err": 1.0}, "normal": {"cosine": 0.9}}
    assert delta_m(taskonomy, ref, "taskonomy") == pytest.approx(delta_t(taskonomy, ref, "taskonomy"))


def test_single_task_runs_are_never_ranked_nor_the_dense_reference(tmp_path: Path) -> None:
    build_fixture_runs(tmp_path, with_failed=False, with_logs=False)
    without = build_leaderboard(tmp_path)
    write_single_task_runs(tmp_path)
    lb = build_leaderboard(tmp_path)
    assert lb["counts"]["single_task"] == 2 * len(TASKS)
    assert lb["counts"]["invalid"] == 0  # the same (method, seed) as the dense runs: no clash
    for before, table in zip(without["tables"], lb["tables"], strict=True):
        assert [e["method"] for e in table["entries"]] == [e["method"] for e in before["entries"]]
        assert table["reference"]["n_seeds"] == 2
        assert table["reference"]["delta_t"] == before["reference"]["delta_t"]
        for entry, old in zip(table["entries"], before["entries"], strict=True):
            assert entry["delta_t"] == old["delta_t"]
            assert old["delta_m"] is None and entry["delta_m"]["ci95"] is not None
        # Each task alone does better than the shared dense model: its Δm is negative.
        assert table["reference"]["delta_m"]["mean"] < 0


def test_a_task_without_reference_leaves_delta_m_null(tmp_path: Path) -> None:
    build_fixture_runs(tmp_path, with_failed=False, with_logs=False, methods=("snip",))
    write_single_task_runs(tmp_path, tasks=("segment_semantic", "normal"))
    (table, *_) = build_leaderboard(tmp_path)["tables"]
    assert set(table["single_task_reference"]) == {"segment_semantic", "normal"}
    assert table["reference"]["delta_m"] is None
    assert all(e["delta_m"] is None for e in table["entries"])


def test_a_non_dense_single_task_run_is_invalid(tmp_path: Path) -> None:
    _hand_example(tmp_path)
    write_single_task_run(tmp_path, "normal", 2, DENSE_METRICS["normal"], method="snip",
                          target_sparsity=0.9, sparsity={"overall": 0.9, "by_component": {}})
    lb = build_leaderboard(tmp_path)
    (bad,) = lb["invalid"]
    assert "single_task/normal/seed2" in bad["path"] and "not a dense run" in bad["reason"]
    assert bad["task"] == "normal"


def test_single_task_runs_params_yaml_asks_for_are_not_stale(tmp_path: Path) -> None:
    _hand_example(tmp_path)
    expected = {}
    for result_file in tmp_path.rglob("result.json"):
        path = result_file.parent.relative_to(tmp_path).as_posix()
        result = json.loads(result_file.read_text())
        result["identity"] = "id-" + path
        result_file.write_text(json.dumps(result))
        if "single_task/depth_zbuffer" not in path:
            expected[path] = Expected("id-" + path, {})
    lb = build_leaderboard(tmp_path, expected)
    assert {s["path"].split("/")[3] for s in lb["stale"]} == {"depth_zbuffer"}
    assert all(s["task"] == "depth_zbuffer" for s in lb["stale"])
    assert lb["counts"]["single_task"] == 4
    assert lb["tables"][0]["entries"][0]["delta_m"] is None  # depth's reference is stale


def test_csv_carries_delta_m_and_dvc_metrics_only_the_headline(tmp_path: Path) -> None:
    _hand_example(tmp_path / "runs")
    lb = aggregate(tmp_path / "runs", tmp_path / "out")
    frame = pd.read_csv(tmp_path / "out" / "leaderboard.csv")
    row = frame[frame["method"] == "snip"].iloc[0]
    dm: dict[str, Any] = lb["tables"][0]["entries"][0]["delta_m"]
    assert row["delta_m_mean"] == pytest.approx(dm["mean"])
    assert [row["delta_m_ci_low"], row["delta_m_ci_high"]] == pytest.approx(dm["ci95"])
    assert row["delta_m.segment_semantic_mean"] == pytest.approx(dm["by_task"]["segment_semantic"]["mean"])
    metrics = json.loads((tmp_path / "out" / "metrics.json").read_text())
    # metrics.json is what `dvc exp show` prints: the ΔT headline only (docs/report.md).
    assert list(metrics) == ["s90/b1"]
    assert set(metrics["s90/b1"]) == {"snip", "mdd", "dense_low", "dense_high"}
    snip = lb["tables"][0]["entries"][0]
    assert metrics["s90/b1"]["snip"] == pytest.approx({
        "delta_t": snip["delta_t"]["mean"], "delta_t_low": snip["delta_t"]["ci95"][0],
        "delta_t_high": snip["delta_t"]["ci95"][1], "group": "1", "budget": 1.0,
        "same_as_dense": snip["not_distinguishable_from_dense"]})
