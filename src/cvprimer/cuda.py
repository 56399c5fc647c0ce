r"""``cvprimer.cuda``: PyTorch's CUDA queries, answered for a CPU-only library.

``is_available()`` is False and ``device_count()`` 0, so device-picking code written for PyTorch
(``device = 'cuda' if torch.cuda.is_available() else 'cpu'``) runs unchanged and picks the CPU; the seeding
calls (``manual_seed``, ``manual_seed_all``) do nothing, as PyTorch's do on a machine without CUDA.
"""

from __future__ import annotations


def is_available() -> bool:
    """False: cvprimer computes with NumPy on the CPU."""
    return False


def device_count() -> int:
    """0: there is no CUDA device."""
    return 0


def manual_seed(seed: int) -> None:
    """Nothing to seed (PyTorch's call is likewise silently ignored without CUDA); use ``cvprimer.manual_seed``."""


def manual_seed_all(seed: int) -> None:
    """Nothing to seed; see :func:`manual_seed`."""


def is_initialized() -> bool:
    """False: CUDA is never initialized."""
    return False
