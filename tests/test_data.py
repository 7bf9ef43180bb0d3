"""The loader: PreparedDataset, the deterministic resumable TrainStream, eval_batches."""

from __future__ import annotations

import pickle

import numpy as np
import pytest
import torch

from bench.config import SyntheticData
from bench.data import PreparedDataset, TrainStream, eval_batches
from datasets.prepared import PreparedWriter, prepared_dir
from datasets.synthetic import prepare

CFG = SyntheticData(height=24, width=32, num_train=10, num_val=3, num_test=7, seed=5)


@pytest.fixture(scope="module")
def root(tmp_path_factory: pytest.TempPathFactory):
    data_root = tmp_path_factory.mktemp("data")
    prepare(data_root, "synthetic_taskonomy", CFG)
    return prepared_dir(data_root, "synthetic_taskonomy")


@pytest.fixture(scope="module")
def train(root) -> PreparedDataset:
    return PreparedDataset(root, "train")


def _equal(a: dict[str, torch.Tensor], b: dict[str, torch.Tensor]) -> bool:
    return a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


def test_dataset_attributes_and_sample_types(train: PreparedDataset) -> None:
    assert len(train) == 10
    assert train.tasks == ("segment_semantic", "normal", "depth_zbuffer", "keypoints2d",
                           "edge_texture")
    assert train.num_classes == 8 and train.image_size == (24, 32)
    assert train.class_weights is None and train.scoring == "taskonomy"
    sample = train[3]
    expected = {
        "rgb": ((3, 24, 32), torch.float32),
        "segment_semantic": ((24, 32), torch.int64),
        "normal": ((3, 24, 32), torch.float32),
        "depth_zbuffer": ((1, 24, 32), torch.float32),
        "keypoints2d": ((1, 24, 32), torch.float32),
        "edge_texture": ((1, 24, 32), torch.float32),
    }
    assert {k: (tuple(v.shape), v.dtype) for k, v in sample.items()} == expected
    raw = train.raw([3])["rgb"][0].astype(np.float32).transpose(2, 0, 1)
    restored = sample["rgb"].numpy() * train.rgb_std[:, None, None] + train.rgb_mean[:, None, None]
    np.testing.assert_allclose(restored, raw, atol=1e-3)
    assert abs(float(train.batch(np.arange(10))["rgb"].mean())) < 0.2  # normalised with train stats
    assert len(pickle.dumps(train)) < 20_000  # memory maps are not pickled
    with pytest.raises(IndexError):
        train[10]


def test_manifest_count_and_class_weights(tmp_path) -> None:
    writer = PreparedWriter(tmp_path / "p", "toy", ("segment_semantic", "depth_zbuffer"), 3,
                            (4, 5), {"train": 6, "val": 0, "test": 0})
    for i in range(4):  # allocated 6, written 4: the manifest's count wins
        writer.add("train", {
            "rgb": np.full((4, 5, 3), i, np.uint8),
            "segment_semantic": np.full((4, 5), i % 3, np.uint8),
            "depth_zbuffer": np.full((1, 4, 5), i + 1.0, np.float32),
        })
    writer.finish(rgb_mean=[1.0, 1.0, 1.0], rgb_std=[2.0, 2.0, 2.0], seg_class_weights=[1, 2, 3])
    data = PreparedDataset(tmp_path / "p", "train")
    assert len(data) == 4
    assert torch.equal(data.class_weights, torch.tensor([1.0, 2.0, 3.0]))
    assert data.batch([3])["rgb"].unique().item() == 1.0  # (3 - 1) / 2
    with pytest.raises(IndexError):
        data.raw([4])
    assert [len(b["rgb"]) for b in eval_batches(data, 3)] == [3, 1]
    assert len(PreparedDataset(tmp_path / "p", "val")) == 0


def test_stream_is_deterministic(train: PreparedDataset) -> None:
    a = iter(TrainStream(train, 4, seed=1, crop=(16, 20)))
    b = iter(TrainStream(train, 4, seed=1, crop=(16, 20)))
    c = iter(TrainStream(train, 4, seed=2, crop=(16, 20)))
    for _ in range(4):
        x, y, z = next(a), next(b), next(c)
        assert _equal(x, y)
        assert not torch.equal(x["rgb"], z["rgb"])
    assert x["rgb"].shape == (4, 3, 16, 20) and x["segment_semantic"].shape == (4, 16, 20)


def test_every_sample_once_per_epoch(train: PreparedDataset) -> None:
    stream = TrainStream(train, 5, seed=0)
    for epoch in range(3):
        seen = np.concatenate([stream.plan(2 * epoch + k).indices for k in range(2)])
        assert sorted(seen) == list(range(10))
    straddling = TrainStream(train, 4, seed=0)  # 10 = 4 + 4 + 2|2: a batch spans two epochs
    assert sorted(np.concatenate([straddling.plan(k).indices for k in range(5)])) == sorted(
        list(range(10)) * 2
    )


@pytest.mark.parametrize("workers", [0, 1])
def test_resume_gives_the_uninterrupted_batches(train: PreparedDataset, workers: int) -> None:
    kwargs = {"crop": (16, 20), "resize": (20, 26), "hflip": True}
    full = iter(TrainStream(train, 3, seed=4, **kwargs))
    reference = [next(full) for _ in range(8)]
    resumed = iter(TrainStream(train, 3, seed=4, start_step=5, num_workers=workers, **kwargs))
    for k in range(5, 8):
        assert _equal(next(resumed), reference[k]), k


def test_flip_mirrors_every_map_and_negates_normal_x(train: PreparedDataset) -> None:
    stream = TrainStream(train, 4, seed=3, hflip=True)
    step = next(k for k in range(50) if stream.plan(k).flips.any() and not stream.plan(k).flips.all())
    plan, batch = stream.plan(step), stream.batch(step)
    for j, index in enumerate(plan.indices):
        original = train[int(index)]
        for key, value in original.items():
            expected = value.flip(-1) if plan.flips[j] else value
            if key == "normal" and plan.flips[j]:
                expected = expected * torch.tensor([-1.0, 1.0, 1.0]).view(3, 1, 1)
            assert torch.equal(batch[key][j], expected), (key, bool(plan.flips[j]))
    valid = batch["depth_zbuffer"][:, 0] > 0
    assert torch.allclose(batch["normal"].norm(dim=1)[valid], torch.ones(()), atol=2e-3)


def test_crop_is_one_window_for_all_tasks(train: PreparedDataset) -> None:
    stream = TrainStream(train, 6, seed=8, crop=(10, 13), hflip=False)
    plan, batch = stream.plan(2), stream.batch(2)
    assert not plan.flips.any() and len(set(zip(plan.tops, plan.lefts, strict=True))) > 1
    for j, index in enumerate(plan.indices):
        top, left = int(plan.tops[j]), int(plan.lefts[j])
        for key, value in train[int(index)].items():
            assert torch.equal(batch[key][j], value[..., top : top + 10, left : left + 13]), key


def test_resize_keeps_targets_valid(train: PreparedDataset) -> None:
    batch = TrainStream(train, 10, seed=0, resize=(12, 16), hflip=False).batch(0)
    full = train.batch(TrainStream(train, 10, seed=0).plan(0).indices)
    assert batch["rgb"].shape == (10, 3, 12, 16) and batch["segment_semantic"].dtype == torch.int64
    assert set(batch["segment_semantic"].unique().tolist()) <= set(
        full["segment_semantic"].unique().tolist()
    )
    depth, normal = batch["depth_zbuffer"][:, 0], batch["normal"]
    valid = depth > 0
    assert 0.7 < valid.float().mean() < 1.0
    norm = normal.norm(dim=1)
    assert torch.allclose(norm[valid], torch.ones(()), atol=1e-3)
    assert torch.all(norm[~valid] == 0)
    assert depth[valid].min() >= full["depth_zbuffer"][full["depth_zbuffer"] > 0].min() - 1e-4


def test_eval_batches_cover_the_split_in_order(root) -> None:
    test = PreparedDataset(root, "test")
    batches = list(eval_batches(test, 3))
    assert [len(b["rgb"]) for b in batches] == [3, 3, 1]
    joined = {k: torch.cat([b[k] for b in batches]) for k in batches[0]}
    assert _equal(joined, test.batch(np.arange(7)))
    with pytest.raises(ValueError):
        TrainStream(test, 2, seed=0, crop=(25, 10))
