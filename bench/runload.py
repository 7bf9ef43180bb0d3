"""Reload a finished run's network from its folder and evaluate it, e.g. after `dvc pull`.

A run folder holds everything needed (docs/checkpoints.md): `result.json` names the dataset,
backbone and width the network was built with, and for a channel-pruned (structured) run the
shapes of every layer it shrank; `model.pt` holds the final effective weights — a masked
(unstructured) run's zeros are in the weights themselves, so no mask file is needed. Nothing
here is imported by training, so it is no part of any run's code fingerprint.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
from torch import nn

from bench.errors import ConfigError
from bench.record.result import MODEL_FILE, RESULT_FILE, read_result

# Metrics are sums over the split; the batch size only decides how many images a pass holds.
DEFAULT_EVAL_BATCH = 64


def load_model(run_dir: str | Path, device: str | torch.device = "cpu") -> tuple[nn.Module,
                                                                               dict[str, Any]]:
    """The run's network with its final weights (eval mode) and its result.json as a dict.

    Dense and masked runs load into the architecture of their configuration; a structured run
    into that architecture shrunk to its recorded shapes (`bench.structured.rebuild_model`); a
    single-task reference has its one head. Exit 2 (`ConfigError`) when the folder is not a
    finished run; a garbled `model.pt` is a `CorruptFileError` naming it.
    """
    from bench.io import torch_load
    from bench.structured import apply_shapes, rebuild_model

    run_dir = Path(run_dir)
    read = read_result(run_dir)
    model_path = run_dir / MODEL_FILE
    why = (f"no {RESULT_FILE}" if read is None else f"run status {read.status}" if not read.ok
           else None if model_path.exists() else f"no {MODEL_FILE}")
    if why is not None or read is None:
        raise ConfigError(f"{run_dir}: not a finished run directory ({why})")
    result = read.data
    if result.get("task") is None:
        model = rebuild_model(result)
    else:  # a single-task reference: the same backbone with only its task's head
        from bench.models import build_model
        from datasets.registry import dataset_spec

        spec = dataset_spec(result["dataset"])
        width = result["provenance"]["config"]["profile"]["width_mult"]
        model = build_model(result["backbone"], (result["task"],), spec.num_classes, width)
        if result.get("structured"):
            apply_shapes(model, (result.get("architecture") or {}).get("shapes") or {})
    model.load_state_dict(torch_load(model_path, map_location="cpu", weights_only=True))
    return model.to(device).eval(), result


def evaluate_run(run_dir: str | Path, split: str = "test", data_root: str | Path = "data",
                 device: str | torch.device = "cpu",
                 batch_size: int = DEFAULT_EVAL_BATCH) -> dict[str, dict[str, float]]:
    """The run's metrics on `split` of its prepared dataset under `data_root` — the numbers
    result.json records as `metrics` (test) and `val_metrics` (val), recomputed from model.pt
    with the same evaluators. The dataset must be prepared (`bench prepare`, or `dvc repro`)."""
    from bench.data import PreparedDataset
    from bench.train.evaluation import evaluate_split

    model, result = load_model(run_dir, device)
    dataset = PreparedDataset.from_data_root(data_root, result["dataset"], split)
    # A run trained under bf16 autocast was evaluated under it too (bench/train/finish.py).
    bf16 = bool(result["provenance"]["config"]["profile"].get("amp_bf16"))
    device = torch.device(device)
    amp = torch.autocast(device_type=device.type, dtype=torch.bfloat16, enabled=bf16)
    task = result.get("task")
    return evaluate_split(model, model, dataset, batch_size, device, amp,
                          tasks=(task,) if task is not None else None)
