"""What `bench import` accepts from an archive (docs/submitting.md states these limits).

A bundle holds source files, result.json files and training logs, never checkpoints: a run of a
paper-scale profile (20,000 steps, a log row every 50) is its result.json, dvclive's metrics.json
and a dozen or more curves of 400 rows, under 30 members and 300 KiB; a 4-seed grid at three
targets stays under 400 members and 4 MiB, far below every limit. The limits bound what a hostile archive can make
the importer read into memory; `bench submit` refuses to write a bundle beyond them.
"""

from __future__ import annotations

MiB = 1024 * 1024
# The archive file as stored (gzip-compressed).
MAX_ARCHIVE_BYTES = 64 * MiB
# Members of the archive (files: the manifest, the parameters, code, results, logs).
MAX_MEMBERS = 4096
# One member, uncompressed.
MAX_MEMBER_BYTES = 8 * MiB
# All members together, uncompressed.
MAX_TOTAL_BYTES = 128 * MiB
# A member name (a path inside the archive), in characters.
MAX_NAME_CHARS = 512


def describe() -> str:
    """The limits in one sentence (for --help and error messages)."""
    return (f"at most {MAX_MEMBERS} members, {MAX_MEMBER_BYTES // MiB} MiB a member, "
            f"{MAX_TOTAL_BYTES // MiB} MiB uncompressed in all, {MAX_ARCHIVE_BYTES // MiB} MiB "
            "compressed")
