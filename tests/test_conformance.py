"""Every registered method passes the conformance suite; the suite catches what it claims to."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from bench import registry
from bench.conformance import run_checks

ALL_METHODS = sorted(registry.discover())


@pytest.mark.parametrize("slug", ALL_METHODS)
def test_registered_method_conforms(slug: str) -> None:
    report = run_checks(slug, (0.5, 0.9))
    assert report.passed, report.format()


BAD_METHODS = {
    "writes_file": """
        class M(PruningMethod):
            slug = "writes_file"
            description = "writes a file"
            def prepare(self, ctx):
                with open(ctx_dir() / "leak.txt", "w") as f:
                    f.write("x")
    """,
    "reads_test": """
        class M(PruningMethod):
            slug = "reads_test"
            description = "peeks at the test split"
            def prepare(self, ctx):
                from bench.conformance import tiny_config
                from bench.data import PreparedDataset
                from bench.train.setup import prepared_root
                import tempfile, pathlib
                cfg = tiny_config("reads_test", {}, pathlib.Path(tempfile.gettempdir()))
                PreparedDataset(prepared_root(cfg), "test").arrays
    """,
    "revives": """
        from bench.masks import MaskedMethod, global_topk_masks
        class M(MaskedMethod):
            slug = "revives"
            description = "prunes mid-training, then forgets to re-apply the mask"
            def after_step(self, ctx):
                if ctx.step == 4:  # Adam's moments are non-zero by now
                    scores = {w.name: w.param.abs() for w in ctx.all_prunable()}
                    self.set_masks(ctx, global_topk_masks(scores, ctx.target_sparsity))
    """,
    "misses_target": """
        class M(PruningMethod):
            slug = "misses_target"
            description = "prunes nothing"
    """,
}
EXPECTED_FAILURE = {
    "writes_file": "no writes to disk",
    "reads_test": "no test-split access",
    "revives": "pruned weights stay zero",
    "misses_target": "measured sparsity at target 0.50",
}


@pytest.mark.parametrize("slug", sorted(BAD_METHODS))
def test_suite_catches_a_misbehaving_method(
    slug: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    header = "from bench.method import PruningMethod\nimport pathlib, tempfile\n"
    header += "def ctx_dir():\n    return pathlib.Path(tempfile.mkdtemp())\n"
    (tmp_path / f"{slug}.py").write_text(header + textwrap.dedent(BAD_METHODS[slug]))
    monkeypatch.setenv("BENCH_METHODS_PATH", str(tmp_path))
    registry.discover(refresh=True)
    try:
        report = run_checks(slug, (0.5,))
    finally:
        monkeypatch.delenv("BENCH_METHODS_PATH")
        registry.discover(refresh=True)
    failed = {c.name for c in report.checks if not c.passed}
    assert EXPECTED_FAILURE[slug] in failed, report.format()
