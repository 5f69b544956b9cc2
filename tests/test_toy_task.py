"""seqrnn.toy: English and French number words, and the held-out split of the toy task."""

from __future__ import annotations

import random

import pytest
from seqrnn.data import make_translation_data
from seqrnn.toy import (
    english,
    french,
    join_french,
    number_pairs,
    split_french,
    toy_translation_task,
)

FRENCH = {
    0: "zéro",
    1: "un",
    16: "seize",
    17: "dix-sept",
    20: "vingt",
    21: "vingt et un",
    22: "vingt-deux",
    31: "trente et un",
    41: "quarante et un",
    51: "cinquante et un",
    61: "soixante et un",
    70: "soixante-dix",
    71: "soixante et onze",
    72: "soixante-douze",
    77: "soixante-dix-sept",
    80: "quatre-vingts",
    81: "quatre-vingt-un",
    88: "quatre-vingt-huit",
    90: "quatre-vingt-dix",
    91: "quatre-vingt-onze",
    99: "quatre-vingt-dix-neuf",
    100: "cent",
    101: "cent un",
    180: "cent quatre-vingts",
    200: "deux cents",
    201: "deux cent un",
    280: "deux cent quatre-vingts",
    342: "trois cent quarante-deux",
    371: "trois cent soixante et onze",
    999: "neuf cent quatre-vingt-dix-neuf",
    1000: "mille",
    1001: "mille un",
    1080: "mille quatre-vingts",
    2000: "deux mille",
    21_000: "vingt et un mille",
    80_000: "quatre-vingt mille",
    200_000: "deux cent mille",
    300_080: "trois cent mille quatre-vingts",
    999_999: "neuf cent quatre-vingt-dix-neuf mille neuf cent quatre-vingt-dix-neuf",
}

ENGLISH = {
    0: "zero",
    1: "one",
    13: "thirteen",
    17: "seventeen",
    20: "twenty",
    21: "twenty one",
    71: "seventy one",
    80: "eighty",
    99: "ninety nine",
    100: "one hundred",
    101: "one hundred one",
    200: "two hundred",
    342: "three hundred forty two",
    999: "nine hundred ninety nine",
    1000: "one thousand",
    21_000: "twenty one thousand",
    100_010: "one hundred thousand ten",
    999_999: "nine hundred ninety nine thousand nine hundred ninety nine",
}


@pytest.mark.parametrize(("n", "words"), FRENCH.items())
def test_french(n, words):
    assert french(n) == words


@pytest.mark.parametrize(("n", "words"), ENGLISH.items())
def test_english(n, words):
    assert english(n) == words


def test_spellings_are_distinct_and_follow_the_agreement_rules():
    fr = [french(n) for n in range(100_000)]
    assert len(set(fr)) == len(fr) and len({english(n) for n in range(100_000)}) == 100_000
    for n, words in enumerate(fr):
        parts = (n % 100, n // 1000 % 100)  # the tens and units of each group of three
        if "et un" in words:
            assert {21, 31, 41, 51, 61} & set(parts)  # never 81 nor 91
        if "et onze" in words:
            assert 71 in parts
        assert not words.startswith("un mille")  # 1000 is "mille"
        for plural in ("cents", "quatre-vingts"):
            if plural in words:
                assert words.endswith(plural)  # the s only at the very end


def test_hyphen_split_round_trips():
    numbers = list(range(3000)) + random.Random(0).sample(range(3000, 1_000_000), 3000)
    for n in numbers:
        spaced = split_french(french(n))
        assert "-" not in spaced and join_french(spaced) == french(n)
    assert split_french("quatre-vingt-dix") == "quatre vingt dix"


def test_pairs_and_small_vocabularies():
    assert number_pairs([21, 80]) == [("twenty one", "vingt et un"), ("eighty", "quatre vingts")]
    assert number_pairs([80], split_hyphens=False) == [("eighty", "quatre-vingts")]
    pairs = number_pairs(range(1000))
    en = {w for e, _ in pairs for w in e.split()}
    fr = {w for _, f in pairs for w in f.split()}
    assert len(en) == 29  # zero..nineteen, eight tens, hundred
    assert len(fr) == 26  # zéro..seize (17 words), 5 tens, et, cent, cents, vingts
    assert max(len(f.split()) for _, f in pairs) == 6  # neuf cent quatre vingt dix neuf


def test_split_is_deterministic_and_holds_numbers_out():
    train, valid = toy_translation_task(num_valid=100, seed=0)
    assert (len(train), len(valid)) == (900, 100)
    assert not set(train) & set(valid)
    assert set(train) | set(valid) == set(number_pairs(range(1000)))
    assert toy_translation_task(num_valid=100, seed=0) == (train, valid)
    assert toy_translation_task(num_valid=100, seed=1)[1] != valid
    small_train, small_valid = toy_translation_task(num_valid=5, seed=3, max_number=20)
    assert len(small_train) == 16 and len(small_valid) == 5
    d = make_translation_data(train + valid, 8, num_valid=len(valid), already_preprocessed=True)
    assert d.pairs[-100:] == valid
    assert "zéro" in d.tgt_vocab.idx_to_token or ("zero", "zéro") in valid


def test_errors():
    for bad in (-1, 1_000_000):
        with pytest.raises(ValueError, match=r"n must be in \[0, 999999\]"):
            french(bad)
    with pytest.raises(TypeError, match="n must be an int"):
        english(1.0)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="n must be an int"):
        english(True)
    with pytest.raises(ValueError, match=r"num_valid must be in \[0, 10\]"):
        toy_translation_task(num_valid=11, max_number=10)
    with pytest.raises(ValueError, match="max_number must be in"):
        toy_translation_task(max_number=0)


def test_demo_prints_translations_as_the_task_writes_them(capsys):
    from seqrnn import demo

    demo.translate_demo(seed=0, progress=False)
    lines = [line for line in capsys.readouterr().out.splitlines() if line.startswith("  ")]
    train, valid = toy_translation_task(num_valid=100, seed=0)  # the demo's data
    words = {w for _, fr in train + valid for w in fr.split()}
    assert len(lines) == 5
    for line, (src, _) in zip(lines, valid):
        shown_src, out = (part.strip() for part in line.split(" -> "))
        assert shown_src == src and "-" not in out and set(out.split()) <= words
