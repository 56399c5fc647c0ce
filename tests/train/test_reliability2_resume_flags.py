"""Issue 25 point 16: ``--resume`` compares every configuration flag given with it to the saved run's value
(config.json), not to the parser's defaults; the compared flags are the train parser's options minus a
declared list of flags that may change on resume."""

from __future__ import annotations

import json

import pytest

from cvprimer.cli import build_parser, main
from cvprimer.train import cli as train_cli
from cvprimer.train.config import TrainConfig

TINY = ["--model", "lenet5", "--dataset", "digits", "--resize", "32", "--batch-size", "128", "--quiet"]


def _one_line(capsys, needle: str) -> str:
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("cvprimer train:") and needle in err[0], err
    return err[0]


def _saved_run(path, **cfg):
    """A run folder whose config.json holds ``cfg`` (no checkpoint: the flag check comes first)."""
    path.mkdir()
    (path / "config.json").write_text(json.dumps({"model": "lenet5", "dataset": "digits", "epochs": 1, **cfg}))
    return path


def _train_parser():
    sub = next(a for a in build_parser(["train"])._actions if a.dest == "verb")
    return sub.choices["train"]


def test_compared_flags_are_the_parser_options_minus_the_declared_ones():
    dests = {a.dest for a in _train_parser()._actions if a.dest != "help"}
    compared = set(train_cli.config_flags()) - set(train_cli.MAY_CHANGE_ON_RESUME) | set(train_cli._NOT_CONFIG)
    assert compared | set(train_cli.MAY_CHANGE_ON_RESUME) == dests
    assert not compared & set(train_cli.MAY_CHANGE_ON_RESUME)
    assert all(reason for reason in train_cli.MAY_CHANGE_ON_RESUME.values())
    # every configuration flag defaults to "not given", so an explicit default value is compared too
    assert all(_train_parser().get_default(k) is None for k in train_cli.config_flags())


def test_explicit_default_model_on_another_models_run_is_refused(tmp_path, capsys):
    run = _saved_run(tmp_path / "run", model="lenet5_original")
    assert main(["train", "--resume", str(run), "--model", "lenet5"]) == 2  # lenet5 is the parser's default
    _one_line(capsys, "cannot change --model (saved lenet5_original, given lenet5)")


@pytest.mark.parametrize("argv, needle", [
    (["--batch-size", "32"], "--batch-size (saved 64, given 32)"),
    (["--resize", "28"], "--resize (saved 32, given 28)"),
    (["--dataset", "mnist_sample"], "--dataset (saved digits, given mnist_sample)"),
    (["--augment", "hflip"], "--augment (saved , given hflip)"),
    (["--tensorboard"], "--tensorboard (saved False, given True)"),
    (["--seed", "0", "--lr", "0.5"], "--lr (saved 0.05, given 0.5)"),
    (["--overwrite"], "--overwrite starts a run over"),
    (["--run-dir", "elsewhere"], "a resumed run stays in its own folder"),
])
def test_changed_flags_are_refused_naming_saved_and_given(tmp_path, capsys, argv, needle):
    run = _saved_run(tmp_path / "run", resize=32, batch_size=64)
    assert main(["train", "--resume", str(run), *argv]) == 2
    _one_line(capsys, needle)


def test_repeating_the_saved_values_is_accepted_and_resumes(tmp_path):
    run = tmp_path / "run"
    assert main(["train", *TINY, "--max-steps", "1", "--run-dir", str(run)]) == 0
    saved = TrainConfig(**json.loads((run / "config.json").read_text()))
    assert (saved.model, saved.dataset, saved.resize, saved.batch_size) == ("lenet5", "digits", 32, 128)
    # the run's own --model/--dataset/--resize/--batch-size and an explicit default (--seed 0) are no change
    assert main(["train", "--resume", str(run), *TINY, "--seed", "0", "--max-steps", "2",
                 "--run-dir", str(run)]) == 0
    assert json.loads((run / "summary.json").read_text())["steps_run"] == 2


def test_a_fresh_run_takes_the_config_defaults_for_flags_not_given(tmp_path):
    from cvprimer.train.cli import _given_config

    args = build_parser(["train"]).parse_args(["train", "--lr", "0.1", "--augment", "hflip,crop"])
    cfg = TrainConfig(**_given_config(args))
    assert cfg == TrainConfig(lr=0.1, augment=["hflip", "crop"])
