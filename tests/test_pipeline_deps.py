"""The training stages' code dependencies in dvc.yaml cover every file their runs import.

Derived, not hand-listed: a fresh interpreter imports what `bench grid` needs to train a run of
each method, and every repository file it loaded must sit under a dependency of the dense,
single_task and prune stages — else a change there would leave finished runs "up to date" in DVC.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from bench.registry import discover

ROOT = Path(__file__).parents[1]
_PACKAGES = ("bench", "methods", "datasets")
_TRAINING = """
import bench.cli.grid, bench.grid.job, bench.grid.local, bench.train
from bench.registry import get_method_class
for slug in sys.argv[1:]:
    get_method_class(slug)
"""
# The modules measure_latency imports when it runs (bench.structured, bench.models) are imported
# up front: a change to how a structured model is rebuilt must re-time it.
_LATENCY = "import bench.cli.latency, bench.perf.latency, bench.structured, bench.models"
_PROBE = """
import json, sys
from pathlib import Path
{imports}
root = Path.cwd().resolve()
files = set()
for module in list(sys.modules.values()):
    path = getattr(module, "__file__", None)
    if path and Path(path).resolve().is_relative_to(root):
        files.add(Path(path).resolve().relative_to(root).as_posix())
print(json.dumps(sorted(files)))
"""


def _imported(slugs: list[str], imports: str = _TRAINING) -> list[str]:
    probe = _PROBE.format(imports=imports)
    out = subprocess.run([sys.executable, "-c", probe, *slugs], cwd=ROOT, check=True,
                         capture_output=True, text=True).stdout
    return [f for f in json.loads(out) if f.split("/")[0] in _PACKAGES]


def _stage_deps(name: str) -> list[str]:
    stage = yaml.safe_load((ROOT / "dvc.yaml").read_text())["stages"][name]
    return [d for d in (stage.get("do") or stage)["deps"] if "${" not in d]


def _covered(path: str, deps: list[str]) -> bool:
    return any(path == d or path.startswith(d.rstrip("/") + "/") for d in deps)


@pytest.mark.parametrize("stage", ["dense", "single_task", "prune"])
def test_training_stages_depend_on_everything_their_runs_import(stage: str) -> None:
    imported = _imported(sorted(discover()))
    assert any(f.startswith("methods/") for f in imported)
    deps = _stage_deps(stage)
    missing = [f for f in imported if not _covered(f, deps)]
    assert not missing, f"dvc.yaml stage {stage!r} lacks code dependencies: {missing}"


def test_single_task_stage_trains_under_the_dense_stage_parameters() -> None:
    """The references must be retrained whenever the dense runs would be (same recipe, seeds)."""
    stages = yaml.safe_load((ROOT / "dvc.yaml").read_text())["stages"]
    assert set(stages["dense"]["params"]) <= set(stages["single_task"]["params"])
    assert "single_task_references" in stages["single_task"]["params"]
    assert "single_task_references" in stages["aggregate"]["params"]
    assert "--single-task" in stages["single_task"]["cmd"]


def test_latency_stage_depends_on_the_code_that_times_and_rebuilds_models() -> None:
    timing = [f for f in _imported([], _LATENCY)
              if f.startswith(("bench/perf/", "bench/models/", "bench/structured.py"))]
    assert "bench/perf/sparse_conv.py" in timing
    deps = _stage_deps("latency")
    missing = [f for f in timing if not _covered(f, deps)]
    assert not missing, f"dvc.yaml stage 'latency' lacks code dependencies: {missing}"
