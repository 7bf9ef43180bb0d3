"""Run identity: the hash of everything that decides a run's result, pinned against refactors."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest
import yaml

from bench.config import load_config
from bench.record import code
from bench.record.identity import (
    expected_identities,
    resolved_config,
    run_identity,
    setting_identity,
    stale_reason,
)
from bench.record.result import RunResult
from bench.record.spec import RunSpec, dataset_tasks, grid, run_dir, single_task_spec

PARAMS = {
    "dataset": "synthetic", "backbone": "resnet34", "profile": "tiny",
    "methods": ["random", "snip"], "sparsities": [0.9], "seeds": [0],
    "profiles": {"tiny": {"width_mult": 0.125, "iterations": 20, "batch_size": 4, "lr_step": 10,
                          "crop": None, "device": "cpu"}},
    "method_params": {"snip": {}},
    "synthetic": {"height": 32, "width": 32, "num_train": 8, "num_val": 4, "num_test": 4},
}


def _config(tmp_path: Path, **changes: object):  # type: ignore[no-untyped-def]
    params = json.loads(json.dumps(PARAMS))
    for dotted, value in changes.items():
        *parents, key = dotted.split("__")
        node = params
        for p in parents:
            node = node[p]
        node[key] = value
    path = tmp_path / "params.yaml"
    path.write_text(yaml.safe_dump(params))
    return dataclasses.replace(load_config(path), data_root=str(tmp_path / "data"))


def _id(config, method: str = "random", **kw: object) -> str:  # type: ignore[no-untyped-def]
    return run_identity(resolved_config(config, RunSpec(method, 0.9 if method != "dense" else 0.0, 0), **kw))


@pytest.fixture
def fixed_code(monkeypatch: pytest.MonkeyPatch) -> None:
    """One code fingerprint for every method: the pins below then hold across code edits
    (tests/test_code_fingerprint.py pins which files a fingerprint covers)."""
    monkeypatch.setattr(code, "fingerprint", lambda slug: {"files": {f"methods/{slug}.py": "0" * 16}})


def test_known_hashes_are_pinned(tmp_path: Path, fixed_code: None) -> None:
    """If this fails, a change altered every run's identity: every finished run turns stale.
    Only change the pins on purpose (and say so in the commit)."""
    config = _config(tmp_path)
    assert _id(config, "dense") == "af382ea3af243534"
    assert _id(config, "random") == "45979e91aa123c26"
    assert run_identity(resolved_config(config, single_task_spec("normal", 0))) == "9796ad7ceaf1fca0"


def test_the_code_is_part_of_it(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    config = _config(tmp_path)
    before = resolved_config(config, RunSpec("snip", 0.9, 0))
    assert "methods/snip.py" in before["code"]["files"]
    assert "bench/train/loop.py" in before["code"]["files"]
    edited = {"files": {**before["code"]["files"], "methods/snip.py": "f" * 16}}
    monkeypatch.setattr(code, "fingerprint", lambda slug: edited)
    after = resolved_config(config, RunSpec("snip", 0.9, 0))
    assert run_identity(after) != run_identity(before)
    assert setting_identity(after) == setting_identity(before)  # same table
    assert stale_reason(RunResult({"provenance": {"config": before}}), after) == \
        "code changed: methods/snip.py"


def test_the_budget_is_part_of_a_from_dense_identity_only(tmp_path: Path) -> None:
    base = _config(tmp_path)
    paper = _config(tmp_path, budget={"mode": "paper", "branch_fraction": 0.5})
    later = _config(tmp_path, budget={"mode": "equal", "branch_fraction": 0.75})
    assert _id(paper, "imp") != _id(base, "imp")
    assert resolved_config(base, RunSpec("imp", 0.9, 0))["start"]["at"] == "branch"
    assert resolved_config(paper, RunSpec("imp", 0.9, 0))["start"]["at"] == "final"
    assert _id(paper, "random") == _id(base, "random")
    # The dense run saves its branch point, so where it falls is part of the dense identity
    # (and through the parent's identity, of every from-dense run's).
    assert _id(later, "dense") != _id(base, "dense") and _id(later, "imp") != _id(base, "imp")
    assert _id(later, "random") == _id(base, "random")


def test_a_single_task_reference_is_its_own_run(tmp_path: Path) -> None:
    """The task enters the identity and the path; the multi-task dense run's inputs have no
    `task` key at all (so its identity did not change when single-task runs were added)."""
    config = _config(tmp_path)
    dense = resolved_config(config, RunSpec("dense", 0.0, 0))
    normal = resolved_config(config, single_task_spec("normal", 0))
    assert "task" not in dense and normal["task"] == "normal"
    # The same inputs but its task, and no branch point (it saves none).
    assert {k: v for k, v in normal.items() if k != "task"} == \
        {k: v for k, v in dense.items() if k != "branch_fraction"}
    ids = {run_identity(resolved_config(config, single_task_spec(t, 0))) for t in dataset_tasks(config)}
    assert len(ids) == len(dataset_tasks(config)) and run_identity(dense) not in ids
    assert setting_identity(normal) == setting_identity(dense)  # one table, one setting
    assert run_dir(config, single_task_spec("normal", 1)).as_posix().endswith(
        "synthetic/resnet34/single_task/normal/seed1")
    with pytest.raises(ValueError, match="dense run"):
        RunSpec("snip", 0.9, 0, "normal")


def test_the_grid_holds_the_single_task_references_when_asked(tmp_path: Path) -> None:
    config = _config(tmp_path)
    tasks = {s.task for s in grid(config) if s.task is not None}
    assert tasks == set(dataset_tasks(config))
    expected = expected_identities(config)
    assert "synthetic/resnet34/single_task/depth_zbuffer/seed0" in expected
    off = _config(tmp_path, single_task_references=False)
    assert all(s.task is None for s in grid(off))
    assert [p for p in expected_identities(off) if "single_task" in p] == []


def test_what_changes_the_identity(tmp_path: Path) -> None:
    base = _config(tmp_path)
    assert _id(_config(tmp_path, profiles__tiny__iterations=40)) != _id(base)
    assert _id(base, iterations=10) != _id(base)  # an override of the steps actually trained
    assert _id(_config(tmp_path, synthetic__num_train=16)) != _id(base)
    assert _id(_config(tmp_path, backbone="mobilenetv2")) != _id(base)
    assert _id(base, start={"point": "dense", "parent_identity": "x"}) != _id(base)
    # Execution-only settings do not: the same computation, another schedule of it.
    assert _id(_config(tmp_path, profiles__tiny__log_every=1)) == _id(base)
    assert _id(_config(tmp_path, profiles__tiny__checkpoint_every=3)) == _id(base)


def test_parameters_are_hashed_as_params_yaml_writes_them(tmp_path: Path) -> None:
    """The identity is computed without importing the method (the aggregate step needs no
    torch), so it hashes the parameters as written: the defaults in the method's code are in
    its code fingerprint. Writing a default out is a new identity (one retrain, same result)."""
    from bench.registry import get_method_class

    default = dataclasses.asdict(get_method_class("snip").Params())
    key, value = next((k, v) for k, v in default.items() if isinstance(v, int))
    omitted = _id(_config(tmp_path), "snip")
    assert _id(_config(tmp_path, method_params__snip={key: value + 1}), "snip") != omitted
    assert resolved_config(_config(tmp_path, method_params__snip={key: value}),
                           RunSpec("snip", 0.9, 0))["method_params"] == {key: value}


def test_the_data_manifest_is_part_of_it(tmp_path: Path) -> None:
    config = _config(tmp_path)
    before = resolved_config(config, RunSpec("random", 0.9, 0))
    manifest = tmp_path / "data" / "synthetic" / "prepared" / "manifest.json"
    manifest.parent.mkdir(parents=True)
    manifest.write_text(json.dumps({"splits": {"train": {"sha256": "a"}}}))
    after = resolved_config(config, RunSpec("random", 0.9, 0))
    assert before["data"] is None and after["data"]
    assert run_identity(after) != run_identity(before)
    assert setting_identity(after) != setting_identity(before)
    # Every method of a setting shares its setting identity.
    assert setting_identity(after) == setting_identity(resolved_config(config, RunSpec("snip", 0.9, 0)))


@pytest.mark.parametrize("method", ["dense", "random"])
def test_the_identity_inputs_are_plain_json(tmp_path: Path, method: str) -> None:
    resolved = resolved_config(_config(tmp_path), RunSpec(method, 0.0 if method == "dense" else 0.9, 0))
    assert json.loads(json.dumps(resolved)) == resolved


def test_structured_methods_run_at_their_own_targets(tmp_path: Path) -> None:
    config = _config(tmp_path, methods=["random", "channel_l1"], sparsities=[0.9],
                     structured_sparsities=[0.7])
    targets = {(s.method, s.target_sparsity) for s in grid(config) if s.method != "dense"}
    assert targets == {("random", 0.9), ("channel_l1", 0.7)}
    assert "synthetic/resnet34/channel_l1/s0.7/seed0" in expected_identities(config)
    assert "synthetic/resnet34/random/s0.7/seed0" not in expected_identities(config)
    # Without structured targets, the grid is the plain method × sparsity × seed product.
    plain = _config(tmp_path, methods=["random", "channel_l1"], sparsities=[0.9])
    assert {s.target_sparsity for s in grid(plain) if s.method != "dense"} == {0.9}


def test_dense_seeds_widen_the_reference_only(tmp_path: Path) -> None:
    config = _config(tmp_path, seeds=[0, 1], dense_seeds=[0, 1, 2, 3])
    dense = sorted(s.seed for s in grid(config) if s.method == "dense" and s.task is None)
    assert dense == [0, 1, 2, 3]
    assert sorted(s.seed for s in grid(config) if s.method == "random") == [0, 1]
    assert sorted(s.seed for s in grid(config) if s.task == "normal") == [0, 1]
    with pytest.raises(Exception, match="dense_seeds: must include every seed"):
        _config(tmp_path, seeds=[0, 5], dense_seeds=[0, 1, 2])
