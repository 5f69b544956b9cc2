"""Seq2Seq.decode_steps: greedy decoding of one sentence with every step kept."""

from __future__ import annotations

import numpy as np
import pytest
import seqrnn

BOS, EOS = 0, 1


def log_softmax(z):
    z = z - z.max(axis=-1, keepdims=True)
    return z - np.log(np.exp(z).sum(axis=-1, keepdims=True))


@pytest.mark.parametrize("context,layers", [("concat", 1), ("none", 2)])
def test_steps_are_greedy_decoding(context, layers):
    m = seqrnn.Seq2Seq(7, 5, embed_size=3, hidden_size=4, num_layers=layers, context=context,
                       seed=3, dtype="float64")
    for src in ([2, 3, 4], [6], [5, 5, 2, 3]):
        s = m.decode_steps(src, BOS, EOS, max_len=6)
        n = len(s["tokens"])
        assert s["encoder_states"].shape == (len(src), 4)
        assert s["decoder_states"].shape == (n, 4) and s["logits"].shape == (n, 5)
        assert s["tokens"] == [int(i) for i in s["logits"].argmax(axis=1)]
        body = s["tokens"][:-1] if s["tokens"][-1] == EOS else s["tokens"]
        assert m.decode(np.array([src]), [len(src)], BOS, EOS, 6) == [body]
        sd = m.state_dict()
        logits = s["decoder_states"] @ sd["decoder.output.weight"].T + sd["decoder.output.bias"]
        np.testing.assert_allclose(logits, s["logits"], rtol=0, atol=1e-12)
        # Each step's log-probabilities are those teacher forcing gives the prefix so far.
        tgt_in = np.array([[BOS, *s["tokens"][:-1]]])
        tgt_out = np.array([s["tokens"]])
        loss, _ = m.loss_and_grads(np.array([src]), [len(src)], tgt_in, tgt_out, [n])
        chosen = log_softmax(s["logits"])[np.arange(n), s["tokens"]]
        assert -loss * n == pytest.approx(chosen.sum(), rel=1e-12)


M = seqrnn.Seq2Seq(6, 4, embed_size=2, hidden_size=3, num_layers=1, seed=0)


@pytest.mark.parametrize("call,exc,match", [
    (lambda: M.decode_steps([], BOS, EOS, 5), ValueError, "src must be at least one token, got 0"),
    (lambda: M.decode_steps([[2, 3]], BOS, EOS, 5), ValueError, r"src: expected 1 dimensions"),
    (lambda: M.decode_steps([6], BOS, EOS, 5), IndexError, "token id 6 is out of range"),
    (lambda: M.decode_steps([2.0], BOS, EOS, 5), TypeError, "expected integer token ids"),
    (lambda: M.decode_steps([2], BOS, 4, 5), IndexError, "token id 4 is out of range"),
    (lambda: M.decode_steps([2], -1, EOS, 5), ValueError, "bos must be >= 0, got -1"),
    (lambda: M.decode_steps([2], BOS, EOS, 0), ValueError, "max_len must be at least 1, got 0"),
])
def test_errors(call, exc, match):
    with pytest.raises(exc, match=match):
        call()
