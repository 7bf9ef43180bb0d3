"""The training stages' code dependencies in dvc.yaml cover every file their runs import.

A training stage depends on its method's code fingerprint (the `code` stage writes one file per
method, bench/record/code.py derives its file list from the imports). Checked against what really
runs: a fresh interpreter imports what `bench grid` needs to train a run of each method, and every
repository file it loaded must be in that method's fingerprint or be one of the modules left out
on purpose as result-neutral (listed below with the reason) — else a change there would leave
finished runs "up to date" in DVC.
"""

from __future__ import annotations

import functools
import json
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from bench.record.code import core_files, method_files, result_neutral
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


# One interpreter for every method: the training modules are imported once, then each method's
# module as the registry imports it; the first-party modules that brought in are forgotten before
# the next method, so each method's list holds what a run of it imports. (The registry imports
# every method in a run, but another method's module only defines its class: what it computes
# runs only in a run of that method.)
_PER_METHOD = """
import importlib, json, sys
from pathlib import Path
import bench.cli.grid, bench.grid.job, bench.grid.local, bench.train
root = Path.cwd().resolve()
def loaded():
    files = set()
    for module in list(sys.modules.values()):
        path = getattr(module, "__file__", None)
        if path and Path(path).resolve().is_relative_to(root):
            files.add(Path(path).resolve().relative_to(root).as_posix())
    return sorted(files)
base = set(sys.modules)
found = {}
for slug in sys.argv[1:]:
    importlib.import_module(f"methods.{slug}")
    found[slug] = loaded()
    for name in set(sys.modules) - base:
        if name.split(".")[0] in ("bench", "methods", "datasets"):
            del sys.modules[name]
print(json.dumps(found))
"""
# What a run imports that its fingerprint leaves out on purpose (RESULT_NEUTRAL in
# bench/record/code.py): whether, where and how a run is launched and what is written around its
# result, never what it computes.
_NOT_RESULTS = {
    "bench/__init__.py": "the version string, read into provenance only",
    "bench/cli/": "the `bench grid` command line; the settings it passes are in the identity",
    "bench/grid/": "grid planning and the local pool that start runs",
    "bench/registry.py": "plugin discovery; the method's own code is in its fingerprint",
    "bench/provenance.py": "git commit, library versions and host recorded in result.json",
    "bench/io.py": "atomic writes and loads of bytes as given",
    "bench/errors.py": "exception classes and exit codes",
    "bench/train/logger.py": "the dvclive curves of values the loop computed",
    "bench/train/runlock.py": "the run folder's lock and the 'finished' test",
}


@functools.cache
def _imported_per_method() -> dict[str, list[str]]:
    out = subprocess.run([sys.executable, "-c", _PER_METHOD, *sorted(discover())], cwd=ROOT,
                         check=True, capture_output=True, text=True).stdout
    return {slug: [f for f in files if f.split("/")[0] in _PACKAGES]
            for slug, files in json.loads(out).items()}


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


@pytest.mark.parametrize("slug", sorted(discover()))
def test_a_methods_fingerprint_covers_every_file_its_runs_import(slug: str) -> None:
    imported = _imported_per_method()[slug]
    assert f"methods/{slug}.py" in imported and "bench/train/loop.py" in imported
    counted = {*method_files(slug), *core_files()}
    missing = [f for f in imported if f not in counted and not _covered(f, list(_NOT_RESULTS))]
    assert not missing, f"the fingerprint of {slug!r} (bench/record/code.py) lacks {missing}"
    left_out = [f for f in imported if f not in counted]
    assert all(result_neutral(f) for f in left_out), "bench/record/code.py counts these"
    # Another method's module never counts (dense's runs do not rerun for an edit to snip).
    others = [f for f in counted if f.startswith("methods/") and not f.startswith("methods/_")
              and f != "methods/__init__.py" and f not in imported]
    assert not others, f"{slug!r} counts other methods it does not import: {others}"


def test_training_stages_depend_on_their_methods_fingerprint_not_on_code_folders() -> None:
    stages = yaml.safe_load((ROOT / "dvc.yaml").read_text())["stages"]
    code_files = "${runs_root}/code"
    assert stages["code"]["cmd"] == f"bench fingerprint --out {code_files}"
    assert stages["code"]["outs"] == [{code_files: {"cache": False}}]
    assert "methods" in stages["code"]["params"]
    every = {f for slug in discover() for f in (*method_files(slug), *core_files())}
    assert not [f for f in every if not _covered(f, stages["code"]["deps"])]
    expected = {"dense": f"{code_files}/dense.json", "single_task": f"{code_files}/dense.json",
                "prune": f"{code_files}/${{item}}.json"}
    for name, fingerprint_file in expected.items():
        deps = (stages[name].get("do") or stages[name])["deps"]
        assert fingerprint_file in deps, name
        code = [d for d in deps if d.split("/")[0] in _PACKAGES]
        assert not code, f"stage {name!r} depends on code folders {code}; its fingerprint covers them"


def test_single_task_stage_trains_under_the_dense_stage_parameters() -> None:
    """The references must be retrained whenever the dense runs would be (same recipe, seeds),
    except for what only the multi-task dense runs have: their extra seeds, their parameters
    and the branch point they save (single-task references start nothing)."""
    stages = yaml.safe_load((ROOT / "dvc.yaml").read_text())["stages"]
    dense_only = {"dense_seeds", "method_params.dense", "budget.branch_fraction"}
    assert dense_only <= set(stages["dense"]["params"])
    assert set(stages["dense"]["params"]) - dense_only <= set(stages["single_task"]["params"])
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
