"""The submission store of a checkout (`submissions/<slug>/`), read by `bench aggregate`.

A submitted run is ranked only while its recorded identity is the one this checkout computes
for it now: the submission's code (read from the store, never imported) and parameters, this
checkout's setting, dense reference and training code. After an edit to the training code or
params.yaml's setting, the submitted runs are listed as stale with the reason, like the
pipeline's own runs. Torch-free.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from bench.config import Config
from bench.record.code import REPO_ROOT
from bench.record.identity import resolved_config, run_identity
from bench.record.spec import RunSpec, run_dir
from bench.submit.archive import BundleError
from bench.submit.checkout import with_params
from bench.submit.layout import SUBMISSION, store_dir, submitted_path
from bench.submit.record import Submission, parse_submission

log = logging.getLogger(__name__)


def imported(root: Path = REPO_ROOT) -> list[Submission]:
    """Every submission in the store whose record can be read (others are logged)."""
    found: list[Submission] = []
    folder = store_dir(root)
    if not folder.is_dir():
        return found
    for record in sorted(folder.glob(f"*/{SUBMISSION}")):
        try:
            sub = parse_submission(record.read_bytes(), str(record))
        except (OSError, BundleError) as exc:
            log.warning("%s: skipped (%s)", record, exc)
            continue
        if sub.slug != record.parent.name:
            log.warning("%s: slug %r is not its folder's name; skipped", record, sub.slug)
            continue
        found.append(sub)
    return found


def submitted_expected(config: Config, root: Path = REPO_ROOT
                       ) -> dict[str, tuple[str, dict[str, Any]]]:
    """For every submitted run of this setting: its path under the runs root → (the identity
    this checkout computes for it, the inputs hashed), as `expected_identities` gives them for
    the pipeline's runs."""
    out: dict[str, tuple[str, dict[str, Any]]] = {}
    for sub in imported(root):
        if (sub.dataset, sub.backbone) != (config.dataset, config.backbone):
            continue  # another setting's submission: its runs are not this grid's
        ours = with_params(config, sub)
        for run in sub.runs:
            try:
                spec = RunSpec(sub.slug, run.target_sparsity, run.seed)
                inputs = resolved_config(ours, spec)
            except (KeyError, ValueError) as exc:  # its code gone from the store, say
                log.warning("submission %s: run %s not checked (%s)", sub.slug, run.path, exc)
                continue
            path = submitted_path(run_dir(ours, spec).relative_to(ours.runs_root).as_posix())
            out[path] = (run_identity(inputs), inputs)
    return out
