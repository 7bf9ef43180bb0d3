"""Read a run's dvclive logs: `<run>/dvclive/plots/metrics/<group>/<name>.tsv`.

dvclive 3.x writes one TSV per logged key, in a folder per `/`-separated part of the key, with
a header `step<TAB><name>` (the key's last part). A missing or unreadable file is `None`, never
an error: the figure that needs it is skipped with a note.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

METRICS_DIR = Path("dvclive") / "plots" / "metrics"


def metric_path(run_dir: Path, key: str) -> Path:
    return run_dir / METRICS_DIR / f"{key}.tsv"


def read_metric(run_dir: Path, key: str) -> pd.DataFrame | None:
    """Columns `step` and `value`, sorted by step; None when the log is absent or unusable."""
    path = metric_path(run_dir, key)
    if not path.is_file():
        return None
    try:
        frame = pd.read_csv(path, sep="\t")
    except (OSError, ValueError, UnicodeDecodeError):
        return None
    name = key.rsplit("/", 1)[-1]
    if "step" not in frame.columns or name not in frame.columns:
        return None
    out = frame[["step", name]].rename(columns={name: "value"})
    out = out.apply(pd.to_numeric, errors="coerce").dropna()
    return out.sort_values("step") if len(out) else None


def read_group(run_dir: Path, group: str, names: list[str]) -> pd.DataFrame | None:
    """Long frame (`step`, `value`, `name`) of `<group>/<name>` for each name that was logged."""
    frames = []
    for name in names:
        frame = read_metric(run_dir, f"{group}/{name}")
        if frame is not None:
            frames.append(frame.assign(name=name))
    return pd.concat(frames, ignore_index=True) if frames else None
