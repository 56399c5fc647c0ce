"""q05: decide exactly at both thresholds for every family that uses them; the verdicts it declares; the real
run's probes recomputed independently with torch.optim; the grid search helper picks the closest path."""

import numpy as np
import torch

from cvprimer.lab.experiments.q05_optimizers import OPTIMIZERS, PROBE_LR, SEED_LISTED, _best_path
from cvprimer.lab.experiments.q05_optimizers import Optimizers as E
from cvprimer.optim.landscapes import QUADRATIC
from labcheck import edges, reached, run_tiny

TYPICAL = {"SGD": (0.0, 100.0), "Momentum": (0.9, 100.0), "Nesterov": (0.426, 100.0), "AdaGrad": (0.0, 1.0),
           "RMSProp": (0.0, 1.0), "Adam": (0.67, 1.0)}


def figs(**kw):
    f = {}
    for n, (m, s) in TYPICAL.items():
        f[f"memory_{n}"], f[f"scaling_{n}"] = m, s
    f.update(kw)
    return f


def test_every_threshold_edge():
    # memory: the momentum family needs it (>= memory_min), plain descent must lack it
    edges(E, lambda v: figs(memory_Nesterov=v), "memory_min", "nuanced", "confirmed", "confirmed")
    edges(E, lambda v: figs(memory_Momentum=v), "memory_min", "nuanced", "confirmed", "confirmed")
    edges(E, lambda v: figs(memory_SGD=v), "memory_min", "confirmed", "nuanced", "nuanced")
    # adaptive methods rescale below the bar; plain and momentum methods must not
    edges(E, lambda v: figs(scaling_Adam=v), "adaptive_max_scaling", "confirmed", "nuanced", "nuanced")
    edges(E, lambda v: figs(scaling_AdaGrad=v), "adaptive_max_scaling", "confirmed", "nuanced", "nuanced")
    edges(E, lambda v: figs(scaling_Momentum=v), "adaptive_max_scaling", "nuanced", "confirmed", "confirmed")
    edges(E, lambda v: figs(scaling_SGD=v), "adaptive_max_scaling", "nuanced", "confirmed", "confirmed")


def test_reachable_verdicts_and_evidence():
    wrong = {}
    for n, (_m, s) in TYPICAL.items():  # every optimizer behaving like another family
        wrong[f"memory_{n}"], wrong[f"scaling_{n}"] = (0.5, 100.0) if s < 10 else (0.0, 1.0)
    reached(E, [figs(), figs(memory_Nesterov=0.0), wrong])
    v, ev = E.decide(figs(memory_Nesterov=0.0), E.thresholds)
    assert v == "nuanced" and "do not: Nesterov" in ev["en"] and "不符合的：Nesterov" in ev["zh"]


def torch_signature(name: str) -> tuple[float, float]:
    """The same two probes with torch.optim (momentum 0.9; Adam, AdaGrad and RMSprop at their defaults)."""
    make = {"SGD": lambda p: torch.optim.SGD(p, lr=PROBE_LR),
            "Momentum": lambda p: torch.optim.SGD(p, lr=PROBE_LR, momentum=0.9),
            "Nesterov": lambda p: torch.optim.SGD(p, lr=PROBE_LR, momentum=0.9, nesterov=True),
            "AdaGrad": lambda p: torch.optim.Adagrad(p, lr=PROBE_LR),
            "RMSProp": lambda p: torch.optim.RMSprop(p, lr=PROBE_LR),
            "Adam": lambda p: torch.optim.Adam(p, lr=PROBE_LR)}[name]

    def steps(grads):
        p = torch.zeros(2, dtype=torch.float64, requires_grad=True)
        opt, pts = make([p]), [np.zeros(2)]
        for g in grads:
            p.grad = torch.tensor(g, dtype=torch.float64)
            opt.step()
            pts.append(p.detach().numpy().copy())
        return np.diff(np.array(pts), axis=0)

    d = steps([[1.0, 1.0], [0.0, 0.0]])
    s = steps([[1.0, 100.0]])[0]
    return float(np.linalg.norm(d[1]) / np.linalg.norm(d[0])), float(abs(s[1]) / abs(s[0]))


def test_run_probes_match_torch():
    res = run_tiny(E)
    f = res.values()
    for n in SEED_LISTED:
        m, s = torch_signature(n)
        np.testing.assert_allclose([f[f"memory_{n}"], f[f"scaling_{n}"]], [m, s], rtol=1e-6, atol=1e-12)
    assert E.decide(f, E.thresholds)[0] == "confirmed"
    assert set(res.beyond) >= {"memory_RAdam", "cnn_acc_sgd", "rosenbrock_dist_sgd"}


def test_ten_optimizers_in_three_families_and_grid_pick():
    assert len(OPTIMIZERS) == 10 and {f for f, _, _ in OPTIMIZERS.values()} == {"plain", "momentum", "adaptive"}
    lr, path = _best_path(OPTIMIZERS["SGD"][1], QUADRATIC, [1e-3, 0.1, 0.5], 50)
    assert lr == 0.1 and np.linalg.norm(path[-1]) < 0.02  # 0.5 overshoots the steep axis (kappa = 10)
