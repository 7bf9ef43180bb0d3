"""Runs: where they live (a readable path) and what they are (an identity hash).

The path says dataset, backbone, method, target sparsity and seed; the identity, recorded in
result.json, is the hash of everything that decides the result (docs/protocol.md §9). A
single-task reference (`task` set: a dense network with only that task's head, the reference of
Δm, docs/protocol.md §2) lives under `single_task/<task>/seed<k>`.
"""

from __future__ import annotations

import functools
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


SINGLE_TASK_DIR = "single_task"


def run_dir(config: Config, spec: RunSpec) -> Path:
    if spec.task is not None:
        return (Path(config.runs_root) / config.dataset / config.backbone / SINGLE_TASK_DIR
                / spec.task / f"seed{spec.seed}")
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


def single_task_spec(task: str, seed: int) -> RunSpec:
    return RunSpec("dense", 0.0, seed, task)


def dataset_tasks(config: Config) -> tuple[str, ...]:
    from datasets.registry import dataset_spec

    return dataset_spec(config.dataset).tasks


# Profile fields that change how a run executes, never what it computes (eval metrics are pooled
# over pixels, so the evaluation batch size is one of them): left out of a run's identity.
EXECUTION_ONLY = (
    "device", "num_workers", "pin_memory", "log_every", "checkpoint_every", "threads",
    "cudnn_benchmark", "compile", "channels_last", "eval_batch_size",
)
IDENTITY_VERSION = 1


def data_fingerprint(config: Config) -> str | None:
    """sha256 of the prepared dataset's manifest (it holds every file's hash); None if absent."""
    from datasets.prepared import prepared_dir

    manifest = prepared_dir(config.data_root, config.dataset) / "manifest.json"
    try:
        stat = manifest.stat()
    except OSError:
        return None
    return _manifest_digest(str(manifest), stat.st_mtime_ns, stat.st_size)


@functools.lru_cache(maxsize=8)
def _manifest_digest(path: str, mtime_ns: int, size: int) -> str | None:
    # Keyed by the file's mtime and size: a grid plan asks for it once per run (and once more per
    # from-dense run, for its parent), but reads and hashes the file once.
    try:
        content = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return hashlib.sha256(json.dumps(content, sort_keys=True).encode()).hexdigest()


def resolved_params(slug: str, raw: dict[str, Any]) -> dict[str, Any]:
    """A method's parameters with every default filled in, as the run uses them."""
    from bench.registry import get_method_class
    from bench.typed import build

    cls = get_method_class(slug)
    return to_dict(build(cls.Params, raw, f"method_params.{slug}"))  # type: ignore[no-any-return]


def method_start(slug: str) -> str:
    from bench.registry import get_method_class

    return str(getattr(get_method_class(slug), "start", "init"))


def resolved_config(
    config: Config,
    spec: RunSpec,
    iterations: int | None = None,
    start: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Everything that decides a run's outcome, resolved: its identity inputs (docs/protocol.md §9).

    `iterations` is the step count actually trained (an override); `start` the start point as
    built ({"point": "init"} or {"point": "dense", "parent_identity": ...}); by default the one
    params.yaml asks for, with the parent's expected identity.
    """
    profile = {k: v for k, v in to_dict(config.recipe).items() if k not in EXECUTION_ONLY}
    if iterations is not None:
        profile["iterations"] = iterations
    if start is None:
        start = expected_start(config, spec)
    resolved = {
        "identity_version": IDENTITY_VERSION,
        "dataset": config.dataset,
        "data": data_fingerprint(config),
        "synthetic": to_dict(config.synthetic) if config.dataset.startswith("synthetic") else None,
        "backbone": config.backbone,
        "profile": profile,
        "method": spec.method,
        "method_params": resolved_params(spec.method, config.params_for(spec.method)),
        "target_sparsity": spec.target_sparsity,
        "seed": spec.seed,
        "start": {"point": start.get("point", "init"),
                  "parent_identity": start.get("parent_identity")},
    }
    if spec.task is not None:  # only then: multi-task identities stay what they were
        resolved["task"] = spec.task
    return resolved


def expected_start(config: Config, spec: RunSpec) -> dict[str, Any]:
    if spec.method == "dense" or method_start(spec.method) != "dense":
        return {"point": "init"}
    return {"point": "dense", "parent_identity": run_identity(resolved_config(config, dense_spec(spec.seed)))}


def setting_inputs(resolved: dict[str, Any]) -> dict[str, Any]:
    """What every run of one leaderboard table shares: data, backbone, profile content."""
    keys = ("identity_version", "dataset", "data", "synthetic", "backbone", "profile")
    return {k: resolved.get(k) for k in keys}


def _digest(blob: dict[str, Any]) -> str:
    text = json.dumps(blob, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def run_identity(resolved: dict[str, Any]) -> str:
    return _digest(resolved)


def setting_identity(resolved: dict[str, Any]) -> str:
    return _digest(setting_inputs(resolved))


# The name older code and checkpoints use for a run's identity.
config_hash = run_identity


def single_task_grid(config: Config) -> list[RunSpec]:
    """The single-task references params.yaml asks for: task × seed (none when turned off)."""
    if not config.single_task_references:
        return []
    return [single_task_spec(task, seed) for task in dataset_tasks(config) for seed in config.seeds]


def method_targets(config: Config, method: str) -> tuple[float, ...]:
    """The target sparsities `method` runs at: `sparsities`, and for a structured method (one
    that removes whole channels) then `structured_sparsities`, each target once."""
    from bench.registry import get_method_class

    targets = config.sparsities
    if config.structured_sparsities and get_method_class(method).changes_architecture:
        targets += config.structured_sparsities
    return tuple(dict.fromkeys(targets))


def grid(config: Config) -> list[RunSpec]:
    """Every run the pipeline makes: dense per seed, the single-task references (task × seed),
    then method × target sparsity × seed."""
    specs = [dense_spec(seed) for seed in config.seeds]
    specs += single_task_grid(config)
    for method in config.methods:
        if method == "dense":
            continue
        for sparsity in method_targets(config, method):
            for seed in config.seeds:
                specs.append(RunSpec(method, sparsity, seed))
    return specs


def expected_identities(config: Config) -> dict[str, tuple[str, dict[str, Any]]]:
    """For every run params.yaml asks for: its path under the runs root → (identity, inputs)."""
    out = {}
    for spec in grid(config):
        inputs = resolved_config(config, spec)
        path = run_dir(config, spec).relative_to(config.runs_root).as_posix()
        out[path] = (run_identity(inputs), inputs)
    return out
