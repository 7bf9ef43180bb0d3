"""Per-task training losses (docs/protocol.md §1).

Heads answer at feature resolution (H/8 or H/32); every loss first upsamples the prediction to
the label's size with bilinear interpolation (align_corners=False) — the public code upsamples
logits with nearest neighbour (docs/protocol.md §8.4), which we do not copy.

Losses are computed in float32 with autocast switched off, so a bf16 forward pass gives the same
loss as an fp32 one up to the rounding of the prediction itself. A batch without a single valid
pixel for a task gives a loss of exactly 0 that is still attached to the graph (zero gradient,
never NaN), so a weighted sum over tasks stays finite.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import torch
import torch.nn.functional as F

from bench.tasks import IGNORE_INDEX, TASKS

# Per-class weights of the segmentation loss / `ce_err` (Taskonomy's `semseg_prior_factor`).
ClassWeights = torch.Tensor | np.ndarray | Sequence[float]


def to_label_resolution(pred: torch.Tensor, size: Sequence[int]) -> torch.Tensor:
    """`pred` (N×C×h×w) resized to `size` (H, W) bilinearly; returned as-is if already there."""
    size = (int(size[0]), int(size[1]))
    if tuple(pred.shape[-2:]) == size:
        return pred
    return F.interpolate(pred, size=size, mode="bilinear", align_corners=False)


def task_loss(
    task: str,
    pred: torch.Tensor,
    target: torch.Tensor,
    class_weights: ClassWeights | None = None,
) -> torch.Tensor:
    """The scalar training loss of one task (float32).

    - `segment_semantic`: cross-entropy over labelled pixels (label 255 ignored). With
      `class_weights` w (Taskonomy's prior factor): Σ_p w[y_p]·CE_p / Σ_p w[y_p], i.e.
      `nn.CrossEntropyLoss(weight=w, ignore_index=255)`.
    - `normal`: mean of 1 − cos(p̂, ĝ) over pixels whose target norm is > 0 (both normalised).
    - `depth_zbuffer`: mean |p − g| over pixels with g > 0.
    - `keypoints2d`, `edge_texture`: mean |p − g| over all pixels.
    """
    with torch.autocast(device_type=pred.device.type, enabled=False):
        pred = pred.float()
        target = target.to(pred.device)
        if task == "segment_semantic":
            return _segmentation_loss(pred, target, class_weights)
        if target.dim() == 3 and task != "normal":
            target = target.unsqueeze(1)
        pred = to_label_resolution(pred, target.shape[-2:])
        target = target.float()
        if task == "normal":
            return _normal_loss(pred, target)
        if task == "depth_zbuffer":
            return _masked_l1(pred, target, target > 0)
        if task in ("keypoints2d", "edge_texture"):
            return F.l1_loss(pred, target)
    raise KeyError(f"unknown task {task!r}; known: {', '.join(TASKS)}")


def task_losses(
    outputs: Mapping[str, torch.Tensor],
    batch: Mapping[str, torch.Tensor],
    class_weights: ClassWeights | None = None,
) -> dict[str, torch.Tensor]:
    """`task_loss` for every task in `outputs`; `batch` holds the targets under task names.

    `class_weights` only applies to `segment_semantic`.
    """
    losses = {}
    for task, pred in outputs.items():
        if task not in batch:
            raise KeyError(f"batch has no target for task {task!r} (has: {', '.join(batch)})")
        weights = class_weights if task == "segment_semantic" else None
        losses[task] = task_loss(task, pred, batch[task], weights)
    return losses


def _segmentation_loss(
    logits: torch.Tensor, target: torch.Tensor, class_weights: ClassWeights | None
) -> torch.Tensor:
    target = target.long()
    logits = to_label_resolution(logits, target.shape[-2:])
    weight = None if class_weights is None else _weight_tensor(class_weights, logits.device)
    total = F.cross_entropy(
        logits, target, weight=weight, ignore_index=IGNORE_INDEX, reduction="sum"
    )
    # Masks, not boolean indexing, so a CUDA step does not wait on the host.
    labelled = target != IGNORE_INDEX
    if weight is None:
        denom = labelled.sum().to(torch.float32)
    else:
        denom = (weight[torch.where(labelled, target, 0)] * labelled).sum()
    # No labelled pixel (or only zero-weight ones): `total` is an exact 0 with a graph.
    return total / torch.where(denom > 0, denom, torch.ones_like(denom))


def _weight_tensor(class_weights: ClassWeights, device: torch.device) -> torch.Tensor:
    if isinstance(class_weights, torch.Tensor):
        return class_weights.detach().to(device, torch.float32)
    return torch.tensor(np.asarray(class_weights, dtype=np.float32), device=device)


def _unit(v: torch.Tensor, eps: float = 1e-12) -> torch.Tensor:
    # F.normalize(v, dim=1), written out: torch's CPU norm over a non-innermost dim of an N×3×H×W
    # tensor is ~70× slower than this sum of squares (1.8 ms vs 0.03 ms at 8×3×56×56).
    # (clamped before the square root: a zero vector gets a zero gradient, not NaN)
    return v / (v * v).sum(dim=1, keepdim=True).clamp_min(eps * eps).sqrt()


def _normal_loss(pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    valid = (target != 0).any(dim=1)
    cos = (_unit(pred) * _unit(target)).sum(dim=1)
    per_pixel = torch.where(valid, 1.0 - cos, torch.zeros_like(cos))
    return per_pixel.sum() / valid.sum().clamp_min(1)


def _masked_l1(pred: torch.Tensor, target: torch.Tensor, valid: torch.Tensor) -> torch.Tensor:
    diff = torch.where(valid, (pred - target).abs(), torch.zeros_like(pred))
    return diff.sum() / valid.sum().clamp_min(1)
