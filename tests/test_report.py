"""`bench report`: pages, figures, escaping, missing logs, dvclive's real file layout."""

from __future__ import annotations

import copy
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
from bench.report.figures import FigureWriter, delta_t_vs_sparsity, robust_limits
from bench.report.labels import _ALWAYS, legend_items, safe_name
from bench.report.logs import read_group, read_metric
from bench.report.render import STATIC, TEMPLATES, environment
from bench.report.stats import signed
from bench.report.tables import table_view
from bench.tasks import METRICS


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


# --- the statistics a reader relies on: intervals, rank groups, the null band (issue 12) -----

def _half(entry: dict[str, Any], key: str = "delta_t") -> str:
    low, high = entry[key]["ci95"]
    return f"± {(high - low) / 2:.1f}"


def test_summary_comes_first_with_intervals_groups_and_the_null_band(
        built: tuple[Path, dict[str, Any]]) -> None:
    site, lb = built
    index = (site / "index.html").read_text()
    summary = index[index.index('<section id="summary">'):index.index("</section>")]
    assert index.index('<section id="summary">') < index.index('<table class="leaderboard')
    for table in lb["tables"]:
        band = table["null_band"]
        assert f"null band ±{band['half_width']:.1f}" in summary
        for entry in table["entries"]:
            assert _half(entry) in summary and entry["rank_group"]["label"] in summary
            assert _half(entry, "delta_m") in summary  # Δm with the same ± treatment
            assert f'<span class="mean">{signed(entry["delta_m"]["mean"])}</span>' in summary
        assert _half(table["reference"], "delta_m") in summary  # the dense model's own Δm
    assert "Δm <span class=\"ref\">vs single-task</span>" in summary
    assert "ΔT <span class=\"ref\">vs dense multi-task</span>" in summary
    flagged = sum(e["within_null_band"] for t in lb["tables"] for e in t["entries"])
    assert flagged and summary.count("not distinguishable from dense</span>") == flagged
    assert "dense seeds scored against each other" in summary


def test_full_table_puts_delta_t_first_with_units_and_a_legend(
        built: tuple[Path, dict[str, Any]]) -> None:
    site, lb = built
    index = (site / "index.html").read_text()
    table = index[index.index('<table class="leaderboard'):]
    table = table[:table.index("</table>")]
    heads = re.findall(r'<th[^>]*data-col="(\d)"[^>]*>([^<]+)', table)
    assert [label.strip() for _, label in heads[:4]] == ["Method", "ΔT", "Δm", "Group"]
    # Each score names its reference in its header.
    assert '<span class="ref">vs dense multi-task</span>' in table
    assert '<span class="ref">vs single-task</span>' in table
    assert 'class="sort method"' in table and "position: sticky" in (site / "static" / "report.css").read_text()
    assert 'mIoU <span class="unit">%</span>' in table and 'Mean <span class="unit">°</span>' in table
    assert 'Budget <span class="unit">× dense</span>' in table
    # Nothing separates the fixture's methods (2 seeds): no ΔT group to bold, no metric bold.
    assert 'class="best"' not in table and " best" not in table
    legend = index[index.index('<dl class="legend">'):]
    for term in ("mIoU", "Pix Acc", "Rel Err", "Group", "Start", "Budget", "ΔT_i", "Δm"):
        assert f"<dt>{term}</dt>" in legend, term


@pytest.mark.parametrize("metric", METRICS, ids=lambda m: f"{m.task}.{m.key}")
def test_every_metric_has_a_legend_entry(metric: Any) -> None:
    tables = [{"metrics": [{"task": metric.task, "key": metric.key, "in_delta_t": True}]}]
    terms = [term for term, _ in legend_items(tables)]
    assert len(terms) == len(_ALWAYS) + 1, terms  # the metric's abbreviation is explained
    if metric.key == "ce_err":
        assert "CE Err" in terms


def _separated_table(built: tuple[Path, dict[str, Any]]) -> dict[str, Any]:
    table = copy.deepcopy(built[1]["tables"][0])
    for i, entry in enumerate(table["entries"]):
        low = 1 if i < 2 else 3
        entry["rank_group"] = {"low": low, "high": 2 if i < 2 else 3, "label": "1–2" if i < 2 else "3"}
    return table


def test_only_the_leaders_group_is_bold(built: tuple[Path, dict[str, Any]]) -> None:
    view = table_view(_separated_table(built), lambda m: m)
    bold = [(row["method"], i) for row in view["rows"] for i, c in enumerate(row["cells"]) if c["best"]]
    entries = built[1]["tables"][0]["entries"]
    assert bold == [(entries[0]["method"], 1), (entries[1]["method"], 1)]


def test_delta_t_figure_clips_an_outlier_instead_of_squashing(tmp_path: Path) -> None:
    low, high = robust_limits([1.0, 2.0, -1.0, 0.5, 3.0, -80.0], [-4.0, 6.0])
    assert -10 < low < -4 and 6 <= high < 10
    tables = [{"target_sparsity": 0.9, "null_band": {"low": -2.0, "high": 2.0, "half_width": 2.0},
               "entries": [{"method": m, "delta_t": {"mean": v, "ci95": [v - 1, v + 1]}}
                           for m, v in [("a", 1.0), ("b", -1.0), ("c", 0.5), ("d", -80.0)]]}]
    ref = delta_t_vs_sparsity(FigureWriter(tmp_path, ["a", "b", "c", "d"]), "s", tables)
    assert ref.png and (tmp_path / ref.png).is_file()
    assert "null band ±2.0" in ref.alt and "1 point(s) beyond the plotted range" in ref.alt


def test_latency_within_noise_says_no_measurable_difference(
        built: tuple[Path, dict[str, Any]]) -> None:
    site, _ = built
    index = (site / "index.html").read_text()
    section = index[index.index("Does sparsity make it faster?"):index.index("<h3>Figures</h3>")]
    rows = section[section.index("<tbody>"):].split("<tr")[1:]
    dense = next(r for r in rows if ">dense</a>" in r)
    assert "no measurable difference" in dense and 'class="within-noise"' in dense
    assert "4.05 ms (0.99×)" in dense and "IQR 3.95–4.05" in dense
    assert all("no measurable difference" not in r for r in rows if r is not dense)
    from bench.perf.latency import spread_ms

    assert spread_ms([1.0, 2.0, 3.0, 4.0, 100.0]) == {"min_ms": 1.0, "q1_ms": 2.0, "q3_ms": 4.0,
                                                      "iqr_ms": 2.0}


def test_stale_runs_are_listed_with_their_reason(tmp_path: Path) -> None:
    runs, reports = tmp_path / "runs", tmp_path / "reports"
    build_fixture_runs(runs, methods=("snip",), sparsities=(0.9,), with_logs=False)
    lb = aggregate(runs, reports)
    lb["stale"] = [{"path": "synthetic/resnet34/snip/s0.90/seed5", "method": "snip",
                    "target_sparsity": 0.9, "seed": 5, "reason": "identity differs: <i>batches</i>"}]
    (reports / "leaderboard.json").write_text(json.dumps(lb))
    build_report(reports / "leaderboard.json", runs, reports / "site")
    index = (reports / "site" / "index.html").read_text()
    stale = index[index.index('<section id="stale">'):]
    assert "synthetic/resnet34/snip/s0.90/seed5" in stale and "identity differs: &lt;i&gt;" in stale
    assert "Stale runs (1)" in index
    assert "seed5" in (reports / "site" / "methods" / "snip.html").read_text()


def test_a_schema_1_leaderboard_still_renders(tmp_path: Path) -> None:
    runs, reports = tmp_path / "runs", tmp_path / "reports"
    build_fixture_runs(runs, methods=("snip",), sparsities=(0.9,), with_logs=False)
    lb = aggregate(runs, reports)
    lb["schema_version"] = 1
    for table in lb["tables"]:
        table.pop("null_band", None)
        for entry in table["entries"]:
            for key in ("rank_group", "within_null_band", "start"):
                entry.pop(key, None)
            entry["delta_t"].pop("ci95", None)
    (reports / "leaderboard.json").write_text(json.dumps(lb))
    build_report(reports / "leaderboard.json", runs, reports / "site")
    index = (reports / "site" / "index.html").read_text()
    assert "no null band" in index and "not distinguishable from dense</span>" not in index


@pytest.mark.parametrize("fmt", ["latex", "markdown"])
def test_paper_tables(fmt: str, built: tuple[Path, dict[str, Any]], tmp_path: Path,
                      capsys: pytest.CaptureFixture[str]) -> None:
    _, lb = built
    hostile = copy.deepcopy(lb)
    for table in hostile["tables"]:
        table["entries"][0]["method"] = "a_b|c&d"
    path = tmp_path / "leaderboard.json"
    path.write_text(json.dumps(hostile))
    assert main(["report", "--leaderboard", str(path), "--format", fmt]) == 0
    printed = capsys.readouterr().out
    assert main(["report", "--leaderboard", str(path), "--format", fmt,
                 "--out", str(tmp_path / "out" / f"summary.{fmt}")]) == 0
    assert (tmp_path / "out" / f"summary.{fmt}").read_text() == printed
    entry = lb["tables"][0]["entries"][1]
    low, high = entry["delta_t"]["ci95"]
    half = f"{(high - low) / 2:.1f}"
    band = f"{lb['tables'][0]['null_band']['half_width']:.1f}"
    if fmt == "latex":
        assert "\\begin{tabular}" in printed and "\\toprule" in printed
        assert f"\\pm {half}$" in printed and "(1--3)" in printed and f"$\\pm {band}$" in printed
        assert "a\\_b|c\\&d" in printed and "$^{\\circ}$" in printed
        assert "$\\Delta_m$ vs single-task" in printed and "$\\Delta_T$ vs dense MTL" in printed
        assert f"{signed(entry['delta_m']['mean']).replace('−', '-')} \\pm" in printed
    else:
        assert f"± {half}" in printed and "(1–3)" in printed and f"| ±{band} |" in printed
        assert "Δm vs single-task" in printed and "ΔT vs dense multi-task" in printed
        assert f"| {signed(entry['delta_m']['mean'])} ± " in printed
        dense_dm = signed(lb["tables"][0]["reference"]["delta_m"]["mean"])
        assert f"| dense multi-task | | ref. | {dense_dm} ± " in printed
        assert "a_b\\|c&d" in printed and "not distinguishable from dense" in printed
