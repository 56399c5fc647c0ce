"""q38: decide exactly at its threshold for each comparison; the real run recomputed with PyTorch and SciPy."""

import numpy as np
import torch
from scipy import signal

from cvprimer.lab.common import sample_photo
from cvprimer.lab.experiments.q38_conv_vs_math import ConvIsCorrelation as E
from labcheck import edges, reached, run_tiny

T = E.thresholds
GOOD = {"err_vs_correlate": 1e-16, "err_vs_convolve_flipped": 1e-16, "err_vs_convolve_unflipped": 0.4}


def test_edges_of_each_comparison():
    for k in ("err_vs_correlate", "err_vs_convolve_flipped"):  # must match within the tolerance
        edges(E, lambda v, k=k: {**GOOD, k: v}, "max_rel_err", below="confirmed", at="confirmed", above="refuted")
    edges(E, lambda v: {**GOOD, "err_vs_convolve_unflipped": v}, "max_rel_err",  # must differ beyond it
          below="refuted", at="refuted", above="confirmed")


def test_reachable_and_evidence():
    reached(E, [GOOD, {**GOOD, "err_vs_convolve_unflipped": 0.0}])
    v, ev = E.decide({**GOOD, "err_vs_correlate": 1e-7}, T)
    assert v == "confirmed" and "1e-07" in ev["en"] and "0.4" in ev["zh"]


def test_run_matches_torch_and_scipy():
    """The tiny run's figures recomputed with torch's conv2d (a cross-correlation) against SciPy, same kernels."""
    f = run_tiny(E, seed=2).values()
    img = np.asarray(sample_photo(0).mean(axis=0)[:96:2, :128:2], np.float64)
    rng = np.random.default_rng(2)
    corr, unflipped = 0.0, np.inf
    for kh, kw in ((3, 3), (5, 5), (3, 7)):
        k = rng.standard_normal((kh, kw))
        ref = torch.nn.functional.conv2d(torch.tensor(img)[None, None], torch.tensor(k)[None, None])[0, 0].numpy()
        scale = np.abs(ref).max()
        corr = max(corr, np.abs(ref - signal.correlate2d(img, k, mode="valid")).max() / scale)
        unflipped = min(unflipped, np.abs(ref - signal.convolve2d(img, k, mode="valid")).max() / scale)
    assert corr < 1e-12 and f["err_vs_correlate"] < 1e-12
    assert abs(f["err_vs_convolve_unflipped"] - unflipped) < 1e-9 * unflipped
    assert E.decide(f, T)[0] == "confirmed"
