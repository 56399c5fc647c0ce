r"""Devices and dtypes, PyTorch's spelling: ``cp.device('cpu')``, ``x.to(device)``, ``x.to(cp.float64)``,
``x.to(other)``, ``x.cpu()``, ``x.device``, and the dtype names ``cp.float32``, ``cp.float64``, ``cp.int64``, ...

cvprimer computes with NumPy on the CPU, so there is one device, ``device('cpu')``; naming another (``'cuda'``,
``'mps'``, ...) is refused at once with one line saying so, rather than later inside a computation.
``cvprimer.cuda.is_available()`` is False, so the usual ``'cuda' if torch.cuda.is_available() else 'cpu'`` picks
the CPU unchanged.

The dtype names are NumPy dtypes (``cp.float64 is np.dtype('float64')``): every place that takes a dtype takes
either spelling, and ``x.dtype == cp.float32`` compares as in PyTorch.
"""

from __future__ import annotations

import builtins  # the module's own ``int``, ``float`` and ``bool`` are dtypes
import re
from typing import Any

import numpy as np

from cvprimer.core import api
from cvprimer.core.tensor import Tensor

# dtype names as PyTorch spells them (torch.float is float32, torch.long int64, ...)
float16 = half = np.dtype(np.float16)
float32 = float = np.dtype(np.float32)  # noqa: A001 - PyTorch's name
float64 = double = np.dtype(np.float64)
complex64 = np.dtype(np.complex64)
complex128 = np.dtype(np.complex128)
uint8 = np.dtype(np.uint8)
int8 = np.dtype(np.int8)
int16 = short = np.dtype(np.int16)
int32 = int = np.dtype(np.int32)  # noqa: A001
int64 = long = np.dtype(np.int64)
bool = np.dtype(np.bool_)  # noqa: A001

DTYPE_NAMES = ("float16", "half", "float32", "float", "float64", "double", "complex64", "complex128", "uint8",
               "int8", "int16", "short", "int32", "int", "int64", "long", "bool")

# device types PyTorch knows; all but 'cpu' are refused here
_DEVICE_TYPES = ("cpu", "cuda", "mps", "xpu", "xla", "meta", "hip", "ipu", "hpu", "mtia", "vulkan", "opengl",
                 "opencl", "ideep", "mkldnn", "ve", "fpga", "maia", "lazy", "privateuseone")
_DEVICE_RE = re.compile(r"^([a-z_]+)(?::(\d+))?$")


class device:  # noqa: N801 - PyTorch's name
    r"""Where a tensor lives: always ``device(type='cpu')`` in cvprimer.

    Accepts PyTorch's spellings: ``device('cpu')``, ``device('cpu:0')``, ``device('cpu', 0)``, another
    ``device``. Any other device type (``'cuda'``, ``'mps'``, ...) raises a RuntimeError naming it.

    Example
    -------
    >>> import cvprimer as cp
    >>> cp.device('cpu')
    device(type='cpu')
    >>> cp.tensor([1.0]).device == cp.device('cpu')
    True
    """

    __slots__ = ("type", "index")
    type: str  # noqa: A003 - PyTorch's attribute name
    index: builtins.int | None

    def __init__(self, type: Any, index: Any = None) -> None:  # noqa: A002 - PyTorch's argument name
        if isinstance(type, device):
            if index is not None:
                raise ValueError(f"device: an index ({index!r}) cannot be given with a device object ({type!r})")
            self.type, self.index = type.type, type.index
            return
        if not isinstance(type, str):
            raise TypeError(f"device: expected a string such as 'cpu' or a device, got {type!r}")
        m = _DEVICE_RE.match(type.strip())
        if m is None or m.group(1) not in _DEVICE_TYPES:
            raise RuntimeError(f"device: expected one of {', '.join(_DEVICE_TYPES[:4])}, ... device type at start "
                               f"of device string: {type!r}; cvprimer has only 'cpu'")
        if m.group(1) != "cpu":
            raise RuntimeError(
                f"device: {type!r} is not available: cvprimer computes with NumPy on the CPU only "
                f"(cvprimer.cuda.is_available() is False); use 'cpu'"
            )
        if m.group(2) is not None:
            if index is not None:
                raise RuntimeError(f"device: type {type!r} already names an index; got index={index!r} too")
            index = builtins.int(m.group(2))
        if index is not None and (isinstance(index, builtins.bool) or not isinstance(index, builtins.int)
                                  or index < 0):
            raise RuntimeError(f"device: index must be a non-negative int, got {index!r}")
        if index not in (None, 0):
            raise RuntimeError(f"device: cpu:{index} does not exist; cvprimer has one CPU device, 'cpu' (or 'cpu:0')")
        self.type, self.index = "cpu", index

    def __repr__(self) -> str:
        idx = "" if self.index is None else f", index={self.index}"
        return f"device(type='{self.type}'{idx})"

    def __str__(self) -> str:
        return self.type if self.index is None else f"{self.type}:{self.index}"

    def __eq__(self, other: object) -> builtins.bool:
        if not isinstance(other, device):
            return NotImplemented
        return (self.type, self.index) == (other.type, other.index)

    def __hash__(self) -> builtins.int:
        return hash((self.type, self.index))

    def __reduce__(self) -> tuple[Any, ...]:
        return (device, (self.type, self.index))


CPU = device("cpu")


def check_device(where: str, dev: Any) -> None:
    """Refuse, in one line naming ``where``, a ``device=`` argument that is not the CPU (None is fine)."""
    if dev is None:
        return
    try:
        device(dev)
    except (RuntimeError, TypeError, ValueError) as e:
        raise type(e)(f"{where}: {e}") from None


def _is_device_string(s: str) -> builtins.bool:
    m = _DEVICE_RE.match(s.strip())
    return m is not None and m.group(1) in _DEVICE_TYPES


def _as_dtype(where: str, d: Any) -> np.dtype:
    try:
        return np.dtype(d)
    except TypeError:
        raise TypeError(f"{where}: {d!r} is neither a device ('cpu') nor a dtype (cp.float32, np.float64, "
                        "'float64', ...) nor a tensor") from None


def _parse_to(args: tuple[Any, ...], kwargs: dict[str, Any]) -> tuple[np.dtype | None, builtins.bool]:
    """PyTorch's ``to`` overloads -> (target dtype or None, copy). Devices are checked and dropped."""
    dev = kwargs.pop("device", None)
    dtype = kwargs.pop("dtype", None)
    copy = builtins.bool(kwargs.pop("copy", False))
    kwargs.pop("non_blocking", None)
    fmt = kwargs.pop("memory_format", None)
    if fmt is not None:
        raise ValueError(f"Tensor.to: memory_format={fmt!r} is not supported (cvprimer tensors are NumPy arrays)")
    if kwargs:
        raise TypeError(f"Tensor.to: unexpected keyword arguments {sorted(kwargs)}")
    rest = list(args)
    if len(rest) > 3:
        raise TypeError(f"Tensor.to: takes at most 3 positional arguments, got {len(rest)}")
    if rest and isinstance(rest[0], Tensor):  # to(other, non_blocking=False, copy=False)
        if dev is not None or dtype is not None:
            raise TypeError("Tensor.to: to(other) takes no device or dtype as well")
        other = rest.pop(0)
        dtype = other.dtype
        if rest:
            rest.pop(0)  # non_blocking
        if rest:
            copy = builtins.bool(rest.pop(0))
        return dtype, copy
    if rest and (isinstance(rest[0], device) or (isinstance(rest[0], str) and _is_device_string(rest[0]))):
        if dev is not None:
            raise TypeError("Tensor.to: device given twice")
        dev = rest.pop(0)
    if rest and not isinstance(rest[0], builtins.bool):  # the dtype (after the device, or alone)
        if dtype is not None:
            raise TypeError("Tensor.to: dtype given twice")
        dtype = rest.pop(0)
    if rest:
        rest.pop(0)  # non_blocking
    if rest:
        copy = builtins.bool(rest.pop(0))
    if dev is not None:
        device(dev)  # refuses anything but the CPU
    return (_as_dtype("Tensor.to", dtype) if dtype is not None else None), copy


def to(self: Tensor, *args: Any, **kwargs: Any) -> Tensor:
    r"""PyTorch's ``Tensor.to``: ``to(dtype)``, ``to(device, dtype=None)``, ``to(other)`` (its dtype), with
    ``non_blocking`` (ignored) and ``copy``. Returns ``self`` when nothing changes and ``copy`` is False;
    a dtype change is the differentiable cast (the gradient is cast back). The only device is the CPU:
    ``to('cuda')`` raises."""
    dtype, copy = _parse_to(args, dict(kwargs))
    out = self if dtype is None else api.astype(self, dtype)
    if copy and out is self:
        out = api.clone(self)
    return out


def cpu(self: Tensor) -> Tensor:
    """The tensor itself: cvprimer tensors are always on the CPU."""
    return self


def cuda(self: Tensor, *args: Any, **kwargs: Any) -> Tensor:
    """Refused: cvprimer has no CUDA device."""
    raise RuntimeError(f"Tensor.cuda: cvprimer computes with NumPy on the CPU only (tensor of shape {self.shape}); "
                       "cvprimer.cuda.is_available() is False")


def type_as(self: Tensor, other: Tensor) -> Tensor:
    """``self.to(other.dtype)`` (differentiable), PyTorch's ``type_as``."""
    return api.astype(self, other.dtype)


def is_floating_point(self: Tensor) -> builtins.bool:
    """Whether the dtype is a floating-point one."""
    return self.data.dtype.kind == "f"


def element_size(self: Tensor) -> builtins.int:
    """Bytes per element."""
    return builtins.int(self.data.dtype.itemsize)


def _new(name: str, make: Any) -> Any:
    def method(self: Tensor, *size: Any, dtype: Any = None, device: Any = None,
               requires_grad: builtins.bool = False) -> Tensor:
        check_device(f"Tensor.{name}", device)
        dt = self.data.dtype if dtype is None else np.dtype(dtype)
        return Tensor(make(size, dt), requires_grad=requires_grad)

    method.__name__ = method.__qualname__ = name
    method.__doc__ = (f"A new tensor of the given size with this tensor's dtype (unless ``dtype``), as PyTorch's "
                      f"``{name}``; not connected to the graph.")
    return method


def _shape(size: tuple[Any, ...]) -> tuple[builtins.int, ...]:
    if len(size) == 1 and isinstance(size[0], (tuple, list)):
        size = tuple(size[0])
    return tuple(builtins.int(n) for n in size)


def new_tensor(self: Tensor, data: Any, dtype: Any = None, device: Any = None,
               requires_grad: builtins.bool = False) -> Tensor:
    """A copy of ``data`` with this tensor's dtype (unless ``dtype``), as PyTorch's ``new_tensor``."""
    check_device("Tensor.new_tensor", device)
    arr = data.data if isinstance(data, Tensor) else data
    return Tensor(np.array(arr, dtype=self.data.dtype if dtype is None else np.dtype(dtype), copy=True),
                  requires_grad=requires_grad)


def new_full(self: Tensor, size: Any, fill_value: Any, dtype: Any = None, device: Any = None,
             requires_grad: builtins.bool = False) -> Tensor:
    """A new tensor of ``size`` filled with ``fill_value``, this tensor's dtype unless ``dtype`` (PyTorch's)."""
    check_device("Tensor.new_full", device)
    dt = self.data.dtype if dtype is None else np.dtype(dtype)
    return Tensor(np.full(_shape((size,)), fill_value, dt), requires_grad=requires_grad)


new_zeros = _new("new_zeros", lambda size, dt: np.zeros(_shape(size), dt))
new_ones = _new("new_ones", lambda size, dt: np.ones(_shape(size), dt))
new_empty = _new("new_empty", lambda size, dt: np.empty(_shape(size), dt))
