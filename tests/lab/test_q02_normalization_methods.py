"""q02: decide exactly at every threshold for each check that uses it; the verdicts it declares; the real run's
normality statistics and skewness recomputed independently with SciPy from independently rebuilt features."""

import numpy as np
from scipy import stats

from cvprimer.lab.common import load_data, sample_photo
from cvprimer.lab.experiments.q02_normalization_methods import NormalizationMethods as E
from cvprimer.lab.experiments.q02_normalization_methods import ks_normal, moments
from labcheck import edges, reached, run_tiny

T = E.thresholds


def figs(photo=57.7, mnist=187.0, ink=1.7, **kw):
    """Figures with n = 1, so the Lilliefors statistic sqrt(n) KS equals the KS distance given."""
    f = {"ks_photo": photo, "n_photo": 1.0, "ks_mnist": mnist, "n_mnist": 1.0, "ks_ink": ink, "n_ink": 1.0,
         "max_mean_std_error": 1e-7, "max_minmax_range_error": 0.0, "skew_heavy": 1.7, "skew_heavy_log1p": 0.86,
         "skew_heavy_exp": 0.43, "skew_heavy_tanh": 0.32, "skew_heavy_arctan": 0.52}
    f.update(kw)
    return f


def test_every_threshold_edge():
    # normality per feature: strictly below Lilliefors' value
    edges(E, lambda v: figs(photo=0.1, mnist=0.1, ink=v), "lilliefors_1pct", "confirmed", "nuanced", "nuanced")
    edges(E, lambda v: figs(ink=v), "lilliefors_1pct", "nuanced", "refuted", "refuted")
    # the formulas: mean/std and the min-max range within moment_tol
    edges(E, lambda v: figs(ink=0.5, max_mean_std_error=v), "moment_tol", "nuanced", "nuanced", "refuted")
    edges(E, lambda v: figs(ink=0.5, max_minmax_range_error=v), "moment_tol", "nuanced", "nuanced", "refuted")
    # each squash must cut the skewness by at least min_skew_cut
    for k in ("log1p", "exp", "tanh", "arctan"):
        others = {f"skew_heavy_{o}": -1.0 for o in ("log1p", "exp", "tanh", "arctan") if o != k}
        edges(E, lambda v, k=k, o=others: figs(ink=0.5, skew_heavy=v, **{f"skew_heavy_{k}": 0.0}, **o),
              "min_skew_cut", "refuted", "nuanced", "nuanced")


def test_reachable_verdicts_and_evidence():
    reached(E, [figs(), figs(ink=0.5), figs(photo=0.1, mnist=0.1, ink=0.5)])
    v, ev = E.decide(figs(), T)
    assert v == "refuted" and "not normal: photo gradient, MNIST pixels, digit ink" in ev["en"]
    assert "不服从的：照片梯度、MNIST 像素、digits 墨量" in ev["zh"]


def test_run_matches_scipy_on_rebuilt_features():
    res = run_tiny(E, seed=0)
    f = res.values()
    grey = sample_photo(0).mean(axis=0)[::2, ::2].astype(np.float64)
    gy, gx = np.gradient(grey)
    rng = np.random.default_rng(0)
    mnist = load_data("mnist_sample", 20, 10, rng).x_train.astype(np.float64).ravel()
    ink = load_data("digits", 300, 360, rng).x_train
    rebuilt = {"photo": np.hypot(gx, gy).ravel(), "mnist": mnist,
               "ink": ink.reshape(len(ink), -1).sum(axis=1).astype(np.float64)}
    for k, x in rebuilt.items():
        assert f[f"n_{k}"] == len(x)
        np.testing.assert_allclose(f[f"ks_{k}"], stats.kstest(stats.zscore(x), "norm").statistic, rtol=1e-5)
    heavy = rebuilt["photo"]
    np.testing.assert_allclose(f["skew_heavy"], stats.skew(heavy), rtol=1e-9)
    np.testing.assert_allclose(f["skew_heavy_log1p"], stats.skew(np.log1p(heavy / heavy.std())), rtol=1e-5)
    np.testing.assert_allclose(f["skew_heavy_tanh"], stats.skew(np.tanh(heavy / heavy.std())), rtol=1e-5)
    assert E.decide(f, T)[0] == "nuanced"  # 300 digits are too few to reject the ink's normality


def test_moments_and_ks():
    rng = np.random.default_rng(0)
    x = rng.exponential(size=20000)
    m, s, sk, ku = moments(x)
    assert abs(m - 1) < 0.05 and abs(s - 1) < 0.05 and abs(sk - 2) < 0.2 and abs(ku - 6) < 1.0
    z = (x - x.mean()) / x.std()
    np.testing.assert_allclose(moments(z)[2:], (sk, ku), rtol=1e-10)  # z-scoring keeps the shape
    assert ks_normal(z) > 0.05 and ks_normal(rng.standard_normal(20000)) < 0.02
    assert ks_normal(np.array([0.0])) == 0.5  # F_n jumps 0 -> 1 where Phi = 1/2
