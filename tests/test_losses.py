"""Task losses: values against numpy, gradients, empty targets, upsampling, bf16 autocast."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from bench.losses import task_loss, task_losses, to_label_resolution
from bench.tasks import IGNORE_INDEX, TASKS

N, H, W, C = 2, 8, 12, 5


def targets(seed: int = 0) -> dict[str, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    seg = torch.randint(0, C, (N, H, W), generator=g)
    seg[torch.rand(N, H, W, generator=g) < 0.3] = IGNORE_INDEX
    normal = F.normalize(torch.randn(N, 3, H, W, generator=g), dim=1)
    normal[:, :, :2] = 0.0
    depth = torch.rand(N, 1, H, W, generator=g) + 0.5
    depth[:, :, :, :3] = 0.0
    return {
        "segment_semantic": seg,
        "normal": normal,
        "depth_zbuffer": depth,
        "keypoints2d": torch.rand(N, 1, H, W, generator=g) * 2 - 1,
        "edge_texture": torch.rand(N, 1, H, W, generator=g) * 2 - 1,
    }


def outputs(seed: int = 1, size: tuple[int, int] = (H, W)) -> dict[str, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    return {
        t: torch.randn(
            N,
            C if t == "segment_semantic" else 3 if t == "normal" else 1,
            *size,
            generator=g,
            requires_grad=True,
        )
        for t in TASKS
    }


def numpy_reference(task: str, pred: np.ndarray, target: np.ndarray, weights=None) -> float:
    if task == "segment_semantic":
        z = pred.transpose(0, 2, 3, 1).reshape(-1, pred.shape[1])
        y = target.ravel()
        keep = y != IGNORE_INDEX
        z, y = z[keep], y[keep]
        logp = z - np.log(np.exp(z).sum(1, keepdims=True))
        nll = -logp[np.arange(len(y)), y]
        w = np.ones(pred.shape[1]) if weights is None else weights
        return float((w[y] * nll).sum() / w[y].sum())
    if task == "normal":
        valid = np.linalg.norm(target, axis=1) > 0
        p = pred / np.linalg.norm(pred, axis=1, keepdims=True)
        cos = (p * target).sum(1)
        return float((1 - cos)[valid].mean())
    if task == "depth_zbuffer":
        valid = target > 0
        return float(np.abs(pred - target)[valid].mean())
    return float(np.abs(pred - target).mean())


@pytest.mark.parametrize("task", TASKS)
def test_loss_matches_numpy_and_backprops(task: str) -> None:
    pred, target = outputs()[task], targets()[task]
    loss = task_loss(task, pred, target)
    expected = numpy_reference(task, pred.detach().double().numpy(), target.numpy())
    assert loss.dim() == 0 and loss.dtype == torch.float32
    assert loss.item() == pytest.approx(expected, rel=1e-5)
    loss.backward()
    assert pred.grad is not None and torch.isfinite(pred.grad).all() and pred.grad.abs().sum() > 0


def test_segmentation_class_weights() -> None:
    pred, target = outputs()["segment_semantic"], targets()["segment_semantic"]
    weights = torch.tensor([0.2, 1.0, 3.0, 0.5, 2.0])
    loss = task_loss("segment_semantic", pred, target, class_weights=weights)
    expected = numpy_reference(
        "segment_semantic", pred.detach().double().numpy(), target.numpy(), weights.numpy()
    )
    assert loss.item() == pytest.approx(expected, rel=1e-5)
    as_list = task_loss("segment_semantic", pred, target, class_weights=weights.tolist())
    assert as_list.item() == pytest.approx(loss.item(), rel=1e-7)
    official = torch.nn.CrossEntropyLoss(weight=weights, ignore_index=IGNORE_INDEX)
    assert loss.item() == pytest.approx(official(pred, target).item(), rel=1e-5)


@pytest.mark.parametrize("task", ["segment_semantic", "normal", "depth_zbuffer"])
def test_all_invalid_target_gives_zero_that_backprops(task: str) -> None:
    pred = outputs()[task]
    target = torch.zeros_like(targets()[task])
    if task == "segment_semantic":
        target = torch.full_like(target, IGNORE_INDEX)
    for weights in (None, torch.ones(C)) if task == "segment_semantic" else (None,):
        loss = task_loss(task, pred, target, class_weights=weights)
        assert loss.item() == 0.0
        loss.backward()
        assert pred.grad is not None and torch.isfinite(pred.grad).all()
        assert float(pred.grad.abs().sum()) == 0.0


def test_zero_prediction_normal_has_finite_gradient() -> None:
    pred = torch.zeros(N, 3, H, W, requires_grad=True)
    loss = task_loss("normal", pred, targets()["normal"])
    loss.backward()
    assert loss.item() == pytest.approx(1.0)
    assert pred.grad is not None and torch.isfinite(pred.grad).all()


@pytest.mark.parametrize("task", TASKS)
def test_low_resolution_prediction_is_upsampled_bilinearly(task: str) -> None:
    low = outputs(size=(H // 4, W // 4))[task]
    target = targets()[task]
    up = F.interpolate(low, size=(H, W), mode="bilinear", align_corners=False)
    assert task_loss(task, low, target).item() == pytest.approx(
        task_loss(task, up, target).item(), rel=1e-6
    )


def test_to_label_resolution_is_identity_at_label_size() -> None:
    x = torch.randn(1, 2, 4, 6)
    assert to_label_resolution(x, (4, 6)) is x
    assert to_label_resolution(x, torch.Size([8, 12])).shape == (1, 2, 8, 12)


def test_bf16_autocast_computes_in_float32() -> None:
    conv = torch.nn.Conv2d(3, C + 3 + 3, 3, padding=1)
    x = torch.randn(N, 3, H // 2, W // 2)
    tgt = targets()

    def run() -> dict[str, torch.Tensor]:
        y = conv(x)
        heads = {
            "segment_semantic": y[:, :C],
            "normal": y[:, C : C + 3],
            "depth_zbuffer": y[:, C + 3 : C + 4],
            "keypoints2d": y[:, C + 4 : C + 5],
            "edge_texture": y[:, C + 5 :],
        }
        return task_losses(heads, tgt, class_weights=torch.ones(C))

    reference = run()
    with torch.autocast("cpu", dtype=torch.bfloat16):
        losses = run()
    for task, loss in losses.items():
        assert loss.dtype == torch.float32
        assert loss.item() == pytest.approx(reference[task].item(), rel=0.05, abs=0.02)
    sum(losses.values()).backward()  # type: ignore[union-attr]
    assert conv.weight.grad is not None and torch.isfinite(conv.weight.grad).all()


def test_task_losses_names_missing_target() -> None:
    out = outputs()
    assert set(task_losses(out, targets())) == set(TASKS)
    with pytest.raises(KeyError, match="normal"):
        task_losses({"normal": out["normal"]}, {"depth_zbuffer": targets()["depth_zbuffer"]})
    with pytest.raises(KeyError, match="unknown task"):
        task_loss("saliency", out["depth_zbuffer"], targets()["depth_zbuffer"])
