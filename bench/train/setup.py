"""Seeding, device choice and the pieces a run is built from."""

from __future__ import annotations

import logging
import random
from pathlib import Path
from typing import Any

import numpy as np
import torch

from bench.config import Config, Profile
from bench.errors import ConfigError, DataUnavailableError

log = logging.getLogger(__name__)


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


def pick_device(choice: str) -> torch.device:
    if choice == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if choice == "cuda" and not torch.cuda.is_available():
        raise ConfigError("--device cuda: CUDA is not available on this machine")
    return torch.device(choice)


def configure_backends(recipe: Profile, device: torch.device) -> None:
    if recipe.threads is not None:
        torch.set_num_threads(recipe.threads)
    if device.type == "cuda":
        torch.backends.cudnn.benchmark = recipe.cudnn_benchmark
        # TF32 would change numerics between GPU generations; the recipe keeps full fp32
        # unless bf16 autocast is asked for explicitly.
        torch.backends.cuda.matmul.allow_tf32 = False
        torch.backends.cudnn.allow_tf32 = False


def effective_switches(recipe: Profile, device: torch.device) -> dict[str, Any]:
    """The speed switches as they took effect on this device (recorded in provenance): the
    profile asks, but e.g. cudnn.benchmark means nothing on a CPU and pinning needs CUDA."""
    cuda = device.type == "cuda"
    return {
        "amp_bf16": recipe.amp_bf16,
        "channels_last": recipe.channels_last,
        "compile": recipe.compile,
        "cudnn_benchmark": bool(cuda and torch.backends.cudnn.benchmark),
        "tf32": bool(cuda and torch.backends.cuda.matmul.allow_tf32),
        "num_workers": recipe.num_workers,
        "pin_memory": recipe.pin_memory and torch.cuda.is_available(),  # as TrainStream does
        "threads": torch.get_num_threads(),
    }


def prepared_root(config: Config) -> Path:
    """The prepared dataset; the embedded synthetic ones are generated on first use. Exit 3
    (DataUnavailableError) when a real one is not prepared; exit 2 when the profile's crop does
    not fit its images."""
    from datasets.prepared import prepared_dir, read_manifest
    from datasets.registry import dataset_spec

    root = prepared_dir(config.data_root, config.dataset)
    if not (root / "manifest.json").exists():
        if not dataset_spec(config.dataset).synthetic:
            raise DataUnavailableError(
                f"data not available: dataset {config.dataset!r} is not prepared under {root}; "
                f"run `bench fetch {config.dataset}` and `bench prepare {config.dataset}` first "
                "(docs/datasets.md)"
            )
        from datasets.synthetic import prepare

        log.info("generating the embedded %s dataset under %s", config.dataset, root)
        prepare(config.data_root, config.dataset, config.synthetic)
    height, width = read_manifest(root)["image_size"]
    try:
        config.recipe.check_fits((int(height), int(width)))
    except ValueError as exc:
        raise ConfigError(f"profiles.{config.profile}: {exc} ({root})") from None
    return root


def autocast(recipe: Profile, device: torch.device) -> torch.autocast:
    return torch.autocast(device_type=device.type, dtype=torch.bfloat16, enabled=recipe.amp_bf16)
