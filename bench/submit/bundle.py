"""`bench submit`: a method's code, parameters and current runs → one bundle (tar.gz).

A run is current when its recorded identity is the one params.yaml and the code ask for at its
path (bench/record/identity.py): stale runs are left out, as the leaderboard leaves them out.
The bundle holds every current run's result.json (with the identity inputs and the code
fingerprint, in `provenance.config`) and its training logs (dvclive), never weights or
checkpoints (`*.pt`; DVC shares those, docs/checkpoints.md); the method's files as the
fingerprint lists them; the setting they were trained in, the dense reference's identities,
the versions and CPU kernels that produced the runs and the submitting machine's.
"""

from __future__ import annotations

import json
import platform
import subprocess
import sys
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import bench
from bench.config import Config
from bench.record import code
from bench.record.identity import resolved_config, run_identity, setting_identity, setting_inputs
from bench.record.result import RunResult, read_result
from bench.record.spec import dense_spec, grid, run_dir
from bench.submit import limits
from bench.submit.archive import BundleError, sha256, write_archive
from bench.submit.layout import (
    CHECKPOINT_SUFFIX,
    CODE,
    FORMAT_VERSION,
    MANIFEST,
    RUNS,
    SUBMISSION,
)
from bench.submit.manifest import build_manifest, bundle_id
from bench.typed import to_dict

# What each run's provenance contributes to the record (the rest stays in its result.json).
PROVENANCE_KEYS = ("git_commit", "git_dirty", "bench_version", "torch_version", "cpu_capability",
                   "python_version", "device", "device_name")


@dataclass(frozen=True)
class Written:
    path: Path
    bundle_id: str
    archive_sha256: str
    runs: int
    code_files: list[str]
    size: int


def current_runs(config: Config, slug: str) -> list[tuple[str, RunResult]]:
    """(path under the runs root, result) of every run of `slug` params.yaml asks for whose
    recorded identity is the one asked for."""
    found = []
    for spec in grid(config):
        if spec.method != slug or spec.task is not None:
            continue
        folder = run_dir(config, spec)
        result = read_result(folder)
        if result is None or result.identity != run_identity(resolved_config(config, spec)):
            continue
        found.append((folder.relative_to(config.runs_root).as_posix(), result))
    return found


def _run_files(folder: Path) -> dict[str, bytes]:
    """The run folder's records and logs: every regular file but checkpoints and hidden
    (temporary) files."""
    files = {}
    for path in sorted(folder.rglob("*")):
        rel = path.relative_to(folder)
        if path.is_symlink() or not path.is_file() or path.suffix == CHECKPOINT_SUFFIX \
                or any(part.startswith(".") for part in rel.parts):
            continue
        files[rel.as_posix()] = path.read_bytes()
    return files


def _git(*args: str) -> str | None:
    try:
        done = subprocess.run(["git", "-C", str(code.REPO_ROOT), *args], capture_output=True,
                              text=True, timeout=10)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return done.stdout.strip() if done.returncode == 0 else None


def submitting_machine() -> dict[str, Any]:
    """This machine and checkout: versions and the CPU kernel set torch dispatches to here."""
    from bench.provenance import now_iso

    machine: dict[str, Any] = {
        "created_at": now_iso(), "bench_version": bench.__version__,
        "python_version": sys.version.split()[0], "platform": platform.platform(),
        "git_commit": _git("rev-parse", "HEAD"), "torch_version": None, "cpu_capability": None,
    }
    try:
        import torch

        from bench.provenance import cpu_capability, git_dirty

        machine.update(torch_version=torch.__version__, cpu_capability=cpu_capability(),
                       git_dirty=git_dirty())
    except ImportError:  # a machine without torch can still pack finished runs
        pass
    return machine


def produced_with(results: list[RunResult]) -> dict[str, dict[str, int]]:
    """How many runs each version and kernel set produced (each run's provenance), counted as
    `bench aggregate` counts them for the leaderboard."""
    counts: dict[str, dict[str, int]] = {}
    for key in PROVENANCE_KEYS:
        values = [str(v) for r in results
                  if (v := (r.data.get("provenance") or {}).get(key)) not in (None, "")]
        counts[key] = dict(sorted(Counter(values).items()))
    return counts


def _reference(config: Config, seeds: list[int]) -> dict[str, Any]:
    inputs = {seed: resolved_config(config, dense_spec(seed)) for seed in seeds}
    return {"method": "dense",
            "identities": {str(seed): run_identity(i) for seed, i in sorted(inputs.items())},
            "inputs": inputs[min(inputs)]}


def submission_record(config: Config, slug: str, runs: list[tuple[str, RunResult]],
                      files: list[str]) -> dict[str, Any]:
    seeds = sorted({*config.reference_seeds, *(r.data["seed"] for _, r in runs)})
    reference = _reference(config, seeds)
    fingerprint = code.fingerprint(slug)["files"]
    return {
        "format": FORMAT_VERSION,
        "slug": slug,
        "method_params": config.params_for(slug),
        "setting": {
            "dataset": config.dataset, "backbone": config.backbone, "profile": config.profile,
            "recipe": to_dict(config.recipe),
            "synthetic": reference["inputs"].get("synthetic"),
            "budget": to_dict(config.budget),
            "seeds": list(config.seeds), "dense_seeds": list(config.reference_seeds),
            "sparsities": list(config.sparsities),
            "structured_sparsities": list(config.structured_sparsities),
            "setting_identity": setting_identity(reference["inputs"]),
            "setting_inputs": setting_inputs(reference["inputs"]),
        },
        "reference": reference,
        "code": {"files": {f: fingerprint[f] for f in files}},
        "runs": [{"path": path, "target_sparsity": r.data["target_sparsity"],
                  "seed": r.data["seed"], "identity": r.identity, "status": r.status,
                  "provenance": {k: (r.data.get("provenance") or {}).get(k)
                                 for k in PROVENANCE_KEYS}}
                 for path, r in runs],
        "produced_with": produced_with([r for _, r in runs]),
        "submitted_from": submitting_machine(),
    }


def _check_limits(members: dict[str, bytes]) -> None:
    total = sum(len(d) for d in members.values())
    big = [n for n, d in members.items() if len(d) > limits.MAX_MEMBER_BYTES]
    if len(members) > limits.MAX_MEMBERS or big or total > limits.MAX_TOTAL_BYTES:
        what = f"{big[0]!r} is too large" if big else f"{len(members)} members, " \
            f"{total / limits.MiB:.1f} MiB"
        raise BundleError(f"the bundle would exceed what bench import accepts ({what}; "
                          f"limits: {limits.describe()}); nothing written")


def write_bundle(config: Config, slug: str, out: Path) -> Written:
    """Pack method `slug`'s current runs; refuses (BundleError, exit 2) when there are none."""
    if slug == "dense":
        raise BundleError("dense is the reference every checkout trains, not a submission")
    try:
        code.method_module(slug)
    except KeyError:
        raise BundleError(f"{slug!r} is not a method of this checkout "
                          f"(known: {', '.join(code.method_slugs())})") from None
    if code.code_root(slug) != code.REPO_ROOT:
        raise BundleError(f"{slug!r} is an imported submission; only its author submits it")
    files = code.method_files(slug)
    outside = [f for f in files if Path(f).is_absolute()]
    if outside:
        raise BundleError(f"{slug}: {outside[0]} lies outside this checkout (BENCH_METHODS_PATH); "
                          "move the method into methods/ and rerun its grid before submitting")
    runs = current_runs(config, slug)
    if not runs:
        raise BundleError(f"{slug}: no current runs under {config.runs_root} (none trained, or "
                          f"all stale: `bench grid --method {slug}` trains them); nothing written")
    members: dict[str, bytes] = {f"{CODE}/{f}": (code.REPO_ROOT / f).read_bytes() for f in files}
    for path, _ in runs:
        for rel, data in _run_files(Path(config.runs_root) / path).items():
            members[f"{RUNS}/{path}/{rel}"] = data
    record = submission_record(config, slug, runs, files)
    members[SUBMISSION] = (json.dumps(record, indent=2, sort_keys=True) + "\n").encode()
    manifest = build_manifest(members)
    members[MANIFEST] = manifest
    _check_limits(members)
    blob = write_archive(out, members)
    return Written(out, bundle_id(manifest), sha256(blob), len(runs), files, len(blob))
