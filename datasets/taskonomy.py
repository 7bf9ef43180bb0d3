"""Tiny-Taskonomy (docs/protocol.md §7): fetch (Omnidata downloader + StanfordVL assets), register, prepare.

Encodings applied at prepare (docs/protocol.md §1/§7), every map resized to 256×256:
- rgb: 8-bit RGB, bilinear (antialiased) resize.
- segment_semantic: 0 = uncertain → 1, then −1, giving 17 classes 0..16; 8- and 16-bit files
  accepted (bit depth unconfirmed); values above 17 → 255 (ignore) with a report warning.
- depth_zbuffer: 16-bit, valid where raw < 64500, target log(1+raw)/log(2^16), 0 where invalid.
- normal: 8-bit RGB, x/255·2−1, normalised, valid where depth is valid (zero elsewhere); the
  file's R,G,B order is kept.
- keypoints2d / edge_texture: raw/2^16, clipped to [0, 0.005] / [0, 0.08], rescaled to [-1, 1];
  an 8-bit file (unconfirmed variant) is read as raw/2^8 and reported.
Label maps are resized nearest-neighbour, as in the public loaders.
"""

from __future__ import annotations

import functools
import logging
import os
import shutil
import subprocess
import zipfile
from pathlib import Path
from typing import Any

import numpy as np

from bench.errors import DataUnavailableError
from datasets import download as dl
from datasets import taskonomy_raw as tr
from datasets.imageio import (
    bit_depth,
    decode_normals,
    read_gray,
    read_rgb,
    resize_bilinear,
    resize_nearest,
    unit_normals,
)
from datasets.prepared import prepared_dir
from datasets.preparer import Candidate, PrepareJob, run
from datasets.rawstore import register_raw, resolve_raw

log = logging.getLogger(__name__)

DATASET = "taskonomy"
TASKS = ("segment_semantic", "normal", "depth_zbuffer", "keypoints2d", "edge_texture")
IMAGE_SIZE = 256
EXPECTED_RAW_SIZE = (512, 512)
DEPTH_INVALID_FROM = 64500
DEPTH_NORMALISER = float(np.log(2.0**16))
CLIP = {"keypoints2d": 0.005, "edge_texture": 0.08}
IGNORE = 255
REPO_URL = "https://raw.githubusercontent.com/StanfordVL/taskonomy/master"
REPO_URL_ENV = "BENCH_TASKONOMY_REPO_URL"  # another base address for the two assets (tests)
PRIOR_IN_REPO = "taskbank/lib/data/semseg_prior_factor.npy"
SPLITS_ZIP_IN_REPO = "data/assets/splits_taskonomy.zip"
OMNITOOLS = "omnitools.download"


def omnitools_args(dest: Path) -> list[str]:
    return [*tr.DOMAINS, "--components", "taskonomy", "--subset", "tiny", "--dest", str(dest),
            "--agree_all"]


def manual_steps(data_root: str | Path) -> str:
    raw = Path(data_root) / DATASET / "raw"
    cmd = " ".join([OMNITOOLS, *omnitools_args(Path("DIR"))])
    return (
        f"On a machine with internet: `pip install omnidata-tools` (it uses aria2: "
        f"`apt-get install aria2`), run `{cmd}`, and put {tr.SPLIT_CSV} (inside "
        f"StanfordVL/taskonomy {SPLITS_ZIP_IN_REPO}) and {tr.PRIOR_FILE} (StanfordVL/taskonomy "
        f"{PRIOR_IN_REPO}) into DIR. Copy DIR to this machine (e.g. to {raw}), then run "
        f"`bench fetch taskonomy --raw {raw}` and `bench prepare taskonomy`."
    )


def register(data_root: str | Path, raw: str | Path) -> dict[str, Any]:
    root = Path(raw).expanduser()
    if not root.is_dir():
        raise DataUnavailableError(f"--raw {raw}: no such directory")
    info = tr.verify_raw(root)
    path = register_raw(data_root, DATASET, info)
    for w in info["warnings"]:
        log.warning("taskonomy: %s", w)
    n = {s: sum(v.values()) for s, v in info["counts"].items()}
    log.info("registered the Tiny-Taskonomy copy at %s (layout %s) in %s: %s views", info["path"],
             info["layout"], path, ", ".join(f"{s} {k}" for s, k in n.items()))
    return info


def _fetch_assets(dest: Path, progress: bool, timeout: float) -> None:
    base = os.environ.get(REPO_URL_ENV) or REPO_URL
    dl.download(f"{base}/{PRIOR_IN_REPO}", dest / tr.PRIOR_FILE, sha256=tr.PRIOR_SHA256,
                timeout=timeout, progress=progress)
    archive = dl.download(f"{base}/{SPLITS_ZIP_IN_REPO}", dest / "download" /
                          "splits_taskonomy.zip", sha256=tr.SPLITS_ZIP_SHA256,
                          timeout=timeout, progress=progress)
    with zipfile.ZipFile(archive) as zf:
        member = next(n for n in zf.namelist()
                      if Path(n).name == tr.SPLIT_CSV and "__MACOSX" not in n)
        (dest / tr.SPLIT_CSV).write_bytes(zf.read(member))


def fetch(data_root: str | Path, progress: bool = True, timeout: float = 30.0
          ) -> dict[str, Any]:
    """Assets over HTTP (checksummed), images with the Omnidata downloader, then register."""
    dest = Path(data_root) / DATASET / "raw"
    dest.mkdir(parents=True, exist_ok=True)
    try:
        _fetch_assets(dest, progress, timeout)
    except dl.NetworkUnavailable as exc:
        raise DataUnavailableError(
            f"Tiny-Taskonomy cannot be downloaded here ({exc}). {manual_steps(data_root)}"
        ) from None
    except (dl.ChecksumMismatch, StopIteration, zipfile.BadZipFile) as exc:
        raise DataUnavailableError(f"the Taskonomy split/prior assets are not the expected "
                                   f"files ({exc or 'no ' + tr.SPLIT_CSV})") from None
    exe = shutil.which(OMNITOOLS)
    if exe is None:
        raise DataUnavailableError(
            f"the Omnidata downloader ({OMNITOOLS}) is not installed, so the Tiny-Taskonomy "
            f"images cannot be fetched. Install it with `pip install omnidata-tools` (plus "
            f"`apt-get install aria2`) and run `bench fetch taskonomy` again, or run it "
            f"yourself: `{OMNITOOLS} {' '.join(omnitools_args(dest))}` then "
            f"`bench fetch taskonomy --raw {dest}`."
        )
    log.info("running %s into %s (resumes where a previous run stopped)", OMNITOOLS, dest)
    code = subprocess.call([exe, *omnitools_args(dest)])
    if code != 0:
        raise DataUnavailableError(f"{OMNITOOLS} exited with {code}; run `bench fetch "
                                   f"taskonomy` again to resume. {manual_steps(data_root)}")
    return register(data_root, dest)


def candidates(root: Path, layout: str, splits: dict[str, list[str]]) -> list[Candidate]:
    found = set(tr.buildings_found(root, layout))
    locate = functools.partial(tr.locate, root, layout)
    out = []
    for split in ("train", "val", "test"):
        for b in (b for b in splits[split] if b in found):
            for point, view in tr.views(tr.domain_dir(root, layout, b, "rgb")):
                out.append(Candidate(split, f"{b}/point_{point}_view_{view}", (b, point, view),
                                     locate))
    return out


def _scaled(raw: np.ndarray, task: str, warnings: list[str]) -> np.ndarray:
    if bit_depth(raw) == 8:
        warnings.append(f"{task}: 8-bit file read as raw/2^8 (unconfirmed variant)")
    value = raw.astype(np.float32) / float(2 ** bit_depth(raw))
    clip = CLIP[task]
    return np.clip(value, 0.0, clip) / clip * 2.0 - 1.0


def load_sample(c: Candidate, size: int = IMAGE_SIZE) -> tuple[dict[str, np.ndarray], list[str]]:
    warnings: list[str] = []
    out = (size, size)
    rgb = read_rgb(c.files["rgb"])
    maps = {"segment_semantic": read_gray(c.files["segment_semantic"]),
            "normal": read_rgb(c.files["normal"]),
            "depth_zbuffer": read_gray(c.files["depth_zbuffer"]),
            "keypoints2d": read_gray(c.files["keypoints2d"]),
            "edge_texture": read_gray(c.files["edge_texture"])}
    for task, array in maps.items():
        if array.shape[:2] != rgb.shape[:2]:
            raise ValueError(f"{task} is {array.shape[:2]}, rgb is {rgb.shape[:2]}")
    if rgb.shape[:2] != EXPECTED_RAW_SIZE:
        warnings.append(f"raw size {rgb.shape[0]}x{rgb.shape[1]}, expected 512x512 "
                        f"(resized to {size} anyway)")
    seg = maps["segment_semantic"].astype(np.int64)
    if bit_depth(maps["segment_semantic"]) == 16:
        warnings.append("segment_semantic: 16-bit file (accepted)")
    labels = np.maximum(seg, 1) - 1
    if (labels >= tr.NUM_CLASSES).any():
        warnings.append("segment_semantic: values above 17 set to ignore")
        labels = np.where(labels >= tr.NUM_CLASSES, IGNORE, labels)
    depth_raw = maps["depth_zbuffer"]
    if bit_depth(depth_raw) != 16:
        raise ValueError("depth_zbuffer: expected a 16-bit PNG")
    depth_raw = resize_nearest(depth_raw, out).astype(np.float64)
    valid = depth_raw < DEPTH_INVALID_FROM
    depth = np.where(valid, np.log1p(depth_raw) / DEPTH_NORMALISER, 0.0).astype(np.float32)
    vectors, norm = decode_normals(resize_nearest(maps["normal"], out))
    sample = {
        "rgb": np.clip(np.round(resize_bilinear(rgb, out)), 0, 255).astype(np.uint8),
        "segment_semantic": resize_nearest(labels, out).astype(np.uint8),
        "normal": unit_normals(vectors, norm, valid),
        "depth_zbuffer": depth[None],
    }
    for task in ("keypoints2d", "edge_texture"):
        sample[task] = resize_nearest(_scaled(maps[task], task, warnings), out)[None]
    return sample, warnings


def prepare(data_root: str | Path, raw: str | Path | None = None, *,
            checkpoint_every: int = 64) -> dict[str, Any]:
    root = resolve_raw(data_root, DATASET, raw)
    info = tr.verify_raw(root)
    layout = info["layout"]
    log.info("taskonomy: found the %s layout at %s", layout, root)
    splits, _ = tr.load_splits(root)
    prior, _ = tr.read_prior(root)
    job = PrepareJob(
        dataset=DATASET, raw_root=root, out_root=prepared_dir(data_root, DATASET),
        tasks=TASKS, num_classes=tr.NUM_CLASSES, image_size=(IMAGE_SIZE, IMAGE_SIZE),
        candidates=candidates(root, layout, splits), load=load_sample, scoring="taskonomy",
        seg_class_weights=prior,
        source={"layout": layout, "split_source": info["split_source"],
                "buildings": {s: [b for b in splits[s] if b not in info["buildings_missing"]]
                              for s in splits},
                "buildings_missing": info["buildings_missing"], "prior_file": tr.PRIOR_FILE},
        report={"layout": layout, "buildings_missing": info["buildings_missing"],
                "buildings_unlisted": info["buildings_unlisted"], "warnings": info["warnings"]},
        settings={"splits": splits, "size": IMAGE_SIZE},
        checkpoint_every=checkpoint_every,
    )
    return run(job)
