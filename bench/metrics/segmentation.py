"""Semantic segmentation: mIoU, pixel accuracy and (prior-weighted) cross-entropy."""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

from bench.losses import ClassWeights
from bench.metrics.base import TaskEvaluator
from bench.tasks import IGNORE_INDEX


class SegmentationEvaluator(TaskEvaluator):
    """Streaming `miou`, `pixel_acc` and `ce_err` over the labelled pixels of a split.

    Logits are upsampled bilinearly to label resolution, the predicted class is their argmax,
    and pixels labelled 255 are left out of everything.

    - A dataset-level confusion matrix M (rows: ground truth, columns: prediction) is pooled
      over the whole split. IoU_c = M_cc / (Σ_k M_ck + Σ_k M_kc − M_cc).
    - `miou` is the mean of IoU_c over the classes that occur in the ground truth *or* the
      prediction anywhere in the split; a class absent from both is left out. Unlike the public
      AdaShare / AdapMTL code, classes with zero true positives are *not* skipped (that
      inflates mIoU, docs/protocol.md §8.2) — a class only ever predicted, or never found, counts as 0.
    - `pixel_acc` = trace(M) / ΣM.
    - `ce_err` = Σ_p w[y_p]·(−log softmax(z_p)[y_p]) / Σ_p w[y_p] over the labelled pixels p
      of the split, with w the class weights (Taskonomy's `semseg_prior_factor`) or w ≡ 1.
      This is `nn.CrossEntropyLoss(weight=w, ignore_index=255)` applied to the whole split at
      once — the same formula as the training loss, pooled instead of averaged per batch.
    """

    task = "segment_semantic"

    def __init__(self, num_classes: int, class_weights: ClassWeights | None = None) -> None:
        if num_classes < 1:
            raise ValueError(f"segment_semantic: num_classes must be >= 1, got {num_classes}")
        self.num_classes = int(num_classes)
        self.class_weights: torch.Tensor | None = None
        if class_weights is not None:
            if isinstance(class_weights, torch.Tensor):
                weights = class_weights.detach().to("cpu", torch.float64)
            else:
                weights = torch.as_tensor(np.asarray(class_weights, dtype=np.float64))
            if weights.shape != (self.num_classes,):
                raise ValueError(
                    f"segment_semantic: class_weights has shape {tuple(weights.shape)}, "
                    f"expected ({self.num_classes},)"
                )
            self.class_weights = weights
        super().__init__()

    def reset(self) -> None:
        self.confusion = np.zeros((self.num_classes, self.num_classes), dtype=np.int64)
        self._ce_sum = 0.0
        self._weight_sum = 0.0

    def _process_chunk(self, pred: torch.Tensor, target: torch.Tensor) -> None:
        n_cls = self.num_classes
        if pred.shape[1] != n_cls:
            raise ValueError(
                f"segment_semantic: pred has {pred.shape[1]} classes, expected {n_cls}"
            )
        if target.dim() == 4 and target.shape[1] == 1:
            target = target[:, 0]
        target = target.long()
        valid = target != IGNORE_INDEX
        labels = target[valid]
        if labels.numel() == 0:
            return
        if int(labels.min()) < 0 or int(labels.max()) >= n_cls:
            bad = labels[(labels < 0) | (labels >= n_cls)][0].item()
            raise ValueError(
                f"segment_semantic: label {bad} outside 0..{n_cls - 1} (and not {IGNORE_INDEX})"
            )
        logits = pred.permute(0, 2, 3, 1)[valid]  # labelled pixels × classes
        predicted = logits.argmax(dim=1)
        nll = -F.log_softmax(logits, dim=1).gather(1, labels[:, None]).squeeze(1)
        if self.class_weights is not None:
            w = self.class_weights.to(logits.device)[labels]
            self._ce_sum += float((w * nll).sum())
            self._weight_sum += float(w.sum())
        else:
            self._ce_sum += float(nll.sum())
            self._weight_sum += float(labels.numel())
        counts = torch.bincount(labels * n_cls + predicted, minlength=n_cls * n_cls)
        self.confusion += counts.reshape(n_cls, n_cls).cpu().numpy()

    def evaluate(self) -> dict[str, float]:
        m = self.confusion.astype(np.float64)
        total = m.sum()
        self._require(total)
        tp = np.diag(m)
        union = m.sum(axis=0) + m.sum(axis=1) - tp
        present = union > 0
        return {
            "miou": float((tp[present] / union[present]).mean()),
            "pixel_acc": float(tp.sum() / total),
            # Only NaN if every labelled pixel's class has weight 0 (never with the real prior).
            "ce_err": self._ce_sum / self._weight_sum if self._weight_sum > 0 else float("nan"),
        }
