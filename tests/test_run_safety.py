"""Faults that used to lose or mix results (issue 14), each replayed through the CLI: one line,
the documented exit code, and nothing lost."""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
import sys
import threading
from pathlib import Path

import pytest
from filelock import FileLock

from bench.cli import main
from bench.io import write_json_atomic
from bench.provenance import git_dirty
from bench.train.runlock import lock_path

ROOT = Path(__file__).resolve().parents[1]
DENSE = Path("runs/synthetic/resnet34/dense/s0.0/seed0")
PARAMS = """\
dataset: synthetic
backbone: resnet34
profile: tiny
methods: [random]
sparsities: [0.5]
structured_sparsities: []
seeds: [0]
data_root: {data}
runs_root: runs
synthetic: {{height: 32, width: 32, num_train: 16, num_val: 4, num_test: 4, seed: 0}}
profiles:
  tiny: {{width_mult: 0.0625, iterations: 8, batch_size: 4, lr_step: 4, crop: null,
          eval_batch_size: 8, log_every: 4, checkpoint_every: 4, device: cpu}}
  other: {{width_mult: 0.0625, iterations: 4, batch_size: 4, lr_step: 4, crop: null,
           eval_batch_size: 8, log_every: 4, checkpoint_every: 4, device: cpu}}
method_params: {{random: {{}}}}
"""


@pytest.fixture(scope="module")
def shared_data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("data")


@pytest.fixture()
def work(tmp_path: Path, shared_data: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A project folder with a tiny params.yaml; the CLI runs in it."""
    (tmp_path / "params.yaml").write_text(PARAMS.format(data=shared_data))
    monkeypatch.chdir(tmp_path)
    return tmp_path


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def one_line(text: str) -> str:
    lines = [line for line in text.splitlines() if line.strip()]
    assert len(lines) == 1, lines
    return lines[0]


def train(*extra: str) -> int:
    return main(["train", "--method", "dense", "--no-progress", *extra])


def test_a_finished_run_is_refused_kept_and_replaced_only_with_force(
    work: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert train() == 0
    result = work / DENSE / "result.json"
    before = {p.name: digest(p) for p in (result, work / DENSE / "model.pt")}
    capsys.readouterr()
    assert train() == 2
    assert "result.json is a finished run" in one_line(capsys.readouterr().err)
    assert train("--resume") == 0
    out = capsys.readouterr()
    assert "already finished; nothing to do" in one_line(out.out) and not out.err
    assert {p.name: digest(p) for p in (result, work / DENSE / "model.pt")} == before
    assert train("--force") == 0
    assert digest(result) != before["result.json"]


def test_overrides_go_to_the_scratch_folder_and_zero_iterations_are_refused(
    work: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert train() == 0
    before = digest(work / DENSE / "result.json")
    assert train("--iterations", "0") == 2
    assert "--iterations must be positive" in one_line(capsys.readouterr().err)
    assert train("--iterations", "2") == 0
    assert train("--iterations", "2") == 0  # a scratch run is replaced by the next one
    assert train("--profile", "other") == 0
    scratch = work / "runs-scratch"
    assert json.loads((scratch / "tiny" / DENSE.relative_to("runs") / "result.json").read_text())[
        "cost"]["iterations"] == 2
    assert (scratch / "other" / DENSE.relative_to("runs") / "result.json").exists()
    assert digest(work / DENSE / "result.json") == before


def test_a_second_writer_is_refused(work: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = work / DENSE
    out.mkdir(parents=True)
    with FileLock(lock_path(out)):
        assert train() == 2
    assert "is being written by another `bench train`" in one_line(capsys.readouterr().err)
    assert not (out / "result.json").exists()


def test_concurrent_atomic_writes_use_their_own_temp_files(tmp_path: Path) -> None:
    target = tmp_path / "result.json"
    errors: list[BaseException] = []

    def write(k: int) -> None:
        try:
            for i in range(100):
                write_json_atomic(target, {"writer": k, "i": i})
        except BaseException as exc:  # a shared temp name made one writer's rename fail
            errors.append(exc)

    threads = [threading.Thread(target=write, args=(k,)) for k in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    assert json.loads(target.read_text())["i"] == 99
    assert [p.name for p in tmp_path.iterdir()] == ["result.json"]


def test_a_corrupt_checkpoint_is_moved_aside_and_the_run_restarts(
    work: Path, caplog: pytest.LogCaptureFixture
) -> None:
    assert train("--stop-after", "4") == 0
    checkpoint = work / DENSE / "checkpoint.pt"
    checkpoint.write_bytes(checkpoint.read_bytes()[:100])  # truncated
    assert train("--resume") == 0
    assert (work / DENSE / "checkpoint.pt.corrupt").exists()
    assert any("checkpoint.pt" in r.message and "moved aside" in r.message for r in caplog.records)
    assert json.loads((work / DENSE / "result.json").read_text())["cost"]["iterations"] == 8


def test_a_corrupt_model_is_named(work: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert train() == 0
    model = work / DENSE / "model.pt"
    model.write_bytes(model.read_bytes()[:200])
    capsys.readouterr()
    assert main(["sparsity", str(DENSE)]) == 1
    line = one_line(capsys.readouterr().err)
    assert "model.pt" in line and "corrupt or truncated" in line


@pytest.mark.parametrize("damage", ["same_size", "truncated"])
def test_damaged_prepared_data_stops_with_exit_3(
    work: Path, shared_data: Path, damage: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["prepare", "synthetic", "--params", "params.yaml"]) == 0
    data = work / "data"
    shutil.copytree(shared_data, data)
    params = work / "params.yaml"
    params.write_text(params.read_text().replace(str(shared_data), str(data)))
    npy = data / "synthetic" / "prepared" / "train" / "depth_zbuffer.npy"
    raw = bytearray(npy.read_bytes())
    if damage == "same_size":
        raw[-1] ^= 0xFF
        npy.write_bytes(bytes(raw))
    else:
        npy.write_bytes(bytes(raw[: len(raw) // 2]))
    capsys.readouterr()
    for argv in (["prepare", "synthetic", "--verify"], ["train", "--method", "dense", "--no-progress"]):
        assert main(argv) == 3
        line = one_line(capsys.readouterr().err)
        assert str(npy) in line and "bench prepare synthetic" in line
    assert not (work / DENSE / "result.json").exists()


def test_aggregate_refuses_a_missing_runs_folder_and_writes_nothing(
    work: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    reports = work / "reports"
    reports.mkdir()
    (reports / "leaderboard.json").write_text('{"kept": true}\n')
    assert main(["aggregate", "--runs", "no-such-runs", "--out", str(reports)]) == 2
    assert "no-such-runs" in one_line(capsys.readouterr().err)
    assert [p.name for p in reports.iterdir()] == ["leaderboard.json"]
    assert (reports / "leaderboard.json").read_text() == '{"kept": true}\n'


@pytest.mark.parametrize(
    ("edit", "needle"),
    [
        (lambda t: t.replace("seeds: [0]\n", "seeds: [0]\nseeds: [1]\n"), "duplicate key 'seeds' (line 8, column 1)"),
        (lambda t: t.replace("seeds: [0]", "seeds: [0"), "not valid YAML at line"),
        (lambda t: t.replace("  tiny: {width_mult", "  tiny: {lr: -0.001, width_mult"), "lr must be positive"),
        (lambda t: t.replace("crop: null,\n          eval", "crop: [64, 64],\n          eval"),
         "crop [64, 64] is larger than the images (32×32)"),
    ],
)
def test_config_errors_stop_at_validation(
    work: Path, edit: object, needle: str, capsys: pytest.CaptureFixture[str]
) -> None:
    params = work / "params.yaml"
    params.write_text(edit(params.read_text()))  # type: ignore[operator]
    assert params.read_text() != PARAMS
    assert train() == 2
    line = one_line(capsys.readouterr().err)
    assert needle in line and "params.yaml" in line
    assert not (work / "runs").exists()


def test_unprepared_real_data_exits_3(work: Path, capsys: pytest.CaptureFixture[str]) -> None:
    for argv in (
        ["train", "--method", "dense", "--dataset", "nyuv2", "--profile", "other"],
        ["prepare", "nyuv2", "--verify"],
    ):
        assert main(argv) == 3
        assert "data not available" in one_line(capsys.readouterr().err)


def test_readme_dry_run_exits_with_one_line(tmp_path: Path) -> None:
    """The README's dry run, as printed, in a copy of the project's params: on the synthetic
    default the paper profile's crop cannot fit (exit 2, at validation); with NYU-v2 not prepared
    here it is exit 3. Subprocesses, so stderr is exactly what a user sees."""
    params = tmp_path / "params.yaml"
    params.write_text((ROOT / "params.yaml").read_text())
    cmd = [sys.executable, "-m", "bench", "train", "--profile", "nyuv2_resnet34", "--method", "dense",
           "--iterations", "2", "--device", "cpu"]
    synthetic = subprocess.run(cmd, cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert synthetic.returncode == 2
    assert "crop [321, 321] is larger than the images" in one_line(synthetic.stderr)
    nyu = subprocess.run([*cmd, "--dataset", "nyuv2"], cwd=tmp_path, capture_output=True, text=True,
                         timeout=120)
    assert nyu.returncode == 3
    assert "data not available" in one_line(nyu.stderr)
    assert not list(tmp_path.glob("runs*/**/seed0"))  # no run folder was started


def test_provenance_ignores_files_the_pipeline_rewrites(tmp_path: Path) -> None:
    def git(*args: str) -> None:
        subprocess.run(["git", "-C", str(tmp_path), *args], check=True, capture_output=True)

    git("init", "-q")
    (tmp_path / "dvc.lock").write_text("a\n")
    (tmp_path / "code.py").write_text("x = 1\n")
    git("add", ".")
    git("-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "init")
    (tmp_path / "dvc.lock").write_text("b\n")  # what `dvc repro` does
    assert git_dirty(tmp_path) is False
    (tmp_path / "code.py").write_text("x = 2\n")
    assert git_dirty(tmp_path) is True
