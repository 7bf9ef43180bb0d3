"""`submission.json`: what a bundle says about itself, parsed and type-checked.

Written by `bench submit` (bench/submit/bundle.py), read by `bench import` and, from the store,
by `bench aggregate` (which computes the identities the submitted runs must have here).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from bench.submit.archive import BundleError
from bench.submit.layout import FORMAT_VERSION, SUBMISSION


@dataclass(frozen=True)
class SubmittedRun:
    path: str  # relative to the author's runs root: <dataset>/<backbone>/<slug>/s<t>/seed<k>
    target_sparsity: float
    seed: int
    identity: str


@dataclass(frozen=True)
class Submission:
    slug: str
    method_params: dict[str, Any]
    setting: dict[str, Any]
    reference: dict[str, Any]  # {"method": "dense", "identities": {seed: id}, "inputs": {...}}
    code_files: dict[str, str]  # repository path -> sha256[:16], as the runs' fingerprint has it
    runs: tuple[SubmittedRun, ...]
    data: dict[str, Any]  # the whole record as written

    @property
    def dataset(self) -> str:
        return str(self.setting["dataset"])

    @property
    def backbone(self) -> str:
        return str(self.setting["backbone"])


def _need(record: dict[str, Any], key: str, kind: type | tuple[type, ...], where: str) -> Any:
    value = record.get(key)
    if not isinstance(value, kind) or isinstance(value, bool) and kind is not bool:
        raise BundleError(f"{where}: {SUBMISSION}: missing or malformed {key!r}; nothing written")
    return value


def parse_submission(blob: bytes, where: str) -> Submission:
    """The record in `blob`, checked for shape (not yet against this checkout)."""
    try:
        record = json.loads(blob)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise BundleError(f"{where}: {SUBMISSION} is not valid JSON ({exc}); nothing written") \
            from None
    if not isinstance(record, dict):
        raise BundleError(f"{where}: {SUBMISSION} is not a JSON object; nothing written")
    if record.get("format") != FORMAT_VERSION:
        raise BundleError(f"{where}: {SUBMISSION} format {record.get('format')!r} (this version "
                          f"reads {FORMAT_VERSION}); nothing written")
    slug = _need(record, "slug", str, where)
    setting = _need(record, "setting", dict, where)
    for key in ("dataset", "backbone", "profile"):
        _need(setting, key, str, f"{where}: setting")
    reference = _need(record, "reference", dict, where)
    _need(reference, "identities", dict, f"{where}: reference")
    _need(reference, "inputs", dict, f"{where}: reference")
    code = _need(record, "code", dict, where)
    files = _need(code, "files", dict, f"{where}: code")
    if not all(isinstance(k, str) and isinstance(v, str) for k, v in files.items()):
        raise BundleError(f"{where}: {SUBMISSION}: malformed code.files; nothing written")
    runs = []
    for item in _need(record, "runs", list, where):
        if not isinstance(item, dict):
            raise BundleError(f"{where}: {SUBMISSION}: malformed 'runs'; nothing written")
        target = _need(item, "target_sparsity", (int, float), f"{where}: runs")
        runs.append(SubmittedRun(_need(item, "path", str, f"{where}: runs"), float(target),
                                 _need(item, "seed", int, f"{where}: runs"),
                                 _need(item, "identity", str, f"{where}: runs")))
    if not runs:
        raise BundleError(f"{where}: {SUBMISSION} lists no runs; nothing written")
    return Submission(slug, dict(_need(record, "method_params", dict, where)), setting, reference,
                      dict(files), tuple(runs), record)
