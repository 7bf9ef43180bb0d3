"""The paper profiles (docs/protocol.md §4) load, build the full-size model, and train on CPU (dry run)."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest
import torch

from bench.config import SyntheticData, load_config
from bench.models import build_model
from bench.record.spec import RunSpec
from bench.train import TrainOptions, train_run
from datasets.registry import dataset_spec

ROOT = Path(__file__).resolve().parents[1]
PAPER = {
    "nyuv2_resnet34": ("nyuv2", "resnet34", 20000, 4000),
    "nyuv2_mobilenetv2": ("nyuv2", "mobilenetv2", 20000, 4000),
    "taskonomy_resnet34": ("taskonomy", "resnet34", 100000, 12000),
}


@pytest.mark.parametrize("profile", sorted(PAPER))
def test_paper_recipe_matches_the_spec(profile: str) -> None:
    dataset, backbone, iterations, lr_step = PAPER[profile]
    config = load_config(ROOT / "params.yaml", {"dataset": dataset, "backbone": backbone, "profile": profile})
    recipe = config.recipe
    assert (recipe.iterations, recipe.lr_step, recipe.batch_size) == (iterations, lr_step, 16)
    assert recipe.width_mult == 1.0
    spec = dataset_spec(dataset)
    with torch.device("meta"):
        model = build_model(backbone, spec.tasks, spec.num_classes, recipe.width_mult)
    assert sum(p.numel() for p in model.parameters()) > 20_000_000


@pytest.mark.slow
@pytest.mark.parametrize("profile", sorted(PAPER))
def test_paper_profile_two_iteration_dry_run_on_cpu(profile: str, tmp_path: Path) -> None:
    """Full-size model, the profile's crop / resize / optimizer, two steps on CPU, on synthetic
    scenes rendered at a size the profile can crop (no real data reaches CI)."""
    dataset, backbone, _, _ = PAPER[profile]
    synthetic = "synthetic_taskonomy" if dataset == "taskonomy" else "synthetic"
    # Loaded with its real dataset (the crop fits it), then pointed at large synthetic scenes.
    config = load_config(ROOT / "params.yaml", {"dataset": dataset, "backbone": backbone, "profile": profile})
    recipe = dataclasses.replace(
        config.recipe, batch_size=2, eval_batch_size=2, device="cpu", num_workers=0,
        pin_memory=False, amp_bf16=False, channels_last=False,
    )
    config = dataclasses.replace(
        config,
        dataset=synthetic,
        profiles={profile: recipe},
        synthetic=SyntheticData(height=336, width=336, num_train=4, num_val=2, num_test=2),
        data_root=str(tmp_path / "data"),
        method_params={},
    )
    result = train_run(config, RunSpec("dense", 0.0, 0), TrainOptions(iterations=2, progress=False, out_dir=tmp_path / "run"))
    assert result is not None and result["status"] == "ok"
