"""NYU-v2, AdaShare 3-task release (docs/protocol.md §7): fetch, verify, register and prepare.

Raw layout under the data root: `nyu_v2_3task.json` (`{"train": [[img, seg, normal, depth],
...], "test": [...]}`, paths relative to the root), `img/<id>.png` (8-bit RGB, white border),
`seg/<id>.png` (8-bit, 0..39, 255 = ignore), `normal_mask/<id>.png` (8-bit RGB, x/255·2−1),
`depth/<id>.npy` (float32 metres, valid > 3e-5).

Channel order of the normals: checked on the AdaShare sample files (`nyu_v2_samples/`), the
file's R channel is the horizontal component (left-facing walls negative, right-facing
positive), B is vertical (table tops positive) and G the viewing axis. The prepared array keeps
the file's R,G,B order, so channel 0 is x and a horizontal flip negates channel 0. (The public
code reads the file as BGR, so its x is channel 2 — and its flip negates nothing.)
"""

from __future__ import annotations

import functools
import hashlib
import json
import logging
import os
import shutil
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from bench.errors import DataUnavailableError
from datasets import download as dl
from datasets.imageio import decode_normals, read_gray, read_rgb, unit_normals
from datasets.prepared import file_sha256, prepared_dir
from datasets.preparer import Candidate, PrepareJob, run
from datasets.rawstore import register_raw, resolve_raw

log = logging.getLogger(__name__)

DATASET = "nyuv2"
TASKS = ("segment_semantic", "normal", "depth_zbuffer")
NUM_CLASSES = 40
DRIVE_FILE_ID = "11pWuQXMFBNMIIB4VYMzi9RPE-nMOBU8g"
URL_ENV = "BENCH_NYUV2_URL"  # another address for the release (a mirror; tests use it)
# No checksum is published for the AdaShare Drive file, so none is recorded here: `fetch`
# stores the SHA-256 it observed in raw.json, and the copy is verified by structure and counts.
ARCHIVE_SHA256: str | None = None
ARCHIVE_NAME = "nyu_v2_adashare.download"  # the archive's own name is unconfirmed
SPLIT_FILE = "nyu_v2_3task.json"
LIST_DIRS = ("img", "seg", "normal_mask", "depth")
EXPECTED_COUNTS = {"train": 795, "test": 654}  # the standard split; the JSON's counts unconfirmed
EXPECTED_SIZE = (480, 640)
IGNORE = 255
DEPTH_VALID_MIN = 3e-5
NORMAL_MIN_NORM = 0.5
VAL_FRACTION = 0.1
VAL_SEED = 0


def offline_message(data_root: str | Path, reason: str) -> str:
    url = dl.DRIVE_URL.format(file_id=DRIVE_FILE_ID)
    raw = Path(data_root) / DATASET / "raw"
    return (
        f"NYU-v2 cannot be downloaded here ({reason}). On a machine with internet, download "
        f"the AdaShare NYU-v2 release (Google Drive file {DRIVE_FILE_ID}, about 2 GB: {url}), "
        f"unpack it so that {SPLIT_FILE}, img/, seg/, normal_mask/ and depth/ sit in one "
        f"folder, copy that folder to this machine (e.g. to {raw}), then run "
        f"`bench fetch nyuv2 --raw {raw}` and `bench prepare nyuv2`."
    )


def _clean(path: str) -> str:
    return path.strip().lstrip("/").removeprefix("./")


def read_split_file(root: Path) -> dict[str, list[list[str]]]:
    path = root / SPLIT_FILE
    if not path.exists():
        raise DataUnavailableError(
            f"{root} is not an NYU-v2 (AdaShare) copy: {SPLIT_FILE} is missing. Point --raw at "
            "the folder that holds nyu_v2_3task.json, img/, seg/, normal_mask/ and depth/."
        )
    try:
        data = json.loads(path.read_text())
        lists = {s: [[_clean(p) for p in entry] for entry in data[s]] for s in EXPECTED_COUNTS}
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        raise DataUnavailableError(f"{path}: not a valid split file ({exc})") from None
    for split, entries in lists.items():
        if any(len(e) != 4 for e in entries):
            raise DataUnavailableError(f"{path}: every {split} entry must list 4 paths "
                                       "[img, seg, normal, depth]")
    return lists


def verify_raw(root: Path) -> dict[str, Any]:
    """Structure and counts (no checksum is known); raises if the copy is unusable."""
    lists = read_split_file(root)
    counts = {s: len(v) for s, v in lists.items()}
    listed = [p for entries in lists.values() for e in entries for p in e]
    missing = [p for p in listed if not (root / p).is_file()]
    warnings = [
        f"{s}: {counts[s]} samples listed, the standard split has {n} (unconfirmed for this "
        "release)" for s, n in EXPECTED_COUNTS.items() if counts[s] != n
    ]
    if missing:
        warnings.append(f"{len(missing)} of {len(listed)} listed files are missing "
                        "(their samples will be skipped)")
    if len(missing) == len(listed):
        raise DataUnavailableError(f"{root}: none of the files listed in {SPLIT_FILE} exist")
    return {
        "path": str(root.resolve()), "layout": "adashare", "counts": counts,
        "files_listed": len(listed), "files_missing": len(missing),
        "missing_examples": missing[:10], "warnings": warnings,
        "verified": {"structure": True, "counts_match_standard_split": counts == EXPECTED_COUNTS,
                     "sha256": "no published checksum for this release; not verified"},
    }


def register(data_root: str | Path, raw: str | Path, extra: dict[str, Any] | None = None
             ) -> dict[str, Any]:
    root = Path(raw).expanduser()
    if not root.is_dir():
        raise DataUnavailableError(f"--raw {raw}: no such directory")
    info = {**verify_raw(root), **(extra or {})}
    path = register_raw(data_root, DATASET, info)
    for w in info["warnings"]:
        log.warning("nyuv2: %s", w)
    log.info("registered the NYU-v2 copy at %s in %s (train %d, test %d)", info["path"], path,
             info["counts"]["train"], info["counts"]["test"])
    return info


def fetch(data_root: str | Path, progress: bool = True, timeout: float = 30.0
          ) -> dict[str, Any]:
    """Download (resumable) + unpack + verify + register the release."""
    work = Path(data_root) / DATASET
    archive = work / "download" / ARCHIVE_NAME
    url = os.environ.get(URL_ENV) or dl.DRIVE_URL.format(file_id=DRIVE_FILE_ID)
    try:
        if not archive.exists():
            opener = dl.make_opener()
            direct = dl.resolve_drive(url, opener, timeout)
            dl.download(direct, archive, sha256=ARCHIVE_SHA256, opener=opener,
                        timeout=timeout, progress=progress)
    except dl.NetworkUnavailable as exc:
        raise DataUnavailableError(offline_message(data_root, str(exc))) from None
    raw_dir = work / "raw"
    if not (raw_dir / SPLIT_FILE).exists():
        staging = work / "raw.extracting"
        shutil.rmtree(staging, ignore_errors=True)
        try:
            dl.extract(archive, staging)
        except (ValueError, OSError) as exc:
            raise DataUnavailableError(f"{archive}: cannot unpack ({exc}); delete it and run "
                                       "`bench fetch nyuv2` again") from None
        found = dl.find_dir_with(staging, SPLIT_FILE)
        if found is None:
            raise DataUnavailableError(f"{archive} holds no {SPLIT_FILE}; not the AdaShare "
                                       "NYU-v2 release?")
        shutil.rmtree(raw_dir, ignore_errors=True)
        os.replace(found, raw_dir)
        shutil.rmtree(staging, ignore_errors=True)
    extra = {"archive": {"file": str(archive), "sha256_observed": file_sha256(archive),
                         "sha256_recorded": ARCHIVE_SHA256}}
    return register(data_root, raw_dir, extra)


def validation_ids(train_ids: list[str]) -> list[str]:
    """A fixed validation list: the ids with the smallest sha256(seed:id), independent of
    library versions and of the order of the train list."""
    n_val = max(1, round(len(train_ids) * VAL_FRACTION))
    ranked = sorted(train_ids, key=lambda i: hashlib.sha256(f"{VAL_SEED}:{i}".encode()).digest())
    return sorted(ranked[:n_val])


def _locate(root: Path, entry: tuple[str, ...]) -> dict[str, Path]:
    return {k: root / p for k, p in zip(("rgb", *TASKS), entry, strict=True)}


def candidates(root: Path, lists: dict[str, list[list[str]]]) -> tuple[list[Candidate],
                                                                         list[str]]:
    locate = functools.partial(_locate, root)

    def make(split: str, entry: list[str]) -> Candidate:
        return Candidate(split, f"{split}/{Path(entry[0]).stem}", tuple(entry), locate)

    val = set(validation_ids([Path(e[0]).stem for e in lists["train"]]))
    train = [e for e in lists["train"] if Path(e[0]).stem not in val]
    held = [e for e in lists["train"] if Path(e[0]).stem in val]
    out = ([make("train", e) for e in train] + [make("val", e) for e in held]
           + [make("test", e) for e in lists["test"]])
    return out, sorted(val)


def probe_size(cands: list[Candidate]) -> tuple[int, int]:
    for c in cands:
        try:
            with Image.open(c.files["rgb"]) as im:
                return im.height, im.width
        except OSError:
            continue
    raise DataUnavailableError("no NYU-v2 image could be opened")


def load_sample(c: Candidate, size: tuple[int, int]) -> tuple[dict[str, np.ndarray], list[str]]:
    warnings: list[str] = []
    rgb = read_rgb(c.files["rgb"])
    seg = read_gray(c.files["segment_semantic"])
    normal_rgb = read_rgb(c.files["normal"])
    depth = np.load(c.files["depth_zbuffer"], allow_pickle=False)
    depth = np.squeeze(depth) if depth.ndim == 3 else depth
    for name, array in (("rgb", rgb), ("segment_semantic", seg), ("normal", normal_rgb),
                        ("depth_zbuffer", depth)):
        if array.shape[:2] != size or array.ndim > 3:
            raise ValueError(f"{name} is {array.shape}, the dataset's images are {size}")
    if not np.issubdtype(depth.dtype, np.floating):
        raise ValueError(f"depth_zbuffer: dtype {depth.dtype}, expected float32 metres")
    out_of_range = (seg >= NUM_CLASSES) & (seg != IGNORE)
    if out_of_range.any():
        warnings.append("segment_semantic: labels outside 0..39 and 255 set to ignore")
        seg = np.where(out_of_range, IGNORE, seg)
    white = (normal_rgb == 255).all(axis=-1)
    vectors, norm = decode_normals(normal_rgb)
    normal = unit_normals(vectors, norm, ~white & (norm >= NORMAL_MIN_NORM))
    depth = depth.astype(np.float32)
    depth = np.where(np.isfinite(depth) & (depth > DEPTH_VALID_MIN), depth, 0.0)
    sample = {"rgb": rgb, "segment_semantic": seg.astype(np.uint8), "normal": normal,
              "depth_zbuffer": depth.astype(np.float32)[None]}
    return sample, warnings


def prepare(data_root: str | Path, raw: str | Path | None = None, *,
            checkpoint_every: int = 64) -> dict[str, Any]:
    root = resolve_raw(data_root, DATASET, raw)
    info = verify_raw(root)
    cands, val_ids = candidates(root, read_split_file(root))
    size = probe_size(cands)
    warnings = list(info["warnings"])
    if size != EXPECTED_SIZE:
        warnings.append(f"images are {size[0]}x{size[1]}, the release's are 480x640; "
                        "prepared at the size found")
        log.warning("nyuv2: %s", warnings[-1])
    job = PrepareJob(
        dataset=DATASET, raw_root=root, out_root=prepared_dir(data_root, DATASET),
        tasks=TASKS, num_classes=NUM_CLASSES, image_size=size, candidates=cands,
        load=lambda c: load_sample(c, size), scoring="nyu", seg_class_weights=None,
        source={"layout": "adashare", "split_file": SPLIT_FILE, "val_ids": val_ids,
                "val_rule": f"{VAL_FRACTION:.0%} of train, smallest sha256('{VAL_SEED}:<id>')",
                "rgb": "RGB uint8 as in the file (the public code's BGR Caffe-mean input is "
                       "replaced by rgb_mean/rgb_std normalisation)",
                "normal_channels": "file R,G,B = x (horizontal), viewing axis, y (vertical)"},
        report={"layout": "adashare", "warnings": warnings},
        settings={"val_ids": val_ids, "depth_min": DEPTH_VALID_MIN,
                  "normal_min_norm": NORMAL_MIN_NORM},
        checkpoint_every=checkpoint_every,
    )
    return run(job)
