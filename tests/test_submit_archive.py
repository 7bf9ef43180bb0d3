"""`bench import` refuses unsafe or tampered archives before writing anything.

Each archive is built here with `tarfile`: a bundle that is otherwise well formed (a manifest
with every member's hash) but holds one hostile member — an absolute path, a `..` component, a
symbolic or hard link, a device, a FIFO, a folder entry, a duplicate name, a member or a total
beyond the limits, too many members, a header larger than the byte budget — or whose result
was changed after the manifest was written, or with a member added or removed. Every one must
exit with code 2, print one line naming the problem, and leave the working directory and the
checkout's submission store exactly as they were.
"""

from __future__ import annotations

import gzip
import io
import json
import tarfile
from collections.abc import Callable
from pathlib import Path

import pytest
from conftest_slurm import write_params

from bench.cli import main
from bench.record.code import REPO_ROOT
from bench.submit import limits
from bench.submit.archive import check_name, read_archive, write_archive
from bench.submit.layout import MANIFEST, SUBMISSION
from bench.submit.manifest import build_manifest

RESULT = "runs/synthetic/resnet34/lucky/s0.5/seed0/result.json"


def _members() -> dict[str, bytes]:
    members = {
        "code/methods/lucky.py": b"raise RuntimeError('never imported')\n",
        RESULT: json.dumps({"method": "lucky", "metrics": {"normal": {"cosine": 0.5}}}).encode(),
        SUBMISSION: json.dumps({"format": 1, "slug": "lucky"}).encode(),
    }
    members[MANIFEST] = build_manifest(members)
    return members


Extra = Callable[[tarfile.TarFile], None]


def _archive(path: Path, members: dict[str, bytes], extra: Extra | None = None,
             names: dict[str, str] | None = None) -> Path:
    """A tar.gz of `members` (renamed by `names`), then whatever `extra` adds."""
    with gzip.open(path, "wb") as zipped, tarfile.open(fileobj=zipped, mode="w") as archive:
        for name, data in members.items():
            info = tarfile.TarInfo((names or {}).get(name, name))
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))
        if extra is not None:
            extra(archive)
    return path


def _entry(name: str, kind: bytes, **fields: object) -> Extra:
    def add(archive: tarfile.TarFile) -> None:
        info = tarfile.TarInfo(name)
        info.type = kind
        for key, value in fields.items():
            setattr(info, key, value)
        archive.addfile(info, io.BytesIO(b"x" * info.size) if info.size else None)
    return add


def _file(name: str, data: bytes) -> Extra:
    def add(archive: tarfile.TarFile) -> None:
        info = tarfile.TarInfo(name)
        info.size = len(data)
        archive.addfile(info, io.BytesIO(data))
    return add


def _snapshot(*roots: Path) -> set[str]:
    return {str(p) for root in roots if root.exists() for p in root.rglob("*")} | \
        {str(p) for p in REPO_ROOT.glob(".bench-import-*")}


@pytest.fixture()
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    write_params(tmp_path)
    monkeypatch.chdir(tmp_path)
    return tmp_path


def _refused(project: Path, archive: Path, capsys: pytest.CaptureFixture[str],
             needle: str) -> None:
    before = _snapshot(project, REPO_ROOT / "submissions")
    code = main(["import", str(archive)])
    err = capsys.readouterr().err
    assert code == 2, err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and needle in lines[0], err
    assert "nothing written" in lines[0]
    assert _snapshot(project, REPO_ROOT / "submissions") == before


CRAFTED = {
    "absolute path": (lambda: _file("/tmp/bench-evil.py", b"x"), "an absolute path"),
    "dot-dot": (lambda: _file("code/../../evil.py", b"x"), "a '..' component"),
    "dot-dot alone": (lambda: _file("runs/..", b"x"), "a '..' component"),
    "not normalised": (lambda: _file("code//methods/x.py", b"x"), "not a plain relative path"),
    "symlink": (lambda: _entry("code/methods/link.py", tarfile.SYMTYPE, linkname="/etc/passwd"),
                "a symbolic link"),
    "hardlink": (lambda: _entry("code/methods/hard.py", tarfile.LNKTYPE,
                                linkname="code/methods/lucky.py"), "a hard link"),
    "char device": (lambda: _entry("dev/null", tarfile.CHRTYPE, devmajor=1, devminor=3),
                    "a device"),
    "block device": (lambda: _entry("dev/sda", tarfile.BLKTYPE, devmajor=8), "a device"),
    "fifo": (lambda: _entry("code/fifo", tarfile.FIFOTYPE), "a FIFO"),
    "folder entry": (lambda: _entry("code/methods", tarfile.DIRTYPE), "a folder entry"),
    "duplicate": (lambda: _file(RESULT, b"{}"), "a duplicate name"),
    "member too large": (lambda: _file("runs/big.tsv", b"\0" * (limits.MAX_MEMBER_BYTES + 1)),
                         "limit for a member"),
}


@pytest.mark.parametrize("case", sorted(CRAFTED))
def test_a_crafted_member_is_refused_and_nothing_is_written(
        case: str, project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    make, needle = CRAFTED[case]
    archive = _archive(project / "crafted.tar.gz", _members(), make())
    _refused(project, archive, capsys, needle)


def test_the_total_size_limit(project: Path, capsys: pytest.CaptureFixture[str],
                              monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(limits, "MAX_TOTAL_BYTES", 2000)
    archive = _archive(project / "big.tar.gz", _members(), _file("runs/a.tsv", b"1" * 1500))
    _refused(project, archive, capsys, "limit in all")


def test_the_member_count_limit(project: Path, capsys: pytest.CaptureFixture[str],
                                monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(limits, "MAX_MEMBERS", 4)
    archive = _archive(project / "many.tar.gz", _members(), _file("runs/a.tsv", b"1"))
    _refused(project, archive, capsys, "more than 4 members")


def test_a_header_larger_than_the_byte_budget(project: Path, capsys: pytest.CaptureFixture[str],
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    """A pax record is read by tarfile before any member check: the stream budget stops it."""
    monkeypatch.setattr(limits, "MAX_TOTAL_BYTES", 4096)
    monkeypatch.setattr(limits, "MAX_MEMBERS", 2)

    def pax(archive: tarfile.TarFile) -> None:
        info = tarfile.TarInfo("runs/x.tsv")
        info.pax_headers = {"comment": "y" * 200_000}
        archive.addfile(info, io.BytesIO(b""))

    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=tarfile.PAX_FORMAT) as archive:
        pax(archive)
    path = project / "pax.tar.gz"
    path.write_bytes(gzip.compress(buffer.getvalue()))
    _refused(project, path, capsys, "MiB once uncompressed")


def test_an_oversized_archive_file(project: Path, capsys: pytest.CaptureFixture[str],
                                   monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(limits, "MAX_ARCHIVE_BYTES", 100)
    archive = _archive(project / "file.tar.gz", _members())
    _refused(project, archive, capsys, "limit for an archive")


def test_not_an_archive(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = project / "plain.tar.gz"
    path.write_bytes(b"this is not gzip")
    _refused(project, path, capsys, "not a readable tar.gz archive")


def test_a_result_changed_after_the_manifest_was_written(
        project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    members = _members()
    members[RESULT] = members[RESULT].replace(b"0.5", b"0.9")  # the manifest still says 0.5
    _refused(project, _archive(project / "tampered.tar.gz", members), capsys,
             f"member {RESULT!r} does not match its sha256")


def test_a_member_added_or_removed(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    added = _archive(project / "added.tar.gz", _members(), _file("runs/extra.tsv", b"1"))
    _refused(project, added, capsys, "'runs/extra.tsv' is not in manifest.json")
    members = _members()
    del members["code/methods/lucky.py"]
    _refused(project, _archive(project / "removed.tar.gz", members), capsys,
             "'code/methods/lucky.py' listed in manifest.json is missing")


def test_names_are_plain_relative_paths() -> None:
    for name in ("a/b.py", "runs/synthetic/resnet34/x/s0.9/seed0/result.json"):
        assert check_name(name) is None
    for name in ("", "/a", "C:/a", "a\\b", "../a", "a/../b", "./a", "a/", "a\x00b", "x" * 600):
        assert check_name(name) is not None, name


def test_written_archives_are_reproducible_and_read_back(tmp_path: Path) -> None:
    members = _members()
    first = write_archive(tmp_path / "a.tar.gz", members)
    second = write_archive(tmp_path / "b.tar.gz", dict(reversed(list(members.items()))))
    assert first == second
    read, digest = read_archive(tmp_path / "a.tar.gz")
    assert read == members and len(digest) == 64
