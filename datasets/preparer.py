"""The streaming, resumable, idempotent conversion of a raw real dataset into the prepared format.

A dataset module lists its samples (`Candidate`: split, key, where its raw files are) and gives a `load`
function that reads, validates and encodes one sample or raises. This module does the rest:

- **Streaming**: one sample in memory at a time; arrays are written through the memmaps of
  `datasets.prepared.PreparedWriter`, so memory stays flat whatever the dataset size.
- **Never crashes half-way**: a sample whose load raises (missing file, truncated PNG, bad
  shape or values) is skipped and listed in the report; a sample is kept only if every task
  loads. Warnings that do not drop a sample (e.g. out-of-range labels set to ignore) are
  counted per kind with a few example keys.
- **Resumable**: every `checkpoint_every` samples the memmaps are flushed and
  `<prepared>.partial/progress.json` records the position, counts, skipped list and RGB sums. A
  run that was killed or raised continues from the last checkpoint (samples after it are
  redone into the same slots, so the result is identical to an uninterrupted run).
- **Idempotent**: the manifest records a fingerprint of the raw files (relative path, size,
  mtime) and of the preparation settings; if it matches, nothing is redone.
- **Report**: `<prepared>/report.json` (everything) and the manifest's `report` key (summary);
  one console line says what was kept and skipped.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from datasets.prepared import SPLITS, PreparedWriter, read_manifest, write_json_atomic

log = logging.getLogger(__name__)

PREPARE_VERSION = 1  # bump when the encodings change, so old prepared copies are redone
PROGRESS = "progress.json"
REPORT = "report.json"
EXAMPLES = 5


@dataclass(frozen=True, slots=True)
class Candidate:
    """One sample to convert. Its raw paths are computed on demand from a compact `ref` by a
    `locate` function shared by all candidates, so a list of ~400k Taskonomy views stays small
    in memory."""

    split: str
    key: str
    ref: tuple[Any, ...]
    locate: Callable[[tuple[Any, ...]], dict[str, Path]]

    @property
    def files(self) -> dict[str, Path]:
        return self.locate(self.ref)


# load(candidate) -> (sample arrays in prepared layout, warning kinds)
Loader = Callable[[Candidate], tuple[dict[str, np.ndarray], list[str]]]


@dataclass
class PrepareJob:
    dataset: str
    raw_root: Path
    out_root: Path
    tasks: tuple[str, ...]
    num_classes: int
    image_size: tuple[int, int]
    candidates: list[Candidate]
    load: Loader
    scoring: str
    seg_class_weights: list[float] | None = None
    source: dict[str, Any] = field(default_factory=dict)  # goes to the manifest's `source`
    report: dict[str, Any] = field(default_factory=dict)  # dataset-level facts and warnings
    settings: dict[str, Any] = field(default_factory=dict)  # anything that changes the output
    checkpoint_every: int = 64


def fingerprint(job: PrepareJob) -> str:
    h = hashlib.sha256()
    h.update(json.dumps({"version": PREPARE_VERSION, "dataset": job.dataset,
                         "tasks": job.tasks, "image_size": job.image_size,
                         "weights": job.seg_class_weights, "settings": job.settings},
                        sort_keys=True, default=str).encode())
    for c in job.candidates:
        h.update(f"\n{c.split}\t{c.key}".encode())
        for name, path in sorted(c.files.items()):
            try:
                st = path.stat()
                stamp = f"{st.st_size}:{st.st_mtime_ns}"
            except OSError:
                stamp = "missing"
            h.update(f"\t{name}={os.path.relpath(path, job.raw_root)}:{stamp}".encode())
    return h.hexdigest()


class ResumableWriter(PreparedWriter):
    """A PreparedWriter that reopens its `.partial` arrays when a matching progress file exists."""

    def __init__(self, root: Path, job: PrepareJob, capacities: dict[str, int],
                 fingerprint_: str) -> None:
        partial = root.with_name(root.name + ".partial")
        progress = _read_progress(partial / PROGRESS)
        fresh = {"fingerprint": fingerprint_, "capacities": capacities, "position": 0,
                 "counts": dict.fromkeys(capacities, 0), "skipped": [], "warnings": {},
                 "rgb_sums": [0, 0, 0], "rgb_sq_sums": [0, 0, 0], "rgb_pixels": 0}
        if progress is None or any(progress.get(k) != fresh[k]
                                   for k in ("fingerprint", "capacities")):
            super().__init__(root, job.dataset, job.tasks, job.num_classes, job.image_size,
                             capacities)
            self.state: dict[str, Any] = fresh
            self.checkpoint()
            return
        self.root, self.partial, self.dataset = root, partial, job.dataset
        self.tasks, self.num_classes = tuple(job.tasks), job.num_classes
        self.height, self.width = job.image_size
        self.capacities = dict(capacities)
        self.counts = {k: int(v) for k, v in progress["counts"].items()}
        self.arrays = {
            split: {key: np.load(partial / split / f"{key}.npy", mmap_mode="r+")
                    for key in ("rgb", *self.tasks)}
            for split in capacities
        }
        self.state = progress
        log.info("resuming %s preparation at sample %d of the raw list", job.dataset,
                 progress["position"])

    def checkpoint(self) -> None:
        for arrays in self.arrays.values():
            for array in arrays.values():
                array.flush()
        write_json_atomic(self.partial / PROGRESS, self.state)


def _read_progress(path: Path) -> dict[str, Any] | None:
    try:
        data: dict[str, Any] = json.loads(path.read_text())
        return data
    except (OSError, ValueError):
        return None


def run(job: PrepareJob) -> dict[str, Any]:
    """Prepare (or resume, or skip when up to date); returns the manifest."""
    fp = fingerprint(job)
    if (job.out_root / "manifest.json").exists():
        try:
            manifest = read_manifest(job.out_root)
        except (OSError, ValueError):
            manifest = {}
        if manifest.get("source", {}).get("fingerprint") == fp:
            log.info("%s: prepared copy at %s is up to date (same raw files); nothing to do",
                     job.dataset, job.out_root)
            return manifest
    capacities = {s: sum(c.split == s for c in job.candidates) for s in SPLITS}
    writer = ResumableWriter(job.out_root, job, capacities, fp)
    state = writer.state
    try:
        _convert(job, writer, state)
    except BaseException:
        writer.checkpoint()
        raise
    return _finish(job, writer, state, fp)


def _convert(job: PrepareJob, writer: ResumableWriter, state: dict[str, Any]) -> None:
    """Each sample ends with ONE `state.update` (atomic between bytecodes), so an interrupt
    either counts the sample completely or not at all; `checkpoint` saves `state` as it is."""
    from tqdm import tqdm

    expected = {k: a.shape[1:] for k, a in writer.arrays["train"].items()}
    todo = job.candidates[state["position"]:]
    for c in tqdm(todo, desc=f"prepare {job.dataset}", unit="sample", disable=None):
        update: dict[str, Any] = {"position": state["position"] + 1}
        try:
            sample, warnings = job.load(c)
            for key, shape in expected.items():
                if np.shape(sample[key]) != shape:
                    raise ValueError(f"{key}: shape {np.shape(sample[key])}, expected {shape}")
        except Exception as exc:  # noqa: BLE001 — any unreadable sample is skipped, not fatal
            kind = "missing" if isinstance(exc, FileNotFoundError) else "corrupt"
            update["skipped"] = [*state["skipped"], {
                "split": c.split, "key": c.key, "kind": kind,
                "reason": f"{type(exc).__name__}: {exc}"}]
        else:
            update.update(_sample_stats(c, sample, warnings, state))
            writer.counts[c.split] = state["counts"][c.split]  # the slot of this sample
            writer.add(c.split, sample)
        state.update(update)
        if state["position"] % job.checkpoint_every == 0:
            writer.checkpoint()


def _sample_stats(c: Candidate, sample: dict[str, np.ndarray], warnings: list[str],
                  state: dict[str, Any]) -> dict[str, Any]:
    counts = {**state["counts"], c.split: state["counts"][c.split] + 1}
    found = {k: {"count": v["count"], "examples": list(v["examples"])}
             for k, v in state["warnings"].items()}
    for w in warnings:
        entry = found.setdefault(w, {"count": 0, "examples": []})
        entry["count"] += 1
        if len(entry["examples"]) < EXAMPLES:
            entry["examples"].append(c.key)
    update: dict[str, Any] = {"counts": counts, "warnings": found}
    if c.split == "train":
        rgb = sample["rgb"].reshape(-1, 3).astype(np.int64)
        update["rgb_sums"] = [a + int(b) for a, b in zip(state["rgb_sums"], rgb.sum(0),
                                                         strict=True)]
        update["rgb_sq_sums"] = [a + int(b) for a, b in zip(state["rgb_sq_sums"],
                                                            (rgb * rgb).sum(0), strict=True)]
        update["rgb_pixels"] = state["rgb_pixels"] + rgb.shape[0]
    return update


def _finish(job: PrepareJob, writer: ResumableWriter, state: dict[str, Any],
            fp: str) -> dict[str, Any]:
    writer.counts = {k: int(v) for k, v in state["counts"].items()}
    n = state["rgb_pixels"]
    if writer.counts.get("train", 0) == 0 or n == 0:
        from bench.errors import DataUnavailableError

        raise DataUnavailableError(
            f"{job.dataset}: no training sample could be read from {job.raw_root}; see "
            f"{writer.partial / PROGRESS} for the skipped files and why")
    mean = [s / n for s in state["rgb_sums"]]
    std = [max(q / n - m * m, 0.0) ** 0.5 for q, m in zip(state["rgb_sq_sums"], mean,
                                                          strict=True)]
    skipped = state["skipped"]
    by_kind = {k: sum(s["kind"] == k for s in skipped) for k in ("missing", "corrupt")}
    report = {
        "dataset": job.dataset,
        "raw": str(job.raw_root),
        **job.report,
        "found": {s: writer.capacities[s] for s in SPLITS},
        "kept": {s: writer.counts[s] for s in SPLITS},
        "skipped_count": len(skipped),
        "skipped_by_kind": by_kind,
        "skipped": skipped,
        "sample_warnings": state["warnings"],
    }
    write_json_atomic(writer.partial / REPORT, report)
    (writer.partial / PROGRESS).unlink()
    summary = {k: v for k, v in report.items() if k != "skipped"}
    summary["skipped_examples"] = skipped[:20]
    summary["file"] = REPORT
    manifest = writer.finish(
        scoring=job.scoring, rgb_mean=mean, rgb_std=std,
        seg_class_weights=job.seg_class_weights,
        source={**job.source, "raw": str(job.raw_root), "fingerprint": fp,
                "prepare_version": PREPARE_VERSION},
        report=summary,
    )
    kept = ", ".join(f"{s} {writer.counts[s]}" for s in SPLITS)
    log.info("prepared %s: kept %s; skipped %d (%d missing, %d corrupt); report: %s",
             job.dataset, kept, len(skipped), by_kind["missing"], by_kind["corrupt"],
             job.out_root / REPORT)
    return manifest
