"""seqrnn.Seq2Seq against the float64 NumPy reference in tests/_reference.py."""

from __future__ import annotations

import numpy as np
import pytest
import seqrnn
from _reference import seq2seq_beam, seq2seq_greedy, seq2seq_loss_and_grads
from test_rnn import DTYPES, TOL, assert_grads_close

# Every test here runs at each instruction-set level the CPU supports (tests/conftest.py).
pytestmark = pytest.mark.usefixtures("every_level")

VS, VT, E, H, B, TS, TT = 6, 7, 3, 4, 3, 5, 4  # vocabularies, sizes, batch, source/target steps
BOS, EOS = 1, 2
CASES = [("concat", 1), ("concat", 2), ("none", 1), ("none", 2)]
CONTEXTS_LAYERS = pytest.mark.parametrize("context, layers", CASES)


def make(dtype="float64", context="concat", layers=1, seed=0):
    return seqrnn.Seq2Seq(VS, VT, E, H, layers, context=context, seed=seed, dtype=dtype)


def batch(seed=0, src_len=(5, 2, 3), tgt_len=(3, 4, 1)):
    """src (B, TS), src_valid_len (B,), tgt_in / tgt_out (B, TT), tgt_valid_len (B,).

    tgt_out ends with <eos> at its valid length, tgt_in is <bos> then tgt_out shifted; the
    default lengths leave padding in every array. Padding holds random ids.
    """
    rng = np.random.default_rng(seed)
    src = rng.integers(0, VS, size=(B, TS))
    tgt_out = rng.integers(0, VT, size=(B, TT))
    tgt_out[np.arange(B), np.array(tgt_len) - 1] = EOS
    tgt_in = np.concatenate([np.full((B, 1), BOS), tgt_out[:, :-1]], axis=1)
    return src, np.array(src_len), tgt_in, tgt_out, np.array(tgt_len)


def check(m, data):
    """Loss and every gradient against the reference; returns the model's."""
    loss, grads = m.loss_and_grads(*data)
    ref_loss, ref_grads = seq2seq_loss_and_grads(m.state_dict(), *data, m.num_layers, m.context)
    assert isinstance(loss, float)
    assert abs(loss - ref_loss) <= TOL[m.dtype] * max(1.0, ref_loss)
    assert_grads_close(grads, ref_grads, m.dtype)
    return loss, grads


def same(a, b):
    """Bit-identical loss and gradients."""
    (loss_a, grads_a), (loss_b, grads_b) = a, b
    assert loss_a == loss_b
    assert sorted(grads_a) == sorted(grads_b)
    for k in grads_a:
        assert np.array_equal(grads_a[k], grads_b[k]), k


@pytest.mark.parametrize("dtype", DTYPES)
@CONTEXTS_LAYERS
def test_matches_reference_on_padded_batch(dtype, context, layers):
    check(make(dtype, context, layers, seed=layers), batch(seed=layers))


@pytest.mark.parametrize("dtype", DTYPES)
@CONTEXTS_LAYERS
def test_matches_reference_without_padding(dtype, context, layers):
    check(make(dtype, context, layers, seed=5), batch(seed=5, src_len=(5,) * B, tgt_len=(TT,) * B))


@pytest.mark.parametrize("context", ["concat", "none"])
def test_matches_reference_with_lengths_of_one(context):
    check(make("float64", context, 2, seed=6), batch(seed=6, src_len=(1, 5, 1), tgt_len=(1, 1, 4)))


@pytest.mark.parametrize("context", ["concat", "none"])
def test_state_dict_names_and_shapes(context):
    m = make("float32", context, 2)
    rnn = {f"{k}_l{l}" for k in ("weight_ih", "weight_hh", "bias_ih", "bias_hh") for l in (0, 1)}
    expected = {f"{side}.rnn.{k}" for side in ("encoder", "decoder") for k in rnn}
    expected |= {"encoder.embedding.weight", "decoder.embedding.weight"}
    expected |= {"decoder.output.weight", "decoder.output.bias"}
    shapes = {k: v.shape for k, v in m.state_dict().items()}
    assert set(shapes) == expected
    dec_in = E + H if context == "concat" else E
    assert shapes["encoder.embedding.weight"] == (VS, E)
    assert shapes["decoder.embedding.weight"] == (VT, E)
    assert shapes["encoder.rnn.weight_ih_l0"] == (H, E)
    assert shapes["decoder.rnn.weight_ih_l0"] == (H, dec_in)
    assert shapes["encoder.rnn.weight_ih_l1"] == shapes["decoder.rnn.weight_ih_l1"] == (H, H)
    assert shapes["decoder.rnn.weight_hh_l0"] == (H, H) and shapes["encoder.rnn.bias_hh_l1"] == (H,)
    assert shapes["decoder.output.weight"] == (VT, H)
    assert shapes["decoder.output.bias"] == (VT,)
    assert all(v.dtype == np.float32 for v in m.state_dict().values())
    assert (m.context, m.num_layers, m.src_vocab_size, m.tgt_vocab_size) == (context, 2, VS, VT)


@pytest.mark.parametrize("dtype", DTYPES)
@CONTEXTS_LAYERS
def test_padding_never_changes_loss_or_gradients(dtype, context, layers):
    m = make(dtype, context, layers, seed=7)
    src, src_len, tgt_in, tgt_out, tgt_len = data = batch(seed=7)
    base = m.loss_and_grads(*data)
    pad_src = np.arange(TS)[None, :] >= src_len[:, None]  # (B, TS)
    pad_tgt = np.arange(TT)[None, :] >= tgt_len[:, None]  # (B, TT)
    assert pad_src.any() and pad_tgt.any()
    changed = [a.copy() for a in (src, tgt_in, tgt_out)]
    for a, pad, vocab in zip(changed, (pad_src, pad_tgt, pad_tgt), (VS, VT, VT)):
        a[pad] = (a[pad] + 1) % vocab
    same(base, m.loss_and_grads(changed[0], src_len, changed[1], changed[2], tgt_len))
    # Two more padded steps on both sides: the same numbers up to summation order.
    rng = np.random.default_rng(0)
    wider = [
        np.concatenate([a, rng.integers(0, v, (B, 2))], 1)
        for a, v in zip((src, tgt_in, tgt_out), (VS, VT, VT))
    ]
    loss, grads = m.loss_and_grads(wider[0], src_len, wider[1], wider[2], tgt_len)
    tol = {"float64": 1e-13, "float32": 1e-6}[dtype]
    assert abs(loss - base[0]) <= tol * base[0]
    for k, g in base[1].items():
        np.testing.assert_allclose(grads[k], g, rtol=tol, atol=tol, err_msg=k)
    # A valid position, by contrast, matters.
    other = tgt_out.copy()
    other[0, 0] = (other[0, 0] + 1) % VT
    assert m.loss_and_grads(src, src_len, tgt_in, other, tgt_len)[0] != base[0]


def test_loss_is_mean_over_valid_target_tokens():
    """Batch loss * tokens == sum over sentences run alone of their loss * their tokens."""
    m = make("float64", "concat", 2, seed=8)
    src, src_len, tgt_in, tgt_out, tgt_len = batch(seed=8)
    loss, _ = m.loss_and_grads(src, src_len, tgt_in, tgt_out, tgt_len)
    total = 0.0
    for b in range(B):
        s, t = src_len[b], tgt_len[b]
        one = m.loss_and_grads(
            src[b : b + 1, :s], [s], tgt_in[b : b + 1, :t], tgt_out[b : b + 1, :t], [t]
        )
        total += one[0] * t
    assert abs(loss * tgt_len.sum() - total) < 1e-12 * total


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("context", ["concat", "none"])
def test_save_load_round_trip(tmp_path, dtype, context):
    m = make(dtype, context, 2, seed=9)
    path = tmp_path / "model.safetensors"
    m.save(path)
    back = seqrnn.Seq2Seq.load(path)
    assert repr(back) == repr(m) and back.dtype == dtype
    sd, sd_back = m.state_dict(), back.state_dict()
    assert list(sd) == list(sd_back)
    for k in sd:
        assert sd_back[k].dtype == sd[k].dtype and np.array_equal(sd_back[k], sd[k]), k
    src, src_len, *_ = data = batch(seed=9)
    for beam_size in (1, 3):
        assert back.decode(src, src_len, BOS, EOS, 6, beam_size) == m.decode(
            src, src_len, BOS, EOS, 6, beam_size
        )
    same(m.loss_and_grads(*data), back.loss_and_grads(*data))


@CONTEXTS_LAYERS
def test_decode_beam_1_is_reference_greedy(context, layers):
    m = make("float64", context, layers, seed=10 + layers)
    src, src_len, *_ = batch(seed=10)
    for max_len in (1, 4, 8):
        want = seq2seq_greedy(m.state_dict(), src, src_len, BOS, EOS, max_len, layers, context)
        assert m.decode(src, src_len, BOS, EOS, max_len, beam_size=1) == want
        assert m.decode(src, src_len, BOS, EOS, max_len) == want


@pytest.mark.parametrize("seed", [0, 1, 2, 3, 4, 5, 6])
def test_beam_search_matches_reference(seed):
    """Tokens, log-probability and score of every sentence, beams 2 and 3, every case."""
    src, src_len, *_ = batch(seed=seed)
    for context, layers in CASES:
        m = make("float64", context, layers, seed=seed)
        for k in (2, 3):
            got = m._core.decode(src, src_len, BOS, EOS, 5, k, 0.75)
            want = seq2seq_beam(m.state_dict(), src, src_len, BOS, EOS, 5, k, 0.75, layers, context)
            for (tokens, log_prob, score), (ref_tokens, ref_lp, ref_score) in zip(got, want):
                assert list(tokens) == ref_tokens, (context, layers, k)
                assert abs(log_prob - ref_lp) < 1e-10 and abs(score - ref_score) < 1e-10


@pytest.mark.parametrize("beam_size", [1, 2, 4])
def test_decode_stops_at_eos_and_respects_max_len(beam_size):
    m = make("float64", "concat", 2, seed=12)
    src, src_len, *_ = batch(seed=12)
    for max_len in (1, 3, 10):
        out = m.decode(src, src_len, BOS, EOS, max_len, beam_size)
        assert len(out) == B and all(len(t) <= max_len and EOS not in t for t in out)
    sd = m.state_dict()
    for bias, check_len in ((50.0, lambda n: n == 0), (-50.0, lambda n: n == 6)):
        sd["decoder.output.bias"][EOS] = bias  # <eos> always / never the most probable
        m.load_state_dict(sd)
        assert all(check_len(len(t)) for t in m.decode(src, src_len, BOS, EOS, 6, beam_size))


def _call(kind, **change):
    """Runs loss_and_grads ("loss") or decode ("decode") on a valid float64 batch with `change`."""
    m = make("float64", "concat", 1)
    src, src_len, tgt_in, tgt_out, tgt_len = batch()
    if kind == "loss":
        names = ("src", "src_valid_len", "tgt_in", "tgt_out", "tgt_valid_len")
        args = dict(zip(names, (src, src_len, tgt_in, tgt_out, tgt_len)))
        return m.loss_and_grads(**{**args, **change})
    args = {"src": src, "src_valid_len": src_len, "bos": BOS, "eos": EOS, "max_len": 5}
    return m.decode(**{**args, "beam_size": 2, **change})


def _with(a, index, value):
    a = np.array(a)
    a[index] = value
    return a


_SRC, _, _TI, _TO, _ = batch()
# (call, argument, bad value, exception); the message must name the argument.
ERRORS = [
    ("loss", "tgt_valid_len", [3, 0, 1], ValueError),
    ("loss", "tgt_valid_len", [3, 5, 1], ValueError),
    ("loss", "tgt_valid_len", [3, 4], ValueError),
    ("loss", "src_valid_len", [1, 2], ValueError),
    ("loss", "src_valid_len", [-1, 2, 3], ValueError),
    ("loss", "src_valid_len", [1.0, 2.0, 3.0], TypeError),
    ("loss", "src", _with(_SRC, (0, 4), VS), IndexError),
    ("loss", "src", _with(_SRC, (2, 0), -1), IndexError),
    ("loss", "tgt_in", _with(_TI, (1, 3), VT), IndexError),
    ("loss", "tgt_out", _with(_TO, (2, 3), 99), IndexError),
    ("loss", "src", _SRC.astype(np.float64), TypeError),
    ("loss", "tgt_in", _TI.astype(np.float32), TypeError),
    ("loss", "tgt_out", _TO.astype(np.float64), TypeError),
    ("loss", "tgt_out", _TO[:, :3], ValueError),
    ("loss", "tgt_out", _TO[:2], ValueError),
    ("loss", "tgt_in", _TI[:, 0], ValueError),
    ("decode", "beam_size", 0, ValueError),
    ("decode", "max_len", 0, ValueError),
    ("decode", "bos", VT, IndexError),
    ("decode", "eos", -1, ValueError),
    ("decode", "alpha", -1.0, ValueError),
    ("decode", "src", _with(_SRC, (1, 1), VS), IndexError),
    ("decode", "src", _SRC.astype(np.float64), TypeError),
    ("decode", "src_valid_len", [1.0, 2.0, 3.0], TypeError),
]
ERRORS += [
    ("loss", "src_valid_len", [5, 0, 3], ValueError),
    ("loss", "src_valid_len", [6, 2, 3], ValueError),
    ("decode", "src_valid_len", [5, 0, 3], ValueError),
    ("decode", "src_valid_len", [5, 6, 3], ValueError),
    ("decode", "src_valid_len", [5, 2], ValueError),
]


@pytest.mark.parametrize("kind, arg, value, exc", ERRORS)
def test_errors_name_the_argument(kind, arg, value, exc):
    with pytest.raises(exc, match=arg):
        _call(kind, **{arg: value})


def test_valid_calls_of_the_error_table_succeed():
    loss, _ = _call("loss")
    assert np.isfinite(loss)
    assert len(_call("decode")) == B


def test_negative_length_message_is_not_prefixed_twice():
    with pytest.raises(ValueError) as info:
        _call("loss", src_valid_len=[-1, 2, 3])
    assert not str(info.value).startswith("ValueError:"), str(info.value)


def test_perplexity_needs_no_gradients_and_equals_the_loss_of_loss_and_grads():
    import math

    rng = np.random.default_rng(3)
    m = seqrnn.Seq2Seq(9, 11, embed_size=4, hidden_size=8, num_layers=2, dropout=0.3, seed=0)
    n, ts, tt = 40, 6, 5
    src = rng.integers(0, 9, (n, ts))
    tgt_in, tgt_out = rng.integers(0, 11, (n, tt)), rng.integers(0, 11, (n, tt))
    data = (src, rng.integers(1, ts + 1, n), tgt_in, tgt_out, rng.integers(1, tt + 1, n))
    loss, _ = m.loss_and_grads(*data)
    assert m.perplexity(data) == math.exp(loss)  # the same loss, bit for bit (no dropout)
    assert math.isclose(m.perplexity(data, batch_size=7), math.exp(loss), rel_tol=1e-6)
    with pytest.raises(ValueError, match="^batch_size must be at least 1"):
        m.perplexity(data, batch_size=0)


def test_fit_on_translation_data_trains_on_its_training_rows_only():
    pairs = [(f"w{i}", f"m{i}") for i in range(12)]
    data = seqrnn.data.make_translation_data(pairs, 4, num_valid=4)
    assert len(data.valid) == 4
    kwargs = {"epochs": 2, "batch_size": 4, "lr": 0.05, "progress": False, "seed": 0}

    def model():
        return seqrnn.Seq2Seq(len(data.src_vocab), len(data.tgt_vocab), 4, 8, 1, seed=0)

    a, b = model(), model()
    a.fit(data, **kwargs)
    b.fit(data.subset(data.train), **kwargs)
    assert all(np.array_equal(x, y) for x, y in zip(a.state_dict().values(),
                                                     b.state_dict().values()))
