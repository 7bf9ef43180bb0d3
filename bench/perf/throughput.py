"""Loader throughput (samples/s of `bench.data.TrainStream`) and evaluation throughput
(images/s through `bench.train.evaluation.evaluate_split`), as the training run uses them."""

from __future__ import annotations

import statistics
import time
from typing import Any

from bench.data import PreparedDataset, TrainStream


def loader_throughput(
    dataset: PreparedDataset,
    batch_size: int,
    crop: tuple[int, int] | None,
    resize: tuple[int, int] | None = None,
    num_workers: int = 0,
    batches: int = 10,
    seed: int = 0,
) -> dict[str, Any]:
    """Samples/s of augmented training batches (to host memory; the first batch, which pays
    for starting the workers, is not timed)."""
    stream = iter(TrainStream(dataset, batch_size, seed, crop=crop, resize=resize,
                              num_workers=num_workers))
    next(stream)
    times = []
    for _ in range(batches):
        t0 = time.perf_counter()
        next(stream)
        times.append(time.perf_counter() - t0)
    total = sum(times)
    return {
        "samples_per_second": batch_size * batches / total,
        "median_batch_ms": 1e3 * statistics.median(times),
        "batch_size": batch_size, "batches": batches, "num_workers": num_workers,
        "crop": list(crop) if crop else None, "image_size": list(dataset.image_size),
    }


def eval_throughput(state: Any, split: str = "test", repeats: int = 1) -> dict[str, Any]:
    """Images/s of a full pass of evaluate_split over `split` with the run's settings
    (`state` is a `bench.train.state.RunState`); the best of `repeats` passes."""
    from bench.train.evaluation import evaluate_split

    dataset = state.datasets[split]
    seconds = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        evaluate_split(state.forward, state.model, dataset, state.recipe.eval_batch_size,
                       state.device, state.autocast(), state.recipe.channels_last)
        if state.device.type == "cuda":
            import torch

            torch.cuda.synchronize(state.device)
        seconds.append(time.perf_counter() - t0)
    best = min(seconds)
    return {
        "images_per_second": len(dataset) / best, "images": len(dataset),
        "seconds": seconds, "batch_size": state.recipe.eval_batch_size,
        "image_size": list(dataset.image_size), "split": split,
    }
