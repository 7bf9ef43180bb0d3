"""The step-time report of `bench perf`: per method, step times and their ratio to dense.

Two clocks are kept for every step: wall time and this process's CPU time
(`time.process_time`, all its threads). On a CPU device the headline ratio uses CPU time: it
counts the work the step does, not the time other processes on a shared machine took from it,
so it stays stable under load where wall-clock ratios swing by ±10%. On CUDA the headline is
wall time after a device synchronisation (CPU time there is mostly waiting).
"""

from __future__ import annotations

import math
import statistics
from dataclasses import dataclass, field
from typing import Any

SCHEMA = "bench-perf-steps/1"
# Step-time targets relative to dense (docs/performance.md): mask-based methods, and methods
# that reparametrise the weights (AdapMTL's soft threshold).
TARGETS = {("mask", "cpu"): 1.10, ("mask", "cuda"): 1.05,
           ("reparam", "cpu"): 1.15, ("reparam", "cuda"): 1.05}


@dataclass
class MethodSteps:
    method: str
    kind: str  # dense, mask, reparam (or ? when it failed before it was built)
    target_sparsity: float
    prepare_seconds: float | None = None
    wall: list[float] = field(default_factory=list)  # seconds per timed step
    cpu: list[float] = field(default_factory=list)
    rounds: list[tuple[int, int]] = field(default_factory=list)  # [start, end) of each round
    # Dense's steps in the chunks run just before and just after each of this method's chunks:
    # the reference its ratio is taken against (for dense itself: all its timed steps).
    ref_wall: list[float] = field(default_factory=list)
    ref_cpu: list[float] = field(default_factory=list)
    ref_rounds: list[tuple[int, int]] = field(default_factory=list)
    error: str | None = None

    def times(self, clock: str, reference: bool = False) -> list[float]:
        if reference:
            return self.ref_cpu if clock == "cpu" else self.ref_wall
        return self.cpu if clock == "cpu" else self.wall

    def median(self, clock: str, reference: bool = False) -> float:
        values = self.times(clock, reference)
        return statistics.median(values) if values else math.nan

    def round_medians(self, clock: str, reference: bool = False) -> list[float]:
        values = self.times(clock, reference)
        bounds = self.ref_rounds if reference else self.rounds
        return [statistics.median(values[a:b]) for a, b in bounds]


@dataclass
class StepReport:
    profile: str
    dataset: str
    backbone: str
    device: str
    device_name: str
    threads: int
    chunk: int
    rounds: int
    start_step: int
    total_steps: int
    methods: dict[str, MethodSteps]
    load_average: tuple[float, float, float] | None = None

    @property
    def clock(self) -> str:
        return "wall" if self.device.startswith("cuda") else "cpu"

    def ok(self, method: str) -> bool:
        m = self.methods[method]
        return not m.error and bool(m.wall) and bool(m.ref_wall)

    def round_ratios(self, method: str, clock: str | None = None) -> list[float]:
        """Per round: the method's median step time / the median of dense's steps in the chunks
        run right before and after it."""
        m = self.methods[method]
        clock = clock or self.clock
        pairs = zip(m.round_medians(clock), m.round_medians(clock, reference=True), strict=False)
        return [a / b for a, b in pairs]

    def ratio(self, method: str, clock: str | None = None) -> float:
        """The median over rounds of `round_ratios`."""
        ratios = self.round_ratios(method, clock)
        return statistics.median(ratios) if ratios else math.nan

    def ratio_range(self, method: str, clock: str | None = None) -> tuple[float, float]:
        ratios = self.round_ratios(method, clock) or [math.nan]
        return min(ratios), max(ratios)

    def target(self, method: str) -> float | None:
        kind = self.methods[method].kind
        return TARGETS.get((kind, "cuda" if self.device.startswith("cuda") else "cpu"))

    def meets_target(self, method: str) -> bool | None:
        target = self.target(method)
        return None if target is None or not self.ok(method) else self.ratio(method) <= target

    def to_dict(self) -> dict[str, Any]:
        rows: dict[str, Any] = {}
        for name, m in self.methods.items():
            ok = self.ok(name)
            rows[name] = {
                "kind": m.kind, "target_sparsity": m.target_sparsity, "error": m.error,
                "timed_steps": len(m.wall), "prepare_seconds": m.prepare_seconds,
                "median_step_ms": {c: _ms(m.median(c)) if m.wall else None for c in ("wall", "cpu")},
                "ratio_to_dense": self.ratio(name) if ok else None,
                "ratio_range_over_rounds": list(self.ratio_range(name)) if ok else None,
                "ratio_per_round": self.round_ratios(name) if ok else None,
                "ratio_to_dense_wall": self.ratio(name, "wall") if ok else None,
                "ratio_to_dense_cpu": self.ratio(name, "cpu") if ok else None,
                "target_ratio": self.target(name), "meets_target": self.meets_target(name),
                "step_ms": {"wall": [_ms(s) for s in m.wall], "cpu": [_ms(s) for s in m.cpu]},
            }
        return {
            "schema": SCHEMA, "profile": self.profile, "dataset": self.dataset,
            "backbone": self.backbone, "device": self.device, "device_name": self.device_name,
            "threads": self.threads, "clock": self.clock, "chunk": self.chunk,
            "rounds": self.rounds, "start_step": self.start_step,
            "total_steps": self.total_steps, "load_average": self.load_average, "methods": rows,
        }

    def table(self) -> str:
        load = f"; load average {self.load_average[0]:.1f}" if self.load_average else ""
        lines = [
            f"{self.profile} ({self.backbone} on {self.dataset}) on {self.device_name}{load}",
            f"{self.rounds} round(s) of {self.chunk} steps per method from step "
            f"{self.start_step} of {self.total_steps}, dense run between every two methods; "
            f"ratio = median over rounds of ({self.clock} time per step / dense's next to it)",
            f"{'method':<26}{'sparsity':>9}{'wall ms':>9}{'cpu ms':>8}{'ratio':>7}"
            f"{'per round':>12}{'target':>11}{'prepare s':>10}",
        ]
        for name, m in self.methods.items():
            if not self.ok(name):
                lines.append(f"{name:<26}{m.target_sparsity:>9.2f}  failed: {m.error}")
                continue
            low, high = self.ratio_range(name)
            target = self.target(name)
            verdict = "" if target is None else (
                f"{'≤' if self.meets_target(name) else 'MISS>'}{target:.2f}")
            lines.append(
                f"{name:<26}{m.target_sparsity:>9.2f}{1e3 * m.median('wall'):>9.1f}"
                f"{1e3 * m.median('cpu'):>8.1f}{self.ratio(name):>7.3f}"
                f"{f'{low:.2f}–{high:.2f}':>12}{verdict:>11}{m.prepare_seconds or 0.0:>10.2f}"
            )
        return "\n".join(lines)


def _ms(seconds: float) -> float:
    return round(1e3 * seconds, 3)
