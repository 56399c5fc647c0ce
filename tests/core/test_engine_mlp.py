"""End to end: a two-layer MLP written with the raw engine learns a fixed problem."""

import numpy as np

import cvprimer as cp


def test_two_layer_mlp_loss_falls():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((256, 2)).astype(np.float32)
    y = (x[:, :1] * x[:, 1:] > 0).astype(np.float32)  # XOR-like quadrants: not linearly separable
    w1 = cp.Tensor(rng.standard_normal((2, 32)).astype(np.float32) * 0.7, requires_grad=True)
    b1 = cp.zeros(32, requires_grad=True)
    w2 = cp.Tensor(rng.standard_normal((32, 1)).astype(np.float32) * 0.2, requires_grad=True)
    b2 = cp.zeros(1, requires_grad=True)
    xt, yt = cp.Tensor(x), cp.Tensor(y)
    losses = []
    for _ in range(300):
        p = ((xt @ w1 + b1).relu() @ w2 + b2).sigmoid()
        loss = -(yt * cp.log(p + 1e-7) + (1 - yt) * cp.log(1 - p + 1e-7)).mean()
        for t in (w1, b1, w2, b2):
            t.grad = None
        loss.backward()
        with cp.no_grad():
            for t in (w1, b1, w2, b2):
                t.data -= 0.5 * t.grad.data
        losses.append(loss.item())
    assert losses[-1] < 0.25 * losses[0]
    acc = ((p.data > 0.5) == (y > 0.5)).mean()
    assert acc > 0.95
