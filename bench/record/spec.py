"""A run's spec and where it lives; the grid of runs params.yaml asks for.

The path says dataset, backbone, method, target sparsity and seed; what a run *is* — the hash of
everything that decides its result — is its identity (bench/record/identity.py). A single-task
reference (`task` set: a dense network with only that task's head, the reference of Δm,
docs/protocol.md §2) lives under `single_task/<task>/seed<k>`.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from bench.config import Config, check_target_sparsity

SINGLE_TASK_DIR = "single_task"


@dataclass(frozen=True)
class RunSpec:
    method: str
    target_sparsity: float
    seed: int
    # None: the multi-task network; a task name: that task's dense single-task reference.
    task: str | None = None

    def __post_init__(self) -> None:
        check_target_sparsity(self.target_sparsity)
        if self.method == "dense" and self.target_sparsity != 0:
            raise ValueError("the dense method has target sparsity 0")
        if self.task is not None and self.method != "dense":
            raise ValueError(f"a single-task reference is a dense run, not {self.method!r}")

    @property
    def label(self) -> str:
        if self.task is not None:
            return f"single_task {self.task} seed{self.seed}"
        return f"{self.method} s{self.target_sparsity} seed{self.seed}"


def run_dir(config: Config, spec: RunSpec) -> Path:
    base = Path(config.runs_root) / config.dataset / config.backbone
    if spec.task is not None:
        return base / SINGLE_TASK_DIR / spec.task / f"seed{spec.seed}"
    return base / spec.method / f"s{spec.target_sparsity}" / f"seed{spec.seed}"


def dense_spec(seed: int) -> RunSpec:
    return RunSpec("dense", 0.0, seed)


def single_task_spec(task: str, seed: int) -> RunSpec:
    return RunSpec("dense", 0.0, seed, task)


def dataset_tasks(config: Config) -> tuple[str, ...]:
    from datasets.registry import dataset_spec

    return dataset_spec(config.dataset).tasks


def single_task_grid(config: Config) -> list[RunSpec]:
    """The single-task references params.yaml asks for: task × seed (none when turned off)."""
    if not config.single_task_references:
        return []
    return [single_task_spec(task, seed) for task in dataset_tasks(config) for seed in config.seeds]


def method_targets(config: Config, method: str) -> tuple[float, ...]:
    """The target sparsities `method` runs at. Structured methods (those that remove whole
    channels, read from their source) have their own track, `structured_sparsities`, ranked in
    tables of their own; the others run at `sparsities`. With no structured targets set, the
    structured methods run at `sparsities` too."""
    from bench.record.meta import method_meta

    targets = config.sparsities
    if config.structured_sparsities and method_meta(method).changes_architecture:
        targets = config.structured_sparsities
    return tuple(dict.fromkeys(targets))


def grid(config: Config) -> list[RunSpec]:
    """Every run the pipeline makes: dense per seed (`dense_seeds` when set), the single-task
    references (task × seed), then method × target sparsity × seed."""
    specs = [dense_spec(seed) for seed in config.reference_seeds]
    specs += single_task_grid(config)
    for method in config.methods:
        if method == "dense":
            continue
        for sparsity in method_targets(config, method):
            for seed in config.seeds:
                specs.append(RunSpec(method, sparsity, seed))
    return specs
