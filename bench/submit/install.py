"""`bench import`: check a bundle completely, then move it into the submission store.

Order: the archive's members (bench/submit/archive.py: names, types, sizes, counts), the
manifest (every member's hash and size), the record and the layout, then the comparison with
this checkout (bench/submit/checkout.py). Only then are the members written, into a temporary
folder beside the store (same filesystem), where each run's identity is recomputed from the
staged code; the folder is moved into place last. A refusal at any step leaves nothing behind.

The submitted module is never imported and never run here: its source is stored for a person to
read (`submissions/<slug>/code/`); `bench verify <slug>` is the step that runs it.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from bench.config import Config
from bench.record import code
from bench.record.result import RunResult
from bench.submit import checkout
from bench.submit.archive import read_archive
from bench.submit.layout import (
    CODE,
    MANIFEST,
    RUNS,
    SUBMISSION,
    submission_dir,
    submitted_runs_dir,
)
from bench.submit.manifest import bundle_id, check_manifest
from bench.submit.record import Submission, parse_submission

IMPORTED = "imported.json"


@dataclass(frozen=True)
class Imported:
    submission: Submission
    bundle_id: str
    archive_sha256: str
    store: Path  # submissions/<slug>
    runs: Path  # <runs_root>/submitted/<dataset>/<backbone>/<slug>


@dataclass(frozen=True)
class Checked:
    members: dict[str, bytes]
    submission: Submission
    results: dict[str, RunResult]
    archive_sha256: str


def check_bundle(path: Path, config: Config, root: Path = code.REPO_ROOT,
                 force: bool = False) -> Checked:
    """Every check that needs no file written; raises one line on the first problem."""
    where = str(path)
    members, archive_sha = read_archive(path)
    check_manifest(members, where)
    if SUBMISSION not in members:
        raise checkout.refuse(where, f"no {SUBMISSION}")
    sub = parse_submission(members[SUBMISSION], where)
    checkout.check_layout(members, sub, where)
    checkout.check_slug(sub, root, where, force)
    ours = checkout.check_setting(sub, config, where)
    checkout.check_training_code(sub, ours, where)
    checkout.check_reference(sub, config, ours, where)
    checkout.check_code(sub, members, root, where)
    results = checkout.check_results(sub, members, config, where)
    return Checked(members, sub, results, archive_sha)


def _write(folder: Path, files: Mapping[str, bytes]) -> None:
    for rel, data in files.items():
        target = folder / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        with open(target, "xb") as handle:  # names are checked: never an existing file
            handle.write(data)


def _stage(stage: Path, members: Mapping[str, bytes], sub: Submission, record: dict[str, str]
           ) -> tuple[Path, Path]:
    store, runs = stage / "submission", stage / "runs"
    _write(store, {f"{code.SUBMISSION_CODE_DIR}/{rel[len(CODE) + 1:]}": data
                   for rel, data in members.items() if rel.startswith(f"{CODE}/")})
    _write(store, {MANIFEST: members[MANIFEST], SUBMISSION: members[SUBMISSION],
                   IMPORTED: (json.dumps(record, indent=2, sort_keys=True) + "\n").encode()})
    prefix = f"{RUNS}/{sub.dataset}/{sub.backbone}/{sub.slug}/"
    _write(runs, {name[len(prefix):]: data for name, data in members.items()
                  if name.startswith(prefix)})
    return store, runs


def _move_aside(path: Path, stage: Path, name: str) -> Path | None:
    if not path.exists():
        return None
    aside = stage / name
    shutil.move(str(path), str(aside))
    return aside


def _place(stage: Path, store: Path, runs: Path, dest: Path, runs_dest: Path,
           force: bool) -> None:
    """Move the staged submission and runs into place; on any failure put back what was
    there (`force` moves an earlier import aside first)."""
    old_store = old_runs = None
    placed = False
    try:
        if force:
            old_store = _move_aside(dest, stage, "old-submission")
            old_runs = _move_aside(runs_dest, stage, "old-runs")
        dest.parent.mkdir(parents=True, exist_ok=True)
        os.replace(store, dest)
        placed = True
        runs_dest.parent.mkdir(parents=True, exist_ok=True)
        shutil.move(str(runs), str(runs_dest))  # a rename on one filesystem
    except BaseException:
        if placed:
            os.replace(dest, store)
        for old, place in ((old_store, dest), (old_runs, runs_dest)):
            if old is not None:
                shutil.move(str(old), str(place))
        raise


def import_bundle(path: Path, config: Config, root: Path = code.REPO_ROOT,
                  force: bool = False) -> Imported:
    """Check the bundle at `path`, then add its runs as submitted rows (see the module)."""
    checked = check_bundle(path, config, root, force)
    members, sub, archive_sha = checked.members, checked.submission, checked.archive_sha256
    record = {"bundle_id": bundle_id(members[MANIFEST]), "archive_sha256": archive_sha,
              "archive": path.name}
    dest = submission_dir(sub.slug, root)
    runs_dest = submitted_runs_dir(config.runs_root, sub.dataset, sub.backbone, sub.slug)
    if runs_dest.exists() and not force:  # runs left without their submission record
        raise checkout.refuse(str(path), f"{runs_dest} exists; --force replaces it")
    stage = Path(tempfile.mkdtemp(prefix=".bench-import-", dir=root))
    try:
        store, runs = _stage(stage, members, sub, record)
        with code.staged_submission(sub.slug, store / code.SUBMISSION_CODE_DIR):
            checkout.check_identities(sub, checked.results, config, str(path))
        _place(stage, store, runs, dest, runs_dest, force)
    finally:
        shutil.rmtree(stage, ignore_errors=True)
    return Imported(sub, record["bundle_id"], archive_sha, dest, runs_dest)
