"""Render the static site: `index.html`, `methods/<slug>.html`, `figures/`, `static/`.

Jinja2 with autoescape on and StrictUndefined: every string from a result or methods.json is
escaped, and a template that names a missing value fails loudly instead of printing nothing.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import jinja2

from bench.errors import ConfigError
from bench.report.labels import safe_name
from bench.report.site import SiteBuilder, read_methods_json
from bench.report.speed import read_latency
from bench.report.speed_reference import read_reference

REPO_ROOT = Path(__file__).resolve().parents[2]
TEMPLATES = REPO_ROOT / "reports" / "templates"
STATIC = REPO_ROOT / "reports" / "static"
# 1: mean ± std only; 2 adds intervals, rank groups, start, budget, stale runs; 3 replaces the
# interval-overlap groups and the null band by pairwise tests, dense's own interval and the
# minimum detectable difference, and splits tables by budget.
SCHEMA_VERSIONS = (1, 2, 3)


def environment(templates: Path = TEMPLATES) -> jinja2.Environment:
    return jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(templates)),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )


def read_leaderboard(path: Path) -> dict[str, Any]:
    if not path.is_file():
        raise ConfigError(f"no leaderboard at {path}; run `bench aggregate` first")
    try:
        leaderboard: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ConfigError(f"{path} is not valid JSON: {exc}") from None
    if leaderboard.get("schema_version") not in SCHEMA_VERSIONS or "tables" not in leaderboard:
        raise ConfigError(f"{path}: unknown leaderboard format; re-run `bench aggregate`")
    return leaderboard


def _prepare(site: Path) -> None:
    for sub in ("figures", "methods", "static"):
        if (site / sub).is_dir():
            shutil.rmtree(site / sub)
    (site / "methods").mkdir(parents=True)
    shutil.copytree(STATIC, site / "static")


def build_report(
    leaderboard_path: str | Path,
    runs_root: str | Path,
    out_dir: str | Path,
    methods_json: str | Path | None = None,
    latency_json: str | Path | None = None,
    reference_json: str | Path | None = None,
) -> Path:
    """Write the site into `out_dir`; returns the path of its index.html.

    `methods_json` and `latency_json` default to `methods.json` and `latency.json` next to the
    leaderboard, `reference_json` (the paper-size latency of `bench latency-paper`) to
    `reference/latency_paper.json` there (optional files).
    """
    leaderboard_path = Path(leaderboard_path)
    leaderboard = read_leaderboard(leaderboard_path)
    info_path = Path(methods_json) if methods_json else leaderboard_path.parent / "methods.json"
    site = Path(out_dir)
    _prepare(site)
    latency_path = Path(latency_json) if latency_json else leaderboard_path.parent / "latency.json"
    reference_path = (Path(reference_json) if reference_json
                      else leaderboard_path.parent / "reference" / "latency_paper.json")
    builder = SiteBuilder(leaderboard, Path(runs_root), site, read_methods_json(info_path),
                          read_latency(latency_path), read_reference(reference_path))
    env = environment()
    common = {"generated_at": leaderboard["generated_at"], "counts": leaderboard["counts"],
              "provenance": leaderboard["provenance"], "rules": leaderboard["rules"]}
    index = site / "index.html"
    index.write_text(env.get_template("index.html.j2").render(
        root="", **common, **builder.index_context()), encoding="utf-8")
    method_page = env.get_template("method.html.j2")
    for method in builder.methods:
        page = site / "methods" / f"{safe_name(method)}.html"
        page.write_text(method_page.render(root="../", **common,
                                           **builder.method_context(method)), encoding="utf-8")
    return index
