"""The bundle's manifest: the sha256 and size of every other member.

`bench import` accepts a bundle only when its members are exactly those the manifest lists,
each with its hash and size: a result changed after `bench submit` (and the manifest not), a
member added or one removed is refused. The sha256 of the manifest itself identifies the bundle
(`bundle_id`): an author publishes it beside the archive, a reader compares it with what
`bench import` prints.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from bench.submit.archive import BundleError, sha256
from bench.submit.layout import FORMAT_VERSION, MANIFEST

ALGORITHM = "sha256"


def build_manifest(members: Mapping[str, bytes]) -> bytes:
    """The manifest of `members` (every member but the manifest), as stable JSON bytes."""
    listed = {name: {"sha256": sha256(data), "size": len(data)}
              for name, data in sorted(members.items()) if name != MANIFEST}
    record = {"format": FORMAT_VERSION, "algorithm": ALGORITHM, "members": listed}
    return (json.dumps(record, indent=2, sort_keys=True) + "\n").encode()


def bundle_id(manifest: bytes) -> str:
    """The bundle's identifier: sha256 of its manifest, 16 hex digits."""
    return sha256(manifest)[:16]


def check_manifest(members: Mapping[str, bytes], where: str) -> None:
    """Every member listed with its hash and size, nothing more, nothing less; else refuse."""
    if MANIFEST not in members:
        raise BundleError(f"{where}: no {MANIFEST} (not a bundle written by bench submit); "
                          "nothing written")
    try:
        record: Any = json.loads(members[MANIFEST])
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise BundleError(f"{where}: {MANIFEST} is not valid JSON ({exc}); nothing written") \
            from None
    listed = record.get("members") if isinstance(record, dict) else None
    if not isinstance(listed, dict) or record.get("algorithm") != ALGORITHM:
        raise BundleError(f"{where}: {MANIFEST} has no {ALGORITHM} member list; nothing written")
    if record.get("format") != FORMAT_VERSION:
        raise BundleError(f"{where}: bundle format {record.get('format')!r} (this version reads "
                          f"{FORMAT_VERSION}); nothing written")
    for name in sorted(members):
        if name != MANIFEST and name not in listed:
            raise BundleError(f"{where}: member {name!r} is not in {MANIFEST}; nothing written")
    for name, entry in sorted(listed.items()):
        if name not in members:
            raise BundleError(f"{where}: member {name!r} listed in {MANIFEST} is missing; "
                              "nothing written")
        data = members[name]
        if not isinstance(entry, dict) or entry.get("size") != len(data) \
                or entry.get("sha256") != sha256(data):
            raise BundleError(f"{where}: member {name!r} does not match its sha256 and size in "
                              f"{MANIFEST} (changed after bench submit); nothing written")
