"""seqrnn.RNN against the float64 NumPy reference in tests/_reference.py."""

from __future__ import annotations

import numpy as np
import pytest
import seqrnn
from _reference import rnn_backward, rnn_forward

# Every test here runs at each instruction-set level the CPU supports (tests/conftest.py).
pytestmark = pytest.mark.usefixtures("every_level")

TOL = {"float64": 1e-10, "float32": 1e-5}
DTYPES = ["float64", "float32"]


def assert_close(got, ref, dtype):
    """Same shape, model dtype, and max |got - ref| <= TOL * max(1, max |ref|)."""
    got, ref = np.asarray(got), np.asarray(ref)
    assert got.shape == ref.shape
    assert got.dtype == np.dtype(dtype)
    scale = max(1.0, float(np.abs(ref).max(initial=0.0)))
    err = float(np.abs(got.astype(np.float64) - ref).max(initial=0.0))
    assert err <= TOL[dtype] * scale, f"max deviation {err:.3g} (scale {scale:.3g})"


def assert_grads_close(grads, ref_grads, dtype):
    assert sorted(grads) == sorted(ref_grads)
    for name in ref_grads:
        assert_close(grads[name], ref_grads[name], dtype)


def data(rng, dtype, T, B, I, H, L):
    """x (T, B, I), h0 (L, B, H), d_output (T, B, H), d_h_n (L, B, H) in the model's dtype."""
    shapes = [(T, B, I), (L, B, H), (T, B, H), (L, B, H)]
    return [rng.normal(size=s).astype(dtype) for s in shapes]


def check_against_reference(rnn, x, h0=None, d_out=None, d_h_n=None, lengths=None):
    """x etc. time-major; runs the model and the reference and compares everything."""
    dtype, L = rnn.dtype, rnn.num_layers
    out, h_n = rnn.forward(x, h0, lengths)
    grads, d_x, d_h0 = rnn.backward(x, d_out, h0, d_h_n, lengths)
    ref_out, ref_h_n, cache = rnn_forward(rnn.state_dict(), x, h0, lengths, rnn.nonlinearity, L)
    ref_grads, ref_dx, ref_dh0 = rnn_backward(cache, d_out, d_h_n)
    assert_close(out, ref_out, dtype)
    assert_close(h_n, ref_h_n, dtype)
    assert_close(d_x, ref_dx, dtype)
    assert_close(d_h0, ref_dh0, dtype)
    assert_grads_close(grads, ref_grads, dtype)
    return out, h_n


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("layers", [1, 2, 3])
@pytest.mark.parametrize("nonlinearity", ["tanh", "relu"])
@pytest.mark.parametrize("bias", [True, False])
def test_forward_and_backward_match_reference(dtype, layers, nonlinearity, bias):
    rng = np.random.default_rng(layers)
    rnn = seqrnn.RNN(3, 5, layers, nonlinearity=nonlinearity, bias=bias, seed=7, dtype=dtype)
    x, _, d_out, _ = data(rng, dtype, T=6, B=4, I=3, H=5, L=layers)
    check_against_reference(rnn, x, d_out=d_out)
    expected = {f"weight_{k}_l{l}" for k in ("ih", "hh") for l in range(layers)}
    if bias:
        expected |= {f"bias_{k}_l{l}" for k in ("ih", "hh") for l in range(layers)}
    assert set(rnn.state_dict()) == expected


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("nonlinearity", ["tanh", "relu"])
def test_h0_and_d_h_n(dtype, nonlinearity):
    rng = np.random.default_rng(1)
    rnn = seqrnn.RNN(4, 6, 2, nonlinearity=nonlinearity, seed=1, dtype=dtype)
    x, h0, d_out, d_h_n = data(rng, dtype, T=5, B=3, I=4, H=6, L=2)
    check_against_reference(rnn, x, h0, d_out, d_h_n)
    # h0 matters: a different initial state gives a different output
    assert not np.allclose(rnn.forward(x, h0)[0], rnn.forward(x)[0])


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("nonlinearity", ["tanh", "relu"])
def test_lengths(dtype, nonlinearity):
    rng = np.random.default_rng(2)
    rnn = seqrnn.RNN(3, 5, 2, nonlinearity=nonlinearity, seed=2, dtype=dtype)
    x, h0, d_out, d_h_n = data(rng, dtype, T=6, B=4, I=3, H=5, L=2)
    lengths = np.array([6, 1, 3, 5])  # (B,)
    out, h_n = check_against_reference(rnn, x, h0, d_out, d_h_n, lengths)
    for b, n in enumerate(lengths):
        assert np.all(out[n:, b] == 0)
        # each sequence alone, truncated to its length, gives the same state
        out_b, h_n_b = rnn.forward(x[:n, b : b + 1], h0[:, b : b + 1])
        assert_close(h_n[:, b], h_n_b[:, 0].astype(np.float64), dtype)
        assert_close(out[:n, b], out_b[:, 0].astype(np.float64), dtype)
    # padding steps do not influence anything
    x2 = x.copy()
    x2[1:, 1] = 99.0
    assert np.array_equal(rnn.forward(x2, h0, lengths)[1], h_n)


@pytest.mark.parametrize("dtype", DTYPES)
def test_batch_first(dtype):
    rng = np.random.default_rng(3)
    rnn = seqrnn.RNN(3, 4, 2, batch_first=True, seed=3, dtype=dtype)
    x, h0, d_out, d_h_n = data(rng, dtype, T=5, B=2, I=3, H=4, L=2)
    lengths = np.array([5, 3])
    xb, d_outb = x.transpose(1, 0, 2), d_out.transpose(1, 0, 2)  # (B, T, I), (B, T, H)
    out, h_n = rnn.forward(xb, h0, lengths)
    grads, d_x, d_h0 = rnn.backward(xb, d_outb, h0, d_h_n, lengths)
    ref_out, ref_h_n, cache = rnn_forward(rnn.state_dict(), x, h0, lengths, "tanh", 2)
    ref_grads, ref_dx, ref_dh0 = rnn_backward(cache, d_out, d_h_n)
    assert_close(out, ref_out.transpose(1, 0, 2), dtype)  # (B, T, H)
    assert_close(h_n, ref_h_n, dtype)  # h_n stays (L, B, H), as in PyTorch
    assert_close(d_x, ref_dx.transpose(1, 0, 2), dtype)  # like xb
    assert_close(d_h0, ref_dh0, dtype)
    assert_grads_close(grads, ref_grads, dtype)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("batch_first", [False, True])
def test_unbatched(dtype, batch_first):
    rng = np.random.default_rng(4)
    rnn = seqrnn.RNN(3, 4, 2, batch_first=batch_first, seed=4, dtype=dtype)
    x, h0, d_out, d_h_n = data(rng, dtype, T=5, B=1, I=3, H=4, L=2)
    # unbatched: x (T, I), h0 (L, H), d_output (T, H), d_h_n (L, H); batch_first is ignored
    out, h_n = rnn.forward(x[:, 0], h0[:, 0])
    grads, d_x, d_h0 = rnn.backward(x[:, 0], d_out[:, 0], h0[:, 0], d_h_n[:, 0])
    ref_out, ref_h_n, cache = rnn_forward(rnn.state_dict(), x, h0, None, "tanh", 2)
    ref_grads, ref_dx, ref_dh0 = rnn_backward(cache, d_out, d_h_n)
    assert_close(out, ref_out[:, 0], dtype)
    assert_close(h_n, ref_h_n[:, 0], dtype)
    assert_close(d_x, ref_dx[:, 0], dtype)
    assert_close(d_h0, ref_dh0[:, 0], dtype)
    assert_grads_close(grads, ref_grads, dtype)


def test_d_h_n_only():
    """Without d_output contributions (zeros), only d_h_n drives the gradient."""
    rng = np.random.default_rng(5)
    rnn = seqrnn.RNN(2, 3, 2, seed=5, dtype="float64")
    x, h0, _, d_h_n = data(rng, "float64", T=4, B=2, I=2, H=3, L=2)
    check_against_reference(rnn, x, h0, np.zeros((4, 2, 3)), d_h_n)


def test_same_seed_same_weights_different_seed_different():
    def sd(seed, dtype="float32"):
        return seqrnn.RNN(3, 8, 2, seed=seed, dtype=dtype).state_dict()

    a, b, c = sd(11), sd(11), sd(12)
    assert all(np.array_equal(a[k], b[k]) for k in a)
    assert all(not np.array_equal(a[k], c[k]) for k in a)
    x = np.random.default_rng(0).normal(size=(4, 2, 3)).astype(np.float32)  # (T, B, I)
    r1, r2 = seqrnn.RNN(3, 8, 2, seed=11), seqrnn.RNN(3, 8, 2, seed=11)
    assert np.array_equal(r1.forward(x)[0], r2.forward(x)[0])
    # no seed: fresh random weights each time
    n1, n2 = seqrnn.RNN(3, 8).state_dict(), seqrnn.RNN(3, 8).state_dict()
    assert not np.array_equal(n1["weight_hh_l0"], n2["weight_hh_l0"])


@pytest.mark.parametrize("dtype", DTYPES)
def test_uniform_init_is_pytorch_default(dtype):
    H = 256
    sd = seqrnn.RNN(10, H, 2, seed=0, dtype=dtype).state_dict()
    bound = 1 / np.sqrt(H)
    for name, w in sd.items():
        assert w.dtype == np.dtype(dtype)
        assert np.all(np.abs(w) <= bound), name
        assert np.abs(w).max() > 0.9 * bound, name  # fills the range, not e.g. all zeros
    w = sd["weight_hh_l1"].astype(np.float64)  # (H, H): 65536 samples of U(-b, b)
    assert abs(w.std() - bound / np.sqrt(3)) < 0.02 * bound
    assert abs(w.mean()) < 0.02 * bound


@pytest.mark.parametrize("dtype", DTYPES)
def test_normal_init_is_d2l(dtype):
    sd = seqrnn.RNN(10, 256, 2, seed=0, dtype=dtype, init="normal").state_dict()
    for name, w in sd.items():
        if name.startswith("bias"):
            assert np.all(w == 0), name
    w = sd["weight_hh_l0"].astype(np.float64)  # (256, 256): 65536 samples of N(0, 0.01^2)
    assert abs(w.std() - 0.01) < 0.0003
    assert abs(w.mean()) < 0.0003
    assert np.abs(w).max() > 0.03  # a normal, not a uniform of the same std


@pytest.mark.parametrize("dtype", DTYPES)
def test_state_dict_round_trip(dtype):
    src = seqrnn.RNN(3, 4, 2, seed=1, dtype=dtype)
    dst = seqrnn.RNN(3, 4, 2, seed=2, dtype=dtype)
    x = np.random.default_rng(0).normal(size=(5, 2, 3)).astype(dtype)  # (T, B, I)
    assert not np.array_equal(src.forward(x)[0], dst.forward(x)[0])
    dst.load_state_dict(src.state_dict())
    assert all(np.array_equal(v, src.state_dict()[k]) for k, v in dst.state_dict().items())
    assert np.array_equal(src.forward(x)[0], dst.forward(x)[0])


def test_state_dict_is_a_copy():
    rnn = seqrnn.RNN(3, 4, seed=0)
    sd = rnn.state_dict()
    before = sd["weight_hh_l0"].copy()
    sd["weight_hh_l0"][:] = 5.0
    assert np.array_equal(rnn.state_dict()["weight_hh_l0"], before)


def test_load_state_dict_changes_the_model_as_reference():
    rng = np.random.default_rng(6)
    rnn = seqrnn.RNN(3, 4, 2, seed=0, dtype="float64")
    new = {k: rng.normal(size=v.shape) for k, v in rnn.state_dict().items()}
    rnn.load_state_dict(new)
    x, h0, d_out, d_h_n = data(rng, "float64", T=4, B=2, I=3, H=4, L=2)
    ref_out, _, _ = rnn_forward(new, x, h0, None, "tanh", 2)
    assert_close(rnn.forward(x, h0)[0], ref_out, "float64")
    check_against_reference(rnn, x, h0, d_out, d_h_n)


@pytest.mark.parametrize("dtype", DTYPES)
def test_non_contiguous_and_read_only_inputs(dtype):
    rng = np.random.default_rng(7)
    rnn = seqrnn.RNN(3, 4, 2, seed=0, dtype=dtype)
    x, h0, d_out, d_h_n = data(rng, dtype, T=5, B=2, I=3, H=4, L=2)
    lengths = np.array([5, 2])
    want_fwd = rnn.forward(x, h0, lengths)
    want_bwd = rnn.backward(x, d_out, h0, d_h_n, lengths)

    def strided(a):
        """Same values, not C-contiguous: every other element of a doubled array."""
        big = np.repeat(a, 2, axis=-1)[..., ::2]
        assert not big.flags.c_contiguous and np.array_equal(big, a)
        return big

    def read_only(a):
        a = a.copy()
        a.setflags(write=False)
        return a

    for wrap in (strided, read_only, np.asfortranarray):
        args = [wrap(a) for a in (x, d_out, h0, d_h_n)]
        lens = read_only(lengths) if wrap is read_only else lengths[::-1].copy()[::-1]
        out, h_n = rnn.forward(args[0], args[2], lens)
        grads, d_x, d_h0 = rnn.backward(args[0], args[1], args[2], args[3], lens)
        assert np.array_equal(out, want_fwd[0]) and np.array_equal(h_n, want_fwd[1])
        assert np.array_equal(d_x, want_bwd[1]) and np.array_equal(d_h0, want_bwd[2])
        assert all(np.array_equal(grads[k], want_bwd[0][k]) for k in grads)


def test_load_state_dict_accepts_read_only_and_strided_arrays():
    src = seqrnn.RNN(3, 4, seed=1, dtype="float64")
    dst = seqrnn.RNN(3, 4, seed=2, dtype="float64")
    sd = {}
    for k, v in src.state_dict().items():
        v = np.asfortranarray(v) if v.ndim == 2 else v
        v.setflags(write=False)
        sd[k] = v
    sd["weight_hh_l0"] = np.ascontiguousarray(src.state_dict()["weight_hh_l0"].T).T  # strided
    dst.load_state_dict(sd)
    assert all(np.array_equal(v, src.state_dict()[k]) for k, v in dst.state_dict().items())


def test_float64_input_is_accepted_by_float32_model():
    rnn = seqrnn.RNN(3, 4, seed=0)
    x = np.random.default_rng(0).normal(size=(4, 2, 3))  # (T, B, I) float64
    out, _ = rnn.forward(x)
    assert out.dtype == np.float32
    assert np.array_equal(out, rnn.forward(x.astype(np.float32))[0])
