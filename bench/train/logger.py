"""Per-step training logs through dvclive: `<run>/dvclive/plots/metrics/<key>.tsv`."""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any


class RunLogger:
    """Collects scalars for the current step and writes them every `every` steps."""

    def __init__(self, directory: Path, every: int, resume_step: int | None = None) -> None:
        from dvclive import Live

        self.directory = directory
        self.every = every
        if resume_step is not None:
            _truncate_after(directory, resume_step)
        self.live: Any = Live(
            str(directory),
            save_dvc_exp=False,
            dvcyaml=None,
            report=None,
            resume=resume_step is not None,
        )
        self.pending: dict[str, float] = {}

    def wants(self, step: int) -> bool:
        return step % self.every == 0

    def log(self, key: str, value: float) -> None:
        self.pending[key] = value

    def flush(self, step: int) -> None:
        if self.pending:
            self.live.step = step
            for key, value in self.pending.items():
                self.live.log_metric(key, value, plot=True)
        self.pending = {}

    def close(self) -> None:
        self.live.make_summary()
        self.live.end()


def _truncate_after(directory: Path, step: int) -> None:
    """Drop rows a killed run logged after its last checkpoint, so a resume does not repeat them."""
    for tsv in (directory / "plots" / "metrics").rglob("*.tsv"):
        with open(tsv, newline="") as f:
            rows = list(csv.reader(f, delimiter="\t"))
        if not rows:
            continue
        kept = [rows[0]] + [r for r in rows[1:] if r and int(r[0]) <= step]
        with open(tsv, "w", newline="") as f:
            csv.writer(f, delimiter="\t", lineterminator="\n").writerows(kept)
