"""Properties over random shapes and sizes (hypothesis): valid inputs never raise and give the
documented shapes; invalid ones always raise the documented exception naming the argument."""

from __future__ import annotations

import math
import tempfile
from pathlib import Path

import numpy as np
import pytest
import seqrnn
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from seqrnn import data

FAST = settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
sizes = st.integers(1, 5)


@st.composite
def language_models(draw):
    vocab, hidden, layers = draw(st.integers(1, 7)), draw(sizes), draw(st.integers(1, 2))
    embed = draw(st.none() | st.integers(1, 3))
    dtype = draw(st.sampled_from(["float32", "float64"]))
    return seqrnn.LanguageModel(vocab, hidden, layers, embed, seed=draw(st.integers(0, 2**64 - 1)),
                                dtype=dtype)


@FAST
@given(language_models(), sizes, sizes, st.data())
def test_valid_ids_give_logits_of_the_documented_shape(lm, batch, steps, d):
    v = lm.vocab_size
    ids = np.array(d.draw(st.lists(st.integers(0, v - 1), min_size=batch * steps,
                                   max_size=batch * steps))).reshape(batch, steps)
    logits, state = lm.logits(ids)
    assert logits.shape == (batch, steps, v) and logits.dtype == np.dtype(lm.dtype)
    assert state.shape == (lm.num_layers, batch, lm.hidden_size)
    assert np.isfinite(logits).all()
    loss, grads = lm.loss_and_grads(ids, ids)
    assert math.isfinite(loss) and grads.keys() == lm.state_dict().keys()


@FAST
@given(language_models(), sizes, sizes, st.data())
def test_an_out_of_range_id_is_an_index_error(lm, batch, steps, d):
    v = lm.vocab_size
    ids = np.zeros((batch, steps), np.int64)
    bad = d.draw(st.integers(-(2**63), -1) | st.integers(v, 2**63 - 1))
    ids[d.draw(st.integers(0, batch - 1)), d.draw(st.integers(0, steps - 1))] = bad
    with pytest.raises(IndexError, match=f"^inputs: token id {bad} is out of range"):
        lm.logits(ids)
    with pytest.raises(IndexError, match=f"^targets: token id {bad} is out of range"):
        lm.loss_and_grads(np.zeros_like(ids), ids)


@FAST
@given(sizes, sizes, st.integers(1, 3), sizes, sizes, st.data())
def test_rnn_shapes_and_lengths(inp, hidden, layers, steps, batch, d):
    rnn = seqrnn.RNN(inp, hidden, layers, seed=0)
    x = np.ones((steps, batch, inp), np.float32)
    lengths = np.array(d.draw(st.lists(st.integers(1, steps), min_size=batch, max_size=batch)))
    out, h_n = rnn.forward(x, lengths=lengths)
    assert out.shape == (steps, batch, hidden) and h_n.shape == (layers, batch, hidden)
    wrong = d.draw(sizes.filter(lambda n: n != inp))
    with pytest.raises(ValueError, match="^input: expected shape"):
        rnn.forward(np.ones((steps, batch, wrong), np.float32))
    lengths[d.draw(st.integers(0, batch - 1))] = d.draw(
        st.integers(-5, 0) | st.integers(steps + 1, steps + 5))
    with pytest.raises(ValueError, match="^lengths"):
        rnn.forward(x, lengths=lengths)


LM = seqrnn.LanguageModel(6, 4, seed=0)


@FAST
@given(st.lists(st.integers(0, 5), min_size=1, max_size=4), st.integers(0, 6),
       st.floats(0, 10) | st.just(0.0), st.none() | st.integers(1, 8), st.integers(0, 2**64 - 1))
def test_valid_sampling_arguments_generate(prefix, n, temperature, top_k, seed):
    out = LM.generate(prefix, n, temperature, top_k, seed)
    assert out[: len(prefix)] == prefix and len(out) == len(prefix) + n
    assert all(0 <= t < 6 for t in out)
    assert out == LM.generate(prefix, n, temperature, top_k, seed)  # same seed, same tokens


@FAST
@given(st.floats(max_value=-1e-300) | st.sampled_from([math.nan, math.inf, -math.inf]))
def test_invalid_temperatures_are_value_errors(temperature):
    with pytest.raises(ValueError, match="^temperature must be a finite number >= 0"):
        LM.generate([1], 2, temperature)
    with pytest.raises(ValueError, match="^temperature must be a finite number >= 0"):
        s = LM.stream(0)
        s.feed([1])
        s.next(temperature)


@FAST
@given(st.integers(-(2**62), 0))
def test_invalid_sizes_are_value_errors(k):
    with pytest.raises(ValueError, match=f"^top_k must be at least 1, got {k}"):
        LM.generate([1], 2, 1.0, k)
    with pytest.raises(ValueError, match=f"^hidden_size must be at least 1, got {k}"):
        seqrnn.LanguageModel(3, k)
    with pytest.raises(ValueError, match=f"^beam_size must be at least 1, got {k}"):
        seqrnn.Seq2Seq(3, 4, 2, 2, 1, seed=0).decode([[1, 2]], [2], 1, 2, 3, beam_size=k)


@FAST
@given(st.integers(0, 40), sizes, sizes, st.sampled_from(["random", "sequential"]))
def test_iterators_need_batch_times_steps_plus_one_tokens(n, batch, steps, sampling):
    corpus = np.arange(n) % 7
    it = data.seq_data_iter_random if sampling == "random" else data.seq_data_iter_sequential
    if n >= batch * steps + 1:
        batches = list(it(corpus, batch, steps, seed=0))
        assert batches and all(x.shape == y.shape == (batch, steps) for x, y in batches)
        assert all((y[:, :-1] == x[:, 1:]).all() for x, y in batches)
    else:
        with pytest.raises(ValueError, match=f"^corpus length must be at least {batch * steps + 1}"):
            list(it(corpus, batch, steps, seed=0))


@settings(max_examples=15, deadline=None)
@given(language_models())
def test_save_load_round_trip(lm):
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "m.safetensors"
        lm.save(path)
        back = seqrnn.LanguageModel.load(path)
    assert (back.vocab_size, back.hidden_size, back.num_layers, back.embed_size, back.dtype) == (
        lm.vocab_size, lm.hidden_size, lm.num_layers, lm.embed_size, lm.dtype)
    a, b = lm.state_dict(), back.state_dict()
    assert all(np.array_equal(a[k], b[k]) and a[k].dtype == b[k].dtype for k in a)


@FAST
@given(st.lists(st.text(min_size=1, max_size=3), max_size=20), st.integers(0, 3))
def test_vocab_round_trips(tokens, min_freq):
    vocab = seqrnn.Vocab(tokens, min_freq=min_freq)
    kept = [t for t in tokens if t in vocab.idx_to_token]
    assert vocab.decode(vocab.encode(kept)) == kept
    assert seqrnn.Vocab.from_json(vocab.to_json()) == vocab
    assert all(vocab[t] == vocab.unk for t in tokens if t not in vocab.idx_to_token)


@settings(max_examples=60, deadline=None)
@given(st.binary(max_size=300) | st.builds(lambda n, rest: n.to_bytes(8, "little") + rest,
                                          st.integers(0, 2**64 - 1), st.binary(max_size=200)))
def test_random_bytes_never_load_and_never_crash(blob):
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "blob.safetensors"
        path.write_bytes(blob)
        for load in (seqrnn.LanguageModel.load, seqrnn.Seq2Seq.load):
            with pytest.raises(ValueError, match="^invalid checkpoint: "):
                load(path)
