"""After the last step: finalize the method, check it, measure, evaluate and save."""

from __future__ import annotations

import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch

from bench.io import torch_save_atomic
from bench.provenance import now_iso
from bench.record.result import MODEL_FILE
from bench.record.spec import RunSpec
from bench.train.evaluation import evaluate_split
from bench.train.start import budget_units

if TYPE_CHECKING:
    from bench.train.state import RunState


def model_costs(state: RunState, by_layer_density: dict[str, float],
                pruned: torch.nn.Module | None = None) -> dict[str, int]:
    """Dense MACs and the theoretical sparse ones: each layer's MACs × its density, or for a
    structured run (`pruned`: its smaller network) that network's own MACs."""
    from bench.models import build_model
    from bench.models.macs import layer_macs, sparse_macs

    train = state.datasets["train"]
    with torch.device("meta"):
        skeleton = build_model(
            state.config.backbone, state.tasks or train.tasks, train.num_classes,
            state.recipe.width_mult
        )
    size = tuple(state.datasets["test"].image_size)
    macs = layer_macs(skeleton, size)  # type: ignore[arg-type]
    sparse = (sum(layer_macs(pruned, size).values()) if pruned is not None  # type: ignore[arg-type]
              else sparse_macs(macs, by_layer_density))
    return {"macs_dense": int(sum(macs.values())), "macs_sparse_theoretical": int(sparse)}


def finish_run(
    state: RunState, spec: RunSpec, out: Path, started: str, train_seconds: float
) -> dict[str, Any]:
    ctx = state.ctx
    state.method.finalize(ctx)
    result = state.result_header(spec, started)
    architecture = {k: tuple(v.shape) for k, v in state.model.state_dict().items()}
    structured = state.method.changes_architecture
    if structured and set(architecture) != set(state.architecture):
        result.update(status="failed", reason=f"method {spec.method} added or removed layers",
                      sparsity=None, metrics=None, val_metrics=None, cost=None)
        return result
    if not structured and architecture != state.architecture:
        changed = sorted(set(architecture) ^ set(state.architecture))[:3] or [
            k for k in architecture if architecture[k] != state.architecture.get(k)
        ][:3]
        result.update(
            status="failed",
            reason=f"method {spec.method} left a changed architecture (e.g. {changed})",
            sparsity=None, metrics=None, val_metrics=None, cost=None,
        )
        return result
    report = state.measure_sparsity()
    t_eval = time.perf_counter()
    evaluate = {
        split: evaluate_split(
            state.forward, state.model, state.datasets[split], state.recipe.eval_batch_size,
            state.device, state.autocast(), state.recipe.channels_last, state.tasks or None,
        )
        for split in ("val", "test")
    }
    eval_seconds = time.perf_counter() - t_eval
    state_dict = {k: v.detach().cpu() for k, v in state.model.state_dict().items()}
    torch_save_atomic(state_dict, out / MODEL_FILE)
    params_total = sum(v.numel() for v in state_dict.values() if v.is_floating_point())
    params_nonzero = sum(int((v != 0).sum()) for v in state_dict.values() if v.is_floating_point())
    density = {name: 1.0 - s for name, s in report.by_layer.items()}
    if structured:  # the pruned shapes, so that model.pt can be rebuilt (bench/structured.py)
        from bench.structured import changed_shapes

        result["structured"] = True
        result["architecture"] = {"shapes": changed_shapes(state_dict, state.architecture)}
    result.update(
        status="ok",
        reason=None,
        sparsity=report.to_dict(),
        metrics=evaluate["test"],
        val_metrics=evaluate["val"],
        cost={
            "train_seconds": round(train_seconds, 3),
            "eval_seconds": round(eval_seconds, 3),
            "iterations": ctx.step,
            # Steps trained, the dense parent's included, over the profile's dense budget.
            "budget_units": budget_units(state),
            **ctx.cost.to_dict(),
            "params_total": params_total,
            "params_nonzero": params_nonzero,
            "prunable_total": report.prunable_total,
            "prunable_nonzero": report.prunable_nonzero,
            **model_costs(state, density, state.model if structured else None),
        },
    )
    result["provenance"]["finished_at"] = now_iso()
    return result
