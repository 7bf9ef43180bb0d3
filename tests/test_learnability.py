"""The embedded default profile learns: the dense model clearly beats trivial predictors on the
test split, and (slow) it has converged. Uses the real default profile from params.yaml.
Time budgets are measured by `bench perf` and `python -m bench.perf.repro`, never asserted here."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from bench.config import load_config
from bench.data import PreparedDataset, eval_batches
from bench.metrics import MultiTaskEvaluator
from bench.record.spec import RunSpec
from bench.train import TrainOptions, train_run
from bench.train.setup import prepared_root

ROOT = Path(__file__).resolve().parents[1]


def trivial_metrics(root: Path) -> dict[str, dict[str, float]]:
    """Majority class, mean train depth and mean train normal, scored on the test split."""
    train, test = PreparedDataset(root, "train"), PreparedDataset(root, "test")
    seg = torch.as_tensor(train.arrays["segment_semantic"][:].astype("int64"))
    counts = torch.bincount(seg[seg != 255].flatten(), minlength=train.num_classes)
    majority = int(counts.argmax())
    depth = torch.as_tensor(train.arrays["depth_zbuffer"][:].astype("float32"))
    mean_depth = float(depth[depth > 0].mean())
    normal = torch.as_tensor(train.arrays["normal"][:].astype("float32"))
    valid = normal.norm(dim=1, keepdim=True) > 0
    mean_normal = (normal * valid).sum(dim=(0, 2, 3)) / valid.sum()
    evaluator = MultiTaskEvaluator(test.tasks, test.num_classes)
    for batch in eval_batches(test, 32):
        n, _, h, w = batch["rgb"].shape
        logits = torch.zeros(n, test.num_classes, h, w)
        logits[:, majority] = 1.0
        evaluator.process(
            {
                "segment_semantic": logits,
                "depth_zbuffer": torch.full((n, 1, h, w), mean_depth),
                "normal": mean_normal.view(1, 3, 1, 1).expand(n, 3, h, w).clone(),
            },
            batch,
        )
    return evaluator.evaluate()


@pytest.fixture(scope="module")
def default_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[dict, dict]:
    config = load_config(ROOT / "params.yaml")
    work = tmp_path_factory.mktemp("learn")
    config = type(config)(**{**config.__dict__, "data_root": str(work / "data")})
    result = train_run(config, RunSpec("dense", 0.0, 0), TrainOptions(progress=False, out_dir=work / "run"))
    assert result is not None and result["status"] == "ok"
    return result, trivial_metrics(prepared_root(config))


def test_dense_beats_the_majority_class_on_miou(default_run: tuple[dict, dict]) -> None:
    result, trivial = default_run
    assert result["metrics"]["segment_semantic"]["miou"] >= 2 * trivial["segment_semantic"]["miou"]


def test_dense_beats_the_mean_depth(default_run: tuple[dict, dict]) -> None:
    result, trivial = default_run
    assert result["metrics"]["depth_zbuffer"]["abs_err"] <= 0.7 * trivial["depth_zbuffer"]["abs_err"]


def test_dense_beats_the_mean_normal(default_run: tuple[dict, dict]) -> None:
    result, trivial = default_run
    assert result["metrics"]["normal"]["angle_mean"] <= 0.8 * trivial["normal"]["angle_mean"]


@pytest.mark.slow
@pytest.mark.xfail(strict=True, reason="the embedded default is not converged within README "
                   "command 1's budget (docs/performance.md, 'Convergence'); remove this marker "
                   "when a default passes")
def test_dense_has_converged(tmp_path: Path) -> None:
    """The same dense run (seed 0) trained twice as long, schedule stretched with it, scores
    within ±3 ΔT of the default (docs/performance.md, "Convergence")."""
    import dataclasses

    from bench.scoring import delta_t

    config = load_config(ROOT / "params.yaml")
    config = dataclasses.replace(config, data_root=str(tmp_path / "data"))
    recipe = config.recipe
    longer = dataclasses.replace(recipe, iterations=2 * recipe.iterations, lr_step=2 * recipe.lr_step)
    long_config = dataclasses.replace(config, profiles={**config.profiles, config.profile: longer})
    options = {"progress": False}
    base = train_run(config, RunSpec("dense", 0.0, 0), TrainOptions(out_dir=tmp_path / "base", **options))
    long = train_run(long_config, RunSpec("dense", 0.0, 0), TrainOptions(out_dir=tmp_path / "long", **options))
    assert base is not None and long is not None
    score = delta_t(long["metrics"], base["metrics"], scoring="nyu")
    print("2x iterations vs default:", {k: round(v, 2) for k, v in score.items()})
    assert abs(score["mean"]) <= 3, score
