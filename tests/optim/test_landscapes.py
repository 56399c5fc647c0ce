"""optim.landscapes: analytic gradients vs autograd and central differences, the stated minima, trajectory."""

import numpy as np
import pytest

import cvprimer as cp
from cvprimer import optim
from cvprimer.optim.landscapes import (
    BEALE,
    FUNCTIONS,
    QUADRATIC,
    ROSENBROCK,
    SADDLE,
    distance_to_minimum,
    trajectory,
)

POINTS = np.random.default_rng(0).uniform(-1.8, 1.8, size=(6, 2))


@pytest.mark.parametrize("name", sorted(FUNCTIONS))
def test_gradient_matches_central_differences(name):
    fn, h = FUNCTIONS[name], 1e-6
    for x, y in POINTS:
        gx, gy = fn.grad(x, y)
        nx = (fn(x + h, y) - fn(x - h, y)) / (2 * h)
        ny = (fn(x, y + h) - fn(x, y - h)) / (2 * h)
        np.testing.assert_allclose([gx, gy], [nx, ny], rtol=1e-6, atol=1e-5)


@pytest.mark.parametrize("name", sorted(FUNCTIONS))
def test_gradient_matches_autograd(name):
    fn = FUNCTIONS[name]
    for x, y in POINTS:
        p = cp.tensor(np.array([x, y]), requires_grad=True)
        fn(p[0], p[1]).backward()
        np.testing.assert_allclose(p.grad.data, fn.grad(x, y), rtol=1e-10, atol=1e-10)


@pytest.mark.parametrize("name", sorted(FUNCTIONS))
def test_minima_are_stationary_with_the_stated_value_and_lowest_on_a_grid(name):
    fn = FUNCTIONS[name]
    for x, y in fn.minima:
        assert fn(x, y) == pytest.approx(fn.min_value, abs=1e-12)
        np.testing.assert_allclose(fn.grad(x, y), 0.0, atol=1e-12)
    _, _, z = fn.grid(301)
    assert z.min() >= fn.min_value - 1e-12


def test_saddle_point_and_its_stable_manifold():
    assert SADDLE(0.0, 0.0) == 0.0 and np.allclose(SADDLE.grad(0.0, 0.0), 0.0)
    path = trajectory(lambda ps: optim.SGD(ps, lr=0.1), SADDLE, start=(1.5, 0.0), steps=300)
    assert np.abs(path[-1]).max() < 1e-10  # GD on y = 0 converges to the saddle, not a minimum
    noisy = trajectory(lambda ps: optim.SGD(ps, lr=0.1), SADDLE, start=(1.5, 0.0), steps=300,
                       noise=lambda t: np.random.default_rng(t).normal(0, 0.05, 2))
    assert distance_to_minimum(SADDLE, noisy)[-1] < 0.1


def test_trajectory_is_the_optimizer_on_the_analytic_gradient():
    path = trajectory(lambda ps: optim.SGD(ps, lr=0.1), QUADRATIC, start=(1.0, 1.0), steps=3)
    assert path.shape == (4, 2) and path.dtype == np.float64
    np.testing.assert_allclose(path[:, 0], 0.9 ** np.arange(4))        # x <- x - 0.1 x
    np.testing.assert_allclose(path[1:, 1], 0.0, atol=1e-15)            # y <- y - 0.1 * 10 y = 0


def test_optimizers_reach_the_rosenbrock_and_beale_minima():
    p = trajectory(lambda ps: optim.SGD(ps, lr=1e-3, momentum=0.9), ROSENBROCK, steps=2000)
    assert distance_to_minimum(ROSENBROCK, p)[-1] < 1e-2
    p = trajectory(lambda ps: optim.Adam(ps, lr=0.05), BEALE, steps=2000)
    assert distance_to_minimum(BEALE, p)[-1] < 1e-2


def test_bad_arguments():
    with pytest.raises(ValueError, match="steps"):
        trajectory(lambda ps: optim.SGD(ps, lr=0.1), QUADRATIC, steps=-1)
    with pytest.raises(ValueError, match="start"):
        trajectory(lambda ps: optim.SGD(ps, lr=0.1), QUADRATIC, start=(1.0, 2.0, 3.0))
    with pytest.raises(ValueError, match="shape"):
        distance_to_minimum(QUADRATIC, np.zeros(3))
