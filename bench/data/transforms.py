"""Batch transforms: crop + flip, resize, and conversion to loader tensors.

Batches travel in the stored layout (datasets/prepared.py) with the batch dimension first —
`rgb` N×H×W×3, `segment_semantic` N×H×W, every other map N×C×H×W — and become tensors only at
the end (`to_tensors`). Crop, flip and normalisation are numpy: single-threaded and cheap for
small images, and independent of torch's intra-op thread pool, which on a busy 2-core machine
costs more than the work itself. Resizing uses torch's interpolation.

Tasks stay consistent: one crop window per sample for every map, and a horizontal flip mirrors
every map and negates the normals' x component (docs/protocol.md §7; the public NYU loader forgets it).
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

SEGMENTATION = "segment_semantic"


def crop_flip(
    raw: dict[str, np.ndarray],
    tops: np.ndarray,
    lefts: np.ndarray,
    flips: np.ndarray,
    crop: tuple[int, int],
) -> dict[str, np.ndarray]:
    """Cut window (top, left, crop) out of each sample; mirror the samples with flip=True."""
    h, w = crop
    out: dict[str, np.ndarray] = {}
    for key, x in raw.items():
        hwc = key == "rgb"
        parts = []
        for i, (top, left, flip) in enumerate(zip(tops, lefts, flips, strict=True)):
            if hwc:
                part = x[i, top : top + h, left : left + w]
                part = part[:, ::-1] if flip else part
            else:
                part = x[i, ..., top : top + h, left : left + w]
                part = part[..., ::-1] if flip else part
            parts.append(part)
        out[key] = np.stack(parts)
    if "normal" in out and flips.any():
        normal = out["normal"].astype(np.float32)
        normal[flips, 0] *= -1.0
        out["normal"] = normal
    return out


def to_tensors(
    raw: dict[str, np.ndarray], rgb_mean: np.ndarray, rgb_std: np.ndarray
) -> dict[str, torch.Tensor]:
    """Stored layout → loader tensors (docs/protocol.md §1); RGB normalised and made N×3×H×W."""
    out: dict[str, torch.Tensor] = {}
    for key, x in raw.items():
        if key == "rgb":
            rgb = (x.astype(np.float32) - rgb_mean) / rgb_std
            out[key] = torch.from_numpy(np.ascontiguousarray(rgb.transpose(0, 3, 1, 2)))
        elif key == SEGMENTATION:
            out[key] = torch.from_numpy(np.ascontiguousarray(x, dtype=np.int64))
        else:
            out[key] = torch.from_numpy(np.ascontiguousarray(x, dtype=np.float32))
    return out


def _interpolate(x: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    shrink = size[0] < x.shape[-2] or size[1] < x.shape[-1]
    return F.interpolate(x, size=size, mode="bilinear", align_corners=False, antialias=shrink)


def _nearest(x: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    return F.interpolate(x, size=size, mode="nearest-exact")


def _resize_masked(x: torch.Tensor, key: str, size: tuple[int, int]) -> torch.Tensor:
    """Average over valid pixels only: filter the masked values and the mask, then divide. A
    pixel is valid after resizing where its nearest source pixel was, so invalid stays invalid."""
    valid = (x > 0 if key == "depth_zbuffer" else (x != 0).any(dim=1, keepdim=True)).float()
    num = _interpolate(x * valid, size)
    den = _interpolate(valid, size)
    keep = (_nearest(valid, size) > 0.5) & (den > 1e-6)
    if key == "normal":
        norm = num.norm(dim=1, keepdim=True)
        keep &= norm > 1e-6
        value = num / norm.clamp_min(1e-6)
    else:
        value = num / den.clamp_min(1e-6)
    return torch.where(keep, value, torch.zeros_like(value))


def resize_maps(raw: dict[str, np.ndarray], size: tuple[int, int]) -> dict[str, np.ndarray]:
    """Resize every map: bilinear (antialiased when shrinking) for RGB and continuous targets,
    nearest for labels; depth and normals via `_resize_masked`, normals renormalised."""
    size = (int(size[0]), int(size[1]))
    out: dict[str, np.ndarray] = {}
    for key, x in raw.items():
        spatial = x.shape[1:3] if key == "rgb" else x.shape[-2:]
        if tuple(spatial) == size:
            out[key] = x
            continue
        if key == "rgb":
            t = torch.from_numpy(x.astype(np.float32)).permute(0, 3, 1, 2)
            out[key] = _interpolate(t, size).permute(0, 2, 3, 1).numpy()
        elif key == SEGMENTATION:
            t = torch.from_numpy(x.astype(np.float32))[:, None]
            out[key] = _nearest(t, size)[:, 0].numpy().astype(x.dtype)
        elif key in ("depth_zbuffer", "normal"):
            out[key] = _resize_masked(torch.from_numpy(x.astype(np.float32)), key, size).numpy()
        else:
            out[key] = _interpolate(torch.from_numpy(x.astype(np.float32)), size).numpy()
    return out
