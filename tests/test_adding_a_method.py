"""The example in docs/adding-a-method.md is real: it loads, passes the conformance suite and
runs in the benchmark without any other edit."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from bench import registry
from bench.conformance import run_checks

DOC = Path(__file__).resolve().parents[1] / "docs" / "adding-a-method.md"


def example_source() -> tuple[str, str]:
    text = DOC.read_text()
    match = re.search(r"<!-- example: (\w+)\.py -->\n```python\n(.*?)```", text, re.S)
    assert match, "docs/adding-a-method.md lost its marked example"
    return match.group(1), match.group(2)


@pytest.fixture()
def example_method(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):  # type: ignore[no-untyped-def]
    slug, source = example_source()
    (tmp_path / f"{slug}.py").write_text(source)
    monkeypatch.setenv("BENCH_METHODS_PATH", str(tmp_path))
    registry.discover(refresh=True)
    yield slug
    monkeypatch.delenv("BENCH_METHODS_PATH")
    registry.discover(refresh=True)


def test_documented_example_passes_the_conformance_suite(example_method: str) -> None:
    assert example_method in registry.discover()
    report = run_checks(example_method, (0.5, 0.9), params={})
    assert report.passed, report.format()


def test_documented_params_snippet_matches_the_example() -> None:
    text = DOC.read_text()
    assert "method_params:\n  layerwise_magnitude:\n    prune_at: 0.25" in text
