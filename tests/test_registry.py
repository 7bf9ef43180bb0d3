"""Method discovery: no list to edit, broken plugins reported by name without hiding others."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import pytest

from bench import registry
from bench.cli import main

EXPECTED = {
    "dense", "random", "snip", "imp", "lth", "disparse_static", "disparse_pt",
    "disparse_dynamic", "adapmtl", "adapmtl_shared_threshold", "adapmtl_equal_weights",
    "gmp", "rigl", "synflow", "grasp", "channel_l1", "channel_mtl",
}


@pytest.fixture()
def extra_methods(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):  # type: ignore[no-untyped-def]
    monkeypatch.setenv("BENCH_METHODS_PATH", str(tmp_path))
    yield tmp_path
    monkeypatch.delenv("BENCH_METHODS_PATH")
    registry.discover(refresh=True)


def plugin(slug: str, body: str = "") -> str:
    return textwrap.dedent(
        f"""
        from bench.method import PruningMethod

        class M(PruningMethod):
            slug = "{slug}"
            description = "test plugin"
        {body}
        """
    )


def test_all_spec_methods_are_registered() -> None:
    assert set(registry.discover(refresh=True)) >= EXPECTED
    assert registry.broken() == {}


def test_broken_plugins_are_reported_and_others_still_listed(
    extra_methods: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (extra_methods / "fine_one.py").write_text(plugin("fine_one"))
    (extra_methods / "import_error.py").write_text("import no_such_module_xyz\n")
    (extra_methods / "wrong_slug.py").write_text(plugin("other_slug"))
    (extra_methods / "dense.py").write_text(plugin("dense"))
    (extra_methods / "bad_params.py").write_text(
        plugin("bad_params", "    Params = int\n")
    )
    registry.discover(refresh=True)
    bad = registry.broken()
    assert "No module named 'no_such_module_xyz'" in bad["import_error"]
    assert "must equal the module name" in bad["wrong_slug"]
    assert "duplicate slug 'dense'" in bad["dense"]
    assert "Params" in bad["bad_params"]
    assert "fine_one" in registry.discover()
    assert main(["methods", "--json"]) == 1
    listing = json.loads(capsys.readouterr().out)
    assert "fine_one" in listing["methods"] and "import_error" in listing["broken"]
    with pytest.raises(KeyError, match="is broken"):
        registry.get_method_class("import_error")


@pytest.mark.parametrize("slug", sorted(registry.discover()))
def test_every_method_declares_a_valid_start(slug: str) -> None:
    from bench.method import START_POINTS

    cls = registry.discover()[slug]
    assert cls.start in START_POINTS
    assert not cls.needs_rewind or cls.start == "dense"
    # docs/protocol.md §5: these three start from the trained dense reference of the same seed,
    # and so do the structured (channel-pruning) methods.
    assert (cls.start == "dense") == (slug in {"imp", "lth", "disparse_pt", "channel_l1",
                                               "channel_mtl"})
    # Only the structured methods may change the architecture.
    assert cls.changes_architecture == slug.startswith("channel_")


def test_a_bad_start_makes_the_plugin_broken(
    extra_methods: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (extra_methods / "bad_start.py").write_text(plugin("bad_start", '    start = "pretrained"\n'))
    (extra_methods / "bad_rewind.py").write_text(plugin("bad_rewind", "    needs_rewind = True\n"))
    registry.discover(refresh=True)
    bad = registry.broken()
    assert "start 'pretrained' must be one of init, dense" in bad["bad_start"]
    assert "needs_rewind needs start = 'dense'" in bad["bad_rewind"]
    assert main(["methods", "--json"]) == 1
    listing = json.loads(capsys.readouterr().out)["methods"]
    assert listing["lth"]["start"] == "dense" and listing["lth"]["needs_rewind"] is True
    assert listing["random"]["start"] == "init" and listing["imp"]["needs_rewind"] is False


def test_methods_command_lists_every_slug(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["methods"]) == 0
    out = capsys.readouterr().out
    for slug in EXPECTED:
        assert slug in out
