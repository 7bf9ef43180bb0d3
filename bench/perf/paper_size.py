"""`bench latency-paper`: inference latency at the size people deploy, as a reference table.

The pipeline's `latency` stage times the embedded models (ResNet34 at 1/16 width, 128×128),
where per-layer overhead dominates. This times the paper's network — Deeplab-ResNet34 at full
width with one ASPP head per task of the real dataset (NYU-v2: 40 classes, depth, normals) — at
the paper's 321×321 crops, at batch 1 and 8, with random weights pruned by the benchmark's own
criteria (bench/perf/paper_models.py says how): latency depends on the architecture and the
kernels, not on what the weights learned.

Every model is timed in one interleaved loop per device and batch size (the order rotates, so a
change of machine load hits every path alike): the unpruned network with `unstructured_target`
of its weights zeroed, on dense kernels (`dense`: the baseline of every entry — dense kernels'
time does not depend on the weight values), each structured method's smaller network
(`structured`), and at the batch sizes in `sparse_batch_sizes` the zeroed network on the CSR
and per-layer hybrid paths of `bench latency` (whose outputs are checked against the dense
kernels'). The file has the schema of the pipeline's `reports/latency.json`
(`bench-latency-grid/1`, one `bench-latency/1` entry per device × batch × model) plus labels:
the model, input and batch size, what the weights were, and the machine.
"""

from __future__ import annotations

import copy
import logging
import os
import platform
import statistics
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import nn

from bench.perf.latency import (
    SCHEMA,
    _convs,
    _faster_layers,
    _outputs_diff,
    _path,
    _verdict,
    interleaved_ms,
    semi_structured_latency,
)
from bench.perf.latency_grid import GRID_SCHEMA, REFERENCE_KIND
from bench.perf.paper_models import (
    UNSTRUCTURED_METHOD,
    WEIGHTS,
    Calibration,
    magnitude_copy,
    paper_model,
    structured_copy,
)
from bench.perf.sparse_conv import CsrConv2d, swap_convs

log = logging.getLogger(__name__)

BACKBONES = {"resnet34": "ResNet34", "mobilenetv2": "MobileNetV2"}
NOT_STRUCTURED = {"available": False, "note": "not a structured model"}


@dataclass(frozen=True)
class PaperSize:
    """What to build and time (defaults: the paper's network, input and the default targets)."""

    structured_target: float
    unstructured_target: float
    method_params: dict[str, dict[str, Any]] = field(default_factory=dict)
    structured_methods: tuple[str, ...] = ("channel_l1", "channel_mtl")
    backbone: str = "resnet34"
    dataset: str = "nyuv2"  # whose task heads (tasks, classes) the network carries
    width_mult: float = 1.0
    input_size: tuple[int, int] = (321, 321)
    batch_sizes: tuple[int, ...] = (1, 8)
    repeats: tuple[int, ...] = (5, 3)  # per batch size
    warmup: int = 1
    sparse_batch_sizes: tuple[int, ...] = (1,)  # where the CSR / hybrid paths are timed
    devices: tuple[str, ...] = ("cpu",)
    threads: int | None = 1
    seed: int = 0
    calibration: Calibration = Calibration()

    def __post_init__(self) -> None:
        if len(self.repeats) != len(self.batch_sizes):
            raise ValueError("one repeats value per batch size")


def machine(threads: int) -> dict[str, Any]:
    """The CPU the numbers come from, as torch sees it, and the code that measured them."""
    from bench.provenance import cpu_capability, provenance

    code = provenance(torch.device("cpu"))
    model = platform.processor() or platform.machine()
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.is_file():
        names = [line.split(":", 1)[1].strip() for line in cpuinfo.read_text().splitlines()
                 if line.startswith("model name")]
        model = names[0] if names else model
    return {"cpu_model": model, "cpu_capability": cpu_capability(), "logical_cpus": os.cpu_count(),
            "threads": threads, "platform": platform.platform(), "torch_version": torch.__version__,
            "git_commit": code["git_commit"], "git_dirty": code["git_dirty"]}


def _load() -> list[float] | None:
    try:
        return [round(v, 2) for v in os.getloadavg()]
    except OSError:
        return None


@torch.inference_mode()
def _csr_paths(zeroed: nn.Module, x: torch.Tensor, device: torch.device,
               selection_repeats: int) -> tuple[nn.Module, int, nn.Module, int]:
    csr = copy.deepcopy(zeroed)
    n_csr = swap_convs(csr, lambda _, conv: CsrConv2d(conv) if conv.groups == 1 else None)
    faster = _faster_layers(zeroed, x, selection_repeats, device)
    hybrid = copy.deepcopy(zeroed)
    n_hybrid = swap_convs(hybrid, lambda name, conv: CsrConv2d(conv) if name in faster else None)
    return csr, n_csr, hybrid, n_hybrid


def _recording(model: nn.Module, x: torch.Tensor, out: dict[str, Any], key: str) -> Callable[[], None]:
    def call() -> None:
        out[key] = model(x)
    return call


@torch.inference_mode()
def _time_batch(spec: PaperSize, device: torch.device, batch: int, repeats: int,
                zeroed: nn.Module, structured: dict[str, nn.Module]) -> dict[str, Any]:
    """Medians and spreads of every model at one batch size, and the sparse paths' checks."""
    x = torch.randn(batch, 3, *spec.input_size,
                    generator=torch.Generator().manual_seed(spec.seed)).to(device)
    outputs: dict[str, Any] = {}
    models: dict[str, nn.Module] = {"dense": zeroed, **structured}
    layers: dict[str, tuple[int, int]] = {}
    if batch in spec.sparse_batch_sizes:
        csr, n_csr, hybrid, n_hybrid = _csr_paths(zeroed, x, device, max(1, repeats // 3))
        models |= {"sparse_csr": csr, "sparse_hybrid": hybrid}
        layers = {"sparse_csr": (n_csr, _convs(zeroed) - n_csr),
                  "sparse_hybrid": (n_hybrid, _convs(zeroed) - n_hybrid)}
    fns = {name: _recording(m, x, outputs, name) for name, m in models.items()}
    if spec.warmup == 0:  # the sparse paths' check needs each model's outputs once
        for fn in fns.values():
            fn()
    times = interleaved_ms(fns, repeats, spec.warmup, device)
    scale = max(float(v.float().abs().max()) for v in outputs["dense"].values())
    checks = {}
    for name in layers:
        diff = _outputs_diff(outputs["dense"], outputs[name])
        checks[name] = {"max_abs_diff": diff, "max_rel_diff": diff / scale if scale else None}
    return {"times": times, "layers": layers, "checks": checks}


def _entry(spec: PaperSize, device: torch.device, batch: int, repeats: int, method: str,
           target: float, info: dict[str, Any], paths: dict[str, Any],
           macs: dict[str, Any]) -> dict[str, Any]:
    from bench.provenance import device_name, now_iso

    return {
        "schema": SCHEMA, "created_at": now_iso(), "run_dir": None,
        "method": method, "target_sparsity": target,
        "measured_sparsity": info["measured_sparsity"],
        "structured": paths["structured"].get("available", False),
        "input_size": list(spec.input_size), "batch_size": batch, "dtype": "float32",
        "device": device.type, "device_name": device_name(device),
        "threads": torch.get_num_threads(), "repeats": repeats, "warmup": spec.warmup,
        "torch_version": torch.__version__,
        "model": _model_label(spec), "weights": WEIGHTS,
        "pruning": {k: v for k, v in info.items() if k != "density_by_layer"},
        "macs": macs, "paths": paths,
        "best_speedup_measured": max(p["speedup_vs_dense"] for k, p in paths.items()
                                     if k != "dense" and p.get("available")),
        "verdict": _verdict(paths),
    }


def _model_label(spec: PaperSize) -> dict[str, Any]:
    from datasets.registry import dataset_spec

    data = dataset_spec(spec.dataset)
    return {"backbone": spec.backbone, "width_mult": spec.width_mult, "tasks": list(data.tasks),
            "num_classes": data.num_classes, "heads_of": spec.dataset,
            "description": f"Deeplab-{BACKBONES.get(spec.backbone, spec.backbone)} "
                           f"×{spec.width_mult:g} width with one ASPP "
                           f"head per task of {spec.dataset} ({', '.join(data.tasks)})"}


def _macs(model: nn.Module, spec: PaperSize, dense_total: int,
          density: dict[str, float] | None = None) -> dict[str, Any]:
    from bench.models.macs import layer_macs, sparse_macs

    per_layer = layer_macs(model, spec.input_size)
    sparse = sparse_macs(per_layer, density) if density is not None else sum(per_layer.values())
    return {"dense": dense_total, "sparse_theoretical": sparse,
            "theoretical_speedup": dense_total / sparse if sparse else None,
            "input_size": list(spec.input_size), "per": "image (batch 1)"}


def _entries_at(spec: PaperSize, device: torch.device, batch: int, repeats: int,
                zeroed: nn.Module, zeroed_info: dict[str, Any],
                structured: Mapping[str, tuple[nn.Module, dict[str, Any]]],
                macs: dict[str, dict[str, Any]]) -> tuple[dict[str, Any], dict[str, str]]:
    prefix = f"{device.type}/batch{batch}"
    log.info("timing %s: %d repeats after %d warm-up passes", prefix, repeats, spec.warmup)
    measured = _time_batch(spec, device, batch, repeats, zeroed,
                           {slug: m for slug, (m, _) in structured.items()})
    times = measured["times"]
    base = statistics.median(times["dense"])
    dense_path = _path(times["dense"], base, "the unpruned architecture on dense kernels (with "
                       f"{100 * spec.unstructured_target:.0f}% of its weights zero: the same "
                       "timed passes for every entry of this device and batch size)")
    none = {"available": False, "note": "structured model: no zeros to skip, the network is smaller"}
    runs: dict[str, Any] = {}
    two_four = {"available": False, "note": "needs CUDA (sm80+)" if device.type != "cuda" else
                "measured at batch 1 only"}
    for slug, (_, info) in structured.items():
        paths = {"dense": dense_path,
                 "structured": _path(times[slug], base, "the channel-pruned network as it is, "
                                     "dense kernels"),
                 "sparse_csr": dict(none), "sparse_hybrid": dict(none),
                 "semi_structured_2to4": dict(two_four)}
        runs[f"{prefix}/{slug}"] = _entry(spec, device, batch, repeats, slug,
                                          spec.structured_target, info, paths, macs[slug])
    if not measured["layers"]:
        why = (f"CSR / hybrid paths timed at batch size(s) {list(spec.sparse_batch_sizes)} "
               "only (--sparse-batch-sizes): one CSR pass at this size takes several times a "
               "dense one")
        return runs, {f"{prefix}/{UNSTRUCTURED_METHOD}": why}
    paths = {"dense": dense_path}
    for name, what in (("sparse_csr", "groups=1 convs as unfold + torch.sparse CSR matmul"),
                       ("sparse_hybrid", "per layer, the faster of dense and CSR (timed at its "
                                         "own input)")):
        n_sparse, n_dense = measured["layers"][name]
        paths[name] = _path(times[name], base, what, layers_sparse=n_sparse, layers_dense=n_dense,
                            **measured["checks"][name])
    paths["structured"] = dict(NOT_STRUCTURED)
    if device.type == "cuda" and batch == 1:
        paths["semi_structured_2to4"] = semi_structured_latency(zeroed, spec.input_size,
                                                                repeats, spec.warmup)
    else:
        paths["semi_structured_2to4"] = dict(two_four)
    runs[f"{prefix}/{UNSTRUCTURED_METHOD}"] = _entry(
        spec, device, batch, repeats, UNSTRUCTURED_METHOD, spec.unstructured_target,
        zeroed_info, paths, macs[UNSTRUCTURED_METHOD])
    return runs, {}


def measure_paper_size(spec: PaperSize) -> dict[str, Any]:
    """Build, prune and time every model of `spec`; the reference table's JSON."""
    from bench.models.macs import layer_macs
    from bench.provenance import now_iso
    from datasets.registry import dataset_spec

    if spec.threads is not None:
        torch.set_num_threads(spec.threads)
    started, load_start = time.perf_counter(), _load()
    data = dataset_spec(spec.dataset)
    dense = paper_model(spec.backbone, data.tasks, data.num_classes, spec.width_mult, spec.seed)
    cpu = torch.device("cpu")
    structured = {}
    for slug in spec.structured_methods:
        log.info("pruning %s to %.2f with its own criterion", slug, spec.structured_target)
        structured[slug] = structured_copy(dense, slug, spec.structured_target,
                                           spec.method_params.get(slug, {}), data.num_classes,
                                           spec.seed, spec.calibration, cpu)
    zeroed, zeroed_info = magnitude_copy(dense, spec.unstructured_target)
    dense_total = sum(layer_macs(dense, spec.input_size).values())
    macs = {slug: _macs(m, spec, dense_total) for slug, (m, _) in structured.items()}
    macs[UNSTRUCTURED_METHOD] = _macs(zeroed, spec, dense_total, zeroed_info["density_by_layer"])
    runs: dict[str, Any] = {}
    skipped: dict[str, str] = {}
    for name in spec.devices:
        device = torch.device(name)
        on_device = {slug: (copy.deepcopy(m).to(device), info)
                     for slug, (m, info) in structured.items()}
        zeroed_here = copy.deepcopy(zeroed).to(device)
        benchmark = torch.backends.cudnn.benchmark
        torch.backends.cudnn.benchmark = True  # on CUDA, as a deployment would (cuDNN autotuning)
        try:
            for batch, repeats in zip(spec.batch_sizes, spec.repeats, strict=True):
                found, missed = _entries_at(spec, device, batch, repeats, zeroed_here,
                                            zeroed_info, on_device, macs)
                runs |= found
                skipped |= missed
        finally:
            torch.backends.cudnn.benchmark = benchmark
    return {
        "schema": GRID_SCHEMA, "kind": REFERENCE_KIND, "created_at": now_iso(), "runs_root": None,
        "repeats": min(spec.repeats), "warmup": spec.warmup,
        "model": _model_label(spec), "parameters": sum(p.numel() for p in dense.parameters()),
        "input_size": list(spec.input_size), "batch_sizes": list(spec.batch_sizes),
        "repeats_by_batch": {str(b): r for b, r in zip(spec.batch_sizes, spec.repeats, strict=True)},
        "weights": WEIGHTS, "structured_target": spec.structured_target,
        "unstructured_target": spec.unstructured_target,
        "machine": machine(torch.get_num_threads()),
        "load_average": {"start": load_start, "end": _load()},
        "wall_seconds": round(time.perf_counter() - started, 1),
        "runs": runs, "skipped": skipped,
    }
