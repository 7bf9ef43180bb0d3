"""Wall time of the embedded-default pipeline, `dvc repro` (marker `bench`; not in the default
run). The full pipeline takes minutes to tens of minutes, so by default this reads the timing
recorded by `python -m bench.perf.repro` (.benchmarks/repro.json) and skips when there is none;
with BENCH_REPRO=1 it runs the pipeline itself in a scratch copy of the repository and records
the new timing. The number is in the benchmark's extra_info (`wall_seconds`)."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest

from bench.perf.repro import RECORD, time_repro

pytestmark = pytest.mark.bench


def test_dvc_repro_wall_time(benchmark: Any, tmp_path: Path) -> None:
    if os.environ.get("BENCH_REPRO") == "1":
        record = benchmark.pedantic(time_repro, args=(Path.cwd(), tmp_path), rounds=1,
                                    iterations=1)
        RECORD.parent.mkdir(exist_ok=True)
        RECORD.write_text(json.dumps(record, indent=2) + "\n")
    elif RECORD.exists():
        record = benchmark.pedantic(lambda: json.loads(RECORD.read_text()), rounds=1,
                                    iterations=1)
    else:
        pytest.skip(f"no recorded timing in {RECORD}: run `python -m bench.perf.repro` "
                    "(or BENCH_REPRO=1 pytest -m bench tests/test_bench_repro.py)")
    benchmark.extra_info.update({k: v for k, v in record.items() if k != "stderr_tail"})
    print(f"\ndvc repro: {record['wall_seconds'] / 60:.1f} min wall, "
          f"{record['user_seconds'] / 60:.1f} min user CPU, exit {record['returncode']}, "
          f"params {record['params']}")
    assert record["returncode"] == 0, record["stderr_tail"]
