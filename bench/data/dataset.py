"""`PreparedDataset`: one split of a prepared dataset (datasets/prepared.py), memory-mapped.

The arrays are opened lazily and dropped when the object is pickled, so DataLoader workers
(fork or spawn) each map the files themselves instead of receiving copies.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch

from bench.data.transforms import to_tensors
from datasets.prepared import prepared_dir, read_manifest, verify_split


class PreparedDataset:
    """One split (`train`, `val` or `test`) of a prepared dataset.

    `root` is the prepared directory, the one holding `manifest.json`
    (`datasets.prepared.prepared_dir(data_root, name)`).
    """

    def __init__(self, root: str | Path, split: str) -> None:
        self.root = Path(root)
        self.manifest: dict[str, Any] = read_manifest(self.root)
        splits = self.manifest["splits"]
        if split not in splits:
            raise ValueError(f"{self.root}: no split {split!r} (has {', '.join(splits)})")
        self.split = split
        # Sizes always, hashes for small splits, once per process (datasets/prepared.py): a
        # damaged copy stops here with exit 3 instead of training on wrong data.
        verify_split(self.root, split, self.manifest)
        self.count = int(splits[split]["count"])
        self.name: str = self.manifest["dataset"]
        self.tasks: tuple[str, ...] = tuple(self.manifest["tasks"])
        self.num_classes = int(self.manifest["num_classes"])
        height, width = self.manifest["image_size"]
        self.image_size: tuple[int, int] = (int(height), int(width))
        self.scoring: str | None = self.manifest.get("scoring")
        # Per-channel statistics on the 0-255 scale; the loader yields (rgb - mean) / std.
        self.rgb_mean = np.asarray(self.manifest.get("rgb_mean", [0.0] * 3), dtype=np.float32)
        self.rgb_std = np.asarray(self.manifest.get("rgb_std", [1.0] * 3), dtype=np.float32)
        weights = self.manifest.get("seg_class_weights")
        self.class_weights: torch.Tensor | None = (
            None if weights is None else torch.tensor(weights, dtype=torch.float32)
        )
        self._arrays: dict[str, np.ndarray] | None = None

    @classmethod
    def from_data_root(cls, data_root: str | Path, dataset: str, split: str) -> PreparedDataset:
        return cls(prepared_dir(data_root, dataset), split)

    @property
    def keys(self) -> tuple[str, ...]:
        return ("rgb", *self.tasks)

    @property
    def arrays(self) -> dict[str, np.ndarray]:
        """Read-only memory maps of the split's arrays, cut to the manifest's count."""
        if self._arrays is None:
            folder = self.root / self.split
            self._arrays = {key: _open(folder / f"{key}.npy")[: self.count] for key in self.keys}
        return self._arrays

    def __getstate__(self) -> dict[str, Any]:
        state = dict(self.__dict__)
        state["_arrays"] = None
        return state

    def __len__(self) -> int:
        return self.count

    def __repr__(self) -> str:
        h, w = self.image_size
        return f"PreparedDataset({self.name}/{self.split}: {self.count} × {h}×{w}, {self.tasks})"

    def raw(self, indices: Sequence[int] | np.ndarray) -> dict[str, np.ndarray]:
        """The stored arrays of these samples, in the given order (batch dimension first)."""
        idx = np.asarray(indices, dtype=np.int64)
        if idx.size and (idx.min() < 0 or idx.max() >= self.count):
            raise IndexError(f"sample index out of range 0..{self.count - 1}")
        return {key: np.asarray(array[idx]) for key, array in self.arrays.items()}

    def batch(self, indices: Sequence[int] | np.ndarray) -> dict[str, torch.Tensor]:
        """These samples as loader tensors, without augmentation."""
        return to_tensors(self.raw(indices), self.rgb_mean, self.rgb_std)

    def __getitem__(self, index: int) -> dict[str, torch.Tensor]:
        if not -self.count <= index < self.count:
            raise IndexError(f"sample {index} out of range for {self.count} samples")
        return {key: value[0] for key, value in self.batch([index % self.count]).items()}


def _open(path: Path) -> np.ndarray:
    try:
        return np.load(path, mmap_mode="r")
    except (OSError, ValueError, EOFError) as exc:
        from bench.io import CorruptFileError

        raise CorruptFileError(f"{path}: cannot be read, the file is corrupt or truncated "
                               f"({exc})") from None
