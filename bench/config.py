"""`params.yaml` → frozen, validated dataclasses.

Everything a run depends on is here, so the resolved config stored in `result.json` is enough
to reproduce it. Problems are raised as `ConfigError` with one line naming the file and key;
the CLI turns that into exit code 2 before any work starts.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import yaml

from bench.typed import ConfigError, build, to_dict

BACKBONES = ("resnet34", "mobilenetv2")
# The smallest synthetic image side the generator renders (datasets/synthetic.py).
MIN_SYNTHETIC_SIZE = 8
DEFAULT_PARAMS = Path("params.yaml")


@dataclass(frozen=True)
class Profile:
    """A training recipe (docs/protocol.md §4), scaled for a machine."""

    width_mult: float = 1.0
    # Dropout in the ASPP heads (the paper's 0.5). The CPU-sized default narrows the heads 16×;
    # docs/performance.md measures why it uses less there.
    head_dropout: float = 0.5
    iterations: int = 20000
    batch_size: int = 16
    lr: float = 1e-3
    betas: tuple[float, float] = (0.5, 0.999)
    weight_decay: float = 0.0
    lr_step: int = 4000
    lr_gamma: float = 0.5
    # Train-time random crop (height, width); None trains on the whole image.
    crop: tuple[int, int] | None = (321, 321)
    # Images are resized to this (height, width) before cropping; None keeps the stored size.
    resize: tuple[int, int] | None = None
    hflip: bool = True
    eval_batch_size: int = 8
    log_every: int = 50
    checkpoint_every: int = 1000
    device: Literal["auto", "cpu", "cuda"] = "auto"
    amp_bf16: bool = False
    channels_last: bool = False
    compile: bool = False
    cudnn_benchmark: bool = False
    num_workers: int = 0
    pin_memory: bool = False
    # CPU threads for torch (None: torch's default). Several runs sharing a machine each need
    # their share, or OpenMP oversubscription makes every one of them many times slower.
    threads: int | None = None

    def __post_init__(self) -> None:
        positive = ("iterations", "batch_size", "eval_batch_size", "log_every", "checkpoint_every")
        for name in positive:
            if getattr(self, name) <= 0:
                raise ValueError(f"{name} must be positive, got {getattr(self, name)}")
        if not 0 < self.width_mult <= 4:
            raise ValueError(f"width_mult must be in (0, 4], got {self.width_mult}")
        if not 0 <= self.head_dropout < 1:
            raise ValueError(f"head_dropout must be in [0, 1), got {self.head_dropout}")
        for name in ("lr", "lr_step", "lr_gamma"):
            if not getattr(self, name) > 0:
                raise ValueError(f"{name} must be positive, got {getattr(self, name)}")
        if self.weight_decay < 0:
            raise ValueError(f"weight_decay must be >= 0, got {self.weight_decay}")
        if not all(0 <= b < 1 for b in self.betas):
            raise ValueError(f"betas must be in [0, 1), got {list(self.betas)}")
        for name in ("crop", "resize"):
            size = getattr(self, name)
            if size is not None and min(size) <= 0:
                raise ValueError(f"{name} must be positive, got {list(size)}")

    def check_fits(self, image_size: tuple[int, int]) -> None:
        """The crop must fit in the images as the loader sees them (after any resize)."""
        seen = self.resize or image_size
        if self.crop is not None and (self.crop[0] > seen[0] or self.crop[1] > seen[1]):
            what = "resized images" if self.resize else "images"
            raise ValueError(
                f"crop {list(self.crop)} is larger than the {what} "
                f"({seen[0]}×{seen[1]}); use a smaller crop or another dataset"
            )


@dataclass(frozen=True)
class SyntheticData:
    """Size of the embedded procedural dataset (docs/protocol.md §7)."""

    height: int = 64
    width: int = 64
    num_train: int = 256
    num_val: int = 64
    num_test: int = 128
    seed: int = 0

    def __post_init__(self) -> None:
        # What the generator can render (datasets/synthetic.py); the benchmark's runs also need
        # non-empty val and test splits (Config checks those).
        for name in ("height", "width"):
            size = getattr(self, name)
            if size < MIN_SYNTHETIC_SIZE:
                raise ValueError(f"{name} must be at least {MIN_SYNTHETIC_SIZE}, got {size}")
        if self.num_train <= 0:
            raise ValueError(f"num_train must be positive, got {self.num_train}")
        for name in ("num_val", "num_test", "seed"):
            if getattr(self, name) < 0:
                raise ValueError(f"{name} must be >= 0, got {getattr(self, name)}")


@dataclass(frozen=True)
class Budget:
    """How much training a row costs (docs/protocol.md §9). `equal`: every row trains one dense
    budget from initialisation — from-dense methods branch off the dense run at
    `branch_fraction` of its steps (its `branch.pt`) and train the rest. `paper`: the papers'
    recipe — from-dense methods start from the fully trained dense run and train a full budget
    more (2.0 budgets); the leaderboard ranks them in tables of their own."""

    mode: Literal["equal", "paper"] = "equal"
    branch_fraction: float = 0.5

    def __post_init__(self) -> None:
        if not 0 < self.branch_fraction < 1:
            raise ValueError(f"branch_fraction must be in (0, 1), got {self.branch_fraction}")


@dataclass(frozen=True)
class Cluster:
    """Resources per run on a Slurm cluster (see docs/cluster.md)."""

    partition: str | None = None
    time_min: int = 240
    gpus_per_run: int = 1
    cpus_per_run: int = 8
    mem_gb: int = 32
    max_parallel: int = 64
    account: str | None = None
    extra: dict[str, str] = field(default_factory=dict)
    # Seconds before the time limit at which Slurm signals the run to checkpoint and requeue.
    signal_delay_s: int = 120
    # How many times a run that reaches its time limit is requeued (preemptions do not count).
    max_requeue: int = 3
    # Shell lines run in each job before the run (e.g. `module load cuda`, `. .venv/bin/activate`).
    setup: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        for name in ("time_min", "cpus_per_run", "mem_gb", "max_parallel"):
            if getattr(self, name) <= 0:
                raise ValueError(f"{name} must be positive, got {getattr(self, name)}")
        for name in ("gpus_per_run", "signal_delay_s", "max_requeue"):
            if getattr(self, name) < 0:
                raise ValueError(f"{name} must be >= 0, got {getattr(self, name)}")
        if self.signal_delay_s >= self.time_min * 60:
            raise ValueError(
                f"signal_delay_s ({self.signal_delay_s}) must be shorter than time_min "
                f"({self.time_min} min)"
            )


@dataclass(frozen=True)
class Config:
    dataset: str
    backbone: Literal["resnet34", "mobilenetv2"]
    profile: str
    profiles: dict[str, Profile]
    methods: tuple[str, ...] = ()
    sparsities: tuple[float, ...] = (0.7, 0.9)
    # The structured track's further targets: methods that remove whole channels
    # (`changes_architecture`) also run at these; the others do not (docs/protocol.md §5).
    structured_sparsities: tuple[float, ...] = ()
    seeds: tuple[int, ...] = (0,)
    # Seeds of the dense reference when it should have more than the methods (empty: `seeds`).
    # Every ΔT is scored against the mean of the dense seeds, so more of them make the reference,
    # and its own interval, tighter at the cost of a dense run each; must include every seed.
    dense_seeds: tuple[int, ...] = ()
    method_params: dict[str, dict[str, Any]] = field(default_factory=dict)
    # Train a dense single-task network per task and seed: the reference of Δm (protocol §2).
    single_task_references: bool = True
    budget: Budget = field(default_factory=Budget)
    synthetic: SyntheticData = field(default_factory=SyntheticData)
    cluster: Cluster = field(default_factory=Cluster)
    data_root: str = "data"
    runs_root: str = "runs"
    reports_root: str = "reports"

    def __post_init__(self) -> None:
        from datasets.registry import DATASETS

        if self.dataset not in DATASETS:
            raise ValueError(f"unknown dataset {self.dataset!r} (known: {', '.join(DATASETS)})")
        if self.profile not in self.profiles:
            raise ValueError(
                f"profile {self.profile!r} is not defined (defined: {', '.join(self.profiles)})"
            )
        for s in (*self.sparsities, *self.structured_sparsities):
            check_target_sparsity(s)
        check_grid_lists(self)

    @property
    def reference_seeds(self) -> tuple[int, ...]:
        """The seeds the dense reference runs at."""
        return self.dense_seeds or self.seeds

    @property
    def recipe(self) -> Profile:
        return self.profiles[self.profile]

    def params_for(self, slug: str) -> dict[str, Any]:
        return dict(self.method_params.get(slug) or {})

    def with_profile(self, name: str) -> Config:
        return dataclasses.replace(self, profile=name)

    def to_dict(self) -> dict[str, Any]:
        return to_dict(self)  # type: ignore[no-any-return]


def check_target_sparsity(value: float) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value < 1:
        raise ValueError(f"target sparsity must be in [0, 1), got {value!r}")
    return float(value)


def check_grid_lists(config: Config) -> None:
    """The grid's lists name each run once: no value twice (it would plan the same runs twice),
    at least one seed, non-negative seeds; runs evaluate on non-empty val and test splits."""
    for key in ("methods", "sparsities", "structured_sparsities", "seeds", "dense_seeds"):
        values = getattr(config, key)
        for value in dict.fromkeys(values):
            count = values.count(value)
            if count > 1:
                times = "twice" if count == 2 else f"{count} times"
                raise ValueError(f"{key}: {value!r} appears {times}")
    if not config.seeds:
        raise ValueError("seeds: at least one seed is needed")
    for key in ("seeds", "dense_seeds"):
        negative = [seed for seed in getattr(config, key) if seed < 0]
        if negative:
            raise ValueError(f"{key}: must be >= 0, got {negative[0]}")
    missing = [seed for seed in config.seeds if config.dense_seeds and seed not in config.dense_seeds]
    if missing:
        raise ValueError(f"dense_seeds: must include every seed (the from-dense methods start from "
                         f"the dense run of their seed); {missing[0]} is missing")
    for name in ("num_val", "num_test"):
        if getattr(config.synthetic, name) <= 0:
            raise ValueError(
                f"synthetic: {name} must be positive (every run is evaluated on it), "
                f"got {getattr(config.synthetic, name)}"
            )


def load_config(path: str | Path = DEFAULT_PARAMS, overrides: dict[str, Any] | None = None,
                method_params: bool = True) -> Config:
    """Read and validate `params.yaml`; method names and (unless `method_params` is False, for
    the steps that never import a method) their parameters are checked too."""
    path = Path(path)
    if not path.exists():
        raise ConfigError(f"{path}: file not found (run from the repository root or pass --params)")
    raw = read_yaml(path)
    for key, value in (overrides or {}).items():
        raw[key] = value
    config = build(Config, raw, str(path))
    validate_methods(config, str(path), method_params)
    check_crop(config, str(path))
    return config


class _UniqueKeyLoader(yaml.SafeLoader):
    """SafeLoader that refuses a key given twice in one mapping (PyYAML keeps the last)."""


def _construct_unique_mapping(loader: yaml.SafeLoader, node: yaml.MappingNode, deep: bool = False) -> Any:
    seen: set[Any] = set()
    for key_node, _ in node.value:
        key = loader.construct_object(key_node, deep=deep)  # type: ignore[no-untyped-call]
        if key in seen:
            mark = key_node.start_mark
            raise yaml.constructor.ConstructorError(
                None, None, f"duplicate key {key!r} (line {mark.line + 1}, column {mark.column + 1})",
                mark,
            )
        seen.add(key)
    return loader.construct_mapping(node, deep=deep)


_UniqueKeyLoader.add_constructor(
    yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_unique_mapping  # type: ignore[arg-type]
)


def read_yaml(path: Path) -> dict[str, Any]:
    """Parse a params file; a syntax error or duplicate key is one line with line and column."""
    try:
        raw = yaml.load(path.read_text(), Loader=_UniqueKeyLoader) or {}  # noqa: S506 (safe loader)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark is not None else ""
        problem = exc.problem or exc.context or "syntax error"
        if problem.startswith("duplicate key"):
            raise ConfigError(f"{path}: {problem}") from None
        raise ConfigError(f"{path}: not valid YAML at {where}{problem}") from None
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: not valid YAML ({str(exc).splitlines()[0]})") from None
    if not isinstance(raw, dict):
        raise ConfigError(f"{path}: expected a mapping of keys, got {type(raw).__name__}")
    return raw


def check_crop(config: Config, where: str) -> None:
    """The active profile's crop must fit the synthetic images (known from the config); a real
    dataset's images are known once it is prepared (bench/train/setup.py checks them then)."""
    from datasets.registry import DATASETS

    if DATASETS[config.dataset].synthetic:
        try:
            config.recipe.check_fits((config.synthetic.height, config.synthetic.width))
        except ValueError as exc:
            raise ConfigError(f"{where}: profiles.{config.profile}: {exc}") from None


def validate_methods(config: Config, where: str, params: bool = True) -> None:
    """Every listed method exists and has a target; with `params`, its parameters type-check
    (that imports the method, so torch: the aggregate step, which never trains, skips it)."""
    from bench.record.meta import method_meta

    for slug in config.methods:
        try:
            meta = method_meta(slug)
        except KeyError:
            from bench.record.code import method_slugs

            raise ConfigError(f"{where}: methods: unknown method {slug!r} "
                              f"(known: {', '.join(method_slugs())})") from None
        # A method with no target sparsity would silently plan no runs.
        structured = config.structured_sparsities and meta.changes_architecture
        if slug != "dense" and not config.sparsities and not structured:
            raise ConfigError(
                f"{where}: sparsities: at least one target is needed for method {slug!r}"
                + (" (structured_sparsities apply to channel-removing methods only)"
                   if config.structured_sparsities else "")
            )
    if not params:
        return
    from bench.registry import get_method_class

    for slug in config.methods:
        try:
            get_method_class(slug)
        except KeyError as exc:
            raise ConfigError(f"{where}: methods: {exc.args[0]}") from None
    for slug, raw in config.method_params.items():
        try:
            cls = get_method_class(slug)
        except KeyError as exc:
            raise ConfigError(f"{where}: method_params: {exc.args[0]}") from None
        build(cls.Params, raw, f"{where}: method_params.{slug}")
