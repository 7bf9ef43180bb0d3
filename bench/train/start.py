"""Where a run starts (docs/protocol.md §9): the runner builds the start point, the method
receives it.

A method of `start = "init"` trains from the model's initialisation. One of `start = "dense"`
starts from the trained dense run of the same dataset, backbone, profile and seed — its folder
is `run_dir(config, dense_spec(seed))` — never retraining it: its final weights (`model.pt`) are
loaded into the model before `method.setup`, and for a method with `needs_rewind` its early
checkpoint (`rewind.pt`) is handed over as `ctx.rewind_state`. A parent that is missing,
unfinished, trained under another profile or without a rewind checkpoint stops the run before
any training with a `MissingParentError` (one line naming the dense run to train; exit code 1).

The dense run writes `rewind.pt` once, when its step count reaches the rewind step (the dense
method's `rewind_fraction` of its steps, ≥ 1): the full model state (parameters and buffers).
A resumed dense run past that step keeps the file it wrote; a fresh run overwrites it.
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
from bench.results import MODEL_FILE, read_result
from bench.runs import RunSpec, dense_spec, resolved_config, run_dir

if TYPE_CHECKING:
    from bench.method import PruningMethod
    from bench.train.state import RunState

REWIND_FILE = "rewind.pt"


class MissingParentError(RunFailedError):
    """A from-dense run's dense parent is missing or unusable; the message names it. Exit 1."""


@dataclass(frozen=True)
class StartPoint:
    """The start of a run, as result.json records it (`start`), plus the parent's step count."""

    point: str  # "init" | "dense"
    parent: str | None = None  # the dense run's folder, relative to runs_root
    parent_identity: str | None = None
    rewind_step: int | None = None  # the rewind checkpoint's step, when the method uses it
    parent_steps: int = 0  # optimizer steps the dense parent trained (counted in the budget)

    def to_dict(self) -> dict[str, Any]:
        if self.point == "init":
            return {"point": "init"}
        return {
            "point": "dense",
            "parent": self.parent,
            "parent_identity": self.parent_identity,
            "rewind_step": self.rewind_step,
        }


def rewind_step_of(total_steps: int, fraction: float) -> int:
    """The dense run's rewind step: round(fraction · T), at least 1 and at most T."""
    return min(max(total_steps, 1), max(1, math.floor(fraction * total_steps + 0.5)))


def dense_parent_dir(config: Config, seed: int) -> Path:
    return run_dir(config, dense_spec(seed))


def _relative(config: Config, path: Path) -> str:
    try:
        return path.relative_to(Path(config.runs_root)).as_posix()
    except ValueError:
        return path.as_posix()


def _identity(result: dict[str, Any]) -> str | None:
    identity = result.get("identity")
    if identity is not None:
        return identity if isinstance(identity, str) else str(identity)
    return result.get("provenance", {}).get("config_hash")


def resolve_start(config: Config, spec: RunSpec, cls: type[PruningMethod]) -> StartPoint:
    """Check the parent a method's start needs (nothing for "init"); raise a one-line error."""
    if cls.start != "dense":
        return StartPoint("init")
    parent = dense_parent_dir(config, spec.seed)
    rel = _relative(config, parent)
    hint = f"train it first: bench train --method dense --seed {spec.seed}"
    result = read_result(parent)
    if result is None or result.get("status") != "ok" or not (parent / MODEL_FILE).exists():
        raise MissingParentError(
            f"{spec.method} starts from the trained dense run {parent}, which is not finished; {hint}"
        )
    if not _same_recipe(result, config, spec.seed):
        raise MissingParentError(
            f"{spec.method} starts from the dense run {parent}, trained under another "
            f"'{config.profile}' profile; retrain it: bench train --method dense --seed {spec.seed} --force"
        )
    rewind = None
    if cls.needs_rewind:
        rewind = _rewind_step(parent, result, spec, hint)
    return StartPoint(
        "dense", rel, _identity(result), rewind, int(result.get("cost", {}).get("iterations", 0))
    )


def _same_recipe(result: dict[str, Any], config: Config, seed: int) -> bool:
    """The parent was trained under this profile (its step count may differ: that is counted in
    the budget, not refused)."""
    expected = dict(resolved_config(config, dense_spec(seed))["profile"])
    found = dict(result.get("provenance", {}).get("config", {}).get("profile") or {})
    expected.pop("iterations", None)
    found.pop("iterations", None)
    return found == expected


def _rewind_checkpoint(parent: Path) -> dict[str, Any] | None:
    path = parent / REWIND_FILE
    if not path.exists():
        return None
    try:
        return torch.load(path, map_location="cpu", weights_only=True)  # type: ignore[no-any-return]
    except Exception:  # a truncated file: the parent must be retrained, as when it is missing
        return None


def _rewind_step(parent: Path, result: dict[str, Any], spec: RunSpec, hint: str) -> int:
    saved = _rewind_checkpoint(parent)
    if saved is None or saved.get("config_hash") != result["provenance"].get("config_hash"):
        raise MissingParentError(
            f"{spec.method} rewinds to the dense run's early checkpoint {parent / REWIND_FILE}, "
            f"which is missing or from another training of it; {hint} --force"
        )
    return int(saved["step"])


def load_start(state: RunState, start: StartPoint) -> None:
    """Put the start point into the run before `method.setup`: the parent's final weights in the
    model (copied in place, so device and memory format stay), its rewind state in the context."""
    if start.point != "dense":
        return
    parent = Path(state.config.runs_root) / str(start.parent)
    try:
        weights = torch.load(parent / MODEL_FILE, map_location="cpu", weights_only=True)
    except Exception as exc:
        raise MissingParentError(f"{parent / MODEL_FILE} cannot be read ({type(exc).__name__}); "
                                 f"retrain the dense run: bench train --method dense "
                                 f"--seed {state.spec.seed} --force") from None
    with torch.no_grad():
        state.model.load_state_dict(weights)
    if start.rewind_step is not None:
        saved = _rewind_checkpoint(parent)
        assert saved is not None  # resolve_start checked it
        state.ctx.rewind_state = saved["model"]


def dense_rewind_step(state: RunState) -> int | None:
    """The step at which this run saves `rewind.pt`: multi-task dense runs only."""
    fraction = getattr(state.method.params, "rewind_fraction", None)
    if state.spec.method != "dense" or state.spec.task is not None or fraction is None:
        return None
    return rewind_step_of(state.total_steps, fraction)


def save_rewind_point(state: RunState, out: Path, done: int) -> None:
    """Called by the loop after every step: at the rewind step, save the full model state."""
    if done != state.rewind_at:
        return
    model = {k: v.detach().to("cpu", copy=True) for k, v in state.model.state_dict().items()}
    torch_save_atomic({"step": done, "config_hash": state.config_hash, "model": model},
                      out / REWIND_FILE)


def budget_units(state: RunState) -> float:
    """Steps this run trained plus its dense parent's, in units of the profile's dense budget."""
    steps = state.ctx.step + state.parent_steps
    return round(steps / state.recipe.iterations, 6)
