"""A toy translation task with exactly known answers: English number words to French ones.

English is written without "and" or hyphens: 342 is "three hundred forty two". French follows
the traditional spelling (before the 1990 reform): hyphens join the words of a number below
one hundred except around "et" ("vingt et un", "soixante et onze", but "quatre-vingt-un",
"quatre-vingt-onze"); "quatre-vingts" and "deux cents" take an s only when nothing follows
them (and not before "mille": "quatre-vingt mille", "deux cent mille"); "mille" never varies
and stands alone for 1000. Numbers 0 to 999,999 are supported.

Tokens: the task writes the French side with its hyphens replaced by spaces ("quarante-deux"
-> "quarante deux"), so both vocabularies are a few dozen words. Every entry point uses
:func:`toy_translation_task` and shows translations as the model writes them, words separated
by spaces as d2l does ("cinquante neuf"): the Python API, ``seqrnn demo`` and ``seqrnn
train-translate --toy``. :func:`join_french` puts the hyphens back for a reader who wants the
written spelling. Both sides are already lower-case words, so the pairs go to
``make_translation_data(..., already_preprocessed=True)``.
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np

from . import _validate as v

MAX_SUPPORTED = 999_999

_EN_ONES = [
    "zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten",
    "eleven", "twelve", "thirteen", "fourteen", "fifteen", "sixteen", "seventeen", "eighteen",
    "nineteen",
]  # fmt: skip
_EN_TENS = ["", "", "twenty", "thirty", "forty", "fifty", "sixty", "seventy", "eighty", "ninety"]
_FR_ONES = [
    "zéro", "un", "deux", "trois", "quatre", "cinq", "six", "sept", "huit", "neuf", "dix", "onze",
    "douze", "treize", "quatorze", "quinze", "seize",
]  # fmt: skip
_FR_TENS = ["", "", "vingt", "trente", "quarante", "cinquante", "soixante"]
_FR_SPACED = frozenset({"cent", "cents", "mille"})  # the words that stand between spaces


def _number(n: int) -> int:
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)):
        raise TypeError(f"n must be an int, got {type(n).__name__}")
    if not 0 <= n <= MAX_SUPPORTED:
        raise ValueError(f"n must be in [0, {MAX_SUPPORTED}], got {n}")
    return int(n)


def _english_below_1000(n: int) -> list[str]:
    hundreds, rest = divmod(n, 100)
    words = [_EN_ONES[hundreds], "hundred"] if hundreds else []
    if rest >= 20:
        tens, units = divmod(rest, 10)
        words += [_EN_TENS[tens]] + ([_EN_ONES[units]] if units else [])
    elif rest or not words:
        words.append(_EN_ONES[rest])
    return words


def english(n: int) -> str:
    """``n`` in English words, no "and", no hyphens.

    Example:
        >>> english(342), english(1001)
        ('three hundred forty two', 'one thousand one')
    """
    thousands, rest = divmod(_number(n), 1000)
    words = _english_below_1000(thousands) + ["thousand"] if thousands else []
    if rest or not words:
        words += _english_below_1000(rest)
    return " ".join(words)


def _french_below_100(n: int, last: bool) -> str:
    """1 <= n < 100; ``last``: nothing follows (so "quatre-vingts" keeps its s)."""
    if n <= 16:
        return _FR_ONES[n]
    if n < 20:
        return "dix-" + _FR_ONES[n - 10]
    tens, units = divmod(n, 10)
    if tens in (7, 9):  # 60 + (10..19), 80 + (10..19)
        base = "soixante" if tens == 7 else "quatre-vingt"
        joint = " et " if n == 71 else "-"
        return base + joint + _french_below_100(10 + units, last)
    if tens == 8 and units == 0:
        return "quatre-vingts" if last else "quatre-vingt"
    if tens == 8:
        return "quatre-vingt-" + _FR_ONES[units]
    if units == 0:
        return _FR_TENS[tens]
    return _FR_TENS[tens] + (" et un" if units == 1 else "-" + _FR_ONES[units])


def _french_below_1000(n: int, last: bool) -> str:
    """1 <= n < 1000; ``last``: nothing follows (so "cents" keeps its s)."""
    hundreds, rest = divmod(n, 100)
    if hundreds == 0:
        return _french_below_100(rest, last)
    head = "cent" if hundreds == 1 else _FR_ONES[hundreds] + " cent"
    if rest == 0:
        return head + ("s" if hundreds > 1 and last else "")
    return head + " " + _french_below_100(rest, last)


def french(n: int) -> str:
    """``n`` in French words, traditional spelling (see the module doc).

    Example:
        >>> french(342), french(71), french(80), french(80_000)
        ('trois cent quarante-deux', 'soixante et onze', 'quatre-vingts', 'quatre-vingt mille')
    """
    thousands, rest = divmod(_number(n), 1000)
    if thousands == 0 and rest == 0:
        return _FR_ONES[0]
    words = []
    if thousands:
        words.append("mille" if thousands == 1 else _french_below_1000(thousands, False) + " mille")
    if rest:
        words.append(_french_below_1000(rest, True))
    return " ".join(words)


def split_french(text: str) -> str:
    """The task's French tokens: hyphens become spaces ("quatre-vingt-un" -> "quatre vingt un").

    Example:
        >>> split_french("trois cent quarante-deux")
        'trois cent quarante deux'
    """
    return text.replace("-", " ")


def join_french(tokens: str) -> str:
    """Undo :func:`split_french` for the traditional spelling: the words of each part below
    one hundred (between "cent(s)"/"mille") are joined by hyphens, except around "et".

    Example:
        >>> join_french("deux cent quatre vingt un"), join_french("vingt et un mille")
        ('deux cent quatre-vingt-un', 'vingt et un mille')
    """
    out: list[str] = []
    for word in tokens.split():
        prev = out[-1] if out else None
        glue = prev is not None and prev.split("-")[-1] not in _FR_SPACED | {"et"}
        if glue and word not in _FR_SPACED and word != "et":
            out[-1] += "-" + word
        else:
            out.append(word)
    return " ".join(out)


def number_pairs(numbers: Iterable[int], split_hyphens: bool = True) -> list[tuple[str, str]]:
    """``(english(n), french(n))`` for each number, French hyphens as spaces by default.

    Example:
        >>> number_pairs([21, 99])
        [('twenty one', 'vingt et un'), ('ninety nine', 'quatre vingt dix neuf')]
    """
    pairs = [(english(n), french(n)) for n in numbers]
    return [(en, split_french(fr)) for en, fr in pairs] if split_hyphens else pairs


def toy_translation_task(
    num_valid: int = 100, seed: int = 0, max_number: int = 999
) -> tuple[list[tuple[str, str]], list[tuple[str, str]]]:
    """``(train_pairs, valid_pairs)`` of :func:`number_pairs` over ``0..=max_number``: a
    ``seed``-determined shuffle whose first ``num_valid`` numbers are held out, so no
    validation number appears in training. Both lists are in shuffled order.

    Example:
        >>> train, valid = toy_translation_task(num_valid=100)
        >>> len(train), len(valid), not set(train) & set(valid)
        (900, 100, True)
    """
    if isinstance(max_number, bool) or not isinstance(max_number, (int, np.integer)):
        raise TypeError(f"max_number must be an int, got {type(max_number).__name__}")
    if not 1 <= max_number <= MAX_SUPPORTED:
        raise ValueError(f"max_number must be in [1, {MAX_SUPPORTED}], got {max_number}")
    if isinstance(num_valid, bool) or not isinstance(num_valid, (int, np.integer)):
        raise TypeError(f"num_valid must be an int, got {type(num_valid).__name__}")
    if not 0 <= num_valid <= max_number:
        raise ValueError(
            f"num_valid must be in [0, {max_number}] to leave a training number, got {num_valid}"
        )
    order = np.random.default_rng(v.seed_or_random(seed)).permutation(max_number + 1).tolist()
    return number_pairs(order[num_valid:]), number_pairs(order[:num_valid])
