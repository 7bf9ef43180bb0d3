"""Tiny-Taskonomy: both raw layouts, the building split (bare-CR CSV), the encodings, the report,
and `bench fetch taskonomy --raw` → `bench prepare taskonomy` → loader → one training step."""

from __future__ import annotations

import functools
import json
import math
from pathlib import Path

import numpy as np
import pytest
from fixtures import train_one_step
from fixtures.raw_taskonomy import BUILDINGS, RawTaskonomy, build_raw_taskonomy, split_csv_bytes
from PIL import Image

from bench.cli import main
from datasets import taskonomy
from datasets import taskonomy_raw as tr
from datasets.prepared import prepared_dir, read_manifest
from datasets.preparer import Candidate


def test_fetch_prepare_load_and_train(tmp_path: Path,
                                      capsys: pytest.CaptureFixture[str]) -> None:
    raw = build_raw_taskonomy(tmp_path / "raw")
    data = tmp_path / "data"
    assert main(["fetch", "taskonomy", "--raw", str(raw.root), "--data-root", str(data)]) == 0
    assert main(["prepare", "taskonomy", "--data-root", str(data)]) == 0
    manifest = read_manifest(prepared_dir(data, "taskonomy"))
    assert manifest["scoring"] == "taskonomy" and manifest["num_classes"] == 17
    assert manifest["image_size"] == [256, 256]
    assert manifest["seg_class_weights"] == pytest.approx(list(np.linspace(0.5, 9.0, 17)))
    assert manifest["source"]["layout"] == "omnidata"
    assert "woodbine" in manifest["source"]["buildings_missing"]
    assert manifest["source"]["buildings"]["val"] == ["wiconisco"]
    counts = {s: manifest["splits"][s]["count"] for s in ("train", "val", "test")}
    assert counts == {"train": 3, "val": 1, "test": 2}
    report = json.loads((prepared_dir(data, "taskonomy") / "report.json").read_text())
    assert {(s["key"], s["kind"]) for s in report["skipped"]} == {
        (raw.corrupt[0], "corrupt"), (raw.missing[0], "missing")}
    assert math.isfinite(train_one_step(prepared_dir(data, "taskonomy"), crop=(64, 64)))


def test_both_layouts_give_the_same_arrays(tmp_path: Path) -> None:
    shas = []
    for layout in ("omnidata", "taskonomy"):
        raw = build_raw_taskonomy(tmp_path / f"raw_{layout}", layout=layout)
        assert tr.detect_layout(raw.root) == layout
        manifest = taskonomy.prepare(tmp_path / layout, raw.root)
        assert manifest["report"]["layout"] == layout
        shas.append({s: {k: f["sha256"] for k, f in v["files"].items()}
                     for s, v in manifest["splits"].items()})
    assert shas[0] == shas[1]


def _one(raw: RawTaskonomy, building: str = "merom") -> Candidate:
    p, v = raw.views[building][0]
    return Candidate(BUILDINGS[building], f"{building}/point_{p}_view_{v}", (building, p, v),
                     functools.partial(tr.locate, raw.root, raw.layout))


@pytest.mark.parametrize(("seg_bits", "kp_bits"), [(8, 16), (16, 8)])
def test_encodings(seg_bits: int, kp_bits: int, tmp_path: Path) -> None:
    raw = build_raw_taskonomy(tmp_path, seg_bits=seg_bits, kp_bits=kp_bits, damage=False)
    c = _one(raw)
    sample, warnings = taskonomy.load_sample(c, size=32)  # the fixture's own size: no resize
    assert any("raw size 32x32" in w for w in warnings)
    assert any("8-bit" in w for w in warnings) == (kp_bits == 8)
    assert any("16-bit file" in w for w in warnings) == (seg_bits == 16)
    seg_raw = np.array(Image.open(c.files["segment_semantic"])).astype(np.int64)
    assert np.array_equal(sample["segment_semantic"], np.maximum(seg_raw, 1) - 1)
    assert sample["segment_semantic"].max() <= 16
    depth_raw = np.array(Image.open(c.files["depth_zbuffer"])).astype(np.float64)
    valid = depth_raw < 64500
    expected = np.where(valid, np.log1p(depth_raw) / np.log(2**16), 0)
    assert np.allclose(sample["depth_zbuffer"][0], expected, atol=1e-6)
    norm = np.linalg.norm(sample["normal"], axis=0)
    assert np.all(norm[~valid] == 0) and np.allclose(norm[valid], 1, atol=1e-5)
    normal_raw = np.array(Image.open(c.files["normal"])).astype(np.float32) / 255 * 2 - 1
    direction = normal_raw[20, 20] / np.linalg.norm(normal_raw[20, 20])
    assert np.allclose(sample["normal"][:, 20, 20], direction, atol=1e-5)
    kp_raw = np.array(Image.open(c.files["keypoints2d"])).astype(np.float64) / 2.0**kp_bits
    assert np.allclose(sample["keypoints2d"][0], np.clip(kp_raw, 0, 0.005) / 0.005 * 2 - 1,
                       atol=1e-5)
    for task in ("keypoints2d", "edge_texture"):
        assert sample[task].min() >= -1 and sample[task].max() <= 1
    resized, _ = taskonomy.load_sample(c)
    assert resized["rgb"].shape == (256, 256, 3) and resized["normal"].shape == (3, 256, 256)


@pytest.mark.parametrize("ending", ["\r", "\n", "\r\n"])
def test_split_csv_line_endings(ending: str, tmp_path: Path) -> None:
    path = tmp_path / tr.SPLIT_CSV
    path.write_bytes(split_csv_bytes().replace(b"\r", ending.encode()))
    splits = tr.read_split_csv(path)
    assert {s: len(b) for s, b in splits.items()} == {"train": 25, "val": 5, "test": 5}
    assert splits == {s: list(b) for s, b in tr.TINY_SPLIT.items()}


def test_split_falls_back_to_spec_and_prior_is_required(tmp_path: Path,
                                                        capsys: pytest.CaptureFixture[str]
                                                        ) -> None:
    raw = build_raw_taskonomy(tmp_path / "raw", damage=False)
    (raw.root / tr.SPLIT_CSV).unlink()
    info = tr.verify_raw(raw.root)
    assert info["split_source"].startswith("built-in")
    assert any(tr.SPLIT_CSV in w for w in info["warnings"])
    (raw.root / tr.PRIOR_FILE).unlink()
    assert main(["prepare", "taskonomy", "--raw", str(raw.root), "--data-root",
                 str(tmp_path / "data")]) == 3
    err = capsys.readouterr().err
    assert "semseg_prior_factor.npy" in err and "Traceback" not in err


def test_rerun_does_nothing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    raw = build_raw_taskonomy(tmp_path / "raw", views_per_building=1, damage=False)
    first = taskonomy.prepare(tmp_path, raw.root)

    def fail(*args: object, **kwargs: object) -> None:
        raise AssertionError("a sample was converted again")

    monkeypatch.setattr(taskonomy, "load_sample", fail)
    assert taskonomy.prepare(tmp_path, raw.root) == first
