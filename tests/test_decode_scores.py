"""Seq2Seq.decode and Translator.translate with_scores=True: (output, log_prob, score)."""

from __future__ import annotations

import numpy as np
import pytest
import seqrnn

BOS, EOS = 0, 1
SOURCES = ([2, 3, 4], [6], [5, 5, 2, 3], [4, 2])


def log_softmax(z):
    z = z - z.max(axis=-1, keepdims=True)
    return z - np.log(np.exp(z).sum(axis=-1, keepdims=True))


def model(eos_bias=0.0, seed=3):
    m = seqrnn.Seq2Seq(7, 5, embed_size=3, hidden_size=4, num_layers=1, seed=seed,
                       dtype="float64")
    sd = m.state_dict()
    sd["decoder.output.weight"] *= 4.0  # far from flat: some sentences end, some are cut off
    sd["decoder.output.bias"][EOS] += eos_bias
    m.load_state_dict(sd)
    return m


def padded(sources):
    src = np.zeros((len(sources), max(map(len, sources))), dtype=np.int64)
    for i, s in enumerate(sources):
        src[i, :len(s)] = s
    return src, [len(s) for s in sources]


def teacher_forced_log_prob(m, src, tokens):
    """log P(tokens) given src, from the loss of teacher forcing."""
    tgt_in, tgt_out = np.array([[BOS, *tokens[:-1]]]), np.array([tokens])
    loss, _ = m.loss_and_grads(np.array([src]), [len(src)], tgt_in, tgt_out, [len(tokens)])
    return -loss * len(tokens)


@pytest.mark.parametrize("alpha", [0.0, 0.75, 1.0])
@pytest.mark.parametrize("eos_bias", [-2.0, 3.0])
def test_greedy_log_prob_is_the_sum_of_the_chosen_log_softmax(alpha, eos_bias):
    m = model(eos_bias)
    src, lens = padded(SOURCES)
    for max_len in (2, 6):
        got = m.decode(src, lens, BOS, EOS, max_len, alpha=alpha, with_scores=True)
        assert [ids for ids, _, _ in got] == m.decode(src, lens, BOS, EOS, max_len, alpha=alpha)
        for s, (ids, log_prob, score) in zip(SOURCES, got):
            steps = m.decode_steps(s, BOS, EOS, max_len)
            n = len(steps["tokens"])  # the emitted tokens, <eos> included when chosen
            assert ids == [t for t in steps["tokens"] if t != EOS]
            chosen = log_softmax(steps["logits"])[np.arange(n), steps["tokens"]]
            assert log_prob == pytest.approx(chosen.sum(), rel=1e-12, abs=1e-12)
            assert score == pytest.approx(log_prob / n**alpha, rel=1e-12, abs=1e-12)


def test_the_cases_above_end_both_ways():
    """Sentences ended by <eos> and sentences cut off by max_len both occur in these tests."""
    greedy = [model(-2.0).decode_steps(s, BOS, EOS, 6)["tokens"] for s in SOURCES]
    assert {t[-1] == EOS for t in greedy} == {True, False} and max(map(len, greedy)) == 6
    src, lens = padded(SOURCES)
    for beam_size in (2, 3):
        lengths = {len(ids) for ids in model(3.0, seed=5).decode(src, lens, BOS, EOS, 5, beam_size)}
        assert 5 in lengths and min(lengths) < 5


@pytest.mark.parametrize("beam_size", [2, 3])
@pytest.mark.parametrize("eos_bias", [0.0, 3.0])
def test_beam_log_prob_is_teacher_forced_and_score_is_length_normalized(beam_size, eos_bias):
    m, alpha, max_len = model(eos_bias, seed=5), 0.75, 5
    src, lens = padded(SOURCES)
    got = m.decode(src, lens, BOS, EOS, max_len, beam_size, alpha, with_scores=True)
    assert [ids for ids, _, _ in got] == m.decode(src, lens, BOS, EOS, max_len, beam_size, alpha)
    for s, (ids, log_prob, score) in zip(SOURCES, got):
        # max_len ids: cut off (an <eos> would have been token max_len + 1); else ended by <eos>
        emitted = ids if len(ids) == max_len else [*ids, EOS]
        assert log_prob == pytest.approx(teacher_forced_log_prob(m, s, emitted), rel=1e-12)
        assert score == pytest.approx(log_prob / len(emitted) ** alpha, rel=1e-12)


def translator():
    pairs = [("one", "un"), ("two", "deux"), ("one two", "un deux")]
    return seqrnn.Translator.train(pairs, epochs=60, embed_size=8, hidden_size=16, num_layers=1,
                                   batch_size=3, lr=0.02, seed=0, progress=False)


def test_translate_with_scores():
    tr = translator()
    sentences = ["one two", "two", "one"]
    texts = tr.translate(sentences, beam_size=2, alpha=0.5)
    got = tr.translate(sentences, beam_size=2, alpha=0.5, with_scores=True)
    assert [text for text, _, _ in got] == texts
    src, lens = seqrnn.data.encode_sentences(sentences, tr.src_vocab, tr.num_steps)
    want = tr.model.decode(src, lens, tr.tgt_vocab["<bos>"], tr.tgt_vocab["<eos>"],
                           tr.num_steps, 2, 0.5, with_scores=True)
    assert [(lp, score) for _, lp, score in got] == [(lp, score) for _, lp, score in want]
    assert texts == ["un deux", "deux", "un"]  # learned, so the scores are not all alike
    # One sentence alone: a tuple, its numbers those of a batch of one (float32 rounding)
    text, log_prob, score = tr.translate("one two", beam_size=2, alpha=0.5, with_scores=True)
    assert text == "un deux"
    assert (log_prob, score) == pytest.approx(got[0][1:], rel=1e-5)
    assert score == pytest.approx(log_prob / 3**0.5, rel=1e-6) and log_prob < 0.0
    assert tr.translate("one two", with_scores=True) == tr.translate(["one two"],
                                                                     with_scores=True)[0]
    assert tr.translate([], with_scores=True) == []
