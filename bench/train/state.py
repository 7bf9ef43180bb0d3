"""Everything a run holds while it trains, built the same way for fresh and resumed runs."""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import torch

from bench.config import Config, Profile
from bench.data import PreparedDataset, TrainStream
from bench.errors import ConfigError
from bench.losses import task_losses
from bench.method import Batch, Context, PruningMethod
from bench.models import MultiTaskModel, build_model
from bench.provenance import provenance
from bench.record.identity import resolved_config, run_identity, setting_identity
from bench.record.spec import RunSpec
from bench.registry import get_method_class
from bench.sparsity import SparsityReport, measure
from bench.train.setup import (
    autocast,
    configure_backends,
    effective_switches,
    pick_device,
    prepared_root,
    seed_everything,
)
from bench.train.start import (
    StartPoint,
    dense_save_points,
    load_start,
    resolve_start,
    steps_to_train,
)
from bench.typed import build, to_dict

# Calibration batches come from their own stream, so a method's saliency passes never shift the
# batches the training steps see.
_CALIBRATION_SALT = 104_729


@dataclass
class RunState:
    config: Config
    spec: RunSpec
    recipe: Profile
    device: torch.device
    datasets: dict[str, PreparedDataset]
    model: MultiTaskModel
    forward: Callable[[torch.Tensor], dict[str, torch.Tensor]]
    method: PruningMethod
    optimizer: torch.optim.Optimizer
    scheduler: Any
    ctx: Context
    total_steps: int
    architecture: dict[str, tuple[int, ...]]
    # The start point as result.json records it (bench/train/start.py, StartPoint.to_dict()),
    # the steps its dense parent trained before it (counted in cost.budget_units), and for a
    # dense run the steps at which it saves rewind.pt and branch.pt.
    start: dict[str, Any] = field(default_factory=lambda: {"point": "init"})
    parent_steps: int = 0
    save_points: dict[int, tuple[str, ...]] = field(default_factory=dict)
    # `--iterations`: the budget asked for instead of the profile's (dry runs, tests).
    iterations_override: int | None = None
    # The tasks this network has heads for: the dataset's, or a single-task reference's one.
    tasks: tuple[str, ...] = ()
    _resolved: dict[str, Any] | None = field(default=None, init=False, repr=False)

    def autocast(self) -> torch.autocast:
        return autocast(self.recipe, self.device)

    def train_stream(self, start: int, seed: int | None = None) -> Iterator[Batch]:
        r = self.recipe
        return iter(
            TrainStream(
                self.datasets["train"],
                r.batch_size,
                self.spec.seed if seed is None else seed,
                start_step=start,
                crop=r.crop,
                resize=r.resize,
                hflip=r.hflip,
                num_workers=r.num_workers,
                pin_memory=r.pin_memory,
                device=self.device,
            )
        )

    def task_losses(self, batch: Batch) -> dict[str, torch.Tensor]:
        rgb = batch["rgb"]
        if self.recipe.channels_last:
            rgb = rgb.contiguous(memory_format=torch.channels_last)
        with self.autocast():
            outputs = self.forward(rgb)
        return task_losses(
            {t: o.float() for t, o in outputs.items()}, batch, self.datasets["train"].class_weights
        )

    def calibration(self) -> Iterator[Batch]:
        seed = self.spec.seed * 7_919 + _CALIBRATION_SALT + self.ctx.step
        return self.train_stream(0, seed=seed)

    def measure_sparsity(self) -> SparsityReport:
        if self.method.changes_architecture:  # channels removed, measured against the dense shapes
            from bench.structured import measure_structured

            return measure_structured(self.ctx.prunable, self.architecture)
        return measure(self.ctx.prunable)

    def resolved(self) -> dict[str, Any]:
        """The run's identity inputs as it actually runs: its budget, the start point built.
        Computed once per run (hashing the code files is most of its cost) and copied out,
        so the files are read as they were when the run began."""
        if self._resolved is None:
            self._resolved = resolved_config(self.config, self.spec, self.iterations_override,
                                             self.start)
        return copy.deepcopy(self._resolved)

    @property
    def identity(self) -> str:
        """The run's identity (checkpoints and finished results are matched against it)."""
        return run_identity(self.resolved())

    def result_header(self, spec: RunSpec, started: str) -> dict[str, Any]:
        resolved = self.resolved()
        identity = run_identity(resolved)
        task = {"task": spec.task} if spec.task is not None else {}
        return {
            "method": spec.method,
            **task,
            "dataset": self.config.dataset,
            "backbone": self.config.backbone,
            "profile": self.config.profile,
            "target_sparsity": spec.target_sparsity,
            "seed": spec.seed,
            "identity": identity,
            "setting_identity": setting_identity(resolved),
            "method_params": to_dict(self.method.params),
            "start": dict(self.start),
            "provenance": {
                **provenance(self.device),
                "switches": effective_switches(self.recipe, self.device),
                "started_at": started,
                "config": resolved,
            },
        }


def schedule_offset(start: StartPoint) -> int:
    """Where in the profile's learning-rate schedule a run starts. Under the equal budget a run
    branching off the dense run follows that run's schedule from the step of the weights it
    trains: the branch point (Renda et al. 2020's learning-rate rewinding for the remaining
    budget), or for a method that rewinds the weights to the dense run's early checkpoint, that
    checkpoint's step (Frankle et al. 2020 rewind the schedule with the weights). Every other run
    starts the schedule at step 0."""
    if start.at != "branch":
        return 0
    return start.rewind_step if start.rewind_step is not None else start.parent_steps


def step_schedule(optimizer: torch.optim.Optimizer, recipe: Profile,
                  offset: int) -> torch.optim.lr_scheduler.LambdaLR:
    """The profile's step decay, lr · gamma^⌊(offset + step) / lr_step⌋, for every group."""
    step, gamma = recipe.lr_step, recipe.lr_gamma
    return torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda s: gamma ** ((offset + s) // step))


def architecture_of(model: torch.nn.Module) -> dict[str, tuple[int, ...]]:
    return {k: tuple(v.shape) for k, v in model.state_dict().items()}


def run_tasks(spec: RunSpec, dataset_tasks: tuple[str, ...]) -> tuple[str, ...]:
    """The heads the run's network has: every task, or the single-task reference's one."""
    if spec.task is None:
        return tuple(dataset_tasks)
    if spec.task not in dataset_tasks:
        raise ConfigError(f"--single-task {spec.task}: not a task of this dataset "
                          f"(tasks: {', '.join(dataset_tasks)})")
    return (spec.task,)


def build_state(
    config: Config,
    spec: RunSpec,
    device_choice: str | None,
    iterations: int | None,
    watch_method: Callable[[PruningMethod], None] | None = None,
) -> RunState:
    recipe = config.recipe
    cls = get_method_class(spec.method)
    start = resolve_start(config, spec, cls)  # a missing dense parent stops the run here
    device = pick_device(device_choice or recipe.device)
    configure_backends(recipe, device)
    seed_everything(spec.seed)
    root = prepared_root(config)
    datasets = {split: PreparedDataset(root, split) for split in ("train", "val", "test")}
    train = datasets["train"]
    tasks = run_tasks(spec, train.tasks)
    model = build_model(config.backbone, tasks, train.num_classes, recipe.width_mult,
                        recipe.head_dropout)
    model.to(device)
    if recipe.channels_last:
        model.to(memory_format=torch.channels_last)  # type: ignore[call-overload]
    architecture = architecture_of(model)
    params: Any = build(cls.Params, config.params_for(spec.method), f"method_params.{spec.method}")
    method = cls(params)
    if watch_method is not None:
        watch_method(method)
    # foreach: one kernel per kind of state instead of one per parameter (~7% of a synthetic_cpu
    # step, same results: docs/performance.md, "Budget"). Not the fused kernel: a resumed
    # AdapMTL run then differs from an uninterrupted one (bench check-method adapmtl).
    optimizer = torch.optim.Adam(
        model.parameters(), lr=recipe.lr, betas=recipe.betas, weight_decay=recipe.weight_decay,
        foreach=True,
    )
    total = steps_to_train(start, iterations if iterations is not None else recipe.iterations)
    ctx = Context(
        model=model,
        prunable=model.prunable_weights(),
        optimizer=optimizer,
        tasks=tasks,
        target_sparsity=spec.target_sparsity,
        total_steps=total,
        seed=spec.seed,
        device=device,
    )
    state = RunState(
        config, spec, recipe, device, datasets, model, model, method, optimizer, None, ctx,
        total, architecture, start.to_dict(), start.parent_steps, tasks=tasks,
        iterations_override=iterations,
    )
    state.save_points = dense_save_points(state)
    ctx._calibration = state.calibration
    ctx._task_losses = state.task_losses
    load_start(state, start)  # the dense parent's weights (and rewind state) before setup
    method.setup(ctx)
    # The schedule is built after setup so parameter groups a method adds follow it too.
    state.scheduler = step_schedule(optimizer, recipe, schedule_offset(start))
    if recipe.compile:
        state.forward = torch.compile(model)  # type: ignore[assignment]
    return state
