"""One writer per run folder, and what counts as a finished run.

The lock file sits beside the run folder (`<parent>/.<name>.lock`), not inside it: the folder
is a DVC output, and a lock file in it would become part of the run's tracked content. The lock
is an OS lock (fcntl via `filelock`), so it is released when its holder dies, even by SIGKILL;
a stale lock file on disk blocks nobody.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from filelock import FileLock, Timeout

from bench.errors import ConfigError
from bench.results import RESULT_FILE


def lock_path(out: Path) -> Path:
    return out.parent / f".{out.name}.lock"


@contextmanager
def run_lock(out: Path) -> Iterator[None]:
    """Hold the run folder's lock while `out` is written; a second writer fails at once."""
    out.parent.mkdir(parents=True, exist_ok=True)
    lock = FileLock(lock_path(out), timeout=0)
    try:
        lock.acquire()
    except Timeout:
        raise ConfigError(
            f"{out} is being written by another `bench train` (lock {lock_path(out)}); "
            "wait for it to finish or stop it"
        ) from None
    try:
        yield
    finally:
        lock.release()


def finished_result(out: Path) -> dict[str, Any] | None:
    """The run's result when it finished (status ok), else None. An unreadable result.json is
    not a finished run (it was never completed: writes are atomic)."""
    path = out / RESULT_FILE
    try:
        result = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    return result if isinstance(result, dict) and result.get("status") == "ok" else None
