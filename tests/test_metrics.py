"""Streaming metrics against independent oracles (scikit-learn, plain numpy)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from sklearn.metrics import confusion_matrix

import bench.metrics.base as metrics_base
from bench.metrics import MEDIAN_BIN_DEGREES, MultiTaskEvaluator, evaluate, make_evaluator
from bench.tasks import DELTA_T_KEYS, IGNORE_INDEX, TASKS, metric_spec

C = 6


def bilinear_np(x: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """N×C×h×w → N×C×H×W, bilinear with half-pixel centres (align_corners=False)."""
    h, w = x.shape[-2:]

    def axis(n_in: int, n_out: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        src = np.maximum((np.arange(n_out) + 0.5) * n_in / n_out - 0.5, 0.0)
        i0 = np.floor(src).astype(int)
        i1 = np.minimum(i0 + 1, n_in - 1)
        return i0, i1, src - i0

    y0, y1, wy = axis(h, size[0])
    x0, x1, wx = axis(w, size[1])
    top = x[..., y0, :] * (1 - wy)[:, None] + x[..., y1, :] * wy[:, None]
    return top[..., x0] * (1 - wx) + top[..., x1] * wx


def seg_data(seed: int = 0, n: int = 5, size: tuple[int, int] = (16, 20)):
    """Low-res logits, labels at 2× with ignore pixels; class 4 only predicted, 5 absent."""
    g = torch.Generator().manual_seed(seed)
    logits = torch.randn(n, C, size[0] // 2, size[1] // 2, generator=g)
    logits[:, 4] += 1.0  # class 4 wins somewhere, but is never a label
    logits[:, 5] = -50.0  # class 5: never predicted, never labelled
    labels = torch.randint(0, 4, (n, *size), generator=g)
    labels[torch.rand(n, *size, generator=g) < 0.2] = IGNORE_INDEX
    return logits, labels


def test_segmentation_matches_sklearn_confusion_matrix() -> None:
    logits, labels = seg_data()
    up = F.interpolate(logits.double(), size=labels.shape[-2:], mode="bilinear")
    pred = up.argmax(1).numpy().ravel()
    gt = labels.numpy().ravel()
    keep = gt != IGNORE_INDEX
    cm = confusion_matrix(gt[keep], pred[keep], labels=list(range(C))).astype(float)
    tp = np.diag(cm)
    union = cm.sum(0) + cm.sum(1) - tp
    assert cm[4].sum() == 0 and cm[:, 4].sum() > 0 and union[5] == 0
    expected_miou = np.mean(tp[:5] / union[:5])  # class 4 counts (IoU 0), class 5 is left out
    got = evaluate("segment_semantic", logits, labels)
    assert got["miou"] == pytest.approx(expected_miou, abs=1e-12)
    assert got["pixel_acc"] == pytest.approx(tp.sum() / cm.sum(), abs=1e-12)
    assert all(type(v) is float for v in got.values())


def test_zero_tp_class_is_not_skipped() -> None:
    # gt: classes 0,0,1,1; pred: 0,0,0,0 → IoU0 = 2/4, IoU1 = 0 (zero TP, still counted).
    labels = torch.tensor([[[0, 0, 1, 1]]])
    logits = torch.zeros(1, 3, 1, 4)
    logits[:, 0] = 1.0
    got = evaluate("segment_semantic", logits, labels)
    assert got["miou"] == pytest.approx(0.25)
    assert got["pixel_acc"] == pytest.approx(0.5)


def test_ce_err_weighted_formula() -> None:
    logits, labels = seg_data(seed=1)
    weights = np.array([0.5, 2.0, 1.0, 3.0, 0.7, 1.1])
    up = bilinear_np(logits.double().numpy(), labels.shape[-2:])
    z = up.transpose(0, 2, 3, 1).reshape(-1, C)
    y = labels.numpy().ravel()
    keep = y != IGNORE_INDEX
    z, y = z[keep], y[keep]
    logp = z - z.max(1, keepdims=True)
    logp -= np.log(np.exp(logp).sum(1, keepdims=True))
    nll = -logp[np.arange(len(y)), y]
    got = evaluate("segment_semantic", logits, labels, class_weights=weights)
    assert got["ce_err"] == pytest.approx((weights[y] * nll).sum() / weights[y].sum(), rel=1e-10)
    plain = evaluate("segment_semantic", logits, labels)
    assert plain["ce_err"] == pytest.approx(nll.mean(), rel=1e-10)
    torch_ce = torch.nn.CrossEntropyLoss(weight=torch.tensor(weights), ignore_index=IGNORE_INDEX)
    full = F.interpolate(logits.double(), size=labels.shape[-2:], mode="bilinear")
    assert got["ce_err"] == pytest.approx(float(torch_ce(full, labels)), rel=1e-10)


def normal_data(seed: int = 0, n: int = 4, size: tuple[int, int] = (24, 32)):
    g = torch.Generator().manual_seed(seed)
    target = F.normalize(torch.randn(n, 3, *size, generator=g), dim=1)
    target[torch.rand(n, *size, generator=g).unsqueeze(1).expand_as(target) < 0.25] = 0.0
    pred = 2.0 * target[:, :, ::4, ::4] + 0.8 * torch.randn(
        n, 3, size[0] // 4, size[1] // 4, generator=g
    )
    return pred, target


def test_normals_match_numpy_reference_through_bilinear_upsampling() -> None:
    pred, target = normal_data()
    up = bilinear_np(pred.double().numpy(), target.shape[-2:]).transpose(0, 2, 3, 1)
    t = target.double().numpy().transpose(0, 2, 3, 1)
    valid = np.linalg.norm(t, axis=-1) > 0
    p, g = up[valid], t[valid]
    p = p / np.linalg.norm(p, axis=-1, keepdims=True)
    g = g / np.linalg.norm(g, axis=-1, keepdims=True)
    cos = np.clip((p * g).sum(-1), -1, 1)
    angle = np.degrees(np.arccos(cos))
    got = evaluate("normal", pred, target)
    assert 0 < valid.mean() < 1
    assert got["angle_mean"] == pytest.approx(angle.mean(), rel=1e-10)
    assert abs(got["angle_median"] - np.median(angle)) <= MEDIAN_BIN_DEGREES / 2 + 1e-9
    for key, t_deg in (("within_11.25", 11.25), ("within_22.5", 22.5), ("within_30", 30.0)):
        assert got[key] == pytest.approx((angle < t_deg).mean(), abs=1e-12)
    assert got["cosine"] == pytest.approx(cos.mean(), rel=1e-10)


def test_normal_median_even_count_exact_values() -> None:
    # Four valid pixels at 10°, 20°, 40°, 80° (one invalid): median (20+40)/2 = 30.
    angles = np.radians([10.0, 20.0, 40.0, 80.0, 0.0])
    target = torch.zeros(1, 3, 1, 5, dtype=torch.float64)
    target[0, 2, 0, :4] = 1.0
    pred = torch.stack([torch.tensor(np.sin(angles)), torch.zeros(5), torch.tensor(np.cos(angles))])
    got = evaluate("normal", pred[None, :, None, :], target)
    assert got["angle_median"] == pytest.approx(30.0, abs=MEDIAN_BIN_DEGREES / 2 + 1e-9)
    assert got["angle_mean"] == pytest.approx(37.5, abs=1e-9)


def test_depth_matches_numpy_reference() -> None:
    g = torch.Generator().manual_seed(3)
    target = 0.5 + 4 * torch.rand(3, 1, 12, 16, generator=g)
    target[torch.rand(3, 1, 12, 16, generator=g) < 0.3] = 0.0
    pred = target * (1 + 0.4 * torch.randn(3, 1, 12, 16, generator=g))
    pred[0, 0, 0, :4] = torch.tensor([0.0, -1.0, 0.0, -2.0])
    target[0, 0, 0, :4] = 1.0  # valid pixels with a non-positive prediction
    p, t = pred.double().numpy(), target.double().numpy()
    valid = t > 0
    p, t = p[valid], t[valid]
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = np.where(p > 0, np.maximum(p / t, t / p), np.inf)
    got = evaluate("depth_zbuffer", pred, target)
    assert got["abs_err"] == pytest.approx(np.abs(p - t).mean(), rel=1e-12)
    assert got["rel_err"] == pytest.approx((np.abs(p - t) / t).mean(), rel=1e-12)
    for k in (1, 2, 3):
        assert got[f"delta{k}"] == pytest.approx((ratio < 1.25**k).mean(), abs=1e-12)


def test_keypoints_abs_err_through_bilinear_upsampling() -> None:
    g = torch.Generator().manual_seed(4)
    pred = torch.rand(2, 1, 5, 7, generator=g) * 2 - 1
    target = torch.rand(2, 1, 20, 28, generator=g) * 2 - 1
    up = bilinear_np(pred.double().numpy(), (20, 28))
    got = evaluate("keypoints2d", pred, target)
    assert got == {"abs_err": pytest.approx(np.abs(up - target.double().numpy()).mean())}


def full_set(n: int = 7):
    logits, labels = seg_data(seed=5, n=n)
    normal_pred, normal_target = normal_data(seed=6, n=n, size=labels.shape[-2:])
    g = torch.Generator().manual_seed(7)
    depth = 1 + torch.rand(n, 1, *labels.shape[-2:], generator=g)
    depth[depth < 1.2] = 0.0
    outputs = {
        "segment_semantic": logits,
        "normal": normal_pred,
        "depth_zbuffer": 1 + torch.rand(n, 1, 8, 10, generator=g),
        "keypoints2d": torch.randn(n, 1, 8, 10, generator=g),
        "edge_texture": torch.randn(n, 1, 8, 10, generator=g),
    }
    batch = {
        "segment_semantic": labels,
        "normal": normal_target,
        "depth_zbuffer": depth,
        "keypoints2d": torch.randn(n, 1, 16, 20, generator=g),
        "edge_texture": torch.randn(n, 1, 16, 20, generator=g),
    }
    return outputs, batch


def run_batches(order: list[int], sizes: list[int], weights=None):
    outputs, batch = full_set()
    ev = MultiTaskEvaluator(TASKS, num_classes=C, class_weights=weights)
    start = 0
    for size in sizes:
        idx = order[start : start + size]
        ev.process({t: o[idx] for t, o in outputs.items()}, {t: b[idx] for t, b in batch.items()})
        start += size
    return ev.evaluate()


@pytest.mark.parametrize("sizes", [[1] * 7, [3, 2, 2], [2, 5], [6, 1]])
def test_batch_size_and_order_independence(sizes: list[int]) -> None:
    weights = [1.0, 2.0, 0.5, 1.5, 1.0, 3.0]
    whole = run_batches(list(range(7)), [7], weights)
    split = run_batches([3, 6, 0, 2, 5, 1, 4], sizes, weights)
    assert set(whole) == set(TASKS)
    assert_same(split, whole)


def assert_same(got: dict, expected: dict) -> None:
    assert got.keys() == expected.keys()
    for task, values in expected.items():
        assert got[task].keys() == values.keys(), task
        for key, value in values.items():
            assert got[task][key] == pytest.approx(value, rel=1e-9, abs=1e-12), (task, key)


def test_chunking_does_not_change_results(monkeypatch: pytest.MonkeyPatch) -> None:
    whole = run_batches(list(range(7)), [7])
    monkeypatch.setattr(metrics_base, "CHUNK_ELEMENTS", 1)  # one image per chunk
    assert_same(run_batches(list(range(7)), [7]), whole)


def test_keys_cover_the_metric_spec_table() -> None:
    results = run_batches(list(range(7)), [7])
    for task, values in results.items():
        for key in values:
            metric_spec(task, key)  # raises for a key the table does not know
        for rule in DELTA_T_KEYS.values():
            assert set(rule.get(task, ())) <= set(values)


def test_reset_and_bf16_predictions() -> None:
    pred, target = normal_data(seed=8)
    ev = make_evaluator("normal", None)
    ev.process(torch.zeros_like(pred), target)
    ev.reset()
    ev.process(pred.bfloat16(), target)
    ref = evaluate("normal", pred.bfloat16().float(), target)
    assert ev.evaluate() == pytest.approx(ref)


def test_errors_are_clear() -> None:
    logits, labels = seg_data()
    labels[0, 0, 0] = 9
    with pytest.raises(ValueError, match="label 9"):
        evaluate("segment_semantic", logits, labels)
    with pytest.raises(ValueError, match="no valid pixels"):
        evaluate("depth_zbuffer", torch.ones(1, 1, 4, 4), torch.zeros(1, 1, 4, 4))
    with pytest.raises(ValueError, match="num_classes"):
        make_evaluator("segment_semantic", None)
    with pytest.raises(KeyError, match="unknown task"):
        make_evaluator("saliency", 3)
    ev = MultiTaskEvaluator(("normal",), None)
    with pytest.raises(KeyError, match="no target"):
        ev.process({"normal": torch.zeros(1, 3, 2, 2)}, {})


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_cuda_predictions_match_cpu() -> None:
    outputs, batch = full_set()
    cpu = MultiTaskEvaluator(TASKS, num_classes=C)
    cpu.process(outputs, batch)
    gpu = MultiTaskEvaluator(TASKS, num_classes=C)
    gpu.process({t: o.cuda() for t, o in outputs.items()}, batch)
    assert_same(gpu.evaluate(), cpu.evaluate())
