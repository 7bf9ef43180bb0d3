"""Fast checks of the performance tooling: `bench latency` on a tiny run, the sparse conv paths,
the step-time measurement, the GPU-time projection, and the bf16 / channels_last switches on
CPU (plus CUDA checks marked `gpu`, skipped without CUDA)."""

from __future__ import annotations

import dataclasses
import json
import math
from pathlib import Path
from typing import Any

import pytest
import torch
from torch import nn

from bench.cli import main
from bench.config import Config, load_config
from bench.conformance import tiny_config
from bench.perf.projection import PAPER_GRID, project, project_all, pruning_methods
from bench.perf.semi import MatmulConv2d, two_four_mask
from bench.perf.sparse_conv import CsrConv2d, swap_convs
from bench.perf.steps import measure_steps
from bench.record.spec import RunSpec
from bench.registry import discover
from bench.train import TrainOptions, train_run

CUDA = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")


@pytest.fixture(scope="module")
def snip_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    work = tmp_path_factory.mktemp("latency")
    config = tiny_config("snip", {}, work)
    train_run(config, RunSpec("snip", 0.9, 0), TrainOptions(progress=False, out_dir=work / "snip"))
    return work / "snip"


def test_latency_cli_writes_latency_json(snip_run: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["latency", str(snip_run), "--repeats", "2", "--warmup", "0"]) == 0
    assert "wrote" in capsys.readouterr().out
    payload = json.loads((snip_run / "latency.json").read_text())
    result = json.loads((snip_run / "result.json").read_text())
    assert payload["schema"] == "bench-latency/1" and payload["method"] == "snip"
    assert payload["batch_size"] == 1 and payload["input_size"] == [32, 32]  # the eval size
    assert payload["macs"]["dense"] == result["cost"]["macs_dense"]
    assert payload["macs"]["theoretical_speedup"] > 5  # 90% sparse: ~10× "if zeros were free"
    paths = payload["paths"]
    assert set(paths) == {"dense", "sparse_csr", "sparse_hybrid", "semi_structured_2to4",
                          "structured"}
    assert not paths["structured"]["available"]  # not a channel-pruned run
    for name in ("dense", "sparse_csr", "sparse_hybrid"):
        assert paths[name]["available"] and len(paths[name]["times_ms"]) == 2
        assert paths[name]["median_ms"] > 0 and paths[name]["speedup_vs_dense"] > 0
    assert paths["sparse_csr"]["layers_sparse"] > 0 and paths["sparse_csr"]["layers_dense"] == 0
    for name in ("sparse_csr", "sparse_hybrid"):  # the sparse paths compute the same function
        assert paths[name]["max_abs_diff"] < 1e-3
    assert paths["semi_structured_2to4"]["available"] == torch.cuda.is_available()
    assert payload["verdict"].startswith(("no speed-up", "sparse"))


def test_latency_of_a_directory_without_a_run_exits_2(tmp_path: Path) -> None:
    assert main(["latency", str(tmp_path)]) == 2


@pytest.mark.parametrize(("kernel", "stride", "padding", "dilation", "bias"),
                         [(3, 1, 1, 1, False), (3, 2, 2, 2, True), (1, 2, 0, 1, False),
                          (7, 2, 3, 1, False)])
def test_sparse_and_matmul_convs_equal_the_conv(kernel: int, stride: int, padding: int,
                                                dilation: int, bias: bool) -> None:
    torch.manual_seed(0)
    conv = nn.Conv2d(8, 6, kernel, stride, padding, dilation, bias=bias)
    with torch.no_grad():
        conv.weight.mul_(torch.rand_like(conv.weight) > 0.8)
    x = torch.randn(2, 8, 13, 11)
    with torch.no_grad():
        want = conv(x)
        for module in (CsrConv2d(conv), MatmulConv2d(conv, conv.weight.flatten(1))):
            assert torch.allclose(module(x), want, atol=1e-5)


def test_swap_convs_replaces_only_what_it_is_asked_to() -> None:
    model = nn.Sequential(nn.Conv2d(3, 4, 3), nn.Conv2d(4, 4, 3, groups=2))
    n = swap_convs(model, lambda _, c: CsrConv2d(c) if c.groups == 1 else None)
    assert n == 1 and isinstance(model[0], CsrConv2d) and isinstance(model[1], nn.Conv2d)


def test_two_four_mask_keeps_the_two_largest_of_every_four() -> None:
    w = torch.tensor([[0.1, -3.0, 2.0, 0.0, 5.0, 4.0, -6.0, 1.0]])
    assert two_four_mask(w).tolist() == [[False, True, True, False, True, False, True, False]]
    mask = two_four_mask(torch.randn(16, 64))
    assert (mask.view(16, 16, 4).sum(-1) == 2).all()


def test_step_ratios_run_through_the_training_loop(tmp_path: Path) -> None:
    config = tiny_config("random", {}, tmp_path)
    report = measure_steps(config, ["random"], target_sparsity=0.5, steps=4, chunk=2)
    assert list(report.methods) == ["dense", "random"] and report.rounds == 2
    random = report.methods["random"]
    assert random.kind == "mask" and len(random.wall) == len(random.cpu) == 4
    assert all(t > 0 for t in random.wall) and math.isfinite(report.ratio("random"))
    assert report.target("random") == 1.10 and report.target("dense") is None
    payload = json.loads(json.dumps(report.to_dict()))
    assert payload["methods"]["random"]["timed_steps"] == 4 and payload["clock"] == "cpu"
    assert "random" in report.table()


def test_a_failing_method_is_reported_not_fatal(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import bench.train.state as state_module

    real = state_module.get_method_class

    def get(slug: str) -> Any:
        if slug != "random":
            return real(slug)

        class Broken(real("random")):  # type: ignore[misc]
            def prepare(self, ctx: Any) -> None:
                raise RuntimeError("work in progress")

        return Broken

    monkeypatch.setattr(state_module, "get_method_class", get)
    report = measure_steps(tiny_config("random", {}, tmp_path), ["random"], steps=2, chunk=2)
    assert "work in progress" in (report.methods["random"].error or "")
    assert report.ok("dense") and "failed" in report.table()


def tiny_params_file(tmp_path: Path, **changes: Any) -> Path:
    """params.yaml with the tiny profile and dataset (rendered once per session), changed."""
    import yaml

    from bench.conformance import TINY, TINY_DATA
    from bench.train.setup import prepared_root
    from bench.typed import to_dict

    tiny = tiny_config("random", {}, tmp_path)
    prepared_root(tiny)
    params = yaml.safe_load(Path("params.yaml").read_text())
    params.update(profile="tiny", profiles={"tiny": to_dict(TINY)}, synthetic=to_dict(TINY_DATA),
                  data_root=tiny.data_root, **changes)
    path = tmp_path / "params.yaml"
    path.write_text(yaml.safe_dump(params))
    return path


def test_perf_cli_prints_the_table_and_writes_json(tmp_path: Path,
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    path = tiny_params_file(tmp_path, methods=[])
    out = tmp_path / "perf.json"
    assert main(["perf", "--params", str(path), "--methods", "random",
                 "--sparsity", "0.5", "--steps", "2", "--chunk", "2", "--out", str(out)]) == 0
    assert "random" in capsys.readouterr().out
    payload = json.loads(out.read_text())
    assert payload["steps"]["methods"]["random"]["timed_steps"] == 2
    assert payload["provenance"]["torch_version"] == torch.__version__


def test_perf_cli_refuses_bad_arguments() -> None:
    assert main(["perf", "--dataset", "nyuv2", "--image-size", "64", "64"]) == 2
    assert main(["perf", "--methods", "no_such_method"]) == 2
    assert main(["perf", "--steps", "0"]) == 2


def test_projection_follows_the_formula_and_the_grid() -> None:
    config = load_config("params.yaml")
    row = project(config, "nyuv2_resnet34", utilisation=0.35, peak_tflops=989.0)
    recipe = config.profiles["nyuv2_resnet34"]
    assert row["train_size"] == [321, 321] and row["batch_size"] == recipe.batch_size == 16
    assert 100e9 < row["macs_per_image_train"] < 250e9  # DeepLab-ResNet34, 3 ASPP heads, OS 8
    expected = row["macs_per_image_train"] * 2 * 3 * 16 * recipe.iterations / (0.35 * 989e12)
    assert row["train_seconds"] == pytest.approx(expected)
    assert row["macs_per_image_eval"] > row["macs_per_image_train"]  # 480×640 > 321×321
    methods = len([m for m in discover() if m != "dense"])
    assert methods == pruning_methods() >= 16
    assert row["grid_runs"] == methods * 5 * 3 + 3 == (
        methods * PAPER_GRID["sparsities"] * PAPER_GRID["seeds"] + PAPER_GRID["seeds"])
    assert row["goal_minutes"] == 45 and row["meets_goal"] is (row["run_seconds"] <= 45 * 60)
    slower = project(config, "nyuv2_resnet34", utilisation=0.175)
    assert slower["run_seconds"] == pytest.approx(2 * row["run_seconds"])
    names = [r["profile"] for r in project_all(config)]
    assert names == ["nyuv2_resnet34", "nyuv2_mobilenetv2", "taskonomy_resnet34"]


def test_perf_project_cli(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "projection.json"
    assert main(["perf", "--project", "--out", str(out)]) == 0
    assert "PROJECTION (not a measurement)" in capsys.readouterr().out
    rows = json.loads(out.read_text())["projection"]
    assert {r["profile"] for r in rows} >= {"nyuv2_resnet34", "taskonomy_resnet34"}


def _switched(config: Config, **switches: Any) -> Config:
    recipe = dataclasses.replace(config.recipe, **switches)
    return dataclasses.replace(config, profiles={config.profile: recipe})


def test_bf16_autocast_and_channels_last_run_on_cpu(tmp_path: Path) -> None:
    config = _switched(tiny_config("random", {}, tmp_path), amp_bf16=True, channels_last=True,
                       cudnn_benchmark=True, pin_memory=True)
    result = train_run(config, RunSpec("random", 0.5, 0),
                       TrainOptions(progress=False, out_dir=tmp_path / "run"))
    assert result is not None and result["status"] == "ok"
    values = [v for task in result["metrics"].values() for v in task.values()]
    assert values and all(math.isfinite(v) for v in values)
    assert abs(result["sparsity"]["overall"] - 0.5) < 0.005
    again = train_run(config, RunSpec("random", 0.5, 0),
                      TrainOptions(progress=False, out_dir=tmp_path / "again"))
    assert again is not None and again["metrics"] == result["metrics"]  # deterministic in bf16
    switches = result["provenance"]["switches"]
    assert switches["amp_bf16"] and switches["channels_last"]
    assert switches["cudnn_benchmark"] is False  # asked for, but there is no cuDNN on a CPU
    assert switches["threads"] == torch.get_num_threads()


@pytest.mark.slow
def test_torch_compile_runs_on_cpu(tmp_path: Path) -> None:
    """Inductor compiles the train and eval graphs with the host C++ compiler: minutes."""
    config = _switched(tiny_config("random", {}, tmp_path), compile=True, iterations=4,
                       log_every=2, checkpoint_every=2)
    result = train_run(config, RunSpec("random", 0.5, 0),
                       TrainOptions(progress=False, out_dir=tmp_path / "run"))
    assert result is not None and result["status"] == "ok"
    assert all(math.isfinite(v) for m in result["metrics"].values() for v in m.values())
    assert result["provenance"]["switches"]["compile"] is True


@pytest.mark.gpu
@CUDA
def test_a_tiny_cuda_run_gives_the_cpu_run_shape_of_results(tmp_path: Path) -> None:
    config = tiny_config("snip", {}, tmp_path)
    cpu = train_run(config, RunSpec("snip", 0.5, 0), TrainOptions(progress=False, out_dir=tmp_path / "cpu"))
    gpu_config = _switched(config, device="cuda", amp_bf16=True, channels_last=True,
                           cudnn_benchmark=True, pin_memory=True, num_workers=2)
    gpu = train_run(gpu_config, RunSpec("snip", 0.5, 0),
                    TrainOptions(progress=False, out_dir=tmp_path / "gpu"))
    assert cpu is not None and gpu is not None and gpu["provenance"]["device"].startswith("cuda")
    assert {t: set(m) for t, m in gpu["metrics"].items()} == {t: set(m) for t, m in cpu["metrics"].items()}
    assert all(math.isfinite(v) for m in gpu["metrics"].values() for v in m.values())
    assert gpu["sparsity"]["overall"] == pytest.approx(cpu["sparsity"]["overall"], abs=0.005)
    assert gpu["provenance"]["switches"]["cudnn_benchmark"] is True


@pytest.mark.gpu
@CUDA
def test_two_four_semi_structured_latency_on_cuda(snip_run: Path) -> None:
    from bench.perf.latency import load_run, semi_structured_latency

    model, _, _ = load_run(snip_run)
    entry = semi_structured_latency(model, (64, 64), repeats=3, warmup=1)
    assert "available" in entry
    if entry["available"]:
        assert entry["median_ms"] > 0 and entry["max_abs_diff"] < 0.1


def test_latency_grid_measures_one_seed_and_lists_the_rest(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from bench.config import load_config

    path = tiny_params_file(tmp_path, runs_root=str(tmp_path / "runs"),
                            reports_root=str(tmp_path / "reports"), methods=["snip"],
                            sparsities=[0.9], seeds=[1, 0])
    train_run(load_config(path), RunSpec("snip", 0.9, 1), TrainOptions(progress=False))
    args = ["latency", "--grid", "--params", str(path), "--repeats", "2", "--warmup", "0"]
    assert main(args) == 0  # the first seed of the grid: 1
    payload = json.loads((tmp_path / "reports" / "latency.json").read_text())
    assert payload["schema"] == "bench-latency-grid/1"
    assert list(payload["runs"]) == ["synthetic/resnet34/snip/s0.9/seed1"]
    assert payload["runs"]["synthetic/resnet34/snip/s0.9/seed1"]["method"] == "snip"
    assert payload["skipped"] == {"synthetic/resnet34/dense/s0.0/seed1": "no result.json"}
    assert "not measured: no result.json" in capsys.readouterr().out
    assert main([*args, "--seed", "7"]) == 2  # not a seed of the grid
    assert main(["latency"]) == 2 and main(["latency", str(tmp_path), "--grid"]) == 2
