"""NYU-v2: `bench fetch nyuv2 --raw` → `bench prepare nyuv2` → loader → one training step, plus
the encodings, the validation split, the report, idempotence and resuming."""

from __future__ import annotations

import json
import math
import signal
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from fixtures import train_one_step
from fixtures.raw_nyuv2 import RawNyu, build_raw_nyuv2
from PIL import Image

from bench.cli import main
from datasets import nyuv2
from datasets.prepared import prepared_dir, read_manifest


@pytest.fixture()
def raw(tmp_path: Path) -> RawNyu:
    return build_raw_nyuv2(tmp_path / "raw")


def _fetch_and_prepare(raw: RawNyu, data: Path) -> dict:
    assert main(["fetch", "nyuv2", "--raw", str(raw.root), "--data-root", str(data)]) == 0
    assert main(["prepare", "nyuv2", "--data-root", str(data)]) == 0
    return read_manifest(prepared_dir(data, "nyuv2"))


def test_fetch_prepare_load_and_train(raw: RawNyu, tmp_path: Path) -> None:
    data = tmp_path / "data"
    manifest = _fetch_and_prepare(raw, data)
    assert manifest["scoring"] == "nyu" and manifest["num_classes"] == 40
    assert manifest["image_size"] == [48, 64]  # not 480×640: warned, not failed
    assert any("480x640" in w for w in manifest["report"]["warnings"])
    assert manifest["seg_class_weights"] is None
    assert len(manifest["rgb_mean"]) == 3 and all(s > 0 for s in manifest["rgb_std"])
    val_ids = manifest["source"]["val_ids"]
    assert val_ids == nyuv2.validation_ids(raw.train_ids) and len(val_ids) == 1
    counts = {s: manifest["splits"][s]["count"] for s in ("train", "val", "test")}
    assert counts == {"train": 6, "val": 1, "test": 2}  # 8 train − 1 val − 1 corrupt; 3 − 1
    report = json.loads((prepared_dir(data, "nyuv2") / "report.json").read_text())
    assert {(s["key"], s["kind"]) for s in report["skipped"]} == {
        (raw.corrupt[0], "corrupt"), (raw.missing[0], "missing")}
    assert math.isfinite(train_one_step(prepared_dir(data, "nyuv2"), crop=(32, 48)))


def test_encodings(raw: RawNyu, tmp_path: Path) -> None:
    nyuv2.prepare(tmp_path, raw.root)
    root = prepared_dir(tmp_path, "nyuv2")
    manifest = read_manifest(root)
    train = [i for i in raw.train_ids if i not in manifest["source"]["val_ids"]
             and f"train/{i}" not in raw.corrupt]
    first = raw.root / "img" / f"{train[0]}.png"
    rgb = np.load(root / "train" / "rgb.npy")[0]
    assert np.array_equal(rgb, np.array(Image.open(first).convert("RGB")))  # RGB, not BGR
    seg = np.load(root / "train" / "segment_semantic.npy")[0]
    assert seg[0, 0] == 255 and seg[5:-5, 5:-5].max() < 40
    normal = np.load(root / "train" / "normal.npy")[0].astype(np.float32)
    norm = np.linalg.norm(normal, axis=0)
    assert np.all(norm[:2] == 0)  # white border: invalid
    assert np.all(norm[24, 2:14] == 0)  # (127,127,127): decoded norm < 0.5, invalid
    assert np.allclose(norm[5:-5, 20:-5], 1, atol=2e-3)
    file_rgb = np.array(Image.open(raw.root / "normal_mask" / f"{train[0]}.png"))
    expected = file_rgb[10, 30].astype(np.float32) / 255 * 2 - 1
    assert np.allclose(normal[:, 10, 30], expected / np.linalg.norm(expected), atol=2e-3)
    depth = np.load(root / "train" / "depth_zbuffer.npy")[0, 0]
    file_depth = np.load(raw.root / "depth" / f"{train[0]}.npy")
    assert np.all(depth[:2] == 0) and np.all(depth[25, 2:14] == 0)
    assert np.array_equal(depth[5:-5, 5:-5], file_depth[5:-5, 5:-5])


def test_validation_list_is_fixed() -> None:
    ids = [f"{i:04d}" for i in range(1, 1450)]
    val = nyuv2.validation_ids(ids[:795])
    assert len(val) == 80 and val == nyuv2.validation_ids(list(reversed(ids[:795])))
    assert set(val) <= set(ids[:795])


def test_idempotent_and_resumes_after_interrupt(raw: RawNyu, tmp_path: Path,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    reference = nyuv2.prepare(tmp_path / "a", raw.root)
    calls: list[str] = []
    load = nyuv2.load_sample

    def counting(c, size):  # type: ignore[no-untyped-def]
        calls.append(c.key)
        if len(calls) == 6 and fail:
            raise KeyboardInterrupt  # as if killed mid-way
        return load(c, size)

    monkeypatch.setattr(nyuv2, "load_sample", counting)
    fail = False
    assert nyuv2.prepare(tmp_path / "a", raw.root) == reference
    assert calls == []  # same raw → nothing redone
    fail = True
    with pytest.raises(KeyboardInterrupt):
        nyuv2.prepare(tmp_path / "b", raw.root, checkpoint_every=2)
    assert not (prepared_dir(tmp_path / "b", "nyuv2") / "manifest.json").exists()
    calls.clear()
    fail = False
    resumed = nyuv2.prepare(tmp_path / "b", raw.root, checkpoint_every=2)
    assert len(calls) == 11 - 5  # the interrupt saved progress after 5 finished samples
    assert resumed == reference


KILL_SCRIPT = """
import os, signal, sys
sys.path.insert(0, {tests!r})
from datasets import nyuv2
load, calls = nyuv2.load_sample, []
def killing(c, size):
    calls.append(c.key)
    if len(calls) == 6:
        os.kill(os.getpid(), signal.SIGKILL)  # no handler runs, no final checkpoint
    return load(c, size)
nyuv2.load_sample = killing
nyuv2.prepare({data!r}, {raw!r}, checkpoint_every=2)
"""


def test_resumes_after_hard_kill(raw: RawNyu, tmp_path: Path) -> None:
    reference = nyuv2.prepare(tmp_path / "a", raw.root)
    script = KILL_SCRIPT.format(tests=str(Path(__file__).parent), data=str(tmp_path / "b"),
                                raw=str(raw.root))
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True)
    assert proc.returncode == -signal.SIGKILL
    progress = json.loads((prepared_dir(tmp_path / "b", "nyuv2").with_name("prepared.partial")
                           / "progress.json").read_text())
    assert progress["position"] == 4  # the last periodic checkpoint
    assert nyuv2.prepare(tmp_path / "b", raw.root, checkpoint_every=2) == reference


def test_changed_raw_is_prepared_again(raw: RawNyu, tmp_path: Path) -> None:
    first = nyuv2.prepare(tmp_path, raw.root)
    Image.fromarray(np.zeros((48, 64, 3), np.uint8)).save(raw.root / "img" /
                                                          f"{raw.test_ids[1]}.png")
    second = nyuv2.prepare(tmp_path, raw.root)
    assert second["source"]["fingerprint"] != first["source"]["fingerprint"]
    assert second["splits"]["test"]["files"]["rgb"]["sha256"] != (
        first["splits"]["test"]["files"]["rgb"]["sha256"])


def test_prepare_without_registered_copy_exits_3(tmp_path: Path,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["prepare", "nyuv2", "--data-root", str(tmp_path)]) == 3
    assert "bench fetch nyuv2" in capsys.readouterr().err
