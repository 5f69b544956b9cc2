"""seqrnn.Vocab and seqrnn.tokenize against d2l 1.0's Vocab, written out here in plain Python."""

from __future__ import annotations

import collections
import json
import pickle
import random

import numpy as np
import pytest
import seqrnn
from seqrnn import Vocab, _core, tokenize


def d2l_vocab(tokens, min_freq=0, reserved_tokens=()):
    """d2l 1.0's ``Vocab.__init__``: (idx_to_token, token_freqs)."""
    counter = collections.Counter(tokens)
    token_freqs = sorted(counter.items(), key=lambda x: x[1], reverse=True)
    idx_to_token = sorted(
        set(["<unk>"] + list(reserved_tokens) + [t for t, f in token_freqs if f >= min_freq])
    )
    return idx_to_token, token_freqs


def test_ordering_min_freq_reserved_and_unk():
    vocab = Vocab(
        ["b", "a", "c", "a", "b", "a", "d"], min_freq=2, reserved_tokens=["<pad>", "<eos>"]
    )
    assert vocab.idx_to_token == ["<eos>", "<pad>", "<unk>", "a", "b"]
    assert len(vocab) == 5
    assert vocab.unk == 2
    assert vocab.token_freqs == [("a", 3), ("b", 2), ("c", 1), ("d", 1)]  # ties: first seen
    assert vocab["a"] == 3
    assert vocab["c"] == vocab["never seen"] == vocab.unk  # below min_freq -> <unk>
    assert vocab[["b", "<pad>", "zzz"]] == [4, 1, 2]


def test_unicode_tokens_sort_by_code_point_like_python():
    tokens = list("zéa Ωb日") + ["<unk>"]
    assert Vocab(tokens).idx_to_token == sorted(set(tokens))


@pytest.mark.parametrize("seed", range(5))
@pytest.mark.parametrize("min_freq", [0, 1, 3])
def test_matches_d2l_on_random_tokens(seed, min_freq):
    rng = random.Random(seed)
    tokens = [rng.choice("abcdefgh<>") * rng.randint(1, 2) for _ in range(200)]
    vocab = Vocab(tokens, min_freq=min_freq, reserved_tokens=["<bos>"])
    idx_to_token, token_freqs = d2l_vocab(tokens, min_freq, ["<bos>"])
    assert vocab.idx_to_token == idx_to_token
    assert vocab.token_freqs == token_freqs
    expected = [idx_to_token.index(t) if t in idx_to_token else vocab.unk for t in tokens]
    assert vocab.encode(tokens).tolist() == expected


def test_lines_of_tokens_are_flattened_like_d2l():
    assert Vocab([["a", "b"], ["b"]]) == Vocab(["a", "b", "b"])


def test_encode_decode_round_trip():
    text = "the time machine, by h. g. wells"
    vocab = Vocab(tokenize(text))
    ids = vocab.encode(tokenize(text))
    assert ids.dtype == np.int64 and ids.shape == (len(text),)
    assert "".join(vocab.decode(ids)) == text
    assert vocab.decode(ids.tolist()) == vocab.to_tokens(ids) == list(text)
    assert vocab.to_tokens(int(ids[0])) == "t"
    assert vocab.to_tokens(np.int64(ids[0])) == "t"
    assert vocab.decode([]) == []


def test_tokenize_char_and_word_levels():
    text = "to be\tor  not\n\x1fto be\u00a0"
    assert tokenize(text) == list(text)
    assert tokenize(text, "word") == text.split() == ["to", "be", "or", "not", "to", "be"]
    assert seqrnn._core.preprocess_d2l("It's 1898--Time!") == "it s time "


def test_json_round_trip():
    vocab = Vocab(tokenize("hello wörld"), reserved_tokens=["<bos>"])
    text = vocab.to_json()
    assert json.loads(text) == {
        "idx_to_token": vocab.idx_to_token,
        "token_freqs": [list(p) for p in vocab.token_freqs],
    }
    assert Vocab.from_json(text) == vocab
    assert pickle.loads(pickle.dumps(vocab)) == vocab
    assert vocab != Vocab(tokenize("hello"))


def test_file_round_trip_is_atomic(tmp_path):
    vocab = Vocab(tokenize("abracadabra"))
    path = tmp_path / "vocab.json"
    vocab.save(path)
    vocab.save(str(path))  # overwrite
    assert Vocab.load(path) == vocab
    assert [p.name for p in tmp_path.iterdir()] == ["vocab.json"]  # no temporary left behind


def test_save_into_missing_folder_leaves_nothing(tmp_path):
    with pytest.raises(FileNotFoundError):
        Vocab(["a"]).save(tmp_path / "missing" / "vocab.json")
    assert list(tmp_path.iterdir()) == []


def test_repr():
    assert repr(Vocab(["b", "a"])) == "Vocab(len=3, unk=0, idx_to_token=['<unk>', 'a', 'b'])"
    assert repr(Vocab(list("abcdefghij"))).endswith("'g', ...])")


def test_out_of_range_ids_raise_index_error():
    vocab = Vocab(["a", "b"])
    with pytest.raises(IndexError, match="token id 3 is out of range for a vocabulary of size 3"):
        vocab.to_tokens(3)
    with pytest.raises(IndexError, match="token id -1 is out of range"):
        vocab.to_tokens(-1)
    with pytest.raises(IndexError, match="token id 7 is out of range"):
        vocab.decode([0, 7])
    with pytest.raises(IndexError, match="token id -2 is out of range"):
        vocab.decode(np.array([-2]))


def test_argument_errors():
    vocab = Vocab(["a"])
    with pytest.raises(TypeError, match="level must be a str"):
        tokenize("abc", 1)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="level must be 'char' or 'word', got 'byte'"):
        tokenize("abc", "byte")
    with pytest.raises(TypeError, match="text must be a str"):
        tokenize(b"abc")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="use tokenize"):
        Vocab("abc")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="tokens: expected a list of str, item 1 is int"):
        Vocab(["a", 1])  # type: ignore[list-item]
    with pytest.raises(TypeError, match="tokens: expected a list of str, item 2 is bytes"):
        vocab.encode(["a", "b", b"c"])  # type: ignore[list-item]
    with pytest.raises(TypeError, match="tokens: expected a list of str, got a str"):
        _core.Vocab("abc")
    with pytest.raises(TypeError, match="tokens: expected a list of str, got a str"):
        vocab._core.encode("abc")
    with pytest.raises(ValueError, match="min_freq must be an int >= 0, got -1"):
        Vocab(["a"], min_freq=-1)
    with pytest.raises(TypeError, match="min_freq must be an int"):
        Vocab(["a"], min_freq=1.5)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="expected a str or a list of str"):
        vocab[3]  # type: ignore[call-overload]
    with pytest.raises(TypeError, match="integer token ids"):
        vocab.decode([0.5])
    with pytest.raises(ValueError, match="expected 1 dimensions"):
        vocab.decode([[0]])


@pytest.mark.parametrize(
    "text, match",
    [
        ("{", "vocabulary JSON"),
        ('{"idx_to_token": ["<unk>"]}', "token_freqs"),
        ('{"idx_to_token": [], "token_freqs": []}', "<unk>"),
        ('{"idx_to_token": ["<unk>", "a", "a"], "token_freqs": []}', "unique.*ids 1 and 2"),
        ('{"idx_to_token": ["a"], "token_freqs": []}', '"<unk>"'),
    ],
)
def test_bad_json_raises_value_error(text, match):
    with pytest.raises(ValueError, match=match):
        Vocab.from_json(text)
