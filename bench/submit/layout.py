"""Where things are: the members of a bundle and the submission store of a checkout.

A bundle (tar.gz, no folder entries, every member a regular file):

    manifest.json                      sha256 and size of every other member
    submission.json                    slug, parameters, setting, reference, runs, provenance
    code/<path>                        the method's files at their repository paths
                                       (methods/<slug>.py, its helpers, bench modules it imports
                                       beyond the training code)
    runs/<dataset>/<backbone>/<slug>/s<target>/seed<k>/result.json, dvclive/...

After `bench import` the code and the bundle's records are under `submissions/<slug>/` of the
checkout (`code/`, `submission.json`, `manifest.json`; never imported), and the runs under
`<runs_root>/submitted/<dataset>/<backbone>/<slug>/s<target>/seed<k>/`: outside the folders the
DVC pipeline tracks (runs/<dataset>/<backbone>/<method>), where `bench aggregate` and
`bench report` find them beside the pipeline's runs.
"""

from __future__ import annotations

from pathlib import Path

from bench.record.code import REPO_ROOT, SUBMISSION_CODE_DIR, SUBMISSIONS_DIR

FORMAT_VERSION = 1
MANIFEST = "manifest.json"
SUBMISSION = "submission.json"
CODE = "code"
RUNS = "runs"
# Under the runs root: the submitted runs, beside the pipeline's <dataset> folders.
SUBMITTED_RUNS = "submitted"
# Files of a run folder that never travel in a bundle: checkpoints and weights (DVC shares
# those, docs/checkpoints.md).
CHECKPOINT_SUFFIX = ".pt"

__all__ = [
    "CHECKPOINT_SUFFIX", "CODE", "FORMAT_VERSION", "MANIFEST", "RUNS", "SUBMISSION",
    "SUBMITTED_RUNS", "store_dir", "submission_dir", "submitted_path", "submitted_runs_dir",
]


def store_dir(root: Path = REPO_ROOT) -> Path:
    """The checkout's submission store, `submissions/`."""
    return root / SUBMISSIONS_DIR


def submission_dir(slug: str, root: Path = REPO_ROOT) -> Path:
    """`submissions/<slug>/`: its `code/` (what bench/record/code.py reads), its records."""
    return store_dir(root) / slug


def code_dir(slug: str, root: Path = REPO_ROOT) -> Path:
    return submission_dir(slug, root) / SUBMISSION_CODE_DIR


def submitted_path(run_path: str) -> str:
    """A run's path under the runs root once imported: `submitted/<its path>`."""
    return f"{SUBMITTED_RUNS}/{run_path}"


def submitted_runs_dir(runs_root: str | Path, dataset: str, backbone: str, slug: str) -> Path:
    """Where submission `slug`'s runs live: `<runs_root>/submitted/<dataset>/<backbone>/<slug>`."""
    return Path(runs_root) / SUBMITTED_RUNS / dataset / backbone / slug


def is_submitted(run_path: str) -> bool:
    """Whether a run path (relative to the runs root) is a submitted run's."""
    return run_path.split("/", 1)[0] == SUBMITTED_RUNS
