"""seqrnn.data's translation pairs against d2l 1.0's MTFraEng, written out here in plain Python."""

from __future__ import annotations

import collections
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from seqrnn import data
from seqrnn.data import (
    TranslationData,
    load_translation_pairs,
    make_translation_data,
    preprocess_nmt,
    tokenize_nmt,
)

SHARED = Path(__file__).resolve().parent.parent.parent / "shared" / "data"
needs_fra_eng = pytest.mark.skipif(
    not (SHARED / "fra-eng.txt").is_file(),
    reason=f"the shared data folder {SHARED} (with fra-eng.txt) is absent",
)


# ----- d2l 1.0's MTFraEng, transcribed ----------------------------------------------------------


def d2l_preprocess(text):
    text = text.replace("\u202f", " ").replace("\xa0", " ")
    out = [
        " " + c if i > 0 and c in ",.!?" and text[i - 1] != " " else c
        for i, c in enumerate(text.lower())
    ]
    return "".join(out)


def d2l_arrays(text, num_steps, max_examples, reserved=False):
    """``MTFraEng._build_arrays``: ids of (src, tgt_in, src_valid_len, tgt_out) and vocabs.

    ``reserved``: pass ``<pad>``, ``<eos>`` (and ``<bos>``) as reserved tokens, as seqrnn does
    so that they exist even when seen fewer than 2 times (d2l's vocab would then lack them).
    """
    src, tgt = [], []
    for i, line in enumerate(d2l_preprocess(text).split("\n")):
        if max_examples and i > max_examples:
            break
        parts = line.split("\t")
        if len(parts) == 2:
            src.append([t for t in f"{parts[0]} <eos>".split(" ") if t])
            tgt.append([t for t in f"{parts[1]} <eos>".split(" ") if t])

    def build(sentences, is_tgt):
        rows = [s[:num_steps] + ["<pad>"] * (num_steps - len(s)) for s in sentences]
        rows = [["<bos>"] + r for r in rows] if is_tgt else rows
        counts = collections.Counter(t for r in rows for t in r)
        specials = {"<pad>", "<eos>"} | ({"<bos>"} if is_tgt else set()) if reserved else set()
        vocab = sorted({"<unk>"} | specials | {t for t, c in counts.items() if c >= 2})
        ids = np.array([[vocab.index(t) if t in vocab else vocab.index("<unk>") for t in r]
                        for r in rows])  # fmt: skip
        return ids, vocab, (ids != vocab.index("<pad>")).sum(1)

    s, src_vocab, s_len = build(src, False)
    t, tgt_vocab, _ = build(tgt, True)
    return (s, t[:, :-1], s_len, t[:, 1:]), src_vocab, tgt_vocab


def tokens(vocab, ids):
    return [vocab.to_tokens(row) for row in ids]


# ----- preprocessing and tokenizing -------------------------------------------------------------


def test_preprocess_spaces_lowercase_and_punctuation():
    assert preprocess_nmt("Cours\u202f!") == "cours !"
    assert preprocess_nmt("Qui\xa0?") == "qui ?"
    assert preprocess_nmt("Go.") == "go ."
    assert preprocess_nmt("Wait, Tom! Really?") == "wait , tom ! really ?"
    assert preprocess_nmt("Already spaced .") == "already spaced ."  # no second space
    assert preprocess_nmt("!Hey") == "!hey"  # nothing before the first character
    assert preprocess_nmt("No!!") == "no ! !"  # d2l looks at the character before, a "!"
    assert preprocess_nmt("3.5 J'ai") == "3 .5 j'ai"  # d2l splits decimals too
    assert preprocess_nmt("a:b;c") == "a:b;c"  # only , . ! ? are split off


@given(st.text(alphabet="aZ .,!?\u202f\xa0\t\nÉ", max_size=40))
def test_preprocess_matches_d2l(text):
    assert preprocess_nmt(text) == d2l_preprocess(text)


def test_tokenize_ignores_extra_columns_and_short_lines():
    text = "go .\tva !\tCC-BY 2.0 (France) Attribution\nno tab here\n\nhi  .\tsalut !\r\n"
    assert tokenize_nmt(text) == ([["go", "."], ["hi", "."]], [["va", "!"], ["salut", "!"]])
    assert tokenize_nmt(text.split("\n"), num_examples=1) == ([["go", "."]], [["va", "!"]])
    with pytest.raises(ValueError, match="num_examples must be at least 1"):
        tokenize_nmt(text, num_examples=0)


# ----- arrays: padding, truncation, <bos>/<eos>, valid lengths ------------------------------------


def test_padding_truncation_and_valid_lengths():
    pairs = [("a b", "x"), ("a b c d e", "x y z w v"), ("", "")]
    d = make_translation_data(pairs, num_steps=4)
    P, B, E = "<pad>", "<bos>", "<eos>"
    assert tokens(d.src_vocab, d.src) == [
        ["a", "b", E, P],
        ["a", "b", "c", "d"],  # cut: d2l drops the <eos> of a long sequence
        [E, P, P, P],
    ]
    assert tokens(d.tgt_vocab, d.tgt_in) == [[B, "x", E, P], [B, "x", "y", "z"], [B, E, P, P]]
    assert tokens(d.tgt_vocab, d.tgt_out) == [["x", E, P, P], ["x", "y", "z", "w"], [E, P, P, P]]
    assert d.src_valid_len.tolist() == [3, 4, 1]
    assert d.tgt_valid_len.tolist() == [2, 4, 1]  # the non-pad labels: d2l's loss mask
    for a in (d.src, d.tgt_in, d.tgt_out, d.src_valid_len, d.tgt_valid_len):
        assert a.dtype == np.int64
    np.testing.assert_array_equal(d.tgt_in[:, 1:], d.tgt_out[:, :-1])  # shifted by one
    np.testing.assert_array_equal(d.tgt_valid_len, (d.tgt_out != d.tgt_vocab["<pad>"]).sum(1))


@given(st.lists(st.tuples(st.text("ab ", max_size=12), st.text("xy ", max_size=12)), min_size=1),
       st.integers(1, 6))  # fmt: skip
def test_arrays_match_d2l_and_valid_lengths_are_in_range(pairs, num_steps):
    d = make_translation_data(pairs, num_steps, min_freq=2, vocab_from="all")
    text = "\n".join(f"{s}\t{t}" for s, t in pairs)
    (src, tgt_in, src_len, tgt_out), src_vocab, tgt_vocab = d2l_arrays(
        text, num_steps, None, reserved=True
    )
    assert d.src_vocab.idx_to_token == src_vocab and d.tgt_vocab.idx_to_token == tgt_vocab
    for ours, theirs in [(d.src, src), (d.tgt_in, tgt_in), (d.tgt_out, tgt_out)]:
        np.testing.assert_array_equal(ours, theirs.reshape(ours.shape))
    np.testing.assert_array_equal(d.src_valid_len, src_len)
    assert d.src.shape == (len(pairs), num_steps)
    assert (d.tgt_in[:, 0] == d.tgt_vocab["<bos>"]).all()
    for valid_len in (d.src_valid_len, d.tgt_valid_len):
        assert ((1 <= valid_len) & (valid_len <= num_steps)).all()


# ----- vocabularies --------------------------------------------------------------------------------


def test_vocab_counts_training_pairs_only():
    pairs = [("hello world", "bonjour"), ("hello", "bonjour"), ("unseen", "inconnu")]
    d = make_translation_data(pairs, num_steps=5, num_valid=1)
    assert d.train.tolist() == [0, 1] and d.valid.tolist() == [2]
    assert d.src_vocab.idx_to_token == ["<eos>", "<pad>", "<unk>", "hello", "world"]
    assert d.tgt_vocab.idx_to_token == ["<bos>", "<eos>", "<pad>", "<unk>", "bonjour"]
    assert tokens(d.src_vocab, d.src[2:])[0][0] == "<unk>"
    everything = make_translation_data(pairs, num_steps=5, num_valid=1, vocab_from="all")
    assert "unseen" in everything.src_vocab.idx_to_token


def test_vocab_counts_padded_tokens_and_keeps_reserved_tokens():
    pairs = [("a a z", "b"), ("a", "b")]
    d = make_translation_data(pairs, num_steps=2, min_freq=2)  # "z" is cut off, "a" seen 3 times
    assert d.src_vocab.idx_to_token == ["<eos>", "<pad>", "<unk>", "a"]
    strict = make_translation_data(pairs, num_steps=2, min_freq=100)
    assert strict.src_vocab.idx_to_token == ["<eos>", "<pad>", "<unk>"]
    assert strict.tgt_vocab.idx_to_token == ["<bos>", "<eos>", "<pad>", "<unk>"]


# ----- TranslationData methods --------------------------------------------------------------------


def test_split_subset_and_encode_source():
    pairs = [("Go.", "Va !"), ("Hi.", "Salut."), ("Run!", "Cours !")]
    d = make_translation_data(pairs, num_steps=4, num_valid=1)
    assert isinstance(d, TranslationData) and len(d) == 3
    assert d.pairs == [("go .", "va !"), ("hi .", "salut ."), ("run !", "cours !")]
    train, valid = d.split()
    assert (len(train), len(valid)) == (2, 1) and valid.pairs == [("run !", "cours !")]
    assert train.src_vocab is d.src_vocab and valid.train.tolist() == [0]
    np.testing.assert_array_equal(valid.tgt_out, d.tgt_out[2:])
    ids, valid_len = d.encode_source(["Go.", "HI."])
    np.testing.assert_array_equal(ids, d.src[:2])
    np.testing.assert_array_equal(valid_len, d.src_valid_len[:2])
    ids, valid_len = d.encode_source([])
    assert ids.shape == (0, 4) and valid_len.shape == (0,)
    raw = make_translation_data([("Go", "Va")], num_steps=2, already_preprocessed=True)
    assert raw.pairs == [("Go", "Va")] and raw.src_vocab["Go"] != raw.src_vocab.unk
    assert raw.encode_source(["Go"])[0].tolist() == [[raw.src_vocab["Go"], raw.src_vocab["<eos>"]]]
    with pytest.raises(IndexError, match=r"row numbers must be in \[0, 3\)"):
        d.subset([3])
    with pytest.raises(TypeError, match="sentences must be a list of str"):
        d.encode_source("go .")


def test_batches_cover_each_part_once():
    pairs = [(f"w{i}", f"m{i}") for i in range(10)]
    d = make_translation_data(pairs, num_steps=3, num_valid=3)
    batches = list(d.batches(3, seed=0))
    assert [len(b.src) for b in batches] == [3, 3, 1]
    seen = np.concatenate([b.src for b in batches])
    assert sorted(map(tuple, seen.tolist())) == sorted(map(tuple, d.src[:7].tolist()))
    again = [b.src.tolist() for b in d.batches(3, seed=0)]
    assert again == [b.src.tolist() for b in batches]
    in_order = list(d.batches(2, part="valid", shuffle=False))
    np.testing.assert_array_equal(np.concatenate([b.tgt_out for b in in_order]), d.tgt_out[7:])
    b = in_order[0]
    assert b.tgt_in.shape == (2, 3) and b.src_valid_len.shape == b.tgt_valid_len.shape == (2,)
    with pytest.raises(ValueError, match="part must be 'train' or 'valid'"):
        next(d.batches(2, part="test"))


def test_argument_errors():
    pairs = [("a", "b"), ("c", "d")]
    with pytest.raises(ValueError, match=r"num_valid must be in \[0, 2\).*got 2 for 2 pairs"):
        make_translation_data(pairs, 3, num_valid=2)
    with pytest.raises(ValueError, match=r"num_valid must be in \[0, 0\)"):
        make_translation_data([], 3)
    with pytest.raises(ValueError, match="num_steps must be at least 1"):
        make_translation_data(pairs, 0)
    with pytest.raises(ValueError, match="vocab_from must be 'train' or 'all'"):
        make_translation_data(pairs, 3, vocab_from="valid")
    with pytest.raises(TypeError, match="got a str"):
        make_translation_data("a\tb", 3)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match=r"\(source, target\) str pairs"):
        make_translation_data([("a", 1)], 3)  # type: ignore[list-item]
    with pytest.raises(TypeError, match="text must be a str"):
        preprocess_nmt(b"Go.")  # type: ignore[arg-type]


# ----- loading fra-eng.txt ------------------------------------------------------------------------


def test_load_from_a_path_or_the_variable(tmp_path, monkeypatch):
    (tmp_path / "fra-eng.txt").write_text("Go.\tVa !\nHi.\tSalut\u202f!\nRun!\tCours !\n")
    d = load_translation_pairs(tmp_path, num_steps=4, min_freq=1, num_valid=1)
    assert d.pairs == [("go .", "va !"), ("hi .", "salut !"), ("run !", "cours !")]
    assert d.valid.tolist() == [2] and "run" not in d.src_vocab.idx_to_token
    monkeypatch.setenv(data.DATA_ENV, str(tmp_path))
    d = load_translation_pairs(num_examples=2, min_freq=1)
    assert d.pairs == [("go .", "va !"), ("hi .", "salut !")] and d.valid.size == 0
    d = load_translation_pairs(num_train=1, num_valid=1)
    assert d.train.tolist() == [0] and d.valid.tolist() == [1]
    with pytest.raises(ValueError, match="num_train \\+ num_valid = 3 exceeds num_examples = 2"):
        load_translation_pairs(num_examples=2, num_train=2, num_valid=1)
    with pytest.raises(ValueError, match="holds 3 pairs, fewer than the 5 asked for"):
        load_translation_pairs(num_train=4, num_valid=1)


@needs_fra_eng
def test_fra_eng_d2l_setting():
    d = load_translation_pairs(SHARED, num_examples=640, num_train=512, num_valid=128)
    assert (len(d), d.train.size, d.valid.size, d.num_steps) == (640, 512, 128, 9)
    assert d.pairs[0] == ("go .", "va !")
    assert tokens(d.src_vocab, d.src[:1]) == [["go", ".", "<eos>"] + ["<pad>"] * 6]
    assert tokens(d.tgt_vocab, d.tgt_in[:1]) == [["<bos>", "va", "!", "<eos>"] + ["<pad>"] * 5]
    assert (len(d.src_vocab), len(d.tgt_vocab)) == (160, 166)  # from the 512 training pairs
    # d2l 1.0 reads 641 lines (`i > max_examples`), validates on 129 and counts all of them:
    d2l = load_translation_pairs(SHARED, num_train=512, num_valid=129, vocab_from="all")
    assert (len(d2l.src_vocab), len(d2l.tgt_vocab)) == (194, 214)
    text = (SHARED / "fra-eng.txt").read_text(encoding="utf-8")
    (src, tgt_in, src_len, tgt_out), src_vocab, tgt_vocab = d2l_arrays(text[:60_000], 9, 640)
    assert d2l.src_vocab.idx_to_token == src_vocab and d2l.tgt_vocab.idx_to_token == tgt_vocab
    np.testing.assert_array_equal(d2l.src, src)
    np.testing.assert_array_equal(d2l.tgt_in, tgt_in)
    np.testing.assert_array_equal(d2l.tgt_out, tgt_out)
    np.testing.assert_array_equal(d2l.src_valid_len, src_len)
    # counting only the first 640 pairs loses "non": once in line 25, once in line 641
    assert len(load_translation_pairs(SHARED, num_train=512, num_valid=128, vocab_from="all")
               .tgt_vocab) == 213  # fmt: skip
