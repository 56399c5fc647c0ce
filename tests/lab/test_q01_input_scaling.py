"""q01: decide exactly at every threshold for both scalers and both parts; the verdicts it declares; feature sets,
scalers fitted on the training split; the real run's z-scored sweep retrained independently in PyTorch."""

import numpy as np
import torch

import cvprimer as cp
from cvprimer.lab.common import Data, load_data
from cvprimer.lab.experiments.q01_input_scaling import InputScaling as E
from cvprimer.lab.experiments.q01_input_scaling import condition_number, feature_sets, mlp, preprocess
from labcheck import edges, reached, run_tiny

T = E.thresholds


def figs(raw=0.4, mm=0.95, z=0.97, mm_half=0.9, z_half=0.95):
    return {"best_acc_mixed_raw": raw, "best_acc_mixed_minmax": mm, "best_acc_mixed_zscore": z,
            "half_acc_mixed_minmax": mm_half, "half_acc_mixed_zscore": z_half}


def test_every_threshold_edge():
    # more accurate: the final accuracy gain over raw (raw = 0 so the gain is the value itself)
    edges(E, lambda v: figs(raw=0.0, mm=v), "min_acc_gain", "nuanced", "confirmed", "confirmed")
    edges(E, lambda v: figs(raw=0.0, z=v), "min_acc_gain", "nuanced", "confirmed", "confirmed")
    # faster: halfway accuracy over the raw input's final accuracy
    edges(E, lambda v: figs(raw=0.0, mm_half=v), "min_speed_gain", "nuanced", "confirmed", "confirmed")
    edges(E, lambda v: figs(raw=0.0, z_half=v), "min_speed_gain", "nuanced", "confirmed", "confirmed")


def test_reachable_verdicts_and_evidence():
    reached(E, [figs(), figs(mm_half=0.4), figs(raw=0.97)])
    v, ev = E.decide(figs(mm_half=0.4), T)
    assert v == "nuanced" and "Checks that fail: min-max speed" in ev["en"] and "min-max 速度" in ev["zh"]


def test_features_scalers_and_condition_number():
    rng = np.random.default_rng(0)
    x = rng.random((40, 1, 8, 8)).astype(np.float32)
    x[:, 0, 0, 0] = 0  # constant on the training split: dropped
    d = Data(x[:30], np.zeros(30, np.int64), x[30:], np.zeros(10, np.int64))
    sets = feature_sets(d, rng)
    same, mixed = sets["same-scale"], sets["mixed-scale"]
    assert same[0].shape == (30, 63) and same[1].shape == (10, 63)
    assert np.sum(np.isclose(mixed[0][0] / same[0][0], 100)) == 63 // 4
    ztr, zva = preprocess(*mixed, "z-score")
    np.testing.assert_allclose(ztr.mean(0), 0, atol=1e-5)
    np.testing.assert_allclose(ztr.std(0), 1, atol=1e-4)
    np.testing.assert_allclose(zva, preprocess(*same, "z-score")[1], rtol=1e-4, atol=1e-4)  # scale-free
    mtr, _ = preprocess(*mixed, "min-max")
    assert mtr.min() == 0 and mtr.max() == 1
    assert condition_number(rng.standard_normal((5000, 2))) < 1.2


def torch_sweep(seed: int = 0) -> float:
    """The tiny run's z-scored mixed-unit sweep in PyTorch: same data, initial weights, batches and rates."""
    rng = np.random.default_rng(seed)
    d = load_data("digits", 120, 60, rng)
    sets = feature_sets(d, np.random.default_rng(rng.integers(2**63)))
    state = rng.bit_generator.state
    xtr, xva = preprocess(*sets["mixed-scale"], "z-score")
    best = 0.0
    for lr in np.logspace(-5, 1, 3):
        cp.manual_seed(seed)
        ours = [m for m in mlp(xtr.shape[1]) if type(m).__name__ == "Linear"]
        l1, l2 = (torch.nn.Linear(m.weight.data.shape[1], m.weight.data.shape[0]) for m in ours)
        with torch.no_grad():
            for lin, m in zip((l1, l2), ours, strict=True):
                lin.weight.copy_(torch.from_numpy(np.asarray(m.weight.data, np.float32)))
                lin.bias.copy_(torch.from_numpy(np.asarray(m.bias.data, np.float32)))
        net = torch.nn.Sequential(l1, torch.nn.ReLU(), l2)
        opt = torch.optim.SGD(net.parameters(), lr=float(lr))
        gen = np.random.default_rng()
        gen.bit_generator.state = state
        x, y = torch.from_numpy(np.asarray(xtr, np.float32)), torch.from_numpy(d.y_train.astype(np.int64))
        for _ in range(2):
            order = gen.permutation(len(y))
            gen.integers(0, 2**63 - 1)
            losses = []
            for s in range(0, len(order), 32):
                idx = torch.from_numpy(order[s:s + 32])
                opt.zero_grad()
                loss = torch.nn.functional.cross_entropy(net(x[idx]), y[idx])
                loss.backward()
                opt.step()
                losses.append(loss.item())
        with torch.no_grad():
            acc = (net(torch.from_numpy(np.asarray(xva, np.float32))).argmax(1).numpy() == d.y_val).mean()
        best = max(best, float(acc) if np.isfinite(np.mean(losses)) else 0.1)
    return best


def test_run_matches_torch():
    f = run_tiny(E, seed=0).values()
    assert abs(f["best_acc_mixed_zscore"] - torch_sweep(0)) <= 2 / 60
