"""Models pickle and deepcopy through their checkpoint bytes, so multiprocessing works."""

from __future__ import annotations

import copy
import multiprocessing
import pickle
from typing import Any

import numpy as np
import pytest
import seqrnn
from hypothesis import given, settings
from hypothesis import strategies as st
from seqrnn import _core


def assert_same_parameters(a: Any, b: Any) -> None:
    sa, sb = a.state_dict(), b.state_dict()
    assert sorted(sa) == sorted(sb)
    for k in sa:
        assert sa[k].dtype == sb[k].dtype and np.array_equal(sa[k], sb[k]), k


def models() -> list[Any]:
    vocab = seqrnn.Vocab(seqrnn.tokenize("the time traveller"))
    lm = seqrnn.LanguageModel(len(vocab), hidden_size=6, num_layers=2, embed_size=3, seed=0,
                              dtype="float64")
    lm.vocab, lm.level = vocab, "char"
    return [
        seqrnn.RNN(3, 4, num_layers=2, nonlinearity="relu", bias=False, batch_first=True,
                   seed=0),
        lm,
        seqrnn.LanguageModel(5, hidden_size=4, seed=1),  # one-hot input, no vocabulary
        seqrnn.Seq2Seq(7, 8, embed_size=3, hidden_size=4, num_layers=1, context="none", seed=2),
        seqrnn.Linear(3, 2, bias=False, seed=3, dtype="float64"),
    ]


@pytest.mark.parametrize("model", models(), ids=lambda m: type(m).__name__)
@pytest.mark.parametrize("clone", [lambda m: pickle.loads(pickle.dumps(m)), copy.deepcopy,
                                   copy.copy], ids=["pickle", "deepcopy", "copy"])
def test_models_round_trip(model: Any, clone: Any) -> None:
    other = clone(model)
    assert type(other) is type(model) and other is not model
    assert repr(other) == repr(model) and other.dtype == model.dtype
    assert_same_parameters(other, model)
    assert other.__dict__.keys() == model.__dict__.keys()
    if isinstance(model, seqrnn.LanguageModel) and model.vocab is not None:
        assert other.vocab == model.vocab and other.level == model.level
    # the copy shares nothing: changing it leaves the original alone
    state = other.state_dict()
    name = min(state)
    other.load_state_dict({**state, name: state[name] + 1})
    assert not np.array_equal(other.state_dict()[name], model.state_dict()[name])


@settings(max_examples=25, deadline=None)
@given(vocab=st.integers(1, 9), hidden=st.integers(1, 6), layers=st.integers(1, 3),
       embed=st.one_of(st.none(), st.integers(1, 4)), dtype=st.sampled_from(["float32", "float64"]),
       nonlinearity=st.sampled_from(["tanh", "relu"]), seed=st.integers(0, 2**63 - 1))
def test_any_language_model_pickles(vocab: int, hidden: int, layers: int, embed: int | None,
                                    dtype: str, nonlinearity: str, seed: int) -> None:
    lm = seqrnn.LanguageModel(vocab, hidden, layers, embed, seed=seed, dtype=dtype,
                              nonlinearity=nonlinearity)
    other = pickle.loads(pickle.dumps(lm, protocol=pickle.HIGHEST_PROTOCOL))
    assert repr(other) == repr(lm) and other.nonlinearity == nonlinearity
    assert_same_parameters(other, lm)
    x = np.arange(6).reshape(2, 3) % vocab
    np.testing.assert_array_equal(other.logits(x)[0], lm.logits(x)[0])


def test_pickled_state_is_checkpoint_bytes(tmp_path: Any) -> None:
    lm = seqrnn.LanguageModel(5, hidden_size=4, seed=0)
    core_type, data = lm.__getstate__()["_core"]
    assert core_type is _core.LanguageModel
    assert data[8:9] == b"{"  # safetensors: an 8-byte header length, then JSON
    lm.save(tmp_path / "lm.safetensors")
    from_file = seqrnn.LanguageModel.load(tmp_path / "lm.safetensors")
    from_bytes, meta = _core.LanguageModel.from_bytes(data)
    assert meta["seqrnn.kind"] == "LanguageModel"
    assert_same_parameters(from_file, from_bytes)


def test_forged_state_is_rejected() -> None:
    lm = seqrnn.LanguageModel(5, hidden_size=4, seed=0)
    state = lm.__getstate__()
    core_type, data = state["_core"]
    with pytest.raises(ValueError, match="file holds a LanguageModel, not a Seq2Seq"):
        seqrnn.Seq2Seq.__new__(seqrnn.Seq2Seq).__setstate__(
            {**state, "_core": (_core.Seq2Seq, data)})
    with pytest.raises(ValueError):
        lm.__setstate__({**state, "_core": (core_type, data[:-4])})
    with pytest.raises(TypeError, match="cannot restore a LanguageModel"):
        lm.__setstate__({**state, "_core": (core_type, "not bytes")})


def test_rnn_bytes_errors() -> None:
    rnn = seqrnn.RNN(2, 3, seed=0)
    data = rnn._core.to_bytes({"note": "kept"})
    back, meta = _core.RNN.from_bytes(data)
    assert back.nonlinearity == "tanh" and back.dtype == "float32"
    for k, a in rnn.state_dict().items():
        assert np.array_equal(back.state_dict()[k], a)
    assert meta["note"] == "kept" and meta["seqrnn.kind"] == "RNN"
    with pytest.raises(ValueError, match="file holds a RNN, not a LanguageModel"):
        _core.LanguageModel.from_bytes(data)
    with pytest.raises(ValueError):
        _core.RNN.from_bytes(b"not a checkpoint")
    with pytest.raises(TypeError):
        _core.RNN.from_bytes("a str")  # type: ignore[arg-type]


def test_trained_model_pickles_and_trains_again() -> None:
    lm = seqrnn.LanguageModel(5, hidden_size=4, seed=0)
    corpus = np.arange(200) % 5
    lm.fit(corpus, epochs=1, batch_size=2, num_steps=5, lr=0.1, progress=False, seed=0)
    clone = pickle.loads(pickle.dumps(lm))
    assert_same_parameters(clone, lm)
    clone.fit(corpus, epochs=1, batch_size=2, num_steps=5, lr=0.1, progress=False, seed=0)
    lm.fit(corpus, epochs=1, batch_size=2, num_steps=5, lr=0.1, progress=False, seed=0)
    assert_same_parameters(clone, lm)  # same start, same training, same numbers


def test_translator_and_vocab_pickle() -> None:
    train, _ = seqrnn.toy.toy_translation_task(num_valid=5, max_number=40)
    tr = seqrnn.Translator.train(train, epochs=1, embed_size=4, hidden_size=6, num_layers=1,
                                 batch_size=16, seed=0, progress=False)
    for clone in (pickle.loads(pickle.dumps(tr)), copy.deepcopy(tr)):
        assert clone.src_vocab == tr.src_vocab and clone.tgt_vocab == tr.tgt_vocab
        assert clone.num_steps == tr.num_steps
        assert_same_parameters(clone.model, tr.model)
        assert clone.translate(["one", "twenty two"]) == tr.translate(["one", "twenty two"])
    vocab = tr.src_vocab
    assert pickle.loads(pickle.dumps(vocab)) == vocab and copy.deepcopy(vocab) == vocab


def test_pool_map_over_a_model() -> None:
    lm = seqrnn.LanguageModel(6, hidden_size=5, seed=3)
    corpora = [np.arange(30) % 6, (np.arange(40) * 5) % 6, np.zeros(25, dtype=np.int64)]
    want = [lm.perplexity(c, batch_size=2, num_steps=4) for c in corpora]
    ctx = multiprocessing.get_context("spawn")
    with ctx.Pool(2) as pool:
        got = pool.starmap(lm.perplexity, [(c, 2, 4) for c in corpora])
    assert got == want
