import numpy as np
import pytest
import torch

import cvprimer as cp
import cvprimer.functional as F


@pytest.mark.parametrize("shape,n", [((7,), 5), ((3, 4), -1), ((2, 0), 3), ((), 4), ((2, 3, 2), 9)])
def test_one_hot_matches_torch(shape, n):
    rng = np.random.default_rng(1)
    hi = 4 if n in (-1, 9) else n
    idx = rng.integers(0, hi, shape).astype(np.int64)
    got = F.one_hot(cp.tensor(idx), n)
    want = torch.nn.functional.one_hot(torch.from_numpy(idx), n)
    assert got.dtype == np.int64 and got.shape == tuple(want.shape)
    np.testing.assert_array_equal(got.numpy(), want.numpy())


@pytest.mark.parametrize("idx,n,msg", [(np.array([0, 3]), 3, r"one_hot: class values must lie in \[0, 3\)"),
                                       (np.array([-1, 0]), 2, r"from -1 to 0"),
                                       (np.array([0.0, 1.0]), 2, "expects an integer index tensor, got dtype float"),
                                       (np.zeros(0, np.int64), -1, "cannot infer num_classes"),
                                       (np.array([0, 1]), -2, "num_classes must be -1 or a non-negative int")])
def test_one_hot_bad_input_is_a_clear_error(idx, n, msg):
    with pytest.raises((ValueError, TypeError), match=msg):
        F.one_hot(cp.tensor(idx), n)
