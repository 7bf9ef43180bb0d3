"""One writer per run folder, and what counts as a finished run.

The lock file sits beside the run folder (`<parent>/.<name>.lock`), not inside it: the folder
is a DVC output, and a lock file in it would become part of the run's tracked content. The lock
is an OS lock (fcntl via `filelock`), so it is released when its holder dies, even by SIGKILL;
a stale lock file on disk blocks nobody.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from filelock import FileLock, Timeout

from bench.errors import ConfigError
from bench.record.result import RunResult, read_result


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


def finished_result(out: Path) -> RunResult | None:
    """The run's result when it finished (status ok), else None. An unreadable result.json is
    not a finished run (it was never completed: writes are atomic)."""
    result = read_result(out)
    return result if result is not None and result.ok else None
