"""Issue 26's Done-when command, as a user types it: ``cvprimer analyze my_model.py:build --input 3x32x32
--depth 2`` in a fresh process, on a model the zoo does not have, with the peak measured and cached in the
cache folder the suite sets (never the real home)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap

MODEL = textwrap.dedent("""
    from cvprimer import nn

    class Stem(nn.Module):
        def __init__(self, width):
            super().__init__()
            self.conv = nn.Conv2d(3, width, 3, stride=2, padding=1, bias=False)
            self.bn = nn.BatchNorm2d(width)

        def forward(self, x):
            return self.bn(self.conv(x)).relu()

    def build(width=12, num_classes=5):
        return nn.Sequential(Stem(width), nn.MaxPool2d(2), nn.Flatten(), nn.Linear(width * 8 * 8, num_classes))
""")


def test_done_when_command_in_a_fresh_process(tmp_path):
    (tmp_path / "my_model.py").write_text(MODEL)
    cache = tmp_path / "cache"
    env = {**os.environ, "CVPRIMER_CACHE_DIR": str(cache)}
    cmd = [sys.executable, "-m", "cvprimer", "analyze", "my_model.py:build", "--input", "3x32x32", "--depth", "2"]
    r = subprocess.run(cmd, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    assert r.stderr == ""
    lines = r.stdout.splitlines()
    assert lines[0].startswith("module tree to depth 2")
    conv = next(ln for ln in lines if ln.startswith("    0.conv "))
    cells = conv.split()
    # 12 x 16 x 16 outputs, 3 x 3 x 3 taps each: MACs, and FLOPs = 2 x MACs (no bias)
    assert cells[1:5] == ["Conv2d", "1x3x32x32", "1x12x16x16", "3x3/s2/p1/d1/g1"]
    macs = 12 * 16 * 16 * 27
    assert int(cells[6].replace(",", "")) == macs and int(cells[8].replace(",", "")) == 2 * macs
    assert any(ln.startswith("  0 ") and " Stem " in ln for ln in lines)
    assert "output (1, 5)" in r.stdout and "measured now, cached in" in r.stdout
    [entry] = json.loads((cache / "peak.json").read_text())["machines"].values()
    assert entry["peak_flops"] > 0
