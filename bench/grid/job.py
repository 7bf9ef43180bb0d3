"""One run of the grid as a callable that either executor can run, and that submitit requeues.

On Slurm, submitit turns the time-limit / preemption signal (USR2 by default, see
`submitit.JobEnvironment.USR_SIG`) into a call to `checkpoint()`, which returns this job again
with `resume=True`, and then requeues it. Training state at an arbitrary point of a step cannot
be saved, so while the run trains the signal only raises a flag: the loop finishes its step,
writes a checkpoint and returns (`TrainOptions.stop_requested`), and only then is submitit's
handler called to requeue. The requeued job resumes from that checkpoint and ends with the same
result as an uninterrupted run (checkpoints carry every random number generator).
"""

from __future__ import annotations

import logging
import os
import signal
import threading
from collections.abc import Callable
from pathlib import Path
from types import FrameType
from typing import Any

import submitit
from submitit.core.utils import DelayedSubmission

from bench.config import Config
from bench.errors import RunFailedError
from bench.record.spec import RunSpec, run_dir

log = logging.getLogger(__name__)
Handler = Callable[[int, FrameType | None], Any]


def limit_threads(threads: int) -> None:
    """Hold this process to `threads` cores (before and after torch is imported)."""
    for var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
        os.environ[var] = str(threads)
    import torch

    torch.set_num_threads(threads)


def preempt_signal() -> signal.Signals:
    return signal.Signals[f"SIG{submitit.JobEnvironment.USR_SIG}"]


class RunJob(submitit.helpers.Checkpointable):
    """Train one run of the grid (`bench train --resume` for `spec`, held to `threads` cores)."""

    def __init__(
        self, config: Config, spec: RunSpec, workdir: str, threads: int, resume: bool = True
    ) -> None:
        self.config = config
        self.spec = spec
        self.workdir = workdir
        self.threads = threads
        self.resume = resume

    def __call__(self) -> dict[str, Any]:
        os.chdir(self.workdir)  # runs_root and data_root are relative to the project
        if not logging.getLogger().handlers:
            logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
        limit_threads(self.threads)
        from bench.grid.plan import plan_run

        out = run_dir(self.config, self.spec)
        planned = plan_run(self.config, self.spec)
        if planned.state == "done":
            log.info("%s is already done with this configuration; nothing to do", out)
            return self._summary(out)
        log.info("run %s (%d threads, resume=%s)", out, self.threads, self.resume)
        stop, previous = self._catch_preemption()
        try:
            result = self._train(stop)
        finally:
            if previous is not None:
                signal.signal(preempt_signal(), previous)
        if result is None:
            if previous is None or not callable(previous):
                raise RuntimeError(f"{out}: training stopped without a preemption handler")
            log.warning("%s: checkpoint written on signal; handing over to submitit", out)
            previous(preempt_signal(), None)  # checkpoint() + requeue + exit
            raise RuntimeError("submitit's handler returned without exiting")
        return self._summary(out)

    def checkpoint(self, *args: Any, **kwargs: Any) -> DelayedSubmission:
        log.info("requeueing %s; it resumes from its last checkpoint", run_dir(self.config, self.spec))
        again = RunJob(self.config, self.spec, self.workdir, self.threads, resume=True)
        return DelayedSubmission(again)

    def _catch_preemption(self) -> tuple[threading.Event, Handler | None]:
        """Inside a submitit job, turn the preemption signal into a flag the loop checks."""
        stop = threading.Event()
        previous = signal.getsignal(preempt_signal())
        if not callable(previous):  # not under submitit (local executor): leave signals alone
            return stop, None
        signal.signal(preempt_signal(), lambda signum, frame: stop.set())
        return stop, previous

    def _train(self, stop: threading.Event) -> dict[str, Any] | None:
        from bench.record.code import memoized
        from bench.train import TrainOptions, train_run

        options = TrainOptions(resume=self.resume, progress=False, stop_requested=stop.is_set)
        with memoized():  # the run's identity and its dense parent's read the code once
            return train_run(self.config, self.spec, options)

    def _summary(self, out: Path) -> dict[str, Any]:
        from bench.record.result import read_result

        result = read_result(out)
        if result is None or not result.ok:
            raise RunFailedError(f"{out}: {result.reason if result else 'no result written'}")
        return {
            "run_dir": str(out),
            "status": result.status,
            "sparsity": result.data["sparsity"]["overall"],
            "train_seconds": result.data["cost"]["train_seconds"],
        }
