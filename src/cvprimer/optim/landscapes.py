r"""Two-dimensional test functions for optimizers, and the path an optimizer takes on them.

Each :class:`TestFunction` gives its value (written with ``+ - * **`` only, so it evaluates NumPy arrays
for contour plots *and* cvprimer Tensors for autograd), its analytic gradient, its global minima and a
plotting window. :func:`trajectory` runs any optimizer of :mod:`cvprimer.optim` on one of them::

    from cvprimer import optim
    from cvprimer.optim.landscapes import ROSENBROCK, trajectory, distance_to_minimum

    path = trajectory(lambda ps: optim.Adam(ps, lr=0.05), ROSENBROCK, start=(-1.5, 2.0), steps=500)
    path.shape                                   # (501, 2): the start and every iterate
    distance_to_minimum(ROSENBROCK, path)[-1]    # Euclidean distance to (1, 1) after 500 steps

Functions (``(x, y)`` the point):

* **Rosenbrock** (1960), ``a = 1, b = 100``: ``f = (a - x)^2 + b (y - x^2)^2``; one minimum ``f(1, 1) = 0``
  at the end of a long, curved, flat-bottomed valley (condition number of the Hessian there about 2,500).
* **Beale** (1958): ``f = (1.5 - x + x y)^2 + (2.25 - x + x y^2)^2 + (2.625 - x + x y^3)^2``; one minimum
  ``f(3, 0.5) = 0``; flat plateaus and steep walls, gradients spanning many orders of magnitude.
* **Saddle** (a double well in ``y``): ``f = x^2 / 2 + y^4 / 4 - y^2 / 2``; a saddle point at ``(0, 0)``
  (``f = 0``, Hessian ``diag(1, -1)``) and two minima ``f(0, +-1) = -1/4``. Its stable manifold is the line
  ``y = 0``: gradient descent started there converges to the saddle, never to a minimum.
* **Quadratic** (an ill-conditioned bowl): ``f = (x^2 + kappa y^2) / 2`` with ``kappa = 10``; minimum
  ``f(0, 0) = 0``; Hessian ``diag(1, kappa)``, so plain gradient descent zig-zags across the steep axis.

The gradients are written out by hand (``grad``) and checked against autograd and central differences in
the tests; :func:`trajectory` feeds the analytic gradient to the optimizer (no graph per step, so a
10,000-step path costs milliseconds of bookkeeping, not of autograd).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

import numpy as np

from cvprimer.core.tensor import Tensor


@dataclass(frozen=True)
class TestFunction:
    """A 2-D objective: ``value(x, y)``, analytic ``grad(x, y) -> (gx, gy)``, its minima and plot window.

    ``minima`` is an ``(m, 2)`` array of the global minimizers, ``min_value`` the value there; ``window``
    is ``(x_lo, x_hi, y_lo, y_hi)`` for contour plots; ``start`` a customary hard starting point.
    """

    __test__ = False  # not a pytest class, despite the name

    name: str
    formula: str
    value: Callable[[Any, Any], Any]
    grad: Callable[[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]
    minima: np.ndarray
    min_value: float
    window: tuple[float, float, float, float]
    start: tuple[float, float]

    def __call__(self, x: Any, y: Any) -> Any:
        return self.value(x, y)

    def grid(self, n: int = 200) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """``X, Y, Z`` on an ``n x n`` grid over ``window`` (for ``ax.contour``)."""
        x0, x1, y0, y1 = self.window
        xx, yy = np.meshgrid(np.linspace(x0, x1, n), np.linspace(y0, y1, n))
        return xx, yy, self.value(xx, yy)


def _rosen(x: Any, y: Any) -> Any:
    return (1 - x) ** 2 + 100 * (y - x**2) ** 2


def _rosen_grad(x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    return -2 * (1 - x) - 400 * x * (y - x**2), 200 * (y - x**2)


def _beale(x: Any, y: Any) -> Any:
    return (1.5 - x + x * y) ** 2 + (2.25 - x + x * y**2) ** 2 + (2.625 - x + x * y**3) ** 2


def _beale_grad(x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    a, b, c = 1.5 - x + x * y, 2.25 - x + x * y**2, 2.625 - x + x * y**3
    gx = 2 * a * (y - 1) + 2 * b * (y**2 - 1) + 2 * c * (y**3 - 1)
    gy = 2 * a * x + 4 * b * x * y + 6 * c * x * y**2
    return gx, gy


def _saddle(x: Any, y: Any) -> Any:
    return 0.5 * x**2 + 0.25 * y**4 - 0.5 * y**2


def _saddle_grad(x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    return x, y**3 - y


KAPPA = 10.0


def _quad(x: Any, y: Any) -> Any:
    return 0.5 * x**2 + (0.5 * KAPPA) * y**2


def _quad_grad(x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    return x, KAPPA * y


ROSENBROCK = TestFunction("rosenbrock", "(1 - x)^2 + 100 (y - x^2)^2", _rosen, _rosen_grad,
                          np.array([[1.0, 1.0]]), 0.0, (-2.0, 2.0, -1.0, 3.0), (-1.5, 2.0))
BEALE = TestFunction("beale", "(1.5 - x + xy)^2 + (2.25 - x + xy^2)^2 + (2.625 - x + xy^3)^2", _beale, _beale_grad,
                     np.array([[3.0, 0.5]]), 0.0, (-4.5, 4.5, -4.5, 4.5), (1.0, 1.5))
SADDLE = TestFunction("saddle", "x^2/2 + y^4/4 - y^2/2", _saddle, _saddle_grad,
                      np.array([[0.0, 1.0], [0.0, -1.0]]), -0.25, (-2.0, 2.0, -1.6, 1.6), (1.5, 1e-3))
QUADRATIC = TestFunction("quadratic", "(x^2 + 10 y^2) / 2", _quad, _quad_grad, np.array([[0.0, 0.0]]), 0.0,
                         (-3.0, 3.0, -1.5, 1.5), (-2.5, 1.0))

FUNCTIONS: dict[str, TestFunction] = {f.name: f for f in (ROSENBROCK, BEALE, SADDLE, QUADRATIC)}


def trajectory(optimizer_factory: Callable[[list[Tensor]], Any], fn: TestFunction,
               start: Iterable[float] | None = None, steps: int = 200,
               noise: Callable[[int], np.ndarray] | None = None) -> np.ndarray:
    r"""The iterates of an optimizer minimizing ``fn`` from ``start``.

    Parameters
    ----------
    optimizer_factory : ``params -> Optimizer``, e.g. ``lambda ps: optim.SGD(ps, lr=1e-3, momentum=0.9)``
    fn : a :class:`TestFunction` (``FUNCTIONS[name]``)
    start : the first point ``(x, y)``; default ``fn.start``
    steps : number of optimizer steps (>= 0)
    noise : optional ``t -> (2,) array`` added to the gradient at step ``t`` (a stochastic-gradient model)

    Returns
    -------
    ndarray of shape ``(steps + 1, 2)``, float64: the start, then the point after each step. A path that
    overflows keeps its non-finite values (a diverged optimizer is a result, not an error).

    Notes
    -----
    The point is one float64 Tensor of shape (2,); each step sets its ``.grad`` to the analytic gradient
    ``fn.grad`` (plus ``noise(t)``) and calls ``optimizer.step()``, exactly what ``loss.backward()`` would
    have left there.
    """
    if steps < 0:
        raise ValueError(f"trajectory: steps must be >= 0, got {steps}")
    p0 = np.asarray(fn.start if start is None else tuple(start), dtype=np.float64)
    if p0.shape != (2,):
        raise ValueError(f"trajectory: start must be a point (x, y), got shape {p0.shape}")
    p = Tensor(p0.copy(), requires_grad=True)
    opt = optimizer_factory([p])
    path = np.empty((steps + 1, 2), np.float64)
    path[0] = p0
    with np.errstate(all="ignore"):
        for t in range(steps):
            gx, gy = fn.grad(p.data[0], p.data[1])
            g = np.array([gx, gy], np.float64)
            if noise is not None:
                g = g + np.asarray(noise(t), np.float64)
            p.grad = Tensor(g)
            opt.step()
            path[t + 1] = p.data
    return path


def distance_to_minimum(fn: TestFunction, path: np.ndarray) -> np.ndarray:
    """Euclidean distance from each point of ``path`` (``(n, 2)``) to the nearest global minimum of ``fn``."""
    path = np.asarray(path, np.float64)
    if path.ndim != 2 or path.shape[1] != 2:
        raise ValueError(f"distance_to_minimum: path must have shape (n, 2), got {path.shape}")
    with np.errstate(over="ignore", invalid="ignore"):  # a diverged path has distance inf (or nan)
        d = np.linalg.norm(path[:, None, :] - fn.minima[None, :, :], axis=-1)
    return d.min(axis=1)
