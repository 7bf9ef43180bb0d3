"""A run's identity: the hash of everything that decides its result (docs/protocol.md §9).

Inputs: the data (the prepared manifest's hash), the backbone, the profile's content (not the
fields that only change how a run executes), the method, its parameters as params.yaml gives
them, the target, the seed, the start point (with the dense parent's identity), and the code —
a fingerprint of every file of the method and of the benchmark code every run executes
(bench/record/code.py). A run whose recorded identity differs from the one computed now is
stale; the grid retrains it. Nothing here imports torch or a method plugin: the aggregate step
computes the same identities to decide which runs it ranks.
"""

from __future__ import annotations

import functools
import hashlib
import json
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from bench.config import Config
from bench.record.spec import RunSpec, dense_spec, grid, run_dir
from bench.typed import to_dict

if TYPE_CHECKING:
    from bench.record.result import RunResult

# Profile fields that change how a run executes, never what it computes (eval metrics are pooled
# over pixels, so the evaluation batch size is one of them): left out of a run's identity.
EXECUTION_ONLY = (
    "device", "num_workers", "pin_memory", "log_every", "checkpoint_every", "threads",
    "cudnn_benchmark", "compile", "channels_last", "eval_batch_size",
)
# 2: the code fingerprint, raw method parameters, the budget's start point.
IDENTITY_VERSION = 2


def data_fingerprint(config: Config) -> str | None:
    """sha256 of the prepared dataset's manifest (it holds every file's hash); None if absent."""
    from datasets.prepared import prepared_dir

    manifest = prepared_dir(config.data_root, config.dataset) / "manifest.json"
    try:
        stat = manifest.stat()
    except OSError:
        return None
    return _manifest_digest(str(manifest), stat.st_mtime_ns, stat.st_size)


@functools.lru_cache(maxsize=8)
def _manifest_digest(path: str, mtime_ns: int, size: int) -> str | None:
    # Keyed by the file's mtime and size: a grid plan asks once per run (and once more per
    # from-dense run, for its parent), but reads and hashes the file once.
    try:
        content = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return hashlib.sha256(json.dumps(content, sort_keys=True).encode()).hexdigest()


def code_slug(spec: RunSpec) -> str:
    """Whose code a run executes: single-task references are dense runs."""
    return "dense" if spec.task is not None else spec.method


def method_start(slug: str) -> str:
    from bench.record.meta import method_meta

    return method_meta(slug).start


def resolved_config(
    config: Config,
    spec: RunSpec,
    iterations: int | None = None,
    start: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Everything that decides a run's outcome, resolved: its identity inputs.

    `iterations` overrides the profile's step count (the budget; a from-dense run of the equal
    budget trains the part of it after its branch point); `start` is the start point as built
    ({"point": "init"} or {"point": "dense", "at": ..., "parent_identity": ...}); by default the
    one params.yaml asks for, with the parent's expected identity.
    """
    from bench.record import code

    profile = {k: v for k, v in to_dict(config.recipe).items() if k not in EXECUTION_ONLY}
    if iterations is not None:
        profile["iterations"] = iterations
    if start is None:
        start = expected_start(config, spec)
    resolved: dict[str, Any] = {
        "identity_version": IDENTITY_VERSION,
        "dataset": config.dataset,
        "data": data_fingerprint(config),
        "synthetic": to_dict(config.synthetic) if config.dataset.startswith("synthetic") else None,
        "backbone": config.backbone,
        "profile": profile,
        "method": spec.method,
        "method_params": config.params_for(spec.method),
        "target_sparsity": spec.target_sparsity,
        "seed": spec.seed,
        "start": {k: start.get(k) for k in ("point", "at", "parent_identity")
                  if k == "point" or start.get(k) is not None},
        "code": code.fingerprint(code_slug(spec)),
    }
    if spec.task is not None:
        resolved["task"] = spec.task
    elif spec.method == "dense":  # it saves the branch point the from-dense runs start at
        resolved["branch_fraction"] = config.budget.branch_fraction
    return resolved


def expected_start(config: Config, spec: RunSpec) -> dict[str, Any]:
    """The start point params.yaml asks for: from-dense methods start at the dense run's branch
    point under the equal budget, from its final weights under the papers' budget."""
    if spec.method == "dense" or method_start(spec.method) != "dense":
        return {"point": "init"}
    parent = run_identity(resolved_config(config, dense_spec(spec.seed)))
    at = "branch" if config.budget.mode == "equal" else "final"
    return {"point": "dense", "at": at, "parent_identity": parent}


def setting_inputs(resolved: dict[str, Any]) -> dict[str, Any]:
    """What every run of one leaderboard table shares: data, backbone, profile content."""
    keys = ("identity_version", "dataset", "data", "synthetic", "backbone", "profile")
    return {k: resolved.get(k) for k in keys}


def _digest(blob: dict[str, Any]) -> str:
    text = json.dumps(blob, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def run_identity(resolved: dict[str, Any]) -> str:
    return _digest(resolved)


def setting_identity(resolved: dict[str, Any]) -> str:
    return _digest(setting_inputs(resolved))


def expected_identities(config: Config) -> dict[str, tuple[str, dict[str, Any]]]:
    """For every run params.yaml asks for: its path under the runs root → (identity, inputs)."""
    out = {}
    for spec in grid(config):
        inputs = resolved_config(config, spec)
        path = run_dir(config, spec).relative_to(config.runs_root).as_posix()
        out[path] = (run_identity(inputs), inputs)
    return out


def identity_diff(found: Mapping[str, Any], wanted: Mapping[str, Any], prefix: str = "") -> str:
    """The first few keys where a run's recorded identity inputs differ from the wanted ones."""
    diffs: list[str] = []
    for key in sorted(set(found) | set(wanted)):
        a, b = found.get(key), wanted.get(key)
        if a == b:
            continue
        if isinstance(a, Mapping) and isinstance(b, Mapping):
            diffs.append(identity_diff(a, b, f"{prefix}{key}."))
        else:
            diffs.append(f"{prefix}{key} {a!r} (params.yaml: {b!r})")
    return "; ".join(d for d in diffs if d)[:300] or "unrecorded identity"


def stale_reason(found: RunResult, wanted: dict[str, Any]) -> str:
    """Why a run is stale: the code files that changed ("code changed: methods/snip.py"),
    else the first inputs that differ."""
    changed = code_change(found.inputs, wanted)
    if changed:
        more = f" and {len(changed) - 3} more" if len(changed) > 3 else ""
        return f"code changed: {', '.join(changed[:3])}{more}"
    return "trained with other settings: " + identity_diff(found.inputs, wanted)


def code_change(found: dict[str, Any] | None, wanted: dict[str, Any]) -> list[str]:
    """The files whose change made a run stale ("code changed: methods/snip.py"), if any."""
    from bench.record.code import changed_files

    old = (found or {}).get("code")
    new = wanted.get("code")
    if not isinstance(old, dict) or not isinstance(new, dict):
        return []
    return changed_files(old, new)
