"""The report's optional input files (methods.json, latency.json): read when present, and an
unreadable one is logged and left out instead of failing the whole report."""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)


def read_json_object(path: Path | None) -> dict[str, Any] | None:
    """The JSON object in `path`; None when there is no file or it is not a readable object."""
    if path is None or not path.is_file():
        return None
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        log.warning("ignoring %s: %s", path, exc)
        return None
    if not isinstance(data, dict):
        log.warning("ignoring %s: not a JSON object", path)
        return None
    return data
