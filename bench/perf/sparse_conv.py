"""Convolutions as unfold + matmul, and swapping them into a model: the CPU sparse paths of
`bench latency` (CSR here; the CUDA 2:4 path in bench/perf/semi.py builds on `UnfoldConv2d`)."""

from __future__ import annotations

import warnings
from collections.abc import Callable
from typing import Any

import torch
from torch import nn
from torch.nn import functional as F


class UnfoldConv2d(nn.Module):
    """A groups=1 `nn.Conv2d` computed from its unfolded input; subclasses do the matmul."""

    def __init__(self, conv: nn.Conv2d) -> None:
        super().__init__()
        if conv.groups != 1 or conv.padding_mode != "zeros" or isinstance(conv.padding, str):
            raise ValueError("only groups=1 convs with numeric zero padding")
        self.out_channels = conv.out_channels
        self.kernel_size = _pair(conv.kernel_size)
        self.stride, self.padding = _pair(conv.stride), _pair(conv.padding)
        self.dilation = _pair(conv.dilation)
        self.bias = None if conv.bias is None else conv.bias.detach()

    def output_size(self, height: int, width: int) -> tuple[int, int]:
        h, w = (
            (size + 2 * p - d * (k - 1) - 1) // s + 1
            for size, p, d, k, s in zip((height, width), self.padding, self.dilation,
                                        self.kernel_size, self.stride, strict=True)
        )
        return h, w

    def columns(self, x: torch.Tensor) -> torch.Tensor:
        """N × (C_in·k_h·k_w) × L, L = output positions."""
        return F.unfold(x, self.kernel_size, self.dilation, self.padding, self.stride)


class CsrConv2d(UnfoldConv2d):
    """unfold + CSR sparse × dense matmul (the same outputs as the conv)."""

    def __init__(self, conv: nn.Conv2d) -> None:
        super().__init__(conv)
        with warnings.catch_warnings():  # "sparse CSR support is in beta": known, and measured
            warnings.simplefilter("ignore", UserWarning)
            self.weight = conv.weight.detach().flatten(1).to_sparse_csr()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        n = x.shape[0]
        oh, ow = self.output_size(x.shape[2], x.shape[3])
        cols = self.columns(x)
        cols = cols.transpose(0, 1).reshape(cols.shape[1], -1)  # K × N·L
        out = (self.weight @ cols).view(self.out_channels, n, oh * ow).transpose(0, 1)
        if self.bias is not None:
            out = out + self.bias.view(1, -1, 1)
        return out.reshape(n, self.out_channels, oh, ow)


def _pair(value: Any) -> tuple[int, int]:
    a, b = (value, value) if isinstance(value, int) else value
    return int(a), int(b)


def swap_convs(model: nn.Module, make: Callable[[str, nn.Conv2d], nn.Module | None]) -> int:
    """Replace convs by `make(name, conv)` where it returns a module; the number replaced."""
    swaps = []
    for name, module in model.named_modules():
        if isinstance(module, nn.Conv2d):
            new = make(name, module)
            if new is not None:
                swaps.append((name, new))
    for name, new in swaps:
        parent_name, _, child = name.rpartition(".")
        setattr(model.get_submodule(parent_name) if parent_name else model, child, new)
    return len(swaps)
