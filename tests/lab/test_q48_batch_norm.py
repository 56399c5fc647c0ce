"""q48: decide exactly at every threshold (each part with the others holding and failing); the helpers; batch-mode
accuracy leaves the running statistics alone; the real run at a tiny size with its gradient ratios recomputed by
PyTorch from the same weights."""

import numpy as np
import pytest
import torch

from cvprimer.lab._deepmlp import DeepMLP
from cvprimer.lab.common import load_data
from cvprimer.lab.experiments.q48_batch_norm import BatchNormEffects as E
from cvprimer.lab.experiments.q48_batch_norm import act_inputs, batch_mode_accuracy, saturated_share, steps_to
from labcheck import edges, reached, run_tiny

T = E.thresholds
HOLD = {"saturated_share_plain_6": 0.6, "log10_grad_ratio_plain_6": 0.0, "log10_grad_ratio_bn_6": 2.5,
        "step_speedup_3": 4.0, "step_speedup_6": 5.0, "steps_to_target_plain_3": 41.0, "steps_to_target_plain_6": 53.0,
        "steps_to_target_bn_6": 10.0, "steps_run": 52.0}
FAIL = {"saturated_share_plain_6": 0.0, "log10_grad_ratio_bn_6": 0.0, "step_speedup_3": 1.0, "step_speedup_6": 1.0}
KEYS = {"min_saturated_share": ["saturated_share_plain_6"], "grad_gap_log10": ["log10_grad_ratio_bn_6"],
        "min_step_speedup": ["step_speedup_3", "step_speedup_6"]}


@pytest.mark.parametrize("threshold", sorted(KEYS))
def test_edges_every_part(threshold):
    for key in KEYS[threshold]:  # log10_grad_ratio_plain_6 = 0, so the gap equals the BN ratio exactly
        others_fail = {k: v for k, v in FAIL.items() if k != key}
        edges(E, lambda v, key=key: {**HOLD, key: v}, threshold, below="nuanced", at="confirmed", above="confirmed")
        edges(E, lambda v, key=key, o=others_fail: {**HOLD, **o, key: v}, threshold,
              below="refuted", at="nuanced", above="nuanced")


def test_reached_and_evidence():
    measured = {**HOLD, "saturated_share_plain_6": 0.2006}
    reached(E, [HOLD, measured, {**HOLD, **FAIL}])
    v, ev = E.decide(measured, T)
    assert v == "nuanced" and "not observed: the drift into saturation" in ev["en"] and "漂入饱和区" in ev["zh"]
    assert "at least 5x" in ev["en"] and "20.1%" in ev["en"]
    b = E.explain_beyond({"saturated_share_bn_6": 0.002, "max_abs_mean_z_plain_6": 0.16, "val_acc_eval_mode": 0.92,
                          "train_mode_acc_batch_2": 0.44, "train_mode_acc_batch_8": 0.84,
                          "train_mode_acc_batch_64": 0.91})
    assert "48 points" in b["en"] and "44%" in b["zh"]


def test_helpers():
    assert steps_to(np.array([2.0, 1.0, 0.4, 0.3, 0.2, 0.1, 0.1]), 0.5, window=3) == 5.0
    assert steps_to(np.array([2.0, 2.0]), 0.5, window=3) == 3.0
    assert saturated_share([np.array([0.0, 4.0]), np.array([-3.5, 1.0])]) == 0.5
    m = DeepMLP(4, 8, "sigmoid", bn=True, rng=np.random.default_rng(0))
    x = np.random.default_rng(1).standard_normal((16, 64)).astype(np.float32)
    z = act_inputs(m, x)
    assert len(z) == 3 and all(a.shape == (16, 8) for a in z) and m.training


def test_batch_mode_accuracy_leaves_running_statistics_alone():
    m = DeepMLP(4, 8, "sigmoid", bn=True, rng=np.random.default_rng(0))
    before = [b.running_mean.data.copy() for b in m.modules() if type(b).__name__ == "BatchNorm1d"]
    x = np.random.default_rng(1).standard_normal((16, 64)).astype(np.float32) + 3
    a = batch_mode_accuracy(m, x, np.zeros(16, np.int64), 4)
    after = [b.running_mean.data for b in m.modules() if type(b).__name__ == "BatchNorm1d"]
    assert 0 <= a <= 1 and all(np.array_equal(p, q) for p, q in zip(before, after, strict=True))


def _torch_ratio(ours, x, y, bn):
    lins = ours.linears()
    layers = []
    for i, lin in enumerate(lins):
        t = torch.nn.Linear(*lin.weight.data.shape[::-1])
        with torch.no_grad():
            t.weight.copy_(torch.tensor(lin.weight.data))
            t.bias.copy_(torch.tensor(lin.bias.data))
        layers.append(t)
        if i < len(lins) - 1:
            layers += ([torch.nn.BatchNorm1d(t.out_features)] if bn else []) + [torch.nn.Sigmoid()]
    net = torch.nn.Sequential(*layers).train()
    torch.nn.functional.cross_entropy(net(torch.tensor(x).reshape(len(x), -1)), torch.tensor(y)).backward()
    g = [float(m.weight.grad.double().norm()) for m in net if isinstance(m, torch.nn.Linear)]
    return np.log10(g[0] / g[-1])


def test_run_gradient_ratios_match_torch():
    s = 1
    res = run_tiny(E, seed=s)
    rng = np.random.default_rng(s)  # the run's draws from ctx.rng: the data, then the weights' seed
    data = load_data("digits", 150, 100, rng, standardize=True)
    wseed = int(rng.integers(2**31))
    x, y = data.x_train[:256], data.y_train[:256]
    f = res.values()
    for bn in (False, True):
        ours = DeepMLP(6, 64, "sigmoid", "xavier", bn=bn, rng=np.random.default_rng(wseed))
        key = f"log10_grad_ratio_{'bn' if bn else 'plain'}_6"
        assert f[key] == pytest.approx(_torch_ratio(ours, x, y, bn), abs=1e-3)
    assert 0 <= f["saturated_share_plain_6"] <= 1 and E.decide(f, T)[0] in E.reachable
    assert 0 <= res.beyond_values()["val_acc_eval_mode"] <= 1
