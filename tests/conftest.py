"""Shared fixtures: a tiny synthetic configuration reused across the training tests.

The suite runs torch on one thread, in this process and in every subprocess it starts: with
OpenMP's spinning pool, two threads on a machine that another CPU-bound process shares run many
times slower than one (docs/performance.md, "Threads"); one thread degrades gracefully.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

# Before anything imports torch (bench.conformance does), so its thread pool starts at one.
for _var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

from bench.config import Config  # noqa: E402
from bench.conformance import tiny_config  # noqa: E402


@pytest.fixture()
def tiny(tmp_path: Path) -> Config:
    """A seconds-long configuration on a tiny synthetic dataset (shared, cached on disk)."""
    return tiny_config("dense", {}, tmp_path)


@pytest.fixture(autouse=True, scope="session")
def _one_torch_thread() -> None:
    import torch

    torch.set_num_threads(1)
