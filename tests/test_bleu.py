"""seqrnn.metrics: d2l 1.0's BLEU by hand and against a plain-Python transcription of d2l's code."""

from __future__ import annotations

import collections
import math

import pytest
from hypothesis import given
from hypothesis import strategies as st
from seqrnn.metrics import bleu, corpus_bleu, corpus_bleu_pooled, exact_match

LABEL = "A B C D E F"


def d2l_bleu(pred_seq, label_seq, k):
    """d2l 1.0's ``bleu`` (``sec_seq2seq_training``), transcribed."""
    pred_tokens, label_tokens = pred_seq.split(" "), label_seq.split(" ")
    len_pred, len_label = len(pred_tokens), len(label_tokens)
    score = math.exp(min(0, 1 - len_label / len_pred))
    for n in range(1, min(k, len_pred) + 1):
        num_matches, label_subs = 0, collections.defaultdict(int)
        for i in range(len_label - n + 1):
            label_subs[" ".join(label_tokens[i : i + n])] += 1
        for i in range(len_pred - n + 1):
            if label_subs[" ".join(pred_tokens[i : i + n])] > 0:
                num_matches += 1
                label_subs[" ".join(pred_tokens[i : i + n])] -= 1
        score *= math.pow(num_matches / (len_pred - n + 1), math.pow(0.5, n))
    return score


def test_d2l_example_by_hand():
    # 5 predicted vs 6 label tokens: brevity penalty exp(1 - 6/5). Unigrams A B B C D: the
    # second B finds no unclipped B, so p1 = 4/5. Bigrams AB BB BC CD: all but BB, p2 = 3/4.
    # Trigrams ABB BBC BCD: only BCD, p3 = 1/3. 4-grams ABBC BBCD: none, p4 = 0.
    bp = math.exp(-0.2)
    assert bleu("A B B C D", LABEL, k=1) == pytest.approx(bp * (4 / 5) ** 0.5)
    assert bleu("A B B C D", LABEL, k=2) == pytest.approx(bp * (4 / 5) ** 0.5 * (3 / 4) ** 0.25)
    assert bleu("A B B C D", LABEL) == pytest.approx(0.681477, abs=1e-6)  # k defaults to 2
    k3 = bp * (4 / 5) ** 0.5 * (3 / 4) ** 0.25 * (1 / 3) ** 0.125
    assert bleu("A B B C D", LABEL, k=3) == pytest.approx(k3)
    assert bleu("A B B C D", LABEL, k=4) == 0.0


def test_perfect_short_and_long_predictions():
    for k in (1, 2, 4, 6):
        assert bleu(LABEL, LABEL, k) == 1.0
    assert bleu("A B", LABEL) == pytest.approx(math.exp(1 - 6 / 2))  # p1 = p2 = 1
    assert bleu("A B C D E F G", LABEL) == pytest.approx((6 / 7) ** 0.5 * (5 / 6) ** 0.25)  # bp 1
    assert bleu("F E D C B A", LABEL) == pytest.approx(0.0)  # every word, no bigram
    assert bleu("X Y", LABEL) == 0.0


def test_clipping_counts_each_label_ngram_once():
    assert bleu("the the the", "the cat", k=1) == pytest.approx((1 / 3) ** 0.5)
    assert bleu("B B", "A B B", k=2) == pytest.approx(math.exp(1 - 3 / 2))  # both Bs, one BB


def test_orders_longer_than_the_prediction_are_left_out_as_in_d2l():
    assert bleu("va", "va", k=2) == 1.0  # a one-word exact answer scores 1, not 0
    assert bleu("A", LABEL, k=4) == pytest.approx(math.exp(1 - 6))
    assert bleu("A B", "A B", k=4) == 1.0


def test_empty_and_badly_spaced_sequences():
    assert bleu("", LABEL) == 0.0
    assert bleu("   ", LABEL) == 0.0
    assert bleu("", "") == 0.0
    assert bleu("A", "") == 0.0  # no label n-gram to match
    assert bleu("  A B  B C D ", "A B C D E F") == bleu("A B B C D", LABEL)


@given(
    st.lists(st.sampled_from("abcd"), min_size=1, max_size=9),
    st.lists(st.sampled_from("abcd"), min_size=1, max_size=9),
    st.integers(1, 5),
)
def test_matches_d2l_code(pred, label, k):
    ours = bleu(" ".join(pred), " ".join(label), k)
    assert ours == pytest.approx(d2l_bleu(" ".join(pred), " ".join(label), k), abs=1e-12)
    assert 0.0 <= ours <= 1.0


def test_corpus_scores():
    preds, labels = ["A B B C D", "va !", "x"], [LABEL, "va !", "y"]
    assert corpus_bleu(preds, labels) == pytest.approx((bleu(preds[0], LABEL) + 1 + 0) / 3)
    assert exact_match(preds, labels) == pytest.approx(1 / 3)
    assert exact_match(["va  !"], ["va !"]) == 1.0
    # pooled: 5 predicted vs 6 label tokens; unigrams 2 + 2 of 5; bigrams 1 + 0 of 1 + 2
    pooled = corpus_bleu_pooled(["A B", "C D E"], ["A B", "C X E F"])
    assert pooled == pytest.approx(math.exp(1 - 6 / 5) * (4 / 5) ** 0.5 * (1 / 3) ** 0.25)
    assert corpus_bleu_pooled(["A B B C D"], [LABEL], k=3) == pytest.approx(
        bleu("A B B C D", LABEL, 3)
    )
    assert corpus_bleu_pooled(["va"], ["va"], k=2) == 1.0  # no bigram anywhere: left out
    assert corpus_bleu_pooled(["", ""], ["a", "b"]) == 0.0


def test_errors():
    with pytest.raises(ValueError, match="k must be at least 1, got 0"):
        bleu("a", "a", k=0)
    with pytest.raises(TypeError, match="k must be an int"):
        bleu("a", "a", k=True)
    with pytest.raises(TypeError, match="pred_seq must be a str"):
        bleu(["a"], "a")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="got 2 predictions for 1 labels"):
        corpus_bleu(["a", "b"], ["a"])
    with pytest.raises(ValueError, match="empty"):
        exact_match([], [])
    with pytest.raises(TypeError, match="lists of str, got a str"):
        corpus_bleu_pooled("a b", "a b")  # type: ignore[arg-type]
