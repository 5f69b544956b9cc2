"""seqrnn.Linear against the NumPy reference, finite differences, and its error cases."""

from __future__ import annotations

import numpy as np
import pytest
import seqrnn
from _reference import linear

# Every test here runs at each instruction-set level the CPU supports (tests/conftest.py).
pytestmark = pytest.mark.usefixtures("every_level")

TOL = {"float64": 1e-12, "float32": 1e-5}


def params(layer):
    sd = layer.state_dict()
    return sd["weight"], sd.get("bias", 0.0)


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("bias", [True, False])
@pytest.mark.parametrize("shape", [(5,), (4, 5), (2, 3, 5)])
def test_forward_and_backward_match_numpy(dtype, bias, shape):
    rng = np.random.default_rng(0)
    layer = seqrnn.Linear(5, 3, bias=bias, seed=1, dtype=dtype)
    x = rng.normal(size=shape).astype(dtype)
    d_y = rng.normal(size=(*shape[:-1], 3)).astype(dtype)
    W, b = params(layer)
    y = layer.forward(x)
    assert y.shape == (*shape[:-1], 3) and y.dtype == np.dtype(dtype)
    np.testing.assert_allclose(y, linear(x.astype(np.float64), W, b), rtol=0, atol=TOL[dtype] * 10)
    grads, d_x = layer.backward(x, d_y)
    assert sorted(grads) == (["bias", "weight"] if bias else ["weight"])
    x2, d2 = x.reshape(-1, 5).astype(np.float64), d_y.reshape(-1, 3).astype(np.float64)
    np.testing.assert_allclose(grads["weight"], d2.T @ x2, rtol=0, atol=TOL[dtype] * 10)
    if bias:
        np.testing.assert_allclose(grads["bias"], d2.sum(axis=0), rtol=0, atol=TOL[dtype] * 10)
    assert d_x.shape == x.shape
    np.testing.assert_allclose(d_x, d_y @ W.astype(np.float64), rtol=0, atol=TOL[dtype] * 10)


def test_gradients_match_central_differences():
    rng = np.random.default_rng(2)
    layer = seqrnn.Linear(4, 3, seed=3, dtype="float64")
    x, d_y = rng.normal(size=(6, 4)), rng.normal(size=(6, 3))
    grads, d_x = layer.backward(x, d_y)

    def loss(p, xx):
        layer.load_state_dict(p)
        return float((layer.forward(xx) * d_y).sum())

    p0, eps = layer.state_dict(), 1e-6
    for name, g in grads.items():
        for i in np.ndindex(g.shape):
            plus, minus = dict(p0), dict(p0)
            plus[name], minus[name] = p0[name].copy(), p0[name].copy()
            plus[name][i] += eps
            minus[name][i] -= eps
            fd = (loss(plus, x) - loss(minus, x)) / (2 * eps)
            assert abs(fd - g[i]) <= 1e-6 * max(1.0, abs(fd)), (name, i)
    layer.load_state_dict(p0)
    for i in np.ndindex(x.shape):
        xp, xm = x.copy(), x.copy()
        xp[i] += eps
        xm[i] -= eps
        fd = (loss(p0, xp) - loss(p0, xm)) / (2 * eps)
        assert abs(fd - d_x[i]) <= 1e-6 * max(1.0, abs(fd)), i


def test_parameters_are_pytorch_shaped_seeded_and_bounded():
    a, b = seqrnn.Linear(9, 4, seed=5), seqrnn.Linear(9, 4, seed=5)
    sa, sb = a.state_dict(), b.state_dict()
    assert {k: v.shape for k, v in sa.items()} == {"weight": (4, 9), "bias": (4,)}
    assert all(np.array_equal(sa[k], sb[k]) for k in sa)
    assert not np.array_equal(sa["weight"], seqrnn.Linear(9, 4, seed=6).state_dict()["weight"])
    assert all(np.abs(v).max() <= 1 / 3 for v in sa.values())  # U(-1/sqrt(in), 1/sqrt(in))
    layer = seqrnn.Linear(9, 4, bias=False)
    assert list(layer.state_dict()) == ["weight"] and layer.bias is False
    assert (a.in_features, a.out_features, a.bias, a.dtype) == (9, 4, True, "float32")
    assert repr(a) == "Linear(in_features=9, out_features=4, bias=True, dtype='float32')"


def test_load_state_dict_round_trip():
    layer = seqrnn.Linear(2, 2, dtype="float64", seed=0)
    layer.load_state_dict({"weight": np.array([[1.0, 2.0], [3.0, 4.0]]), "bias": np.array([0.5, -0.5])})
    np.testing.assert_array_equal(layer(np.array([1.0, 1.0])), [3.5, 6.5])
    copy = seqrnn.Linear(2, 2, dtype="float64", seed=1)
    copy.load_state_dict(layer.state_dict())
    np.testing.assert_array_equal(copy.state_dict()["weight"], layer.state_dict()["weight"])


LAYER = seqrnn.Linear(3, 2, seed=0)
F32 = np.float32


@pytest.mark.parametrize("call,exc,match", [
    (lambda: seqrnn.Linear(0, 2), ValueError, "in_features must be at least 1, got 0"),
    (lambda: seqrnn.Linear(2, -1), ValueError, "out_features must be at least 1, got -1"),
    (lambda: seqrnn.Linear(2.5, 2), TypeError, "in_features must be an int"),
    (lambda: seqrnn.Linear(2, 2, dtype="int8"), ValueError, "dtype must be"),
    (lambda: seqrnn.Linear(2, 2, init="zeros"), ValueError, "init must be"),
    (lambda: seqrnn.Linear(2, 2, seed=-1), ValueError, "seed must be"),
    (lambda: LAYER.forward(np.zeros((4, 2), F32)), ValueError, r"expected shape \(\.\.\., 3\).*got \[4, 2\]"),
    (lambda: LAYER.forward(np.float32(1.0)), ValueError, r"expected shape \(\.\.\., 3\).*got \[\]"),
    (lambda: LAYER.forward(np.zeros(3, np.int64)), TypeError, "floating-point array, got dtype int64"),
    (lambda: LAYER.forward("abc"), TypeError, "floating-point"),
    (lambda: LAYER.backward(np.zeros((4, 3), F32), np.zeros((4, 3), F32)), ValueError,
     r"d_output: expected shape \[4, 2\].*got \[4, 3\]"),
    (lambda: LAYER.backward(np.zeros((4, 3), F32), np.zeros((4, 2), int)), TypeError, "d_output"),
    (lambda: LAYER.load_state_dict({"weight": np.zeros((2, 3), F32)}), ValueError, "missing parameter \"bias\""),
    (lambda: LAYER.load_state_dict({"weight": np.zeros((3, 2), F32), "bias": np.zeros(2, F32)}),
     ValueError, "weight"),
    (lambda: LAYER.load_state_dict({"weight": np.zeros((2, 3)), "bias": np.zeros(2, F32)}),
     TypeError, "weight: expected dtype float32, got float64"),
    (lambda: LAYER.load_state_dict({"weight": np.zeros((2, 3), F32), "bias": np.zeros(2, F32),
                                    "extra": np.zeros(1, F32)}), ValueError, "unexpected parameter \"extra\""),
    (lambda: LAYER.load_state_dict([("weight", 0)]), TypeError, "state_dict must be a dict"),
])
def test_errors_say_what_was_expected(call, exc, match):
    before = LAYER.state_dict()
    with pytest.raises(exc, match=match):
        call()
    assert all(np.array_equal(before[k], v) for k, v in LAYER.state_dict().items())


CORE = seqrnn._core.Linear(3, 2)


@pytest.mark.parametrize("call,exc,match", [
    (lambda: CORE.forward(np.zeros((1, 1, 3), F32)), ValueError,
     "input: expected a 2-dimensional array, got 3 dimensions"),
    (lambda: CORE.forward(np.zeros((1, 3))), TypeError, "input: expected dtype float32, got float64"),
    (lambda: CORE.forward(np.zeros((1, 4), F32)), ValueError, r"linear input.*\[1, 3\].*\[1, 4\]"),
    (lambda: CORE.backward([[0.0, 0.0, 0.0]], np.zeros((1, 2), F32)), TypeError,
     "input: expected a numpy array, got list"),
    (lambda: CORE.backward(np.zeros((1, 3), F32), np.zeros((2, 2), F32)), ValueError,
     r"linear output gradient.*\[1, 2\].*\[2, 2\]"),
    (lambda: CORE.load_state_dict({1: np.zeros(2, F32)}), TypeError, "keys must be str"),
    (lambda: seqrnn._core.Linear(-1, 2), ValueError, "in_features must be at least 1, got -1"),
])
def test_the_compiled_class_checks_its_own_inputs(call, exc, match):
    with pytest.raises(exc, match=match):
        call()
