"""The embedded synthetic datasets (docs/protocol.md §7 "Synthetic"), written in the prepared format.

`synthetic` carries the NYU-v2 task set, `synthetic_taskonomy` the five Taskonomy tasks; both
render the same scenes for the same seed (datasets/synthetic_scenes.py). Sample `i` of split
`s` is drawn from `numpy.random.default_rng([seed, SPLIT_ID[s], i])`, so it does not depend on
the other split sizes, and the same seed gives identical bytes.

Targets differ from the real datasets in two documented ways: depth stays in metres for both
task sets (no Taskonomy log encoding, so `depth_zbuffer.abs_err` is in metres), and there are
no segmentation class weights (`seg_class_weights: null`).
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

from bench.config import SyntheticData
from datasets.prepared import SPLITS, PreparedWriter, prepared_dir, read_manifest
from datasets.registry import dataset_spec
from datasets.synthetic_scenes import CLASS_NAMES, NUM_CLASSES, render_scene

log = logging.getLogger(__name__)

GENERATOR = "datasets.synthetic_scenes/2"  # bump when the rendered data changes
SYNTHETIC_DATASETS = ("synthetic", "synthetic_taskonomy")
SPLIT_ID = {"train": 0, "val": 1, "test": 2}


def split_sizes(cfg: SyntheticData) -> dict[str, int]:
    return {"train": cfg.num_train, "val": cfg.num_val, "test": cfg.num_test}


def generate_sample(
    cfg: SyntheticData, split: str, index: int, taskonomy: bool = False
) -> dict[str, np.ndarray]:
    """Sample `index` of `split`, as the per-sample arrays `PreparedWriter.add` takes."""
    rng = np.random.default_rng([cfg.seed, SPLIT_ID[split], index])
    return render_scene(rng, cfg.height, cfg.width, taskonomy=taskonomy)


def source_config(cfg: SyntheticData) -> dict[str, Any]:
    return {
        "generator": GENERATOR,
        "seed": cfg.seed,
        "height": cfg.height,
        "width": cfg.width,
        **{f"num_{split}": n for split, n in split_sizes(cfg).items()},
    }


def _check(dataset: str, cfg: SyntheticData) -> None:
    if dataset not in SYNTHETIC_DATASETS:
        raise ValueError(f"{dataset!r} is not synthetic (synthetic: {', '.join(SYNTHETIC_DATASETS)})")
    if cfg.height < 8 or cfg.width < 8:
        raise ValueError(f"synthetic images must be at least 8×8, got {cfg.height}×{cfg.width}")
    if min(split_sizes(cfg).values()) < 0 or cfg.num_train == 0:
        raise ValueError("synthetic split sizes must be non-negative, with num_train > 0")


def existing_manifest(data_root: str | Path, dataset: str, cfg: SyntheticData) -> dict[str, Any] | None:
    """The manifest already on disk if it was written from exactly this configuration."""
    root = prepared_dir(data_root, dataset)
    try:
        manifest = read_manifest(root)
    except (FileNotFoundError, ValueError):
        return None
    if manifest.get("source") == source_config(cfg) and manifest.get("dataset") == dataset:
        return manifest
    return None


@contextlib.contextmanager
def _exclusive(root: Path) -> Iterator[None]:
    """Serialise preparation: parallel runs that all prepare on first use must not race on the
    writer's `.partial` directory."""
    root.parent.mkdir(parents=True, exist_ok=True)
    with open(root.with_name(f".{root.name}.lock"), "w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def prepare(
    data_root: str | Path, dataset: str = "synthetic", cfg: SyntheticData | None = None
) -> dict[str, Any]:
    """Render and write `dataset` under `prepared_dir(data_root, dataset)`; return its manifest.

    Idempotent: a prepared copy made from the same configuration is left alone.
    """
    cfg = cfg or SyntheticData()
    _check(dataset, cfg)
    found = existing_manifest(data_root, dataset, cfg)
    if found is None:
        with _exclusive(prepared_dir(data_root, dataset)):
            found = existing_manifest(data_root, dataset, cfg) or _write(data_root, dataset, cfg)
    else:
        log.info("%s is already prepared at %s", dataset, prepared_dir(data_root, dataset))
    return found


def _write(data_root: str | Path, dataset: str, cfg: SyntheticData) -> dict[str, Any]:
    spec = dataset_spec(dataset)
    if spec.num_classes != NUM_CLASSES:
        raise AssertionError(f"registry says {spec.num_classes} classes, generator {NUM_CLASSES}")
    taskonomy = dataset == "synthetic_taskonomy"
    sizes = split_sizes(cfg)
    writer = PreparedWriter(
        prepared_dir(data_root, dataset), dataset, spec.tasks, NUM_CLASSES,
        (cfg.height, cfg.width), sizes,
    )
    total = np.zeros(3)
    total_sq = np.zeros(3)
    for split in SPLITS:
        for index in range(sizes[split]):
            sample = generate_sample(cfg, split, index, taskonomy)
            writer.add(split, {key: sample[key] for key in ("rgb", *spec.tasks)})
            if split == "train":
                pixels = sample["rgb"].reshape(-1, 3).astype(np.float64)
                total += pixels.sum(axis=0)
                total_sq += (pixels * pixels).sum(axis=0)
    n = cfg.num_train * cfg.height * cfg.width
    mean = total / n
    std = np.sqrt(np.maximum(total_sq / n - mean * mean, 1e-6))
    manifest = writer.finish(
        scoring=spec.scoring,
        rgb_mean=[round(float(m), 6) for m in mean],
        rgb_std=[round(float(s), 6) for s in std],
        seg_class_weights=None,
        class_names=list(CLASS_NAMES),
        source=source_config(cfg),
    )
    log.info("wrote %s to %s", dataset, writer.root)
    return manifest
