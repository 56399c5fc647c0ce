r"""Effective receptive field measured by autograd (Luo et al., NeurIPS 2016, arXiv:1701.04128).

The gradient of one output unit with respect to the input says how much each input pixel
moves it. Averaging ``|d y_centre / d x|`` over random inputs (and channels) gives the
*effective* receptive field: a roughly Gaussian blob that occupies only part of the theoretical
field. :func:`effective_receptive_field` returns the map and two sizes to show beside the
theoretical one: the bounding box of the non-zero gradient (which, for linear layers and
average pooling, IS the theoretical field, clipped to the image) and the side of the smallest
centred square holding ``mass`` (95 %) of the gradient.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from cvprimer.core.random import get_rng
from cvprimer.core.tensor import Tensor


def _output_of(model: Any, x: Tensor, layer: str | None) -> Tensor:
    if layer is None:
        return model(x)
    mods = dict(model.named_modules())
    if layer not in mods:
        raise ValueError(f"effective_receptive_field: no layer {layer!r}; layers: {', '.join(list(mods)[1:])}")
    got: list[Tensor] = []
    h = mods[layer].register_forward_hook(lambda m, a, out: got.append(out) if not got else None)
    try:
        model(x)
    finally:
        h.remove()
    return got[0]


def effective_receptive_field(model: Any, input_shape: tuple[int, ...], layer: str | None = None,
                              unit: tuple[int, int] | None = None, n_samples: int = 4, mass: float = 0.95,
                              rng: np.random.Generator | None = None) -> dict[str, Any]:
    """Average ``|grad|`` of output unit ``unit`` (default: the centre) of ``layer`` (default:
    the model output, which must be 4-D) w.r.t. a random N(0, 1) input of ``input_shape``
    (C, H, W) or (1, C, H, W), summed over channels, over ``n_samples`` inputs.

    Returns ``map`` (H, W, normalized to sum 1), ``support`` ((top, bottom), (left, right)) of
    the non-zero gradient, ``support_size`` (h, w), ``size_mass`` (side of the centred square
    holding ``mass`` of the map) and ``unit``.
    """
    shape = tuple(input_shape)
    if len(shape) == 3:
        shape = (1,) + shape
    if len(shape) != 4 or shape[0] != 1:
        raise ValueError(f"effective_receptive_field: input_shape must be (C, H, W) or (1, C, H, W), got {input_shape}")
    g = get_rng(rng)
    dtype = next((p.data.dtype for p in model.parameters()), np.dtype(np.float32))
    acc = np.zeros(shape[2:], np.float64)
    was = bool(getattr(model, "training", False))
    model.eval()
    try:
        for _ in range(n_samples):
            x = Tensor(g.standard_normal(shape).astype(dtype), requires_grad=True)
            y = _output_of(model, x, layer)
            if y.ndim != 4:
                raise ValueError(f"effective_receptive_field: the output {tuple(y.shape)} is not 4-D (N, C, H, W); "
                                 "pass layer= the name of a convolutional layer")
            i, j = unit if unit is not None else (y.shape[2] // 2, y.shape[3] // 2)
            y[:, :, i, j].sum().backward()
            assert x.grad is not None  # x requires grad and feeds y
            acc += np.abs(x.grad.data[0]).sum(axis=0)
    finally:
        model.train(was)
    total = acc.sum()
    emap = acc / total if total > 0 else acc
    nz = np.argwhere(acc > 1e-12 * max(acc.max(), 1e-300))
    if len(nz) == 0:
        return dict(map=emap, support=None, support_size=(0, 0), size_mass=0, unit=(i, j))
    (t, left), (b, r) = nz.min(axis=0), nz.max(axis=0)
    peak = np.unravel_index(np.argmax(acc), acc.shape)
    ci, cj = (t + b) // 2 if unit is None else peak[0], (left + r) // 2 if unit is None else peak[1]
    ii, jj = np.indices(acc.shape)
    cheb = np.maximum(np.abs(ii - ci), np.abs(jj - cj)).ravel()
    order = np.argsort(cheb, kind="stable")
    cum = np.cumsum(emap.ravel()[order])
    radius = int(cheb[order][np.searchsorted(cum, mass - 1e-12)])
    return dict(map=emap, support=((int(t), int(b)), (int(left), int(r))),
                support_size=(int(b - t + 1), int(r - left + 1)), size_mass=2 * radius + 1, unit=(i, j))
