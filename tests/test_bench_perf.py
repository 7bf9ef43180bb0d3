"""Performance benchmarks (`pytest -m bench --benchmark-only`, or `tox -e bench`; not in the
default run): training-step time per method and its ratio to dense, evaluation and loader
throughput, on the embedded default (params.yaml's profile, synthetic_cpu).

- `test_step_time_ratios`: all methods interleaved in one process (bench.perf.steps), the
  ratio table printed and saved to .benchmarks/perf-steps.json; fails when a method misses its
  target (docs/performance.md). BENCH_PERF_STEPS sets the timed steps per method (default 40).
- `test_step_time[<method>]`: one method's chunk of `log_every` steps timed by pytest-benchmark,
  for `--benchmark-compare` across commits (absolute times: compare on the same machine).
- `test_eval_throughput`, `test_loader_throughput[<workers>]`: images/s and samples/s.
Run torch single-threaded on a shared machine (OMP_NUM_THREADS=1), see docs/performance.md.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest

from bench import registry
from bench.config import Config, load_config
from bench.perf.steps import MethodRunner, measure_steps, with_profile
from bench.record.spec import RunSpec

pytestmark = pytest.mark.bench
METHODS = sorted(registry.discover())
STEPS = int(os.environ.get("BENCH_PERF_STEPS", "40"))
SPARSITY = 0.9
OUT = Path(".benchmarks")


@pytest.fixture(scope="module")
def config() -> Config:
    return load_config("params.yaml")


def test_step_time_ratios(config: Config, benchmark: Any) -> None:
    report = benchmark.pedantic(measure_steps, args=(config, METHODS),
                                kwargs={"target_sparsity": SPARSITY, "steps": STEPS},
                                rounds=1, iterations=1)
    payload = report.to_dict()
    benchmark.extra_info["ratio_to_dense"] = {
        m: row["ratio_to_dense"] for m, row in payload["methods"].items()}
    benchmark.extra_info["clock"] = payload["clock"]
    benchmark.extra_info["load_average"] = payload["load_average"]
    OUT.mkdir(exist_ok=True)
    (OUT / "perf-steps.json").write_text(json.dumps(payload, indent=2) + "\n")
    print("\n" + report.table())
    failed = {m: row["error"] for m, row in payload["methods"].items() if row["error"]}
    missed = [m for m in report.methods if report.meets_target(m) is False]
    assert not failed, f"methods failed: {failed}"
    assert not missed, f"over the step-time target: {missed}\n{report.table()}"


@pytest.mark.parametrize("method", METHODS)
def test_step_time(method: str, config: Config, benchmark: Any, tmp_path: Path) -> None:
    config = with_profile(config, checkpoint_every=10**12)
    recipe = config.recipe
    chunk = recipe.log_every
    runner = MethodRunner(config, RunSpec(method, 0.0 if method == "dense" else SPARSITY, 0),
                          None, recipe.iterations, tmp_path)
    runner.position = int(0.7 * recipe.iterations) // chunk * chunk
    runner.advance(chunk)  # warm-up: rounds due by now are cut, masks are in force
    benchmark.pedantic(runner.advance, args=(chunk,), rounds=3, iterations=1)
    benchmark.extra_info.update(steps_per_round=chunk, kind=runner.kind)
    runner.close()


def test_eval_throughput(config: Config, benchmark: Any) -> None:
    from bench.perf.throughput import eval_throughput
    from bench.train.state import build_state

    state = build_state(config, RunSpec("dense", 0.0, 0), None, None)
    result = benchmark.pedantic(eval_throughput, args=(state, "test"), rounds=3, iterations=1)
    benchmark.extra_info.update(result)
    print(f"\nevaluation: {result['images_per_second']:.1f} images/s "
          f"({result['images']} images {result['image_size']}, batch {result['batch_size']})")
    assert result["images_per_second"] > 0


@pytest.mark.parametrize("num_workers", [0, 2])
def test_loader_throughput(num_workers: int, config: Config, benchmark: Any) -> None:
    from bench.data import PreparedDataset
    from bench.perf.throughput import loader_throughput
    from bench.train.setup import prepared_root

    recipe = config.recipe
    train = PreparedDataset(prepared_root(config), "train")
    result = benchmark.pedantic(
        loader_throughput, args=(train, recipe.batch_size, recipe.crop, recipe.resize),
        kwargs={"num_workers": num_workers, "batches": 20}, rounds=3, iterations=1)
    benchmark.extra_info.update(result)
    print(f"\nloader, {num_workers} workers: {result['samples_per_second']:.0f} samples/s")
    assert result["samples_per_second"] > 0
