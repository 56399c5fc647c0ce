"""Theoretical receptive fields: hand-worked examples, and every rule checked against autograd
(the support of d y[unit] / d x is exactly the set of input pixels a unit sees)."""

import numpy as np
import pytest
from analysis_nets import BN, Conv, Lambda, ReLU
from hypothesis import given, settings
from hypothesis import strategies as st

import cvprimer.functional as F
from cvprimer import nn
from cvprimer.analysis import analyze, effective_receptive_field, input_region, trace, unit_region
from cvprimer.analysis.receptive_field import ReceptiveFields
from cvprimer.analysis.roofline import MachineProfile

P = MachineProfile(1e11, 1e10, "fixed")


def rf_of(model, shape=(1, 1, 64, 64)):
    tr = trace(model, shape)
    return ReceptiveFields(tr)


def out_rf(model, shape=(1, 1, 64, 64)):
    return rf_of(model, shape).output()


def stack(*convs):
    return nn.Sequential(*convs)


def grad_support(model, shape, unit, rng):
    e = effective_receptive_field(model, shape, unit=unit, n_samples=1, rng=rng)
    return e["support"]


@pytest.mark.parametrize("n, size", [(1, 3), (2, 5), (3, 7)])
@pytest.mark.parametrize("pad", [0, 1])
def test_stacked_3x3_equal_one_larger_kernel(n, size, pad):
    # question 44: two 3x3 convs see 5x5, three see 7x7, whatever the padding...
    rf = out_rf(stack(*[Conv(1, 1, 3, p=pad) for _ in range(n)]))
    assert rf.size == (size, size) and rf.jump == (1, 1)
    # ...but the padding moves the field: unit 0 is centred at n (1 - pad) and the effective
    # padding (how far the field of unit 0 hangs off the image) is n * pad
    assert rf.start == (n * (1 - pad),) * 2
    assert rf.effective_padding == (n * pad,) * 2


@pytest.mark.parametrize("d", [1, 2, 3])
def test_canon_dilated_example_single_layer(d):
    # the canon (CV basics, dilated convolution): one 3x3 conv with dilation rate 1, 2, 3 "has a
    # receptive field of 3, 5, 8". A 3x3 kernel of dilation d spans d (k - 1) + 1 = 2d + 1 pixels:
    # 3, 5, 7. The 8 is wrong (the span of an odd kernel is always odd); measured by autograd too.
    m = Conv(1, 1, 3, d=d, rng=np.random.default_rng(d))
    assert out_rf(m).size == (2 * d + 1,) * 2
    (t, b), (left, r) = grad_support(m, (1, 1, 15, 15), (5, 5), np.random.default_rng(0))
    assert b - t + 1 == r - left + 1 == 2 * d + 1 != 8
    # stacked in that order (1, 2, 3) the fields are 3, 7, 13
    st = rf_of(stack(Conv(1, 1, 3, d=1), Conv(1, 1, 3, d=2), Conv(1, 1, 3, d=3)))
    assert [st.op_states[i].size[0] for i in range(3)] == [3, 7, 13]


def test_dilated_stack_grows_exponentially_not_linearly():
    # Yu & Koltun (2016): 3x3 convs with dilations 1, 2, 4 see 3, 7, 15 (2^(i+2) - 1), not the
    # 3, 5, 7 of an undilated stack: each layer adds (k - 1) d = 2 d.
    m = stack(Conv(1, 1, 3, d=1), Conv(1, 1, 3, d=2), Conv(1, 1, 3, d=4))
    rfs = rf_of(m)
    sizes = [rfs.op_states[i].size[0] for i in range(3)]
    assert sizes == [3, 7, 15]
    undilated = rf_of(stack(*[Conv(1, 1, 3) for _ in range(3)]))
    assert [undilated.op_states[i].size[0] for i in range(3)] == [3, 5, 7]


def test_strided_chain():
    m = stack(Conv(1, 1, 3, s=2, p=1), Conv(1, 1, 3, s=2, p=1), Conv(1, 1, 3, s=1, p=1))
    rfs = rf_of(m)
    got = [(rfs.op_states[i].size[0], rfs.op_states[i].jump[0]) for i in range(3)]
    assert got == [(3, 2), (7, 4), (15, 4)]  # r += (k-1) j_in; j *= s


def test_residual_block_is_the_union_and_aligned():
    body = stack(Conv(1, 1, 3, p=1), Conv(1, 1, 3, p=1))
    m = Lambda(lambda self, x: self.body(x) + x, body=body)
    rfs = rf_of(m)
    rf = rfs.output()
    assert rf.size == (5, 5) and rf.start == (0, 0) and not rfs.misalignments


def test_misaligned_branches_report_where_they_diverge():
    # both branches give 4x4 from 8x8, but a 2x2/2 conv is centred half a pixel away from a 1x1/2
    stem = Conv(1, 1, 3, p=1)
    a, b = Conv(1, 1, 2, s=2), Conv(1, 1, 1, s=2)
    m = Lambda(lambda self, x: self.a(self.stem(x)) + self.b(self.stem(x)), stem=stem, a=a, b=b)
    rfs = rf_of(m, (1, 1, 8, 8))
    (mis,) = rfs.misalignments
    assert mis["layer"] == "(model)" and mis["op"] == "add" and not mis["fatal"]
    # the stem runs twice (two calls): the paths share the input, so they diverge there
    assert mis["fork"] == "the input"
    assert "centres differ" in mis["detail"]
    shared = Lambda(lambda self, x: (lambda s: self.a(s) + self.b(s))(self.stem(x)), stem=stem, a=a, b=b)
    (mis2,) = rf_of(shared, (1, 1, 8, 8)).misalignments
    assert mis2["fork"] == "stem"


def test_paths_with_different_strides_are_reported_not_crashed():
    # 9x9 -> 7x7 by a 3x3 conv (jump 1) and by a 1x1 conv with stride 2 and padding 2 (jump 2)
    a, b = Conv(1, 1, 3), Conv(1, 1, 1, s=2, p=2)
    m = Lambda(lambda self, x: self.a(x) + self.b(x), a=a, b=b)
    rep = analyze(m, (1, 1, 9, 9), profile=P)
    (mis,) = rep.totals["misalignments"]
    assert mis["fatal"] and "jumps differ" in mis["detail"]
    assert rep.rf.output().kind == "unknown"
    assert "do not align" in rep.table()


CASES = {
    "dilated": lambda: stack(Conv(1, 2, 3, d=1, rng=np.random.default_rng(0)),
                             Conv(2, 1, 3, d=3, p=2, rng=np.random.default_rng(1))),
    "strided": lambda: stack(Conv(1, 2, 3, s=2, p=1, rng=np.random.default_rng(0)),
                             Conv(2, 1, 5, s=3, p=1, rng=np.random.default_rng(1))),
    "transposed": lambda: stack(Conv(1, 2, 3, s=2, rng=np.random.default_rng(0)),
                                Conv(2, 1, 4, s=2, p=1, rng=np.random.default_rng(1), transposed=True)),
    "transposed_dilated": lambda: Conv(1, 1, 3, s=3, p=2, d=2, rng=np.random.default_rng(2), transposed=True),
    "nearest": lambda: stack(Conv(1, 1, 3, s=2, rng=np.random.default_rng(0)),
                             Lambda(lambda self, x: F.interpolate(x, scale_factor=2))),
    "bilinear": lambda: stack(Conv(1, 1, 3, rng=np.random.default_rng(0)),
                              Lambda(lambda self, x: F.interpolate(x, scale_factor=2, mode="bilinear"))),
    "pixel_shuffle": lambda: stack(Conv(1, 4, 3, rng=np.random.default_rng(0)),
                                   Lambda(lambda self, x: F.pixel_shuffle(x, 2))),
    "avg_pool": lambda: stack(Conv(1, 1, 3, rng=np.random.default_rng(0)),
                              Lambda(lambda self, x: F.avg_pool2d(x, 3, 2, 1))),
    "pad": lambda: stack(Lambda(lambda self, x: F.pad(x, (2, 0, 1, 3))), Conv(1, 1, 3, rng=np.random.default_rng(0))),
}


SLIDING = {"dilated", "strided", "avg_pool", "pad"}


@pytest.mark.parametrize("name", sorted(CASES))
def test_unit_region_matches_autograd_support(name):
    # every unit of an interior 2x3 block: the exact region of unit_region is the bounding box of
    # the non-zero input gradient; the (size, jump, start) envelope contains it, and equals it
    # for sliding windows (where every unit sees the same window)
    model = CASES[name]()
    shape = (1, 1, 23, 23)
    tr = trace(model, shape)
    rf = ReceptiveFields(tr).output()
    assert rf.kind == "local"
    rng = np.random.default_rng(5)
    out_hw = tr.ops[-1].outputs[0].shape[-2:]
    ci, cj = out_hw[0] // 2, out_hw[1] // 2
    for i in (ci, ci + 1):
        for j in (cj - 1, cj, cj + 1):
            exact = grad_support(model, shape, (i, j), rng)
            assert unit_region(tr, i, j) == exact, (name, i, j)
            env = input_region(rf, i, j, shape[2:])
            assert all(env[a][0] <= exact[a][0] and exact[a][1] <= env[a][1] for a in range(2)), (name, env, exact)
            if name in SLIDING:
                assert env == exact


def test_unit_region_through_residual_flatten_and_slicing():
    from analysis_nets import cifar_resnet

    tr = trace(cifar_resnet(14), (1, 3, 32, 32))
    conv_ops = [r.index for r in tr.ops if r.name == "conv2d"]
    # the last conv of the first stage: 5 stacked 3x3 convs (stem + 2 blocks x 2) -> 11x11
    (t, b), (left, r) = unit_region(tr, 16, 16, conv_ops[4])
    assert (b - t + 1, r - left + 1) == (11, 11)
    # the logits depend on every pixel
    assert unit_region(tr, 0, 0, max(r.index for r in tr.ops if r.outputs[0].ndim == 4)) is not None


def test_effective_field_is_smaller_than_theoretical():
    # Luo et al. 2016: with many layers the gradient mass concentrates near the centre
    rng = np.random.default_rng(0)
    m = stack(*[Conv(1, 1, 3, p=1, rng=rng) for _ in range(8)])
    e = effective_receptive_field(m, (1, 41, 41), n_samples=3, rng=np.random.default_rng(1))
    theo = out_rf(m, (1, 1, 41, 41)).size[0]
    assert e["support_size"] == (theo, theo) == (17, 17)
    assert e["size_mass"] < theo
    assert abs(e["map"].sum() - 1) < 1e-9


def test_global_pooling_flatten_and_context():
    m = stack(Conv(1, 2, 3), BN(2), ReLU(), Lambda(lambda self, x: F.adaptive_avg_pool2d(x, 1)))
    assert out_rf(m).kind == "global"
    se = Lambda(lambda self, x: x * F.sigmoid(F.adaptive_avg_pool2d(x, 1)))
    rf = out_rf(stack(Conv(1, 2, 3), se))
    assert rf.kind == "local" and rf.size == (3, 3) and rf.context


def test_input_region_errors_on_global_field():
    with pytest.raises(ValueError, match="global"):
        input_region(out_rf(Lambda(lambda self, x: F.adaptive_avg_pool2d(x, 1))), 0, 0)


def test_cifar_resnet_field_with_option_a_shortcuts():
    # 3x3 convs only; the strided-slice shortcut moves nothing off-centre, so the paths align
    from analysis_nets import cifar_resnet

    r, j = 1, 1
    for stage in range(3):
        for layer in range(6):  # 3 blocks x 2 convs; the first conv of stages 2 and 3 has stride 2
            r += 2 * j
            j *= 2 if stage > 0 and layer == 0 else 1
    r += 2  # the stem conv comes first, at jump 1
    rfs = rf_of(cifar_resnet(20), (1, 3, 32, 32))
    last_local = [s for s in rfs.op_states.values() if s.kind == "local"][-1]
    assert last_local.size == (r, r) == (81, 81) and last_local.jump == (4, 4) and not rfs.misalignments


def test_analyze_puts_the_effective_field_beside_the_theoretical_one():
    from cvprimer import models

    rep = analyze(models.get_model("resnet20"), (1, 3, 32, 32), profile=P, erf_samples=1,
                  rng=np.random.default_rng(0))
    e = rep.totals["erf"]
    assert e["theoretical_size"] == (81, 81) and e["support_size"] == (32, 32)  # clipped to the image
    assert e["size_95"] < 32 and "effective receptive field" in rep.table()


@settings(max_examples=30, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(["conv", "max", "avg"]), st.integers(1, 3), st.integers(1, 2),
                          st.integers(0, 1), st.integers(1, 2)), min_size=1, max_size=3))
def test_sliding_window_chains_envelope_equals_exact_region(layers):
    # for any chain of sliding windows the (size, jump, start) description, clipped to the image,
    # contains every unit's exact region, and equals it for every unit whose field lies inside the
    # image (near the border a unit may read an intermediate layer's padding, which has no pixels)
    mods = []
    for kind, k, s, p, d in layers:
        if kind == "conv":
            mods.append(Conv(1, 1, k, s=s, p=p, d=d))
        elif kind == "max":
            p = min(p, (d * (k - 1) + 1) // 2)
            mods.append(Lambda(lambda self, x, a=(k, s, p, d): F.max_pool2d(x, a[0], a[1], a[2], a[3])))
        else:
            p = min(p, k // 2)
            mods.append(Lambda(lambda self, x, a=(k, s, p): F.avg_pool2d(x, a[0], a[1], a[2])))
    model = stack(*mods)
    try:
        tr = trace(model, (1, 1, 20, 20))
    except ValueError:
        return  # the chain shrinks the image to nothing: nothing to compare
    rf = ReceptiveFields(tr).output()
    H, W = tr.ops[-1].outputs[0].shape[-2:]
    for i in range(H):
        for j in range(W):
            exact, env = unit_region(tr, i, j), input_region(rf, i, j, (20, 20))
            if all(0 <= lo and hi <= 19 for lo, hi in input_region(rf, i, j)):
                assert env == exact
            elif exact is not None:
                assert all(env[a][0] <= exact[a][0] and exact[a][1] <= env[a][1] for a in range(2))
