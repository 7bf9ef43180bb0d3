"""`bench report` as a reader uses it: the summary, intervals, rank groups, the bold rule, the
noise floor, budgets and the minimum detectable difference, the full table's headline and
legend, latency verdicts, stale runs and the paper tables."""

from __future__ import annotations

import copy
import json
import re
from pathlib import Path
from typing import Any

import pytest
from fixtures.results import build_fixture_runs, built_fixture_site

from bench.aggregate import aggregate
from bench.cli import main
from bench.report import build_report
from bench.report.figures import FigureWriter, delta_t_vs_sparsity, robust_limits
from bench.report.labels import _ALWAYS, legend_items
from bench.report.paper import render_paper
from bench.report.stats import best_group, signed
from bench.report.tables import table_view
from bench.tasks import METRICS


@pytest.fixture(scope="module")
def built() -> tuple[Path, dict[str, Any]]:
    return built_fixture_site()


# --- the statistics a reader relies on: intervals, groups, the noise floor, budgets --------

def _half(entry: dict[str, Any], key: str = "delta_t") -> str:
    low, high = entry[key]["ci95"]
    return f"± {(high - low) / 2:.1f}"


def test_summary_comes_first_with_intervals_groups_and_the_noise_floor(
        built: tuple[Path, dict[str, Any]]) -> None:
    site, lb = built
    index = (site / "index.html").read_text()
    summary = index[index.index('<section id="summary">'):index.index("</section>")]
    assert index.index('<section id="summary">') < index.index('<table class="leaderboard')
    for table in lb["tables"]:
        floor = table["noise_floor"]
        assert f"dense 95% CI ±{floor['half_width']:.1f}" in summary
        mdd = table["minimum_detectable_difference"]["value"]
        assert f'<td class="num mdd">{mdd:.1f}</td>' in summary
        for entry in table["entries"]:
            assert _half(entry) in summary and entry["rank_group"]["label"] in summary
            assert _half(entry, "delta_m") in summary  # Δm with the same ± treatment
            assert f'<span class="mean">{signed(entry["delta_m"]["mean"])}</span>' in summary
        assert _half(table["reference"], "delta_m") in summary  # the dense model's own Δm
    assert "Δm <span class=\"ref\">vs single-task</span>" in summary
    assert "ΔT <span class=\"ref\">vs dense multi-task</span>" in summary
    flagged = sum(e["not_distinguishable_from_dense"] for t in lb["tables"] for e in t["entries"])
    assert flagged and summary.count("not distinguishable from dense</span>") == flagged
    assert "the noise floor: dense's own interval" in summary
    assert "null band" not in index.lower()  # one noise floor, not two
    # Every column of the summary is one table: one target and one budget.
    assert summary.count('<span class="budget"') == len(lb["tables"])
    assert "70% target · <span" in summary and ">budget 1.00×</span>" in summary


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
    assert table.count('<td data-sort="1.0" class="budget">1.00×</td>') == 4  # every row
    # At 70 % no pair of the fixture's methods (2 seeds) differs after Holm: nothing bold.
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


def _with_significant(built: tuple[Path, dict[str, Any]],
                      pairs: set[tuple[int, int]]) -> dict[str, Any]:
    """The fixture's first table with only `pairs` (entry indices) significant."""
    table = copy.deepcopy(built[1]["tables"][0])
    names = [e["method"] for e in table["entries"]]
    for pair in table["pairwise"]["pairs"]:
        pair["significant"] = (names.index(pair["a"]), names.index(pair["b"])) in pairs
    return table


def _bold(table: dict[str, Any]) -> list[tuple[str, int]]:
    view = table_view(table, lambda m: m)
    return [(row["method"], i) for row in view["rows"] for i, c in enumerate(row["cells"])
            if c["best"]]


def test_bold_is_the_rows_not_worse_than_the_leader_when_that_excludes_one(
        built: tuple[Path, dict[str, Any]]) -> None:
    entries = built[1]["tables"][0]["entries"]
    # The third row is significantly worse than the leader: the first two are bold (ΔT only).
    assert _bold(_with_significant(built, {(0, 2)})) == [(entries[0]["method"], 1),
                                                         (entries[1]["method"], 1)]
    # The second is worse than the third only: the leader's set is the whole table, no bold —
    # even though the rank groups now differ.
    assert _bold(_with_significant(built, {(1, 2)})) == []
    # The fixture at 90 %: adapmtl > snip after Holm, xss not worse than adapmtl.
    at_90 = built[1]["tables"][1]
    assert best_group(at_90) == {"adapmtl", "xss"}
    assert [e["rank_group"]["label"] for e in at_90["entries"]] == ["1–2", "1–3", "2–3"]


def test_delta_t_figure_clips_an_outlier_instead_of_squashing(tmp_path: Path) -> None:
    low, high = robust_limits([1.0, 2.0, -1.0, 0.5, 3.0, -80.0], [-4.0, 6.0])
    assert -10 < low < -4 and 6 <= high < 10
    tables = [{"target_sparsity": 0.9, "noise_floor": {"low": -2.0, "high": 2.0, "mean": 0.0},
               "entries": [{"method": m, "delta_t": {"mean": v, "ci95": [v - 1, v + 1]}}
                           for m, v in [("a", 1.0), ("b", -1.0), ("c", 0.5), ("d", -80.0)]]}]
    ref = delta_t_vs_sparsity(FigureWriter(tmp_path, ["a", "b", "c", "d"]), "s", tables)
    assert ref.png and (tmp_path / ref.png).is_file()
    assert "the noise floor) ±2.0" in ref.alt and "1 point(s) beyond the plotted range" in ref.alt


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
        for key in ("noise_floor", "pairwise", "minimum_detectable_difference", "budget_units"):
            table.pop(key, None)
        for entry in table["entries"]:
            for key in ("rank_group", "not_distinguishable_from_dense", "vs_dense", "start"):
                entry.pop(key, None)
            entry["delta_t"].pop("ci95", None)
    (reports / "leaderboard.json").write_text(json.dumps(lb))
    build_report(reports / "leaderboard.json", runs, reports / "site")
    index = (reports / "site" / "index.html").read_text()
    assert "no noise floor" in index and "not distinguishable from dense</span>" not in index


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
    floor = f"{lb['tables'][0]['noise_floor']['half_width']:.1f}"
    mdd = f"{lb['tables'][0]['minimum_detectable_difference']['value']:.1f}"
    if fmt == "latex":
        assert "\\begin{tabular}" in printed and "\\toprule" in printed
        assert f"\\pm {half}$" in printed and "(1--3)" in printed and f"$\\pm {floor}$" in printed
        assert "70\\%, budget 1.00$\\times$" in printed and f"MDD (80\\% power) & & ${mdd}$" in printed
        assert "a\\_b|c\\&d" in printed and "$^{\\circ}$" in printed
        assert "$\\Delta_m$ vs single-task" in printed and "$\\Delta_T$ vs dense MTL" in printed
        assert f"{signed(entry['delta_m']['mean']).replace('−', '-')} \\pm" in printed
    else:
        assert f"± {half}" in printed and "(1–3)" in printed and f"| ±{floor} |" in printed
        assert "| 70% · budget 1.00× ΔT vs dense multi-task |" in printed
        assert f"| MDD (80% power) | | {mdd} | " in printed
        assert "Δm vs single-task" in printed and "ΔT vs dense multi-task" in printed
        assert f"| {signed(entry['delta_m']['mean'])} ± " in printed
        dense_dm = signed(lb["tables"][0]["reference"]["delta_m"]["mean"])
        assert f"| dense multi-task | | ref. | {dense_dm} ± " in printed
        assert "a_b\\|c&d" in printed and "not distinguishable from dense" in printed
    # The 90 % table bolds adapmtl and xss (not significantly worse than the leader), not snip.
    bold = r"\\textbf\{\$([-+0-9.]+)" if fmt == "latex" else r"\*\*([+−][0-9.]+) ± [0-9.]+\*\*"
    assert re.findall(bold, render_paper(lb, fmt)) == (["+2.1", "-4.3"] if fmt == "latex"
                                                        else ["+2.1", "−4.3"])
