"""Performance of the real-dataset path (`pytest -m bench`, not in the default run).

Prepares full-resolution fixtures (NYU-v2 480×640, Taskonomy 512×512) and reports
- the peak Python/numpy heap of `prepare` (tracemalloc; the memmapped output is file-backed
  and not counted) — it must not grow with the number of samples, and stays far below the
  2 GiB budget for the full NYU-v2;
- the process's peak resident set (resource.ru_maxrss, includes torch and pytest);
- loader throughput in samples/s through `bench.data.TrainStream` with the paper's crops.
"""

from __future__ import annotations

import resource
import sys
import tracemalloc
from pathlib import Path
from typing import Any

import pytest
from fixtures.raw_nyuv2 import build_raw_nyuv2
from fixtures.raw_taskonomy import build_raw_taskonomy

from datasets import nyuv2, taskonomy
from datasets.prepared import prepared_dir

GIB = 1 << 30
BATCH = 8
BATCHES = 5


def _build(dataset: str, root: Path, n: int) -> Path:
    if dataset == "nyuv2":
        return build_raw_nyuv2(root, n_train=n, n_test=4, size=(480, 640), damage=False).root
    return build_raw_taskonomy(root, views_per_building=n // 2, size=(512, 512),
                               damage=False).root


def _peak_prepare(dataset: str, raw: Path, data: Path) -> int:
    module = nyuv2 if dataset == "nyuv2" else taskonomy
    tracemalloc.start()
    try:
        module.prepare(data, raw)
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


@pytest.mark.bench
@pytest.mark.parametrize("dataset", ["nyuv2", "taskonomy"])
def test_prepare_memory_and_loader_throughput(dataset: str, benchmark: Any,
                                              tmp_path: Path) -> None:
    from bench.data import PreparedDataset, TrainStream

    small = _peak_prepare(dataset, _build(dataset, tmp_path / "raw_s", 4), tmp_path / "s")
    large = _peak_prepare(dataset, _build(dataset, tmp_path / "raw_l", 16), tmp_path / "l")
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * (1 if sys.platform == "darwin"
                                                                 else 1024)
    data = PreparedDataset(prepared_dir(tmp_path / "l", dataset), "train")
    crop = (321, 321) if dataset == "nyuv2" else (224, 224)
    stream = iter(TrainStream(data, batch_size=BATCH, seed=0, crop=crop))

    def read_batches() -> None:
        for _ in range(BATCHES):
            next(stream)

    benchmark.pedantic(read_batches, rounds=3, iterations=1, warmup_rounds=1)
    throughput = BATCH * BATCHES / benchmark.stats.stats.mean
    benchmark.extra_info.update({
        "prepare_peak_heap_mib_small": small / 2**20, "prepare_peak_heap_mib_large": large / 2**20,
        "process_peak_rss_mib": rss / 2**20, "loader_samples_per_s": throughput,
    })
    print(f"\n{dataset}: prepare peak heap {small / 2**20:.1f} MiB (4 samples) / "
          f"{large / 2**20:.1f} MiB (16 samples); process peak RSS {rss / 2**20:.0f} MiB; "
          f"loader {throughput:.1f} samples/s (batch {BATCH}, crop {crop[0]}×{crop[1]})")
    assert large < 2 * GIB
    assert large < 1.5 * small + 16 * 2**20  # streaming: memory does not grow with samples
