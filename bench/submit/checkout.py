"""A bundle against this checkout: are its runs comparable with the rows trained here?

Each check returns nothing or raises one line (`BundleError`, exit 2; data not prepared here:
exit 3) saying what differs: the bundle's layout, its slug, the setting (dataset, backbone,
profile and its recipe, data, synthetic sizes), the training code, the dense reference's
identity, the bundled code against this checkout's files, and each run's result. The last check,
`check_identities`, recomputes every run's identity here from the staged code and parameters;
it is what `bench aggregate` does for the stored submission afterwards.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import replace
from pathlib import Path
from typing import Any

from bench.config import Config
from bench.errors import DataUnavailableError
from bench.record import code
from bench.record.identity import (
    data_fingerprint,
    identity_diff,
    resolved_config,
    run_identity,
    setting_inputs,
    stale_reason,
)
from bench.record.result import RESULT_FILE, RunResult
from bench.record.spec import RunSpec, dense_spec
from bench.submit.archive import BundleError, sha256
from bench.submit.layout import CHECKPOINT_SUFFIX, CODE, MANIFEST, RUNS, SUBMISSION
from bench.submit.record import Submission

_HELPER = re.compile(r"methods/_[A-Za-z0-9_]+\.py")


def refuse(where: str, what: str) -> BundleError:
    return BundleError(f"{where}: {what}; nothing written")


def run_path(sub: Submission, target: float, seed: int) -> str:
    """A run's path under the runs root, as bench/record/spec.py's run_dir names it."""
    return f"{sub.dataset}/{sub.backbone}/{sub.slug}/s{float(target)}/seed{seed}"


def check_layout(members: Mapping[str, bytes], sub: Submission, where: str) -> None:
    """Only the members a bundle has: manifest, record, the listed code, the listed runs'
    records and logs; no checkpoints; no name that is both a file and a folder."""
    if not sub.slug.isidentifier() or sub.slug.startswith("_"):
        raise refuse(where, f"slug {sub.slug!r} is not a method slug")
    own = f"methods/{sub.slug}.py"
    if own not in sub.code_files:
        raise refuse(where, f"the bundle holds no {CODE}/{own}")
    runs: set[str] = set()
    for run in sub.runs:
        if run.path != run_path(sub, run.target_sparsity, run.seed) or run.path in runs:
            raise refuse(where, f"{SUBMISSION}: run path {run.path!r} is not the run's own "
                         "or is listed twice")
        runs.add(run.path)
        if f"{RUNS}/{run.path}/{RESULT_FILE}" not in members:
            raise refuse(where, f"run {run.path} has no {RESULT_FILE}")
    code_members = {f"{CODE}/{f}" for f in sub.code_files}
    for name in sorted(members):
        if name.endswith(CHECKPOINT_SUFFIX):
            raise refuse(where, f"member {name!r} is a checkpoint; a bundle never holds weights "
                         "(they travel through DVC)")
        in_run = name.startswith(f"{RUNS}/") and any(name.startswith(f"{RUNS}/{p}/") for p in runs)
        if name not in (MANIFEST, SUBMISSION) and name not in code_members and not in_run:
            raise refuse(where, f"unexpected member {name!r}")
    for name in code_members:
        if name not in members:
            raise refuse(where, f"member {name!r} listed in {SUBMISSION} is missing")
    for name in members:
        parts = name.split("/")
        for i in range(1, len(parts)):
            if "/".join(parts[:i]) in members:
                raise refuse(where, f"member {'/'.join(parts[:i])!r} is both a file and a folder")


def check_slug(sub: Submission, root: Path, where: str, force: bool) -> None:
    """A submission adds a method: never one this checkout has, nor one imported already
    (unless `force` replaces it)."""
    if sub.slug == "dense":
        raise refuse(where, "'dense' is the reference every checkout trains, not a submission")
    try:
        code.method_module(sub.slug, root)
    except KeyError:
        pass
    else:
        raise refuse(where, f"slug {sub.slug!r} is a method of this checkout; a submission cannot "
                     "replace it (the author must rename it)")
    if not force and (root / code.SUBMISSIONS_DIR / sub.slug).exists():
        raise refuse(where, f"{sub.slug!r} is already imported ({code.SUBMISSIONS_DIR}/{sub.slug}); "
                     "--force replaces it")


def check_setting(sub: Submission, config: Config, where: str) -> dict[str, Any]:
    """Dataset, backbone, profile, data and the setting's content; returns this checkout's dense
    inputs for the reference's seed."""
    for key in ("dataset", "backbone", "profile"):
        if sub.setting[key] != getattr(config, key):
            raise refuse(where, f"{key}: the bundle's runs are on {sub.setting[key]!r}, this "
                         f"checkout's params.yaml on {getattr(config, key)!r}")
    if data_fingerprint(config) is None:
        raise DataUnavailableError(
            f"{where}: the {config.dataset} data is not prepared here (bench prepare "
            f"{config.dataset}); a bundle is compared with this checkout's data; nothing written")
    theirs: dict[str, Any] = sub.reference["inputs"]
    seed = theirs.get("seed")
    if not isinstance(seed, int):
        raise refuse(where, f"{SUBMISSION}: reference.inputs has no seed")
    ours = resolved_config(config, dense_spec(seed))
    if setting_inputs(theirs) != setting_inputs(ours):
        diff = identity_diff(setting_inputs(theirs), setting_inputs(ours))
        raise refuse(where, f"the bundle's setting differs from this checkout's: {diff}")
    return ours


def check_training_code(sub: Submission, ours: dict[str, Any], where: str) -> None:
    """The benchmark code every run executes (and dense's own) must be this checkout's."""
    theirs = sub.reference["inputs"]
    changed = code.changed_files(theirs.get("code") or {}, ours["code"])
    if changed:
        more = f" and {len(changed) - 3} more" if len(changed) > 3 else ""
        raise refuse(where, "the training code differs from this checkout's: "
                     f"{', '.join(changed[:3])}{more} (made with another version of the benchmark)")


def check_reference(sub: Submission, config: Config, ours: dict[str, Any], where: str) -> None:
    """Every dense seed the bundle records has the identity it has here: same reference."""
    theirs = sub.reference["inputs"]
    if run_identity(theirs) != run_identity(ours):
        raise refuse(where, "the dense reference differs from this checkout's: "
                     + identity_diff(theirs, ours))
    for seed, identity in sorted(sub.reference["identities"].items()):
        if not str(seed).isdigit():
            raise refuse(where, f"{SUBMISSION}: reference seed {seed!r} is not a seed")
        here = run_identity(resolved_config(config, dense_spec(int(seed))))
        if here != identity:
            raise refuse(where, f"the dense reference of seed {seed} differs from this "
                         f"checkout's (identity {identity}, here {here})")


def check_code(sub: Submission, members: Mapping[str, bytes], root: Path, where: str) -> None:
    """Bundled files this checkout has must be byte-identical to its own (a helper the method
    shares must be the one the checkout's methods use); new files may only be the method's
    module and helpers (`methods/_name.py`)."""
    for rel in sorted(sub.code_files):
        data = members[f"{CODE}/{rel}"]
        if sha256(data)[:16] != sub.code_files[rel]:  # as code.file_hash keys it
            raise refuse(where, f"{CODE}/{rel} is not the file the runs' code fingerprint "
                         "recorded")
        mine = root / rel
        if mine.is_file():
            if mine.read_bytes() != data:
                raise refuse(where, f"{CODE}/{rel} differs from this checkout's {rel} (the bundle "
                             "was made with another version of it)")
        elif rel != f"methods/{sub.slug}.py" and not _HELPER.fullmatch(rel):
            raise refuse(where, f"{CODE}/{rel}: this checkout has no {rel}, and a submission adds "
                         f"only methods/{sub.slug}.py and helpers methods/_<name>.py")


def check_results(sub: Submission, members: Mapping[str, bytes], config: Config,
                  where: str) -> dict[str, RunResult]:
    """Each run's result.json says what the record says: method, seed, target, identity,
    setting; a run, not a single-task reference."""
    results = {}
    for run in sub.runs:
        name = f"{RUNS}/{run.path}/{RESULT_FILE}"
        try:
            data = json.loads(members[name])
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise refuse(where, f"{name} is not valid JSON ({exc})") from None
        result = RunResult(data) if isinstance(data, dict) else None
        want = {"method": sub.slug, "seed": run.seed, "identity": run.identity,
                "dataset": config.dataset, "backbone": config.backbone, "profile": config.profile}
        if result is None or any(data.get(k) != v for k, v in want.items()) \
                or data.get("target_sparsity") != run.target_sparsity or "task" in data \
                or result.status not in ("ok", "failed"):
            raise refuse(where, f"{name} is not the run {SUBMISSION} lists")
        results[run.path] = result
    return results


def with_params(config: Config, sub: Submission) -> Config:
    """This checkout's configuration with the submission's parameters for its method."""
    return replace(config, method_params={**config.method_params, sub.slug: sub.method_params})


def check_identities(sub: Submission, results: Mapping[str, RunResult], config: Config,
                     where: str) -> None:
    """Every run's identity, recomputed here (the submission's code staged, its parameters,
    this checkout's setting, reference and training code), is the one it recorded."""
    ours = with_params(config, sub)
    for run in sub.runs:
        try:
            wanted = resolved_config(ours, RunSpec(sub.slug, run.target_sparsity, run.seed))
        except (KeyError, ValueError) as exc:  # a target out of range, a module without the slug
            raise refuse(where, f"run {run.path}: {exc}") from None
        if run_identity(wanted) != run.identity:
            raise refuse(where, f"run {run.path} would not be the same run here: "
                         + stale_reason(results[run.path], wanted))
