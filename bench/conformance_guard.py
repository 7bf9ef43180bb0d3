"""Watches a method's hooks: no file writes, no test-split reads, masks that stay masks.

A process-wide audit hook (sys.addaudithook) sees every file open; it only judges while a
method hook is running, so the benchmark's own checkpoint and result writes are not counted.
"""

from __future__ import annotations

import functools
import os
import sys
from dataclasses import dataclass, field
from typing import Any

import torch

from bench.masks import MaskedMethod
from bench.method import Context, PruningMethod

HOOKS = (
    "setup", "prepare", "before_step", "loss_weights", "after_backward", "after_step",
    "finalize", "state_dict", "load_state_dict",
)
_WRITE_FLAGS = os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_APPEND | os.O_TRUNC
_WRITE_EVENTS = {"os.remove", "os.rename", "os.rmdir", "os.mkdir", "shutil.rmtree", "os.truncate"}


@dataclass
class Violations:
    writes: list[str] = field(default_factory=list)
    test_reads: list[str] = field(default_factory=list)
    revived: list[str] = field(default_factory=list)


class _Audit:
    installed = False
    active: Violations | None = None
    test_dirs: tuple[str, ...] = ()


def _is_bytecode(path: str) -> bool:
    return path.endswith((".pyc", ".pyc.tmp")) or "__pycache__" in path


def _audit(event: str, args: tuple[Any, ...]) -> None:
    record = _Audit.active
    if record is None:
        return
    if event == "open":
        path, mode, flags = (list(args) + [None, None])[:3]
        path = os.fsdecode(path) if isinstance(path, (str, bytes, os.PathLike)) else str(path)
        writing = (isinstance(mode, str) and any(c in mode for c in "wax+")) or (
            isinstance(flags, int) and flags & _WRITE_FLAGS
        )
        if writing and not _is_bytecode(path):
            record.writes.append(path)
        if any(path.startswith(d) for d in _Audit.test_dirs):
            record.test_reads.append(path)
    elif event in _WRITE_EVENTS and args and not _is_bytecode(str(args[0])):
        record.writes.append(f"{event} {args[0]}")


def install(test_dirs: tuple[str, ...]) -> None:
    if not _Audit.installed:
        sys.addaudithook(_audit)
        _Audit.installed = True
    _Audit.test_dirs = tuple(os.path.abspath(d) + os.sep for d in test_dirs)


def watch(method: PruningMethod, record: Violations) -> None:
    """Wrap `method`'s hooks (on the instance) so they run under the audit."""
    for name in HOOKS:
        original = getattr(method, name)

        @functools.wraps(original)
        def guarded(*args: Any, __original: Any = original, __name: str = name, **kw: Any) -> Any:
            _Audit.active = record
            try:
                out = __original(*args, **kw)
            finally:
                _Audit.active = None
            if __name == "after_step" and isinstance(method, MaskedMethod):
                _check_masks(method, args[0], record)
            return out

        setattr(method, name, guarded)


@torch.no_grad()
def _check_masks(method: MaskedMethod, ctx: Context, record: Violations) -> None:
    if record.revived:
        return
    weights = {w.name: w for w in ctx.all_prunable()}
    for name, mask in method.masks.items():
        param = weights[name].param
        alive = param[~mask.to(param.device)]
        if alive.numel() and bool((alive != 0).any()):
            record.revived.append(f"{name} at step {ctx.step}")
            return
