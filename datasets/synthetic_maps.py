"""Derived 2-D maps of the synthetic scenes: Taskonomy-style edges and keypoints, ignore labels.

The clip constants play the role of Taskonomy's fixed clips (SPEC §1: edges clip [0, 0.08],
keypoints clip [0, 0.005] of raw/2^16): a fixed scale for every image, then rescaled to [-1, 1],
so most pixels sit at -1 and structure shows as positive values. They were chosen so that at
64×64 a few percent (keypoints) to about a fifth (edges) of the pixels are above -1.
"""

from __future__ import annotations

import numpy as np

EDGE_CLIP = 0.12  # Sobel magnitude (luminance in [0, 1] per pixel) that maps to +1
KEYPOINT_CLIP = 5e-5  # Harris response that maps to +1
HARRIS_K = 0.05
IGNORE_FRACTION = 0.3  # share of class-boundary pixels labelled 255


def sobel(image: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Horizontal and vertical Sobel gradients (normalised by 8), edge-replicated borders."""
    p = np.pad(image, 1, mode="edge")
    gx = (p[:-2, 2:] + 2 * p[1:-1, 2:] + p[2:, 2:] - p[:-2, :-2] - 2 * p[1:-1, :-2] - p[2:, :-2])
    gy = (p[2:, :-2] + 2 * p[2:, 1:-1] + p[2:, 2:] - p[:-2, :-2] - 2 * p[:-2, 1:-1] - p[:-2, 2:])
    return gx / 8.0, gy / 8.0


def box3(image: np.ndarray) -> np.ndarray:
    h, w = image.shape
    p = np.pad(image, 1, mode="edge")
    total = np.zeros_like(image, dtype=np.float64)
    for i in range(3):
        for j in range(3):
            total += p[i : i + h, j : j + w]
    return total / 9.0


def to_signed_unit(raw: np.ndarray, clip: float) -> np.ndarray:
    return (np.clip(raw / clip, 0.0, 1.0) * 2.0 - 1.0).astype(np.float32)


def edge_map(luminance: np.ndarray) -> np.ndarray:
    gx, gy = sobel(luminance)
    return to_signed_unit(np.hypot(gx, gy), EDGE_CLIP)


def keypoint_map(image: np.ndarray) -> np.ndarray:
    gx, gy = sobel(image)
    sxx, syy, sxy = box3(gx * gx), box3(gy * gy), box3(gx * gy)
    response = sxx * syy - sxy * sxy - HARRIS_K * (sxx + syy) ** 2
    return to_signed_unit(response, KEYPOINT_CLIP)


def boundary_ignore(seg: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """A random subset of the pixels that touch another class (a boolean mask)."""
    edge = np.zeros(seg.shape, dtype=bool)
    horizontal = seg[:, 1:] != seg[:, :-1]
    vertical = seg[1:, :] != seg[:-1, :]
    edge[:, 1:] |= horizontal
    edge[:, :-1] |= horizontal
    edge[1:, :] |= vertical
    edge[:-1, :] |= vertical
    return edge & (rng.random(seg.shape) < IGNORE_FRACTION)
