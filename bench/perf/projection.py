"""Projected GPU time of the paper profiles — a projection from counted MACs, not a measurement.

    train FLOP = MACs(one image at the train crop) × 2 FLOP/MAC × 3 (forward + backward)
                 × batch × iterations
    eval FLOP  = MACs(one image at the eval size) × 2 × (val + test images)
    seconds    = (train FLOP + eval FLOP) / (utilisation × peak FLOP/s)

MACs are `bench.models.macs.layer_macs` (conv / linear layers only) of the profile's model,
counted on the meta device. Backward ≈ 2 × forward is the usual rule (input and weight
gradients). The peak is the H100 SXM's dense bf16 tensor-core rate (989 TFLOP/s; no 2:4
sparsity); the utilisation is an assumption stated with every number. The full paper grid is
every registered pruning method × 5 sparsities × 3 seeds + 3 dense runs per profile, each
costed as a dense run (saliency / calibration passes add a few batches, i.e. well under 1%).
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Any

from bench.config import Config

H100_SXM_BF16_DENSE_TFLOPS = 989.0
DEFAULT_UTILISATION = 0.35
PAPER_GRID = {"sparsities": 5, "seeds": 3}  # × every registered pruning method
GOAL_MINUTES = {"nyuv2": 45.0}  # one full paper run on one H100


def pruning_methods() -> int:
    """How many pruning methods the registry holds (the dense reference not counted)."""
    from bench.registry import discover

    return sum(1 for slug in discover() if slug != "dense")


@dataclass(frozen=True)
class PaperSetting:
    dataset: str
    backbone: str
    eval_size: tuple[int, int]
    eval_images: int
    eval_note: str


PAPER = {
    "nyuv2_resnet34": PaperSetting(
        "nyuv2", "resnet34", (480, 640), 80 + 654,
        "val 80 (10% of the 795 train images) + test 654, full 480×640 images"),
    "nyuv2_mobilenetv2": PaperSetting(
        "nyuv2", "mobilenetv2", (480, 640), 80 + 654,
        "val 80 (10% of the 795 train images) + test 654, full 480×640 images"),
    "taskonomy_resnet34": PaperSetting(
        "taskonomy", "resnet34", (256, 256), 110_000,
        "assumed ~110,000 val + test images at 256×256 (5 + 5 of the tiny split's buildings; "
        "the exact count depends on the download)"),
}


@functools.lru_cache(maxsize=32)
def forward_macs(backbone: str, dataset: str, width_mult: float, size: tuple[int, int]) -> int:
    """MACs of one forward pass of one image (conv and linear layers)."""
    import torch

    from bench.models import build_model
    from bench.models.macs import layer_macs
    from datasets.registry import dataset_spec

    spec = dataset_spec(dataset)
    with torch.device("meta"):
        model = build_model(backbone, spec.tasks, spec.num_classes, width_mult)
    return int(sum(layer_macs(model, size).values()))


def project(config: Config, profile: str, utilisation: float = DEFAULT_UTILISATION,
            peak_tflops: float = H100_SXM_BF16_DENSE_TFLOPS) -> dict[str, Any]:
    """The projection of one paper profile of `config` (iterations, batch, crop from there)."""
    if profile not in PAPER:
        raise KeyError(f"{profile!r} is not a paper profile (known: {', '.join(PAPER)})")
    if not 0 < utilisation <= 1:
        raise ValueError(f"utilisation must be in (0, 1], got {utilisation}")
    setting, recipe = PAPER[profile], config.profiles[profile]
    crop = recipe.crop or recipe.resize or setting.eval_size
    train_macs = forward_macs(setting.backbone, setting.dataset, recipe.width_mult, crop)
    eval_macs = forward_macs(setting.backbone, setting.dataset, recipe.width_mult,
                             setting.eval_size)
    train_flop = train_macs * 2 * 3 * recipe.batch_size * recipe.iterations
    eval_flop = eval_macs * 2 * setting.eval_images
    rate = utilisation * peak_tflops * 1e12
    train_s, eval_s = train_flop / rate, eval_flop / rate
    run_s = train_s + eval_s
    runs = pruning_methods() * PAPER_GRID["sparsities"] * PAPER_GRID["seeds"] + PAPER_GRID["seeds"]
    goal = GOAL_MINUTES.get(setting.dataset)
    return {
        "profile": profile, "dataset": setting.dataset, "backbone": setting.backbone,
        "width_mult": recipe.width_mult, "iterations": recipe.iterations,
        "batch_size": recipe.batch_size, "train_size": list(crop),
        "eval_size": list(setting.eval_size), "eval_images": setting.eval_images,
        "eval_note": setting.eval_note,
        "macs_per_image_train": train_macs, "macs_per_image_eval": eval_macs,
        "train_flop": train_flop, "eval_flop": eval_flop,
        "peak_tflops": peak_tflops, "utilisation": utilisation,
        "train_seconds": train_s, "eval_seconds": eval_s, "run_seconds": run_s,
        "iterations_per_second": recipe.iterations / train_s,
        "loader_samples_per_second_needed": recipe.batch_size * recipe.iterations / train_s,
        "grid_runs": runs, "grid_hours": runs * run_s / 3600,
        "goal_minutes": goal, "meets_goal": None if goal is None else run_s / 60 <= goal,
    }


def project_all(config: Config, utilisation: float = DEFAULT_UTILISATION,
                peak_tflops: float = H100_SXM_BF16_DENSE_TFLOPS) -> list[dict[str, Any]]:
    return [project(config, p, utilisation, peak_tflops) for p in PAPER if p in config.profiles]


def format_projection(rows: list[dict[str, Any]]) -> str:
    if not rows:
        return "no paper profile in this configuration"
    first = rows[0]
    lines = [
        f"PROJECTION (not a measurement): dense run on one H100 SXM at "
        f"{first['utilisation']:.0%} of {first['peak_tflops']:.0f} TFLOP/s (bf16, dense)",
        "  seconds = MACs/image × 2 × 3 × batch × iterations (+ MACs/image at eval size × 2 × "
        "eval images) / (utilisation × peak)",
        f"{'profile':<20}{'GMAC/img':>10}{'train TFLOP':>13}{'train min':>11}{'eval s':>8}"
        f"{'run min':>9}{'it/s':>7}{'img/s':>7}{'grid runs':>10}{'grid h':>8}  goal",
    ]
    for r in rows:
        goal = "" if r["goal_minutes"] is None else (
            f"≤{r['goal_minutes']:.0f} min: {'met' if r['meets_goal'] else 'NOT met'}")
        lines.append(
            f"{r['profile']:<20}{r['macs_per_image_train'] / 1e9:>10.1f}"
            f"{r['train_flop'] / 1e12:>13.0f}{r['train_seconds'] / 60:>11.1f}"
            f"{r['eval_seconds']:>8.1f}{r['run_seconds'] / 60:>9.1f}"
            f"{r['iterations_per_second']:>7.1f}{r['loader_samples_per_second_needed']:>7.0f}"
            f"{r['grid_runs']:>10}{r['grid_hours']:>8.1f}  {goal}"
        )
    return "\n".join(lines)
