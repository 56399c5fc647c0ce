r"""``Parameter``: a Tensor that a :class:`~cvprimer.nn.Module` registers as learnable."""

from __future__ import annotations

from typing import Any

import numpy as np

from cvprimer.core.tensor import Tensor, _to_array


class Parameter(Tensor):
    r"""A leaf Tensor with ``requires_grad=True`` by default, registered by modules.

    Assigning a ``Parameter`` to a module attribute (``self.weight = Parameter(...)``) adds it
    to ``module.parameters()``; a plain Tensor attribute is not registered.

    Parameters
    ----------
    data : array-like or Tensor
        The initial values. A Tensor or NumPy array is shared, not copied (as ``torch``).
    requires_grad : bool
        Default True; False makes a frozen parameter that optimizers skip.

    Example
    -------
    >>> import numpy as np
    >>> w = Parameter(np.zeros((2, 3), np.float32))
    >>> w.requires_grad, w.shape
    (True, (2, 3))
    """

    def __init__(self, data: Any = None, requires_grad: bool = True) -> None:
        if data is None:
            data = np.zeros((0,), np.float32)
        arr = _to_array(data)
        super().__init__(arr, requires_grad=requires_grad)

    def __repr__(self) -> str:
        return "Parameter containing:\n" + super().__repr__()
