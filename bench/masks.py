"""Masks as data: built once from scores, validated, then held fixed by the training loop hooks.

`MaskedMethod` is the base of every mask-based method: it zeroes the gradients of pruned
weights after backward and re-applies the masks after each optimizer step, so a pruned weight
stays exactly zero through Adam's momentum and weight decay.
"""

from __future__ import annotations

from typing import Any

import torch

from bench.method import Context, PrunableWeight, PruningMethod

Masks = dict[str, torch.Tensor]  # PrunableWeight.name -> bool tensor, True = kept


def global_topk_masks(scores: dict[str, torch.Tensor], target_sparsity: float) -> Masks:
    """Keep the highest-scoring weights across all layers; exactly round(target·N) pruned."""
    names = list(scores)
    flat = torch.cat([scores[n].detach().flatten().float().cpu() for n in names])
    n_prune = round(target_sparsity * flat.numel())
    keep = torch.zeros(flat.numel(), dtype=torch.bool)
    if flat.numel() - n_prune > 0:
        keep[torch.topk(flat, flat.numel() - n_prune, sorted=False).indices] = True
    masks: Masks = {}
    offset = 0
    for n in names:
        size = scores[n].numel()
        masks[n] = keep[offset : offset + size].view_as(scores[n])
        offset += size
    return masks


def layerwise_topk_mask(score: torch.Tensor, target_sparsity: float) -> torch.Tensor:
    """Keep the highest-scoring weights of one tensor; exactly round(target·n) pruned."""
    flat = score.detach().flatten().float().cpu()
    n_keep = flat.numel() - round(target_sparsity * flat.numel())
    keep = torch.zeros(flat.numel(), dtype=torch.bool)
    if n_keep > 0:
        keep[torch.topk(flat, n_keep, sorted=False).indices] = True
    return keep.view_as(score)


def mask_sparsity(masks: Masks) -> float:
    total = sum(m.numel() for m in masks.values())
    kept = sum(int(m.sum()) for m in masks.values())
    return 1.0 - kept / total if total else 0.0


def validate_masks(masks: Masks, weights: dict[str, PrunableWeight]) -> None:
    for name, mask in masks.items():
        if name not in weights:
            raise KeyError(f"mask for unknown weight {name!r}")
        if mask.dtype != torch.bool or mask.shape != weights[name].param.shape:
            raise ValueError(
                f"mask {name!r}: need bool {tuple(weights[name].param.shape)}, "
                f"got {mask.dtype} {tuple(mask.shape)}"
            )


class MaskedMethod(PruningMethod):
    """A method whose sparsity is a set of binary masks over the prunable weights."""

    def __init__(self, params: Any = None) -> None:
        super().__init__(params)
        self.masks: Masks = {}
        self._weights: dict[str, PrunableWeight] = {}
        self._device_masks: Masks = {}
        # The masks again as 0/1 tensors of each weight's dtype and memory layout, applied with
        # one fused multiply per step (a bool mask costs ~8× more on CPU: it is cast every
        # time). x·1 = x and x·0 = ±0 exactly as with the bool mask, so results are unchanged.
        self._params: list[torch.Tensor] = []
        self._multipliers: list[torch.Tensor] = []

    def setup(self, ctx: Context) -> None:
        self._weights = {w.name: w for w in ctx.all_prunable()}

    def set_masks(self, ctx: Context, masks: Masks) -> None:
        """Install `masks` (validated) and zero the pruned weights now."""
        validate_masks(masks, self._weights)
        self.masks = {n: m.cpu() for n, m in masks.items()}
        self._device_masks = {n: m.to(ctx.device) for n, m in masks.items()}
        self._build_multipliers()
        self.apply_masks()

    def _build_multipliers(self) -> None:
        self._params = [self._weights[n].param for n in self._device_masks]
        self._multipliers = [
            torch.empty_like(p).copy_(m)  # empty_like keeps the weight's (channels_last) strides
            for p, m in zip(self._params, self._device_masks.values(), strict=True)
        ]

    @torch.no_grad()
    def apply_masks(self) -> None:
        if self._params:
            torch._foreach_mul_(self._params, self._multipliers)

    def after_backward(self, ctx: Context) -> None:
        pairs = [(p.grad, m) for p, m in zip(self._params, self._multipliers, strict=True)
                 if p.grad is not None]
        if pairs:
            grads, multipliers = zip(*pairs, strict=True)
            torch._foreach_mul_(list(grads), list(multipliers))

    def after_step(self, ctx: Context) -> None:
        self.apply_masks()

    def finalize(self, ctx: Context) -> None:
        self.apply_masks()

    def state_dict(self) -> dict[str, Any]:
        return {"masks": {n: m.clone() for n, m in self.masks.items()}}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.masks = {n: m.cpu() for n, m in state.get("masks", {}).items()}
        device = next(iter(self._weights.values())).param.device if self._weights else "cpu"
        self._device_masks = {n: m.to(device) for n, m in self.masks.items()}
        self._build_multipliers()
