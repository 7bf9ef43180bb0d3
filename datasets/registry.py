"""The datasets the benchmark knows: their tasks, classes and ΔT scoring rule."""

from __future__ import annotations

from dataclasses import dataclass

from bench.tasks import NYU_TASKS, TASKONOMY_TASKS


@dataclass(frozen=True)
class DatasetSpec:
    name: str
    tasks: tuple[str, ...]
    num_classes: int
    scoring: str  # key of bench.tasks.DELTA_T_KEYS
    description: str
    synthetic: bool = False


DATASETS: dict[str, DatasetSpec] = {
    spec.name: spec
    for spec in (
        DatasetSpec(
            "synthetic", NYU_TASKS, 8, "nyu",
            "embedded procedural indoor scenes, NYU-v2 task set (default, no download)",
            synthetic=True,
        ),
        DatasetSpec(
            "synthetic_taskonomy", TASKONOMY_TASKS, 8, "taskonomy",
            "embedded procedural indoor scenes, Taskonomy task set (no download)",
            synthetic=True,
        ),
        DatasetSpec("nyuv2", NYU_TASKS, 40, "nyu", "NYU-v2, AdaShare 3-task release"),
        DatasetSpec("taskonomy", TASKONOMY_TASKS, 17, "taskonomy", "Tiny-Taskonomy, 5 tasks"),
    )
}


def dataset_spec(name: str) -> DatasetSpec:
    try:
        return DATASETS[name]
    except KeyError:
        raise KeyError(f"unknown dataset {name!r} (known: {', '.join(DATASETS)})") from None
