"""`cvprimer train` end to end on embedded data: run folder contents, resume, bad configs."""

import json

import pytest

from cvprimer.cli import main
from cvprimer.train.run import TrainConfig, run_training


def test_run_writes_the_run_folder_and_learns(tmp_path):
    cfg = TrainConfig(model="lenet5", dataset="digits", resize=32, epochs=3, batch_size=64, lr=0.05,
                      schedule="cosine", warmup_epochs=0.5, augment=["noise"], seed=0)
    s = run_training(cfg, run_dir=str(tmp_path), verbose=False)
    for name in ("config.json", "summary.json", "epochs.csv", "epochs.jsonl", "steps.csv", "curves.png",
                 "checkpoints/last.npz", "checkpoints/best.npz"):
        assert (tmp_path / name).exists(), name
    assert s["best_val_acc"] > 0.85
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert summary["epochs_run"] == 3 and len(summary["val_report"]["confusion_matrix"]) == 10


def test_cli_resume_continues_from_the_checkpoint(tmp_path):
    run = str(tmp_path / "run")
    assert main(["train", "--model", "lenet5", "--dataset", "digits", "--resize", "32", "--epochs", "1",
                 "--run-dir", run, "--quiet", "--imbalance", "focal"]) == 0
    cfg = json.loads((tmp_path / "run" / "config.json").read_text())
    cfg["epochs"] = 2
    (tmp_path / "run" / "config.json").write_text(json.dumps(cfg))
    assert main(["train", "--resume", run, "--quiet"]) == 0
    lines = (tmp_path / "run" / "epochs.jsonl").read_text().splitlines()
    assert [json.loads(x)["epoch"] for x in lines] == [1, 2]


def test_bad_config_is_a_clear_error(tmp_path):
    with pytest.raises(ValueError, match="--augment: unknown sharpen"):
        run_training(TrainConfig(augment=["sharpen"]), run_dir=str(tmp_path), verbose=False)
    with pytest.raises(ValueError, match="--model 'resnet9000' is unknown"):
        run_training(TrainConfig(model="resnet9000", dataset="digits", epochs=1), run_dir=str(tmp_path),
                     verbose=False)
