"""Issue 25 point 9 (train): ``--resize`` is sized before anything is allocated or written; a run whose images
alone cannot fit in the memory available is refused in one line with the figures (it was a MemoryError
traceback). ``$CVPRIMER_MEMORY_LIMIT`` fixes the memory available, so the figures are exact."""

from __future__ import annotations

import pytest

from cvprimer.cli import main
from cvprimer.train.config import RunError, TrainConfig
from cvprimer.train.run import check_memory

DIGITS = 1797  # images in scikit-learn's digits, 1 channel


def test_resize_100000_is_refused_with_the_figure(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("CVPRIMER_MEMORY_LIMIT", str(8 * 2**30))
    run = tmp_path / "run"
    assert main(["train", "--model", "lenet5", "--dataset", "digits", "--resize", "100000", "--quiet",
                 "--run-dir", str(run)]) == 2
    (line,) = capsys.readouterr().err.strip().splitlines()
    need = DIGITS * 100000 * 100000 * 4 * 3 / 2**40
    assert line.startswith("cvprimer train: --resize 100000: the 1797 images of --dataset digits at 1x100000x100000 "
                           f"need at least {need:.1f} TiB"), line
    assert "but 8.0 GiB of memory are available; choose a smaller --resize" in line
    assert not run.exists()  # refused before the run folder was made


def test_the_estimate_is_refused_exactly_above_the_limit(monkeypatch):
    cfg = TrainConfig(model="lenet5", dataset="digits", resize=32)
    need = DIGITS * 1 * 32 * 32 * 4 * 3
    monkeypatch.setenv("CVPRIMER_MEMORY_LIMIT", str(need))
    check_memory(cfg)  # fits exactly
    monkeypatch.setenv("CVPRIMER_MEMORY_LIMIT", str(need - 1))
    with pytest.raises(RunError, match=r"at 1x32x32 need at least 21\.1 MiB .* but 21\.1 MiB"):
        check_memory(cfg)


def test_an_image_folder_is_sized_from_its_file_count(tmp_path, monkeypatch):
    for cls in ("a", "b"):
        (tmp_path / cls).mkdir()
        for i in range(3):
            (tmp_path / cls / f"{i}.png").write_bytes(b"not read")  # counted, never opened
    monkeypatch.setenv("CVPRIMER_MEMORY_LIMIT", str(6 * 3 * 1000 * 1000 * 4 * 3 - 1))
    with pytest.raises(RunError, match="the 6 images of --dataset .* at 3x1000x1000"):
        check_memory(TrainConfig(dataset=str(tmp_path), resize=1000))


def test_find_lr_is_sized_too(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("CVPRIMER_MEMORY_LIMIT", str(10**6))
    run = tmp_path / "lr"
    assert main(["train", "--find-lr", "--dataset", "digits", "--resize", "64", "--run-dir", str(run)]) == 2
    assert "--resize 64: the 1797 images of --dataset digits at 1x64x64 need at least 84.2 MiB" in \
        capsys.readouterr().err
    assert not run.exists()
