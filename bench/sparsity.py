"""Sparsity measured from the weights themselves, never taken from a config or a method."""

from __future__ import annotations

from dataclasses import dataclass

import torch

from bench.method import PrunableWeight


@dataclass(frozen=True)
class SparsityReport:
    overall: float
    by_component: dict[str, float]
    by_layer: dict[str, float]
    prunable_total: int
    prunable_nonzero: int

    def to_dict(self) -> dict[str, object]:
        return {"overall": self.overall, "by_component": dict(self.by_component)}


@torch.no_grad()
def measure(prunable: dict[str, list[PrunableWeight]]) -> SparsityReport:
    """Fraction of exactly-zero effective weights, overall, per component and per layer."""
    by_component: dict[str, float] = {}
    by_layer: dict[str, float] = {}
    zeros_all = total_all = 0
    for component, weights in prunable.items():
        zeros = total = 0
        for w in weights:
            tensor = w.weight
            z = int((tensor == 0).sum().item())
            n = tensor.numel()
            by_layer[w.name] = z / n
            zeros += z
            total += n
        by_component[component] = zeros / total if total else 0.0
        zeros_all += zeros
        total_all += total
    return SparsityReport(
        overall=zeros_all / total_all if total_all else 0.0,
        by_component=by_component,
        by_layer=by_layer,
        prunable_total=total_all,
        prunable_nonzero=total_all - zeros_all,
    )


def measure_state_dict(
    state: dict[str, torch.Tensor], components: dict[str, list[str]]
) -> SparsityReport:
    """The same measure on a saved `model.pt` state_dict; `components` maps component →
    prunable layer names (as in PrunableWeight.name)."""

    class _Holder:
        def __init__(self, weight: torch.Tensor) -> None:
            self.weight = weight

    prunable = {
        comp: [PrunableWeight(comp, name, _Holder(state[f"{name}.weight"])) for name in names]  # type: ignore[arg-type]
        for comp, names in components.items()
    }
    return measure(prunable)
