"""ΔT (docs/protocol.md §2): the paper's worked example, directions, the mean, scoring rules, errors."""

from __future__ import annotations

import subprocess
import sys

import pytest

from bench.scoring import delta_t, infer_scoring

DENSE_NYU = {
    "segment_semantic": {"miou": 19.94, "pixel_acc": 48.71},
    "normal": {
        "angle_mean": 17.0,
        "angle_median": 15.0,
        "within_11.25": 0.30,
        "within_22.5": 0.60,
        "within_30": 0.75,
    },
    "depth_zbuffer": {
        "abs_err": 0.60,
        "rel_err": 0.25,
        "delta1": 0.60,
        "delta2": 0.85,
        "delta3": 0.95,
    },
}


def test_worked_example_of_spec() -> None:
    pruned = {"segment_semantic": {"miou": 20.16, "pixel_acc": 49.14}}
    dense = {"segment_semantic": DENSE_NYU["segment_semantic"]}
    out = delta_t(pruned, dense)
    assert round(out["segment_semantic"], 2) == 1.99
    assert out["mean"] == out["segment_semantic"]


def test_lower_is_better_flips_sign_and_mean_over_tasks() -> None:
    pruned = {t: dict(v) for t, v in DENSE_NYU.items()}
    pruned["depth_zbuffer"]["abs_err"] = 0.66  # 10% worse error → −10
    pruned["normal"]["within_30"] = 0.825  # 10% better fraction → +10
    out = delta_t(pruned, DENSE_NYU)
    assert out["depth_zbuffer"] == pytest.approx(-10.0)
    assert out["normal"] == pytest.approx(10.0)
    assert out["segment_semantic"] == 0.0
    assert out["mean"] == pytest.approx(0.0)
    assert list(out) == ["segment_semantic", "normal", "depth_zbuffer", "mean"]
    pruned["depth_zbuffer"]["abs_err"] = 0.54  # 10% lower error → +10
    assert delta_t(pruned, DENSE_NYU)["mean"] == pytest.approx(20.0 / 3)


def test_nyu_sums_over_the_task_keys_and_ignores_extras() -> None:
    pruned = {t: dict(v) for t, v in DENSE_NYU.items()}
    pruned["segment_semantic"].update(miou=19.94 * 1.02, pixel_acc=48.71 * 1.01, ce_err=9.0)
    dense = {t: dict(v) for t, v in DENSE_NYU.items()}
    dense["segment_semantic"]["ce_err"] = 1.0  # reported beside ΔT, not in it
    assert delta_t(pruned, dense)["segment_semantic"] == pytest.approx(3.0)


def taskonomy(scale_err: float, cosine: float) -> dict[str, dict[str, float]]:
    return {
        "segment_semantic": {"ce_err": 0.5 * scale_err, "miou": 0.3, "pixel_acc": 0.7},
        "normal": {"cosine": cosine, "angle_mean": 20.0},
        "depth_zbuffer": {"abs_err": 0.02 * scale_err, "delta1": 0.9},
        "keypoints2d": {"abs_err": 0.2 * scale_err},
        "edge_texture": {"abs_err": 0.1 * scale_err},
    }


def test_taskonomy_rule_uses_one_key_per_task() -> None:
    dense = taskonomy(1.0, 0.8)
    pruned = taskonomy(1.1, 0.88)
    pruned["segment_semantic"]["miou"] = 0.9  # outside ΔT under the Taskonomy rule
    assert infer_scoring(pruned) == "taskonomy"
    out = delta_t(pruned, dense)
    for task in ("segment_semantic", "depth_zbuffer", "keypoints2d", "edge_texture"):
        assert out[task] == pytest.approx(-10.0)
    assert out["normal"] == pytest.approx(10.0)
    assert out["mean"] == pytest.approx(-6.0)


def test_scoring_inference_and_explicit_rule() -> None:
    assert infer_scoring(DENSE_NYU) == "nyu"
    assert infer_scoring({"edge_texture": {}}) == "taskonomy"
    # Synthetic Taskonomy-like sets without keypoints can still ask for the rule by name.
    three = {t: v for t, v in taskonomy(1.0, 0.8).items() if t in DENSE_NYU}
    assert delta_t(three, three, scoring="taskonomy")["mean"] == 0.0


def test_missing_key_names_task_and_key() -> None:
    pruned = {t: dict(v) for t, v in DENSE_NYU.items()}
    del pruned["normal"]["angle_median"]
    with pytest.raises(ValueError, match=r"normal\.angle_median"):
        delta_t(pruned, DENSE_NYU)
    with pytest.raises(ValueError, match=r"reference has no normal\.angle_mean"):
        delta_t(DENSE_NYU, {"segment_semantic": DENSE_NYU["segment_semantic"]})


def test_bad_values_and_rules_are_errors() -> None:
    zero = {t: dict(v) for t, v in DENSE_NYU.items()}
    zero["depth_zbuffer"]["delta3"] = 0.0
    with pytest.raises(ValueError, match=r"depth_zbuffer\.delta3 is 0"):
        delta_t(DENSE_NYU, zero)
    nan = {t: dict(v) for t, v in DENSE_NYU.items()}
    nan["normal"]["cosine"] = 1.0
    nan["normal"]["angle_mean"] = float("nan")
    with pytest.raises(ValueError, match=r"normal\.angle_mean"):
        delta_t(nan, DENSE_NYU)
    with pytest.raises(ValueError, match="unknown scoring"):
        delta_t(DENSE_NYU, DENSE_NYU, scoring="cityscapes")
    with pytest.raises(ValueError, match="keypoints2d"):
        delta_t(taskonomy(1.0, 0.8), taskonomy(1.0, 0.8), scoring="nyu")
    with pytest.raises(ValueError, match="empty"):
        delta_t({}, DENSE_NYU)


def test_scoring_does_not_import_torch() -> None:
    code = "import sys, bench.scoring; assert 'torch' not in sys.modules, 'torch imported'"
    subprocess.run([sys.executable, "-c", code], check=True)
