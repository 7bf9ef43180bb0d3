"""The conformance suite a method passes before its numbers reach the leaderboard.

Runs the method through the real training loop on a tiny synthetic model and dataset, in
seconds, and checks: measured sparsity on target, the start point and budget recorded, pruned weights staying zero, no file writes
and no test-split reads from the method's hooks, determinism, resume equivalence, and an
unchanged architecture — or, for a structured method (`changes_architecture`), that the saved
model rebuilds from model.pt + result.json, evaluates, and removes the target ±0.5 pp. A method that starts from the trained dense model (`start = "dense"`)
gets a tiny dense parent trained first in the suite's scratch folder, where the runner looks for
it. `bench check-method SLUG` prints the report.
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
import yaml

from bench.config import Config, Profile, SyntheticData
from bench.conformance_guard import Violations, install, watch
from bench.errors import RunFailedError
from bench.masks import MaskedMethod
from bench.record.result import read_result
from bench.record.spec import RunSpec, dense_spec, run_dir
from bench.registry import get_method_class
from bench.typed import ConfigError, build

TOLERANCE = 0.005  # ±0.5 percentage points
TINY = Profile(
    width_mult=0.0625, iterations=16, batch_size=4,
    lr=1e-3, weight_decay=1e-4, lr_step=8, crop=None, eval_batch_size=16, log_every=4,
    checkpoint_every=8, device="cpu",
)
TINY_DATA = SyntheticData(height=32, width=32, num_train=24, num_val=8, num_test=8, seed=0)
_DATA_ROOT: Path | None = None


@dataclass
class Check:
    name: str
    passed: bool
    detail: str = ""


@dataclass
class Report:
    slug: str
    checks: list[Check] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        return all(c.passed for c in self.checks)

    def add(self, name: str, passed: bool, detail: str = "") -> None:
        self.checks.append(Check(name, passed, detail))

    def format(self) -> str:
        lines = [f"check-method {self.slug}: {'PASS' if self.passed else 'FAIL'}"]
        for c in self.checks:
            lines.append(f"  [{'ok' if c.passed else 'FAIL'}] {c.name}" + (f": {c.detail}" if c.detail else ""))
        return "\n".join(lines)


def _data_root() -> Path:
    global _DATA_ROOT
    if _DATA_ROOT is None:
        _DATA_ROOT = Path(tempfile.mkdtemp(prefix="bench-conformance-data-"))
    return _DATA_ROOT


def project_params(slug: str, params_file: Path = Path("params.yaml")) -> dict[str, Any]:
    if not params_file.exists():
        return {}
    raw = yaml.safe_load(params_file.read_text()) or {}
    return dict((raw.get("method_params") or {}).get(slug) or {})


def tiny_config(slug: str, method_params: dict[str, Any], work: Path) -> Config:
    return Config(
        dataset="synthetic", backbone="resnet34", profile="conformance", profiles={"conformance": TINY}, methods=(slug,),
        sparsities=(), seeds=(0,), method_params={slug: method_params}, synthetic=TINY_DATA,
        data_root=str(_data_root()), runs_root=str(work / "runs"),
    )


def _train(config: Config, spec: RunSpec, out: Path, record: Violations, **kw: Any) -> dict[str, Any] | None:
    from bench.train import TrainOptions, train_run

    options = TrainOptions(out_dir=out, progress=False, watch_method=lambda m: watch(m, record), **kw)
    return train_run(config, spec, options)


def _weights(out: Path) -> dict[str, torch.Tensor]:
    return torch.load(out / "model.pt", map_location="cpu", weights_only=True)  # type: ignore[no-any-return]


def _same(a: dict[str, torch.Tensor], b: dict[str, torch.Tensor]) -> bool:
    return a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


def run_checks(slug: str, targets: tuple[float, ...] = (0.5, 0.9), params: dict[str, Any] | None = None) -> Report:
    report = Report(slug)
    try:
        cls = get_method_class(slug)
        method_params = project_params(slug) if params is None else params
        build(cls.Params, method_params, f"method_params.{slug}")
    except (KeyError, ConfigError) as exc:
        report.add("loads", False, str(exc.args[0] if isinstance(exc, KeyError) else exc))
        return report
    report.add("loads", True, cls.description)
    if slug == "dense":
        targets = (0.0,)
    work = Path(tempfile.mkdtemp(prefix=f"bench-conformance-{slug}-"))
    config = tiny_config(slug, method_params, work)
    from bench.train.setup import prepared_root

    test_dir = prepared_root(config) / "test"
    install((str(test_dir),))
    record = Violations()
    if cls.start == "dense":  # the parent the runner loads, trained unwatched like the pipeline's
        try:
            _train(config, dense_spec(0), run_dir(config, dense_spec(0)), Violations())
        except Exception as exc:
            report.add("trains its dense parent", False, f"{type(exc).__name__}: {exc}")
            return report
    results: dict[float, dict[str, Any]] = {}
    for target in targets:
        out = work / f"s{target}"
        try:
            result = _train(config, RunSpec(slug, target, 0), out, record)
        except Exception as exc:  # a broken method is a failed check, not a crash
            report.add(f"runs at target {target:.2f}", False, f"{type(exc).__name__}: {exc}")
            return report
        assert result is not None
        results[target] = result
        measured = result["sparsity"]["overall"]
        ok = measured == 0 if slug == "dense" else abs(measured - target) <= TOLERANCE
        report.add(f"measured sparsity at target {target:.2f}", ok, f"measured {measured:.4f}")
    start, budget = results[targets[-1]]["start"], results[targets[-1]]["cost"]["budget_units"]
    # The dense parent's steps before the start are counted too: one budget under the equal
    # budget (the branch point and the rest), two under the papers' (a full training more).
    expected = 2.0 if cls.start == "dense" and config.budget.mode == "paper" else 1.0
    report.add("start point and budget recorded", start["point"] == cls.start and budget == expected,
               f"start {start['point']}, {budget} dense budgets")
    masked = isinstance(cls(cls.Params()), MaskedMethod)
    report.add("pruned weights stay zero", not record.revived,
               "; ".join(record.revived) or ("checked every step" if masked else "not a mask method"))
    report.add("no writes to disk", not record.writes, "; ".join(record.writes[:3]))
    report.add("no test-split access", not record.test_reads, "; ".join(record.test_reads[:3]))
    first = targets[-1]
    reference = _weights(work / f"s{first}")
    if cls.changes_architecture:
        _check_rebuild(report, work / f"s{first}", first)
    else:
        fresh_keys = {k: tuple(v.shape) for k, v in _fresh_state(config).items()}
        report.add("architecture unchanged",
                   {k: tuple(v.shape) for k, v in reference.items()} == fresh_keys)
    again = work / "again"
    _train(config, RunSpec(slug, first, 0), again, Violations())
    report.add("same seed, same result", _same(reference, _weights(again))
               and results[first]["metrics"] == _read_metrics(again))
    resumed = work / "resumed"
    try:
        _train(config, RunSpec(slug, first, 0), resumed, Violations(), stop_after=TINY.iterations // 2)
        _train(config, RunSpec(slug, first, 0), resumed, Violations(), resume=True)
        report.add("resume gives the same result", _same(reference, _weights(resumed)))
    except RunFailedError as exc:
        report.add("resume gives the same result", False, str(exc))
    return report


def _check_rebuild(report: Report, out: Path, target: float) -> None:
    """A structured method: model.pt reloads into the architecture result.json records,
    evaluates, and removes the target fraction of conv weights (±0.5 pp), re-measured."""
    from bench.structured import dense_model, measure_structured, rebuild_model

    name = "structured: rebuilds from result.json, evaluates, removes the target"
    try:
        result = _result(out)
        model = rebuild_model(result)
        model.load_state_dict(_weights(out))
        model.eval()
        with torch.no_grad():
            outputs = model(torch.zeros(1, 3, TINY_DATA.height, TINY_DATA.width))
        dense = {k: tuple(v.shape) for k, v in dense_model(result, "meta").state_dict().items()}
        measured = measure_structured(model.prunable_weights(), dense).overall  # type: ignore[operator]
    except Exception as exc:
        report.add(name, False, f"{type(exc).__name__}: {exc}")
        return
    finite = all(bool(torch.isfinite(o).all()) for o in outputs.values())
    ok = bool(result.get("structured")) and finite and abs(measured - target) <= TOLERANCE
    report.add(name, ok, f"re-measured {measured:.4f}")


def _result(out: Path) -> dict[str, Any]:
    read = read_result(out)
    if read is None:
        raise RuntimeError(f"{out} has no readable result.json")
    return read.data


def _read_metrics(out: Path) -> Any:
    return _result(out)["metrics"]


def _fresh_state(config: Config) -> dict[str, torch.Tensor]:
    from bench.data import PreparedDataset
    from bench.models import build_model
    from bench.train.setup import prepared_root

    train = PreparedDataset(prepared_root(config), "train")
    with torch.device("meta"):
        model = build_model(config.backbone, train.tasks, train.num_classes, TINY.width_mult)
    return model.state_dict()
