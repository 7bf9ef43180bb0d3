"""`bench verify`'s logic on constructed inputs (fast): the prediction interval against known
answers, the pass/fail decision, the row identity, the status the leaderboard and report show,
leave-one-seed-out coverage, and the command's bad-input exits. The end-to-end run that trains
held-out seeds in a scratch copy is tests/test_verify_pipeline.py (slow)."""

from __future__ import annotations

import json
import math
import statistics
from pathlib import Path
from typing import Any

import pytest
from conftest_slurm import write_params
from fixtures.results import build_fixture_runs, fake_metrics, write_run
from scipy import stats as scipy_stats
from test_torch_free import _bench as torch_free_bench

from bench.aggregate import build_leaderboard, leaderboard_frame
from bench.aggregate.load import load_runs
from bench.aggregate.stats import inside, prediction_interval, summary
from bench.cli import main
from bench.report.paper import to_markdown
from bench.report.tables import table_view
from bench.verify.check import build_record, check_seeds, judge
from bench.verify.coverage import coverage, leaderboard_samples, leave_one_out
from bench.verify.identity import row_identity, seedless
from bench.verify.record import read_records, record_name, write_record
from bench.verify.status import NOT_VERIFIED, verification_status

# --- the prediction interval ------------------------------------------------------------------


def test_prediction_interval_on_a_known_answer() -> None:
    values = [1.0, 2.0, 4.0]
    p = prediction_interval(values)
    assert p is not None
    # By hand: mean 7/3, s = stdev, t(0.975, 2) = 4.302652730, half = t·s·√(1 + 1/3).
    half = 4.302652730 * statistics.stdev(values) * math.sqrt(4 / 3)
    assert p["mean"] == pytest.approx(7 / 3)
    assert (p["low"], p["high"]) == pytest.approx((7 / 3 - half, 7 / 3 + half))
    assert p["half_width"] == pytest.approx(half) and p["df"] == 2 and p["n"] == 3
    # Two values 0 and 2: mean 1, s = √2, t(0.975, 1) = 12.7062047: half = 12.706·√2·√1.5.
    two = prediction_interval([0.0, 2.0])
    assert two is not None and two["half_width"] == pytest.approx(22.00779, abs=1e-4)


def test_prediction_interval_matches_scipy_and_is_wider_than_the_mean_interval() -> None:
    values = [-12.0, -3.5, -8.25, 0.5, -20.0]
    p = prediction_interval(values)
    assert p is not None
    n, s = len(values), statistics.stdev(values)
    low, high = scipy_stats.t.interval(0.95, n - 1, loc=statistics.mean(values),
                                       scale=s * math.sqrt(1 + 1 / n))
    assert (p["low"], p["high"]) == pytest.approx((low, high))
    mean_ci = summary(values)["ci95"]
    # √(n + 1) times the half-width of the interval of the mean.
    assert p["half_width"] == pytest.approx((mean_ci[1] - mean_ci[0]) / 2 * math.sqrt(n + 1))


def test_prediction_interval_edge_cases() -> None:
    assert prediction_interval([3.0]) is None
    flat = prediction_interval([2.0, 2.0, 2.0])
    assert flat is not None and flat["low"] == flat["high"] == 2.0
    assert inside(2.0, flat) and not inside(2.0000001, flat)


# --- the decision -------------------------------------------------------------------------------

ROW = {0: 0.0, 1: 1.0, 2: 2.0, 3: 3.0}  # interval: 1.5 ± 3.182·1.291·√1.25 = [-3.09, 6.09]


def test_judge_passes_seeds_inside_and_fails_the_others() -> None:
    interval, passes = judge(ROW, {8: 1.0, 9: 6.0, 10: 6.2, 11: -3.2, 12: None})
    assert interval["low"] == pytest.approx(1.5 - 4.5928, abs=1e-3)
    assert passes == {8: True, 9: True, 10: False, 11: False, 12: False}
    with pytest.raises(ValueError, match="at least 2 seeds"):
        judge({0: 1.0}, {8: 1.0})


# --- the row identity ---------------------------------------------------------------------------


def _result(seed: int, **inputs: Any) -> dict[str, Any]:
    config = {"method": "lth", "method_params": {}, "seed": seed, "code": {"methods/lth.py": "a"},
              "start": {"point": "dense", "at": "branch", "parent_identity": f"p{seed}"}, **inputs}
    return {"seed": seed, "provenance": {"config": config}}


def _dense(seed: int, **inputs: Any) -> dict[str, Any]:
    return {"seed": seed, "provenance": {"config": {"method": "dense", "seed": seed,
                                                     "start": {"point": "init"}, **inputs}}}


def test_row_identity_is_the_identity_apart_from_the_seed() -> None:
    assert "seed" not in seedless(_result(3)["provenance"]["config"])
    assert seedless(_result(3)["provenance"]["config"])["start"] == {"point": "dense",
                                                                      "at": "branch"}
    dense = [_dense(s) for s in range(4)]
    base = row_identity([_result(0), _result(1)], dense)
    assert base is not None and len(base) == 16
    assert row_identity([_result(1), _result(0)], dense) == base  # order does not matter
    # Any input but the seed changes it: parameters, code, the reference, the seeds.
    assert row_identity([_result(0, method_params={"a": 1}), _result(1, method_params={"a": 1})],
                        dense) != base
    assert row_identity([_result(0, code={"x": "b"}), _result(1, code={"x": "b"})], dense) != base
    assert row_identity([_result(0), _result(1)], [_dense(s, code={"y": 1}) for s in range(4)]) \
        != base
    assert row_identity([_result(0), _result(1), _result(2)], dense) != base
    # Runs of several identities in one row (a leaderboard of --any-identity): none.
    assert row_identity([_result(0), _result(1, method_params={"a": 1})], dense) is None
    assert row_identity([], dense) is None


# --- the status ---------------------------------------------------------------------------------


def _record(identity: str, passes: list[bool], platform: str = "AVX2") -> dict[str, Any]:
    return {"schema_version": 1, "method": "snip", "target_sparsity": 0.9,
            "row": {"identity": identity, "dataset": "synthetic", "backbone": "resnet34"},
            "seeds": [{"seed": 8 + i, "pass": p} for i, p in enumerate(passes)],
            "machine": {"platform": platform}, "created_at": "2024-01-01T00:00:00+00:00"}


def test_status_labels() -> None:
    assert verification_status(None, "abc")["label"] == NOT_VERIFIED
    assert verification_status(_record("abc", [True, True]), "abc")["label"] == \
        "verified 2/2 on AVX2"
    failed = verification_status(_record("abc", [True, False]), "abc")
    assert (failed["state"], failed["label"]) == ("failed", "failed 1/2 on AVX2")
    assert verification_status(_record("abc", [False, False], "AVX512"), "abc")["label"] == \
        "failed 0/2 on AVX512"
    stale = verification_status(_record("abc", [True, True]), "def")
    assert stale["label"] == NOT_VERIFIED and stale["reason"].startswith("stale")
    assert verification_status(_record("abc", [True, True]), None)["label"] == NOT_VERIFIED
    assert verification_status(_record("abc", []), "abc")["state"] == "failed"  # nothing checked


def test_unreadable_or_foreign_files_are_ignored(tmp_path: Path) -> None:
    write_record(tmp_path, _record("abc", [True]))
    (tmp_path / "broken.json").write_text("{")
    (tmp_path / "other.json").write_text(json.dumps({"schema_version": 99}))
    assert list(read_records(tmp_path)) == [("synthetic", "resnet34", "snip", 0.9)]
    assert record_name("synthetic", "resnet34", "snip", 0.9) == "synthetic-resnet34-snip-s0.9.json"
    assert read_records(tmp_path / "missing") == {}


# --- held-out seeds scored like the leaderboard, and the status it then shows -----------------


def _fixture(root: Path) -> tuple[list[Any], list[Any]]:
    build_fixture_runs(root, methods=("snip",), sparsities=(0.9,), seeds=(0, 1, 2, 3),
                       with_failed=False, with_logs=False)
    runs, invalid = load_runs(root)
    assert not invalid
    return ([r for r in runs if r.method == "snip"], [r for r in runs if r.method == "dense"])


def _held_out(root: Path, metrics_seed: dict[int, int]) -> dict[int, Any]:
    """Held-out runs (seed → the fixture seed whose metrics it gets) read like `bench verify`."""
    for seed, like in metrics_seed.items():
        write_run(root, "snip", 0.9, seed, metrics=fake_metrics("snip", 0.9, like))
    runs, _ = load_runs(root)
    return {r.seed: r for r in runs}


@pytest.mark.parametrize(("like", "label"), [({8: 1, 9: 2}, "verified 2/2 on AVX2"),
                                             ({8: 1, 9: 40}, "failed 1/2 on AVX2")])
def test_held_out_seeds_reach_the_leaderboard_report_and_exports(
        tmp_path: Path, like: dict[int, int], label: str) -> None:
    row_runs, dense = _fixture(tmp_path / "runs")
    # Seed 40's metrics are far outside what seeds 0-3 spread over: an honest failure.
    held = _held_out(tmp_path / "verify-runs", like)
    values, interval, checks = check_seeds(row_runs, dense, held)
    board = build_leaderboard(tmp_path / "runs")
    entry = board["tables"][0]["entries"][0]
    assert values == {r["seed"]: r["delta_t"]["mean"] for r in entry["runs"]}  # same scoring
    assert [c.passed for c in checks] == [c.delta_t is not None and inside(c.delta_t, interval)
                                          for c in checks]
    assert [c.passed for c in checks] == [True, like[9] == 2]
    record = build_record("snip", 0.9, row_runs, dense, values, interval, checks,
                          {"platform": "AVX2", "cpu_capability": "AVX2"})
    assert record["label"] == label and record["row"]["identity"] == entry["row_identity"]
    write_record(tmp_path / "verify", record)

    board = build_leaderboard(tmp_path / "runs", verify_dir=tmp_path / "verify")
    status = board["tables"][0]["entries"][0]["verification"]
    assert status["label"] == label and status["file"] == "synthetic-resnet34-snip-s0.9.json"
    assert list(leaderboard_frame(board)["verification"].fillna("")) == ["", label]
    view = table_view(board["tables"][0], lambda m: f"methods/{m}.html")
    assert [c["text"] for c in view["rows"][1]["cells"] if "verified" in c["cls"]] == [label]
    assert (" ✓ (" if label.startswith("verified") else " ✗ (") in to_markdown(board)

    # One more seed in the row changes its identity: the verification is stale.
    write_run(tmp_path / "runs", "snip", 0.9, 4)
    write_run(tmp_path / "runs", "dense", 0.0, 4)
    board = build_leaderboard(tmp_path / "runs", verify_dir=tmp_path / "verify")
    status = board["tables"][0]["entries"][0]["verification"]
    assert status["label"] == NOT_VERIFIED and status["reason"].startswith("stale")


# --- leave-one-seed-out coverage ----------------------------------------------------------------


def test_leave_one_out_coverage_on_constructed_rows() -> None:
    # Evenly spaced: each left-out seed is inside the interval of the other three.
    even = {0: 0.0, 1: 1.0, 2: 2.0, 3: 3.0}
    # One outlier: left out, it is far outside [−0.50, 0.50] (the others: mean 0, s 0.1); each
    # other seed, left out, sits inside the interval the outlier widens.
    outlier = {0: 0.0, 1: 0.1, 2: -0.1, 3: 100.0}
    checks = leave_one_out(outlier)
    assert [c["inside"] for c in checks] == [True, True, True, False]
    assert checks[3]["high"] == pytest.approx(4.302652730 * 0.1 * math.sqrt(4 / 3))
    result = coverage({"even": even, "outlier": outlier, "three seeds": {0: 0.0, 1: 5.0, 2: 9.0}})
    assert [r["row"] for r in result["rows"]] == ["even", "outlier"]  # fewer than 4: left out
    assert (result["covered"], result["checks"], result["rate"]) == (7, 8, 7 / 8)
    assert result["rows"][1]["outside"] == [3]
    assert coverage({"short": {0: 1.0, 1: 2.0}})["rate"] is None


def test_coverage_reads_a_leaderboard(tmp_path: Path) -> None:
    _fixture(tmp_path / "runs")
    board = build_leaderboard(tmp_path / "runs")
    samples = leaderboard_samples(board)
    assert list(samples.values())[0].keys() == {0, 1, 2, 3}
    # The fixture's ΔT is linear in the seed: every left-out seed is inside.
    assert coverage(samples)["rate"] == 1.0
    (tmp_path / "lb.json").write_text(json.dumps(board))
    assert main(["verify", "--coverage", "--leaderboard", str(tmp_path / "lb.json")]) == 0
    # Where torch cannot be imported at all, as `bench aggregate` (tests/test_torch_free.py).
    done = torch_free_bench(tmp_path, "verify", "--coverage", "--leaderboard", "lb.json", "--json")
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["rate"] == 1.0


# --- the command's bad input: one line, exit 2 --------------------------------------------------


@pytest.fixture()
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    write_params(tmp_path, methods=["random"], sparsities=[0.5], seeds=[0, 1],
                 dense_seeds=[0, 1, 2])
    monkeypatch.chdir(tmp_path)
    return tmp_path


@pytest.mark.parametrize(("argv", "message"), [
    (["verify"], "METHOD is required"),
    (["verify", "nosuch"], "unknown method 'nosuch'"),
    (["verify", "snip"], "not in `methods:`"),
    (["verify", "dense"], "not a row"),
    (["verify", "random", "--target", "0.9"], "does not run at it (its targets: 0.5)"),
    (["verify", "random", "--seeds", "1"], "one of the row's seeds"),
    (["verify", "random", "--seeds", "2"], "seed of the dense reference"),
    (["verify", "random", "--seeds", "5", "5"], "given twice"),
    (["verify", "random"], "run `dvc repro` first"),
    (["verify", "random", "-j", "-1"], "--jobs"),
    (["verify", "--coverage"], "cannot be read"),
    (["verify", "random", "--coverage"], "give no METHOD"),
])
def test_bad_input_exits_2_with_one_line(project: Path, capsys: pytest.CaptureFixture[str],
                                         argv: list[str], message: str) -> None:
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err
    assert len(err.strip().splitlines()) == 1, err
    assert not (project / "reports" / "verify").exists()  # nothing written


def test_default_held_out_seeds_are_in_neither_seeds_nor_dense_seeds(project: Path) -> None:
    from bench.config import load_config
    from bench.verify.heldout import held_out_seeds, verify_root

    config = load_config("params.yaml")
    assert held_out_seeds(config, None) == (3, 4)
    assert held_out_seeds(config, [7]) == (7,)
    assert verify_root(config) == Path("runs-verify")
