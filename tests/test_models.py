"""The networks of docs/protocol.md §3, their MAC counts and `bench summary`.

Full-size models are built on the meta device: shapes and counts without ~600 MB of weights.
"""

from __future__ import annotations

import json

import pytest
import torch
from torch import nn

from bench.cli import main
from bench.models import MultiTaskModel, build_model
from bench.models.macs import component_macs, layer_macs, sparse_macs
from bench.models.mobilenetv2 import scaled_channels
from bench.tasks import NYU_TASKS

NYU_CLASSES = 40


def meta_model(backbone: str, width_mult: float = 1.0) -> MultiTaskModel:
    with torch.device("meta"):
        return build_model(backbone, NYU_TASKS, NYU_CLASSES, width_mult=width_mult)


def n_params(module: nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())


def n_prunable(model: MultiTaskModel, component: str | None = None) -> int:
    groups = model.prunable_weights()
    names = [component] if component else list(groups)
    return sum(w.weight.numel() for c in names for w in groups[c])


# --- pinned sizes (docs/protocol.md §3) ---------------------------------------------------------------


def test_resnet34_pinned_sizes() -> None:
    model = meta_model("resnet34")
    assert n_prunable(model, "backbone") == 21_267_648
    assert n_params(model.backbone) == 21_284_672
    assert n_prunable(model) == 90_653_888
    assert n_params(model) == 90_695_664


def test_mobilenetv2_pinned_sizes() -> None:
    model = meta_model("mobilenetv2")
    total = n_prunable(model)
    assert total == 156_510_656
    heads_share = (total - n_prunable(model, "backbone")) / total
    assert heads_share == pytest.approx(0.986, abs=5e-4)
    assert model.backbone.out_channels == 1280


def test_mobilenetv2_channels_follow_torchvision_at_width_1() -> None:
    assert [scaled_channels(c, 1.0) for c in (32, 16, 24, 32, 64, 96, 160, 320)] == [
        32,
        16,
        24,
        32,
        64,
        96,
        160,
        320,
    ]
    assert scaled_channels(24, 1.4) == 32  # torchvision's make-divisible-by-8
    assert scaled_channels(16, 0.125) == 4  # floor of 4 for CPU-sized builds


# --- structure ----------------------------------------------------------------------------


def test_resnet34_layout() -> None:
    body = meta_model("resnet34").backbone
    assert body.conv1.kernel_size == (7, 7) and body.conv1.stride == (2, 2)
    assert body.conv1.bias is None
    assert [len(getattr(body, f"layer{i}")) for i in range(1, 5)] == [3, 4, 6, 3]
    assert body.layer1[0].downsample is None
    for i, dilation in ((2, 1), (3, 2), (4, 4)):
        layer = getattr(body, f"layer{i}")
        assert layer[0].downsample is not None
        assert all(b.conv1.dilation == (dilation, dilation) for b in layer)
        assert all(b.conv2.padding == (dilation, dilation) for b in layer)


@pytest.mark.parametrize("width_mult", [1.0, 0.25])
def test_init_is_normal_001_with_bn_one_zero(width_mult: float) -> None:
    """Every conv N(0, 0.01) at any width (the paper's magnitudes, backbone and heads alike); a
    narrower copy's heads restore the paper's per-layer signal gain with a fixed input factor
    1/√width_mult (bench/models/heads.py), and the full-width heads have none."""
    from bench.models.heads import Gain

    torch.manual_seed(0)
    model = build_model("resnet34", NYU_TASKS, NYU_CLASSES, width_mult=width_mult)
    convs = [m.weight for m in model.modules() if isinstance(m, nn.Conv2d)]
    assert torch.cat([w.flatten() for w in convs]).std().item() == pytest.approx(0.01, rel=0.05)
    branch = model.heads["normal"].branches[0]
    gains = [m.factor for m in branch.modules() if isinstance(m, Gain)]
    assert gains == ([] if width_mult == 1 else [width_mult ** -0.5] * 3)
    gain = branch.conv2.weight.std().item() * (gains[1] if gains else 1.0) * branch.conv2.in_channels ** 0.5
    assert gain == pytest.approx(0.01 * 1024 ** 0.5, rel=0.05)  # the paper's, at any width
    for m in model.modules():
        if isinstance(m, nn.BatchNorm2d):
            assert torch.all(m.weight == 1) and torch.all(m.bias == 0)
        if isinstance(m, nn.Conv2d) and m.bias is not None:
            assert torch.all(m.bias == 0)


@pytest.mark.parametrize(
    ("backbone", "width_mult", "size", "stride"),
    [("resnet34", 0.125, (64, 80), 8), ("mobilenetv2", 0.25, (64, 96), 32)],
)
def test_forward_shapes(
    backbone: str, width_mult: float, size: tuple[int, int], stride: int
) -> None:
    torch.manual_seed(0)
    model = build_model(backbone, NYU_TASKS, NYU_CLASSES, width_mult=width_mult).eval()
    with torch.no_grad():
        features = model.backbone(torch.randn(2, 3, *size))
        out = model(torch.randn(2, 3, *size))
    h, w = size[0] // stride, size[1] // stride
    assert features.shape == (2, model.backbone.out_channels, h, w)
    assert out["segment_semantic"].shape == (2, NYU_CLASSES, h, w)
    assert out["normal"].shape == (2, 3, h, w)
    assert out["depth_zbuffer"].shape == (2, 1, h, w)


@pytest.mark.parametrize("backbone", ["resnet34", "mobilenetv2"])
def test_width_mult_shrinks_the_model(backbone: str) -> None:
    full = n_prunable(meta_model(backbone))
    small = n_prunable(meta_model(backbone, width_mult=0.25))
    assert small < full / 10


@pytest.mark.parametrize("backbone", ["resnet34", "mobilenetv2"])
def test_prunable_weights_cover_every_conv_and_nothing_else(backbone: str) -> None:
    model = meta_model(backbone, width_mult=0.25)
    groups = model.prunable_weights()
    assert list(groups) == ["backbone", *NYU_TASKS]
    weights = [w for ws in groups.values() for w in ws]
    names = [w.name for w in weights]
    assert len(names) == len(set(names))
    convs = {name for name, m in model.named_modules() if isinstance(m, (nn.Conv2d, nn.Linear))}
    assert set(names) == convs
    assert all(w.name.startswith("backbone.") for w in groups["backbone"])
    for task in NYU_TASKS:
        assert all(w.name.startswith(f"heads.{task}.") for w in groups[task])
    prunable_ids = {id(w.param) for w in weights}
    for name, p in model.named_parameters():
        is_conv_weight = name.endswith(".weight") and name.rsplit(".", 1)[0] in convs
        assert (id(p) in prunable_ids) == is_conv_weight, name


# --- MACs ---------------------------------------------------------------------------------


class TinyNet(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(3, 4, 3, padding=1)
        self.bn = nn.BatchNorm2d(4)
        self.grouped = nn.Conv2d(4, 4, 3, stride=2, padding=1, groups=2)
        self.fc = nn.Linear(4 * 4 * 4, 10)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.grouped(torch.relu(self.bn(self.conv(x))))
        return self.fc(x.flatten(1))


def test_layer_macs_by_hand() -> None:
    model = TinyNet()
    before = {k: v.clone() for k, v in model.state_dict().items()}
    macs = layer_macs(model, (8, 8))
    assert macs == {
        "conv": 4 * 8 * 8 * 3 * 3 * 3,  # output elements × in/groups × kh × kw
        "grouped": 4 * 4 * 4 * 2 * 3 * 3,
        "fc": 10 * 64,
    }
    assert model.training  # mode restored, weights and BN statistics untouched
    assert all(torch.equal(v, model.state_dict()[k]) for k, v in before.items())


def test_sparse_macs() -> None:
    macs = {"a": 1000, "b": 300}
    assert sparse_macs(macs, {"a": 0.5, "b": 0.1}) == 530
    assert sparse_macs(macs, {"a": 1.0, "b": 1.0}) == 1300
    with pytest.raises(KeyError, match="b"):
        sparse_macs(macs, {"a": 0.5})


def test_macs_keyed_by_prunable_names_and_summed_by_component() -> None:
    model = meta_model("resnet34")
    per_layer = layer_macs(model, (480, 640))
    names = {w.name for ws in model.prunable_weights().values() for w in ws}
    assert set(per_layer) == names
    assert per_layer["backbone.conv1"] == 64 * 240 * 320 * 3 * 7 * 7
    # layer4 runs at stride 8 thanks to dilation: 60×80 outputs
    assert per_layer["backbone.layer4.2.conv2"] == 512 * 60 * 80 * 512 * 9
    assert per_layer["heads.normal.branches.0.classifier"] == 3 * 60 * 80 * 1024
    by_component = component_macs(model, (480, 640))
    assert by_component["total"] == sum(per_layer.values())
    assert set(by_component) == {"backbone", *NYU_TASKS, "total"}


# --- bench summary ------------------------------------------------------------------------


def test_summary_json(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["summary", "--backbone", "resnet34", "--dataset", "nyuv2", "--json"]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["backbone"] == 21_284_672
    assert summary["total"] == 90_695_664
    assert summary["prunable"] == 90_653_888
    assert summary["prunable_by_component"]["backbone"] == 21_267_648
    assert summary["backbone"] + sum(summary[t] for t in NYU_TASKS) == summary["total"]
    assert set(summary["macs"]) == {"backbone", *NYU_TASKS, "total"}
    assert summary["input_size"] == [480, 640]
    assert summary["width_mult"] == 1.0


def test_summary_table_and_options(capsys: pytest.CaptureFixture[str]) -> None:
    argv = [
        "summary",
        "--backbone",
        "mobilenetv2",
        "--dataset",
        "synthetic",
        "--width-mult",
        "0.25",
        "--input-size",
        "32",
        "48",
    ]
    assert main(argv) == 0
    out = capsys.readouterr().out
    assert "32x48" in out and "segment_semantic" in out and "total" in out
    assert main([*argv, "--json"]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["input_size"] == [32, 48] and summary["width_mult"] == 0.25


def test_layer_macs_falls_back_to_a_real_pass() -> None:
    class WithPlainTensor(TinyNet):
        def __init__(self) -> None:
            super().__init__()
            self.scale = torch.ones(1)  # not a buffer: stays on CPU under functional_call

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return super().forward(x * self.scale)

    assert layer_macs(WithPlainTensor(), (8, 8)) == layer_macs(TinyNet(), (8, 8))


def test_head_dropout_is_inverted_dropout_at_p() -> None:
    from bench.models.heads import Dropout

    drop = Dropout(0.5)
    x = torch.ones(64, 32, 8, 8)
    y = drop.train()(x)
    kept = y != 0
    assert 0.48 < float(kept.float().mean()) < 0.52
    assert torch.all(y[kept] == 2.0)  # survivors scaled by 1 / (1 − p)
    assert torch.equal(drop.eval()(x), x)
    torch.manual_seed(3)
    a = Dropout(0.5).train()(x)
    torch.manual_seed(3)
    assert torch.equal(a, Dropout(0.5).train()(x))  # the global generator: resumable


def test_most_embedded_default_weights_never_read_a_pixel() -> None:
    """docs/protocol.md §3: on 32×32 scenes the feature map is 4×4, so every off-centre tap of a
    3×3 conv dilated by 4 or more (layer4, every ASPP branch) multiplies zero padding only. The
    figure the docs give is counted here from the geometry, and each such tap's gradient is
    checked to be exactly zero."""
    torch.manual_seed(0)
    model = build_model("resnet34", NYU_TASKS, 13, 0.0625)
    sizes: dict[nn.Module, tuple[int, int]] = {}
    convs = [w.module for group in model.prunable_weights().values() for w in group]
    hooks = [c.register_forward_hook(lambda m, i, o: sizes.__setitem__(m, i[0].shape[-2:]))
             for c in convs]
    sum(o.sum() for o in model(torch.randn(4, 3, 32, 32)).values()).backward()
    for h in hooks:
        h.remove()
    total = sum(c.weight.numel() for c in convs)
    unread = {"backbone": 0, "heads": 0}
    for name, conv in ((n, m) for n, m in model.named_modules() if m in sizes):
        if not isinstance(conv, nn.Conv2d) or conv.kernel_size != (3, 3):
            continue
        h, w = sizes[conv]
        dh, dw = conv.dilation
        dead = torch.ones(3, 3, dtype=torch.bool)
        for i in range(3):
            for j in range(3):
                dead[i, j] = abs(i - 1) * dh >= h or abs(j - 1) * dw >= w
        assert torch.all(conv.weight.grad[:, :, dead] == 0), name
        unread["heads" if name.startswith("heads") else "backbone"] += \
            int(dead.sum()) * conv.weight[:, :, 0, 0].numel()
    assert total == 358_316
    assert unread == {"backbone": 45_056, "heads": 196_608}  # 241,664: 67.4 % of the prunable
