"""What `bench verify` trains: the row, its held-out seeds and their runs.

A row is one method at one target of params.yaml's grid. Its held-out seeds are trained as the
grid would train the row at another seed — the same `RunSpec` but for the seed, so the same
configuration, method parameters, budget and code fingerprint, and an identity that differs in
the seed only — through the grid's own executor (bench/grid/local.py). They go to
`<runs_root>-verify/<dataset>/<backbone>/...`, beside the pipeline's runs and never inside
them: `<runs_root>/<dataset>/<backbone>/<method>` are DVC outputs, and `bench aggregate` ranks
(or lists as stale) everything under `<runs_root>`. A from-dense method's held-out seed starts
from the dense run of that seed, which is trained there too: a parent only, never part of the
reference the held-out seeds are scored against (the pipeline's dense seeds).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from bench.aggregate.load import InvalidRun, Run, read_run
from bench.config import Config
from bench.errors import ConfigError, RunFailedError
from bench.grid.plan import plan_run
from bench.record.result import RESULT_FILE
from bench.record.spec import RunSpec, dense_spec, method_targets, run_dir

VERIFY_SUFFIX = "-verify"
DEFAULT_SEED_COUNT = 2
# How far a --target may be from one of the method's targets and still name it (0.9 vs 0.90).
TARGET_TOLERANCE = 1e-9


def verify_root(config: Config) -> Path:
    """`runs-verify` for `runs_root: runs`: where held-out seeds (and their parents) are trained."""
    return Path(f"{Path(config.runs_root)}{VERIFY_SUFFIX}")


def verify_config(config: Config) -> Config:
    """`config` with the verification runs root: run folders, parents and identities as the
    grid's (the runs root is no part of a run's identity)."""
    return dataclasses.replace(config, runs_root=str(verify_root(config)))


def resolve_method(config: Config, slug: str) -> str:
    """The method whose row is verified: one of params.yaml's `methods` (the grid has its row).
    Or an imported submission (`bench import`): its row is the submitted runs."""
    if slug == "dense":
        raise ConfigError("dense is the reference every row is scored against, not a row; "
                          "name a method of `methods:`")
    if slug not in config.methods:
        from bench.record.code import method_slugs
        from bench.submit.running import submitted_row

        if submitted_row(config, slug) is not None:  # an imported submission's row
            return slug

        if slug not in method_slugs():
            raise ConfigError(f"unknown method {slug!r} (known: {', '.join(method_slugs())})")
        raise ConfigError(f"method {slug!r} is not in `methods:` of params.yaml: it has no row "
                          "to verify")
    return slug


def pick_target(config: Config, method: str, target: float | None) -> float:
    """The row's target: `target` when the method runs at it, else (None) its highest target."""
    targets = method_targets(config, method)
    if target is None:
        return max(targets)
    for known in targets:
        if abs(known - target) <= TARGET_TOLERANCE:
            return known
    raise ConfigError(f"--target {target}: {method} does not run at it (its targets: "
                      f"{', '.join(str(t) for t in targets)})")


def held_out_seeds(config: Config, seeds: Sequence[int] | None,
                   count: int = DEFAULT_SEED_COUNT) -> tuple[int, ...]:
    """`seeds` checked, else the `count` smallest non-negative seeds in neither `seeds` nor
    `dense_seeds`: held out from the row and from its reference."""
    used = set(config.seeds) | set(config.dense_seeds)
    if seeds is None:
        free = (seed for seed in range(len(used) + count) if seed not in used)
        return tuple(next(free) for _ in range(count))
    for seed in seeds:
        if seed < 0:
            raise ConfigError(f"--seeds: must be >= 0, got {seed}")
        if seed in config.seeds:
            raise ConfigError(f"--seeds: {seed} is one of the row's seeds (`seeds:`), not held out")
        if seed in config.dense_seeds:
            raise ConfigError(f"--seeds: {seed} is a seed of the dense reference (`dense_seeds:`), "
                              "not held out")
    if len(set(seeds)) != len(seeds):
        raise ConfigError("--seeds: a seed is given twice")
    return tuple(seeds)


@dataclass(frozen=True)
class Row:
    """The row's runs and its dense reference's, all current and rankable."""

    method: str
    target: float
    runs: list[Run]
    reference: list[Run]


def _rankable(config: Config, specs: Sequence[RunSpec]) -> list[Run]:
    root = Path(config.runs_root)
    found = [read_run(run_dir(config, spec) / RESULT_FILE, root) for spec in specs]
    return [run for run in found if isinstance(run, Run)]


def current_row(config: Config, method: str, target: float,
                runs_config: Config | None = None) -> Row:
    """The row as the leaderboard ranks it. Every run of it and of its dense reference must be
    done with the identity params.yaml asks for; otherwise one line says to run `dvc repro`.
    `runs_config` finds the row's runs when they are not in the grid's folders (an imported
    submission's, bench/submit/running.py)."""
    rows = runs_config or config
    specs = [RunSpec(method, target, seed) for seed in config.seeds]
    dense = [dense_spec(seed) for seed in config.reference_seeds]
    planned = [*(plan_run(config, spec) for spec in dense), *(plan_run(rows, s) for s in specs)]
    pending = [p for p in planned if p.todo]
    if pending:
        first = pending[0]
        detail = f", {first.detail}" if first.detail else ""
        raise ConfigError(
            f"{method} at {target}: {len(pending)} run(s) of the row or of its dense reference "
            f"are not current (first: {first.run_dir} {first.state}{detail}); run `dvc repro` "
            "first")
    row = Row(method, target, _rankable(rows, specs), _rankable(config, dense))
    if len(row.runs) < 2:
        raise ConfigError(f"{method} at {target}: {len(row.runs)} rankable run(s); a prediction "
                          "interval needs 2 seeds of the row (`seeds:` in params.yaml)")
    return row


def train_held_out(config: Config, method: str, target: float, seeds: Sequence[int],
                   jobs: int = 0, threads: int | None = None) -> dict[int, Run | InvalidRun]:
    """Train the held-out seeds' runs (and a from-dense method's dense parents first) in the
    verification runs root; a finished run of the same identity is reused. Returns each seed's
    run as read back (an InvalidRun says why it cannot be ranked, e.g. off its target)."""
    from bench.grid.local import available_cores, run_local
    from bench.record.identity import method_start
    from bench.train.setup import prepared_root

    vconfig = verify_config(config)
    specs = [RunSpec(method, target, seed) for seed in seeds]
    parents = [dense_spec(seed) for seed in seeds] if method_start(method) == "dense" else []
    prepared_root(config)  # the dataset once here, not in every run at the same time
    for phase in (parents, specs):
        planned = [plan_run(vconfig, spec) for spec in phase]
        todo = sum(p.todo for p in planned)
        if not todo:
            continue
        run_local(vconfig, planned, jobs or max(1, min(todo, 4 * available_cores())), threads,
                  print_summary=False)
    failed = [run_dir(vconfig, s) for s in parents
              if plan_run(vconfig, s).state != "done"]
    if failed:
        raise RunFailedError(f"the dense parent {failed[0]} did not train; see its result.json")
    root = verify_root(config)
    out: dict[int, Run | InvalidRun] = {}
    for spec in specs:
        path = run_dir(vconfig, spec) / RESULT_FILE
        if not path.exists():
            raise RunFailedError(f"{path.parent}: the held-out run wrote no result")
        out[spec.seed] = read_run(path, root)
    return out
