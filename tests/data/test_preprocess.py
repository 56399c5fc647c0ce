"""Fitted normalizers: statistics from training data only, frozen results, exact round trips."""

import dataclasses

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from cvprimer.data import (
    ArctanSquash,
    Centerer,
    ExpSquash,
    Log1p,
    MinMaxScaler,
    Standardizer,
    TanhSquash,
    split_arrays,
)


def _data(seed=0, shape=(20, 3, 4, 5)):
    rng = np.random.default_rng(seed)
    return (rng.random(shape) * np.array([1.0, 5.0, 50.0])[None, :, None, None] + 2.0).astype(np.float64)


def test_minmax_fitted_on_train_only():
    train, val = _data(0), _data(1) * 3
    f = MinMaxScaler().fit(train)
    y = f(train)
    assert y.min() == pytest.approx(0.0) and y.max() == pytest.approx(1.0)
    np.testing.assert_allclose(f.stats["lo"], train.min())
    # validation uses training statistics: it may leave [0, 1]
    np.testing.assert_allclose(f(val), (val - train.min()) / (train.max() - train.min()))
    pc = MinMaxScaler(feature_range=(-1, 1), per_channel=True).fit(train)
    yc = pc(train)
    np.testing.assert_allclose(yc.min(axis=(0, 2, 3)), -1.0, atol=1e-12)
    np.testing.assert_allclose(yc.max(axis=(0, 2, 3)), 1.0, atol=1e-12)
    np.testing.assert_allclose(pc.inverse(yc), train, rtol=1e-12)


def test_minmax_constant_range_uint8():
    x = np.arange(256, dtype=np.uint8).reshape(4, 1, 8, 8)
    f = MinMaxScaler(data_range=(0, 255)).fit(x[:1])  # the statistics do not depend on the data
    y = f(x)
    assert y.dtype == np.float32
    np.testing.assert_allclose(y, x / 255.0, rtol=1e-6)


def test_standardizer_statistics():
    train = _data(2)
    g = Standardizer().fit(train)
    z = g(train)
    assert z.mean() == pytest.approx(0.0, abs=1e-12) and z.std() == pytest.approx(1.0, abs=1e-6)
    p = Standardizer(per_channel=True).fit(train)
    zc = p(train)
    np.testing.assert_allclose(zc.mean(axis=(0, 2, 3)), 0.0, atol=1e-12)
    np.testing.assert_allclose(zc.std(axis=(0, 2, 3)), 1.0, atol=1e-6)
    np.testing.assert_allclose(p.stats["mean"].ravel(), train.mean(axis=(0, 2, 3)))
    np.testing.assert_allclose(p.inverse(zc), train, rtol=1e-12)
    c = Centerer(per_channel=True).fit(train)
    np.testing.assert_allclose(c(train).mean(axis=(0, 2, 3)), 0.0, atol=1e-12)


def test_fitted_is_frozen_and_has_no_fit():
    f = Standardizer().fit(_data())
    assert not hasattr(f, "fit")
    with pytest.raises(dataclasses.FrozenInstanceError):
        f.name = "other"
    with pytest.raises(ValueError, match="read-only"):
        f.stats["mean"][...] = 0.0


def test_fit_refuses_validation_split():
    x = _data(3)
    s = split_arrays(x, np.repeat([0, 1], 10), (0.6, 0.2, 0.2), rng=0)
    Standardizer().fit(s.train)  # fine
    with pytest.raises(TypeError, match="training split only"):
        Standardizer().fit(s.val)


def test_per_channel_shape_mismatch():
    f = Standardizer(per_channel=True).fit(_data())
    with pytest.raises(ValueError, match="fitted per channel"):
        f(np.zeros((2, 4, 3, 3)))


@pytest.mark.parametrize("cls,x", [
    (Log1p, np.linspace(-0.9, 50, 41)),
    (ExpSquash, np.linspace(0, 5, 41)),
    (ArctanSquash, np.linspace(-20, 20, 41)),
    (TanhSquash, np.linspace(-3, 3, 41)),
])
def test_nonlinear_maps_formula_and_inverse(cls, x):
    x = x.reshape(1, 1, 41)
    f = cls().fit(x)
    formula = {Log1p: lambda v: np.log(1 + v), ExpSquash: lambda v: 1 - np.exp(-v),
               ArctanSquash: lambda v: 2 / np.pi * np.arctan(v), TanhSquash: np.tanh}[cls]
    expected = formula(x)
    np.testing.assert_allclose(f(x), expected, rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(f.inverse(f(x)), x, rtol=1e-9, atol=1e-12)
    s = cls(scale="std").fit(x)
    assert s.stats["scale"] == pytest.approx(x.std())
    np.testing.assert_allclose(s.inverse(s(x)), x, rtol=1e-9, atol=1e-12)


@settings(max_examples=30, deadline=None)
@given(arrays(np.float64, (6, 2, 3), elements=st.floats(-1e3, 1e3)), st.booleans())
def test_roundtrip_property(x, per_channel):
    for scaler in (MinMaxScaler(per_channel=per_channel), Standardizer(per_channel=per_channel),
                   Centerer(per_channel=per_channel)):
        f = scaler.fit(x)
        np.testing.assert_allclose(f.inverse(f(x)), x, rtol=1e-9, atol=1e-6)


def test_bad_arguments():
    with pytest.raises(ValueError, match="feature_range"):
        MinMaxScaler(feature_range=(1, 0))
    with pytest.raises(ValueError, match="scale must be a positive number or 'std'"):
        TanhSquash(scale=0)
    with pytest.raises(TypeError, match="non-empty numeric"):
        MinMaxScaler().fit([1, 2, 3])
