"""params.yaml validation: bad input is refused before any work with one line and exit code 2."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from conftest_slurm import bench
from conftest_slurm import write_params as write_tiny_params

from bench.cli import main
from bench.config import load_config
from bench.typed import ConfigError

ROOT = Path(__file__).resolve().parents[1]


def write_params(tmp_path: Path, **changes: object) -> Path:
    raw = yaml.safe_load((ROOT / "params.yaml").read_text())
    raw.update(changes)
    path = tmp_path / "params.yaml"
    path.write_text(yaml.safe_dump(raw))
    return path


def test_project_params_load() -> None:
    config = load_config(ROOT / "params.yaml")
    assert config.dataset == "synthetic"
    assert config.recipe.iterations > 0
    for name in config.profiles:
        assert config.with_profile(name).recipe.iterations > 0


@pytest.mark.parametrize(
    ("changes", "needle"),
    [
        ({"sparsitys": [0.5]}, "unknown key 'sparsitys'"),
        ({"sparsities": [1.0]}, "target sparsity must be in [0, 1)"),
        ({"sparsities": [-0.1]}, "target sparsity must be in [0, 1)"),
        ({"methods": ["no_such_method"]}, "unknown method 'no_such_method'"),
        ({"profile": "nope"}, "profile 'nope' is not defined"),
        ({"method_params": {"no_such_method": {}}}, "unknown method 'no_such_method'"),
        ({"seeds": ["a"]}, "expected an integer"),
    ],
)
def test_bad_params_are_refused(tmp_path: Path, changes: dict, needle: str) -> None:
    path = write_params(tmp_path, **changes)
    with pytest.raises(ConfigError) as info:
        load_config(path)
    message = str(info.value)
    assert needle in message
    assert str(path) in message
    assert "\n" not in message


def test_unknown_profile_key_names_the_key(tmp_path: Path) -> None:
    raw = yaml.safe_load((ROOT / "params.yaml").read_text())
    raw["profiles"]["synthetic_cpu"]["learning_rate"] = 0.1
    path = tmp_path / "params.yaml"
    path.write_text(yaml.safe_dump(raw))
    with pytest.raises(ConfigError, match=r"profiles\.synthetic_cpu: unknown key 'learning_rate'"):
        load_config(path)


def test_unknown_dataset_and_backbone(tmp_path: Path) -> None:
    raw = yaml.safe_load((ROOT / "params.yaml").read_text())
    raw["dataset"] = "imagenet"
    path = tmp_path / "params.yaml"
    path.write_text(yaml.safe_dump(raw))
    with pytest.raises(ConfigError, match="unknown dataset 'imagenet'"):
        load_config(path)
    raw["dataset"] = "synthetic"
    raw["backbone"] = "vgg"
    path.write_text(yaml.safe_dump(raw))
    with pytest.raises(ConfigError, match="'vgg' is not one of"):
        load_config(path)


def test_cli_exit_code_2_on_bad_config(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = write_params(tmp_path, sparsities=[1.5])
    code = main(["train", "--params", str(path), "--method", "dense"])
    err = capsys.readouterr().err
    assert code == 2
    assert err.count("\n") == 1 and "target sparsity" in err


@pytest.mark.parametrize(
    "argv",
    [
        ["train", "--method", "no_such_method", "--sparsity", "0.5"],
        ["train", "--method", "dense", "--sparsity", "1.0"],
        ["train", "--method", "dense", "--sparsity", "0.5"],
    ],
)
def test_cli_refuses_bad_run_arguments(argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    code = main([*argv[:1], "--params", str(ROOT / "params.yaml"), *argv[1:]])
    assert code == 2
    assert "Traceback" not in capsys.readouterr().err


TINY_SYNTHETIC = {"height": 32, "width": 32, "num_train": 16, "num_val": 8, "num_test": 8, "seed": 0}


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"seeds": [0, 0]}, "seeds: 0 appears twice"),
        ({"seeds": [1, 0, 1, 1]}, "seeds: 1 appears 3 times"),
        ({"seeds": []}, "seeds: at least one seed is needed"),
        ({"seeds": [0, -1]}, "seeds: must be >= 0, got -1"),
        ({"methods": ["random", "random"]}, "methods: 'random' appears twice"),
        ({"sparsities": [0.5, 0.5]}, "sparsities: 0.5 appears twice"),
        ({"structured_sparsities": [0.7, 0.7]}, "structured_sparsities: 0.7 appears twice"),
        ({"sparsities": []}, "sparsities: at least one target is needed for method 'random'"),
        ({"sparsities": [], "structured_sparsities": [0.7]},
         "sparsities: at least one target is needed for method 'random' "
         "(structured_sparsities apply to channel-removing methods only)"),
        ({"synthetic": {**TINY_SYNTHETIC, "num_train": 0}},
         "synthetic: num_train must be positive, got 0"),
        ({"synthetic": {**TINY_SYNTHETIC, "num_val": 0}},
         "synthetic: num_val must be positive (every run is evaluated on it), got 0"),
        ({"synthetic": {**TINY_SYNTHETIC, "num_test": 0}},
         "synthetic: num_test must be positive (every run is evaluated on it), got 0"),
        ({"synthetic": {**TINY_SYNTHETIC, "num_val": -3}}, "synthetic: num_val must be >= 0, got -3"),
        ({"synthetic": {**TINY_SYNTHETIC, "height": 0}}, "synthetic: height must be at least 8, got 0"),
        ({"synthetic": {**TINY_SYNTHETIC, "width": 4}}, "synthetic: width must be at least 8, got 4"),
        ({"synthetic": {**TINY_SYNTHETIC, "seed": -1}}, "synthetic: seed must be >= 0, got -1"),
    ],
)
def test_a_malformed_grid_exits_2_at_validation(tmp_path: Path, changes: dict, message: str) -> None:
    """The grid a params file asks for is well-formed: a value given twice would count the same
    runs twice, no seed would plan no runs, an empty or too small synthetic split would stop
    later with a traceback. `bench grid --dry-run` (a subprocess: stderr as a user sees it)
    refuses each at validation with one line naming the key."""
    write_tiny_params(tmp_path, **changes)
    done = bench(tmp_path, "grid", "--dry-run", check=False, timeout=120)
    assert done.returncode == 2, done.stderr
    assert done.stderr == f"bench grid: error: params.yaml: {message}\n"
    assert done.stdout == ""
    assert not (tmp_path / "runs").exists()


def test_the_tiny_grid_itself_is_well_formed(tmp_path: Path) -> None:
    """The base of the cases above is valid, so each case fails for its own key only; a target
    listed in both sparsity lists is fine (structured methods run it once)."""
    load_config(write_tiny_params(tmp_path, methods=["random", "channel_l1"], sparsities=[0.7],
                                  structured_sparsities=[0.7], method_params={"random": {}}))
    load_config(write_tiny_params(tmp_path, methods=["channel_l1"], sparsities=[],
                                  structured_sparsities=[0.7], method_params={}))
    load_config(write_tiny_params(tmp_path, methods=[], sparsities=[], method_params={}))
