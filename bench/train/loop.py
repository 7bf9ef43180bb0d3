"""One training run: build, (resume,) train with the method's hooks, evaluate, write results."""

from __future__ import annotations

import logging
import math
import os
import shutil
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tqdm import tqdm

from bench.config import Config
from bench.errors import ConfigError, RunFailedError
from bench.io import CorruptFileError
from bench.method import PruningMethod
from bench.provenance import now_iso
from bench.record.identity import stale_reason
from bench.record.result import CHECKPOINT_FILE, RESULT_FILE, write_result
from bench.record.spec import RunSpec, run_dir
from bench.train.checkpoint import checkpoint_matches, load_checkpoint, save_checkpoint
from bench.train.finish import finish_run
from bench.train.logger import RunLogger
from bench.train.runlock import finished_result, run_lock
from bench.train.start import save_dense_points
from bench.train.state import RunState, build_state

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class TrainOptions:
    resume: bool = False
    device: str | None = None  # overrides the profile's device
    stop_after: int | None = None  # stop as if killed after this many steps (tests, debugging)
    iterations: int | None = None  # overrides the profile's iterations (dry runs)
    progress: bool = True
    out_dir: Path | None = None  # overrides runs/<...> (conformance checks write nowhere else)
    # Called with the method instance right after it is built, before any hook runs (the
    # conformance suite uses it to watch the hooks).
    watch_method: Callable[[PruningMethod], None] | None = None
    # Asked after every step; True saves a checkpoint and stops as with stop_after (a Slurm job
    # told to make room: preemption or time limit).
    stop_requested: Callable[[], bool] | None = None
    # Replace a finished run (result.json with status ok) instead of refusing to touch it.
    force: bool = False


class NonFiniteLoss(RuntimeError):
    def __init__(self, step: int, task: str, value: float) -> None:
        super().__init__(f"non-finite loss ({value}) at step {step} in task {task}")


def train_run(config: Config, spec: RunSpec, options: TrainOptions = TrainOptions()) -> dict[str, Any] | None:
    """Train `spec` under `config`. Returns the result dict, or None when stopped early.

    A finished run (result.json, status ok) is never overwritten unless `options.force`: without
    `resume` that is a `ConfigError`; with `resume` the finished result is returned untouched
    when it was trained with the configuration asked for now (a stale one is retrained). One
    writer per run folder: a second one gets a `ConfigError` (see bench/train/runlock.py)."""
    if options.iterations is not None and options.iterations <= 0:
        raise ConfigError(f"--iterations must be positive, got {options.iterations}")
    out = options.out_dir or run_dir(config, spec)
    with run_lock(out):
        return _train_locked(config, spec, options, out)


def _train_locked(config: Config, spec: RunSpec, options: TrainOptions, out: Path) -> dict[str, Any] | None:
    done_before = None if options.force else finished_result(out)
    if done_before is not None and not options.resume:
        raise ConfigError(
            f"{out / RESULT_FILE} is a finished run; it is kept (--resume does nothing on it, "
            "--force replaces it, --out writes elsewhere)"
        )
    started = now_iso()
    state = build_state(config, spec, options.device, options.iterations, options.watch_method)
    out.mkdir(exist_ok=True)  # only now: a run that cannot start leaves no folder behind
    if done_before is not None:
        if done_before.identity == state.identity:
            log.debug("%s is already finished; nothing to do", out)
            return done_before.data
        log.warning("%s was trained with another configuration; retraining it (%s)",
                    out / RESULT_FILE, stale_reason(done_before, state.resolved()))
    if options.force or done_before is not None:
        (out / RESULT_FILE).unlink(missing_ok=True)  # a killed retrain must not look finished
    checkpoint = out / CHECKPOINT_FILE
    start_step, elapsed = 0, 0.0
    if options.resume and checkpoint.exists():
        try:
            matches = checkpoint_matches(checkpoint, state)
        except CorruptFileError as exc:
            aside = checkpoint.with_name(checkpoint.name + ".corrupt")
            os.replace(checkpoint, aside)
            log.warning("%s; moved aside to %s, training from scratch", exc, aside.name)
            matches = False
        else:
            if not matches:
                log.warning("%s was written with another configuration; starting afresh", checkpoint)
        if matches:
            start_step, elapsed = load_checkpoint(checkpoint, state)
            log.info("resuming %s from step %d", out, start_step)
    if start_step == 0:
        shutil.rmtree(out / "dvclive", ignore_errors=True)  # logs of an earlier attempt
    logger = RunLogger(out / "dvclive", config.recipe.log_every, start_step if start_step else None)
    state.ctx._log = logger.log
    t0 = time.perf_counter() - elapsed
    if start_step == 0:
        state.method.prepare(state.ctx)
    try:
        finished = _loop(state, start_step, logger, checkpoint, options, t0)
    except NonFiniteLoss as exc:
        logger.close()
        result = _failed(state, spec, str(exc), started, time.perf_counter() - t0)
        write_result(out, result)
        raise RunFailedError(f"{out}: {exc}") from None
    logger.close()
    if not finished:
        return None
    written = write_result(out, finish_run(state, spec, out, started, time.perf_counter() - t0))
    if not written.ok:
        raise RunFailedError(f"{out}: {written.reason}")
    checkpoint.unlink(missing_ok=True)
    return written.data


def _loop(
    state: RunState,
    start: int,
    logger: RunLogger,
    checkpoint: Path,
    options: TrainOptions,
    t0: float,
) -> bool:
    recipe, ctx, method = state.recipe, state.ctx, state.method
    total = state.total_steps
    stream = state.train_stream(start)
    bar = tqdm(
        total=total,
        initial=start,
        desc=f"{ctx.tasks and method.slug} s={ctx.target_sparsity:.2f}",
        disable=not (options.progress and sys.stderr.isatty()),
        leave=False,
    )
    state.model.train()
    for step in range(start, total):
        ctx.step = step
        batch = next(stream)
        ctx.train_batch = batch  # drawn first, so before_step may score on the step's own batch
        method.before_step(ctx)
        losses = state.task_losses(batch)
        values = {t: float(v.detach()) for t, v in losses.items()}
        for task, value in values.items():
            if not math.isfinite(value):
                raise NonFiniteLoss(step, task, value)
        weights = method.loss_weights(ctx, values) or {}
        loss = sum(weights.get(t, 1.0) * v for t, v in losses.items())
        state.optimizer.zero_grad(set_to_none=True)
        loss.backward()  # type: ignore[union-attr]
        method.after_backward(ctx)
        state.optimizer.step()
        state.scheduler.step()
        ctx.step = step + 1
        method.after_step(ctx)
        done = step + 1
        save_dense_points(state, checkpoint.parent, done)  # dense runs: rewind.pt, branch.pt
        if logger.wants(done) or done == total:
            for task, value in values.items():
                logger.log(f"loss/{task}", value)
                logger.log(f"weight/{task}", weights.get(task, 1.0))
            logger.log("lr", state.optimizer.param_groups[0]["lr"])
            report = state.measure_sparsity()
            logger.log("sparsity/overall", report.overall)
            for component, value in report.by_component.items():
                logger.log(f"sparsity/{component}", value)
            logger.flush(done)
            bar.set_postfix(loss=f"{sum(values.values()):.3f}", sparsity=f"{report.overall:.3f}")
        bar.update(1)
        if done % recipe.checkpoint_every == 0 and done < total:
            save_checkpoint(checkpoint, state, done, time.perf_counter() - t0)
        stop = options.stop_after is not None and done >= options.stop_after
        if (stop or (options.stop_requested is not None and options.stop_requested())) and done < total:
            save_checkpoint(checkpoint, state, done, time.perf_counter() - t0)
            bar.close()
            return False
    bar.close()
    return True


def _failed(state: RunState, spec: RunSpec, reason: str, started: str, seconds: float) -> dict[str, Any]:
    result = state.result_header(spec, started)
    report = state.measure_sparsity()
    result.update(
        status="failed",
        reason=reason,
        sparsity=report.to_dict(),
        metrics=None,
        val_metrics=None,
        cost={"train_seconds": seconds, "iterations": state.ctx.step, **state.ctx.cost.to_dict()},
    )
    return result
