"""params.yaml validation: bad input is refused before any work with one line and exit code 2."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

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
