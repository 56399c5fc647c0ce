"""Issue 25 point 1 (and 14): a run folder is recognised by the marker cvprimer writes, whose manifest lists
every file the run wrote; ``--overwrite`` removes only those (and the folders it made, once empty). A folder
that holds anything else is never cleared; a file of the user's inside a finished run survives."""

from __future__ import annotations

import json
import os

import pytest

from cvprimer.cli import main
from cvprimer.train.rundir import MARKER, RunDirError, prepare_new, read_manifest

TINY = ["--model", "lenet5", "--dataset", "digits", "--resize", "32", "--batch-size", "128", "--quiet"]


def _err_line(capsys) -> str:
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("cvprimer train:"), err
    return err[0]


def _tree(path) -> set[str]:
    return {str(p.relative_to(path)) for p in path.rglob("*")}


@pytest.fixture(scope="module")
def finished_run(tmp_path_factory):
    """A real one-step run with TensorBoard off; returns its folder (each test copies it)."""
    run = tmp_path_factory.mktemp("fin") / "run"
    assert main(["train", *TINY, "--max-steps", "1", "--run-dir", str(run)]) == 0
    return run


def _copy(src, dst):
    import shutil

    shutil.copytree(src, dst)
    return dst


def test_the_manifest_lists_exactly_what_the_run_wrote(finished_run):
    manifest = read_manifest(str(finished_run))
    on_disk = {p for p in _tree(finished_run) if (finished_run / p).is_file()} - {MARKER}
    assert set(manifest["files"]) == on_disk  # every file (logs, checkpoints, summary, plot) and nothing more
    assert {"config.json", "summary.json", "steps.csv", "epochs.csv", "epochs.jsonl", "checkpoints/last.npz",
            "checkpoints/best.npz"} <= on_disk
    assert manifest["dirs"] == ["checkpoints"]


def test_overwrite_keeps_the_users_extra_file_in_a_finished_run(finished_run, tmp_path, capsys):
    run = _copy(finished_run, tmp_path / "run")
    keep = run / "checkpoints" / "keep-epoch2-best.npz"
    keep.write_bytes((run / "checkpoints" / "best.npz").read_bytes())
    notes = run / "notes.txt"
    notes.write_text("mine")
    assert main(["train", *TINY, "--max-steps", "1", "--run-dir", str(run)]) == 2  # refused without --overwrite
    assert "already holds a run" in _err_line(capsys)
    old_summary = (run / "summary.json").read_text()
    assert main(["train", *TINY, "--max-steps", "1", "--seed", "1", "--run-dir", str(run), "--overwrite"]) == 0
    assert keep.read_bytes() == (finished_run / "checkpoints" / "best.npz").read_bytes()  # untouched
    assert notes.read_text() == "mine"
    new = json.loads((run / "summary.json").read_text())
    assert new["config"]["seed"] == 1 and (run / "summary.json").read_text() != old_summary
    assert "checkpoints/keep-epoch2-best.npz" not in read_manifest(str(run))["files"]


def test_a_config_json_of_the_users_is_never_deleted(tmp_path, capsys):
    """The round-1 rule treated any folder with a config.json as a run: --overwrite deleted the user's files."""
    d = tmp_path / "project"
    (d / "checkpoints").mkdir(parents=True)
    for rel, text in (("config.json", '{"mine": 1}'), ("summary.json", "{}"), ("checkpoints/weights.npz", "w")):
        (d / rel).write_text(text)
    before = {p: (d / p).read_bytes() for p in _tree(d) if (d / p).is_file()}
    assert main(["train", *TINY, "--max-steps", "1", "--run-dir", str(d), "--overwrite"]) == 2
    line = _err_line(capsys)
    assert f"--run-dir {str(d)!r} already holds a run that has no {MARKER} manifest" in line
    assert {p: (d / p).read_bytes() for p in _tree(d) if (d / p).is_file()} == before

    other = tmp_path / "photos"
    other.mkdir()
    (other / "b.jpg").write_bytes(b"x")
    (other / "a.jpg").write_bytes(b"y")
    assert main(["train", *TINY, "--max-steps", "1", "--run-dir", str(other), "--overwrite"]) == 2
    assert "holds 'a.jpg' (and 1 more), which cvprimer did not write" in _err_line(capsys)
    assert sorted(os.listdir(other)) == ["a.jpg", "b.jpg"]


def test_a_hostile_manifest_cannot_delete_outside_the_run(tmp_path):
    run = tmp_path / "run"
    prepare_new(str(run))
    outside = tmp_path / "precious.txt"
    outside.write_text("keep")
    (run / "config.json").write_text("{}")
    (run / MARKER).write_text(json.dumps({"format": "cvprimer-run-1", "dirs": [],
                                          "files": ["config.json", "../precious.txt", str(outside)]}))
    prepare_new(str(run), overwrite=True)
    assert outside.read_text() == "keep" and not (run / "config.json").exists()
    elsewhere = tmp_path / "elsewhere"  # a listed folder that is a link out of the run
    elsewhere.mkdir()
    (elsewhere / "last.npz").write_text("keep")
    (run / "checkpoints").symlink_to(elsewhere)
    (run / MARKER).write_text(json.dumps({"format": "cvprimer-run-1", "dirs": ["checkpoints"],
                                          "files": ["checkpoints/last.npz"]}))
    prepare_new(str(run), overwrite=True)
    assert (elsewhere / "last.npz").read_text() == "keep"
    (run / "checkpoints").unlink()
    (run / MARKER).write_text("not json")
    (run / "x").write_text("x")
    with pytest.raises(RunDirError, match="cannot be read"):
        prepare_new(str(run), overwrite=True)
    assert (run / "x").exists()


def test_a_kill_during_the_config_write_leaves_a_folder_that_can_be_rerun(tmp_path):
    """Issue 25 point 14: the marker is written before config.json, so a folder left by a kill during that write
    (the marker, the claim of config.json, atomic_write's temporary file, the lock file) is still the run's."""
    run = tmp_path / "run"
    prepare_new(str(run))
    from cvprimer.train.rundir import claim

    claim(str(run / "config.json"))
    (run / ".tmp-ab12cd_9.json").write_text('{"model": "len')  # what the kill left of the write
    (run / ".lock").write_text("")
    assert main(["train", *TINY, "--max-steps", "1", "--run-dir", str(run)]) == 0  # rerun: nothing was lost
    assert not (run / ".tmp-ab12cd_9.json").exists() and (run / "summary.json").is_file()


def test_tensorboard_event_files_are_listed_and_removed_by_overwrite(tmp_path):
    pytest.importorskip("tensorboardX")
    run = tmp_path / "run"
    assert main(["train", *TINY, "--max-steps", "1", "--tensorboard", "--run-dir", str(run)]) == 0
    events = sorted(str(p.relative_to(run)) for p in (run / "tensorboard").iterdir())
    assert events and set(events) <= set(read_manifest(str(run))["files"])
    assert "tensorboard" in read_manifest(str(run))["dirs"]
    assert main(["train", *TINY, "--max-steps", "1", "--run-dir", str(run), "--overwrite"]) == 0
    assert not (run / "tensorboard").exists()  # its files were the run's, so the emptied folder goes too
