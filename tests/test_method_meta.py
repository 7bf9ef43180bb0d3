"""Method facts read from the source (bench/record/meta.py) equal the imported classes'."""

from __future__ import annotations

import inspect
import textwrap
from pathlib import Path

import pytest

from bench.record.meta import MetaError, method_meta
from bench.registry import discover

ROOT = Path(__file__).parents[1]


@pytest.mark.parametrize("slug", sorted(discover()))
def test_method_meta_equals_the_class_attributes(slug: str) -> None:
    cls = discover()[slug]
    meta = method_meta(slug)
    assert (meta.start, meta.needs_rewind, meta.changes_architecture) == (
        cls.start, cls.needs_rewind, cls.changes_architecture)
    assert meta.path == Path(inspect.getfile(cls)).resolve().relative_to(ROOT).as_posix()


def test_inherited_and_overridden_facts_resolve_through_the_bases() -> None:
    assert method_meta("channel_l1").start == "dense"  # from methods/_structured.py
    assert method_meta("channel_l1").changes_architecture
    assert method_meta("imp").start == "dense" and method_meta("gmp").start == "init"
    assert method_meta("lth").needs_rewind
    assert method_meta("snip").start == "init"  # PruningMethod's default (bench/method.py)


def test_a_plugin_is_read_from_its_directory(tmp_path: Path, monkeypatch: pytest.MonkeyPatch
                                             ) -> None:
    monkeypatch.setenv("BENCH_METHODS_PATH", str(tmp_path))
    (tmp_path / "my_channels.py").write_text(textwrap.dedent("""
        import methods._structured as structured

        REWIND = False

        class Helper:
            pass

        class Mine(Helper, structured.ChannelPruning):
            slug = "my_channels"
            description = "a test plugin"
            needs_rewind = REWIND
        """))
    meta = method_meta("my_channels")
    assert (meta.start, meta.needs_rewind, meta.changes_architecture) == ("dense", False, True)
    assert meta.path == (tmp_path / "my_channels.py").resolve().as_posix()

    (tmp_path / "computed.py").write_text(textwrap.dedent("""
        from bench.method import PruningMethod

        class Computed(PruningMethod):
            slug = "computed"
            start = "de" + "nse"
        """))
    with pytest.raises(MetaError, match="not a literal"):
        method_meta("computed")
    with pytest.raises(KeyError):
        method_meta("absent")
