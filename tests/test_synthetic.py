"""The embedded synthetic datasets: determinism, encodings, geometric consistency, learnability."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch import nn

from bench.config import SyntheticData
from datasets.prepared import ARRAY_DTYPES, prepared_dir, read_manifest
from datasets.registry import dataset_spec
from datasets.synthetic import generate_sample, prepare
from datasets.synthetic_maps import edge_map, keypoint_map
from datasets.synthetic_scenes import CEILING, FLOOR, NUM_CLASSES, WALL, focal_length

SMALL = SyntheticData(height=32, width=40, num_train=12, num_val=4, num_test=6, seed=7)


@pytest.fixture(scope="module")
def taskonomy_root(tmp_path_factory: pytest.TempPathFactory):
    root = tmp_path_factory.mktemp("synthetic")
    prepare(root, "synthetic_taskonomy", SMALL)
    return prepared_dir(root, "synthetic_taskonomy")


def _load(root, split: str) -> dict[str, np.ndarray]:
    manifest = read_manifest(root)
    count = manifest["splits"][split]["count"]
    return {
        key: np.load(root / split / f"{key}.npy")[:count]
        for key in ("rgb", *manifest["tasks"])
    }


def test_same_seed_same_sample_different_seed_different() -> None:
    a = generate_sample(SMALL, "train", 3, taskonomy=True)
    b = generate_sample(SMALL, "train", 3, taskonomy=True)
    assert a.keys() == b.keys()
    for key in a:
        np.testing.assert_array_equal(a[key], b[key])
    other = generate_sample(dataclasses.replace(SMALL, seed=8), "train", 3)
    assert not np.array_equal(a["rgb"], other["rgb"])
    assert not np.array_equal(a["rgb"], generate_sample(SMALL, "val", 3)["rgb"])


def test_prepare_is_byte_identical_for_a_seed(tmp_path, taskonomy_root) -> None:
    again = prepare(tmp_path / "a", "synthetic_taskonomy", SMALL)
    first = read_manifest(taskonomy_root)
    assert again["splits"] == first["splits"]  # same sha256 for every array
    reseeded = prepare(tmp_path / "b", "synthetic_taskonomy", dataclasses.replace(SMALL, seed=9))
    assert reseeded["splits"]["train"]["files"]["rgb"]["sha256"] != (
        first["splits"]["train"]["files"]["rgb"]["sha256"]
    )


def test_prepare_is_idempotent_and_redoes_on_a_new_config(tmp_path) -> None:
    cfg = dataclasses.replace(SMALL, num_train=3, num_val=1, num_test=1)
    first = prepare(tmp_path, "synthetic", cfg)
    manifest_path = prepared_dir(tmp_path, "synthetic") / "manifest.json"
    stamp = manifest_path.stat().st_mtime_ns
    assert prepare(tmp_path, "synthetic", cfg) == first
    assert manifest_path.stat().st_mtime_ns == stamp
    bigger = prepare(tmp_path, "synthetic", dataclasses.replace(cfg, num_train=4))
    assert bigger["splits"]["train"]["count"] == 4
    with pytest.raises(ValueError, match="not synthetic"):
        prepare(tmp_path, "nyuv2", cfg)


def test_manifest(taskonomy_root) -> None:
    manifest = read_manifest(taskonomy_root)
    spec = dataset_spec("synthetic_taskonomy")
    assert manifest["tasks"] == list(spec.tasks)
    assert manifest["num_classes"] == NUM_CLASSES == spec.num_classes
    assert manifest["scoring"] == "taskonomy"
    assert manifest["seg_class_weights"] is None
    assert manifest["image_size"] == [SMALL.height, SMALL.width]
    assert manifest["source"]["seed"] == SMALL.seed
    assert {s: manifest["splits"][s]["count"] for s in ("train", "val", "test")} == {
        "train": 12, "val": 4, "test": 6,
    }
    train_rgb = _load(taskonomy_root, "train")["rgb"].reshape(-1, 3).astype(np.float64)
    np.testing.assert_allclose(manifest["rgb_mean"], train_rgb.mean(0), rtol=1e-5)
    np.testing.assert_allclose(manifest["rgb_std"], train_rgb.std(0), rtol=1e-4)


def test_encodings_and_ranges(taskonomy_root) -> None:
    arrays = _load(taskonomy_root, "train")
    n, h, w = 12, SMALL.height, SMALL.width
    for key, array in arrays.items():
        assert array.dtype == ARRAY_DTYPES[key], key
    assert arrays["rgb"].shape == (n, h, w, 3)
    seg = arrays["segment_semantic"]
    assert seg.shape == (n, h, w)
    assert set(np.unique(seg)) <= set(range(NUM_CLASSES)) | {255}
    assert 0 < (seg == 255).mean() < 0.1  # some ignore pixels, not many
    assert {FLOOR, WALL} <= set(np.unique(seg))
    depth = arrays["depth_zbuffer"]
    assert depth.shape == (n, 1, h, w)
    valid = depth[:, 0] > 0
    assert 0.8 < valid.mean() < 1.0  # a few invalid pixels
    assert depth[:, 0][valid].min() > 0.3 and depth.max() < 12.0
    normal = arrays["normal"].astype(np.float32)
    assert normal.shape == (n, 3, h, w)
    norm = np.linalg.norm(normal, axis=1)
    np.testing.assert_allclose(norm[valid], 1.0, atol=2e-3)
    assert np.all(norm[~valid] == 0)  # normals are invalid exactly where depth is
    for key in ("keypoints2d", "edge_texture"):
        assert arrays[key].shape == (n, 1, h, w)
        assert arrays[key].min() >= -1.0 and arrays[key].max() <= 1.0
        assert 0.0 < (arrays[key] > -0.99).mean() < 1.0, key


def test_geometry_is_consistent() -> None:
    """Floor pixels face up and lie on one plane; ceilings face down; walls are vertical."""
    cfg = dataclasses.replace(SMALL, height=48, width=48)
    f = focal_length(cfg.width)
    v, u = np.mgrid[0 : cfg.height, 0 : cfg.width] + 0.5
    rays = np.stack([(u - cfg.width / 2) / f, (v - cfg.height / 2) / f, np.ones_like(u)])
    for index in range(6):
        s = generate_sample(cfg, "test", index)
        seg, depth, normal = s["segment_semantic"], s["depth_zbuffer"][0], s["normal"]
        valid = depth > 0
        floor = (seg == FLOOR) & valid
        assert floor.sum() > 20
        assert np.all(normal[1][floor] < -0.8)  # y is down: the floor normal points up
        assert np.all(normal[1][(seg == CEILING) & valid] > 0.8)
        assert np.all(np.abs(normal[1][(seg == WALL) & valid]) < 0.5)
        offsets = np.einsum("chw,chw->hw", rays * depth, normal)[floor]  # n·p per floor pixel
        assert offsets.std() < 1e-3 * abs(offsets.mean())
        assert np.all(np.einsum("chw,chw->hw", rays, normal)[valid] < 1e-6)  # facing the camera


def _constant_baselines(train: dict, test: dict) -> dict[str, float]:
    seg = train["segment_semantic"]
    majority = torch.bincount(seg[seg != 255]).argmax()
    labelled = test["segment_semantic"] != 255
    mean_normal = train["normal"].sum(dim=(0, 2, 3))
    valid_t = train["depth_zbuffer"] > 0
    valid = test["depth_zbuffer"] > 0
    return {
        "seg_acc": (test["segment_semantic"][labelled] == majority).float().mean().item(),
        "normal_cos": (test["normal"].permute(0, 2, 3, 1)[valid[:, 0]]
                       @ (mean_normal / mean_normal.norm())).mean().item(),
        "depth_l1": (test["depth_zbuffer"][valid] - train["depth_zbuffer"][valid_t].median())
        .abs().mean().item(),
        "edge_l1": (test["edge_texture"] - train["edge_texture"].median()).abs().mean().item(),
        "keypoint_l1": (test["keypoints2d"] - train["keypoints2d"].median()).abs().mean().item(),
    }


def _losses(out: dict, batch: dict) -> dict[str, torch.Tensor]:
    valid = batch["depth_zbuffer"] > 0
    cos = F.cosine_similarity(out["normal"], batch["normal"], dim=1)
    return {
        "seg": F.cross_entropy(out["segment_semantic"], batch["segment_semantic"], ignore_index=255),
        "normal": (1 - cos[valid[:, 0]]).mean(),
        "depth": (out["depth_zbuffer"] - batch["depth_zbuffer"])[valid].abs().mean(),
        "edge": (out["edge_texture"] - batch["edge_texture"]).abs().mean(),
        "keypoint": (out["keypoints2d"] - batch["keypoints2d"]).abs().mean(),
    }


@pytest.fixture
def one_thread():
    # Tiny convolutions are much slower with an intra-op thread pool on a busy 2-core machine.
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def _train_tiny_cnn(
    root, steps: int, width: int, dilations: tuple[int, ...]
) -> tuple[dict[str, float], dict[str, float]]:
    """Train a small multi-task CNN on `root`'s train split; (test errors, constant baselines)."""
    from bench.data import PreparedDataset, TrainStream

    train = PreparedDataset(root, "train")
    test = PreparedDataset(root, "test")
    torch.manual_seed(0)
    layers: list[nn.Module] = []
    for i, dilation in enumerate(dilations):
        layers += [nn.Conv2d(3 if i == 0 else width, width, 3, padding=dilation,
                             dilation=dilation), nn.ReLU()]
    body = nn.Sequential(*layers)
    heads = nn.ModuleDict({t: nn.Conv2d(width, c, 1) for t, c in
                           (("segment_semantic", NUM_CLASSES), ("normal", 3),
                            ("depth_zbuffer", 1), ("edge_texture", 1), ("keypoints2d", 1))})
    optimizer = torch.optim.Adam([*body.parameters(), *heads.parameters()], lr=5e-3)
    stream = iter(TrainStream(train, batch_size=8, seed=0))
    for _ in range(steps):
        batch = next(stream)
        features = body(batch["rgb"])
        loss = sum(_losses({t: h(features) for t, h in heads.items()}, batch).values())
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    batch = test.batch(np.arange(len(test)))
    with torch.no_grad():
        features = body(batch["rgb"])
        out = {t: h(features) for t, h in heads.items()}
    errors = {k: v.item() for k, v in _losses(out, batch).items()}
    labelled = batch["segment_semantic"] != 255
    correct = out["segment_semantic"].argmax(1)[labelled] == batch["segment_semantic"][labelled]
    errors["seg_acc"] = correct.float().mean().item()
    return errors, _constant_baselines(train.batch(np.arange(len(train))), batch)


def test_a_tiny_cnn_beats_constant_predictors(tmp_path, one_thread) -> None:
    """Learnable: a 3-layer CNN trained for 150 steps beats the best constant predictor on
    every task (at 32×32; the slow test below does the default 64×64)."""
    cfg = SyntheticData(height=32, width=32, num_train=64, num_val=0, num_test=16, seed=1)
    prepare(tmp_path, "synthetic_taskonomy", cfg)
    errors, base = _train_tiny_cnn(prepared_dir(tmp_path, "synthetic_taskonomy"), 150, 16,
                                   (1, 2, 4))
    assert errors["seg_acc"] > base["seg_acc"] + 0.15
    assert 1 - errors["normal"] > base["normal_cos"] + 0.1
    assert errors["depth"] < 0.85 * base["depth_l1"]
    assert errors["edge"] < base["edge_l1"]
    assert errors["keypoint"] < 0.8 * base["keypoint_l1"]


@pytest.mark.slow
def test_a_small_cnn_beats_constant_predictors_on_every_task(tmp_path, one_thread) -> None:
    """The default 64×64 images, all five tasks, a 5-layer CNN for 1000 steps (minutes)."""
    cfg = SyntheticData(num_train=256, num_val=0, num_test=32, seed=1)
    prepare(tmp_path, "synthetic_taskonomy", cfg)
    errors, base = _train_tiny_cnn(prepared_dir(tmp_path, "synthetic_taskonomy"), 1000, 24,
                                   (1, 1, 2, 4, 1))
    assert errors["seg_acc"] > base["seg_acc"] + 0.2
    assert 1 - errors["normal"] > base["normal_cos"] + 0.2
    assert errors["depth"] < 0.7 * base["depth_l1"]
    assert errors["edge"] < 0.8 * base["edge_l1"]
    assert errors["keypoint"] < 0.9 * base["keypoint_l1"]


def test_keypoints_and_edges_are_functions_of_the_image(taskonomy_root) -> None:
    """The 2-D targets are recoverable from the stored (noisy) RGB by the operators that made
    them, so they are learnable from the input, not noise."""
    arrays = _load(taskonomy_root, "test")
    luminance = (arrays["rgb"].astype(np.float64) / 255) @ np.array([0.299, 0.587, 0.114])
    for key, operator in (("keypoints2d", keypoint_map), ("edge_texture", edge_map)):
        target = arrays[key][:, 0].astype(np.float32)
        recovered = np.stack([operator(image) for image in luminance])
        constant = np.abs(target - np.median(target)).mean()
        assert np.abs(recovered - target).mean() < 0.2 * constant, key
