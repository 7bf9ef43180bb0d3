"""Reading and writing bundle archives (tar.gz) safely.

`read_archive` validates every member before anything is written anywhere, and holds the
members in memory (bounded by bench/submit/limits.py): a member with an absolute path, a `..`
component, a name that is not a plain relative path, a symbolic or hard link, a device, a FIFO,
a folder entry or any other non-regular entry, a duplicate name, or sizes and counts beyond the
limits are refused with one line naming the member (`BundleError`, exit 2). The archive is read
as a stream through a byte budget, so neither a compressed bomb nor an oversized tar header
(a long-name or pax record) can make it read more than the limits allow. Nothing is extracted
by `tarfile`: the importer writes the checked bytes itself.

`write_archive` writes members in sorted order with fixed metadata (mtime 0, owner root, mode
0644) and a gzip header without a timestamp: the same members give the same bytes.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import posixpath
import tarfile
import zlib
from collections.abc import Mapping
from pathlib import Path
from typing import BinaryIO

from bench.submit import limits
from bench.typed import ConfigError


class BundleError(ConfigError):
    """A bundle that cannot be accepted; one line, exit code 2, nothing written."""


class _Budget(io.RawIOBase):
    """A read-only stream that refuses to deliver more than `limit` bytes."""

    def __init__(self, inner: BinaryIO, limit: int, where: str) -> None:
        self.inner, self.left, self.where = inner, limit, where

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: memoryview) -> int:  # type: ignore[override]
        want = len(buffer)
        data = self.inner.read(min(want, self.left + 1))
        if len(data) > self.left:
            raise BundleError(f"{self.where}: more than {limits.MAX_TOTAL_BYTES // limits.MiB} "
                              "MiB once uncompressed (the limit); nothing written")
        self.left -= len(data)
        buffer[: len(data)] = data
        return len(data)


def check_name(name: str) -> str | None:
    """Why `name` is not acceptable as a member name, or None."""
    if not name:
        return "an empty name"
    if len(name) > limits.MAX_NAME_CHARS:
        return f"a name longer than {limits.MAX_NAME_CHARS} characters"
    if any(ord(c) < 32 or ord(c) == 127 for c in name):
        return "a control character in its name"
    if "\\" in name:
        return "a backslash in its name (not a plain relative path)"
    if name.startswith("/") or (len(name) > 1 and name[1] == ":"):
        return "an absolute path"
    parts = name.split("/")
    if ".." in parts:
        return "a '..' component"
    if posixpath.normpath(name) != name or "." in parts or "" in parts:
        return "a name that is not a plain relative path"
    return None


def _entry_kind(info: tarfile.TarInfo) -> str | None:
    """Why `info` is not a regular file, or None."""
    if info.issym():
        return f"a symbolic link (to {info.linkname!r})"
    if info.islnk():
        return f"a hard link (to {info.linkname!r})"
    if info.ischr() or info.isblk():
        return "a device"
    if info.isfifo():
        return "a FIFO"
    if info.isdir():
        return "a folder entry (a bundle holds regular files only)"
    if not info.isreg():
        return f"not a regular file (tar type {info.type!r})"
    return None


def read_archive(path: Path) -> tuple[dict[str, bytes], str]:
    """Every member of the archive at `path`, validated, by name (see the module docstring),
    and the sha256 of the archive's bytes as read."""
    where = str(path)
    try:
        with open(path, "rb") as handle:
            blob = handle.read(limits.MAX_ARCHIVE_BYTES + 1)
    except OSError as exc:
        raise BundleError(f"{where}: cannot be read ({exc.strerror or exc})") from None
    if len(blob) > limits.MAX_ARCHIVE_BYTES:
        raise BundleError(f"{where}: over the {limits.MAX_ARCHIVE_BYTES // limits.MiB} MiB limit "
                          "for an archive; nothing written")
    # Headers (512 bytes a member, a long name or pax record a few more) on top of the data.
    budget = limits.MAX_TOTAL_BYTES + limits.MAX_MEMBERS * 3 * 512 + 10 * 512
    members: dict[str, bytes] = {}
    total = 0
    try:
        with gzip.GzipFile(fileobj=io.BytesIO(blob), mode="rb") as unzipped:
            stream = io.BufferedReader(_Budget(unzipped, budget, where))  # type: ignore[arg-type]
            with tarfile.open(fileobj=stream, mode="r|") as archive:
                for info in archive:
                    total = _accept(info, members, total, where)
                    content = archive.extractfile(info)
                    data = content.read(info.size + 1) if content is not None else b""
                    if len(data) != info.size:
                        raise BundleError(f"{where}: member {info.name!r} is truncated; "
                                          "nothing written")
                    members[info.name] = data
    except BundleError:
        raise
    except (tarfile.TarError, OSError, EOFError, zlib.error) as exc:
        raise BundleError(f"{where}: not a readable tar.gz archive ({exc}); nothing "
                          "written") from None
    if not members:
        raise BundleError(f"{where}: an empty archive; nothing written")
    return members, sha256(blob)


def _accept(info: tarfile.TarInfo, members: Mapping[str, bytes], total: int, where: str) -> int:
    """Check one member's header; returns the running total of member sizes."""
    name = info.name
    if len(members) >= limits.MAX_MEMBERS:
        raise BundleError(f"{where}: more than {limits.MAX_MEMBERS} members (the limit; at "
                          f"{name!r}); nothing written")
    problem = check_name(name) or _entry_kind(info)
    if problem is None and name in members:
        problem = "a duplicate name"
    if problem is None and info.size > limits.MAX_MEMBER_BYTES:
        problem = (f"{info.size / limits.MiB:.1f} MiB, over the "
                   f"{limits.MAX_MEMBER_BYTES // limits.MiB} MiB limit for a member")
    total += info.size
    if problem is None and total > limits.MAX_TOTAL_BYTES:
        problem = (f"the members reach {total / limits.MiB:.1f} MiB, over the "
                   f"{limits.MAX_TOTAL_BYTES // limits.MiB} MiB limit in all")
    if problem is not None:
        raise BundleError(f"{where}: member {name!r} refused: {problem}; nothing written")
    return total


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def write_archive(path: Path, members: Mapping[str, bytes]) -> bytes:
    """Write `members` as a reproducible tar.gz at `path` (atomically); returns its bytes."""
    from bench.io import write_bytes_atomic

    buffer = io.BytesIO()
    with gzip.GzipFile(fileobj=buffer, mode="wb", mtime=0, filename="") as zipped, \
            tarfile.open(fileobj=zipped, mode="w", format=tarfile.PAX_FORMAT) as archive:
        for name in sorted(members):
            data = members[name]
            info = tarfile.TarInfo(name)
            info.size, info.mtime, info.mode = len(data), 0, 0o644
            info.uid = info.gid = 0
            info.uname = info.gname = ""
            archive.addfile(info, io.BytesIO(data))
    blob = buffer.getvalue()
    def write(handle: BinaryIO) -> None:
        handle.write(blob)

    write_bytes_atomic(path, write)
    return blob
