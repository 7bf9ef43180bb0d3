"""Runs are addressed by what they are: dataset, backbone, method, target sparsity, seed."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.config import Config, check_target_sparsity
from bench.typed import to_dict


@dataclass(frozen=True)
class RunSpec:
    method: str
    target_sparsity: float
    seed: int

    def __post_init__(self) -> None:
        check_target_sparsity(self.target_sparsity)
        if self.method == "dense" and self.target_sparsity != 0:
            raise ValueError("the dense method has target sparsity 0")


def run_dir(config: Config, spec: RunSpec) -> Path:
    return (
        Path(config.runs_root)
        / config.dataset
        / config.backbone
        / spec.method
        / f"s{spec.target_sparsity}"
        / f"seed{spec.seed}"
    )


def dense_spec(seed: int) -> RunSpec:
    return RunSpec("dense", 0.0, seed)


def resolved_config(config: Config, spec: RunSpec) -> dict[str, Any]:
    """Everything that decides a run's outcome; stored in result.json and hashed for staleness."""
    return {
        "profile_name": config.profile,
        "profile": to_dict(config.recipe),
        "method": spec.method,
        "method_params": config.params_for(spec.method),
        "target_sparsity": spec.target_sparsity,
        "seed": spec.seed,
        "synthetic": to_dict(config.synthetic) if config.dataset.startswith("synthetic") else None,
    }


def config_hash(resolved: dict[str, Any]) -> str:
    blob = json.dumps(resolved, sort_keys=True, separators=(",", ":")).encode()
    return hashlib.sha256(blob).hexdigest()[:16]


def grid(config: Config) -> list[RunSpec]:
    """Every run the pipeline makes: dense per seed, then method × sparsity × seed."""
    specs = [dense_spec(seed) for seed in config.seeds]
    for method in config.methods:
        if method == "dense":
            continue
        for sparsity in config.sparsities:
            for seed in config.seeds:
                specs.append(RunSpec(method, sparsity, seed))
    return specs
