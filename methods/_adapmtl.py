"""AdapMTL (Xiang et al., ACM MM 2024, arXiv 2408.03913): shared implementation (docs/protocol.md §6).

Soft thresholding (STR, Kusupati et al. 2020) per component c ∈ {backbone, one head per task}:
the forward pass uses W_eff = sign(W)·relu(|W| − sigmoid(s_c)), one learnable scalar s_c per
component, trained by the run's Adam in a parameter group of its own. Coupled L2 weight decay
(added to the gradient, not AdamW) on the latent weights and on s is what makes the model
sparse: it pulls every s_c up and every weight down, against the loss. How the sparsity splits
between components is not controlled: each s_c settles where its own loss gradient balances the
decay. The public code hand-tunes one decay per target and overshoots (docs/protocol.md §8.5);
here that one coefficient λ, shared by all components, is set in closed loop (`_control`) from
the measured overall sparsity so it follows a ramp reaching the target at `ramp_end` of the
run. Once the target is reached every s_c freezes and training goes on with λ back at its
starting value; if the sparsity drifted meanwhile, `finalize` restores the removed weights
nearest their threshold, or zeroes the smallest survivors, to land on the exact count, and
records how many weights that touched. Adaptive task weights: `TaskWeighting`.

The ablations are this class with one switch changed: `shared_threshold` (one s for all
components) and `adaptive_weights` (False keeps every task weight at 1).
"""

from __future__ import annotations

import math
from typing import Any, ClassVar

import torch
from torch import nn
from torch.nn import functional as F
from torch.nn.utils import parametrize

from bench.method import Context, PruningMethod
from methods._adapmtl_params import AdapMTLParams
from methods._adapmtl_parts import SoftThreshold, TaskWeighting, land_on_count

_SHARED = "shared"


class AdapMTLBase(PruningMethod):
    """Shared machinery; the registered methods are thin subclasses that set the switches."""

    paper = "Xiang et al., AdapMTL: Adaptive Pruning Framework for Multitask Learning Model, ACM MM 2024"
    Params: ClassVar[type] = AdapMTLParams
    shared_threshold: ClassVar[bool] = False
    adaptive_weights: ClassVar[bool] = True

    def __init__(self, params: Any = None) -> None:
        super().__init__(params)
        self.thresholds: dict[str, nn.Parameter] = {}
        self.decay = self.params.weight_decay  # λ, the one knob (coupled L2 on W and s)
        self.frozen = False
        self.reached_step: int | None = None
        self.decay_at_target: float | None = None
        self.decay_log: list[float] = []  # [Σ log10 λ, count, min λ, max λ] while controlled
        self.last_sparsity = 0.0

    # ---- structure -------------------------------------------------------------------------
    def setup(self, ctx: Context) -> None:
        p, total = self.params, ctx.total_steps
        self._group_of = {c: _SHARED if self.shared_threshold else c for c in ctx.components}
        s_init = p.s_init if p.s_init is not None else self._scale_aware_s_init(ctx)
        for group in dict.fromkeys(self._group_of.values()):
            self.thresholds[group] = nn.Parameter(torch.tensor(float(s_init), device=ctx.device))
        caches: dict[str, dict[str, Any]] = {g: {} for g in self.thresholds}
        for component, weights in ctx.prunable.items():
            group = self._group_of[component]
            for w in weights:
                module = SoftThreshold(self.thresholds[group], caches[group])
                parametrize.register_parametrization(w.module, "weight", module)
        self._latent = {c: [w.param for w in ws] for c, ws in ctx.prunable.items()}
        self._modules = [w.module for ws in ctx.prunable.values() for w in ws]
        self._all_latent = [t for ts in self._latent.values() for t in ts]
        self._sizes = {c: sum(t.numel() for t in ts) for c, ts in self._latent.items()}
        self._numel = sum(self._sizes.values())
        self._ramp_steps = max(1, round(p.ramp_end * total))
        self._measure_every = max(1, round(p.measure_every * total))
        # log λ moves by ln 10 per decay_decade_fraction of the run at full error
        self._log_rate = math.log(10.0) * self._measure_every / max(1.0, p.decay_decade_fraction * total)
        self.threshold_lr = p.threshold_lr or p.threshold_travel / self._ramp_steps
        ctx.optimizer.add_param_group(
            {"params": list(self.thresholds.values()), "lr": self.threshold_lr, "weight_decay": self.decay}
        )
        # Looked up by index each time: optimizer.load_state_dict replaces the group dicts.
        self._optimizer, self._group_index = ctx.optimizer, len(ctx.optimizer.param_groups) - 1
        window = max(p.adaptive_min_window, round(p.adaptive_window * total))
        self._weighting = TaskWeighting(ctx.tasks, round(p.adaptive_start * total), window)

    def _scale_aware_s_init(self, ctx: Context) -> float:
        with torch.no_grad():
            total = sum(float(w.weight.abs().sum()) for w in ctx.all_prunable())
        mean_abs = total / max(1, sum(w.weight.numel() for w in ctx.all_prunable()))
        tau = min(max(self.params.init_threshold * mean_abs, 1e-12), 0.5)
        return math.log(tau / (1 - tau))

    # ---- hooks -----------------------------------------------------------------------------
    def before_step(self, ctx: Context) -> None:
        self._set_group()

    def loss_weights(self, ctx: Context, losses: dict[str, float]) -> dict[str, float] | None:
        if self.adaptive_weights:
            weights = self._weighting.update(ctx.step, losses)
        else:
            weights = {t: 1.0 for t in ctx.tasks}
        for task, value in weights.items():
            ctx.log(f"task_weight/{task}", value)
        return weights

    def after_backward(self, ctx: Context) -> None:
        # Coupled L2 on every component's latent weights (grad += λ·W), the same λ for all.
        pairs = [(t.grad, t) for t in self._all_latent if t.grad is not None]
        if pairs and self.decay > 0:
            grads, params = zip(*pairs, strict=True)
            torch._foreach_add_(list(grads), list(params), alpha=self.decay)

    def after_step(self, ctx: Context) -> None:
        step = ctx.step
        if not self.frozen and (step % self._measure_every == 0 or step == ctx.total_steps):
            self.last_sparsity = self._sparsity()[0]
            if self.last_sparsity >= ctx.target_sparsity:
                self._freeze(step)
            else:
                self._control(step, ctx.target_sparsity)
        names = list(self.thresholds)
        taus = torch.sigmoid(torch.stack([self.thresholds[n].detach() for n in names])).tolist()
        by_group = dict(zip(names, taus, strict=True))
        for component, group in self._group_of.items():
            ctx.log(f"threshold/{component}", by_group[group])
        ctx.log("weight_decay", self.decay)

    def _control(self, step: int, target: float) -> None:
        """Integral control of λ in log space from the overall sparsity alone.

        The ramp target·step/ramp_steps is not capped at the target, so the sparsity crosses
        it shortly after `ramp_end`. Behind the ramp λ grows (every s_c rises where the decay
        beats its own loss gradient, every weight the loss does not defend shrinks); ahead of
        it λ falls. No component is treated apart from the others.
        """
        p = self.params
        error = (target * step / self._ramp_steps - self.last_sparsity) / p.controller_band
        error = max(-1.0, min(1.0, error))
        log_decay = math.log(self.decay) + self._log_rate * error
        self.decay = min(p.weight_decay_max, max(p.weight_decay_min, math.exp(log_decay)))
        log = self.decay_log or [0.0, 0, self.decay, self.decay]
        self.decay_log = [log[0] + math.log10(self.decay), log[1] + 1,
                          min(log[2], self.decay), max(log[3], self.decay)]
        self._set_group()

    def _set_group(self) -> None:
        """The thresholds' own lr (the run's schedule does not apply) and decay λ."""
        group = self._optimizer.param_groups[self._group_index]
        group["lr"], group["weight_decay"] = self.threshold_lr, self.decay

    def _freeze(self, step: int) -> None:
        self.frozen = True
        self.reached_step = step
        self.decay_at_target = self.decay
        self.decay = self.params.weight_decay  # the knob's job is done: back to its default
        self._stop_thresholds()

    def _stop_thresholds(self) -> None:
        for s in self.thresholds.values():
            s.requires_grad_(False)  # no gradient, so Adam (decay, momentum) leaves s alone
            s.grad = None

    def _taus(self) -> dict[str, torch.Tensor]:
        return {c: torch.sigmoid(self.thresholds[g].detach()) for c, g in self._group_of.items()}

    @torch.no_grad()
    def _sparsity(self) -> tuple[float, dict[str, float]]:
        """Fraction of W_eff == 0, overall and per component (counts exact in float32 per
        layer, summed in float64)."""
        taus = dict(zip(self._taus(), torch.stack(list(self._taus().values())).tolist(), strict=True))
        alive = torch.stack(
            [torch.stack([F.softshrink(t, taus[c]).ne_(0).sum().double() for t in ts]).sum()
             for c, ts in self._latent.items()]
        ).tolist()
        by_component = {c: 1.0 - a / n for (c, n), a in zip(self._sizes.items(), alive, strict=True)}
        return 1.0 - sum(alive) / self._numel, by_component

    # ---- the end ---------------------------------------------------------------------------
    def finalize(self, ctx: Context) -> None:
        before, by_component = self._sparsity()
        target = ctx.target_sparsity
        margin = 0.0
        if abs(before - target) > self.params.final_tolerance:
            margin = self._correct(target)
        else:
            for module in self._modules:
                parametrize.remove_parametrizations(module, "weight", leave_parametrized=True)
        n = self.decay_log[1] if self.decay_log else 0
        touched = abs(round(before * self._numel) - round(target * self._numel)) if margin else 0
        ctx.cost.notes.update(
            threshold_lr=self.threshold_lr,
            weight_decay_at_target=self.decay_at_target,
            weight_decay_geometric_mean=10 ** (self.decay_log[0] / n) if n else None,
            weight_decay_range=self.decay_log[2:],
            target_reached_step=self.reached_step,
            target_reached_fraction=None if self.reached_step is None else self.reached_step / ctx.total_steps,
            sparsity_before_correction=before,
            component_sparsity_before_correction=by_component,
            weights_touched_by_correction=touched,
            weights_touched_fraction=touched / self._numel,
            correction_margin=margin if math.isfinite(margin) else None,
            thresholds={c: float(t) for c, t in self._taus().items()},
        )

    def _correct(self, target: float) -> float:
        return land_on_count(self._modules, self._all_latent, self._margins(), target)

    def _margins(self) -> list[torch.Tensor]:
        taus = self._taus()
        return [t.abs() - taus[c] for c, ts in self._latent.items() for t in ts]

    # ---- resume ----------------------------------------------------------------------------
    def state_dict(self) -> dict[str, Any]:
        return {
            "thresholds": {g: s.detach().cpu().clone() for g, s in self.thresholds.items()},
            "decay": self.decay,
            "decay_log": list(self.decay_log),
            "frozen": self.frozen,
            "reached_step": self.reached_step,
            "decay_at_target": self.decay_at_target,
            "last_sparsity": self.last_sparsity,
            "threshold_lr": self.threshold_lr,
            "weighting": self._weighting.state_dict(),
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        with torch.no_grad():
            for g, value in state["thresholds"].items():
                self.thresholds[g].copy_(value)
        self.decay = float(state["decay"])
        self.decay_log = list(state["decay_log"])
        self.frozen = bool(state["frozen"])
        self.reached_step = state["reached_step"]
        self.decay_at_target = state["decay_at_target"]
        self.last_sparsity = float(state["last_sparsity"])
        self.threshold_lr = float(state["threshold_lr"])
        self._weighting.load_state_dict(state["weighting"])
        self._set_group()
        if self.frozen:
            self._stop_thresholds()
