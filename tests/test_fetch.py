"""`bench fetch`: offline behaviour, resumable downloads, Google Drive's confirm page, Omnidata.

Nothing here touches the internet: "online" means a local HTTP server in a thread.
"""

from __future__ import annotations

import hashlib
import http.server
import io
import json
import os
import socket
import stat
import sys
import threading
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from fixtures.raw_nyuv2 import build_raw_nyuv2

from bench.cli import main
from datasets import download as dl
from datasets import nyuv2, taskonomy
from datasets import taskonomy_raw as tr

TESTS = Path(__file__).resolve().parent


class _Handler(http.server.BaseHTTPRequestHandler):
    files: dict[str, bytes] = {}
    ranges: list[str] = []

    def log_message(self, *args: object) -> None:
        pass

    def do_GET(self) -> None:  # noqa: N802
        path = self.path.split("?")[0]
        if path == "/uc":  # Drive's "can't scan this file for viruses" page
            host = f"http://127.0.0.1:{self.server.server_address[1]}"
            page = (f'<html><form id="download-form" action="{host}/download" method="get">'
                    '<input type="hidden" name="id" value="X">'
                    '<input type="hidden" name="confirm" value="t">'
                    '<input type="hidden" name="uuid" value="u-1"></form></html>').encode()
            self._send(200, page, "text/html; charset=utf-8")
            return
        if path == "/download" and "confirm=t" not in self.path:
            self._send(403, b"no", "text/plain")
            return
        data = self.files.get(path)
        if data is None:
            self._send(404, b"missing", "text/plain")
            return
        start = 0
        if "Range" in self.headers:
            self.ranges.append(self.headers["Range"])
            start = int(self.headers["Range"].split("=")[1].rstrip("-"))
        self._send(206 if start else 200, data[start:], "application/octet-stream")

    def _send(self, code: int, body: bytes, ctype: str) -> None:
        self.send_response(code)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


@pytest.fixture()
def server() -> Iterator[tuple[str, type[_Handler]]]:
    handler = type("Handler", (_Handler,), {"files": {}, "ranges": []})
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}", handler
    httpd.shutdown()


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])  # closed again when the block ends


def _zip_dir(folder: Path, prefix: str) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for path in sorted(folder.rglob("*")):
            if path.is_file():
                zf.write(path, f"{prefix}/{path.relative_to(folder)}")
    return buf.getvalue()


@pytest.mark.parametrize("how", ["env", "closed_port"])
def test_fetch_nyuv2_offline_exits_3_with_one_clear_message(
    how: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    if how == "env":
        monkeypatch.setenv(dl.OFFLINE_ENV, "1")
    else:
        monkeypatch.setenv(nyuv2.URL_ENV, f"http://127.0.0.1:{_closed_port()}/uc?id=x")
    code = main(["fetch", "nyuv2", "--data-root", str(tmp_path), "--no-progress"])
    err = capsys.readouterr().err
    assert code == 3
    assert "Traceback" not in err
    lines = [ln for ln in err.splitlines() if ln.startswith("bench fetch: error:")]
    assert len(lines) == 1
    for needed in (nyuv2.DRIVE_FILE_ID, "nyu_v2_3task.json", "bench fetch nyuv2 --raw",
                   "bench prepare nyuv2"):
        assert needed in lines[0]
    assert not (tmp_path / "nyuv2" / "prepared").exists()
    assert not (tmp_path / "synthetic").exists()  # never a fallback to synthetic data


def test_fetch_taskonomy_offline_exits_3(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                         capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv(taskonomy.REPO_URL_ENV, f"http://127.0.0.1:{_closed_port()}")
    assert main(["fetch", "taskonomy", "--data-root", str(tmp_path), "--no-progress"]) == 3
    err = capsys.readouterr().err
    assert "Traceback" not in err
    for needed in ("omnitools.download", "--subset tiny", "pip install omnidata-tools",
                   tr.SPLIT_CSV, tr.PRIOR_FILE, "bench fetch taskonomy --raw"):
        assert needed in err


def test_download_resumes_with_range(server: tuple[str, type[_Handler]], tmp_path: Path) -> None:
    url, handler = server
    payload = os.urandom(300_000)
    handler.files["/blob"] = payload
    dest = tmp_path / "blob.bin"
    dest.with_name("blob.bin.part").write_bytes(payload[:123_456])  # an interrupted download
    sha = hashlib.sha256(payload).hexdigest()
    dl.download(f"{url}/blob", dest, sha256=sha, progress=False)
    assert dest.read_bytes() == payload
    assert handler.ranges == ["bytes=123456-"]
    assert not dest.with_name("blob.bin.part").exists()
    with pytest.raises(dl.ChecksumMismatch):
        dl.download(f"{url}/blob", tmp_path / "other.bin", sha256="0" * 64, progress=False)


def test_drive_confirm_page_variants() -> None:
    base = "https://drive.google.com/uc?export=download&id=F"
    page = '<a href="/uc?export=download&amp;confirm=AbC_1&amp;id=F">Download anyway</a>'
    assert dl.drive_confirm_url(page, base, {}) == f"{base}&confirm=AbC_1"
    assert dl.drive_confirm_url("<html/>", base, {"download_warning_1": "tok"}) == (
        f"{base}&confirm=tok")
    assert dl.drive_confirm_url("<html>quota exceeded</html>", base, {}) is None
    form = ('<form action="https://u.example/download" id="download-form" method="get">'
            '<input type="submit" value="Download anyway"/>'
            '<input type="hidden" name="id" value="F"><input type="hidden" name="confirm" '
            'value="t"><input type="hidden" name="uuid" value="a&amp;b"></form>'
            '<input type="hidden" name="other" value="x">')
    assert dl.drive_confirm_url(form, base, {}) == (
        "https://u.example/download?id=F&confirm=t&uuid=a%26b")


def test_fetch_nyuv2_through_drive_confirm_page(
    server: tuple[str, type[_Handler]], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    url, handler = server
    raw = build_raw_nyuv2(tmp_path / "src", n_train=3, n_test=2, damage=False)
    handler.files["/download"] = _zip_dir(raw.root, "nyu_v2")
    monkeypatch.setenv(nyuv2.URL_ENV, f"{url}/uc?export=download&id=X")
    data = tmp_path / "data"
    assert main(["fetch", "nyuv2", "--data-root", str(data), "--no-progress"]) == 0
    record = json.loads((data / "nyuv2" / "raw.json").read_text())
    assert record["path"] == str((data / "nyuv2" / "raw").resolve())
    assert record["counts"] == {"train": 3, "test": 2}
    assert record["archive"]["sha256_recorded"] is None  # none published: never invented
    assert record["archive"]["sha256_observed"] == hashlib.sha256(
        handler.files["/download"]).hexdigest()
    assert (data / "nyuv2" / "raw" / "img").is_dir()


def test_fetch_raw_rejects_a_wrong_folder(tmp_path: Path,
                                          capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["fetch", "nyuv2", "--raw", str(tmp_path), "--data-root", str(tmp_path)]) == 3
    assert main(["fetch", "taskonomy", "--raw", str(tmp_path), "--data-root",
                 str(tmp_path)]) == 3
    err = capsys.readouterr().err
    assert "nyu_v2_3task.json is missing" in err and "not a Tiny-Taskonomy copy" in err


def _fake_omnitools(bin_dir: Path) -> None:
    """An `omnitools.download` stand-in that writes the fixture's Omnidata layout to --dest."""
    script = bin_dir / taskonomy.OMNITOOLS
    script.write_text(
        f"#!{sys.executable}\nimport sys\nsys.path.insert(0, {str(TESTS)!r})\n"
        "from pathlib import Path\nfrom fixtures.raw_taskonomy import build_raw_taskonomy\n"
        "assert '--subset' in sys.argv and '--agree_all' in sys.argv\n"
        "dest = Path(sys.argv[sys.argv.index('--dest') + 1])\n"
        "build_raw_taskonomy(dest, damage=False)\n"
    )
    script.chmod(script.stat().st_mode | stat.S_IEXEC)


@pytest.mark.parametrize("installed", [False, True])
def test_fetch_taskonomy_assets_and_omnitools(
    installed: bool, server: tuple[str, type[_Handler]], tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
) -> None:
    url, handler = server
    prior = io.BytesIO()
    import numpy as np

    np.save(prior, np.linspace(0.5, 9.0, 17))
    from fixtures.raw_taskonomy import split_csv_bytes

    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("__MACOSX/splits_taskonomy/._train_val_test_tiny.csv", b"junk")
        zf.writestr("splits_taskonomy/train_val_test_tiny.csv", split_csv_bytes())
    handler.files["/" + taskonomy.PRIOR_IN_REPO] = prior.getvalue()
    handler.files["/" + taskonomy.SPLITS_ZIP_IN_REPO] = buf.getvalue()
    monkeypatch.setenv(taskonomy.REPO_URL_ENV, url)
    monkeypatch.setattr(tr, "PRIOR_SHA256", hashlib.sha256(prior.getvalue()).hexdigest())
    monkeypatch.setattr(tr, "SPLITS_ZIP_SHA256", hashlib.sha256(buf.getvalue()).hexdigest())
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    if installed:
        _fake_omnitools(bin_dir)
    monkeypatch.setenv("PATH", str(bin_dir))
    data = tmp_path / "data"
    code = main(["fetch", "taskonomy", "--data-root", str(data), "--no-progress"])
    raw = data / "taskonomy" / "raw"
    assert (raw / tr.SPLIT_CSV).read_bytes() == split_csv_bytes()
    assert (raw / tr.PRIOR_FILE).exists()
    if not installed:
        assert code == 3
        assert "pip install omnidata-tools" in capsys.readouterr().err
        return
    assert code == 0
    record = json.loads((data / "taskonomy" / "raw.json").read_text())
    assert record["layout"] == "omnidata"
    assert "woodbine" in record["buildings_missing"]
    assert record["verified"]["split_csv_sha256_matches"] is True
