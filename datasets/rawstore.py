"""Where a real dataset's raw copy lives: `data/<dataset>/raw.json`.

`bench fetch DATASET` (download) and `bench fetch DATASET --raw PATH` (a copy carried over) both
end by validating the copy and writing `data/<dataset>/raw.json`: the copy's absolute path, the
layout found, file counts, what was verified (checksums where one is recorded, counts and
structure otherwise) and any warnings. A JSON record rather than a symlink, so that it also
works on file systems without links and says what was checked. `bench prepare DATASET` reads it
when no `--raw` is given. The file holds no timestamps, so it only changes when the copy does.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from bench.errors import DataUnavailableError
from datasets.prepared import write_json_atomic

RAW_RECORD = "raw.json"


def raw_record_path(data_root: str | Path, dataset: str) -> Path:
    return Path(data_root) / dataset / RAW_RECORD


def register_raw(data_root: str | Path, dataset: str, info: dict[str, Any]) -> Path:
    path = raw_record_path(data_root, dataset)
    path.parent.mkdir(parents=True, exist_ok=True)
    write_json_atomic(path, {"dataset": dataset, **info})
    return path


def read_raw_record(data_root: str | Path, dataset: str) -> dict[str, Any] | None:
    path = raw_record_path(data_root, dataset)
    if not path.exists():
        return None
    record: dict[str, Any] = json.loads(path.read_text())
    return record


def resolve_raw(data_root: str | Path, dataset: str, raw: str | Path | None) -> Path:
    """The raw copy to prepare from: `--raw` if given, else the registered one."""
    if raw is not None:
        path = Path(raw).expanduser()
        if not path.is_dir():
            raise DataUnavailableError(f"--raw {raw}: no such directory")
        return path.resolve()
    record = read_raw_record(data_root, dataset)
    if record is None:
        raise DataUnavailableError(
            f"no raw {dataset} copy is registered ({raw_record_path(data_root, dataset)} is "
            f"missing). Run `bench fetch {dataset}` to download it, or `bench fetch {dataset} "
            f"--raw DIR` to register a copy you already have; see docs/datasets.md."
        )
    path = Path(record["path"])
    if not path.is_dir():
        raise DataUnavailableError(
            f"the registered raw {dataset} copy {path} (from "
            f"{raw_record_path(data_root, dataset)}) is gone. Register it again with "
            f"`bench fetch {dataset} --raw DIR`."
        )
    return path
