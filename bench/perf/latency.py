"""Does sparsity make inference faster? Measured latency of a run's `model.pt`.

Paths, all at the eval input size, batch 1, fp32, median of `repeats` timed passes:

Each CPU path records its repeats (`times_ms`), their min and quartiles (`q1_ms`, `q3_ms`,
`iqr_ms`): the spread that tells a real speed-up from noise.

- `dense`: the ordinary model — dense kernels that multiply the zeros.
- `sparse_csr` (CPU): every conv with groups=1 runs as unfold + CSR sparse × dense matmul
  (`torch.sparse` CSR weight of shape C_out × C_in·k_h·k_w); depthwise / grouped convs stay dense.
- `sparse_hybrid` (CPU): each conv takes whichever of the two kernels was faster *for that
  layer* at its own input (timed once per layer) — the best torch.sparse offers here.
- `structured` (a channel-pruned run, result.json `structured: true`): the smaller network as it
  is, with dense kernels; its `dense` path is then the unpruned architecture rebuilt from the
  run's configuration, timed in turn with it. The sparse paths have no zeros to skip there.
- `semi_structured_2to4` (CUDA only, see `semi_structured_latency`): a 2:4-pruned copy of the
  model (its own accuracy is not measured) with cuSPARSELt / CUTLASS kernels, vs the same copy
  with dense kernels, in bf16.

Every sparse path is checked to compute the same outputs as the dense one (`max_abs_diff`).
Theoretical MACs (`cost.macs_dense`, `cost.macs_sparse_theoretical`) come from result.json, so
the file shows the gap between "theoretical" and "measured" speed-up.
"""

from __future__ import annotations

import functools
import statistics
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch
from torch import nn

from bench.perf.sparse_conv import CsrConv2d, swap_convs

SCHEMA = "bench-latency/1"
LATENCY_FILE = "latency.json"
FALLBACK_EVAL_SIZE = {"nyuv2": (480, 640), "taskonomy": (256, 256)}


def median_ms(fn: Callable[[], Any], repeats: int, warmup: int, device: torch.device) -> list[float]:
    """Wall milliseconds of `repeats` calls of `fn` after `warmup` untimed ones."""
    return interleaved_ms({"fn": fn}, repeats, warmup, device)["fn"]


def interleaved_ms(fns: dict[str, Callable[[], Any]], repeats: int, warmup: int,
                   device: torch.device) -> dict[str, list[float]]:
    """Wall milliseconds per call of each of `fns`, called in turn (order rotating) so that a
    change of machine load affects them all alike."""
    names = list(fns)
    for _ in range(warmup):
        for name in names:
            fns[name]()
    times: dict[str, list[float]] = {name: [] for name in names}
    for r in range(repeats):
        for name in names[r % len(names):] + names[: r % len(names)]:
            if device.type == "cuda":
                torch.cuda.synchronize(device)
            t0 = time.perf_counter()
            fns[name]()
            if device.type == "cuda":
                torch.cuda.synchronize(device)
            times[name].append(1e3 * (time.perf_counter() - t0))
    return times


def load_run(run_dir: Path) -> tuple[nn.Module, dict[str, Any], tuple[int, int]]:
    """The run's model (eval mode, CPU) with its final weights, its result and eval size."""
    from bench.errors import ConfigError
    from bench.record.result import MODEL_FILE, RESULT_FILE, read_result
    from bench.structured import rebuild_model

    model_path = run_dir / MODEL_FILE
    read = read_result(run_dir)
    for name, present in ((RESULT_FILE, read is not None), (MODEL_FILE, model_path.exists())):
        if not present:
            raise ConfigError(f"{run_dir}: no {name} (a finished run directory is needed)")
    assert read is not None
    result = read.data
    config = result["provenance"]["config"]
    model = rebuild_model(result)  # a structured run's smaller network, as recorded
    from bench.io import torch_load

    model.load_state_dict(torch_load(model_path, map_location="cpu", weights_only=True))
    model.eval()
    synthetic = config.get("synthetic")
    if synthetic:
        size = (int(synthetic["height"]), int(synthetic["width"]))
    else:
        size = FALLBACK_EVAL_SIZE[result["dataset"]]
    return model, result, size


def _outputs_diff(a: dict[str, torch.Tensor], b: dict[str, torch.Tensor]) -> float:
    return max(float((a[t].float() - b[t].float()).abs().max()) for t in a)


@torch.inference_mode()
def measure_latency(
    run_dir: Path,
    repeats: int = 10,
    warmup: int = 2,
    input_size: tuple[int, int] | None = None,
    threads: int | None = None,
) -> dict[str, Any]:
    """Measure the CPU paths (and the 2:4 path when CUDA is here) and return latency.json."""
    from bench.provenance import device_name, now_iso

    if threads is not None:
        torch.set_num_threads(threads)
    model, result, eval_size = load_run(run_dir)
    size = input_size or eval_size
    cpu = torch.device("cpu")
    x = torch.randn(1, 3, *size, generator=torch.Generator().manual_seed(0))
    if result.get("structured"):
        paths = structured_paths(model, result, x, repeats, warmup)
    else:
        paths = unstructured_paths(model, x, repeats, warmup)
    if torch.cuda.is_available():
        paths["semi_structured_2to4"] = semi_structured_latency(model, size, repeats, warmup)
    else:
        paths["semi_structured_2to4"] = {"available": False,
                                         "note": "needs CUDA (sm80+); this machine has none"}
    cost = result.get("cost") or {}
    macs_dense, macs_sparse = cost.get("macs_dense"), cost.get("macs_sparse_theoretical")
    return {
        "schema": SCHEMA, "created_at": now_iso(), "run_dir": str(run_dir),
        "method": result["method"], "target_sparsity": result["target_sparsity"],
        "measured_sparsity": (result.get("sparsity") or {}).get("overall"),
        "structured": bool(result.get("structured")),
        "input_size": list(size), "batch_size": 1, "dtype": "float32",
        "device": "cpu", "device_name": device_name(cpu), "threads": torch.get_num_threads(),
        "repeats": repeats, "warmup": warmup, "torch_version": torch.__version__,
        "macs": {"dense": macs_dense, "sparse_theoretical": macs_sparse,  # at the eval size
                 "theoretical_speedup": macs_dense / macs_sparse if macs_dense and macs_sparse else None,
                 "input_size": list(eval_size)},
        "paths": paths,
        # each path's speed-up is against its own dense baseline (2:4: the same copy on cuDNN)
        "best_speedup_measured": max(p["speedup_vs_dense"] for k, p in paths.items()
                                     if k != "dense" and p.get("available")),
        "verdict": _verdict(paths),
    }


def structured_paths(model: nn.Module, result: dict[str, Any], x: torch.Tensor, repeats: int,
                     warmup: int) -> dict[str, Any]:
    """A channel-pruned run: its smaller network as it is (dense kernels) against the unpruned
    architecture (dense kernels; its weight values do not change the time), timed in turn.
    There are no zeros for the sparse paths to skip."""
    from bench.structured import dense_model

    dense = dense_model(result).eval()
    times = interleaved_ms({"dense": lambda: dense(x), "structured": lambda: model(x)},
                           repeats, warmup, torch.device("cpu"))
    base = statistics.median(times["dense"])
    none = {"available": False, "note": "structured run: no zeros to skip, the network is smaller"}
    return {
        "dense": _path(times["dense"], base, "the unpruned architecture, dense kernels"),
        "structured": _path(times["structured"], base,
                            "the channel-pruned network as it is, dense kernels"),
        "sparse_csr": dict(none), "sparse_hybrid": dict(none),
    }


def unstructured_paths(model: nn.Module, x: torch.Tensor, repeats: int,
                       warmup: int) -> dict[str, Any]:
    """The model with dense kernels, and the torch.sparse CSR and per-layer hybrid paths."""
    cpu = torch.device("cpu")
    reference = model(x)
    csr_model = _copy(model)
    n_csr = swap_convs(csr_model, lambda _, conv: CsrConv2d(conv) if conv.groups == 1 else None)
    faster = _faster_layers(model, x, max(3, repeats // 2))
    hybrid = _copy(model)
    n_hybrid = swap_convs(hybrid, lambda name, conv: CsrConv2d(conv) if name in faster else None)
    times = interleaved_ms({"dense": lambda: model(x), "sparse_csr": lambda: csr_model(x),
                            "sparse_hybrid": lambda: hybrid(x)}, repeats, warmup, cpu)
    dense = statistics.median(times["dense"])
    convs = _convs(model)
    paths: dict[str, Any] = {
        "dense": _path(times["dense"], dense, "dense kernels, zeros multiplied"),
        "sparse_csr": _path(
            times["sparse_csr"], dense, "groups=1 convs as unfold + torch.sparse CSR matmul",
            layers_sparse=n_csr, layers_dense=convs - n_csr,
            max_abs_diff=_outputs_diff(reference, csr_model(x))),
        "sparse_hybrid": _path(
            times["sparse_hybrid"], dense,
            "per layer, the faster of dense and CSR (timed at its own input)",
            layers_sparse=n_hybrid, layers_dense=convs - n_hybrid,
            max_abs_diff=_outputs_diff(reference, hybrid(x))),
        "structured": {"available": False, "note": "not a structured run"},
    }
    return paths


def spread_ms(times: list[float]) -> dict[str, float]:
    """Min and quartiles of the repeats: the report marks a speed-up whose inter-quartile range
    overlaps the dense kernels' as within the measured noise."""
    if len(times) < 2:
        return {"min_ms": min(times), "q1_ms": times[0], "q3_ms": times[0], "iqr_ms": 0.0}
    q1, _, q3 = statistics.quantiles(times, n=4, method="inclusive")
    return {"min_ms": min(times), "q1_ms": q1, "q3_ms": q3, "iqr_ms": q3 - q1}


def _path(times: list[float], dense: float, description: str, **extra: Any) -> dict[str, Any]:
    median = statistics.median(times)
    return {"available": True, "description": description, "median_ms": median,
            **spread_ms(times), "times_ms": [round(t, 3) for t in times],
            "speedup_vs_dense": dense / median, **extra}


def _verdict(paths: dict[str, Any]) -> str:
    measured = {k: v["speedup_vs_dense"] for k, v in paths.items() if k != "dense" and v.get("available")}
    name, best = max(measured.items(), key=lambda kv: kv[1])
    if best < 1.05:
        return f"no speed-up: the best sparse path ({name}) runs at {best:.2f}× dense speed"
    return f"{name} is {best:.2f}× faster than dense kernels"


def _convs(model: nn.Module) -> int:
    return sum(isinstance(m, nn.Conv2d) for m in model.modules())


def _copy(model: nn.Module) -> nn.Module:
    import copy

    return copy.deepcopy(model)


def _faster_layers(model: nn.Module, x: torch.Tensor, repeats: int,
                   device: torch.device | None = None) -> set[str]:
    """Names of groups=1 convs whose CSR version beats the dense kernel at their own input
    (`device`: where `model` and `x` are, for the timer's synchronisation; default the CPU)."""
    inputs: dict[str, torch.Tensor] = {}
    handles = [
        m.register_forward_pre_hook(lambda mod, args, name=name: inputs.setdefault(name, args[0]))
        for name, m in model.named_modules() if isinstance(m, nn.Conv2d) and m.groups == 1
    ]
    try:
        model(x)
    finally:
        for h in handles:
            h.remove()
    where, faster = device or torch.device("cpu"), set()
    for name, inp in inputs.items():
        conv = model.get_submodule(name)
        sparse = CsrConv2d(conv)  # type: ignore[arg-type]
        t_dense = statistics.median(median_ms(functools.partial(conv, inp), repeats, 1, where))
        t_sparse = statistics.median(median_ms(functools.partial(sparse, inp), repeats, 1, where))
        if t_sparse < t_dense:
            faster.add(name)
    return faster


def semi_structured_latency(model: nn.Module, size: tuple[int, int], repeats: int,
                            warmup: int) -> dict[str, Any]:
    """CUDA: a 2:4-pruned bf16 copy, dense kernels vs torch's semi-structured sparse kernels."""
    from bench.perf.semi import measure_two_four

    try:
        return measure_two_four(model, size, repeats, warmup)
    except Exception as exc:  # an unsupported GPU / torch build: say so, keep the CPU numbers
        return {"available": False, "note": f"{type(exc).__name__}: {exc}"}


def write_latency(run_dir: Path, payload: dict[str, Any]) -> Path:
    from bench.io import write_json_atomic

    path = run_dir / LATENCY_FILE
    write_json_atomic(path, payload)
    return path

