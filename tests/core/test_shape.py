"""Parity and gradcheck for shape ops."""

import numpy as np
import pytest
import torch

import cvprimer as cp
import cvprimer.functional as F
from parity import check_grad, parity, randn


@pytest.mark.parametrize("shape", [(12,), (3, 4), (2, -1), (2, 2, 3), (1, 12, 1)])
def test_reshape_view(shape):
    a = randn(3, 4, seed=1)
    parity(lambda x: x.reshape(shape), lambda x: x.reshape(shape), a)
    parity(lambda x: x.view(*shape), lambda x: x.reshape(*shape), a, noncontig=True)
    check_grad(lambda x: cp.reshape(x, shape), a)


@pytest.mark.parametrize("perm", [(0, 1, 2), (2, 0, 1), (1, 2, 0), (-1, 0, 1)])
def test_permute(perm):
    a = randn(2, 3, 4, seed=2)
    parity(lambda x: x.permute(*perm), lambda x: x.permute(*perm), a)
    check_grad(lambda x: x.permute(perm), a)


@pytest.mark.parametrize("d0,d1", [(0, 1), (-1, 0), (1, 2)])
def test_transpose_and_T(d0, d1):
    a = randn(2, 3, 4, seed=3)
    parity(lambda x: x.transpose(d0, d1), lambda x: x.transpose(d0, d1), a)
    parity(lambda x: x.T, lambda x: x.permute(2, 1, 0), a)
    check_grad(lambda x: cp.transpose(x, d0, d1), a)


@pytest.mark.parametrize("s,e", [(0, -1), (1, -1), (1, 2), (0, 1)])
def test_flatten(s, e):
    a = randn(2, 3, 4, 5, seed=4)
    parity(lambda x: x.flatten(s, e), lambda x: x.flatten(s, e), a)


@pytest.mark.parametrize("dim", [None, 0, 2, -1, (0, 2)])
def test_squeeze(dim):
    a = randn(1, 3, 1, 4, seed=5)
    parity(lambda x: cp.squeeze(x, dim), lambda x: x.squeeze() if dim is None else x.squeeze(dim), a)


@pytest.mark.parametrize("dim", [0, 1, 3, -1, -4])
def test_unsqueeze(dim):
    a = randn(2, 3, 4, seed=6)
    parity(lambda x: x.unsqueeze(dim), lambda x: x.unsqueeze(dim), a)


@pytest.mark.parametrize("src,dst", [((3, 1), (3, 4)), ((4,), (2, 3, 4)), ((1, 1), (2, 5))])
def test_expand_and_broadcast_to(src, dst):
    a = randn(*src, seed=7)
    parity(lambda x: x.expand(*dst), lambda x: x.expand(*dst), a)
    parity(lambda x: cp.broadcast_to(x, dst), lambda x: torch.broadcast_to(x, dst), a)
    check_grad(lambda x: x.expand(dst), a)


def test_expand_minus_one_keeps_axis():
    assert cp.zeros(3, 1).expand(-1, 5).shape == (3, 5)


@pytest.mark.parametrize("dim", [0, 1, -1])
def test_cat(dim):
    a, b, c = randn(2, 3, 4, seed=8), randn(2, 3, 4, seed=9), randn(2, 3, 4, seed=10)
    parity(lambda *xs: cp.cat(xs, dim), lambda *xs: torch.cat(xs, dim), a, b, c)
    check_grad(lambda *xs: cp.cat(xs, dim), a, b, c)


def test_cat_different_lengths_along_dim():
    a, b = randn(2, 3, seed=11), randn(2, 5, seed=12)
    parity(lambda x, y: cp.cat([x, y], 1), lambda x, y: torch.cat([x, y], 1), a, b)


@pytest.mark.parametrize("dim", [0, 1, 2, -1])
def test_stack(dim):
    a, b = randn(2, 3, seed=13), randn(2, 3, seed=14)
    parity(lambda x, y: cp.stack([x, y], dim), lambda x, y: torch.stack([x, y], dim), a, b)
    check_grad(lambda x, y: cp.stack([x, y], dim), a, b)


@pytest.mark.parametrize("size", [2, 3, [1, 4, 2], 7])
@pytest.mark.parametrize("dim", [0, -1])
def test_split(size, dim):
    a = randn(7, 7, seed=15)
    parity(lambda x: cp.split(x, size, dim), lambda x: torch.split(x, size, dim), a)
    check_grad(lambda x: cp.split(x, size, dim), a)


@pytest.mark.parametrize("chunks", [1, 2, 3, 4])
def test_chunk(chunks):
    a = randn(2, 7, seed=16)
    parity(lambda x: x.chunk(chunks, 1), lambda x: x.chunk(chunks, 1), a)


def test_split_unused_piece_gets_zero_gradient():
    x = cp.tensor(randn(6, seed=17), requires_grad=True)
    a, _, c = cp.split(x, 2)
    (a.sum() + 2 * c.sum()).backward()
    np.testing.assert_array_equal(x.grad.numpy(), [1, 1, 0, 0, 2, 2])


@pytest.mark.parametrize("mode", ["constant", "reflect", "replicate", "circular"])
@pytest.mark.parametrize("pad", [(1, 2), (2, 1, 0, 2), (1, 1, 1, 1)])
def test_pad(mode, pad):
    # PyTorch's non-constant modes take 3-D input for 1-axis padding, 4-D for 2-axis
    a = randn(2, 3, 4, 5, seed=18) if len(pad) == 4 else randn(2, 3, 5, seed=18)
    parity(lambda x: F.pad(x, pad, mode), lambda x: torch.nn.functional.pad(x, pad, mode), a)
    check_grad(lambda x: F.pad(x, pad, mode), a[:1, :1])


def test_pad_constant_value_and_negative_crop():
    a = randn(2, 3, 5, seed=19)
    parity(lambda x: F.pad(x, (2, -1), value=0.5), lambda x: torch.nn.functional.pad(x, (2, -1), value=0.5), a)
    parity(lambda x: F.pad(x, (-1, -2, 1, 0)), lambda x: torch.nn.functional.pad(x, (-1, -2, 1, 0)), a)


def test_shape_errors_are_clear():
    with pytest.raises(ValueError, match=r"reshape: cannot reshape a tensor of shape \(2, 3\)"):
        cp.zeros(2, 3).reshape(4, 2)
    with pytest.raises(ValueError, match="cat: shapes"):
        cp.cat([cp.zeros(2, 3), cp.zeros(3, 3)], 1)
    with pytest.raises(ValueError, match="stack: all tensors must have the same shape"):
        cp.stack([cp.zeros(2), cp.zeros(3)])
    with pytest.raises(ValueError, match=r"expand: cannot broadcast shape \(3, 2\)"):
        cp.zeros(3, 2).expand(3, 4)
    with pytest.raises(ValueError, match="reflect padding"):
        F.pad(cp.zeros(1, 1, 3), (3, 0), "reflect")
    with pytest.raises(ValueError, match="pad: pad"):
        F.pad(cp.zeros(2, 2), (1, 1, 1))
    with pytest.raises(ValueError, match="split: sizes"):
        cp.split(cp.zeros(5), [2, 2])
    with pytest.raises(ValueError, match="permute"):
        cp.zeros(2, 3).permute(0, 0)
