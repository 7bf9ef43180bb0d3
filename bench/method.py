"""The plugin contract: a pruning method is a set of optional hooks the training loop calls.

The benchmark owns the loop (bench/train). A method never iterates over data to train, never
writes files and never sees the test split; it acts through the `Context` it is handed. The loop
calls, in order:

    setup(ctx)                      always, fresh or resumed, before any state is loaded:
                                    structural changes (reparametrisations, extra parameters
                                    added to ctx.optimizer)
    prepare(ctx)                    fresh runs only, before step 0: masks at init, saliency
    for each step:
        before_step(ctx)            ctx.train_batch is the batch this step will train on
        loss_weights(ctx, losses)   → {task: weight} or None (all ones)
        backward
        after_backward(ctx)         gradients exist; e.g. zero the gradients of pruned weights
        optimizer.step(), lr schedule step
        after_step(ctx)             ctx.step is the number of finished steps; prune, regrow, ...
    finalize(ctx)                   leave the model holding its final effective weights

`state_dict` / `load_state_dict` carry whatever the method needs to resume from a checkpoint.
The benchmark measures sparsity from the final weights; a method cannot report its own.

Where a method starts is class data, known before any run (it shapes the pipeline's graph):
`start = "init"` trains from the model's initialisation; `start = "dense"` starts from the
dense run of the same seed, whose weights at the budget's start point (its branch point under the
equal budget, its final weights under the papers') the runner loads into the model before
`setup` (bench/train/start.py). A from-dense method with `needs_rewind = True` also receives the
dense run's early checkpoint as `ctx.rewind_state`. A method never opens a file itself.

A structured method (`changes_architecture = True`) removes whole channels: it replaces layers'
parameters with smaller ones (then calls `ctx.rebuild_optimizer()`), and the runner records the
pruned shapes in result.json and measures its sparsity as the conv weights removed from the
dense architecture (bench/structured.py). Every other method must leave the architecture as it
found it.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any, ClassVar

import torch
from torch import nn

Batch = dict[str, torch.Tensor]
# Where a method's run starts: from initialisation, or from the trained dense run of its seed.
START_POINTS = ("init", "dense")


@dataclass(frozen=True)
class NoParams:
    """Parameters of a method that takes none."""


@dataclass
class PrunableWeight:
    """One prunable weight tensor: a conv or linear `weight` of the model."""

    component: str
    name: str
    module: nn.Module

    @property
    def weight(self) -> torch.Tensor:
        """The effective weight the forward pass uses (after any reparametrisation)."""
        return self.module.weight  # type: ignore[return-value]

    @property
    def param(self) -> nn.Parameter:
        """The trainable tensor behind `weight` (the original under a parametrisation)."""
        parametrizations = getattr(self.module, "parametrizations", None)
        if parametrizations is not None and "weight" in parametrizations:
            return parametrizations.weight.original  # type: ignore[no-any-return]
        return self.module.weight  # type: ignore[return-value]


@dataclass
class Cost:
    """Work a method does beyond the plain training steps (docs/protocol.md §9: cost honesty)."""

    extra_forward_backward: int = 0  # saliency / calibration passes, counted in batches
    rounds: int = 0  # pruning rounds (IMP, LTH) or mask updates (dynamic sparse training)
    notes: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


@dataclass
class Context:
    """What a method may see and touch. Built by the training loop."""

    model: nn.Module
    prunable: dict[str, list[PrunableWeight]]
    optimizer: torch.optim.Optimizer
    tasks: tuple[str, ...]
    target_sparsity: float
    total_steps: int
    seed: int
    device: torch.device
    step: int = 0
    cost: Cost = field(default_factory=Cost)
    # The dense parent's full state (parameters and buffers, on the CPU) at its rewind step, for
    # a method with `needs_rewind` (lottery tickets with late rewinding); None otherwise.
    rewind_state: dict[str, torch.Tensor] | None = None
    # The training batch of the current step, set before `before_step` (None outside a step).
    # Read it, never change it; work done on it beyond the step (a method's own forward and
    # backward passes) is counted with `count_extra_batches`.
    train_batch: Batch | None = None
    _calibration: Callable[[], Iterator[Batch]] | None = None
    _task_losses: Callable[[Batch], dict[str, torch.Tensor]] | None = None
    _log: Callable[[str, float], None] | None = None
    _reset_optimizer_state: Callable[[], None] | None = None

    @property
    def components(self) -> tuple[str, ...]:
        return tuple(self.prunable)

    def all_prunable(self) -> list[PrunableWeight]:
        return [w for ws in self.prunable.values() for w in ws]

    def calibration_batches(self, n: int) -> Iterator[Batch]:
        """`n` batches from the *train* split, on `ctx.device`; counted in `cost`."""
        if self._calibration is None:
            raise RuntimeError("this context has no calibration data")
        it = self._calibration()
        for _ in range(n):
            self.cost.extra_forward_backward += 1
            yield next(it)

    def count_extra_batches(self, n: int) -> None:
        """Count `n` batches of extra forward/backward work on data the method already holds
        (e.g. its own passes over `train_batch`)."""
        self.cost.extra_forward_backward += n

    def task_losses(self, batch: Batch) -> dict[str, torch.Tensor]:
        """Forward `batch` and return each task's loss (graph attached, unweighted)."""
        if self._task_losses is None:
            raise RuntimeError("this context cannot compute losses")
        return self._task_losses(batch)

    def log(self, key: str, value: float) -> None:
        """Record a scalar for this step (goes to the run's dvclive log)."""
        if self._log is not None:
            self._log(key, float(value))

    def reset_optimizer_state(self) -> None:
        """Forget Adam's moments (e.g. after a lottery-ticket rewind)."""
        if self._reset_optimizer_state is not None:
            self._reset_optimizer_state()
        else:
            self.optimizer.state.clear()

    def rebuild_optimizer(self) -> None:
        """Point the optimizer at the model's current parameters and forget its state: for a
        method that replaced parameters by new tensors (structured pruning swaps a conv's weight
        for a smaller one). The first parameter group takes every model parameter not in another
        group, so groups a method added in `setup` stay as they are."""
        elsewhere = {id(p) for g in self.optimizer.param_groups[1:] for p in g["params"]}
        self.optimizer.param_groups[0]["params"] = [
            p for p in self.model.parameters() if id(p) not in elsewhere
        ]
        self.optimizer.state.clear()

    def generator(self, salt: int = 0) -> torch.Generator:
        """A CPU generator seeded from the run seed, for reproducible method randomness."""
        return torch.Generator().manual_seed(self.seed * 1_000_003 + salt)


class PruningMethod:
    """Base class of every method. Subclasses set `slug`, `description`, maybe `Params`."""

    slug: ClassVar[str] = ""
    description: ClassVar[str] = ""
    paper: ClassVar[str] = ""
    Params: ClassVar[type] = NoParams
    # "init" or "dense" (START_POINTS); checked by the registry.
    start: ClassVar[str] = "init"
    # True: the runner hands the dense parent's rewind checkpoint over as ctx.rewind_state.
    needs_rewind: ClassVar[bool] = False
    # True: the method removes whole channels, so layer shapes change (a structured method);
    # the runner then records the pruned architecture instead of refusing the run.
    changes_architecture: ClassVar[bool] = False

    def __init__(self, params: Any = None) -> None:
        self.params = params if params is not None else self.Params()

    def setup(self, ctx: Context) -> None:
        """Structural changes, run on fresh and resumed runs alike."""

    def prepare(self, ctx: Context) -> None:
        """Fresh runs only, before step 0."""

    def before_step(self, ctx: Context) -> None:
        """Before the forward pass of step `ctx.step`."""

    def loss_weights(self, ctx: Context, losses: dict[str, float]) -> dict[str, float] | None:
        """Task weights for this step's loss; None means 1 for every task."""
        return None

    def after_backward(self, ctx: Context) -> None:
        """Gradients are populated; the optimizer has not stepped."""

    def after_step(self, ctx: Context) -> None:
        """The optimizer stepped; `ctx.step` counts finished steps."""

    def finalize(self, ctx: Context) -> None:
        """After the last step: leave plain effective weights in the model."""

    def state_dict(self) -> dict[str, Any]:
        return {}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore what `state_dict` returned."""
