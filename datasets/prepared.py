"""The prepared on-disk format: one layout for every dataset, read by one loader.

    <root>/manifest.json
    <root>/<split>/rgb.npy                 uint8   N×H×W×3
    <root>/<split>/segment_semantic.npy    uint8   N×H×W       255 = ignore
    <root>/<split>/normal.npy              float16 N×3×H×W     unit vectors, all-zero = invalid
    <root>/<split>/depth_zbuffer.npy       float32 N×1×H×W     0 = invalid
    <root>/<split>/keypoints2d.npy         float16 N×1×H×W     in [-1, 1]
    <root>/<split>/edge_texture.npy        float16 N×1×H×W     in [-1, 1]

Splits are `train`, `val` and `test`. Arrays are plain `.npy` files so the loader can memory-map
them (constant memory, random access). Arrays may be allocated larger than needed; the manifest's
`count` per split is authoritative. The writer fills `<root>.partial/` and renames it to `<root>`
only when everything is written, so a reader never sees half a dataset.

Manifest keys besides the ones `PreparedWriter.finish` always writes (pass them as `meta`):
`scoring` (ΔT rule, "nyu" or "taskonomy"), `rgb_mean` and `rgb_std` (per RGB channel, 0-255
scale; the loader normalises with them), `seg_class_weights` (list of num_classes floats, e.g.
Taskonomy's semseg prior, or null), `source` (what was prepared from, free-form dict),
`report` (skipped / corrupt files, for real datasets).
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

from bench.errors import DataUnavailableError

FORMAT_VERSION = 1
SPLITS = ("train", "val", "test")

ARRAY_DTYPES: dict[str, np.dtype] = {
    "rgb": np.dtype(np.uint8),
    "segment_semantic": np.dtype(np.uint8),
    "normal": np.dtype(np.float16),
    "depth_zbuffer": np.dtype(np.float32),
    "keypoints2d": np.dtype(np.float16),
    "edge_texture": np.dtype(np.float16),
}


def sample_shape(key: str, height: int, width: int) -> tuple[int, ...]:
    if key == "rgb":
        return (height, width, 3)
    if key == "segment_semantic":
        return (height, width)
    if key == "normal":
        return (3, height, width)
    return (1, height, width)


def prepared_dir(data_root: str | Path, dataset: str) -> Path:
    return Path(data_root) / dataset / "prepared"


def write_json_atomic(path: Path, payload: Any) -> None:
    # A unique temp name: two preparers (or a preparer and a reader's repair) never share one.
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        mask = os.umask(0)
        os.umask(mask)
        os.fchmod(fd, 0o666 & ~mask)  # mkstemp's 0600 would differ from the other files
        with os.fdopen(fd, "w") as handle:
            handle.write(json.dumps(payload, indent=2, sort_keys=True) + "\n")
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def file_sha256(path: Path, limit_bytes: int | None = None) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        remaining = limit_bytes
        while True:
            chunk = f.read(1 << 20 if remaining is None else min(1 << 20, remaining))
            if not chunk:
                break
            h.update(chunk)
            if remaining is not None:
                remaining -= len(chunk)
                if remaining <= 0:
                    break
    return h.hexdigest()


class PreparedWriter:
    """Streams samples into the prepared format, one split at a time or interleaved."""

    def __init__(
        self,
        root: str | Path,
        dataset: str,
        tasks: tuple[str, ...],
        num_classes: int,
        image_size: tuple[int, int],
        capacities: dict[str, int],
    ) -> None:
        self.root = Path(root)
        self.partial = self.root.with_name(self.root.name + ".partial")
        self.dataset = dataset
        self.tasks = tuple(tasks)
        self.num_classes = num_classes
        self.height, self.width = image_size
        self.counts = dict.fromkeys(capacities, 0)
        self.capacities = dict(capacities)
        if self.partial.exists():
            shutil.rmtree(self.partial)
        self.arrays: dict[str, dict[str, np.memmap]] = {}
        for split, capacity in capacities.items():
            (self.partial / split).mkdir(parents=True, exist_ok=True)
            self.arrays[split] = {
                key: np.lib.format.open_memmap(
                    self.partial / split / f"{key}.npy",
                    mode="w+",
                    dtype=ARRAY_DTYPES[key],
                    shape=(max(capacity, 1), *sample_shape(key, self.height, self.width)),
                )
                for key in ("rgb", *self.tasks)
            }

    def add(self, split: str, sample: dict[str, np.ndarray]) -> None:
        i = self.counts[split]
        if i >= self.capacities[split]:
            raise IndexError(f"split {split!r} is full ({self.capacities[split]} samples)")
        for key, array in self.arrays[split].items():
            value = np.asarray(sample[key])
            if value.shape != array.shape[1:]:
                raise ValueError(f"{key}: shape {value.shape}, expected {array.shape[1:]}")
            array[i] = value.astype(array.dtype, copy=False)
        self.counts[split] = i + 1

    def finish(self, **meta: Any) -> dict[str, Any]:
        """Flush, checksum, write the manifest and move the result into place."""
        splits: dict[str, Any] = {}
        for split, arrays in self.arrays.items():
            files = {}
            for key, array in arrays.items():
                array.flush()
                files[key] = {"dtype": str(array.dtype), "shape": list(array.shape[1:])}
            del arrays
            splits[split] = {"count": self.counts[split], "files": files}
        self.arrays = {}
        for split, info in splits.items():
            for key, entry in info["files"].items():
                entry["sha256"] = file_sha256(self.partial / split / f"{key}.npy")
        manifest = {
            "format_version": FORMAT_VERSION,
            "dataset": self.dataset,
            "tasks": list(self.tasks),
            "num_classes": self.num_classes,
            "image_size": [self.height, self.width],
            "splits": splits,
            **meta,
        }
        write_json_atomic(self.partial / "manifest.json", manifest)
        if self.root.exists():
            shutil.rmtree(self.root)
        os.replace(self.partial, self.root)
        return manifest


# Hash every file of a split when it is first opened in a process if the split is at most this
# big (the synthetic default is ~15 MB: ~30 ms); bigger ones (NYU-v2, Taskonomy) are checked by
# size on open and by hash in `bench prepare` / `bench prepare --verify` (the pipeline's stage).
HASH_ON_OPEN_MAX_BYTES = 256 << 20
_VERIFIED: set[tuple[str, int, int, bool]] = set()  # (file, size, mtime_ns, hashed) seen intact


class PreparedDataMismatch(DataUnavailableError):
    """A prepared file does not match its manifest (truncated, replaced, damaged). Exit 3."""


def _npy_layout(path: Path) -> tuple[tuple[int, ...], np.dtype, int]:
    """Shape, dtype and expected file size from a .npy header (reads only the header)."""
    with open(path, "rb") as f:
        version = np.lib.format.read_magic(f)
        read = (np.lib.format.read_array_header_1_0 if version == (1, 0)
                else np.lib.format.read_array_header_2_0)
        shape, _, dtype = read(f)
        data_start = f.tell()
    return tuple(shape), np.dtype(dtype), data_start + int(np.prod(shape)) * np.dtype(dtype).itemsize


def verify_split(root: str | Path, split: str, manifest: dict[str, Any] | None = None,
                 hashes: bool | None = None) -> None:
    """Check one split's files against the manifest: layout and size always, sha256 when
    `hashes` (None: when the split is small, see HASH_ON_OPEN_MAX_BYTES). Each intact file is
    remembered for the process, so re-opening a split costs a stat per file."""
    root = Path(root)
    manifest = manifest if manifest is not None else read_manifest(root)
    info = manifest["splits"][split]
    paths = {key: root / split / f"{key}.npy" for key in info["files"]}
    fix = (f"the prepared copy is damaged; delete {root} and run "
           f"`bench prepare {manifest.get('dataset', '<dataset>')}`")
    sizes = {}
    for key, path in paths.items():
        try:
            sizes[key] = path.stat()
        except OSError:
            raise PreparedDataMismatch(f"{path} is missing ({fix})") from None
    if hashes is None:
        hashes = sum(st.st_size for st in sizes.values()) <= HASH_ON_OPEN_MAX_BYTES
    for key, path in paths.items():
        st, entry = sizes[key], info["files"][key]
        seen = (str(path.resolve()), st.st_size, st.st_mtime_ns)
        if (*seen, True) in _VERIFIED or (not hashes and (*seen, False) in _VERIFIED):
            continue
        try:
            shape, dtype, size = _npy_layout(path)
        except (OSError, ValueError, EOFError) as exc:
            raise PreparedDataMismatch(f"{path}: not a readable .npy file ({exc}); {fix}") from None
        expected = (str(dtype) == entry["dtype"] and list(shape[1:]) == list(entry["shape"])
                    and shape[0] >= info["count"])
        if not expected or size != st.st_size:
            what = "layout" if not expected else f"size ({st.st_size} bytes, expected {size})"
            raise PreparedDataMismatch(f"{path} does not match {root / 'manifest.json'}: "
                                       f"{what} differs; {fix}")
        if hashes and entry.get("sha256") and file_sha256(path) != entry["sha256"]:
            raise PreparedDataMismatch(f"{path} does not match {root / 'manifest.json'}: "
                                       f"sha256 differs; {fix}")
        _VERIFIED.add((*seen, hashes))


def verify_prepared(root: str | Path, hashes: bool = True) -> dict[str, Any]:
    """Every split against the manifest (sha256 included by default); returns the manifest."""
    manifest = read_manifest(root)
    for split in manifest["splits"]:
        verify_split(root, split, manifest, hashes)
    return manifest


def read_manifest(root: str | Path) -> dict[str, Any]:
    path = Path(root) / "manifest.json"
    if not path.exists():
        raise FileNotFoundError(
            f"{root} holds no prepared dataset (no manifest.json); run `bench prepare` first"
        )
    manifest: dict[str, Any] = json.loads(path.read_text())
    if manifest.get("format_version") != FORMAT_VERSION:
        raise ValueError(f"{path}: format_version {manifest.get('format_version')} unsupported")
    return manifest
