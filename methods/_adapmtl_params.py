"""The parameters of AdapMTL and its ablations (`method_params.adapmtl*` in params.yaml).

One dataclass for all three slugs: the ablations differ from `adapmtl` only in a class switch
(methods/_adapmtl.py), never in a parameter or a default.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class AdapMTLParams:
    # s_init: None picks it from the weight scale, logit(init_threshold · mean|W|) at setup
    # (the paper's −15 / −18 put τ orders of magnitude below any weight at full scale).
    s_init: float | None = None
    init_threshold: float = 1e-2
    # Adam lr of the thresholds; the run's schedule does not apply. None: threshold_travel /
    # (ramp_end · total_steps), so s can move `threshold_travel` logit units by the ramp's end
    # at any run length (Adam moves a scalar by about its lr per step).
    threshold_lr: float | None = None
    threshold_travel: float = 10.0
    # The one knob toward the target: the coupled L2 coefficient λ on every component's latent
    # weights and thresholds (the same λ for all). It starts at `weight_decay` (the official
    # code's default) and is set in closed loop from the measured overall sparsity: log λ moves
    # by one decade per `decay_decade_fraction` of the run at full error, the error being
    # (ramp − sparsity) / controller_band clipped to [−1, 1]; λ stays in
    # [weight_decay_min, weight_decay_max]. Once the target is reached the thresholds freeze
    # and λ on the weights returns to `weight_decay`.
    weight_decay: float = 1e-4
    weight_decay_min: float = 1e-8
    weight_decay_max: float = 1.0
    decay_decade_fraction: float = 0.02
    controller_band: float = 0.02
    ramp_end: float = 0.6  # fraction of the run at which the ramp reaches the target
    measure_every: float = 0.0005  # sparsity measured every max(1, round(·T)) steps
    final_tolerance: float = 0.001  # finalize corrects to the exact count beyond this
    adaptive_start: float = 0.25  # 5,000 of 20,000 iterations
    adaptive_window: float = 0.025  # 500 of 20,000 iterations
    adaptive_min_window: int = 5

    def __post_init__(self) -> None:
        for name in (
            "ramp_end",
            "adaptive_start",
            "adaptive_window",
            "measure_every",
            "decay_decade_fraction",
        ):
            if not 0 < getattr(self, name) <= 1:
                raise ValueError(f"{name} must be in (0, 1], got {getattr(self, name)}")
        if self.threshold_lr is not None and self.threshold_lr <= 0:
            raise ValueError("threshold_lr must be positive")
        if self.controller_band <= 0:
            raise ValueError("controller_band must be positive")
        if not 0 < self.weight_decay_min <= self.weight_decay <= self.weight_decay_max:
            raise ValueError("need 0 < weight_decay_min ≤ weight_decay ≤ weight_decay_max")
