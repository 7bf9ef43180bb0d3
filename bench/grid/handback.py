"""Hand a finished grid back to DVC: record the run directories as the outputs of the pipeline's
run stages, so that the next `dvc repro` only aggregates and reports.

`dvc commit -f fetch prepare code dense single_task prune` stores the current run directories (and the prepared data)
in DVC's cache and writes their hashes, with the current code and parameters, to `dvc.lock` —
exactly as if `dvc repro` had trained them. It is only correct when every run of the grid is
done under the current configuration, which is checked first.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import yaml

from bench.grid.plan import PlannedRun
from bench.grid.slurm import materialize_logs

RUN_STAGES = ("fetch", "prepare", "code", "dense", "single_task", "prune")


def run_stages(dvc_file: Path = Path("dvc.yaml")) -> list[str]:
    """The pipeline's stages that the grid stands in for, as named in dvc.yaml."""
    if not dvc_file.exists():
        return []
    stages = (yaml.safe_load(dvc_file.read_text()) or {}).get("stages") or {}
    return [name for name in RUN_STAGES if name in stages]


def _record_fetch() -> int:
    """The fetch stage's output (`<data>/<dataset>/raw.json`) exists only if `bench fetch` ran;
    a grid prepares its data on first use, so write (or re-verify) that record now."""
    from bench.cli import main
    from bench.config import load_config

    config = load_config()
    return main(["fetch", config.dataset, "--data-root", config.data_root, "--no-progress"])


def _record_code() -> int:
    """The code stage's output (one fingerprint per method) exists only if the pipeline wrote it;
    write it now, as `dvc repro` would, so that the training stages' dependencies exist."""
    from bench.cli import main
    from bench.config import load_config

    return main(["fingerprint", "--out", str(Path(load_config().runs_root) / "code")])


def commit_command(stages: list[str]) -> list[str]:
    dvc = ["dvc"] if shutil.which("dvc") else [sys.executable, "-m", "dvc"]
    return [*dvc, "commit", "--force", *stages]


def hand_back(runs: list[PlannedRun], has_prune_runs: bool,
              has_single_task_runs: bool = True) -> int:
    """Commit the grid's runs to DVC; returns an exit code (1 when runs are not all done)."""
    pending = [r for r in runs if r.state != "done"]
    if pending:
        print(f"not handing back to DVC: {len(pending)} run(s) are not done:")
        for r in pending[:20]:
            print(f"  {r.state:<8} {r.run_dir}")
        return 1
    stages = run_stages()
    if not stages:
        print("no dvc.yaml with the stages prepare/dense/prune here; nothing to commit")
        return 1
    if not has_prune_runs and "prune" in stages:
        stages.remove("prune")  # `methods: []` gives the matrix no stage to commit
    if not has_single_task_runs and "single_task" in stages:
        stages.remove("single_task")  # `single_task_references: false`: its output is absent
    for r in runs:
        materialize_logs(r.run_dir)
    if "fetch" in stages and _record_fetch() != 0:
        return 1
    if "code" in stages and _record_code() != 0:
        return 1
    command = commit_command(stages)
    print("$ " + " ".join(command), flush=True)
    done = subprocess.run(command)
    if done.returncode == 0:
        print("DVC now holds the grid's runs; `dvc repro` aggregates and reports without training")
    return 0 if done.returncode == 0 else 1
