"""Where a run starts (bench/train/start.py): under the equal budget a from-dense method gets
exactly the dense run's branch point (branch.pt) and trains the rest of one budget; under the
papers' budget it gets the dense run's model.pt and trains a full budget more; the lottery ticket
gets the dense run's rewind checkpoint; the dense run saves its checkpoints once (kept across a
resume), and result.json records start and budget."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any

import pytest
import torch

from bench.config import Budget
from bench.conformance import TINY, tiny_config
from bench.errors import EXIT_CODES, RunFailedError
from bench.method import PruningMethod
from bench.record.spec import RunSpec, dense_spec, run_dir
from bench.registry import discover
from bench.train import TrainOptions, train_run
from bench.train.start import (
    BRANCH_FILE,
    REWIND_FILE,
    MissingParentError,
    StartPoint,
    fraction_step,
)
from bench.train.state import schedule_offset, step_schedule

FROM_DENSE = sorted(s for s, cls in discover().items() if cls.start == "dense")


@pytest.fixture(autouse=True)
def one_thread() -> Any:
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def train_dense(config: Any, **kw: Any) -> Path:
    out = run_dir(config, dense_spec(0))
    train_run(config, dense_spec(0), TrainOptions(progress=False, **kw))
    return out


def snapshot_at_prepare(seen: dict[str, Any]) -> Any:
    """watch_method hook: record the model (and the rewind state) as `prepare` receives them."""
    def watch(method: PruningMethod) -> None:
        original = method.prepare

        def prepare(ctx: Any) -> None:
            seen["model"] = {k: v.detach().clone() for k, v in ctx.model.state_dict().items()}
            seen["rewind_state"] = ctx.rewind_state
            original(ctx)
            seen["ticket"] = {k: v.detach().clone() for k, v in ctx.model.state_dict().items()}
            seen["masks"] = {n: m.clone() for n, m in getattr(method, "masks", {}).items()}

        method.prepare = prepare  # type: ignore[method-assign]
    return watch


def test_the_from_dense_methods() -> None:
    assert FROM_DENSE == ["channel_l1", "channel_mtl", "disparse_pt", "imp", "lth"]


@pytest.mark.parametrize("mode", ["equal", "paper"])
@pytest.mark.parametrize("slug", FROM_DENSE)
def test_from_dense_run_starts_from_the_dense_run_and_records_start_and_budget(
    slug: str, mode: str, tmp_path: Path
) -> None:
    config = dataclasses.replace(tiny_config(slug, {}, tmp_path), budget=Budget(mode))  # type: ignore[arg-type]
    parent = train_dense(config)
    branch = torch.load(parent / BRANCH_FILE, weights_only=True)
    assert branch["step"] == fraction_step(TINY.iterations, 0.5)
    dense = branch["model"] if mode == "equal" else torch.load(parent / "model.pt", weights_only=True)
    seen: dict[str, Any] = {}
    result = train_run(config, RunSpec(slug, 0.5, 0), TrainOptions(
        progress=False, watch_method=snapshot_at_prepare(seen)))
    assert result is not None
    assert seen["model"].keys() == dense.keys()
    assert all(torch.equal(seen["model"][k], dense[k]) for k in dense), "not the dense weights"
    on_disk = json.loads((run_dir(config, RunSpec(slug, 0.5, 0)) / "result.json").read_text())
    parent_result = json.loads((parent / "result.json").read_text())
    rewind = fraction_step(TINY.iterations, 0.05) if slug == "lth" else None
    before = branch["step"] if mode == "equal" else TINY.iterations
    assert on_disk["start"] == {
        "point": "dense", "at": "branch" if mode == "equal" else "final",
        "parent": "synthetic/resnet34/dense/s0.0/seed0",
        "parent_identity": parent_result["identity"], "parent_steps": before, "rewind_step": rewind,
    }
    # Its own steps and the dense parent's before its start: one budget, or two.
    assert on_disk["cost"]["budget_units"] == (1.0 if mode == "equal" else 2.0)
    assert on_disk["cost"]["iterations"] == TINY.iterations - (before if mode == "equal" else 0)
    if slug == "lth":  # the ticket at step 0: the magnitude mask on rewind.pt's values
        saved = torch.load(parent / REWIND_FILE, weights_only=True)
        assert saved["step"] == rewind == 1
        for k, v in seen["ticket"].items():
            name = k[: -len(".weight")]
            mask = seen["masks"].get(name) if k.endswith(".weight") else None
            if mask is None:
                assert torch.equal(v, saved["model"][k]), k
            else:
                assert torch.equal(v[mask], saved["model"][k][mask]) and torch.all(v[~mask] == 0)
    else:
        assert seen["rewind_state"] is None  # loaded only for a method that rewinds


def test_init_run_records_its_start_and_one_budget(tmp_path: Path) -> None:
    config = tiny_config("random", {}, tmp_path)
    result = train_run(config, RunSpec("random", 0.5, 0), TrainOptions(progress=False))
    assert result is not None
    assert result["start"] == {"point": "init"} and result["cost"]["budget_units"] == 1.0


def test_missing_or_unfinished_parent_is_one_clear_error(tmp_path: Path) -> None:
    config = tiny_config("lth", {}, tmp_path)
    parent = run_dir(config, dense_spec(0))
    assert EXIT_CODES[RunFailedError] == 1 and issubclass(MissingParentError, RunFailedError)
    with pytest.raises(MissingParentError, match=f"{parent}.*bench train --method dense --seed 0"):
        train_run(config, RunSpec("lth", 0.5, 0), TrainOptions(progress=False))
    assert not (run_dir(config, RunSpec("lth", 0.5, 0)) / "result.json").exists()
    train_dense(config)
    (parent / REWIND_FILE).unlink()
    with pytest.raises(MissingParentError, match="early checkpoint"):
        train_run(config, RunSpec("lth", 0.5, 0), TrainOptions(progress=False))
    (parent / BRANCH_FILE).rename(parent / "aside.pt")
    with pytest.raises(MissingParentError, match="branch point"):
        train_run(config, RunSpec("imp", 0.5, 0), TrainOptions(progress=False))
    (parent / "aside.pt").rename(parent / BRANCH_FILE)
    result = train_run(config, RunSpec("imp", 0.5, 0), TrainOptions(progress=False))
    assert result is not None and result["start"]["rewind_step"] is None  # imp needs no rewind


def test_rewind_checkpoint_is_saved_once_and_survives_resume(tmp_path: Path) -> None:
    straight = tiny_config("dense", {}, tmp_path / "a")
    saved = torch.load(train_dense(straight) / REWIND_FILE, weights_only=True)
    assert saved["step"] == fraction_step(TINY.iterations, 0.05) == 1
    resumed = tiny_config("dense", {}, tmp_path / "b")
    out = run_dir(resumed, dense_spec(0))
    train_run(resumed, dense_spec(0), TrainOptions(progress=False, stop_after=8))
    assert (out / "checkpoint.pt").exists()
    stamp = (out / REWIND_FILE).stat().st_mtime_ns
    train_run(resumed, dense_spec(0), TrainOptions(progress=False, resume=True))
    assert (out / REWIND_FILE).stat().st_mtime_ns == stamp  # past the step: kept, not rewritten
    again = torch.load(out / REWIND_FILE, weights_only=True)
    assert again["step"] == saved["step"] and again["identity"] == saved["identity"]
    assert all(torch.equal(again["model"][k], saved["model"][k]) for k in saved["model"])


def test_rewind_step() -> None:
    assert [fraction_step(t, 0.05) for t in (1, 8, 16, 150, 20000)] == [1, 1, 1, 8, 1000]


def test_a_branch_run_trains_the_rest_of_the_dense_schedule() -> None:
    """lr · gamma^⌊(offset + step) / lr_step⌋: from the branch point the rates of the dense
    run's later steps, from init the whole schedule."""
    recipe = dataclasses.replace(TINY, lr=1.0, lr_step=4, lr_gamma=0.5)
    rates = {}
    for offset in (0, 8):
        weight = torch.nn.Parameter(torch.zeros(1))
        optimizer = torch.optim.SGD([weight], lr=recipe.lr)
        schedule = step_schedule(optimizer, recipe, offset)
        seen = []
        for _ in range(8):
            seen.append(optimizer.param_groups[0]["lr"])
            optimizer.step()
            schedule.step()
        rates[offset] = seen
    assert rates[0] == [1.0] * 4 + [0.5] * 4
    assert rates[8] == [0.25] * 4 + [0.125] * 4
    assert schedule_offset(StartPoint("dense", "branch", parent_steps=8)) == 8
    assert schedule_offset(StartPoint("dense", "branch", rewind_step=1, parent_steps=8)) == 1
    assert schedule_offset(StartPoint("dense", "final", parent_steps=16)) == 0
    assert schedule_offset(StartPoint("init")) == 0
