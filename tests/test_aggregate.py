"""`bench aggregate`: ΔT per seed vs dense, mean ± std, ranking, validity rules, outputs."""

from __future__ import annotations

import json
import statistics
import subprocess
import sys
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from fixtures.results import DENSE_METRICS, build_fixture_runs, fake_metrics, run_path, write_run

from bench.aggregate import aggregate, build_leaderboard
from bench.cli import main
from bench.record.result import SCHEMA_VERSION
from bench.tasks import DELTA_T_KEYS, metric_spec


def _table(lb: dict[str, Any], target: float) -> dict[str, Any]:
    return next(t for t in lb["tables"] if t["target_sparsity"] == target)


def _entry(table: dict[str, Any], method: str) -> dict[str, Any]:
    return next(e for e in table["entries"] if e["method"] == method)


def _invalid(lb: dict[str, Any], fragment: str) -> dict[str, Any]:
    return next(i for i in lb["invalid"] if fragment in i["path"])


@pytest.fixture
def runs(tmp_path: Path) -> Path:
    build_fixture_runs(tmp_path / "runs")
    return tmp_path / "runs"


def _by_hand(metrics: dict[str, dict[str, float]], ref: dict[str, dict[str, float]]) -> float:
    per_task = []
    for task, keys in DELTA_T_KEYS["nyu"].items():
        total = 0.0
        for key in keys:
            sign = 1 if metric_spec(task, key).higher_is_better else -1
            total += sign * (metrics[task][key] - ref[task][key]) / ref[task][key]
        per_task.append(100 * total)
    return sum(per_task) / len(per_task)


def test_tables_rank_by_delta_t_with_mean_and_std_over_seeds(runs: Path) -> None:
    lb = build_leaderboard(runs)
    assert [t["target_sparsity"] for t in lb["tables"]] == [0.7, 0.9]
    for table in lb["tables"]:
        assert [e["method"] for e in table["entries"]] == ["adapmtl", "xss", "snip"]
        assert [e["rank"] for e in table["entries"]] == [1, 2, 3]
        means = [e["delta_t"]["mean"] for e in table["entries"]]
        assert means == sorted(means, reverse=True)
        assert table["reference"]["method"] == "dense" and table["reference"]["rank"] is None
        # The reference row shows dense's own seed noise: each seed against the others' mean,
        # and its 95 % interval is the table's one noise floor.
        floor = table["noise_floor"]
        assert table["reference_kind"] == "mean_of_dense_seeds"
        assert [r["delta_t"]["mean"] for r in table["reference"]["runs"]] == floor["values"]
        assert [floor["low"], floor["high"]] == table["reference"]["delta_t"]["ci95"]
        assert floor["half_width"] > 0 and table["budget_units"] == 1.0
        assert table["id"].endswith(f"/s{table['target_sparsity']:.2f}/b1.00")
        assert table["tasks"] == ["segment_semantic", "normal", "depth_zbuffer"]
        assert table["components"] == ["backbone", "segment_semantic", "normal", "depth_zbuffer"]
        assert sum(m["in_delta_t"] for m in table["metrics"]) == 12
    snip = _entry(_table(lb, 0.9), "snip")
    dense = [fake_metrics("dense", 0.0, s) for s in (0, 1)]
    reference = {t: {k: statistics.mean(d[t][k] for d in dense) for k in dense[0][t]}
                 for t in dense[0]}
    per_seed = [_by_hand(fake_metrics("snip", 0.9, s), reference) for s in (0, 1)]
    assert snip["n_seeds"] == 2 and snip["seeds"] == [0, 1]
    assert snip["delta_t"]["mean"] == pytest.approx(statistics.mean(per_seed))
    assert snip["delta_t"]["std"] == pytest.approx(statistics.stdev(per_seed))
    half = 12.706204736 * statistics.stdev(per_seed) / 2 ** 0.5  # t(0.975, 1)
    assert snip["delta_t"]["ci95"] == pytest.approx(
        [statistics.mean(per_seed) - half, statistics.mean(per_seed) + half])
    assert [r["delta_t"]["mean"] for r in snip["runs"]] == pytest.approx(per_seed)
    miou = [fake_metrics("snip", 0.9, s)["segment_semantic"]["miou"] for s in (0, 1)]
    assert snip["metrics"]["segment_semantic"]["miou"]["mean"] == pytest.approx(statistics.mean(miou))
    assert snip["sparsity"]["overall"]["mean"] == pytest.approx(0.9006)
    assert snip["cost"]["extra_forward_backward"] == 4
    assert 0 < snip["cost"]["macs_ratio"] < 0.2


def test_spec_worked_example_end_to_end(tmp_path: Path) -> None:
    """docs/protocol.md §2: dense seg (19.94, 48.71) vs (20.16, 49.14) gives ΔT_seg = 1.99."""
    dense = {**DENSE_METRICS, "segment_semantic": {"miou": 0.1994, "pixel_acc": 0.4871}}
    method = {**DENSE_METRICS, "segment_semantic": {"miou": 0.2016, "pixel_acc": 0.4914}}
    write_run(tmp_path, "dense", 0.0, 0, metrics=dense)
    write_run(tmp_path, "adapmtl", 0.9, 0, metrics=method)
    entry = build_leaderboard(tmp_path)["tables"][0]["entries"][0]
    assert entry["delta_t"]["by_task"]["segment_semantic"]["mean"] == pytest.approx(1.99, abs=0.005)
    assert entry["delta_t"]["by_task"]["normal"]["mean"] == 0
    assert entry["delta_t"]["std"] is None  # one seed


def test_invalid_runs_are_listed_with_reasons_and_never_ranked(runs: Path) -> None:
    write_run(runs, "imp", 0.7, 0, sparsity={"overall": 0.712, "by_component": {"backbone": 0.7}})
    write_run(runs, "imp", 0.7, 1, sparsity={"overall": 0.704, "by_component": {"backbone": 0.7}})
    write_run(runs, "snip", 0.7, 7)  # no dense seed 7: scored against the dense seeds' mean
    write_run(runs, "lth", 0.7, 0, schema_version=SCHEMA_VERSION - 1)  # an older benchmark's
    write_run(runs, "lth", 0.7, 1, metrics={"segment_semantic": {"miou": float("nan")}})
    bad = run_path(runs, "random", 0.7, 0)
    bad.mkdir(parents=True)
    (bad / "result.json").write_text('{"schema_version": 1, "method": ')
    lb = build_leaderboard(runs)
    reasons = {i["path"]: i["reason"] for i in lb["invalid"]}
    assert "run failed: non-finite loss at step 17" in reasons["synthetic/resnet34/imp/s0.90/seed0"]
    assert "1.20 pp off the target" in reasons["synthetic/resnet34/imp/s0.70/seed0"]
    assert f"schema_version {SCHEMA_VERSION - 1} (this version reads {SCHEMA_VERSION})" in \
        reasons["synthetic/resnet34/lth/s0.70/seed0"]
    assert "non-finite" in reasons["synthetic/resnet34/lth/s0.70/seed1"]
    assert "invalid JSON" in reasons["synthetic/resnet34/random/s0.70/seed0"]
    assert len(lb["invalid"]) == 5 and lb["counts"]["invalid"] == 5
    assert _entry(_table(lb, 0.7), "snip")["seeds"] == [0, 1, 7]
    ranked = {r["path"] for t in lb["tables"] for e in t["entries"] for r in e["runs"]}
    assert not ranked & set(reasons)
    # Within the 0.5 pp tolerance: ranked, with its one seed.
    assert _entry(_table(lb, 0.7), "imp")["seeds"] == [1]
    assert lb["counts"]["results"] == lb["counts"]["valid"] + lb["counts"]["invalid"]


def test_failed_dense_seed_leaves_the_reference_to_the_others(runs: Path) -> None:
    write_run(runs, "dense", 0.0, 1, status="failed", reason="out of memory")
    lb = build_leaderboard(runs)
    assert "run failed: out of memory" in _invalid(lb, "dense/s0.00/seed1")["reason"]
    for table in lb["tables"]:
        assert all(e["seeds"] == [0, 1] for e in table["entries"])
        assert table["reference"]["seeds"] == [0]
        assert table["noise_floor"] is None  # one dense seed: no noise floor can be measured
        assert all(e["vs_dense"]["p"] is None and e["not_distinguishable_from_dense"]
                   for e in table["entries"])


def test_without_any_dense_run_nothing_is_ranked(tmp_path: Path) -> None:
    write_run(tmp_path, "snip", 0.9, 0)
    lb = build_leaderboard(tmp_path)
    assert lb["tables"] == []
    assert "missing dense reference" in _invalid(lb, "snip/s0.90/seed0")["reason"]


def test_duplicate_results_are_both_invalid(runs: Path) -> None:
    copy = runs / "old" / "snip-copy"
    copy.mkdir(parents=True)
    original = run_path(runs, "snip", 0.9, 0) / "result.json"
    (copy / "result.json").write_text(original.read_text())
    lb = build_leaderboard(runs)
    duplicates = [i for i in lb["invalid"] if i["reason"].startswith("duplicate")]
    assert {d["path"] for d in duplicates} == {"old/snip-copy", "synthetic/resnet34/snip/s0.90/seed0"}


def test_outputs_json_and_csv(runs: Path, tmp_path: Path) -> None:
    out = tmp_path / "reports"
    lb = aggregate(runs, out)
    on_disk = json.loads((out / "leaderboard.json").read_text())
    assert on_disk["tables"] == lb["tables"] and on_disk["schema_version"] == 3
    assert set(on_disk) >= {"generated_at", "rules", "counts", "tables", "invalid", "provenance"}
    assert on_disk["provenance"]["torch_versions"] == {"2.13.0": 15}
    assert on_disk["provenance"]["cpu_capabilities"] == {"AVX2": 15}
    assert on_disk["provenance"]["devices"] == {"cpu / fixture-cpu": 15}
    frame = pd.read_csv(out / "leaderboard.csv")
    assert len(frame) == 2 * 4
    assert {"delta_t_mean", "delta_t_std", "segment_semantic.miou_mean",
            "sparsity.backbone_mean", "cost.macs_ratio", "rank", "n_seeds", "delta_t_ci_low",
            "delta_t_ci_high", "rank_group", "not_distinguishable_from_dense",
            "noise_floor_low", "noise_floor_high", "minimum_detectable_difference", "start",
            "budget_units", "table_budget_units", "table"} <= set(frame.columns)
    assert not any("null_band" in c for c in frame.columns)
    assert frame["table"].str.endswith("/b1.00").all()
    assert frame.loc[frame["reference"], "method"].tolist() == ["dense", "dense"]


def test_empty_runs_root(tmp_path: Path) -> None:
    lb = aggregate(tmp_path / "nothing", tmp_path / "out")
    assert lb["tables"] == [] and lb["invalid"] == [] and lb["counts"]["results"] == 0


def test_cli(runs: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["aggregate", "--runs", str(runs), "--out", str(tmp_path / "r"),
                 "--any-identity"]) == 0
    out = capsys.readouterr().out
    assert "15 results: 14 valid, 1 invalid" in out and "imp/s0.90/seed0" in out
    assert "table synthetic/resnet34/fixture/s0.90/b1.00: 3 methods, budget 1.00× dense" in out
    assert (tmp_path / "r" / "leaderboard.csv").is_file()


def test_aggregate_and_report_never_import_torch(tmp_path: Path) -> None:
    runs = tmp_path / "runs"
    build_fixture_runs(runs, methods=("adapmtl",), sparsities=(0.9,), seeds=(0,))
    code = f"""
import sys
from bench.aggregate import aggregate
from bench.report import build_report
aggregate({str(runs)!r}, {str(tmp_path / "r")!r})
build_report({str(tmp_path / "r" / "leaderboard.json")!r}, {str(runs)!r}, {str(tmp_path / "site")!r})
assert "torch" not in sys.modules, "torch was imported"
"""
    subprocess.run([sys.executable, "-c", code], check=True, cwd=Path(__file__).parents[1])
