"""2:4 semi-structured sparsity on CUDA: the one sparse format with fast GPU kernels in PyTorch.

A run's unstructured mask is not 2:4, so this measures a *2:4-pruned copy* of the model (in
every group of 4 consecutive input weights of a conv row, the 2 largest |w| kept — 50%
sparsity): latency only, its accuracy is not measured. Three timings of that copy, bf16,
batch 1:

- `dense_conv_ms`: cuDNN convolutions (zeros multiplied);
- `dense_matmul_ms`: every eligible conv as unfold + dense matmul — the same data movement as
  the sparse path, so the kernel speed-up can be told apart from the unfold's cost;
- `sparse_matmul_ms`: those matmuls with the weight as `to_sparse_semi_structured`.

A conv whose weight matrix the kernels do not accept (shape constraints, e.g. the 3-channel
stem) stays dense and is counted in `layers_dense`.
"""

from __future__ import annotations

import copy
import functools
import statistics
from typing import Any

import torch
from torch import nn
from torch.nn import functional as F

from bench.perf.latency import median_ms
from bench.perf.sparse_conv import UnfoldConv2d, swap_convs


def two_four_mask(weight2d: torch.Tensor) -> torch.Tensor:
    """Keep the 2 largest |w| of every 4 consecutive entries along each row."""
    rows, cols = weight2d.shape
    if cols % 4:
        raise ValueError(f"row length {cols} is not a multiple of 4")
    groups = weight2d.abs().reshape(rows, cols // 4, 4)
    keep = torch.zeros_like(groups, dtype=torch.bool)
    keep.scatter_(-1, groups.topk(2, dim=-1).indices, True)
    return keep.reshape(rows, cols)


class MatmulConv2d(UnfoldConv2d):
    """unfold + `F.linear` with a (dense or semi-structured) 2-D weight."""

    def __init__(self, conv: nn.Conv2d, weight2d: torch.Tensor) -> None:
        super().__init__(conv)
        self.weight = weight2d

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        n = x.shape[0]
        oh, ow = self.output_size(x.shape[2], x.shape[3])
        cols = self.columns(x).transpose(1, 2).reshape(n * oh * ow, -1)  # N·L × K
        out = F.linear(cols, self.weight, self.bias)  # N·L × C_out
        return out.view(n, oh * ow, self.out_channels).transpose(1, 2).reshape(
            n, self.out_channels, oh, ow)


def measure_two_four(model: nn.Module, size: tuple[int, int], repeats: int,
                     warmup: int) -> dict[str, Any]:
    from torch.sparse import to_sparse_semi_structured

    device = torch.device("cuda")
    pruned = copy.deepcopy(model).to(device=device, dtype=torch.bfloat16).eval()
    with torch.no_grad():
        for m in pruned.modules():
            if isinstance(m, nn.Conv2d) and m.groups == 1 and m.weight[0].numel() % 4 == 0:
                m.weight.mul_(two_four_mask(m.weight.flatten(1)).view_as(m.weight))
    dense_mm, sparse_mm = copy.deepcopy(pruned), copy.deepcopy(pruned)
    accepted: set[str] = set()
    for name, m in pruned.named_modules():
        if isinstance(m, nn.Conv2d) and m.groups == 1:
            try:
                to_sparse_semi_structured(m.weight.detach().flatten(1).contiguous())
                accepted.add(name)
            except Exception:  # shape / dtype constraints of the kernels: this conv stays dense
                continue
    swap_convs(dense_mm, lambda name, conv: MatmulConv2d(conv, conv.weight.detach().flatten(1)
                                                         .contiguous()) if name in accepted else None)
    swap_convs(sparse_mm, lambda name, conv: MatmulConv2d(conv, to_sparse_semi_structured(
        conv.weight.detach().flatten(1).contiguous())) if name in accepted else None)
    x = torch.randn(1, 3, *size, device=device, dtype=torch.bfloat16)
    benchmark = torch.backends.cudnn.benchmark
    torch.backends.cudnn.benchmark = True
    try:
        with torch.inference_mode():
            reference = pruned(x)
            diff = max(float((reference[t] - o).float().abs().max())
                       for t, o in sparse_mm(x).items())
            times = {name: statistics.median(median_ms(functools.partial(m, x), repeats, warmup,
                                                       device))
                     for name, m in (("dense_conv_ms", pruned), ("dense_matmul_ms", dense_mm),
                                     ("sparse_matmul_ms", sparse_mm))}
    finally:
        torch.backends.cudnn.benchmark = benchmark
    total = sum(isinstance(m, nn.Conv2d) for m in model.modules())
    return {
        "available": True, "dtype": "bfloat16", "device_name": torch.cuda.get_device_name(device),
        "description": "2:4-pruned copy (latency only): semi-structured sparse matmul vs dense",
        **times, "median_ms": times["sparse_matmul_ms"],
        "speedup_vs_dense": times["dense_conv_ms"] / times["sparse_matmul_ms"],
        "speedup_vs_dense_matmul": times["dense_matmul_ms"] / times["sparse_matmul_ms"],
        "layers_sparse": len(accepted), "layers_dense": total - len(accepted),
        "max_abs_diff": diff,
    }
