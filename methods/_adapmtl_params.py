"""The parameters of AdapMTL and its ablations (`method_params.adapmtl*` in params.yaml)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class AdapMTLParams:
    # s_init: None picks it from the weight scale, logit(init_threshold · mean|W|) at setup
    # (the paper's −15 / −18 put τ orders of magnitude below any weight at full scale).
    s_init: float | None = None
    init_threshold: float = 1e-2
    # Adam lr of the thresholds; the run's schedule does not apply, the controller's integral
    # scales it by (1 + I). None: threshold_travel / (ramp_end · total_steps), so s can move
    # `threshold_travel` logit units by the ramp's end at any run length (Adam moves a scalar by
    # about its lr per step).
    threshold_lr: float | None = None
    threshold_travel: float = 10.0
    # Coupled L2 on the latent weights, applied while the sparsity lags the ramp (off when
    # ahead of it and once the target is reached).
    weight_decay: float = 1e-4
    # The decay on s is set at each measurement so that its pull exceeds the loss gradient on s
    # (EMA over `gradient_ema_steps`) by gain · (clip(error/band, 0, 1) + I) gradient RMS, I the
    # integral of error/band growing by 1 per `controller_integral` of the run (see `_control`).
    controller_gain: float = 2.0
    controller_band: float = 0.02
    controller_integral: float = 0.05
    gradient_ema_steps: int = 10
    # Density floors, relative to the density the ramp allows at that step, 1 − ramp(t): a
    # component that falls below floor · (1 − ramp(t)) has its threshold set back to the
    # quantile that restores the floor, and its weights get no decay. STR alone runs away on
    # components whose loss barely resists a uniform shrink (BatchNorm-ed convs, the
    # scale-invariant normals head) and prunes them almost entirely; the backbone, shared by
    # every task, is by default never pruned ahead of the ramp (floor 1).
    component_density_floor: float = 0.5
    backbone_density_floor: float = 1.0
    ramp_end: float = 0.6  # fraction of the run at which the ramp reaches the target
    measure_every: float = 0.0005  # sparsity measured every max(1, round(·T)) steps
    final_tolerance: float = 0.001  # finalize corrects to the exact count beyond this
    adaptive_start: float = 0.25  # 5,000 of 20,000 iterations
    adaptive_window: float = 0.025  # 500 of 20,000 iterations
    adaptive_min_window: int = 5

    def __post_init__(self) -> None:
        for name in ("ramp_end", "adaptive_start", "adaptive_window", "measure_every"):
            if not 0 < getattr(self, name) <= 1:
                raise ValueError(f"{name} must be in (0, 1], got {getattr(self, name)}")
        if self.threshold_lr is not None and self.threshold_lr <= 0:
            raise ValueError("threshold_lr must be positive")
        if self.controller_band <= 0 or self.gradient_ema_steps < 1:
            raise ValueError("controller_band and gradient_ema_steps must be positive")
        for name in ("component_density_floor", "backbone_density_floor"):
            if not 0 <= getattr(self, name) <= 1:
                raise ValueError(f"{name} must be in [0, 1], got {getattr(self, name)}")
