"""Atomic writes (a uniquely named temp file in the same directory, then a rename) and loads
that name the file they could not read.

Temp names are unique per write, so two processes writing the same file never share one (the
last rename wins; neither crashes). torch is imported only where needed: aggregation and the
report use `write_json_atomic` and must stay torch-free.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, BinaryIO

from bench.errors import RunFailedError


class CorruptFileError(RunFailedError):
    """A saved file (model.pt, a .npy, ...) cannot be read. Exit code 1; the message names it."""


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


# mkstemp makes 0600 files; written files get the usual permissions instead (0644 typically).
_FILE_MODE = 0o666 & ~_umask()


@contextmanager
def _atomic(path: Path, mode: str) -> Iterator[Any]:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        os.fchmod(fd, _FILE_MODE)
        with os.fdopen(fd, mode, encoding=None if "b" in mode else "utf-8") as handle:
            yield handle
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_text_atomic(path: str | Path, text: str) -> None:
    with _atomic(Path(path), "w") as handle:
        handle.write(text)


def write_json_atomic(path: str | Path, payload: Any) -> None:
    write_text_atomic(path, json.dumps(payload, indent=2, sort_keys=True, allow_nan=True) + "\n")


def write_bytes_atomic(path: str | Path, write: Callable[[BinaryIO], None]) -> None:
    with _atomic(Path(path), "wb") as handle:
        write(handle)


def torch_save_atomic(obj: Any, path: str | Path) -> None:
    import torch

    write_bytes_atomic(path, lambda handle: torch.save(obj, handle))


def torch_load(path: str | Path, map_location: Any = "cpu", weights_only: bool = True) -> Any:
    """`torch.load`, but a truncated or garbled file is a `CorruptFileError` naming the path."""
    import torch

    path = Path(path)
    try:
        return torch.load(path, map_location=map_location, weights_only=weights_only)
    except FileNotFoundError:
        raise
    except Exception as exc:  # torch raises RuntimeError, EOFError, UnpicklingError, ...
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise CorruptFileError(f"{path}: cannot be read, the file is corrupt or truncated "
                               f"({reason[:120]})") from None
