"""Where a number came from: code version, library versions, machine."""

from __future__ import annotations

import datetime as dt
import platform
import socket
import subprocess
import sys
from pathlib import Path
from typing import Any

import torch

import bench


def _git(*args: str) -> str | None:
    try:
        out = subprocess.run(
            ["git", *args],
            cwd=Path(__file__).resolve().parent,
            capture_output=True,
            text=True,
            timeout=10,
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    return out.stdout.strip() if out.returncode == 0 else None


def now_iso() -> str:
    return dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")


def device_name(device: torch.device) -> str:
    if device.type == "cuda":
        return torch.cuda.get_device_name(device)
    return f"{platform.processor() or platform.machine()} CPU ({torch.get_num_threads()} threads)"


# What `git_dirty` ignores: files the pipeline itself rewrites (dvc.lock after every `dvc repro`)
# and its data and outputs. Provenance describes the code; a lock file DVC updated is not a
# code change.
NOT_CODE = ("dvc.lock", "runs", "data", "reports")


def git_dirty(root: Path | None = None) -> bool | None:
    """Whether tracked code under `root` (default: this checkout) differs from HEAD; None
    outside a git checkout."""
    root = root or Path(__file__).resolve().parents[1]
    status = _git(
        "-C", str(root), "status", "--porcelain", "--untracked-files=no",
        "--", ".", *(f":(exclude){p}" for p in NOT_CODE),
    )
    return bool(status) if status is not None else None


def cpu_capability() -> str:
    """The CPU kernel set ATen dispatches to ("DEFAULT", "AVX2", "AVX512", ...), as torch reports
    it: the best the CPU supports, unless the environment variable ATEN_CPU_CAPABILITY (e.g.
    `avx2`, `default`) chose another. CPU results can differ between kernel sets."""
    return str(torch.backends.cpu.get_cpu_capability())


def provenance(device: torch.device) -> dict[str, Any]:
    return {
        "git_commit": _git("rev-parse", "HEAD"),
        "git_dirty": git_dirty(),
        "bench_version": bench.__version__,
        "torch_version": torch.__version__,
        "cpu_capability": cpu_capability(),
        "python_version": sys.version.split()[0],
        "device": str(device),
        "device_name": device_name(device),
        "hostname": socket.gethostname(),
    }
