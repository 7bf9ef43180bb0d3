"""Checkpoints hold everything needed to continue a run bit-for-bit: weights, optimizer,
schedule, the method's state, its cost so far and every random number generator."""

from __future__ import annotations

import random
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import torch

from bench.io import torch_load, torch_save_atomic
from bench.method import Cost

if TYPE_CHECKING:
    from bench.train.state import RunState


def save_checkpoint(path: Path, state: RunState, step: int, seconds: float) -> None:
    torch_save_atomic(
        {
            "step": step,
            "seconds": seconds,
            "identity": state.identity,
            "model": state.model.state_dict(),
            "optimizer": state.optimizer.state_dict(),
            "scheduler": state.scheduler.state_dict(),
            "method": state.method.state_dict(),
            "cost": state.ctx.cost.to_dict(),
            "rng": {
                "torch": torch.get_rng_state(),
                "cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else None,
                "numpy": np.random.get_state(),
                "python": random.getstate(),
            },
        },
        path,
    )


def checkpoint_matches(path: Path, state: RunState) -> bool:
    """A checkpoint left by a run with another configuration must not be continued.
    Raises `CorruptFileError` (naming the file) when it cannot be read."""
    ckpt = torch_load(path, map_location="cpu", weights_only=False)
    return isinstance(ckpt, dict) and bool(ckpt.get("identity") == state.identity)


def load_checkpoint(path: Path, state: RunState) -> tuple[int, float]:
    ckpt = torch_load(path, map_location=state.device, weights_only=False)
    if state.method.changes_architecture:  # a structured run resumes its pruned network
        from bench.structured import apply_shapes, changed_shapes

        apply_shapes(state.model, changed_shapes(ckpt["model"], state.architecture))
        state.ctx.rebuild_optimizer()
    state.model.load_state_dict(ckpt["model"])
    state.optimizer.load_state_dict(ckpt["optimizer"])
    state.scheduler.load_state_dict(ckpt["scheduler"])
    state.method.load_state_dict(ckpt["method"])
    state.ctx.cost = Cost(**ckpt["cost"])
    rng = ckpt["rng"]
    torch.set_rng_state(rng["torch"].cpu())
    if rng["cuda"] is not None and torch.cuda.is_available():
        torch.cuda.set_rng_state_all([s.cpu() for s in rng["cuda"]])
    np.random.set_state(rng["numpy"])
    random.setstate(rng["python"])
    state.ctx.step = int(ckpt["step"])
    return int(ckpt["step"]), float(ckpt["seconds"])
