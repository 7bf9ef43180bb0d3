"""`bench report`: pages, figures, escaping, missing logs, dvclive's real file layout."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import jinja2
import pytest
from fixtures.results import (
    XSS_IMG,
    XSS_SCRIPT,
    build_fixture_runs,
    built_fixture_site,
    latency_entry,
    write_run,
)

from bench.aggregate import aggregate
from bench.cli import main
from bench.errors import ConfigError
from bench.report import build_report
from bench.report.labels import safe_name
from bench.report.logs import read_group, read_metric
from bench.report.render import STATIC, TEMPLATES, environment


def _build(tmp_path: Path, **fixture: Any) -> tuple[Path, dict[str, Any]]:
    runs, reports = tmp_path / "runs", tmp_path / "reports"
    build_fixture_runs(runs, methods_json=reports / "methods.json", **fixture)
    lb = aggregate(runs, reports)
    build_report(reports / "leaderboard.json", runs, reports / "site")
    return reports / "site", lb


@pytest.fixture(scope="module")
def built() -> tuple[Path, dict[str, Any]]:
    return built_fixture_site()


def test_pages_tables_and_figures(built: tuple[Path, dict[str, Any]]) -> None:
    site, lb = built
    index = (site / "index.html").read_text()
    assert index.count('<table class="leaderboard sortable"') == len(lb["tables"]) == 2
    for slug in ("dense", "snip", "adapmtl", "xss", "imp"):
        assert (site / "methods" / f"{slug}.html").is_file()
        assert f'href="methods/{slug}.html"' in index
    figures = {p.name for p in (site / "figures").iterdir()}
    for kind in ("delta-t-vs-sparsity", "s0.70-sparsity-by-component",
                 "s0.90-sparsity-by-component", "adapmtl-sparsity-dynamics",
                 "adapmtl-training-curves", "snip-training-curves", "dense-training-curves"):
        stem = f"synthetic-resnet34-fixture-{kind}"
        assert {f"{stem}.png", f"{stem}.svg"} <= figures, kind
    for html in [site / "index.html", *(site / "methods").glob("*.html")]:
        for src in re.findall(r'<img src="([^"]+)" alt="([^"]*)"', html.read_text()):
            assert (html.parent / src[0]).is_file() and src[1], (html, src)
    assert "non-finite loss at step 17 in task normal" in index
    assert "0123456789abcdef0123456789abcdef01234567" in index  # provenance footer
    assert "<dt>CPU kernels</dt>" in index and "<code>AVX2</code>" in index
    assert (site / "static" / "report.js").is_file() and (site / "static" / "report.css").is_file()


def test_table_layout_follows_the_paper(built: tuple[Path, dict[str, Any]]) -> None:
    site, _ = built
    index = (site / "index.html").read_text()
    for header in ("Semantic Seg.", "Surface Normal", "Depth", "Sparsity <span class=\"unit\">%</span>", "mIoU", "δ&lt;1.25",
                   "Backbone", "Overall"):
        assert header in index, header
    assert "↑" in index and "↓" in index and "±" in index
    assert 'class="reference"' in index


def test_hostile_strings_are_escaped(built: tuple[Path, dict[str, Any]]) -> None:
    site, _ = built
    for html in site.rglob("*.html"):
        text = html.read_text()
        assert XSS_SCRIPT not in text and XSS_IMG not in text, html
        assert len(re.findall(r"<script\b", text)) == 1  # only the local report.js
    xss = (site / "methods" / "xss.html").read_text()
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in xss
    assert "&lt;img src=x onerror=alert(1)&gt;" in xss


def test_hostile_method_slug_gets_a_safe_file_name(tmp_path: Path) -> None:
    runs = tmp_path / "runs"
    build_fixture_runs(runs, methods=("snip",), sparsities=(0.9,), seeds=(0,), with_logs=False)
    evil = "../<b>evil</b>"
    source = write_run(runs, "snip", 0.9, 7) / "result.json"
    result = json.loads(source.read_text())
    source.unlink()
    (runs / "evil").mkdir()
    (runs / "evil" / "result.json").write_text(json.dumps({**result, "method": evil, "seed": 0}))
    aggregate(runs, tmp_path)
    build_report(tmp_path / "leaderboard.json", runs, tmp_path / "site")
    pages = sorted(p.name for p in (tmp_path / "site" / "methods").iterdir())
    assert f"{safe_name(evil)}.html" in pages and all("/" not in p and "<" not in p for p in pages)
    assert "&lt;b&gt;evil&lt;/b&gt;" in (tmp_path / "site" / "index.html").read_text()
    assert not (tmp_path / "evil.html").exists()


def test_missing_logs_skip_figures_with_a_note(tmp_path: Path) -> None:
    site, _ = _build(tmp_path, with_logs=False)
    index = (site / "index.html").read_text()
    assert "skipped: no dvclive sparsity logs" in index
    assert "skipped: no dvclive loss logs" in (site / "methods" / "snip.html").read_text()
    assert "delta-t-vs-sparsity.png" in index  # figures from the leaderboard still drawn


def test_offline_and_strict_templates() -> None:
    env = environment()
    assert env.undefined is jinja2.StrictUndefined
    assert env.autoescape is True
    for path in [*TEMPLATES.iterdir(), *STATIC.iterdir()]:
        text = path.read_text()
        assert not re.search(r"https?://|//cdn|@import|fonts\.googleapis", text), path


def test_methods_json_is_optional_and_checked(tmp_path: Path) -> None:
    runs = tmp_path / "runs"
    build_fixture_runs(runs, methods=("snip",), sparsities=(0.9,), seeds=(0,), with_logs=False)
    aggregate(runs, tmp_path)
    (tmp_path / "methods.json").write_text("{not json")
    build_report(tmp_path / "leaderboard.json", runs, tmp_path / "site")
    assert (tmp_path / "site" / "methods" / "snip.html").is_file()


def test_missing_leaderboard_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="bench aggregate"):
        build_report(tmp_path / "nope.json", tmp_path, tmp_path / "site")
    assert main(["report", "--leaderboard", str(tmp_path / "nope.json")]) == 2


def test_cli(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    runs = tmp_path / "runs"
    build_fixture_runs(runs, methods=("snip",), sparsities=(0.9,), seeds=(0,), with_logs=False)
    assert main(["aggregate", "--runs", str(runs), "--out", str(tmp_path)]) == 0
    assert main(["report", "--leaderboard", str(tmp_path / "leaderboard.json"), "--runs",
                 str(runs), "--out", str(tmp_path / "site")]) == 0
    assert "index.html" in capsys.readouterr().out


def test_reads_what_dvclive_writes(tmp_path: Path) -> None:
    """The files the report reads are the ones dvclive 3.x writes (and the fixture imitates)."""
    live_mod = pytest.importorskip("dvclive")
    with live_mod.Live(str(tmp_path / "dvclive"), save_dvc_exp=False, dvcyaml=None,
                       report=None) as live:
        for step in range(3):
            live.step = step * 10
            live.log_metric("sparsity/backbone", 0.1 * step, plot=True)
            live.log_metric("loss/normal", 1.0 / (step + 1), plot=True)
    tsv = tmp_path / "dvclive" / "plots" / "metrics" / "sparsity" / "backbone.tsv"
    assert tsv.read_text().splitlines()[0].split("\t")[-1] == "backbone"
    frame = read_metric(tmp_path, "sparsity/backbone")
    assert frame is not None and frame["step"].tolist() == [0, 10, 20]
    assert frame["value"].tolist() == pytest.approx([0.0, 0.1, 0.2])
    group = read_group(tmp_path, "loss", ["normal", "depth_zbuffer"])
    assert group is not None and set(group["name"]) == {"normal"}
    assert read_metric(tmp_path, "sparsity/nothing") is None
    (tsv.parent / "broken.tsv").write_text("garbage\n\x00\x01")
    assert read_metric(tmp_path, "sparsity/broken") is None
    assert json.loads(json.dumps(frame.to_dict()))  # plain values


def test_speed_section_shows_theoretical_and_measured_speed(tmp_path: Path) -> None:
    runs, reports = tmp_path / "runs", tmp_path / "reports"
    build_fixture_runs(runs, methods_json=reports / "methods.json")
    lb = aggregate(runs, reports)
    build_report(reports / "leaderboard.json", runs, reports / "site")
    assert "Not measured: run <code>bench latency --grid</code>" in (reports / "site" / "index.html").read_text()

    table = next(t for t in lb["tables"] if t["target_sparsity"] == 0.9)
    snip = next(e for e in table["entries"] if e["method"] == "snip")
    measured = {table["reference"]["runs"][0]["path"]: latency_entry("dense", 0.0, 5.0),
                snip["runs"][0]["path"]: latency_entry("snip", 0.9, 8.0)}
    (reports / "latency.json").write_text(json.dumps(
        {"schema": "bench-latency-grid/1", "repeats": 3, "runs": measured, "skipped": {}}))
    build_report(reports / "leaderboard.json", runs, reports / "site")
    index = (reports / "site" / "index.html").read_text()
    section = index[index.index("Does sparsity make it faster?"):index.index("<h3>Figures</h3>")]
    assert "2.0 → 0.2 M (10.00×)" in section  # theoretical: MACs of the non-zero weights
    assert "8.00 ms (0.50×)" in section and "4.00 ms" in section  # measured: a slow-down
    assert "&lt;b&gt;stated&lt;/b&gt;" in section  # escaped like everything from a file
    assert section.count("<tr><td>") == 2 and "test CPU" in section and "median of 3" in section


def test_unreadable_latency_file_is_ignored_not_fatal(tmp_path: Path) -> None:
    runs, reports = tmp_path / "runs", tmp_path / "reports"
    build_fixture_runs(runs, methods_json=reports / "methods.json")
    aggregate(runs, reports)
    (reports / "latency.json").write_text("{not json")
    build_report(reports / "leaderboard.json", runs, reports / "site")
    assert "Not measured" in (reports / "site" / "index.html").read_text()
