"""AdapMTL building blocks: the STR soft-threshold parametrisation and adaptive task weights."""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Sequence
from typing import Any

import torch
from torch import nn
from torch.nn import functional as F
from torch.nn.utils import parametrize


class _SoftShrink(torch.autograd.Function):
    """W_eff = softshrink(W, τ) = sign(W)·relu(|W| − τ) with τ = sigmoid(s), differentiable in s.

    Fused kernels both ways: ∂/∂W = 1[|W| > τ] (softshrink_backward) and
    ∂/∂s = −τ(1 − τ)·Σ ∂/∂W_eff·sign(W) over the survivors. (Plain autograd through
    `sign(W)·relu(|W| − sigmoid(s))` costs several times more on CPU.)
    """

    @staticmethod
    def forward(ctx: Any, weight: torch.Tensor, s: torch.Tensor, tau: float) -> torch.Tensor:
        ctx.save_for_backward(weight)
        ctx.tau = tau
        return F.softshrink(weight, tau)

    @staticmethod
    def backward(ctx: Any, grad: torch.Tensor) -> tuple[torch.Tensor | None, ...]:
        (weight,) = ctx.saved_tensors
        grad_weight = torch.ops.aten.softshrink_backward(grad, weight, ctx.tau)
        grad_s = None
        if ctx.needs_input_grad[1]:
            survivors = torch.dot(grad_weight.flatten(), weight.sign().flatten())
            grad_s = survivors * (-ctx.tau * (1.0 - ctx.tau))
        return grad_weight, grad_s, None


class SoftThreshold(nn.Module):
    """STR as a parametrisation: W ↦ sign(W)·relu(|W| − sigmoid(s)).

    The threshold parameter is held in a tuple so it is not registered in the model (the
    model's state_dict keys stay those of the plain network plus `.original`). τ as a Python
    float is cached per version of s in `cache`, shared by the component's layers, so a forward
    pass syncs with the GPU once after s changed, not once per layer.
    """

    def __init__(self, s: nn.Parameter, cache: dict[str, Any]) -> None:
        super().__init__()
        self._s = (s,)
        self._cache = cache

    def forward(self, weight: torch.Tensor) -> torch.Tensor:
        s = self._s[0]
        if self._cache.get("version") != s._version:
            self._cache.update(version=s._version, tau=float(torch.sigmoid(s.detach())))
        return _SoftShrink.apply(weight, s, self._cache["tau"])  # type: ignore[no-any-return]


class TaskWeighting:
    """AdapMTL's task weights (docs/protocol.md §6): from step `start`, w_t = T·mean_t / Σ_k mean_k with
    mean_t the mean of |L_t(i−1) − L_t(i)| / L_t(i) over the last `window` steps; 1 before."""

    def __init__(self, tasks: tuple[str, ...], start: int, window: int) -> None:
        self.tasks, self.start, self.window = tasks, start, window
        self.previous: dict[str, float | None] = {t: None for t in tasks}
        self.changes: dict[str, deque[float]] = {t: deque(maxlen=window) for t in tasks}

    def update(self, step: int, losses: dict[str, float]) -> dict[str, float]:
        ones = {t: 1.0 for t in self.tasks}
        if step < self.start:
            return ones
        for t in self.tasks:
            prev, now = self.previous[t], losses[t]
            if prev is not None:
                self.changes[t].append(abs(prev - now) / max(now, 1e-12))
            self.previous[t] = now
        if any(len(self.changes[t]) < self.window for t in self.tasks):
            return ones  # as the public code: weights of 1 until the window is full
        means = {t: sum(self.changes[t]) / self.window for t in self.tasks}
        total = sum(means.values())
        if not total > 0:
            return ones
        return {t: len(self.tasks) * m / total for t, m in means.items()}

    def state_dict(self) -> dict[str, Any]:
        return {"previous": dict(self.previous), "changes": {t: list(d) for t, d in self.changes.items()}}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.previous = dict(state["previous"])
        self.changes = {t: deque(state["changes"][t], maxlen=self.window) for t in self.tasks}


@torch.no_grad()
def land_on_count(modules: Sequence[nn.Module], latent: Sequence[torch.Tensor], margins: Sequence[torch.Tensor],
                  target: float) -> float:
    """Land on exactly round(target·N) zeros (up to ties), leaving every other weight as is.

    Each latent weight's margin is m = |W| − τ_c (W_eff = sign(W)·m where m > 0); δ is the
    K-th smallest margin. Overshoot (δ < 0): the removed weights closest to their threshold
    (δ < m ≤ 0, those the last threshold steps removed) come back as sign(W)·(m − δ), at
    most |δ| in size, as if their threshold had dropped by |δ|. Undershoot (δ > 0): the
    survivors with the smallest effective magnitudes (m ≤ δ) become zero. Survivors are
    never shifted: moving all thresholds by δ would change every surviving weight by |δ|,
    which throws scale-sensitive heads (depth) far off.
    """
    flat = torch.cat([m.flatten().cpu() for m in margins])
    k = round(target * flat.numel())
    delta = float(torch.kthvalue(flat, k).values) if k > 0 else -math.inf
    del flat
    for module, weights, margin in zip(modules, latent, margins, strict=True):
        restored = torch.where(margin > 0, margin, margin - delta) if delta < 0 else margin
        final = torch.sign(weights) * torch.where(margin > delta, restored, 0.0)
        if math.isinf(delta):  # target 0: the plain latent weights
            final = weights.detach().clone()
        parametrize.remove_parametrizations(module, "weight", leave_parametrized=False)
        weight = module.weight
        assert isinstance(weight, torch.Tensor)
        weight.copy_(final)
    return delta
