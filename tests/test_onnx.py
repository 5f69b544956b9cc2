"""ONNX export run by onnxruntime gives seqrnn's numbers."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import seqrnn
from _reference import _part, embedding, linear, rnn_forward, seq2seq_encode
from seqrnn.export import decoder_to_onnx, encoder_to_onnx, to_onnx

try:
    import onnx
    import onnxruntime as ort
except ImportError:  # the export is checked where onnx and onnxruntime are installed
    onnx = ort = None
needs_onnx = pytest.mark.skipif(ort is None, reason="needs onnx and onnxruntime "
                                "(pip install seqrnn[onnx])")

TOL = {"rtol": 1e-5, "atol": 1e-5}


def session(proto: Any) -> Any:
    return ort.InferenceSession(proto.SerializeToString(), providers=["CPUExecutionProvider"])


@needs_onnx
@pytest.mark.parametrize(("embed_size", "nonlinearity", "layers"),
                         [(None, "tanh", 2), (3, "relu", 1), (4, "tanh", 3)])
def test_language_model_matches(embed_size: int | None, nonlinearity: str, layers: int,
                                 tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    lm = seqrnn.LanguageModel(7, hidden_size=6, num_layers=layers, embed_size=embed_size,
                              seed=1, nonlinearity=nonlinearity)
    proto = to_onnx(lm, tmp_path / "lm.onnx")
    assert [n.op_type for n in proto.graph.node].count("RNN") == layers
    assert onnx.load(tmp_path / "lm.onnx").graph.name == "seqrnn_language_model"
    sess = ort.InferenceSession(str(tmp_path / "lm.onnx"), providers=["CPUExecutionProvider"])
    for batch, steps in ((3, 5), (1, 1)):  # symbolic dimensions
        x = rng.integers(0, 7, size=(batch, steps))
        state = rng.standard_normal((layers, batch, 6)).astype(np.float32)
        logits, h_n = lm.logits(x, state)
        got_logits, got_state = sess.run(None, {"tokens": x, "state": state})
        np.testing.assert_allclose(got_logits, logits, **TOL)
        np.testing.assert_allclose(got_state, h_n, **TOL)


@needs_onnx
@pytest.mark.parametrize(("context", "layers"), [("concat", 2), ("none", 2), ("concat", 1)])
def test_encoder_and_decoder_match(context: str, layers: int) -> None:
    rng = np.random.default_rng(1)
    model = seqrnn.Seq2Seq(9, 8, embed_size=4, hidden_size=5, num_layers=layers, context=context,
                           seed=2)
    p = model.state_dict()
    src = rng.integers(0, 9, size=(4, 6))
    src_len = np.array([6, 3, 1, 5])
    want_state, _ = seq2seq_encode(p, src, src_len, num_layers=layers)  # float64 reference
    state = session(encoder_to_onnx(model)).run(None, {"src": src, "src_valid_len": src_len})[0]
    np.testing.assert_allclose(state, want_state, **TOL)

    tgt_in = rng.integers(0, 8, size=(4, 3))
    emb = embedding(p["decoder.embedding.weight"], tgt_in.T)  # (3, 4, E)
    feeds = {"tgt_in": tgt_in, "state": state}
    if context == "concat":
        emb = np.concatenate([emb, np.broadcast_to(want_state[-1], (3, 4, 5))], axis=-1)
        feeds["context"] = state[-1]
    out, want_h, _ = rnn_forward(_part(p, "decoder.rnn."), emb, want_state, num_layers=layers)
    want_logits = linear(out, p["decoder.output.weight"], p["decoder.output.bias"])
    logits, h = session(decoder_to_onnx(model)).run(None, feeds)
    np.testing.assert_allclose(logits, want_logits.transpose(1, 0, 2), **TOL)
    np.testing.assert_allclose(h, want_h, **TOL)

    # teacher-forced loss from the ONNX logits is seqrnn's
    tgt_out, tgt_len = rng.integers(0, 8, size=(4, 3)), np.array([3, 1, 2, 3])
    loss, _ = model.loss_and_grads(src, src_len, tgt_in, tgt_out, tgt_len)
    z = logits - logits.max(-1, keepdims=True)
    nll = -np.take_along_axis(z - np.log(np.exp(z).sum(-1, keepdims=True)), tgt_out[..., None],
                              -1)[..., 0]
    mask = np.arange(3)[None, :] < tgt_len[:, None]
    np.testing.assert_allclose(nll[mask].mean(), loss, **TOL)


@needs_onnx
def test_greedy_decoding_with_onnxruntime_matches_translator() -> None:
    train, _ = seqrnn.toy.toy_translation_task(num_valid=5, max_number=60)
    tr = seqrnn.Translator.train(train, epochs=3, embed_size=8, hidden_size=16, num_layers=2,
                                 batch_size=16, seed=0, progress=False)
    sentences = ["twenty one", "seven", "fifty five"]
    enc, dec = session(encoder_to_onnx(tr)), session(decoder_to_onnx(tr))
    src, src_len = seqrnn.data.encode_sentences(sentences, tr.src_vocab, tr.num_steps)
    state = enc.run(None, {"src": src, "src_valid_len": src_len})[0]
    context = state[-1]
    bos, eos = tr.tgt_vocab["<bos>"], tr.tgt_vocab["<eos>"]
    token = np.full((len(sentences), 1), bos, dtype=np.int64)
    out: list[list[int]] = [[] for _ in sentences]
    done = [False] * len(sentences)
    for _ in range(tr.num_steps):
        logits, state = dec.run(None, {"tgt_in": token, "state": state, "context": context})
        token = logits.argmax(-1).astype(np.int64)  # (batch, 1)
        for b, t in enumerate(token[:, 0]):
            done[b] = done[b] or int(t) == eos
            if not done[b]:
                out[b].append(int(t))
    got = [" ".join(tr.tgt_vocab.to_tokens(ids)) for ids in out]
    assert got == tr.translate(sentences)


def test_export_errors(monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(TypeError, match="expects a seqrnn.LanguageModel, got Seq2Seq"):
        to_onnx(seqrnn.Seq2Seq(5, 5, 2, 3, seed=0))  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="expected a seqrnn.Seq2Seq or Translator, got "
                       "LanguageModel"):
        encoder_to_onnx(seqrnn.LanguageModel(5, 3, seed=0))  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="expected a seqrnn.Seq2Seq or Translator, got str"):
        decoder_to_onnx("model")  # type: ignore[arg-type]
    monkeypatch.setitem(sys.modules, "onnx", None)  # import onnx fails
    with pytest.raises(ImportError, match=r"needs onnx: pip install seqrnn\[onnx\]"):
        to_onnx(seqrnn.LanguageModel(5, 3, seed=0))
