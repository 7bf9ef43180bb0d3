"""Reading and resizing raw label images with Pillow (no OpenCV).

Every reader decodes the whole file (`Image.load()`), so a truncated PNG fails here, inside the
per-sample try of the preparer, and never later.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image


def read_image(path: Path) -> np.ndarray:
    """A PNG as an array: RGB → H×W×3 uint8; gray → H×W uint8 (8-bit) or uint16 (16-bit)."""
    with Image.open(path) as im:
        im.load()
        mode = im.mode
        if mode in ("RGB", "L", "P"):
            return np.array(im)
        if mode == "RGBA":
            return np.array(im)[..., :3]
        if mode == "LA":
            return np.array(im)[..., 0]
        if mode.startswith("I;16"):
            return np.array(im).astype(np.uint16)
        if mode == "I":
            array = np.array(im)
            if array.min() < 0 or array.max() > 65535:
                raise ValueError(f"{path.name}: 32-bit values outside 0..65535")
            return array.astype(np.uint16)
        raise ValueError(f"{path.name}: unsupported PNG mode {mode}")


def read_rgb(path: Path) -> np.ndarray:
    array = read_image(path)
    if array.ndim != 3 or array.dtype != np.uint8:
        raise ValueError(f"{path.name}: expected 8-bit RGB, got {array.dtype} {array.shape}")
    return array


def read_gray(path: Path) -> np.ndarray:
    """One channel; an RGB file whose three channels are equal is accepted as gray."""
    array = read_image(path)
    if array.ndim == 3:
        if not (np.array_equal(array[..., 0], array[..., 1])
                and np.array_equal(array[..., 0], array[..., 2])):
            raise ValueError(f"{path.name}: expected one channel, got RGB")
        array = array[..., 0]
    return array


def bit_depth(array: np.ndarray) -> int:
    return 16 if array.dtype == np.uint16 else 8


def resize_nearest(array: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """Nearest-neighbour resize of the first two axes, dtype and values preserved."""
    h, w = size
    if array.shape[:2] == (h, w):
        return array
    rows = np.minimum(((np.arange(h) + 0.5) * array.shape[0] / h).astype(np.int64),
                      array.shape[0] - 1)
    cols = np.minimum(((np.arange(w) + 0.5) * array.shape[1] / w).astype(np.int64),
                      array.shape[1] - 1)
    return array[rows][:, cols]


def resize_bilinear(array: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """Bilinear (antialiased when shrinking) resize of an H×W or H×W×C array to float32."""
    h, w = size
    if array.shape[:2] == (h, w):
        return array.astype(np.float32)
    channels = array[..., None] if array.ndim == 2 else array
    out = np.stack(
        [np.asarray(Image.fromarray(np.ascontiguousarray(channels[..., c], dtype=np.float32))
                    .resize((w, h), Image.Resampling.BILINEAR))
         for c in range(channels.shape[2])],
        axis=-1,
    )
    return out[..., 0] if array.ndim == 2 else out


def decode_normals(rgb: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """uint8 (or float 0..255) H×W×3 → (3×H×W float32 vectors x/255·2−1, H×W norm)."""
    vectors = rgb.astype(np.float32) / 255.0 * 2.0 - 1.0
    norm = np.linalg.norm(vectors, axis=-1)
    return np.moveaxis(vectors, -1, 0), norm


def unit_normals(vectors: np.ndarray, norm: np.ndarray, valid: np.ndarray) -> np.ndarray:
    """Normalise the valid vectors to length 1 and zero the rest (the prepared convention)."""
    valid = valid & (norm > 1e-6)
    safe = np.where(valid, norm, 1.0)
    return np.where(valid[None], vectors / safe[None], 0.0).astype(np.float32)
