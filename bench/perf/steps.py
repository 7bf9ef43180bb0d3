"""Training-step time of every method relative to `dense`, measured in one process.

Each method gets its own run state (`bench.train.state.build_state`: same config, seed, model
size, device), runs `prepare`, and is then advanced through the *real* training loop
(`bench.train.loop._loop`: data, forward, loss, backward, hooks, optimizer, logging with its
sparsity measurement) a chunk of steps at a time. Each round runs every method once, the order
rotating from round to round, with a dense chunk before the first method and after every method;
a method's ratio is taken against the dense chunks right before and after its own (an A-B-A
design), so drifts of machine load cancel. Every method starts at the same step and reads the
same batches (dense, which runs more chunks, reads later batches of the same shape). By default
the timed window lies at 70% of the run, after IMP/LTH's rounds and DiSparse-PT's pruning (which
happen in an untimed warm-up round), i.e. with every method's masks or thresholds in force.

A step's time runs from one `before_step` call to the next (the chunk's last step ends when the
loop returns), so it includes everything the loop does per step. Checkpointing is switched off
(disk I/O, the same for every method). One-off work before step 0 (`prepare`: SNIP's saliency,
random masks, ...) is timed separately; mid-run events outside the window (IMP rounds, DiSparse
dynamic's mask updates) are not in these numbers — the whole-run cost is `cost.train_seconds`
in result.json. See bench/perf/report.py for the clocks.
"""

from __future__ import annotations

import dataclasses
import math
import os
import tempfile
import time
import traceback
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import torch

from bench.config import Config
from bench.method import Batch
from bench.perf.report import MethodSteps, StepReport
from bench.record.spec import RunSpec

Stamp = tuple[float, float]  # (wall, process CPU) seconds


def clock(device: torch.device) -> Stamp:
    """(wall seconds, this process's CPU seconds), after the device finished its queued work."""
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    return time.perf_counter(), time.process_time()


class MethodRunner:
    """One method's run state, advanced `n` steps at a time through the training loop."""

    def __init__(self, config: Config, spec: RunSpec, device: str | None, iterations: int,
                 work: Path) -> None:
        from bench.masks import MaskedMethod
        from bench.train.logger import RunLogger
        from bench.train.state import build_state

        self.state = build_state(config, spec, device, iterations)
        state, method = self.state, self.state.method
        self.kind = ("dense" if spec.method == "dense"
                     else "mask" if isinstance(method, MaskedMethod) else "reparam")
        self.logger = RunLogger(work / spec.method / "dvclive", state.recipe.log_every)
        state.ctx._log = self.logger.log
        self.checkpoint = work / spec.method / "checkpoint.pt"
        self.position = 0
        self.stamps: list[Stamp] = []
        hook = method.before_step

        def stamped(ctx: Any) -> None:
            self.stamps.append(clock(state.device))
            hook(ctx)

        method.before_step = stamped  # type: ignore[method-assign]
        self._stream: Iterator[Batch] | None = None
        self._stream_at = -1
        make = state.train_stream

        def train_stream(start: int, seed: int | None = None) -> Iterator[Batch]:
            # One stream per runner (loader workers start once), continued chunk after chunk.
            if seed is not None:
                return make(start, seed)
            if self._stream is None or start != self._stream_at:
                self._stream = make(start)
            return self._stream

        state.train_stream = train_stream  # type: ignore[method-assign]
        t0 = clock(state.device)
        method.prepare(state.ctx)
        self.prepare_seconds = clock(state.device)[0] - t0[0]

    def advance(self, n: int) -> tuple[list[float], list[float]]:
        """Run steps [position, position + n) of the loop: (wall, CPU) seconds of each step."""
        from bench.train.loop import TrainOptions, _loop

        self.stamps.clear()
        self.state.total_steps = self.position + n
        self._stream_at = self.position
        _loop(self.state, self.position, self.logger, self.checkpoint,
              TrainOptions(progress=False), time.perf_counter())
        stamps = [*self.stamps, clock(self.state.device)]
        self.position += n
        self._stream_at = self.position
        pairs = list(zip(stamps, stamps[1:], strict=False))
        return [b[0] - a[0] for a, b in pairs], [b[1] - a[1] for a, b in pairs]

    def close(self) -> None:
        self.logger.close()


def with_profile(config: Config, **profile_overrides: Any) -> Config:
    """`config` with fields of its active profile replaced."""
    recipe = dataclasses.replace(config.recipe, **profile_overrides)
    return dataclasses.replace(config, profiles={**config.profiles, config.profile: recipe})


def measure_steps(
    config: Config,
    methods: Sequence[str],
    target_sparsity: float = 0.9,
    steps: int = 20,
    chunk: int | None = None,
    at: float = 0.7,
    device: str | None = None,
    seed: int = 0,
    progress: Callable[[str], None] | None = None,
) -> StepReport:
    """Time `steps` steps of every method in `methods` (dense is always added, first).

    `chunk` (default: the profile's log_every, so the loop's logging cadence is the real one)
    steps per method per round; `at` is the fraction of the run where timing starts.
    """
    from bench.provenance import device_name

    config = with_profile(config, checkpoint_every=10**12)
    recipe = config.recipe
    chunk = max(1, min(chunk or recipe.log_every, steps))
    rounds = math.ceil(steps / chunk)
    needed = chunk * (rounds + 1)  # + one warm-up round
    total = max(recipe.iterations, needed)
    start = min(int(at * total) // chunk * chunk, total - needed)
    names = ["dense", *[m for m in dict.fromkeys(methods) if m != "dense"]]
    # Dense runs a chunk before the first method of a round and after every method.
    dense_total = start + chunk * (rounds + 1) * len(names)
    rows: dict[str, MethodSteps] = {}
    runners: dict[str, MethodRunner] = {}
    with tempfile.TemporaryDirectory(prefix="bench-perf-") as work:
        for name in names:
            sparsity = 0.0 if name == "dense" else target_sparsity
            row = rows[name] = MethodSteps(name, "?", sparsity)
            try:
                runner = MethodRunner(config, RunSpec(name, sparsity, seed), device,
                                      dense_total if name == "dense" else total, Path(work))
            except Exception as exc:  # a method in progress must not stop the others' numbers
                row.error = _short(exc)
                continue
            runner.position = start
            row.kind, row.prepare_seconds = runner.kind, runner.prepare_seconds
            runners[name] = runner
        if "dense" not in runners:
            raise RuntimeError(f"dense failed: {rows['dense'].error}")
        dense_runner, dense_row = runners["dense"], rows["dense"]
        for r in range(rounds + 1):
            order = [n for n in runners if n != "dense" and not rows[n].error]
            order = order[r % len(order):] + order[: r % len(order)] if order else []
            before = dense_runner.advance(chunk)
            if r > 0:
                _record(dense_row, before, before)
            for name in order:
                try:
                    times = runners[name].advance(chunk)
                except Exception as exc:
                    rows[name].error = _short(exc)
                    continue
                after = dense_runner.advance(chunk)
                if r > 0:  # round 0 is the warm-up
                    _record(dense_row, after, after)
                    _record(rows[name], times, (before[0] + after[0], before[1] + after[1]))
                before = after
            if progress is not None:
                progress(f"round {r}/{rounds} done" + (" (warm-up)" if r == 0 else ""))
        dense = dense_runner.state.device
        for runner in runners.values():
            runner.close()
    return StepReport(
        profile=config.profile, dataset=config.dataset, backbone=config.backbone,
        device=str(dense), device_name=device_name(dense), threads=torch.get_num_threads(),
        chunk=chunk, rounds=rounds, start_step=start + chunk, total_steps=total,
        methods=rows, load_average=_load_average(),
    )


def _record(row: MethodSteps, times: tuple[list[float], list[float]],
            reference: tuple[list[float], list[float]]) -> None:
    row.rounds.append((len(row.wall), len(row.wall) + len(times[0])))
    row.wall.extend(times[0])
    row.cpu.extend(times[1])
    row.ref_rounds.append((len(row.ref_wall), len(row.ref_wall) + len(reference[0])))
    row.ref_wall.extend(reference[0])
    row.ref_cpu.extend(reference[1])


def _short(exc: BaseException) -> str:
    where = traceback.extract_tb(exc.__traceback__)[-1] if exc.__traceback__ else None
    loc = f" ({Path(where.filename).name}:{where.lineno})" if where else ""
    text = str(exc).splitlines()[0] if str(exc) else ""
    return f"{type(exc).__name__}: {text}{loc}"


def _load_average() -> tuple[float, float, float] | None:
    try:
        return os.getloadavg()
    except OSError:
        return None
