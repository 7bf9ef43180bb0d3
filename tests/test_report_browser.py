"""The generated site in a real browser: tables, figures, sorting, budgets, the bold rule,
escaping, offline.

Runs headless Debian Chromium (/usr/bin/chromium, installed by .ci/install-chromium) through
Playwright. Skipped locally without Chromium; a failure under CI (env CI set).
"""

from __future__ import annotations

import functools
import http.server
import json
import os
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import pytest
from fixtures.results import XSS_IMG, XSS_SCRIPT, built_fixture_site

from bench.report.labels import dom_id
from bench.report.speed_figure import ALT_PREFIX
from bench.report.stats import best_group

pytestmark = pytest.mark.browser

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
ARTIFACTS = Path(__file__).resolve().parents[1] / "test-artifacts"
LOCAL_HOSTS = {"127.0.0.1", "localhost"}


def _in_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() not in ("", "0", "false", "no")


def _require(condition: bool, what: str) -> None:
    if condition:
        return
    if _in_ci():
        pytest.fail(f"CI is set but {what}; .ci/install-chromium should provide it")
    pytest.skip(f"{what} (run .ci/install-chromium; with CI=true this is a failure)")


@pytest.fixture(scope="module")
def site() -> Iterator[dict[str, Any]]:
    site_dir, leaderboard = built_fixture_site()
    handler = functools.partial(_QuietHandler, directory=str(site_dir))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield {"url": f"http://127.0.0.1:{server.server_address[1]}/",
               "leaderboard": leaderboard, "dir": site_dir}
    finally:
        server.shutdown()
        server.server_close()


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    _require(CHROMIUM.exists(), f"{CHROMIUM} is missing")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        _require(False, "playwright (python) is not installed")
    with sync_playwright() as p:
        instance = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield instance
        instance.close()


class Watched:
    """A page with everything suspicious recorded: console errors, dialogs, foreign requests."""

    def __init__(self, browser: Any) -> None:
        self.page = browser.new_page(viewport={"width": 1500, "height": 1000})
        self.errors: list[str] = []
        self.dialogs: list[str] = []
        self.foreign: list[str] = []
        self.failed: list[str] = []
        self.page.on("console", lambda m: self.errors.append(m.text) if m.type == "error" else None)
        self.page.on("pageerror", lambda e: self.errors.append(str(e)))
        self.page.on("dialog", self._dialog)
        self.page.on("requestfailed", lambda r: self.failed.append(r.url))
        self.page.route("**/*", self._route)

    def _dialog(self, dialog: Any) -> None:
        self.dialogs.append(dialog.message)
        dialog.dismiss()

    def _route(self, route: Any) -> None:
        url = route.request.url
        if urlparse(url).hostname in LOCAL_HOSTS:
            route.continue_()
        else:
            self.foreign.append(url)
            route.abort()

    def open(self, url: str) -> Any:
        self.page.goto(url, wait_until="networkidle")
        return self.page

    def assert_clean(self) -> None:
        assert self.errors == [], f"console errors: {self.errors}"
        assert self.dialogs == [], f"dialogs fired: {self.dialogs}"
        assert self.foreign == [], f"requests left localhost: {self.foreign}"
        assert self.failed == [], f"failed requests: {self.failed}"

    def assert_images_load(self) -> list[list[Any]]:
        images = self.page.eval_on_selector_all(
            "img", "els => els.map(e => [e.getAttribute('src'), e.complete, e.naturalWidth, e.alt])")
        broken = [src for src, complete, width, _ in images if not complete or width == 0]
        assert broken == [], f"broken images: {broken}"
        assert all(alt.strip() for *_, alt in images), "every figure needs alt text"
        return images


def _column(page: Any, table: str, col: int) -> list[str]:
    return page.eval_on_selector_all(
        f"{table} tbody tr", f"rows => rows.map(r => r.cells[{col}].getAttribute('data-sort'))")


def test_index_tables_figures_and_invalid_runs(browser: Any, site: dict[str, Any]) -> None:
    watched = Watched(browser)
    page = watched.open(site["url"] + "index.html")
    tables = site["leaderboard"]["tables"]
    assert page.locator("table.leaderboard").count() == len(tables) == 2
    for table in tables:
        selector = "#table-" + dom_id(table["id"])
        rows = page.locator(f"{selector} tbody tr")
        assert rows.count() == len(table["entries"]) + 1  # + the dense reference
        assert page.locator(f"{selector} tr.reference").count() == 1
    images = watched.assert_images_load()
    srcs = [src for src, *_ in images]
    assert sum("delta-t-vs-sparsity" in s for s in srcs) == 1
    assert sum("sparsity-by-component" in s for s in srcs) == len(tables)
    assert sum("sparsity-dynamics" in s for s in srcs) == 1
    speed = page.locator("table.speed")  # theoretical MACs beside measured latency
    assert speed.count() == 1 and speed.locator("tbody tr").count() == 3
    assert "(0.80×)" in speed.inner_text() and "(1.33×)" in speed.inner_text()
    assert "(2.00×)" in speed.inner_text()  # a structured run's smaller network
    # The accuracy–speed figure (ΔT against measured latency and MACs) renders.
    figure = page.locator(f"img[alt^='{ALT_PREFIX}']")
    assert figure.count() == 1
    assert figure.evaluate("e => e.complete && e.naturalWidth > 0")
    invalid = page.locator("#invalid").inner_text()
    assert "imp/s0.90/seed0" in invalid and "non-finite loss at step 17" in invalid
    assert XSS_SCRIPT in page.locator("#methods").inner_text()
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "report.png"), full_page=True)
    watched.assert_clean()


def test_clicking_a_header_sorts_rows(browser: Any, site: dict[str, Any]) -> None:
    watched = Watched(browser)
    page = watched.open(site["url"] + "index.html")
    first = page.locator("table.leaderboard").first
    table_id = "#" + first.get_attribute("id")
    initial = _column(page, table_id, 0)
    delta_col = int(first.locator("thead th.delta_t").get_attribute("data-col"))
    assert delta_col == 1  # ΔT right after the method, before the per-metric columns
    page.click(f"{table_id} th[data-col='{delta_col}']")
    values = [float(v) for v in _column(page, table_id, delta_col)]
    assert values == sorted(values, reverse=True)
    page.click(f"{table_id} th[data-col='{delta_col}']")
    values = [float(v) for v in _column(page, table_id, delta_col)]
    assert values == sorted(values)
    page.click(f"{table_id} th[data-col='0']")
    names = _column(page, table_id, 0)
    assert names == sorted(names) and names != initial
    assert page.locator(f"{table_id} th[data-col='0']").get_attribute("aria-sort") == "ascending"
    watched.assert_clean()


def test_summary_shows_intervals_groups_and_the_noise_floor(browser: Any, site: dict[str, Any]) -> None:
    watched = Watched(browser)
    page = watched.open(site["url"] + "index.html")
    tables = site["leaderboard"]["tables"]
    summary = page.locator("#summary table.summary")
    assert summary.count() == 1 and summary.is_visible()
    box = summary.bounding_box()
    assert box is not None and box["y"] < page.locator("table.leaderboard").first.bounding_box()["y"]
    text = summary.inner_text()
    for table in tables:
        for entry in table["entries"]:
            low, high = entry["delta_t"]["ci95"]
            assert f"± {(high - low) / 2:.1f}" in text
            assert entry["rank_group"]["label"] in text
    flags = summary.locator(".flag")
    flagged = sum(e["not_distinguishable_from_dense"] for t in tables for e in t["entries"])
    assert flagged and flags.count() == flagged and flags.first.is_visible()
    assert flags.first.inner_text() == "not distinguishable from dense"
    floor = f"±{tables[0]['noise_floor']['half_width']:.1f}"
    assert f"dense 95% CI {floor}" in page.locator("#summary aside.noise-floor-box").inner_text()
    mdd = [f"{t['minimum_detectable_difference']['value']:.1f}" for t in tables]
    assert summary.locator("td.mdd").all_inner_texts() == mdd
    # The full table: ΔT ± CI in the second column, the flag beside it.
    first = page.locator("table.leaderboard").first
    headline = first.locator("tbody tr.ranked td.headline").first.inner_text()
    assert "±" in headline and "not distinguishable from dense" in headline
    watched.assert_clean()


def test_every_table_shows_its_budget(browser: Any, site: dict[str, Any]) -> None:
    watched = Watched(browser)
    page = watched.open(site["url"] + "index.html")
    tables = site["leaderboard"]["tables"]
    # The summary: one column per table, its header naming the budget its rows share.
    headers = page.locator("#summary table.summary th.target .budget").all_inner_texts()
    assert headers == [f"budget {t['budget_units']:.2f}×" for t in tables]
    for table in tables:
        selector = "#table-" + dom_id(table["id"])
        header = page.locator(f"{selector} thead th.budget")
        assert header.count() == 1 and header.is_visible() and "Budget" in header.inner_text()
        col = int(header.get_attribute("data-col"))
        cells = page.locator(f"{selector} tbody td.budget")
        assert cells.count() == len(table["entries"]) + 1  # the dense reference too
        assert set(cells.all_inner_texts()) == {"1.00×"}
        assert _column(page, selector, col) == ["1.0"] * (len(table["entries"]) + 1)
        note = page.locator(f"#{dom_id(table['id'])} .table-budget")
        assert note.inner_text() == f"{table['budget_units']:.2f}×"
    watched.assert_clean()


def test_bold_marks_only_rows_not_worse_than_the_leader(browser: Any, site: dict[str, Any]) -> None:
    watched = Watched(browser)
    page = watched.open(site["url"] + "index.html")
    tables = site["leaderboard"]["tables"]
    assert [sorted(best_group(t)) for t in tables] == [[], ["adapmtl", "xss"]]
    for table in tables:
        selector = "#table-" + dom_id(table["id"])
        bold = page.eval_on_selector_all(
            f"{selector} tbody td.best",
            "cells => cells.map(c => [c.parentElement.dataset.method, c.cellIndex, "
            "getComputedStyle(c).fontWeight])")
        # Only the ΔT cell (column 1) of the bolded rows, drawn bold; none where the bold would
        # cover the whole table (70 %), and never snip, significantly worse than the leader.
        assert sorted(m for m, _, _ in bold) == sorted(best_group(table))
        assert all(col == 1 and int(weight) >= 700 for _, col, weight in bold)
        others = page.eval_on_selector_all(
            f"{selector} tbody td.headline:not(.best)",
            "cells => cells.map(c => getComputedStyle(c).fontWeight)")
        assert all(int(w) < 700 for w in others)
    summary_bold = page.eval_on_selector_all(
        "#summary table.summary td.delta.best",
        "cells => cells.map(c => c.parentElement.dataset.method)")
    assert sorted(summary_bold) == ["adapmtl", "xss"]
    watched.assert_clean()


def test_method_column_stays_while_the_table_scrolls(browser: Any, site: dict[str, Any]) -> None:
    watched = Watched(browser)
    watched.page.set_viewport_size({"width": 900, "height": 900})
    page = watched.open(site["url"] + "index.html")
    wrap = page.locator(".table-wrap").first
    method = wrap.locator("tbody tr.ranked td.method").first
    before = method.bounding_box()
    metric = wrap.locator("tbody tr.ranked td").nth(8)
    metric_before = metric.bounding_box()
    wrap.evaluate("el => { el.scrollLeft = 400; }")
    assert wrap.evaluate("el => el.scrollLeft") > 0, "the table should overflow at 900 px"
    after, metric_after = method.bounding_box(), metric.bounding_box()
    assert before and after and metric_before and metric_after
    assert abs(after["x"] - before["x"]) < 1  # sticky
    assert metric_after["x"] < metric_before["x"] - 100  # the rest scrolled
    watched.assert_clean()


def test_method_pages_escape_and_load(browser: Any, site: dict[str, Any]) -> None:
    watched = Watched(browser)
    page = watched.open(site["url"] + "methods/xss.html")
    text = page.locator("main").inner_text()
    assert XSS_SCRIPT in text and XSS_IMG in text
    assert page.locator("main script").count() == 0
    assert page.locator("img[src='x']").count() == 0
    for slug in ("dense", "snip", "adapmtl", "xss", "imp"):
        page = watched.open(site["url"] + f"methods/{slug}.html")
        images = watched.assert_images_load()
        assert images or slug == "imp", f"{slug} page has no figures"
        if slug == "adapmtl":
            ARTIFACTS.mkdir(exist_ok=True)
            page.screenshot(path=str(ARTIFACTS / "report-method-adapmtl.png"), full_page=True)
    assert "non-finite loss" in page.locator("main").inner_text()
    assert watched.dialogs == []
    watched.assert_clean()


def test_site_is_self_contained(site: dict[str, Any]) -> None:
    for html in Path(site["dir"]).rglob("*.html"):
        text = html.read_text()
        assert "http://" not in text and "https://" not in text, html
    assert json.loads(json.dumps(site["leaderboard"]))  # plain JSON all the way down
