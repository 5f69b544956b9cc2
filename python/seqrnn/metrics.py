"""Translation metrics: d2l 1.0's BLEU, its corpus averages, and exact match.

d2l's BLEU of a prediction against one label, tokens split on spaces::

    BLEU = exp(min(0, 1 - len_label / len_pred)) * prod_{n=1..k} p_n ** (1 / 2**n)

where ``p_n`` is the clipped n-gram precision: matched n-grams of the prediction (each label
n-gram matches at most as often as it occurs in the label) over the ``len_pred - n + 1``
n-grams of the prediction. As in d2l's code, orders ``n > len_pred`` are left out of the
product (the prediction has no n-gram of that order to be wrong about), so a one-word
prediction equal to a one-word label scores 1.0.
"""

from __future__ import annotations

import math
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
