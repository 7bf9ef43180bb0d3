"""Where a run starts (docs/protocol.md §9): the runner builds the start point, the method
receives it.

A method of `start = "init"` trains from the model's initialisation, the full budget. One of
`start = "dense"` starts from the dense run of the same dataset, backbone, profile and seed —
its folder is `run_dir(config, dense_spec(seed))` — never retraining it. Where depends on the
budget (params.yaml `budget`):
- `equal` (the default): from the dense run's branch point (`branch.pt`, saved after
  `branch_fraction` of its steps), training the rest of the budget, so the row costs one dense
  budget like every other;
- `paper`: from its final weights (`model.pt`), training a full budget more (2.0 budgets).
The weights are loaded into the model before `method.setup`; for a method with `needs_rewind`
the dense run's early checkpoint (`rewind.pt`) is handed over as `ctx.rewind_state`. A parent
that is missing, unfinished, trained under another profile or without the checkpoint needed
stops the run before any training with a `MissingParentError` (one line naming the dense run to
train; exit code 1).

The dense run writes `rewind.pt` and `branch.pt` once each, when its step count reaches their
step (a fraction of its steps, ≥ 1): the full model state (parameters and buffers). A resumed
dense run past that step keeps the file it wrote; a fresh run overwrites it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch

from bench.config import Config
from bench.errors import RunFailedError
from bench.io import torch_save_atomic
from bench.record.identity import resolved_config
from bench.record.result import MODEL_FILE, RunResult, read_result
from bench.record.spec import RunSpec, dense_spec, run_dir

if TYPE_CHECKING:
    from bench.method import PruningMethod
    from bench.train.state import RunState

REWIND_FILE = "rewind.pt"
BRANCH_FILE = "branch.pt"


class MissingParentError(RunFailedError):
    """A from-dense run's dense parent is missing or unusable; the message names it. Exit 1."""


@dataclass(frozen=True)
class StartPoint:
    """The start of a run, as result.json records it (`start`), plus the steps its dense parent
    trained before it (counted in the budget)."""

    point: str  # "init" | "dense"
    at: str | None = None  # "branch" (equal budget) | "final" (the papers' budget)
    parent: str | None = None  # the dense run's folder, relative to runs_root
    parent_identity: str | None = None
    rewind_step: int | None = None  # the rewind checkpoint's step, when the method uses it
    parent_steps: int = 0  # optimizer steps of the dense parent before this run's start

    def to_dict(self) -> dict[str, Any]:
        if self.point == "init":
            return {"point": "init"}
        return {
            "point": "dense",
            "at": self.at,
            "parent": self.parent,
            "parent_identity": self.parent_identity,
            "parent_steps": self.parent_steps,
            "rewind_step": self.rewind_step,
        }


def fraction_step(total_steps: int, fraction: float) -> int:
    """round(fraction · T) (half up), at least 1 and at most T: where a saved point falls."""
    return min(max(total_steps, 1), max(1, math.floor(fraction * total_steps + 0.5)))




def dense_parent_dir(config: Config, seed: int) -> Path:
    return run_dir(config, dense_spec(seed))


def _relative(config: Config, path: Path) -> str:
    try:
        return path.relative_to(Path(config.runs_root)).as_posix()
    except ValueError:
        return path.as_posix()


def resolve_start(config: Config, spec: RunSpec, cls: type[PruningMethod]) -> StartPoint:
    """Check the parent a method's start needs (nothing for "init"); raise a one-line error."""
    if cls.start != "dense":
        return StartPoint("init")
    parent = dense_parent_dir(config, spec.seed)
    hint = f"train it first: bench train --method dense --seed {spec.seed}"
    result = read_result(parent)
    if result is None or not result.ok or not (parent / MODEL_FILE).exists():
        raise MissingParentError(
            f"{spec.method} starts from the trained dense run {parent}, which is not finished; {hint}"
        )
    if not _same_recipe(result, config, spec.seed):
        raise MissingParentError(
            f"{spec.method} starts from the dense run {parent}, trained under another "
            f"'{config.profile}' profile; retrain it: bench train --method dense --seed {spec.seed} --force"
        )
    rewind = _saved_step(parent, REWIND_FILE, result, spec, "early checkpoint") if cls.needs_rewind else None
    if config.budget.mode == "equal":
        at, steps = "branch", _saved_step(parent, BRANCH_FILE, result, spec, "branch point")
    else:
        at, steps = "final", result.iterations
    return StartPoint("dense", at, _relative(config, parent), result.identity, rewind, steps)


def _same_recipe(result: RunResult, config: Config, seed: int) -> bool:
    """The parent was trained under this profile (its step count may differ: that is counted in
    the budget, not refused)."""
    expected = dict(resolved_config(config, dense_spec(seed))["profile"])
    found = dict(result.inputs.get("profile") or {})
    expected.pop("iterations", None)
    found.pop("iterations", None)
    return found == expected


def _saved(parent: Path, name: str) -> dict[str, Any] | None:
    path = parent / name
    if not path.exists():
        return None
    try:
        return torch.load(path, map_location="cpu", weights_only=True)  # type: ignore[no-any-return]
    except Exception:  # a truncated file: the parent must be retrained, as when it is missing
        return None


def _saved_step(parent: Path, name: str, result: RunResult, spec: RunSpec, what: str) -> int:
    saved = _saved(parent, name)
    if saved is None or saved.get("identity") != result.identity:
        raise MissingParentError(
            f"{spec.method} starts from the dense run's {what} {parent / name}, which is missing "
            f"or from another training of it; retrain it: bench train --method dense "
            f"--seed {spec.seed} --force"
        )
    return int(saved["step"])


def steps_to_train(start: StartPoint, budget_steps: int) -> int:
    """The run's own steps: the whole budget, or under the equal budget what the dense parent
    left of it after the branch point."""
    if start.at != "branch":
        return budget_steps
    remaining = budget_steps - start.parent_steps
    if remaining <= 0:
        raise MissingParentError(
            f"the dense run's branch point is at step {start.parent_steps}, which leaves nothing "
            f"of a {budget_steps}-step budget to train"
        )
    return remaining


def load_start(state: RunState, start: StartPoint) -> None:
    """Put the start point into the run before `method.setup`: the parent's weights at the
    start point in the model (copied in place, so device and memory format stay), its rewind
    state in the context."""
    if start.point != "dense":
        return
    parent = Path(state.config.runs_root) / str(start.parent)
    if start.at == "branch":
        saved = _saved(parent, BRANCH_FILE)
        weights = None if saved is None else saved["model"]
    else:
        try:
            weights = torch.load(parent / MODEL_FILE, map_location="cpu", weights_only=True)
        except Exception:
            weights = None
    if weights is None:
        raise MissingParentError(f"the dense run {parent} cannot be read at its {start.at} point; "
                                 f"retrain it: bench train --method dense "
                                 f"--seed {state.spec.seed} --force")
    with torch.no_grad():
        state.model.load_state_dict(weights)
    if start.rewind_step is not None:
        rewind = _saved(parent, REWIND_FILE)
        assert rewind is not None  # resolve_start checked it
        state.ctx.rewind_state = rewind["model"]


def dense_save_points(state: RunState) -> dict[int, tuple[str, ...]]:
    """step → the files this run saves after it (its early checkpoint and its branch point):
    multi-task dense runs only."""
    fraction = getattr(state.method.params, "rewind_fraction", None)
    if state.spec.method != "dense" or state.spec.task is not None or fraction is None:
        return {}
    points: dict[int, tuple[str, ...]] = {}
    for name, at in ((REWIND_FILE, fraction), (BRANCH_FILE, state.config.budget.branch_fraction)):
        step = fraction_step(state.total_steps, at)
        points[step] = (*points.get(step, ()), name)
    return points


def save_dense_points(state: RunState, out: Path, done: int) -> None:
    """Called by the loop after every step: at a save point, save the full model state."""
    names = state.save_points.get(done, ())
    if not names:
        return
    model = {k: v.detach().to("cpu", copy=True) for k, v in state.model.state_dict().items()}
    for name in names:
        torch_save_atomic({"step": done, "identity": state.identity, "model": model}, out / name)


def budget_units(state: RunState) -> float:
    """Steps this run trained plus its dense parent's before its start, in units of the
    profile's dense budget."""
    steps = state.ctx.step + state.parent_steps
    return round(steps / state.recipe.iterations, 6)
