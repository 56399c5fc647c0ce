r"""Build the model to analyze from a command-line SPEC: a zoo name or the user's own builder function.

SPEC forms (``cvprimer analyze SPEC``):

* ``resnet18``: a model of the zoo (:func:`cvprimer.models.get_model`);
* ``path/to/file.py:build``: the function ``build`` of a Python file (imported as a fresh module named after
  the file, with the file's folder first on ``sys.path`` while it imports, as ``python path/to/file.py`` would);
* ``package.module:build``: the function ``build`` of an importable module (the current folder is searched
  first, as ``python -m`` would).

Keyword arguments (``--kwarg width=32``) are Python literals read with :func:`ast.literal_eval` (numbers,
strings, tuples, lists, dicts, ``True``/``False``/``None``): nothing of the command line is evaluated. The
function must return a cvprimer ``nn.Module``. Every failure is a :class:`ModelSpecError` (a ``ValueError``)
with one line that says which part of the SPEC is wrong; an exception raised by the user's own code is named
as such, with its type and the first line of its message.

Note that naming a file runs it: that is what the user asks for, as ``python file.py`` would.
"""

from __future__ import annotations

import ast
import importlib
import importlib.util
import os
import sys
import uuid
from typing import Any


class ModelSpecError(ValueError):
    """A model SPEC that cannot be built; the message is one line starting with ``analyze:``."""


def _first_line(e: BaseException) -> str:
    text = str(e).strip().splitlines()
    return f"{type(e).__name__}: {text[0]}" if text else type(e).__name__


def parse_kwarg(text: str) -> tuple[str, Any]:
    """``"width=32"`` -> ("width", 32); the value is a Python literal (``ast.literal_eval``, never ``eval``)."""
    name, sep, value = text.partition("=")
    name = name.strip()
    if not sep or not name.isidentifier():
        raise ModelSpecError(f"analyze: --kwarg must look like NAME=VALUE (e.g. width=32), got {text!r}")
    try:
        return name, ast.literal_eval(value.strip())
    except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
        raise ModelSpecError(f"analyze: --kwarg {name}: {value!r} is not a Python literal (a number, a quoted "
                             f"string, a tuple, True/False/None); quote a string: --kwarg \"{name}='{value}'\"") \
            from None


def parse_kwargs(items: list[str] | None) -> dict[str, Any]:
    """Every ``--kwarg NAME=VALUE`` into one dict; a name given twice is refused."""
    out: dict[str, Any] = {}
    for text in items or ():
        name, value = parse_kwarg(text)
        if name in out:
            raise ModelSpecError(f"analyze: --kwarg {name} is given twice")
        out[name] = value
    return out


def is_user_spec(spec: str) -> bool:
    """A ``FILE.py:FUNCTION`` or ``MODULE:FUNCTION`` SPEC (a zoo name holds no colon)."""
    return ":" in spec


def _split(spec: str) -> tuple[str, str]:
    where, _, fn = spec.rpartition(":")
    if not where or not fn:
        raise ModelSpecError(f"analyze: model SPEC {spec!r} must be a zoo name, FILE.py:FUNCTION or "
                             "package.module:FUNCTION")
    if not fn.isidentifier():
        raise ModelSpecError(f"analyze: {fn!r} in {spec!r} is not a function name")
    return where, fn


def _is_file_spec(where: str) -> bool:
    return where.endswith(".py") or os.sep in where or "/" in where or os.path.isfile(where)


def _import_file(path: str) -> Any:
    """Import the Python file ``path`` as a fresh module; its folder is first on ``sys.path`` meanwhile."""
    if not os.path.exists(path):
        raise ModelSpecError(f"analyze: no such file {path!r}")
    if os.path.isdir(path):
        raise ModelSpecError(f"analyze: {path!r} is a folder; give a Python file, FILE.py:FUNCTION")
    try:
        with open(path, "rb") as f:
            source = f.read()
    except OSError as e:
        raise ModelSpecError(f"analyze: cannot read {path!r}: {e.strerror or e}") from None
    try:
        compile(source, path, "exec")
    except SyntaxError as e:
        raise ModelSpecError(f"analyze: syntax error in {path!r} line {e.lineno}: {e.msg}") from None
    except ValueError as e:  # null bytes
        raise ModelSpecError(f"analyze: {path!r} is not a Python file ({e})") from None
    name = "cvprimer_user_model_" + uuid.uuid4().hex[:8]
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        raise ModelSpecError(f"analyze: cannot import {path!r} as a Python module")
    module = importlib.util.module_from_spec(spec)
    folder = os.path.dirname(os.path.abspath(path))
    sys.path.insert(0, folder)
    sys.modules[name] = module  # dataclasses and pickling look the module up while it runs
    try:
        spec.loader.exec_module(module)
    except (Exception, SystemExit) as e:
        sys.modules.pop(name, None)
        raise ModelSpecError(f"analyze: importing {path!r} raised {_first_line(e)}") from None
    finally:
        if sys.path and sys.path[0] == folder:
            del sys.path[0]
    return module


def _import_module(name: str) -> Any:
    """Import ``package.module`` with the current folder searched first (as ``python -m``)."""
    if not all(part.isidentifier() for part in name.split(".")):
        raise ModelSpecError(f"analyze: {name!r} is neither a zoo name, a FILE.py nor a package.module name")
    added = "" not in sys.path and os.getcwd() not in sys.path
    if added:
        sys.path.insert(0, os.getcwd())
    try:
        return importlib.import_module(name)
    except ModuleNotFoundError as e:
        if e.name and (name == e.name or name.startswith(e.name + ".")):
            raise ModelSpecError(f"analyze: no module named {e.name!r} (from {name!r}; a file needs its .py "
                                 "suffix: FILE.py:FUNCTION)") from None
        raise ModelSpecError(f"analyze: importing {name!r} raised {_first_line(e)}") from None
    except SyntaxError as e:
        raise ModelSpecError(f"analyze: syntax error in {e.filename!r} line {e.lineno}: {e.msg}") from None
    except (Exception, SystemExit) as e:
        raise ModelSpecError(f"analyze: importing {name!r} raised {_first_line(e)}") from None
    finally:
        if added and os.getcwd() in sys.path:
            sys.path.remove(os.getcwd())


def build_model(spec: str, kwargs: dict[str, Any] | None = None) -> Any:
    """The Module a SPEC names, built with ``kwargs`` (see the module docstring for the forms).

    Raises :class:`ModelSpecError` for a missing file, a syntax error (file and line), a missing or
    non-callable attribute, a builder that raises (its exception type and first message line) or returns
    something other than a cvprimer ``nn.Module``; an unknown zoo name lists the known ones.
    """
    from cvprimer.nn.module import Module

    kwargs = dict(kwargs or {})
    if not is_user_spec(spec):
        from cvprimer import models

        known = models.list_models()
        if spec.endswith(".py") or os.path.isfile(spec):
            raise ModelSpecError(f"analyze: name the function that builds the model: {spec}:FUNCTION (e.g. "
                                 f"{spec}:build)")
        if spec not in known:
            raise ModelSpecError(f"analyze: unknown model {spec!r}; known models: {', '.join(known)} (or give "
                                 "your own: FILE.py:FUNCTION or package.module:FUNCTION)")
        try:
            return models.get_model(spec, **kwargs)
        except (TypeError, ValueError) as e:
            raise ModelSpecError(f"analyze: building {spec!r} with {kwargs} failed: {_first_line(e)}") from None
    where, fn_name = _split(spec)
    module = _import_file(where) if _is_file_spec(where) else _import_module(where)
    label = f"{where}:{fn_name}"
    if not hasattr(module, fn_name):
        defined = sorted(k for k, v in vars(module).items() if callable(v) and not k.startswith("_")
                         and getattr(v, "__module__", None) == module.__name__)
        hint = f"; it defines: {', '.join(defined)}" if defined else ""
        raise ModelSpecError(f"analyze: {where!r} has no {fn_name!r}{hint}")
    fn = getattr(module, fn_name)
    if not callable(fn):
        raise ModelSpecError(f"analyze: {label} is not callable (an object of type {type(fn).__name__}); give a "
                             "function that builds a model")
    try:
        model = fn(**kwargs)
    except (Exception, SystemExit) as e:
        raise ModelSpecError(f"analyze: your function {label} raised {_first_line(e)}") from None
    if not isinstance(model, Module):
        kind = type(model)
        what = f"{kind.__module__}.{kind.__qualname__}" if kind.__module__ != "builtins" else kind.__name__
        torchy = any(c.__module__.split(".")[0] == "torch" for c in kind.__mro__)
        hint = " (a PyTorch module: build it with cvprimer.nn)" if torchy else ""
        raise ModelSpecError(f"analyze: {label} returned an object of type {what}, expected a cvprimer "
                             f"nn.Module{hint}")
    return model
