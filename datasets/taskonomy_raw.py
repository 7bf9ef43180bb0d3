"""Tiny-Taskonomy raw copies (docs/protocol.md §7): the two layouts, the building split, the semseg prior.

Layouts (both accepted; `detect_layout` says which one it found):
- `omnidata`: `<root>/<domain>/taskonomy/<building>/point_<i>_view_<j>_domain_<suffix>.png`
  (what `omnitools.download ... --subset tiny` unpacks).
- `taskonomy`: `<root>/<building>/<domain>/point_<i>_view_<j>_domain_<suffix>.png` (the original
  per-building tars). The folder of the segmentation domain is `segment_semantic`; the spelling
  `segmentsemantic` is accepted too (unconfirmed which one old copies use).

Besides the images, the root holds `train_val_test_tiny.csv` (columns id,train,val,test, lines
ending in a bare CR) and `semseg_prior_factor.npy` (float64, 17 values). Their SHA-256 sums
below were computed from the files in StanfordVL/taskonomy (master). No checksums exist for the
image tars of the Omnidata release, so images are verified by structure and per-building counts.
"""

from __future__ import annotations

import functools
import os
import re
from pathlib import Path
from typing import Any

import numpy as np

from bench.errors import DataUnavailableError
from datasets.prepared import file_sha256

DOMAINS = ("rgb", "segment_semantic", "normal", "depth_zbuffer", "keypoints2d", "edge_texture")
FILE_SUFFIX = {"rgb": "rgb", "segment_semantic": "segmentsemantic", "normal": "normal",
               "depth_zbuffer": "depth_zbuffer", "keypoints2d": "keypoints2d",
               "edge_texture": "edge_texture"}
FOLDER_NAMES = {d: (d,) for d in DOMAINS} | {
    "segment_semantic": ("segment_semantic", "segmentsemantic")}
SPLIT_CSV = "train_val_test_tiny.csv"
PRIOR_FILE = "semseg_prior_factor.npy"
SPLIT_CSV_SHA256 = "4e7b6d2d648ab8b41686905d77f4e2f0127aac2ae6f04e274b88fcf1b4e73630"
SPLITS_ZIP_SHA256 = "58e353198de5b85feb4f51b81762bd43bb9aaacc17879d4ce58270900770c0c5"
PRIOR_SHA256 = "44dbd6fe7b9a7e04009d95367f43d9435f529adb89147826a2b7b036ce6be171"
NUM_CLASSES = 17
# docs/protocol.md §7: the tiny split, used when the CSV is absent and to cross-check it.
TINY_SPLIT: dict[str, tuple[str, ...]] = {
    "train": ("hanson", "merom", "klickitat", "onaga", "leonardo", "marstons", "newfields",
              "pinesdale", "lakeville", "cosmos", "benevolence", "pomaria", "tolstoy",
              "shelbyville", "allensville", "wainscott", "beechwood", "coffeen", "stockman",
              "hiteman", "woodbine", "lindenwood", "forkland", "mifflinburg", "ranchester"),
    "val": ("wiconisco", "corozal", "collierville", "markleeville", "darden"),
    "test": ("ihlen", "muleshoe", "uvalda", "noxapater", "mcdade"),
}
VIEW_RE = re.compile(r"^point_(\d+)_view_(\d+)_domain_rgb\.png$")


def detect_layout(root: Path) -> str:
    if (root / "rgb" / "taskonomy").is_dir():
        return "omnidata"
    if any((d / "rgb").is_dir() for d in root.iterdir() if d.is_dir()):
        return "taskonomy"
    raise DataUnavailableError(
        f"{root} is not a Tiny-Taskonomy copy: expected rgb/taskonomy/<building>/ (Omnidata "
        "downloader) or <building>/rgb/ (original layout); see docs/datasets.md"
    )


@functools.lru_cache(maxsize=1024)
def domain_dir(root: Path, layout: str, building: str, domain: str) -> Path:
    """The folder of one domain of one building (the first spelling that exists)."""
    options = [root / name / "taskonomy" / building if layout == "omnidata"
               else root / building / name for name in FOLDER_NAMES[domain]]
    return next((p for p in options if p.is_dir()), options[0])


def buildings_found(root: Path, layout: str) -> list[str]:
    base = root / "rgb" / "taskonomy" if layout == "omnidata" else root
    return sorted(d.name for d in base.iterdir()
                  if d.is_dir() and (layout == "omnidata" or (d / "rgb").is_dir()))


def views(rgb_dir: Path) -> list[tuple[int, int]]:
    """(point, view) pairs that have an RGB file, in numeric order."""
    found = []
    with os.scandir(rgb_dir) as entries:
        for e in entries:
            m = VIEW_RE.match(e.name)
            if m:
                found.append((int(m.group(1)), int(m.group(2))))
    return sorted(found)


def sample_files(root: Path, layout: str, building: str, point: int, view: int
                 ) -> dict[str, Path]:
    files = {}
    for domain in DOMAINS:
        folder = domain_dir(root, layout, building, domain)
        name = f"point_{point}_view_{view}_domain_{FILE_SUFFIX[domain]}.png"
        files[domain] = folder / name
    return files


def locate(root: Path, layout: str, ref: tuple[str, int, int]) -> dict[str, Path]:
    """`preparer.Candidate.locate` for a (building, point, view) reference."""
    return sample_files(root, layout, *ref)


def read_split_csv(path: Path) -> dict[str, list[str]]:
    """`id,train,val,test` with 0/1 flags; bare-CR, LF and CRLF line endings all work."""
    lines = [ln.strip() for ln in path.read_bytes().decode("utf-8-sig").splitlines()]
    header = [h.strip() for h in lines[0].split(",")]
    if header[:1] != ["id"] or not {"train", "val", "test"} <= set(header):
        raise DataUnavailableError(f"{path}: header {lines[0]!r}, expected id,train,val,test")
    splits: dict[str, list[str]] = {"train": [], "val": [], "test": []}
    for line in filter(None, lines[1:]):
        row = dict(zip(header, (v.strip() for v in line.split(",")), strict=False))
        for split in splits:
            if row.get(split, "0") not in ("0", "", "0.0", "False", "false"):
                splits[split].append(row["id"])
    return splits


def load_splits(root: Path) -> tuple[dict[str, list[str]], dict[str, Any]]:
    """The building split and facts about where it came from (for the report)."""
    path = root / SPLIT_CSV
    if not path.exists():
        return ({s: list(b) for s, b in TINY_SPLIT.items()},
                {"split_source": "built-in (docs/protocol.md §7)",
                 "warnings": [f"{SPLIT_CSV} not found in {root}; used the tiny split of docs/protocol.md §7"]})
    splits = read_split_csv(path)
    warnings = []
    if file_sha256(path) != SPLIT_CSV_SHA256:
        warnings.append(f"{SPLIT_CSV}: SHA-256 differs from the StanfordVL/taskonomy file "
                        "(line endings changed?); parsed as is")
    if {s: sorted(b) for s, b in splits.items()} != {s: sorted(b) for s, b in TINY_SPLIT.items()}:
        warnings.append(f"{SPLIT_CSV}: buildings differ from the 25/5/5 tiny split of docs/protocol.md §7")
    return splits, {"split_source": SPLIT_CSV, "warnings": warnings}


def read_prior(root: Path) -> tuple[list[float], list[str]]:
    path = root / PRIOR_FILE
    if not path.exists():
        raise DataUnavailableError(
            f"{path} is missing: the segmentation loss and ce_err are weighted by it. Get it "
            "from StanfordVL/taskonomy (taskbank/lib/data/semseg_prior_factor.npy) — `bench "
            "fetch taskonomy` downloads it — and put it next to the images."
        )
    prior = np.load(path, allow_pickle=False)
    if prior.shape != (NUM_CLASSES,) or not np.all(np.isfinite(prior)) or np.any(prior <= 0):
        raise DataUnavailableError(f"{path}: expected {NUM_CLASSES} positive finite weights, "
                                   f"got shape {prior.shape}")
    warnings = []
    if file_sha256(path) != PRIOR_SHA256:
        warnings.append(f"{PRIOR_FILE}: SHA-256 differs from the StanfordVL/taskonomy file")
    return [float(v) for v in prior], warnings


def count_files(folder: Path) -> int:
    if not folder.is_dir():
        return 0
    with os.scandir(folder) as entries:
        return sum(e.name.endswith(".png") for e in entries)


def verify_raw(root: Path) -> dict[str, Any]:
    """Layout, buildings (missing ones reported, not fatal), per-domain counts, CSV and prior."""
    layout = detect_layout(root)
    splits, split_info = load_splits(root)
    _, prior_warnings = read_prior(root)
    found = set(buildings_found(root, layout))
    wanted = [b for s in ("train", "val", "test") for b in splits[s]]
    missing = [b for b in wanted if b not in found]
    warnings = [*split_info["warnings"], *prior_warnings]
    if missing:
        warnings.append(f"buildings missing: {', '.join(missing)} (Omnidata's tiny subset has "
                        "no woodbine); their samples are absent, not an error")
    if not set(wanted) & found:
        raise DataUnavailableError(f"{root}: none of the split's buildings are present")
    counts: dict[str, dict[str, int]] = {}
    for b in (b for b in wanted if b in found):
        counts[b] = {d: count_files(domain_dir(root, layout, b, d)) for d in DOMAINS}
        if len(set(counts[b].values())) > 1:
            warnings.append(f"{b}: file counts differ between domains {counts[b]} (samples "
                            "lacking a domain will be skipped)")
    return {
        "path": str(root.resolve()), "layout": layout, "split_source": split_info["split_source"],
        "buildings_missing": missing, "buildings_unlisted": sorted(found - set(wanted)),
        "counts": {s: {b: counts[b]["rgb"] for b in splits[s] if b in counts}
                   for s in ("train", "val", "test")},
        "files_per_domain": counts, "warnings": warnings,
        "verified": {"structure": True,
                     "split_csv_sha256_matches": (root / SPLIT_CSV).exists()
                     and file_sha256(root / SPLIT_CSV) == SPLIT_CSV_SHA256,
                     "prior_sha256_matches": file_sha256(root / PRIOR_FILE) == PRIOR_SHA256,
                     "images_sha256": "no published checksums for the Omnidata tiny tars; "
                                      "verified by structure and per-domain counts"},
    }
