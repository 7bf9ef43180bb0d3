"""`bench latency-paper` on a tiny network (1/16 width, 64×64, one repeat): the reference table's
schema and labels, the structured targets reached by the methods' own criteria, the sparse paths
computing the dense outputs; the CUDA path on a GPU (marked `gpu`)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import torch

from bench.cli import main
from bench.perf.latency_grid import REFERENCE_FILE, REFERENCE_KIND
from bench.perf.paper_models import UNSTRUCTURED_METHOD, WEIGHTS, magnitude_copy, paper_model
from bench.report.speed_reference import read_reference

ROOT = Path(__file__).resolve().parents[1]
TINY = ["--width-mult", "0.0625", "--input-size", "64", "64", "--repeats", "1", "--warmup", "0"]
TOLERANCE = 0.005  # the channel selection stops within 0.1 pp; one channel moves it < 0.5 pp here


@pytest.fixture(scope="module")
def tiny_reference(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    out = tmp_path_factory.mktemp("latency_paper") / "latency_paper.json"
    threads = torch.get_num_threads()
    try:
        code = main(["latency-paper", "--params", str(ROOT / "params.yaml"), "--out", str(out),
                     "--devices", "cpu", *TINY])
    finally:
        torch.set_num_threads(threads)
    assert code == 0
    payload: dict[str, Any] = json.loads(out.read_text())
    return payload


def test_the_reference_has_the_latency_schema_and_says_what_it_measured(
        tiny_reference: dict[str, Any]) -> None:
    ref = tiny_reference
    assert ref["schema"] == "bench-latency-grid/1" and ref["kind"] == REFERENCE_KIND
    assert ref["weights"] == WEIGHTS and ref["input_size"] == [64, 64]
    assert ref["batch_sizes"] == [1, 8] and ref["model"]["width_mult"] == 0.0625
    assert ref["model"]["num_classes"] == 40  # NYU-v2's heads, not the synthetic set's 8
    assert set(ref["machine"]) >= {"cpu_model", "cpu_capability", "threads", "logical_cpus"}
    assert ref["machine"]["threads"] == 1
    assert set(ref["runs"]) == {"cpu/batch1/channel_l1", "cpu/batch1/channel_mtl",
                                f"cpu/batch1/{UNSTRUCTURED_METHOD}", "cpu/batch8/channel_l1",
                                "cpu/batch8/channel_mtl"}
    assert set(ref["skipped"]) == {f"cpu/batch8/{UNSTRUCTURED_METHOD}"}  # CSR at batch 1 only
    for key, entry in ref["runs"].items():
        assert entry["schema"] == "bench-latency/1", key
        assert entry["batch_size"] == int(key.split("/")[1].removeprefix("batch"))
        assert entry["input_size"] == [64, 64] and entry["weights"] == WEIGHTS
        assert entry["device"] == "cpu" and entry["threads"] == 1
        dense = entry["paths"]["dense"]
        assert dense["available"] and len(dense["times_ms"]) == 1
        assert entry["macs"]["dense"] > entry["macs"]["sparse_theoretical"] > 0


def test_the_structured_methods_reach_the_default_target_with_their_own_criteria(
        tiny_reference: dict[str, Any]) -> None:
    from bench.config import load_config

    target = load_config(ROOT / "params.yaml").structured_sparsities[0]
    for slug in ("channel_l1", "channel_mtl"):
        entry = tiny_reference["runs"][f"cpu/batch1/{slug}"]
        assert entry["structured"] and entry["target_sparsity"] == target
        assert abs(entry["measured_sparsity"] - target) < TOLERANCE, slug
        assert entry["pruning"]["channels_removed"] > 0
        assert entry["paths"]["structured"]["available"]
        assert not entry["paths"]["sparse_csr"]["available"]
    # channel_mtl's task gradients come from synthetic batches, and the file says so
    assert "synthetic" in tiny_reference["runs"]["cpu/batch1/channel_mtl"]["pruning"]["calibration"]
    assert tiny_reference["runs"]["cpu/batch1/channel_l1"]["pruning"]["calibration"] is None


def test_the_sparse_paths_compute_the_dense_outputs(tiny_reference: dict[str, Any]) -> None:
    entry = tiny_reference["runs"][f"cpu/batch1/{UNSTRUCTURED_METHOD}"]
    assert abs(entry["measured_sparsity"] - 0.9) < 1e-6
    for name in ("sparse_csr", "sparse_hybrid"):
        path = entry["paths"][name]
        assert path["available"] and path["max_rel_diff"] < 1e-4, name
    assert entry["paths"]["sparse_csr"]["layers_sparse"] > 0


def test_global_magnitude_zeroes_the_target_fraction_of_the_smallest_weights() -> None:
    dense = paper_model("resnet34", ("segment_semantic", "normal", "depth_zbuffer"), 40,
                        0.0625, seed=0)
    zeroed, info = magnitude_copy(dense, 0.5)
    kept = [w.weight[w.weight != 0].abs().min() for ws in zeroed.prunable_weights().values()
            for w in ws if (w.weight != 0).any()]
    dropped = [d.weight[z.weight == 0].abs().max()
               for dw, zw in zip(dense.prunable_weights().values(),
                                 zeroed.prunable_weights().values(), strict=True)
               for d, z in zip(dw, zw, strict=True) if (z.weight == 0).any()]
    assert max(dropped) <= min(kept)  # one global threshold
    assert abs(info["measured_sparsity"] - 0.5) < 1e-6


def test_the_reference_the_report_reads_is_committed_and_readable() -> None:
    committed = ROOT / REFERENCE_FILE
    if not committed.is_file():
        pytest.fail(f"{REFERENCE_FILE} is missing: run `bench latency-paper` and commit it")
    reference = read_reference(committed)
    assert reference is not None and reference["input_size"] == [321, 321]
    assert reference["model"]["width_mult"] == 1.0
    assert "cpu/batch1/channel_l1" in reference["runs"]


def test_the_report_shows_the_reference_beside_the_embedded_measurements(
        tiny_reference: dict[str, Any], tmp_path: Path) -> None:
    from fixtures.results import built_fixture_site

    from bench.report import build_report

    site, _ = built_fixture_site()
    root = site.parent.parent
    path = tmp_path / "latency_paper.json"
    path.write_text(json.dumps(tiny_reference))
    index = build_report(root / "reports" / "leaderboard.json", root / "runs", tmp_path / "site",
                         reference_json=path).read_text()
    section = index[index.index("At paper size (reference)"):index.index("<h3>Figures</h3>")]
    assert WEIGHTS.replace("'", "&#39;") in section and "×0.0625 width" in section
    assert section.count("<tr>") + section.count('<tr class="noise">') == 1 + 5 + 1  # + skipped
    assert "global_magnitude" in section and "channel_mtl" in section
    assert "No paper-size reference" in (site / "index.html").read_text()  # none next to it


def test_bad_arguments_exit_2(tmp_path: Path) -> None:
    params = ["--params", str(ROOT / "params.yaml"), "--out", str(tmp_path / "x.json")]
    assert main(["latency-paper", *params, "--batch-sizes", "1", "8", "--repeats", "1", "2",
                 "3"]) == 2
    assert main(["latency-paper", *params, "--methods", "snip"]) == 2
    assert not (tmp_path / "x.json").exists()


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_the_cuda_path_runs_unchanged(tmp_path: Path) -> None:
    out = tmp_path / "latency_paper.json"
    assert main(["latency-paper", "--params", str(ROOT / "params.yaml"), "--out", str(out),
                 "--devices", "cpu", "cuda", "--batch-sizes", "1", *TINY]) == 0
    runs = json.loads(out.read_text())["runs"]
    entry = runs[f"cuda/batch1/{UNSTRUCTURED_METHOD}"]
    assert entry["device"] == "cuda" and entry["paths"]["sparse_csr"]["max_rel_diff"] < 1e-3
    assert "available" in entry["paths"]["semi_structured_2to4"]
    assert runs["cuda/batch1/channel_l1"]["paths"]["structured"]["available"]
