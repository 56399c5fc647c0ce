"""Proximal L1 (soft-thresholding) as a function and as SGD's ``l1_mode="proximal"``."""

import numpy as np
import pytest

import cvprimer as cp
from cvprimer.optim import SGD, prox_l1_, soft_threshold


def _param(values):
    return cp.Tensor(np.array(values, np.float64), requires_grad=True)


def test_soft_threshold_values_and_exact_zeros():
    x = np.array([-2.0, -0.5, 0.0, 0.3, 1.5])
    out = soft_threshold(x, 1.0)
    assert out.tolist() == [-1.0, 0.0, 0.0, 0.0, 0.5]
    assert np.count_nonzero(out == 0.0) == 3


def test_soft_threshold_is_the_prox_of_l1():
    # argmin_w 0.5 (w - v)^2 + t |w| by brute force on a fine grid
    grid = np.linspace(-3, 3, 60001)
    for v in (-2.2, -0.4, 0.0, 0.7, 1.9):
        w_star = grid[np.argmin(0.5 * (grid - v) ** 2 + 0.8 * np.abs(grid))]
        assert soft_threshold(np.array([v]), 0.8)[0] == pytest.approx(w_star, abs=2e-4)


def test_prox_l1_in_place_and_validation():
    p = _param([0.2, -3.0])
    prox_l1_([p], 0.5)
    assert p.data.tolist() == [0.0, -2.5]
    with pytest.raises(ValueError, match="threshold"):
        prox_l1_([p], -1.0)
    with pytest.raises(ValueError, match="threshold"):
        soft_threshold(np.ones(2), -0.1)


@pytest.mark.parametrize("w0,c,a", [(2.0, 0.3, 1.0), (0.5, -1.2, 2.0), (-1.0, 0.05, 0.5)])
def test_sgd_proximal_step_equals_closed_form_lasso_step(w0, c, a):
    # f(w) = a/2 (w - c)^2, one ISTA step: prox_{lr lam}(w0 - lr a (w0 - c))
    lr, lam = 0.1, 0.7
    w = _param([w0])
    opt = SGD([w], lr=lr, l1_decay=lam, l1_mode="proximal")
    (0.5 * a * (w - c) ** 2).sum().backward()
    opt.step()
    v = w0 - lr * a * (w0 - c)
    expected = np.sign(v) * max(abs(v) - lr * lam, 0.0)
    assert w.data[0] == pytest.approx(expected, abs=1e-12)


def test_sgd_proximal_converges_to_the_lasso_solution_with_exact_zero():
    # minimiser of a/2 (w - c)^2 + lam |w| is soft_threshold(c, lam / a): exactly 0 when |c| <= lam / a
    a, lam = 1.0, 0.5
    cs = np.array([2.0, 0.3, -0.4, -1.5])
    for mode, exact in (("proximal", True), ("subgradient", False)):
        w = _param(np.ones(4))
        opt = SGD([w], lr=0.05, l1_decay=lam, l1_mode=mode)
        for _ in range(400):
            opt.zero_grad()
            (0.5 * a * (w - cp.tensor(cs)) ** 2).sum().backward()
            opt.step()
        want = soft_threshold(cs, lam / a)
        if exact:
            assert np.array_equal(w.data == 0, want == 0) and np.allclose(w.data, want, atol=1e-9)
        else:  # the subgradient iterate hovers around zero without reaching it
            assert np.count_nonzero(w.data == 0) == 0 and np.allclose(w.data, want, atol=0.05)


@pytest.mark.parametrize("kw", [{}, {"momentum": 0.9}, {"momentum": 0.9, "nesterov": True, "weight_decay": 0.01}])
def test_lam_zero_is_plain_sgd(kw):
    rng = np.random.default_rng(0)
    w0, x = rng.standard_normal(5), rng.standard_normal(5)
    runs = []
    for extra in ({}, {"l1_decay": 0.0, "l1_mode": "proximal"}):
        w = _param(w0)
        opt = SGD([w], lr=0.1, **kw, **extra)
        for _ in range(3):
            opt.zero_grad()
            ((w * cp.tensor(x)).sum() ** 2).backward()
            opt.step()
        runs.append(w.data.copy())
    assert np.array_equal(runs[0], runs[1])


def test_subgradient_mode_unchanged_and_bad_mode_rejected():
    w = _param([0.5])
    opt = SGD([w], lr=0.1, l1_decay=1.0)
    (w * 0.0).sum().backward()
    opt.step()
    assert w.data[0] == pytest.approx(0.4)
    with pytest.raises(ValueError, match="l1_mode"):
        SGD([_param([1.0])], lr=0.1, l1_mode="ista")
