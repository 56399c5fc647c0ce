"""``cvprimer <verb>``: argument parsing only; each verb calls the library.

Start-up is kept light: this module imports only the standard library, :mod:`cvprimer.argtypes` and
:mod:`cvprimer.errors`, and only the verb on the command line has its parser built (its module's
``add_parser(sub)``; the other verbs are listed by their one-line help from :data:`VERBS`). NumPy, the engine
and matplotlib are imported when a verb runs. Started as the ``cvprimer`` console script (through
:mod:`_cvprimer_launch`, which also keeps the package's own imports out of the way), ``cvprimer --help`` and
argument errors answer without loading NumPy.
"""

from __future__ import annotations

import argparse
import errno
import importlib
import sys
import traceback
from collections.abc import Callable, Sequence
from typing import Any

from cvprimer.argtypes import positive_float, positive_int, seed_int
from cvprimer.errors import EXTRAS, UserError, missing_extra

# verb -> (the module whose add_parser(sub) and run(args) implement it, the one-line help `cvprimer --help` shows).
# A new verb is one line here; its module must import nothing heavy at module level (tests/test_cli_startup.py).
VERBS: dict[str, tuple[str, str]] = {
    "demo": ("cvprimer.cli", "train a small network on scikit-learn's digits and print the loss"),
    "train": ("cvprimer.train.cli", "train a zoo model on an embedded or user dataset; writes a run folder"),
    "analyze": ("cvprimer.analysis.cli",
                "per-layer cost, parameters, memory, receptive field and roofline of a model"),
    "lab": ("cvprimer.lab.cli",
            "run the experiments that test the source document's questions and write the report"),
    "plot": ("cvprimer.train.plot_cli", "overlay training runs' loss/accuracy/lr curves in one PNG"),
}


class _Parser(argparse.ArgumentParser):
    """argparse with one-line errors: ``cvprimer <verb>: <message>`` and exit status 2 (no usage dump)."""

    def error(self, message: str) -> Any:
        text = f"{self.prog}: {message} (see `{self.prog} --help`)\n"
        _end_mpi_job(text, 2)
        self.exit(2, text)


# (rank, size) variables of the MPI launchers (MPICH/Hydra and Intel MPI, Open MPI, PMIx + Slurm)
_RANK_VARS = (("PMI_RANK", "PMI_SIZE"), ("OMPI_COMM_WORLD_RANK", "OMPI_COMM_WORLD_SIZE"), ("PMIX_RANK", "SLURM_NTASKS"))


def _end_mpi_job(text: str, code: int) -> None:
    """Under ``mpiexec -n N`` (N > 1), an argument error on some ranks only (``mpiexec -n 1 A : -n 1 B``) would
    leave the other ranks waiting forever in their first collective: print ``text`` (rank 0 at once, another rank
    after two seconds, so that usually one line is printed) and end the whole job with ``MPI_Abort(code)``.
    Returns without doing anything outside a multi-rank launch (or without mpi4py)."""
    import os

    for rank_var, size_var in _RANK_VARS:
        if os.environ.get(rank_var, "").isdigit() and os.environ.get(size_var, "").isdigit():
            rank, size = int(os.environ[rank_var]), int(os.environ[size_var])
            break
    else:
        return
    if size < 2:
        return
    try:
        from mpi4py import MPI
    except ImportError:
        return
    import time

    if rank:
        time.sleep(2.0)
    sys.stderr.write(text)
    sys.stderr.flush()
    time.sleep(0.3)  # let the line reach mpiexec: the abort kills what forwards it (seen lost on a busy machine)
    MPI.COMM_WORLD.Abort(code)
    os._exit(code)  # Abort may return before the launcher ends this process: never print the line twice


def version() -> str:
    """The installed version, from the package metadata (what pip installed), else the source's ``0+unknown``."""
    from importlib.metadata import PackageNotFoundError
    from importlib.metadata import version as dist_version

    try:
        return dist_version("cvprimer")
    except PackageNotFoundError:  # pragma: no cover - running from a source tree that was never installed
        return "0+unknown"


# ``cvprimer demo`` lives here: its module (cvprimer.demo) imports NumPy and the engine.
def add_parser(sub: Any) -> None:
    p = sub.add_parser("demo", help=VERBS["demo"][1],
                       description="Train a 64-hidden-unit MLP with the raw engine on scikit-learn's digits.")
    p.add_argument("--epochs", type=positive_int, default=15)
    p.add_argument("--lr", type=positive_float, default=0.1)
    p.add_argument("--batch-size", type=positive_int, default=64)
    p.add_argument("--seed", type=seed_int, default=0)


def run(args: argparse.Namespace) -> int:
    from cvprimer.demo import run_demo

    out = run_demo(epochs=args.epochs, lr=args.lr, batch_size=args.batch_size, seed=args.seed)
    d = out["diverged"]
    if d is not None:  # status 1, as a NaN stop of `cvprimer train`
        print(f"cvprimer demo: training diverged (loss {d['loss']} at epoch {d['epoch']}, step {d['step']}); "
              f"--lr {args.lr:g} is too large, try a smaller one (the default is 0.1)", file=sys.stderr)
        return 1
    return 0


def _verb_module(verb: str) -> Any:
    return importlib.import_module(VERBS[verb][0])


def _chosen_verb(argv: Sequence[str]) -> str | None:
    """The verb on the command line: the first word that is not an option (the top-level parser has no option
    taking a value), or None."""
    for word in argv:
        if word == "--":
            return None
        if not word.startswith("-"):
            return word if word in VERBS else None
    return None


def build_parser(verbs: Sequence[str] | None = None) -> argparse.ArgumentParser:
    """The ``cvprimer`` parser with the full sub-parsers of ``verbs`` (all when None) and a one-line entry for
    every other verb (enough for ``cvprimer --help`` and for naming an unknown verb)."""
    full = set(VERBS) if verbs is None else set(verbs)
    parser = _Parser(prog="cvprimer", description="CV deep-learning fundamentals, runnable.")
    parser.add_argument("--version", action="version", version=f"cvprimer {version()}",
                        help="print the installed version and exit")
    sub = parser.add_subparsers(dest="verb", required=True, parser_class=_Parser, metavar="{" + ",".join(VERBS) + "}")
    for name, (_, help_line) in VERBS.items():
        if name in full:
            _verb_module(name).add_parser(sub)
        else:
            sub.add_parser(name, help=help_line, add_help=False)
    return parser


def _missing_package(e: ModuleNotFoundError) -> UserError | None:
    """A missing optional package that no :func:`~cvprimer.errors.require` caught: the same one-line error."""
    top = (e.name or "").partition(".")[0]
    return missing_extra(top) if top in EXTRAS else None


# what the file system says about a path the user chose (a full disk, a file where a folder should be, ...)
_PATH_ERRNOS = frozenset({errno.ENOSPC, errno.EDQUOT, errno.ENOTDIR, errno.EISDIR, errno.EACCES, errno.EPERM,
                          errno.EROFS, errno.EEXIST, errno.ENAMETOOLONG, errno.ELOOP})


def _path_problem(e: OSError) -> bool:
    return e.filename is not None and e.errno in _PATH_ERRNOS and bool(e.strerror)


def main(argv: list[str] | None = None, *, _before_run: Callable[[str], None] | None = None) -> int:
    """Parse and run one verb inside the error boundary.

    A :class:`~cvprimer.errors.UserError` (a missing optional package included: it names the extra to install)
    prints one line ``cvprimer <verb>: <message>`` to stderr and returns 2 (an error that every rank of an MPI job
    found alike, :class:`~cvprimer.distributed.comm.AgreedError`, is printed by rank 0 only, and every rank returns
    its status); an ``OSError`` about a path (a full disk, a file where a folder should be, no permission) that no
    verb turned into a UserError prints one line naming the path and returns 2; Ctrl-C prints one line and returns
    130, also while the verbs' modules are imported and the arguments parsed (a ``KeyboardInterrupt`` raised
    with a message, e.g. by ``lab run``, prints that message instead of "interrupted"); any other exception is
    an internal error: its traceback is shown with a line asking to report it, and the status is 1.
    ``_before_run(module)`` is the launcher's hook, called after parsing and before the verb's module runs.
    """
    verb = "cvprimer"
    try:
        argv = sys.argv[1:] if argv is None else list(argv)
        chosen = _chosen_verb(argv)
        args = build_parser([chosen] if chosen else []).parse_args(argv)
        if args.verb != chosen:  # a verb the scan above did not see: parse again with its full parser
            args = build_parser([args.verb]).parse_args(argv)
        verb = f"cvprimer {args.verb}"
        if _before_run is not None:
            _before_run(VERBS[args.verb][0])
        return _verb_module(args.verb).run(args)
    except UserError as e:
        if not getattr(e, "silent", False):  # an error every MPI rank found alike: rank 0 prints it, once
            print(f"{verb}: {e}", file=sys.stderr)
        return int(getattr(e, "status", 2))
    except KeyboardInterrupt as e:
        print(f"{verb}: {str(e) or 'interrupted'}", file=sys.stderr)
        return 130
    except BrokenPipeError:  # output piped into a program that closed early (e.g. `| head`)
        return 0
    except OSError as e:
        if _path_problem(e):  # a full disk or an odd path the verb did not name itself: still one line, naming it
            print(f"{verb}: cannot use {e.filename!r}: {e.strerror}", file=sys.stderr)
            return 2
        traceback.print_exc()
        print(f"{verb}: internal error (the traceback above); please report it", file=sys.stderr)
        return 1
    except Exception as e:
        missing = _missing_package(e) if isinstance(e, ModuleNotFoundError) else None
        if missing is not None:
            print(f"{verb}: {missing}", file=sys.stderr)
            return 2
        traceback.print_exc()
        print(f"{verb}: internal error (the traceback above); please report it", file=sys.stderr)
        return 1


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
