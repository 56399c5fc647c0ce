"""Every model runs forward and backward on a small input, with the right output shape and a
finite gradient for every parameter. Reduced widths/depths keep the default run fast; the
architectures are the ones whose full sizes test_param_counts.py checks."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

import cvprimer as cp
from cvprimer import models, nn
from cvprimer.models import num_parameters

CASES: list[tuple[str, dict[str, Any], tuple[int, ...], tuple[int, ...]]] = [
    ("lenet5", {}, (2, 1, 32, 32), (2, 10)),
    ("lenet5", {"input_size": 28, "in_channels": 3, "num_classes": 4}, (2, 3, 28, 28), (2, 4)),
    ("lenet5_original", {}, (2, 1, 32, 32), (2, 10)),
    ("vgg11_bn", {"classifier_width": 16, "pool_size": 1, "num_classes": 5}, (2, 3, 32, 32), (2, 5)),
    ("resnet18", {"width_mult": 0.125, "num_classes": 5}, (2, 3, 32, 32), (2, 5)),
    ("resnet50", {"width_mult": 0.0625, "num_classes": 5}, (2, 3, 32, 32), (2, 5)),
    ("se_resnet50", {"width_mult": 0.0625, "num_classes": 5}, (2, 3, 32, 32), (2, 5)),
    ("se_resnet18", {"width_mult": 0.125, "reduction": 4, "num_classes": 5}, (2, 3, 32, 32), (2, 5)),
    ("resnet20", {"width_mult": 0.5}, (2, 3, 32, 32), (2, 10)),
    ("resnet20", {"in_channels": 1, "num_classes": 3}, (2, 1, 16, 16), (2, 3)),
    ("mobilenet_v1", {"width_mult": 0.25, "num_classes": 5}, (2, 3, 32, 32), (2, 5)),
    ("mobilenet_v2", {"width_mult": 0.35, "num_classes": 5}, (2, 3, 32, 32), (2, 5)),
    ("shufflenet_v2_x0_5", {"num_classes": 5}, (2, 3, 32, 32), (2, 5)),
    ("squeezenet1_0", {"num_classes": 5}, (2, 3, 35, 35), (2, 5)),
    ("squeezenet1_1", {"num_classes": 5}, (2, 3, 33, 33), (2, 5)),
    ("unet", {"base_channels": 4, "depth": 2, "upsampling": "bilinear"}, (2, 3, 16, 12), (2, 2, 16, 12)),
    ("unet", {"base_channels": 4, "depth": 3, "upsampling": "transposed", "num_classes": 3}, (1, 3, 16, 16),
     (1, 3, 16, 16)),
    ("unet", {"base_channels": 4, "depth": 2, "upsampling": "unpool", "batch_norm": False}, (2, 1 + 2, 8, 8),
     (2, 2, 8, 8)),
    ("fcn", {"widths": (4, 8, 8), "upsampling": "bilinear", "num_classes": 3}, (2, 3, 16, 16), (2, 3, 16, 16)),
    ("fcn", {"widths": (4, 8, 8, 8), "upsampling": "transposed", "num_classes": 3}, (2, 3, 16, 8), (2, 3, 16, 8)),
    ("fcn", {"widths": (4, 8, 8), "upsampling": "unpool", "num_classes": 3}, (2, 3, 8, 8), (2, 3, 8, 8)),
    ("fcn", {"widths": (4, 8, 8, 8), "upsampling": "bilinear", "dilated": True}, (2, 3, 8, 8), (2, 21, 8, 8)),
    ("fcn", {"widths": (4, 8, 8, 8), "upsampling": "transposed", "dilated": True}, (2, 3, 8, 8), (2, 21, 8, 8)),
    ("fcn", {"widths": (4, 8, 8, 8), "upsampling": "unpool", "dilated": True}, (2, 3, 8, 8), (2, 21, 8, 8)),
    ("dcgan_discriminator", {"ndf": 4, "image_size": 32}, (2, 3, 32, 32), (2,)),
    ("dcgan_discriminator", {"ndf": 4, "image_size": 16, "in_channels": 1, "sigmoid": False}, (2, 1, 16, 16), (2,)),
    ("vit_tiny", {"embed_dim": 16, "depth": 2, "num_heads": 2, "patch_size": 8}, (2, 3, 32, 32), (2, 10)),
    ("vit_tiny", {"embed_dim": 8, "depth": 1, "num_heads": 4, "image_size": 12, "patch_size": 3, "in_channels": 1,
                  "num_classes": 2}, (2, 1, 12, 12), (2, 2)),
]


def run_and_check(model: Any, x_shape: tuple[int, ...], out_shape: tuple[int, ...], seed: int = 0) -> Any:
    rng = np.random.default_rng(seed)
    x = cp.tensor(rng.standard_normal(x_shape).astype(np.float32), requires_grad=True)
    y = model(x)
    assert y.shape == out_shape
    assert np.isfinite(y.data).all()
    (y * cp.tensor(rng.standard_normal(out_shape).astype(np.float32))).sum().backward()
    assert x.grad is not None and x.grad.shape == x_shape and np.isfinite(x.grad.data).all()
    for name, p in model.named_parameters():
        assert p.grad is not None, f"no gradient reached {name}"
        assert p.grad.shape == p.shape and np.isfinite(p.grad.data).all(), name
    return y


@pytest.mark.parametrize("name,cfg,x_shape,out_shape", CASES,
                         ids=[f"{c[0]}-{i}" for i, c in enumerate(CASES)])
def test_forward_backward(name: str, cfg: dict[str, Any], x_shape: tuple[int, ...],
                          out_shape: tuple[int, ...]) -> None:
    model = models.get_model(name, rng=np.random.default_rng(1), **cfg)
    run_and_check(model, x_shape, out_shape)
    if name == "vit_tiny":   # torchvision zero-initialises the head: the trunk's gradients are 0 at init
        assert np.all(model.heads.head.weight.data == 0)


@pytest.mark.slow
def test_alexnet_full_size() -> None:
    # one build of the 61M-parameter AlexNet: torchvision's count, and a pass at its smallest input (63x63)
    model = models.get_model("alexnet", num_classes=1000, rng=np.random.default_rng(0))
    assert num_parameters(model) == 61_100_840
    run_and_check(model, (2, 3, 63, 63), (2, 1000))


def test_dcgan_generator_feeds_discriminator() -> None:
    g = models.get_model("dcgan_generator", nz=8, ngf=4, image_size=32, rng=np.random.default_rng(0))
    d = models.get_model("dcgan_discriminator", ndf=4, image_size=32, rng=np.random.default_rng(1))
    z = cp.tensor(np.random.default_rng(2).standard_normal((3, 8)).astype(np.float32))
    img = g(z)
    assert img.shape == (3, 3, 32, 32) and np.abs(img.data).max() <= 1.0   # Tanh output
    assert g(z.reshape(3, 8, 1, 1)).shape == (3, 3, 32, 32)
    p = d(img)
    assert p.shape == (3,) and ((p.data > 0) & (p.data < 1)).all()          # Sigmoid output
    p.sum().backward()
    assert all(q.grad is not None for q in g.parameters())


def test_dcgan_64_layer_widths() -> None:
    # Radford et al. Fig. 1 (64x64 output): 4x4 maps of 8 ngf channels, halving to ngf, then the image.
    g = models.DCGANGenerator(nz=100, ngf=128, image_size=64)
    convs = [m for m in g.modules() if isinstance(m, nn.ConvTranspose2d)]
    assert [c.weight.shape[1] for c in convs] == [1024, 512, 256, 128, 3]


def test_googlenet_with_aux_heads() -> None:
    # full-size GoogLeNet (no width option): in training mode it returns (logits, aux2, aux1) and
    # every parameter, the auxiliary heads' included, receives a gradient
    model = models.GoogLeNet(num_classes=4, aux_logits=True, rng=np.random.default_rng(0))
    x = cp.randn(2, 3, 32, 32)
    out = model(x)
    assert isinstance(out, tuple) and [o.shape for o in out] == [(2, 4)] * 3
    (out[0].sum() + out[1].sum() * 0.3 + out[2].sum() * 0.3).backward()
    for name, p in model.named_parameters():
        assert p.grad is not None and np.isfinite(p.grad.data).all(), name
    model.eval()
    assert model(x).shape == (2, 4)
    assert num_parameters(model) > num_parameters(models.GoogLeNet(num_classes=4))


def test_resnet_dilated_output_stride() -> None:
    m = models.get_model("resnet50", width_mult=0.0625, replace_stride_with_dilation=(False, True, True))
    f = m.forward_features(cp.randn(2, 3, 64, 64))
    assert f.shape == (2, m.out_channels, 8, 8)          # output stride 8 instead of 32
    plain = models.get_model("resnet50", width_mult=0.0625)
    assert num_parameters(plain) == num_parameters(m)       # dilation changes no parameter
    assert plain.forward_features(cp.randn(2, 3, 64, 64)).shape == (2, m.out_channels, 2, 2)


def test_eval_mode_is_deterministic() -> None:
    m = models.get_model("squeezenet1_1", num_classes=3, rng=np.random.default_rng(0)).eval()
    x = cp.randn(1, 3, 33, 33)
    np.testing.assert_array_equal(m(x).data, m(x).data)


def test_same_rng_same_weights() -> None:
    a = models.get_model("resnet20", rng=np.random.default_rng(7)).state_dict()
    b = models.get_model("resnet20", rng=np.random.default_rng(7)).state_dict()
    c = models.get_model("resnet20", rng=np.random.default_rng(8)).state_dict()
    assert all(np.array_equal(a[k], b[k]) for k in a)
    assert not np.array_equal(a["conv1.weight"], c["conv1.weight"])


@pytest.mark.parametrize("name,cfg,x_shape,out_shape", [
    ("mobilenet_v1", {"resolution_mult": 128 / 224}, (1, 3, 128, 128), (1, 1000)),
    ("shufflenet_v2_x0_5", {}, (1, 3, 224, 224), (1, 1000)),
    pytest.param("resnet50", {}, (1, 3, 224, 224), (1, 1000), marks=pytest.mark.slow),
    pytest.param("densenet121", {}, (1, 3, 224, 224), (1, 1000), marks=pytest.mark.slow),
    pytest.param("googlenet", {}, (1, 3, 224, 224), (1, 1000), marks=pytest.mark.slow),
    pytest.param("mobilenet_v2", {}, (1, 3, 224, 224), (1, 1000), marks=pytest.mark.slow),
    pytest.param("vit_b_16", {}, (1, 3, 224, 224), (1, 1000), marks=pytest.mark.slow),
    ("unet", {"upsampling": "unpool", "base_channels": 16}, (1, 3, 64, 48), (1, 2, 64, 48)),
    ("fcn", {"dilated": True, "upsampling": "transposed"}, (1, 3, 64, 64), (1, 21, 64, 64)),
])
def test_full_size_shapes_at_native_resolution(name: str, cfg: dict[str, Any], x_shape: tuple[int, ...],
                                               out_shape: tuple[int, ...]) -> None:
    # shape-only execution (ops with an ``infer`` skip their arithmetic): full networks at native size
    from cvprimer.core.function import shape_only

    model = models.get_model(name, rng=np.random.default_rng(0), **cfg).eval()
    with cp.no_grad(), shape_only():
        assert model(cp.zeros(*x_shape)).shape == out_shape


@pytest.mark.parametrize("name,size", [("squeezenet1_0", 21), ("squeezenet1_1", 17), ("googlenet", 15)])
def test_smallest_inputs_torchvision_accepts(name, size):
    # torchvision documents these minimum sizes; they need ceil-mode pooling windows that overhang
    m = models.get_model(name, num_classes=10).eval()
    with cp.no_grad():
        assert m(cp.zeros(1, 3, size, size)).shape == (1, 10)
