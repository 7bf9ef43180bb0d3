"""Shared fixtures: a tiny synthetic configuration reused across the training tests."""

from __future__ import annotations

from pathlib import Path

import pytest

from bench.config import Config
from bench.conformance import tiny_config


@pytest.fixture()
def tiny(tmp_path: Path) -> Config:
    """A seconds-long configuration on a tiny synthetic dataset (shared, cached on disk)."""
    return tiny_config("dense", {}, tmp_path)
