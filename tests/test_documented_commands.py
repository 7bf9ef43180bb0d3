"""The `bench ...` commands printed in README.md and docs/*.md work as printed.

Every command the docs show (in backticks or in a shell block) must be listed below: either in
RUN, with the arguments it runs with in a scratch copy of the project (placeholders filled in,
the synthetic profile shrunk to a few steps on 32×32 images) and the exit code the docs promise,
or in SKIP with the reason it cannot run here. A new or changed command in the docs that is in
neither fails `test_every_documented_command_is_listed`, so a doc cannot drift silently.
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest
import yaml

from bench.cli import main

ROOT = Path(__file__).resolve().parents[1]
DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
RUN_DIR = "runs/synthetic/resnet34/snip/s0.9/seed0"

# Documented command -> (argv run here, expected exit code), in the order they run: later ones
# use the runs earlier ones made. `...` in a documented command stands for the line above it.
RUN: list[tuple[str, list[str], int]] = [
    ("bench methods", ["methods"], 0),
    ("bench prepare synthetic", ["prepare", "synthetic"], 0),
    ("bench prepare <dataset> --verify", ["prepare", "synthetic", "--verify"], 0),
    ("bench prepare", ["prepare", "synthetic"], 0),
    ("bench train", ["train", "--method", "dense", "--seed", "0", "--no-progress"], 0),
    ("bench train --method snip --sparsity 0.9 --seed 0",
     ["train", "--method", "snip", "--sparsity", "0.9", "--seed", "0", "--no-progress"], 0),
    ("bench train ... --resume",  # on the finished run: nothing to do
     ["train", "--method", "snip", "--sparsity", "0.9", "--seed", "0", "--resume"], 0),
    ("bench train ... --force",
     ["train", "--method", "snip", "--sparsity", "0.9", "--seed", "0", "--force", "--no-progress"], 0),
    ("bench sparsity RUN_DIR", ["sparsity", RUN_DIR], 0),
    ("bench sparsity", ["sparsity", RUN_DIR], 0),
    ("bench latency RUN_DIR", ["latency", RUN_DIR, "--repeats", "1", "--warmup", "0"], 0),
    ("bench latency", ["latency", RUN_DIR, "--repeats", "1", "--warmup", "0"], 0),
    ("bench summary --backbone resnet34 --dataset nyuv2 --json",
     ["summary", "--backbone", "resnet34", "--dataset", "nyuv2", "--json"], 0),
    ("bench grid --dry-run", ["grid", "--dry-run"], 0),
    ("bench aggregate", ["aggregate"], 0),
    ("bench aggregate [--runs runs] [--out reports]", ["aggregate", "--runs", "runs", "--out", "reports"], 0),
    ("bench report", ["report"], 0),
    # Torch-free, on the leaderboard `bench aggregate` just wrote (no row with 4 seeds here).
    ("bench verify --coverage", ["verify", "--coverage"], 0),
    ("bench verify --coverage [--leaderboard reports/leaderboard.json] [--json]",
     ["verify", "--coverage", "--leaderboard", "reports/leaderboard.json", "--json"], 0),
    ("bench check-method SLUG", ["check-method", "random"], 0),
    ("bench train --single-task normal --seed 0",
     ["train", "--single-task", "normal", "--seed", "0", "--no-progress"], 0),
    ("bench report --format latex|markdown", ["report", "--format", "markdown"], 0),
    # No NYU-v2 here: the README promises exit 3 with what to fetch, never a traceback.
    ("bench train --dataset nyuv2 --profile nyuv2_resnet34 --method dense --iterations 2 --device cpu",
     ["train", "--dataset", "nyuv2", "--profile", "nyuv2_resnet34", "--method", "dense",
      "--iterations", "2", "--device", "cpu"], 3),
    ("bench prepare nyuv2", ["prepare", "nyuv2"], 3),
    ("bench prepare <dataset>", ["prepare", "nyuv2"], 3),
]

# Documented commands not run here, and why.
PLACEHOLDER = "a form with placeholders; its concrete forms are run above"
SKIP: dict[str, str] = {
    "bench aggregate --runs": "prose fragment naming the option",
    "bench check-method <slug>": "the conformance suite: tests/test_conformance.py runs it per method",
    "bench fetch": "downloads over the network (tests/test_fetch.py covers it offline)",
    "bench fetch ${dataset}": "the dvc.yaml stage's command, with DVC's variable",
    "bench fetch nyuv2": "downloads over the network (tests/test_fetch.py covers it offline)",
    "bench fetch nyuv2 --raw DIR": "needs a raw NYU-v2 copy (tests/test_nyuv2.py uses a fake one)",
    "bench fetch taskonomy": "downloads over the network (tests/test_fetch.py covers it offline)",
    "bench fetch taskonomy --raw DIR": "needs a raw Taskonomy copy",
    "bench grid": "trains the whole grid (minutes); tests/test_grid.py covers the executors",
    "bench grid --commit": "records DVC state after a full grid; tests/test_grid.py",
    "bench grid --executor slurm": "needs Slurm (tests marked slurm)",
    "bench grid --executor slurm --cluster gpus_per_run=0 --cluster cpus_per_run=1 --cluster mem_gb=2 --wait":
        "needs Slurm (tests marked slurm)",
    "bench grid --executor slurm --dataset nyuv2 --backbone resnet34 --profile nyuv2_resnet34": "needs Slurm and NYU-v2",
    "bench grid --executor slurm [--wait]": "needs Slurm (tests marked slurm)",
    "bench grid --status": "reads a Slurm submission record (tests marked slurm)",
    "bench grid --status [--wait]": "reads a Slurm submission record (tests marked slurm)",
    "bench grid -j 2": "trains the whole grid (minutes); tests/test_grid.py",
    "bench grid -j 2 --threads 1": "trains the whole grid (minutes); tests/test_grid.py",
    "bench grid -j N": PLACEHOLDER,
    "bench latency --grid": "times every run of the grid; tests/test_perf.py",
    "bench latency --grid --threads 1 --repeats 15 --warmup 2 --input-size 128 128":
        "times every run of the grid; tests/test_perf.py",
    "bench latency-paper": "times the paper-size network (~10 min idle on 2 vCPUs); "
                           "tests/test_latency_paper.py runs it on a tiny one",
    "bench perf": "times every method (minutes); tests/test_bench_perf.py",
    "bench perf --device cuda": "needs a GPU",
    "bench perf --methods snip,adapmtl --profile synthetic_cpu --check": "times two methods against dense (minutes)",
    "bench perf --profile nyuv2_resnet34 --device cuda --dataset synthetic --image-size 480 640 "
    "--num-workers 2 --methods random,adapmtl": "needs a GPU",
    "bench perf --project": "projects from a timed run (minutes)",
    "bench perf --throughput": "loader throughput over the whole split (minutes)",
    "bench prepare ${dataset}": "the dvc.yaml stage's command, with DVC's variable",
    "bench prepare <dataset> --raw DIR": "needs a raw dataset copy (tests/test_nyuv2.py uses a fake one)",
    "bench prepare taskonomy": "needs Tiny-Taskonomy (exit 3 here, as `bench prepare nyuv2` above)",
    "bench report [--leaderboard reports/leaderboard.json] [--runs runs] [--out reports/site]":
        "renders every figure (tens of seconds on 2 cores); tests/test_report.py",
    "bench report --leaderboard reports/leaderboard.json --runs runs --latency my-latency.json":
        "on runs pulled from a DVC remote, with their latency: tests/test_dvc_remote.py (slow)",
    "bench summary --backbone B --dataset D --input-size H W --json": PLACEHOLDER,
    "bench train --single-task TASK --seed k": PLACEHOLDER,
    "bench grid --method X -j 0": "the pipeline's per-method stage (minutes); tests/test_grid.py",
    "bench grid -j 0": "trains the whole grid (minutes); tests/test_grid.py",
    "bench train --method dense": "prose naming the command; its full forms are run above",
    "bench report --format latex|markdown [--leaderboard ...] [--out FILE]": PLACEHOLDER,
    "bench verify": "prose naming the command; its forms are below or run above",
    "bench verify METHOD": PLACEHOLDER,
    "bench verify snip": "trains held-out seeds of a current row; tests/test_verify_pipeline.py "
                         "runs `bench verify` end to end after `dvc repro` (slow)",
    "bench verify channel_l1 --target 0.7 --seeds 10 11 12":
        "trains held-out seeds of a current row; tests/test_verify_pipeline.py (slow)",
    "bench submit <slug> --out <slug>.tar.gz": "needs a method's current runs: "
        "tests/test_submit_import.py (runs as files) and tests/test_submit_e2e.py (trained, slow)",
    "bench submit": "prose naming the command; its form is above",
    "bench import <slug>.tar.gz": "needs a bundle: tests/test_submit_import.py, "
        "tests/test_submit_archive.py (crafted archives), tests/test_submit_e2e.py (slow)",
    "bench import": "prose naming the command; its form is above",
    "bench verify <slug>": "of a submitted row: tests/test_submit_e2e.py (slow)",
    "bench grid --method <slug>": "trains one method's grid (minutes); tests/test_grid.py",
    "bench train --method adapmtl --sparsity S --iterations 150":
        "a diagnosis recipe with a placeholder target; `bench train` forms are run above",
}


def _normalise(command: str) -> str:
    command = command.replace("\\\n", " ")
    return " ".join(command.replace("\\", " ").split())


def documented_commands() -> dict[str, list[str]]:
    """`bench ...` in backticks and at the start of shell-block lines -> the files showing it."""
    found: dict[str, list[str]] = {}
    for doc in DOCS:
        text = doc.read_text()
        commands = set(re.findall(r"`(bench [^`]+)`", text))
        for block in re.findall(r"```(?:bash|sh|console)?\n(.*?)```", text, re.S):
            for line in block.splitlines():
                line = line.strip()
                if line.startswith("bench "):
                    commands.add(re.split(r"\s+#", line)[0])
        for command in commands:
            found.setdefault(_normalise(command), []).append(doc.name)
    return found


def test_every_documented_command_is_listed() -> None:
    listed = {_normalise(c) for c, _, _ in RUN} | {_normalise(c) for c in SKIP}
    unlisted = {c: files for c, files in documented_commands().items() if c not in listed}
    assert not unlisted, (
        f"documented but neither run nor skipped in {Path(__file__).name}: {unlisted}"
    )
    gone = listed - set(documented_commands())
    assert not gone, f"listed but no longer in the docs (remove them): {sorted(gone)}"


@pytest.fixture()
def scratch(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The project's params.yaml with the synthetic data and profile shrunk to seconds."""
    params = yaml.safe_load((ROOT / "params.yaml").read_text())
    params["synthetic"] = {"height": 32, "width": 32, "num_train": 16, "num_val": 4,
                           "num_test": 4, "seed": 0}
    params["profiles"][params["profile"]].update(
        width_mult=0.0625, iterations=4, batch_size=4, crop=[24, 24], eval_batch_size=8,
        log_every=2, checkpoint_every=2, lr_step=2,
    )
    params["data_root"] = str(tmp_path / "data")
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    shutil.copy(ROOT / "dvc.yaml", tmp_path / "dvc.yaml")
    monkeypatch.chdir(tmp_path)
    return tmp_path


def test_documented_commands_work_as_printed(scratch: Path, capsys: pytest.CaptureFixture[str]) -> None:
    failures = []
    for documented, argv, expected in RUN:
        code = main(argv)
        out = capsys.readouterr()
        if code != expected:
            failures.append(f"`{documented}` (ran `bench {' '.join(argv)}`): exit {code}, "
                            f"expected {expected}: {out.err.strip()[-300:]}")
        elif code != 0:
            assert len(out.err.strip().splitlines()) == 1, out.err  # one line, no traceback
    assert not failures, "\n".join(failures)


def _set(tree: dict, dotted: str, value: object) -> None:
    *parents, leaf = dotted.split(".")
    for key in parents:
        assert key in tree, f"{dotted}: no key {key!r} in params.yaml"
        tree = tree[key]
    assert leaf in tree, f"{dotted}: no key {leaf!r} in params.yaml"
    tree[leaf] = value


NAMED = re.findall(r"`dvc exp run -n (\S+) ((?:-S (?:'[^']+'|[^\s`]+) ?)+)`",
                   (ROOT / "README.md").read_text(encoding="utf-8"))


def test_the_readme_names_its_experiments() -> None:
    assert len(NAMED) >= 5 and "low-noise" in dict(NAMED)


@pytest.mark.parametrize(("name", "sets"), NAMED, ids=[n for n, _ in NAMED])
def test_every_named_experiment_sets_existing_keys_to_a_valid_configuration(
        name: str, sets: str, tmp_path: Path) -> None:
    """`dvc exp run -S key=value` would add an unknown key silently; params.yaml's validation
    would then stop the pipeline. Each README experiment, applied here, must be a valid config."""
    from bench.config import load_config

    raw = yaml.safe_load((ROOT / "params.yaml").read_text(encoding="utf-8"))
    for quoted, bare in re.findall(r"-S (?:'([^']+)'|([^\s`']+))", sets):
        assignment = quoted or bare
        key, value = assignment.split("=", 1)
        _set(raw, key, yaml.safe_load(value))
    path = tmp_path / "params.yaml"
    path.write_text(yaml.safe_dump(raw), encoding="utf-8")
    load_config(path)
