"""Translation metrics: d2l 1.0's BLEU, its corpus averages, exact match, and the standard
corpus BLEU and chrF that sacreBLEU reports.

d2l's BLEU of a prediction against one label, tokens split on spaces::

    BLEU = exp(min(0, 1 - len_label / len_pred)) * prod_{n=1..k} p_n ** (1 / 2**n)

where ``p_n`` is the clipped n-gram precision: matched n-grams of the prediction (each label
n-gram matches at most as often as it occurs in the label) over the ``len_pred - n + 1``
n-grams of the prediction. As in d2l's code, orders ``n > len_pred`` are left out of the
product (the prediction has no n-gram of that order to be wrong about), so a one-word
prediction equal to a one-word label scores 1.0.

d2l's numbers are on a 0-1 scale and are not comparable with published BLEU. :func:`sacrebleu`
is the score papers report: sacreBLEU's default corpus BLEU (0-100, orders 1-4 with equal
weights, mteval-v13a tokenization, counts pooled over the corpus, one brevity penalty for the
whole corpus, NIST's "exp" smoothing of orders without a match). :func:`chrf` is sacreBLEU's
default chrF (character 1- to 6-grams, whitespace removed, recall weighted by beta = 2).
Neither needs the sacrebleu package; the tests check both against it when it is installed.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Sequence

import numpy as np


def _tokens(seq: str, what: str) -> list[str]:
    """d2l's ``seq.split(' ')`` without the empty strings that repeated spaces make."""
    if not isinstance(seq, str):
        raise TypeError(f"{what} must be a str of space-separated tokens, got {type(seq).__name__}")
    return [t for t in seq.split(" ") if t]


def _order(k: int) -> int:
    if isinstance(k, bool) or not isinstance(k, (int, np.integer)):
        raise TypeError(f"k must be an int, got {type(k).__name__}")
    if k < 1:
        raise ValueError(f"k must be at least 1, got {k}")
    return int(k)


def _ngrams(tokens: list[str], n: int) -> Counter[tuple[str, ...]]:
    return Counter(tuple(tokens[i : i + n]) for i in range(len(tokens) - n + 1))


def _clipped_matches(pred: list[str], label: list[str], n: int) -> int:
    """Prediction n-grams found in the label, each label n-gram used at most its count."""
    return sum((_ngrams(pred, n) & _ngrams(label, n)).values())


def bleu(pred_seq: str, label_seq: str, k: int = 2) -> float:
    """d2l 1.0's BLEU of one predicted sentence against its label (see the module doc).

    An empty prediction scores 0.0; orders ``n`` above the prediction's length are skipped.

    Example:
        >>> round(bleu("A B B C D", "A B C D E F", k=2), 4)  # exp(-0.2) * (4/5)**0.5 * (3/4)**0.25
        0.6815
        >>> bleu("va !", "va !")
        1.0
    """
    k = _order(k)
    pred, label = _tokens(pred_seq, "pred_seq"), _tokens(label_seq, "label_seq")
    if not pred:
        return 0.0
    score = math.exp(min(0.0, 1.0 - len(label) / len(pred)))
    for n in range(1, min(k, len(pred)) + 1):
        p_n = _clipped_matches(pred, label, n) / (len(pred) - n + 1)
        score *= p_n ** (0.5**n)
    return score


def _check_pairs(preds: Sequence[str], labels: Sequence[str]) -> None:
    if isinstance(preds, str) or isinstance(labels, str):
        raise TypeError("preds and labels must be lists of str, got a str")
    if len(preds) != len(labels):
        raise ValueError(f"got {len(preds)} predictions for {len(labels)} labels")
    if not preds:
        raise ValueError("preds and labels are empty: a corpus score needs a sentence")


def corpus_bleu(preds: Sequence[str], labels: Sequence[str], k: int = 2) -> float:
    """The mean of sentence-level :func:`bleu` over the pairs, the average d2l reports.

    Example:
        >>> corpus_bleu(["va !", "j'ai perdu"], ["va !", "j'ai perdu ."])
        0.8032653298563167
    """
    _check_pairs(preds, labels)
    return sum(bleu(p, y, k) for p, y in zip(preds, labels, strict=True)) / len(preds)


def corpus_bleu_pooled(preds: Sequence[str], labels: Sequence[str], k: int = 2) -> float:
    """BLEU with counts pooled over the corpus (Papineni et al.'s corpus BLEU, d2l's weights):
    ``p_n`` is the sum of clipped matches over the sum of prediction n-grams, and the brevity
    penalty uses the total lengths. Orders no prediction is long enough for are skipped, as in
    :func:`bleu`; a corpus of empty predictions scores 0.0.

    Example:
        >>> round(corpus_bleu_pooled(["A B B C D"], ["A B C D E F"]), 4)  # one pair: as bleu
        0.6815
    """
    _check_pairs(preds, labels)
    k = _order(k)
    pairs = [
        (_tokens(p, "preds"), _tokens(y, "labels")) for p, y in zip(preds, labels, strict=True)
    ]
    len_pred = sum(len(p) for p, _ in pairs)
    len_label = sum(len(y) for _, y in pairs)
    if len_pred == 0:
        return 0.0
    score = math.exp(min(0.0, 1.0 - len_label / len_pred))
    for n in range(1, k + 1):
        total = sum(max(len(p) - n + 1, 0) for p, _ in pairs)
        if total == 0:
            break
        matches = sum(_clipped_matches(p, y, n) for p, y in pairs)
        score *= (matches / total) ** (0.5**n)
    return score


def exact_match(preds: Sequence[str], labels: Sequence[str]) -> float:
    """The fraction of predictions whose tokens equal their label's (spacing is ignored).

    Example:
        >>> exact_match(["va !", "salut  !"], ["va !", "salut !"]), exact_match(["a"], ["b"])
        (1.0, 0.0)
    """
    _check_pairs(preds, labels)
    hits = sum(
        _tokens(p, "preds") == _tokens(y, "labels") for p, y in zip(preds, labels, strict=True)
    )
    return hits / len(preds)


# mteval-v13a's language-dependent rules, applied in this order to " line ": split off most
# ASCII symbols ({|}~ [\]^_` space-& ()*+ :;<=>?@ /), but not ' or -; split . and , unless
# a digit comes before it, then unless a digit comes after it (so 3.5 and 1,000 stay whole);
# split - after a digit.
_13A_RULES = (
    (re.compile(r"([\{-\~\[-\` -\&\(-\+\:-\@\/])"), r" \1 "),
    (re.compile(r"([^0-9])([\.,])"), r"\1 \2 "),
    (re.compile(r"([\.,])([^0-9])"), r" \1 \2"),
    (re.compile(r"([0-9])(-)"), r"\1 \2 "),
)
_13A_ENTITIES = (("&quot;", '"'), ("&amp;", "&"), ("&lt;", "<"), ("&gt;", ">"))
_BLEU_ORDER = 4
_CHRF_ORDER, _CHRF_BETA = 6, 2.0


def tokenize_13a(line: str) -> list[str]:
    """Split ``line`` into tokens as sacreBLEU's default "13a" tokenizer (mteval-v13a) does.

    ``<skipped>`` is dropped, ``-`` before a line break joins the lines, the entities ``&quot;
    &amp; &lt; &gt;`` are decoded; punctuation and ASCII symbols become tokens except ``'``
    and ``-`` (so ``j'ai`` and ``peut-être`` stay whole); ``.`` and ``,`` between two digits
    stay inside the number.

    Example:
        >>> tokenize_13a("J'ai payé 1,000.50 $, &quot;oui&quot; (2-3 fois).")
        ["J'ai", 'payé', '1,000.50', '$', ',', '"', 'oui', '"', '(', '2', '-', '3', 'fois', ')', '.']
    """
    if not isinstance(line, str):
        raise TypeError(f"line must be a str, got {type(line).__name__}")
    line = line.replace("<skipped>", "").replace("-\n", "").replace("\n", " ")
    for entity, char in _13A_ENTITIES:
        line = line.replace(entity, char)
    line = f" {line} "
    for pattern, replacement in _13A_RULES:
        line = pattern.sub(replacement, line)
    return line.split()


def _str_pairs(preds: Sequence[str], labels: Sequence[str]) -> list[tuple[str, str]]:
    """The pairs, after checking lengths and that every element is a str."""
    _check_pairs(preds, labels)
    for what, seqs in (("preds", preds), ("labels", labels)):
        for i, seq in enumerate(seqs):
            if not isinstance(seq, str):
                raise TypeError(f"{what}[{i}] must be a str, got {type(seq).__name__}")
    return list(zip(preds, labels, strict=True))


def _all_ngrams(tokens: Sequence[str], max_n: int) -> list[Counter[tuple[str, ...]]]:
    return [_ngrams(list(tokens), n) for n in range(1, max_n + 1)]


def sacrebleu(preds: Sequence[str], labels: Sequence[str]) -> float:
    """Corpus BLEU on a 0-100 scale, equal to sacreBLEU's default
    ``sacrebleu.corpus_bleu(preds, [labels]).score`` (one reference per prediction).

    Each sentence (trailing whitespace stripped) is split by :func:`tokenize_13a`, case kept.
    For n = 1..4, ``p_n`` is 100 * clipped n-gram matches summed over the corpus / prediction
    n-grams summed over the corpus; an order with no match gets ``100 / (2**j * total_n)``
    instead, for the j-th such order. BLEU = BP * exp(mean of ln p_n), with BP = exp(1 - r / c)
    if the corpus prediction length c is below the label length r, else 1. No match at all,
    or an order for which no prediction is long enough, gives 0.0.

    Example (7 tokens each side, so BP = 1; n-grams matched 6/7, 4/6, 2/5, 1/4):
        >>> round(sacrebleu(["the cat sat on the mat ."], ["the cat sat on a mat ."]), 2)
        48.89
    """
    pairs = _str_pairs(preds, labels)
    correct, total = [0] * _BLEU_ORDER, [0] * _BLEU_ORDER
    len_pred = len_label = 0
    for pred_seq, label_seq in pairs:
        pred, label = tokenize_13a(pred_seq.rstrip()), tokenize_13a(label_seq.rstrip())
        len_pred, len_label = len_pred + len(pred), len_label + len(label)
        for n, (p, y) in enumerate(zip(_all_ngrams(pred, _BLEU_ORDER),
                                       _all_ngrams(label, _BLEU_ORDER), strict=True)):
            correct[n] += sum((p & y).values())
            total[n] += sum(p.values())
    if not any(correct) or not all(total):
        return 0.0
    log_sum, halvings = 0.0, 0
    for matched, count in zip(correct, total, strict=True):
        if matched == 0:
            halvings += 1
            log_sum += math.log(100.0 / (2.0**halvings * count))
        else:
            log_sum += math.log(100.0 * matched / count)
    bp = math.exp(1.0 - len_label / len_pred) if len_pred < len_label else 1.0
    return bp * math.exp(log_sum / _BLEU_ORDER)


def _char_ngrams(seq: str) -> list[Counter[str]]:
    chars = "".join(seq.split())
    return [Counter(chars[i : i + n] for i in range(len(chars) - n + 1))
            for n in range(1, _CHRF_ORDER + 1)]


def chrf(preds: Sequence[str], labels: Sequence[str]) -> float:
    """Corpus chrF on a 0-100 scale, equal to sacreBLEU's default
    ``sacrebleu.corpus_chrf(preds, [labels]).score`` (one reference per prediction).

    Whitespace is removed and character n-grams of orders 1..6 are counted, case kept. For each
    order, prediction, label and clipped matched n-grams are summed over the corpus (as in
    sacreBLEU, a prediction's n-grams count only if its label has n-grams of that order); precision
    and recall are averaged over the orders that both sides have n-grams of, and the score is
    100 * (1 + b**2) * P * R / (b**2 * P + R) with b = 2 (0.0 if P + R is 0).

    Example (1-grams P 2/2, R 2/3; 2-grams P 1/1, R 1/2; so P = 1, R = 7/12):
        >>> round(chrf(["ab"], ["abc"]), 2)  # 5 * 7/12 / (4 + 7/12)
        63.64
    """
    pairs = _str_pairs(preds, labels)
    stats = [[0, 0, 0] for _ in range(_CHRF_ORDER)]  # per order: prediction, label, matched
    for pred_seq, label_seq in pairs:
        for n, (p, y) in enumerate(zip(_char_ngrams(pred_seq), _char_ngrams(label_seq),
                                       strict=True)):
            stats[n][0] += sum(p.values()) if y else 0  # as sacreBLEU: only if y has some
            stats[n][1] += sum(y.values())
            stats[n][2] += sum((p & y).values())
    precision = recall = 0.0
    orders = 0
    for n_pred, n_label, matched in stats:
        if n_pred > 0 and n_label > 0:
            precision, recall = precision + matched / n_pred, recall + matched / n_label
            orders += 1
    if orders == 0:
        return 0.0
    precision, recall = precision / orders, recall / orders
    if precision + recall == 0:
        return 0.0
    factor = _CHRF_BETA**2
    return 100.0 * (1 + factor) * precision * recall / (factor * precision + recall)
