"""One translation pipeline: Python's ``seqrnn.data`` and the Rust core (``seqrnn::pairs``, the
``translate`` example's data) give the same vocabularies, ids and split, and both follow d2l's
conventions as an independent plain-Python/NumPy reference written here states them."""

from __future__ import annotations

import collections

import numpy as np
import pytest
from seqrnn import data

# The fingerprint of rust/core/tests/translation_data.rs, recorded once (with the Python
# implementation of seqrnn.data before the pipeline moved into the core, which gave it too).
RECORDED = "9774c7ec383e7c5f"


def fra_eng_or_skip():
    try:
        return data.find_data_file("fra-eng.txt")
    except FileNotFoundError as e:
        pytest.skip(str(e))


def fingerprint(d: data.TranslationData) -> str:
    """FNV-1a (64 bits) of the lines ``name<TAB>values joined by spaces<LF>`` for both
    vocabularies (tokens in id order), ``src``, ``tgt_in``, ``tgt_out`` (ids row by row),
    ``src_valid_len``, ``tgt_valid_len`` and the ``train`` and ``valid`` rows (start, end):
    the same text as rust/core/tests/translation_data.rs hashes."""
    def rows(a: np.ndarray) -> tuple[int, int]:
        assert a.size and (np.diff(a) == 1).all()  # contiguous
        return int(a[0]), int(a[-1]) + 1

    fields = [("src_vocab", d.src_vocab.idx_to_token), ("tgt_vocab", d.tgt_vocab.idx_to_token)]
    fields += [(name, getattr(d, name).ravel().tolist())
               for name in ("src", "tgt_in", "tgt_out", "src_valid_len", "tgt_valid_len")]
    fields += [("train", rows(d.train)), ("valid", rows(d.valid))]
    text = "".join(f"{name}\t{' '.join(map(str, values))}\n" for name, values in fields)
    h = 0xCBF29CE484222325
    for byte in text.encode("utf-8"):
        h = ((h ^ byte) * 0x100000001B3) % 2**64
    return f"{h:016x}"


def test_python_and_rust_give_the_recorded_fingerprint():
    d = data.load_translation_pairs(fra_eng_or_skip(), num_examples=1000, num_valid=100)
    assert (len(d), d.train.size, d.valid.size) == (1000, 900, 100)
    assert fingerprint(d) == RECORDED


# ----- an independent reference of d2l 1.0's MTFraEng, with seqrnn's split ---------------------


def reference(pairs, num_steps, min_freq, num_valid, vocab_from="train"):
    """d2l's arrays written from its conventions: preprocess, split words on single spaces,
    ``tokens + <eos>`` cut or padded to ``num_steps`` (the target after ``<bos>``), vocabularies
    of the padded rows of the first ``len(pairs) - num_valid`` pairs (all with ``"all"``),
    sorted, ids by ``index``, valid lengths by counting non-pad ids."""
    def preprocess(text):
        text = text.replace("\u202f", " ").replace("\xa0", " ").lower()
        return "".join(" " + c if i > 0 and c in ",.!?" and text[i - 1] != " " else c
                       for i, c in enumerate(text))

    def rows(sentences, bos):
        out = []
        for s in sentences:
            row = ([t for t in preprocess(s).split(" ") if t] + ["<eos>"])[:num_steps]
            out.append(["<bos>"] * bos + row + ["<pad>"] * (num_steps - len(row)))
        return out

    counted = len(pairs) - num_valid if vocab_from == "train" else len(pairs)

    def arrays(rows, reserved):
        counts = collections.Counter(t for row in rows[:counted] for t in row)
        vocab = sorted({"<unk>", *reserved} | {t for t, c in counts.items() if c >= min_freq})
        index = {t: i for i, t in enumerate(vocab)}
        return vocab, np.array([[index.get(t, index["<unk>"]) for t in row] for row in rows])

    src_vocab, src = arrays(rows([s for s, _ in pairs], 0), ["<pad>", "<eos>"])
    tgt_vocab, tgt = arrays(rows([t for _, t in pairs], 1), ["<pad>", "<bos>", "<eos>"])
    return {"src_vocab": src_vocab, "tgt_vocab": tgt_vocab, "src": src, "tgt_in": tgt[:, :-1],
            "tgt_out": tgt[:, 1:], "src_valid_len": (src != src_vocab.index("<pad>")).sum(1),
            "tgt_valid_len": (tgt[:, 1:] != tgt_vocab.index("<pad>")).sum(1),
            "train": np.arange(len(pairs) - num_valid),
            "valid": np.arange(len(pairs) - num_valid, len(pairs))}


def made_up_pairs(n, seed=0):
    """``n`` pairs of a few hundred words with d2l's punctuation and no-break spaces."""
    rng = np.random.default_rng(seed)
    words = [f"w{i}" for i in range(300)] + ["Tom", "ÉTÉ", "l'eau", "!", "?", ",", "."]
    def sentence(k):
        return "".join(rng.choice(words) + rng.choice([" ", "", "\u202f", "\xa0", "  ", ". "])
                       for _ in range(k))
    return [(sentence(rng.integers(0, 12)), sentence(rng.integers(0, 12))) for _ in range(n)]


SETTINGS = [(9, 2, 30, "train"), (5, 1, 0, "train"), (12, 3, 50, "all"), (1, 0, 10, "train")]


def check(pairs, num_steps, min_freq, num_valid, vocab_from):
    d = data.make_translation_data(pairs, num_steps, min_freq, num_valid, vocab_from=vocab_from)
    expected = reference(pairs, num_steps, min_freq, num_valid, vocab_from)
    assert d.src_vocab.idx_to_token == expected["src_vocab"]
    assert d.tgt_vocab.idx_to_token == expected["tgt_vocab"]
    for name in ("src", "tgt_in", "tgt_out", "src_valid_len", "tgt_valid_len", "train", "valid"):
        ours = getattr(d, name)
        assert ours.dtype == np.int64, name
        np.testing.assert_array_equal(ours, expected[name], err_msg=name)


@pytest.mark.parametrize(("num_steps", "min_freq", "num_valid", "vocab_from"), SETTINGS)
def test_made_up_pairs_match_the_reference(num_steps, min_freq, num_valid, vocab_from):
    check(made_up_pairs(300), num_steps, min_freq, num_valid, vocab_from)


@pytest.mark.parametrize(("num_steps", "min_freq", "num_valid", "vocab_from"), SETTINGS)
def test_fra_eng_pairs_match_the_reference(num_steps, min_freq, num_valid, vocab_from):
    with open(fra_eng_or_skip(), encoding="utf-8") as f:
        pairs = [tuple(line.rstrip("\n").split("\t")[:2]) for _, line in zip(range(400), f)]
    check(pairs[::-1], num_steps, min_freq, num_valid, vocab_from)  # the longer ones train


# ----- errors of the core's pipeline ----------------------------------------------------------


def test_errors_name_what_was_expected(tmp_path):
    (tmp_path / "fra-eng.txt").write_bytes(b"Go.\tVa !\n\xff\tbad\n")
    assert len(data.load_translation_pairs(tmp_path, num_examples=1, min_freq=0)) == 1
    with pytest.raises(ValueError, match=r"^line 2 of .*fra-eng\.txt must be UTF-8 text, got"):
        data.load_translation_pairs(tmp_path, min_freq=0)
    with pytest.raises(ValueError, match=r"^num_valid must be an int >= 0, got -1$"):
        data.make_translation_data([("a", "b"), ("c", "d")], 3, num_valid=-1)
    with pytest.raises(ValueError, match=r"^vocab_from must be 'train' or 'all', got 'valid'$"):
        data.load_translation_pairs(tmp_path, num_examples=1, vocab_from="valid")
    with pytest.raises(TypeError, match=r"^lines: expected a list of str, item 1 is int$"):
        data.tokenize_nmt(["a\tb", 5])  # type: ignore[list-item]
    with pytest.raises(ValueError, match=r"^num_steps must be at least 1, got 0$"):
        data.encode_sentences(["a"], data.Vocab(["a"]), 0)
