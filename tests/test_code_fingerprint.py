"""The code fingerprint (bench/record/code.py): which files count for a method's results.

The lists are pinned: a change in what counts (a new helper, a module moved into or out of the
training closure, a new result-neutral exclusion) must show up here as a deliberate edit.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from bench.record.code import (
    RESULT_NEUTRAL,
    canonical_json,
    changed_files,
    core_files,
    digest,
    fingerprint,
    method_files,
    result_neutral,
)

ROOT = Path(__file__).parents[1]
METHODS = sorted(p.stem for p in (ROOT / "methods").glob("[!_]*.py"))

# The training code every run executes (bench/train/* and what it imports, result-neutral
# modules left out: RESULT_NEUTRAL in bench/record/code.py says why each is).
CORE = [
    "bench/config.py",
    "bench/data/__init__.py",
    "bench/data/dataset.py",
    "bench/data/stream.py",
    "bench/data/transforms.py",
    "bench/losses.py",
    "bench/method.py",
    "bench/metrics/__init__.py",
    "bench/metrics/base.py",
    "bench/metrics/normal.py",
    "bench/metrics/regression.py",
    "bench/metrics/segmentation.py",
    "bench/models/__init__.py",
    "bench/models/heads.py",
    "bench/models/macs.py",
    "bench/models/mobilenetv2.py",
    "bench/models/multitask.py",
    "bench/models/resnet34.py",
    "bench/record/__init__.py",
    "bench/record/identity.py",
    "bench/record/result.py",
    "bench/record/spec.py",
    "bench/sparsity.py",
    "bench/structured.py",
    "bench/tasks.py",
    "bench/train/__init__.py",
    "bench/train/checkpoint.py",
    "bench/train/evaluation.py",
    "bench/train/finish.py",
    "bench/train/loop.py",
    "bench/train/setup.py",
    "bench/train/start.py",
    "bench/train/state.py",
    "bench/typed.py",
    "datasets/__init__.py",
    "datasets/prepared.py",
    "datasets/registry.py",
]
# A method's own files: its module, its helpers, and bench modules outside the core it uses.
METHOD_FILES = {
    "snip": ["bench/masks.py", "methods/__init__.py", "methods/_saliency.py", "methods/snip.py"],
    "adapmtl": [
        "methods/__init__.py",
        "methods/_adapmtl.py",
        "methods/_adapmtl_params.py",
        "methods/_adapmtl_parts.py",
        "methods/adapmtl.py",
    ],
    "dense": ["methods/__init__.py", "methods/dense.py"],
}
# Never part of any run's fingerprint: documentation, templates, tests, the CLI, the report.
NEVER = ("docs/", "reports/", "tests/", "bench/cli/", "bench/report/", "bench/aggregate/",
         "bench/grid/", "bench/perf/", "bench/registry.py")


def test_core_files_are_the_training_closure() -> None:
    assert core_files() == CORE


@pytest.mark.parametrize("slug", sorted(METHOD_FILES))
def test_method_files_are_its_module_and_helpers(slug: str) -> None:
    assert method_files(slug) == METHOD_FILES[slug]


def test_fingerprint_is_method_and_core_files_hashed() -> None:
    fp = fingerprint("snip")
    assert list(fp) == ["files"]
    assert list(fp["files"]) == sorted({*CORE, *METHOD_FILES["snip"]})
    assert all(len(h) == 16 and int(h, 16) >= 0 for h in fp["files"].values())
    assert fingerprint("snip") == fp and digest(fingerprint("snip")) == digest(fp)
    assert len(digest(fp)) == 16
    assert canonical_json(fp) == canonical_json(json.loads(canonical_json(fp)))


@pytest.mark.parametrize("slug", METHODS)
def test_no_fingerprint_holds_docs_templates_tests_or_the_cli(slug: str) -> None:
    files = fingerprint(slug)["files"]
    assert f"methods/{slug}.py" in files
    assert not [f for f in files if f.startswith(NEVER)]
    assert not [f for f in files if result_neutral(f)]
    others = [f for f in files if f.startswith("methods/") and not f.startswith("methods/_")
              and f not in (f"methods/{slug}.py", "methods/__init__.py")]
    # A method builds on another one only where it subclasses it (gmp on imp; synflow uses
    # imp's pruned_counts): then that method's code decides its results too.
    assert others == {"gmp": ["methods/imp.py"], "synflow": ["methods/imp.py"]}.get(slug, [])


def test_dense_depends_on_no_pruning_method() -> None:
    assert [f for f in fingerprint("dense")["files"] if f.startswith("methods/")] == [
        "methods/__init__.py", "methods/dense.py"]


def test_every_exclusion_names_a_reason() -> None:
    assert all(len(reason) > 20 for reason in RESULT_NEUTRAL.values())
    assert all((ROOT / p).exists() for p in RESULT_NEUTRAL), "an exclusion names no file"


def test_changed_files_lists_added_removed_and_changed_paths() -> None:
    old = {"files": {"a.py": "1", "b.py": "2", "c.py": "3"}}
    new = {"files": {"a.py": "1", "b.py": "9", "d.py": "4"}}
    assert changed_files(old, new) == ["b.py", "c.py", "d.py"]
    assert changed_files(old, old) == []


def _copy_code(dest: Path) -> Path:
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc")
    for package in ("bench", "methods", "datasets"):
        shutil.copytree(ROOT / package, dest / package, ignore=ignore)
    return dest


def test_an_edited_helper_changes_exactly_the_methods_that_import_it(tmp_path: Path) -> None:
    root = _copy_code(tmp_path / "repo")
    before = {slug: fingerprint(slug, root) for slug in METHODS}
    assert before == {slug: fingerprint(slug) for slug in METHODS}  # same bytes, same prints
    helper = root / "methods" / "_saliency.py"
    helper.write_text(helper.read_text() + "\n# an edit\n")
    after = {slug: fingerprint(slug, root) for slug in METHODS}
    changed = sorted(s for s in METHODS if after[s] != before[s])
    assert changed == sorted(s for s in METHODS if "methods/_saliency.py" in method_files(s))
    assert "snip" in changed and "adapmtl" not in changed and "dense" not in changed
    assert changed_files(before["snip"], after["snip"]) == ["methods/_saliency.py"]

    loop = root / "bench" / "train" / "loop.py"
    loop.write_text(loop.read_text() + "\n# an edit\n")
    edited = {slug: fingerprint(slug, root) for slug in METHODS}
    assert all(changed_files(after[s], edited[s]) == ["bench/train/loop.py"] for s in METHODS)

    for neutral in ("bench/cli/grid.py", "bench/report/render.py", "bench/provenance.py"):
        path = root / neutral
        path.write_text(path.read_text() + "\n# an edit\n")
    assert {slug: fingerprint(slug, root) for slug in METHODS} == edited


def test_a_plugin_method_is_fingerprinted_from_its_directory(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    plugins = tmp_path / "plugins"
    plugins.mkdir()
    source = (ROOT / "methods" / "snip.py").read_text().replace('"snip"', '"snip_copy"')
    (plugins / "snip_copy.py").write_text(source)
    monkeypatch.setenv("BENCH_METHODS_PATH", str(plugins))
    plugin = (plugins / "snip_copy.py").resolve().as_posix()
    assert method_files("snip_copy") == sorted(
        [plugin, *(f for f in METHOD_FILES["snip"] if f != "methods/snip.py")])
    before = fingerprint("snip_copy")
    (plugins / "snip_copy.py").write_text(source.replace("contextlib", "contextlib  # edited", 1))
    after = fingerprint("snip_copy")
    assert digest(after) != digest(before)
    assert changed_files(before, after) == [plugin]
    with pytest.raises(KeyError):
        fingerprint("no_such_method")


def test_the_cli_writes_one_stable_file_per_method(tmp_path: Path) -> None:
    from bench.cli import main

    params = tmp_path / "params.yaml"
    params.write_text("methods: [snip, adapmtl]\n")
    out = tmp_path / "code"
    (out).mkdir()
    (out / "removed_method.json").write_text("{}")
    assert main(["fingerprint", "--params", str(params), "--out", str(out)]) == 0
    assert sorted(p.name for p in out.iterdir()) == ["adapmtl.json", "dense.json", "snip.json"]
    first = {p.name: p.read_bytes() for p in out.iterdir()}
    assert json.loads(first["snip.json"]) == fingerprint("snip")
    assert first["dense.json"] == canonical_json(fingerprint("dense")).encode()
    assert main(["fingerprint", "--params", str(params), "--out", str(out)]) == 0
    assert {p.name: p.read_bytes() for p in out.iterdir()} == first


def test_fingerprint_and_meta_never_import_torch_a_plugin_or_the_registry() -> None:
    probe = """
import sys
sys.modules["torch"] = None  # any `import torch` now fails
import bench.record.code as code, bench.record.meta as meta
code.fingerprint("snip"); code.fingerprint("adapmtl"); meta.method_meta("channel_l1")
from bench.cli import main
assert main(["fingerprint", "lth"]) == 0
loaded = [m for m in sys.modules if m.startswith(("methods", "bench.registry", "bench.method"))]
assert not loaded, loaded
"""
    subprocess.run([sys.executable, "-c", probe], cwd=ROOT, check=True, timeout=120)


def test_memoized_reads_each_closure_once_and_hashes_every_time(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """`bench grid` plans every run inside `memoized()`: the import analysis runs once per
    closure, while file contents are still hashed on every call; outside the block an import
    added since is followed again."""
    import bench.record.code as code

    root = _copy_code(tmp_path / "repo")
    calls: list[Path] = []
    uncached = code._closure_uncached
    monkeypatch.setattr(code, "_closure_uncached",
                        lambda r, s, p: calls.append(r) or uncached(r, s, p))
    with code.memoized():
        first = fingerprint("snip", root)
        assert fingerprint("snip", root) == first and len(calls) == 2  # method + training code
        fingerprint("gmp", root)
        assert len(calls) == 3  # the training code's closure is shared
        snip = root / "methods" / "snip.py"
        snip.write_text(snip.read_text() + "\n# an edit\n")
        assert changed_files(first, fingerprint("snip", root)) == ["methods/snip.py"]
        assert len(calls) == 3
    snip.write_text(snip.read_text() + "\nimport methods._disparse  # noqa\n")
    assert "methods/_disparse.py" in fingerprint("snip", root)["files"]
    assert len(calls) == 6  # uncached, one fingerprint analyses the training code twice
