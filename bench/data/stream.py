"""The training stream (deterministic, resumable) and evaluation batches.

The batch of step k depends only on (seed, k):
- sample order: the train split is read in per-epoch permutations drawn from
  `default_rng([seed, ORDER_STREAM, epoch])`; step k takes positions k·B … k·B+B−1 of their
  concatenation (a batch may straddle two epochs; nothing is dropped);
- augmentation of the j-th sample of step k (crop offset, flip) comes from
  `default_rng([seed, AUGMENT_STREAM, k, j])`.
So a run resumed at step k with `start_step=k` sees exactly the batches an uninterrupted run
sees from step k on. With `num_workers > 0` a DataLoader builds whole batches from the same
plans with the same code, so the batches are identical to `num_workers=0`.
"""

from __future__ import annotations

import functools
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset, Sampler

from bench.data.dataset import PreparedDataset
from bench.data.transforms import crop_flip, resize_maps, to_tensors

ORDER_STREAM = 0x0DE7
AUGMENT_STREAM = 0xA09


@functools.lru_cache(maxsize=8)
def epoch_permutation(seed: int, epoch: int, size: int) -> np.ndarray:
    return np.random.default_rng([seed, ORDER_STREAM, epoch]).permutation(size)


@dataclass(frozen=True)
class BatchPlan:
    """What step `step` reads: sample indices and per-sample crop offsets and flips."""

    step: int
    indices: np.ndarray
    tops: np.ndarray
    lefts: np.ndarray
    flips: np.ndarray


def _build(
    dataset: PreparedDataset,
    plan: BatchPlan,
    crop: tuple[int, int] | None,
    resize: tuple[int, int] | None,
) -> dict[str, torch.Tensor]:
    raw = dataset.raw(plan.indices)
    if resize is not None:
        raw = resize_maps(raw, resize)
    if crop is not None or plan.flips.any():
        size = crop or (raw["rgb"].shape[1], raw["rgb"].shape[2])
        raw = crop_flip(raw, plan.tops, plan.lefts, plan.flips, size)
    return to_tensors(raw, dataset.rgb_mean, dataset.rgb_std)


def _to_device(
    batch: dict[str, torch.Tensor], device: torch.device | str | None, non_blocking: bool
) -> dict[str, torch.Tensor]:
    if device is None:
        return batch
    return {key: value.to(device, non_blocking=non_blocking) for key, value in batch.items()}


class _Plans(Sampler[BatchPlan]):
    def __init__(self, stream: TrainStream) -> None:
        self.stream = stream

    def __iter__(self) -> Iterator[BatchPlan]:
        step = self.stream.start_step
        while True:
            yield self.stream.plan(step)
            step += 1


class _Builder(Dataset[dict[str, torch.Tensor]]):
    def __init__(self, stream: TrainStream) -> None:
        self.dataset, self.crop, self.resize = stream.dataset, stream.crop, stream.resize

    def __getitem__(self, plan: BatchPlan) -> dict[str, torch.Tensor]:  # type: ignore[override]
        return _build(self.dataset, plan, self.crop, self.resize)


class TrainStream:
    """An endless iterator of augmented training batches, `{"rgb": N×3×H×W, task: target}`."""

    def __init__(
        self,
        dataset: PreparedDataset,
        batch_size: int,
        seed: int,
        start_step: int = 0,
        crop: tuple[int, int] | None = None,
        resize: tuple[int, int] | None = None,
        hflip: bool = True,
        num_workers: int = 0,
        pin_memory: bool = False,
        device: torch.device | str | None = None,
    ) -> None:
        if len(dataset) == 0:
            raise ValueError(f"{dataset!r} is empty")
        if batch_size <= 0 or start_step < 0 or num_workers < 0:
            raise ValueError("batch_size must be positive, start_step and num_workers >= 0")
        self.dataset = dataset
        self.batch_size = batch_size
        self.seed = int(seed)
        self.start_step = int(start_step)
        self.resize = None if resize is None else (int(resize[0]), int(resize[1]))
        self.image_size = self.resize or dataset.image_size
        self.crop = None if crop is None else (int(crop[0]), int(crop[1]))
        if self.crop is not None and (
            self.crop[0] > self.image_size[0] or self.crop[1] > self.image_size[1]
        ):
            raise ValueError(f"crop {self.crop} is larger than the images {self.image_size}")
        self.hflip = hflip
        self.num_workers = num_workers
        self.pin_memory = pin_memory and torch.cuda.is_available()
        self.device = device

    @property
    def steps_per_epoch(self) -> float:
        return len(self.dataset) / self.batch_size

    def plan(self, step: int) -> BatchPlan:
        n = len(self.dataset)
        positions = step * self.batch_size + np.arange(self.batch_size)
        indices = np.array(
            [epoch_permutation(self.seed, int(p // n), n)[p % n] for p in positions], dtype=np.int64
        )
        height, width = self.image_size
        crop_h, crop_w = self.crop or self.image_size
        tops, lefts, flips = [], [], []
        for j in range(self.batch_size):
            rng = np.random.default_rng([self.seed, AUGMENT_STREAM, step, j])
            tops.append(rng.integers(0, height - crop_h + 1))
            lefts.append(rng.integers(0, width - crop_w + 1))
            flips.append(bool(rng.random() < 0.5) and self.hflip)
        return BatchPlan(step, indices, np.array(tops, dtype=np.int64),
                         np.array(lefts, dtype=np.int64), np.array(flips, dtype=bool))

    def batch(self, step: int) -> dict[str, torch.Tensor]:
        """The batch of one step, built in this process."""
        batch = _build(self.dataset, self.plan(step), self.crop, self.resize)
        if self.pin_memory:
            batch = {key: value.pin_memory() for key, value in batch.items()}
        return _to_device(batch, self.device, self.pin_memory)

    def __iter__(self) -> Iterator[dict[str, torch.Tensor]]:
        if self.num_workers == 0:
            step = self.start_step
            while True:
                yield self.batch(step)
                step += 1
        loader = DataLoader(
            _Builder(self),  # type: ignore[arg-type]
            batch_size=None,
            sampler=_Plans(self),
            num_workers=self.num_workers,
            pin_memory=self.pin_memory,
        )
        for batch in loader:
            yield _to_device(batch, self.device, self.pin_memory)


def eval_batches(
    dataset: PreparedDataset,
    batch_size: int,
    device: torch.device | str | None = None,
    resize: tuple[int, int] | None = None,
) -> Iterator[dict[str, torch.Tensor]]:
    """The split in order, full images, no augmentation (optionally resized)."""
    if batch_size <= 0:
        raise ValueError(f"batch_size must be positive, got {batch_size}")
    for start in range(0, len(dataset), batch_size):
        raw = dataset.raw(np.arange(start, min(start + batch_size, len(dataset))))
        if resize is not None:
            raw = resize_maps(raw, resize)
        yield _to_device(to_tensors(raw, dataset.rgb_mean, dataset.rgb_std), device, False)
