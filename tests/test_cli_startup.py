"""Start-up of the command line (issue 26): ``cvprimer --help``, a verb's ``--help`` and argument errors answer
without importing NumPy, matplotlib or the engine; ``--version`` reads the package metadata; Ctrl-C while the
package itself is imported is one line and status 130 (issue 25, point 10).

Each case runs the console script's own code (:mod:`_cvprimer_launch`) in a fresh interpreter and reads its
``sys.modules`` at exit: which modules were loaded, not the wall time, which swings on a shared machine
(``python -m benchmarks.cli_startup`` measures that).
"""

from __future__ import annotations

import importlib.metadata
import json
import subprocess
import sys

import pytest

import cvprimer.cli as cli

# the console script's code, reporting every module imported on the last line of stderr (a finder that only
# watches: the launcher drops the cvprimer modules from sys.modules after `--help`)
_LAUNCH = ("import atexit, json, sys\n"
           "class _Watch:\n"
           "    seen = set()\n"
           "    def find_spec(self, name, path=None, target=None):\n"
           "        self.seen.add(name)\n"
           "sys.meta_path.insert(0, _Watch())\n"
           "atexit.register(lambda: sys.stderr.write('\\nMODULES=' + json.dumps(sorted(_Watch.seen | set(sys.modules)))"
           " + '\\n'))\n"
           "{prelude}"
           "from _cvprimer_launch import main\nsys.exit(main({argv!r}))\n")
HEAVY = ("numpy", "matplotlib", "cvprimer.core", "cvprimer.nn", "cvprimer.functional", "scipy", "sklearn")

# Ctrl-C arriving while a given module is imported: a finder that raises KeyboardInterrupt for that name
_INTERRUPT = ("class _Interrupt:\n"
              "    def find_spec(self, name, path=None, target=None):\n"
              "        if name == {name!r}:\n"
              "            raise KeyboardInterrupt\n"
              "sys.meta_path.insert(0, _Interrupt())\n")


def launch(argv: list[str], prelude: str = "") -> tuple[int, str, str, set[str]]:
    code = _LAUNCH.format(argv=argv, prelude=prelude)
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    err, _, mods = r.stderr.rpartition("MODULES=")
    return r.returncode, r.stdout, err.rstrip("\n"), set(json.loads(mods))


def heavy(modules: set[str]) -> list[str]:
    return sorted(m for m in modules if any(m == h or m.startswith(h + ".") for h in HEAVY))


@pytest.mark.parametrize("argv", [
    ["--help"], ["demo", "--help"], ["train", "--help"], ["analyze", "--help"], ["lab", "--help"],
    ["lab", "run", "--help"], ["plot", "--help"],
])
def test_help_loads_neither_numpy_nor_the_engine(argv):
    rc, out, err, mods = launch(argv)
    assert rc == 0, err
    assert out.startswith("usage: cvprimer"), out
    assert heavy(mods) == [], argv
    assert "cvprimer.cli" in mods  # the help did come from the command line's own parser


@pytest.mark.parametrize("argv, says", [
    (["demo", "--epochs", "0"], "cvprimer demo: argument --epochs: expected an integer >= 1, got '0'"),
    (["train", "--optimizer", "sgdd"], "cvprimer train: argument --optimizer: invalid choice: 'sgdd'"),
    (["lab", "run", "--seeds", "101"], "cvprimer lab run: argument --seeds: expected an integer in [1, 100]"),
    (["analyze", "resnet18", "--erf", "-1"], "cvprimer analyze: argument --erf: expected an integer >= 0"),
    (["bogus"], "cvprimer: argument {demo,train,analyze,lab,plot}: invalid choice: 'bogus'"),
    ([], "cvprimer: the following arguments are required"),
])
def test_argument_errors_are_one_line_without_numpy(argv, says):
    rc, out, err, mods = launch(argv)
    assert rc == 2 and out == ""
    assert len(err.splitlines()) == 1 and err.startswith(says), err
    assert heavy(mods) == []


def test_version_comes_from_the_package_metadata():
    rc, out, err, mods = launch(["--version"])
    assert rc == 0, err
    assert out == f"cvprimer {importlib.metadata.version('cvprimer')}\n"
    assert heavy(mods) == []


def test_a_verb_that_runs_gets_the_whole_package():
    # the deferred __init__ files all ran before the verb: the package is the ordinary one
    probe = ("import atexit\n"
             "def _check():\n"
             "    import types, cvprimer, cvprimer.train\n"
             "    assert type(cvprimer) is types.ModuleType and type(cvprimer.train) is types.ModuleType\n"
             "    assert callable(cvprimer.Tensor) and callable(cvprimer.train.Trainer)\n"
             "    print('WHOLE', flush=True)\n"
             "atexit.register(_check)\n")
    rc, out, err, mods = launch(["plot", "/nonexistent-run-dir"], prelude=probe)  # runs, then refuses the folder
    assert rc == 2 and len(err.splitlines()) == 1 and "Traceback" not in err, err
    assert out.strip().endswith("WHOLE"), (out, err)
    assert "numpy" in mods and "cvprimer.core" in mods


@pytest.mark.parametrize("module", ["cvprimer.cli", "cvprimer.core", "numpy"])
def test_ctrl_c_during_start_up_is_one_line_130(module):
    # cvprimer.cli: the launcher's own import; cvprimer.core / numpy: the package's __init__, run before the verb
    rc, out, err, _ = launch(["demo", "--epochs", "1"], prelude=_INTERRUPT.format(name=module))
    assert rc == 130, err
    assert err in ("cvprimer: interrupted", "cvprimer demo: interrupted"), err


def test_every_verb_help_line_matches_its_module():
    # `cvprimer --help` lists the verbs from cli.VERBS without importing them: the line must be the module's own
    full = cli.build_parser()
    sub = next(a for a in full._actions if a.dest == "verb")
    assert [c.dest for c in sub._choices_actions] == list(cli.VERBS)
    for choice in sub._choices_actions:
        assert choice.help == cli.VERBS[choice.dest][1], choice.dest


def test_the_train_parsers_light_copies_agree_with_the_engine():
    # train/config.py repeats three lists so that the parser needs no NumPy: they must stay the engine's
    from cvprimer.optim.lr_scheduler import SCHEDULE_KINDS
    from cvprimer.train import config, run, trainer

    assert config.SCHEDULES == tuple(SCHEDULE_KINDS)
    assert config.TRAIN_EVAL == tuple(trainer.TRAIN_EVAL)
    assert sorted(config.OPTIMIZER_NAMES) == sorted(run.OPTIMIZERS)
    assert run.TrainConfig is config.TrainConfig and run.RunError is config.RunError
