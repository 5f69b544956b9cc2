"""seqrnn.metrics: d2l 1.0's BLEU by hand and against a plain-Python transcription of d2l's code;
standard BLEU and chrF by hand and, when sacrebleu is installed, against it."""

from __future__ import annotations

import collections
import math
import random
from importlib.util import find_spec

import pytest
from hypothesis import given
from hypothesis import strategies as st
from seqrnn import data
from seqrnn.metrics import (
    bleu,
    chrf,
    corpus_bleu,
    corpus_bleu_pooled,
    exact_match,
    sacrebleu,
    tokenize_13a,
)

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


# ---- standard corpus BLEU (sacreBLEU's default) and chrF --------------------------------------


def test_sacrebleu_by_hand():
    # Pooled counts: predictions 4 + 2 = 6 tokens, labels 4 + 3 = 7, so BP = exp(1 - 7/6).
    # 1-grams 4/4 + 2/2, 2-grams 3/3 + 1/1, 3-grams 2/2 + 0/0, 4-grams 1/1 + 0/0: all 100.
    assert sacrebleu(["a b c d", "a b"], ["a b c d", "a b c"]) == pytest.approx(
        100 * math.exp(1 - 7 / 6), abs=1e-9)
    # One pair of 4 tokens (BP 1). 1-grams 4/4; 2-grams ab bc cd vs ab bd dc: 1/3; 3-grams abc
    # bcd vs abd bdc: 0/2, the first order without a match: 100 / (2 * 2); 4-grams 0/1, the
    # second: 100 / (4 * 1).
    assert sacrebleu(["a b c d"], ["a b d c"]) == pytest.approx(
        100 * (1 * (1 / 3) * (1 / 4) * (1 / 4)) ** 0.25, abs=1e-9)
    # Case is kept: 1-grams 3/4 (The != the), 2-grams 2/3, 3-grams 1/2, 4-grams 0/1 -> 100 / 2.
    assert sacrebleu(["The cat sat down"], ["the cat sat down"]) == pytest.approx(
        100 * ((3 / 4) * (2 / 3) * (1 / 2) * (1 / 2)) ** 0.25, abs=1e-9)


def test_sacrebleu_zero_empty_and_long_predictions():
    assert sacrebleu(["x y z w"], ["a b c d"]) == 0.0  # no match at all
    assert sacrebleu(["", ""], ["a b", "c d"]) == 0.0  # nothing predicted
    # An empty prediction beside a perfect one: 4 of 6 label tokens, every n-gram right.
    assert sacrebleu(["", "a b c d"], ["a b", "a b c d"]) == pytest.approx(
        100 * math.exp(1 - 6 / 4), abs=1e-9)
    # Longer than the label: BP 1; 1-grams 4/6, 2-grams 3/5, 3-grams 2/4, 4-grams 1/3.
    assert sacrebleu(["a b c d e f"], ["a b c d"]) == pytest.approx(
        100 * ((4 / 6) * (3 / 5) * (2 / 4) * (1 / 3)) ** 0.25, abs=1e-9)
    # No prediction has a 4-gram: the 4-gram precision is 0 and so is BLEU (d2l's gives 1).
    assert sacrebleu(["va !"], ["va !"]) == 0.0
    assert bleu("va !", "va !") == 1.0
    assert sacrebleu(["a b c d"], ["a b c d"]) == pytest.approx(100.0)


def test_sacrebleu_tokenizes_before_counting():
    # The same 7 tokens either way: il fait froid , n'est-ce pas ?
    assert sacrebleu(["il fait froid, n'est-ce pas?"], ["il fait froid , n'est-ce pas ?"]) == (
        pytest.approx(100))
    # "froid." is one token to d2l's split but two to 13a.
    assert corpus_bleu(["il fait très froid."], ["il fait très froid ."]) < 1
    assert sacrebleu(["il fait très froid."], ["il fait très froid ."]) == pytest.approx(100)
    # Trailing whitespace and repeated spaces do not count.
    assert sacrebleu(["a  b c d \n"], ["a b c d"]) == pytest.approx(100)


@pytest.mark.parametrize(("line", "tokens"), [
    ("Hello, world.", ["Hello", ",", "world", "."]),
    ("Va !", ["Va", "!"]),
    ("(a)[b]{c}<d>", ["(", "a", ")", "[", "b", "]", "{", "c", "}", "<", "d", ">"]),
    ("x;y:z?w@v/u", ["x", ";", "y", ":", "z", "?", "w", "@", "v", "/", "u"]),
    ("1,000.50 et 3.14", ["1,000.50", "et", "3.14"]),  # . and , between digits stay
    ("en 1999. Puis", ["en", "1999", ".", "Puis"]),  # ... not before a letter or space
    ("a.5 ,5", ["a", ".", "5", ",", "5"]),  # ... nor after a letter or space
    ("U.S.A.", ["U", ".", "S", ".", "A", "."]),
    ("j'ai l'homme aujourd'hui", ["j'ai", "l'homme", "aujourd'hui"]),  # ' stays inside
    ("peut-être -- non-stop", ["peut-être", "--", "non-stop"]),  # - stays inside words
    ("2-3 a-2 12-", ["2", "-", "3", "a-2", "12", "-"]),  # ... but is split after a digit
    ('"oui" dit-il', ['"', "oui", '"', "dit-il"]),
    ("&quot;oui&quot; &amp; &lt;b&gt;", ['"', "oui", '"', "&", "<", "b", ">"]),
    ("«oui» — non…", ["«oui»", "—", "non…"]),  # only ASCII symbols are split
    ("Cours\u202f!", ["Cours", "!"]),  # any Unicode space separates
    ("a <skipped> b", ["a", "b"]),
    ("inter-\nnational\nline", ["international", "line"]),
    ("$5 100% #1 a+b=c", ["$", "5", "100", "%", "#", "1", "a", "+", "b", "=", "c"]),
    ("", []),
    ("   ", []),
])
def test_13a_tokenization(line, tokens):
    assert tokenize_13a(line) == tokens


def test_chrf_by_hand():
    # 1-grams: prediction a b, label a b c, 2 matched (P 1, R 2/3); 2-grams: ab vs ab bc, 1
    # matched (P 1, R 1/2); no 3-gram in the prediction, so two orders count: P 1, R 7/12.
    assert chrf(["ab"], ["abc"]) == pytest.approx(100 * 5 * (7 / 12) / (4 + 7 / 12), abs=1e-9)
    assert chrf(["a b c"], ["abc"]) == pytest.approx(100.0)  # whitespace is removed
    assert chrf(["abcdefgh", "xyz"], ["abcdefgh", "xyz"]) == pytest.approx(100.0)
    assert chrf(["xyz"], ["abc"]) == 0.0
    assert chrf([""], ["abc"]) == 0.0
    assert chrf(["Ab"], ["ab"]) < 100  # case is kept
    # Pooled over the corpus: 1-grams 2 + 0 of 2 + 1 predicted, 2 + 1 in the labels: P 2/3,
    # R 2/3; 2-grams 1 + 0 of 1 + 0, 1 + 0: P 1, R 1. Averages P 5/6, R 5/6: F = 5/6.
    assert chrf(["ab", "x"], ["ab", "y"]) == pytest.approx(100 * 5 / 6, abs=1e-9)
    # A prediction's n-grams of an order its label has none of are not counted (as sacreBLEU):
    # the 2-gram of "ab" against "c", and everything against "". 1-grams: 2 + 1 predicted, 1 + 1
    # in the labels, 0 + 1 matched: P 1/3, R 1/2; 2-grams: none counted on either side.
    assert chrf(["ab", "c"], ["c", "c"]) == pytest.approx(100 * 5 * (1 / 6) / (4 / 3 + 1 / 2))
    assert chrf(["xyz", "c"], ["", "c"]) == pytest.approx(100.0)


@pytest.mark.parametrize("score", [sacrebleu, chrf])
def test_standard_scores_errors(score):
    with pytest.raises(ValueError, match="got 2 predictions for 1 labels"):
        score(["a", "b"], ["a"])
    with pytest.raises(ValueError, match="empty"):
        score([], [])
    with pytest.raises(TypeError, match="lists of str, got a str"):
        score("a b", "a b")
    with pytest.raises(TypeError, match=r"preds\[1\] must be a str, got int"):
        score(["a", 3], ["a", "b"])
    with pytest.raises(TypeError, match=r"labels\[0\] must be a str, got NoneType"):
        score(["a"], [None])


def test_13a_errors():
    with pytest.raises(TypeError, match="line must be a str, got bytes"):
        tokenize_13a(b"a b")


TRICKY = [
    ("Va !", "Va !"),
    ("Il a dit &quot;non&quot;.", 'Il a dit "non".'),
    ("J'ai 1,000.50 $ - et toi?", "J'ai 1,000.50 $ -- et toi ?"),
    ("  espaces   en   trop  ", "espaces en trop"),
    ("", "une phrase sans prédiction"),
    ("une prédiction sans étiquette", ""),
    ("Le 3.5.2024, à 10h30.", "Le 3.5.2024 à 10 h 30."),
    ("«Qui?» — lui, peut-être…", "« Qui ? » – lui , peut-être ..."),
    ("x<skipped>y &amp; z", "x y & z"),
    ("ligne-\ncoupée\n", "lignecoupée"),
    ("The THE the", "the the the"),
    ("e-mail: a@b.fr/c?d=1&e=2", "e-mail : a@b.fr / c ? d=1 & e=2"),
]


def perturb(sentence: str, rng: random.Random, vocab: list[str]) -> str:
    """A deterministic imperfect translation: a word dropped, swapped, replaced, or none."""
    words = sentence.split(" ")
    kind = rng.randrange(5)
    i = rng.randrange(len(words))
    if kind == 0 and len(words) > 1:
        del words[i]
    elif kind == 1 and i + 1 < len(words):
        words[i], words[i + 1] = words[i + 1], words[i]
    elif kind == 2:
        words[i] = rng.choice(vocab)
    elif kind == 3:
        words = words[: max(1, len(words) // 2)]
    return " ".join(words)


def french_corpus() -> tuple[list[str], list[str]]:
    """300 French sentences from fra-eng.txt, short to long, and perturbed copies."""
    try:
        path = data.find_data_file("fra-eng.txt")
    except FileNotFoundError:
        return [], []
    lines = path.read_text(encoding="utf-8").splitlines()
    step = max(1, len(lines) // 300)
    labels = [line.split("\t")[1] for line in lines[::step] if line.count("\t") >= 1][:300]
    vocab = sorted({w for s in labels for w in s.split(" ")})
    rng = random.Random(0)
    return [perturb(s, rng, vocab) for s in labels], labels


def test_equal_to_sacrebleu():
    sacrebleu_pkg = pytest.importorskip("sacrebleu")
    preds, labels = french_corpus()
    corpora = [([p for p, _ in TRICKY], [y for _, y in TRICKY])]
    corpora += [([p], [y]) for p, y in TRICKY]
    if preds:
        assert len(preds) == 300
        corpora.append((preds, labels))
        corpora += [(preds[i : i + 7], labels[i : i + 7]) for i in range(0, 300, 7)]
        corpora += [([p], [y]) for p, y in zip(preds[:40], labels[:40], strict=True)]
    for p, y in corpora:
        expected = sacrebleu_pkg.corpus_bleu(p, [y]).score
        assert sacrebleu(p, y) == pytest.approx(expected, abs=0.01), (p, y)
        expected = sacrebleu_pkg.corpus_chrf(p, [y]).score
        assert chrf(p, y) == pytest.approx(expected, abs=0.01), (p, y)


@pytest.mark.skipif(find_spec("sacrebleu") is None, reason="sacrebleu is not installed")
@given(st.lists(st.tuples(st.text("ab,.1-' \"&;", max_size=14),
                          st.text("ab,.1-' \"&;", max_size=14)), min_size=1, max_size=4))
def test_equal_to_sacrebleu_on_random_text(pairs):
    import sacrebleu as sacrebleu_pkg

    preds, labels = [p for p, _ in pairs], [y for _, y in pairs]
    assert sacrebleu(preds, labels) == pytest.approx(
        sacrebleu_pkg.corpus_bleu(preds, [labels]).score, abs=0.01)
    assert chrf(preds, labels) == pytest.approx(
        sacrebleu_pkg.corpus_chrf(preds, [labels]).score, abs=0.01)
