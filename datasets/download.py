"""Plain-HTTP downloads for the real datasets: resumable, checksummed, Google-Drive aware.

Only the standard library is used (urllib), so fetching needs no extra dependency.

- Resume: bytes go to `<dest>.part`; a rerun asks for the rest with an HTTP `Range` header and
  appends when the server answers 206 (a server that ignores Range answers 200 and the file is
  fetched again from the start).
- Google Drive: a large file is not served directly; `uc?export=download&id=...` answers with an
  HTML "cannot scan for viruses" page. The real address is read from that page (the
  `download-form` form with its hidden fields, or an older `confirm=<token>` link / a
  `download_warning` cookie) and requested with the same cookie jar.
- Offline: `BENCH_OFFLINE=1` makes every download fail at once as if the network were down, so
  tests and air-gapped machines get the same clear message; network errors raise
  `NetworkUnavailable`, which the dataset modules turn into `DataUnavailableError` (exit 3).
"""

from __future__ import annotations

import hashlib
import html
import http.cookiejar
import logging
import os
import re
import shutil
import tarfile
import urllib.error
import urllib.parse
import urllib.request
import zipfile
from pathlib import Path

from datasets.prepared import file_sha256

log = logging.getLogger(__name__)

OFFLINE_ENV = "BENCH_OFFLINE"
DRIVE_URL = "https://drive.google.com/uc?export=download&id={file_id}"
CHUNK = 1 << 20
USER_AGENT = "mtl-prune-bench (urllib)"


class NetworkUnavailable(RuntimeError):
    """The source could not be reached (offline, refused, timed out, HTTP error)."""


class ChecksumMismatch(RuntimeError):
    """A downloaded file's SHA-256 differs from the recorded one."""


def forced_offline() -> bool:
    return os.environ.get(OFFLINE_ENV, "").strip().lower() not in ("", "0", "false", "no")


def make_opener() -> urllib.request.OpenerDirector:
    jar = http.cookiejar.CookieJar()
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar))
    opener.addheaders = [("User-Agent", USER_AGENT)]
    opener.cookie_jar = jar  # type: ignore[attr-defined]
    return opener


def _open(opener: urllib.request.OpenerDirector, url: str, headers: dict[str, str],
          timeout: float):  # type: ignore[no-untyped-def]
    if forced_offline():
        raise NetworkUnavailable(f"{OFFLINE_ENV} is set")
    try:
        return opener.open(urllib.request.Request(url, headers=headers), timeout=timeout)
    except urllib.error.HTTPError as exc:
        if exc.code == 416:  # Range past the end: the .part file is already complete
            return exc
        raise NetworkUnavailable(f"{url}: HTTP {exc.code} {exc.reason}") from None
    except (urllib.error.URLError, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        raise NetworkUnavailable(f"{urllib.parse.urlsplit(url).netloc}: {reason}") from None


def drive_confirm_url(page: str, base_url: str, cookies: dict[str, str]) -> str | None:
    """The direct download address hidden in Drive's virus-scan warning page, if any."""
    form = re.search(r'(<form[^>]*id="download-form"[^>]*>)(.*?)</form>', page, re.S)
    action_attr = re.search(r'action="([^"]+)"', form.group(1)) if form else None
    if form and action_attr:
        fields = dict(re.findall(r'<input[^>]*name="([^"]+)"[^>]*value="([^"]*)"',
                                 form.group(2)))
        action = html.unescape(action_attr.group(1))
        query = urllib.parse.urlencode({k: html.unescape(v) for k, v in fields.items()})
        return f"{action}{'&' if '?' in action else '?'}{query}"
    token = re.search(r"confirm=([0-9A-Za-z_-]+)", page)
    if token is None:
        token_value = next((v for k, v in cookies.items() if k.startswith("download_warning")),
                           None)
    else:
        token_value = token.group(1)
    if token_value is None:
        return None
    return f"{base_url}&confirm={urllib.parse.quote(token_value)}"


def resolve_drive(url: str, opener: urllib.request.OpenerDirector, timeout: float) -> str:
    """Follow Drive's confirm page (large files) to the address that serves the bytes."""
    response = _open(opener, url, {}, timeout)
    with response:
        if "text/html" not in response.headers.get("Content-Type", ""):
            return str(response.geturl())
        page = response.read(2 << 20).decode("utf-8", "replace")
    jar = getattr(opener, "cookie_jar", None)
    cookies = {c.name: str(c.value) for c in jar} if jar is not None else {}
    direct = drive_confirm_url(page, url, cookies)
    if direct is None:
        raise NetworkUnavailable(
            "Google Drive answered with a page that has no download link (the file's daily "
            "download quota may be exhausted; try again later or download it in a browser)"
        )
    return direct


def download(url: str, dest: Path, *, sha256: str | None = None, timeout: float = 30.0,
             opener: urllib.request.OpenerDirector | None = None, progress: bool = True) -> Path:
    """Fetch `url` to `dest`, resuming `dest.part`; verify `sha256` when one is recorded."""
    dest = Path(dest)
    dest.parent.mkdir(parents=True, exist_ok=True)
    if dest.exists() and (sha256 is None or file_sha256(dest) == sha256):
        return dest
    opener = opener or make_opener()
    part = dest.with_name(dest.name + ".part")
    start = part.stat().st_size if part.exists() else 0
    headers = {"Range": f"bytes={start}-"} if start else {}
    response = _open(opener, url, headers, timeout)
    with response:
        status = getattr(response, "status", None) or response.getcode()
        if status == 416:
            log.info("%s: already complete (%d bytes)", part.name, start)
        else:
            append = start > 0 and status == 206
            if start and not append:
                log.info("%s: server ignored the Range request; starting again", dest.name)
            total = response.headers.get("Content-Length")
            total_bytes = int(total) + (start if append else 0) if total else None
            _stream(response, part, append, total_bytes, progress, dest.name)
    os.replace(part, dest)
    if sha256 is not None:
        actual = file_sha256(dest)
        if actual != sha256:
            dest.unlink()
            raise ChecksumMismatch(f"{dest.name}: SHA-256 {actual}, expected {sha256}")
    return dest


def _stream(response, part: Path, append: bool, total: int | None,  # type: ignore[no-untyped-def]
            progress: bool, name: str) -> None:
    from tqdm import tqdm

    done = part.stat().st_size if append and part.exists() else 0
    with open(part, "ab" if append else "wb") as out, tqdm(
        total=total, initial=done, unit="B", unit_scale=True, desc=name,
        disable=not progress or None,
    ) as bar:
        try:
            while chunk := response.read(CHUNK):
                out.write(chunk)
                bar.update(len(chunk))
        except OSError as exc:  # connection dropped: keep the .part for the next run
            raise NetworkUnavailable(f"download of {name} interrupted: {exc}") from None
    if total is not None and part.stat().st_size < total:
        raise NetworkUnavailable(
            f"download of {name} stopped at {part.stat().st_size} of {total} bytes; "
            "run the command again to resume"
        )


def _safe_target(root: Path, name: str) -> Path:
    target = (root / name).resolve()
    if not target.is_relative_to(root.resolve()):
        raise ValueError(f"archive member {name!r} would be written outside {root}")
    return target


def extract(archive: Path, dest: Path) -> None:
    """Unpack a zip or tar archive (format found from its content, not its name) into `dest`."""
    dest.mkdir(parents=True, exist_ok=True)
    if zipfile.is_zipfile(archive):
        with zipfile.ZipFile(archive) as zf:
            for member in zf.infolist():
                target = _safe_target(dest, member.filename)
                if member.is_dir():
                    target.mkdir(parents=True, exist_ok=True)
                    continue
                target.parent.mkdir(parents=True, exist_ok=True)
                with zf.open(member) as src, open(target, "wb") as out:
                    shutil.copyfileobj(src, out, CHUNK)
    elif tarfile.is_tarfile(archive):
        with tarfile.open(archive) as tf:
            for info in tf.getmembers():
                _safe_target(dest, info.name)
            tf.extractall(dest, filter="data")
    else:
        raise ValueError(f"{archive} is neither a zip nor a tar archive")


def find_dir_with(root: Path, marker: str, max_depth: int = 3) -> Path | None:
    """The shallowest directory under `root` (itself included) that holds `marker`."""
    level = [root]
    for _ in range(max_depth + 1):
        for d in level:
            if (d / marker).exists():
                return d
        level = [c for d in level for c in sorted(d.iterdir()) if c.is_dir()]
    return None


def sha256_bytes(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()
