"""Derived 2-D maps of the synthetic scenes: Taskonomy-style edges and keypoints, ignore labels.

Both maps are image operators on the noise-free luminance, as Taskonomy's 2-D tasks are
(edges: Sobel gradient magnitude; keypoints: an interest-point response, here Harris with a
Gaussian integration window of sigma 2 px). Two earlier choices failed a learnability check:
Harris on the untextured geometry (1-2 px specks that the texture hides; a small CNN never beat
the constant predictor) and a 1 px window (too sparse: a network with output stride 8, as the
benchmark's, is best off predicting -1 everywhere under L1). The clip constants play the role of
Taskonomy's fixed clips (docs/protocol.md §1: edges [0, 0.08], keypoints [0, 0.005] of raw/2^16): one
scale for every image, then rescaled to [-1, 1], so flat regions sit at -1. They are tuned for
64×64 images (about half of the pixels above -1 for keypoints, two thirds for edges, mostly
weakly); at other sizes the per-pixel gradients and so the statistics change."""

from __future__ import annotations

import numpy as np

EDGE_CLIP = 0.12  # Sobel magnitude (luminance in [0, 1] per pixel) that maps to +1
EDGE_FLOOR = 0.004  # below this (smooth shading) a pixel is not an edge: -1
KEYPOINT_CLIP = 1e-5  # Harris response that maps to +1
KEYPOINT_SIGMA = 2.0  # Gaussian integration window of the Harris response, pixels
HARRIS_K = 0.05
IGNORE_FRACTION = 0.3  # share of class-boundary pixels labelled 255


def sobel(image: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Horizontal and vertical Sobel gradients (normalised by 8), edge-replicated borders."""
    p = np.pad(image, 1, mode="edge")
    gx = (p[:-2, 2:] + 2 * p[1:-1, 2:] + p[2:, 2:] - p[:-2, :-2] - 2 * p[1:-1, :-2] - p[2:, :-2])
    gy = (p[2:, :-2] + 2 * p[2:, 1:-1] + p[2:, 2:] - p[:-2, :-2] - 2 * p[:-2, 1:-1] - p[:-2, 2:])
    return gx / 8.0, gy / 8.0


def gaussian_blur(image: np.ndarray, sigma: float) -> np.ndarray:
    """Separable Gaussian blur (radius 2.5 sigma), edge-replicated borders."""
    radius = int(np.ceil(2.5 * sigma))
    kernel = np.exp(-(np.arange(-radius, radius + 1) ** 2) / (2.0 * sigma * sigma))
    kernel /= kernel.sum()
    h, w = image.shape
    p = np.pad(image, radius, mode="edge")
    rows = sum(k * p[:, i : i + w] for i, k in enumerate(kernel))
    return np.asarray(sum(k * rows[i : i + h, :] for i, k in enumerate(kernel)))


def to_signed_unit(raw: np.ndarray, clip: float) -> np.ndarray:
    return (np.clip(raw / clip, 0.0, 1.0) * 2.0 - 1.0).astype(np.float32)


def edge_map(luminance: np.ndarray) -> np.ndarray:
    gx, gy = sobel(luminance)
    return to_signed_unit(np.maximum(np.hypot(gx, gy) - EDGE_FLOOR, 0.0), EDGE_CLIP)


def keypoint_map(image: np.ndarray) -> np.ndarray:
    gx, gy = sobel(image)
    sxx, syy, sxy = (gaussian_blur(g, KEYPOINT_SIGMA) for g in (gx * gx, gy * gy, gx * gy))
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
