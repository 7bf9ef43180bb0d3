"""`bench verify` on a submitted method: the row it checks, and running the stored code.

The row is the submitted runs (`<runs_root>/submitted/...`, the author's seeds and targets),
scored against this checkout's dense reference, as the leaderboard ranks it. Held-out runs are
trained with this checkout's configuration and the submission's parameters; the code comes from
`submissions/<slug>/code/`, registered for that `bench verify` call only (`allow_running`):
the registry loads a submission when BENCH_RUN_SUBMITTED names it, and the runs the call starts
inherit the variable; no other command sets it.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, replace
from pathlib import Path

from bench.config import Config
from bench.errors import ConfigError
from bench.record import code
from bench.submit.checkout import with_params
from bench.submit.layout import SUBMITTED_RUNS
from bench.submit.record import Submission
from bench.submit.store import imported


@dataclass(frozen=True)
class SubmittedRow:
    submission: Submission
    # This checkout's configuration with the submission's parameters, seeds and targets.
    config: Config
    # The same, rooted where the submitted runs are (run_dir finds them there).
    runs_config: Config

    @property
    def targets(self) -> tuple[float, ...]:
        return tuple(sorted({r.target_sparsity for r in self.submission.runs}))


def submitted_row(config: Config, slug: str, root: Path = code.REPO_ROOT) -> SubmittedRow | None:
    """The submitted row of `slug`, or None when `slug` is not an imported submission (a method
    of this checkout always wins)."""
    if code.code_root(slug, root) == root:
        return None
    sub = next((s for s in imported(root) if s.slug == slug), None)
    if sub is None:
        return None
    seeds = tuple(sorted({r.seed for r in sub.runs}))
    try:
        ours = replace(with_params(config, sub), methods=(slug,), seeds=seeds,
                       dense_seeds=config.reference_seeds, sparsities=tuple(
                           sorted({r.target_sparsity for r in sub.runs})),
                       structured_sparsities=())
    except ValueError as exc:
        raise ConfigError(f"submission {slug}: its seeds {list(seeds)} do not fit this "
                          f"checkout's dense reference ({exc})") from None
    return SubmittedRow(sub, ours, replace(ours, runs_root=str(Path(config.runs_root) /
                                                                 SUBMITTED_RUNS)))


def allow_running(slug: str) -> None:
    """Let this process (one `bench verify` call) and the runs it starts import submission
    `slug`'s code: BENCH_RUN_SUBMITTED names it, the registry rediscovers."""
    from bench import registry

    os.environ[registry.RUN_SUBMITTED_ENV] = slug
    registry.discover(refresh=True)
