"""`bench sparsity RUN_DIR`: re-measure a run's sparsity from its saved weights."""

from __future__ import annotations

import argparse
import json
from pathlib import Path


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "sparsity",
        help="measure sparsity from a run's model.pt (or checkpoint.pt)",
        description="Counts exactly-zero prunable weights (conv/linear) of the saved effective "
        "weights, overall and per component. Independent of what the run reported. For a "
        "structured run (result.json: structured) it counts the conv weights its removed "
        "channels took away from the dense architecture.",
    )
    p.add_argument("run_dir", type=Path)
    p.add_argument("--json", action="store_true", help="print JSON")
    p.add_argument("--by-layer", action="store_true", help="also list every layer")
    p.set_defaults(handler=run)


def components_of(state: dict) -> dict[str, list[str]]:  # type: ignore[type-arg]
    """Group prunable layers (conv / linear weights: 2-D or 4-D) by component from their names."""
    groups: dict[str, list[str]] = {}
    for key, value in state.items():
        if not key.endswith(".weight") or value.dim() not in (2, 4):
            continue
        parts = key.split(".")
        component = parts[1] if parts[0] == "heads" else parts[0]
        groups.setdefault(component, []).append(key[: -len(".weight")])
    return groups


def _structured_result(run_dir: Path) -> dict | None:  # type: ignore[type-arg]
    """result.json of a structured run (its model.pt is a smaller network), else None."""
    from bench.record.result import read_result

    result = read_result(run_dir)
    return result.data if result and result.data.get("structured") else None


def run(args: argparse.Namespace) -> int:
    from bench.errors import ConfigError
    from bench.sparsity import measure_state_dict

    path = args.run_dir / "model.pt"
    if not path.exists():
        path = args.run_dir / "checkpoint.pt"
    if not path.exists():
        raise ConfigError(f"{args.run_dir}: no model.pt or checkpoint.pt")
    from bench.io import torch_load

    state = torch_load(path, map_location="cpu", weights_only=False)
    if "model" in state and isinstance(state["model"], dict):
        state = state["model"]
    report = measure_state_dict(state, components_of(state))
    structured = _structured_result(args.run_dir)
    if structured is not None:  # channels removed: weights counted against the dense shapes
        from bench.structured import dense_model, measure_structured, rebuild_model

        model = rebuild_model(structured)
        model.load_state_dict(state)
        dense = {k: tuple(v.shape) for k, v in dense_model(structured, "meta").state_dict().items()}
        report = measure_structured(model.prunable_weights(), dense)  # type: ignore[operator]
    payload = {"file": str(path), **report.to_dict(),
               "prunable_total": report.prunable_total,
               "prunable_nonzero": report.prunable_nonzero}
    if args.by_layer:
        payload["by_layer"] = report.by_layer
    if args.json:
        print(json.dumps(payload, indent=2))
        return 0
    print(f"{path}: overall sparsity {report.overall:.4f} "
          f"({report.prunable_nonzero:,} of {report.prunable_total:,} prunable weights non-zero)")
    for component, value in report.by_component.items():
        print(f"  {component:<20} {value:.4f}")
    if args.by_layer:
        for name, value in report.by_layer.items():
            print(f"    {name:<50} {value:.4f}")
    return 0
