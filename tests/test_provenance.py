"""A run's provenance names the CPU kernel set torch dispatched to, and the leaderboard counts
runs per kernel set (docs/results.md, docs/report.md)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import torch

from bench.aggregate.provenance import provenance_counts
from bench.provenance import cpu_capability, provenance

ROOT = Path(__file__).resolve().parents[1]


def test_provenance_records_the_cpu_capability_torch_reports() -> None:
    prov = provenance(torch.device("cpu"))
    assert prov["cpu_capability"] == torch.backends.cpu.get_cpu_capability() == cpu_capability()
    assert prov["cpu_capability"]  # e.g. "AVX2", "AVX512", "DEFAULT"


@pytest.mark.parametrize(("setting", "reported"), [("default", "DEFAULT")])
def test_aten_cpu_capability_changes_what_is_recorded(setting: str, reported: str) -> None:
    """ATEN_CPU_CAPABILITY lowers the kernel set (read once, when torch loads: a subprocess);
    what is recorded is what torch then reports, not what the CPU could do."""
    code = "from bench.provenance import cpu_capability; print(cpu_capability())"
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True,
                          timeout=120, check=True,
                          env={**os.environ, "ATEN_CPU_CAPABILITY": setting, "OMP_NUM_THREADS": "1"})
    assert done.stdout.strip() == reported


def test_the_leaderboard_counts_runs_per_cpu_capability() -> None:
    parsed: list[dict[str, Any]] = [
        {"provenance": {"cpu_capability": "AVX2"}},
        {"provenance": {"cpu_capability": "AVX512"}},
        {"provenance": {"cpu_capability": "AVX2"}},
        {"provenance": {"torch_version": "2.13.0"}},  # recorded before the key existed
        {"provenance": None},
    ]
    counts = provenance_counts(parsed)
    assert counts["cpu_capabilities"] == {"AVX2": 2, "AVX512": 1}
    assert provenance_counts([])["cpu_capabilities"] == {}
