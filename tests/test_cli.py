"""The README's main job: the demo trains and its loss falls."""

import subprocess
import sys

from cvprimer.demo import run_demo


def test_demo_loss_falls_and_accuracy_is_high():
    lines = []
    out = run_demo(epochs=4, log=lines.append)
    losses = [h[0] for h in out["history"]]
    assert losses[-1] < 0.5 * losses[0]
    assert out["val_acc"] > 0.9
    assert lines[0].startswith("cvprimer demo") and "val acc" in lines[-2]


def test_cli_entry_point_runs():
    r = subprocess.run([sys.executable, "-m", "cvprimer", "demo", "--epochs", "1"], capture_output=True, text=True,
                       timeout=120)
    assert r.returncode == 0, r.stderr
    assert "epoch  1" in r.stdout
