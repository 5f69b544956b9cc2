"""seqrnn.data: finding data files ($SEQRNN_DATA, ../shared/data) and d2l's Time Machine corpus."""

from __future__ import annotations

import collections
import re
from pathlib import Path

import numpy as np
import pytest
from seqrnn import Vocab, data

SHARED = Path(__file__).resolve().parent.parent.parent / "shared" / "data"
needs_shared = pytest.mark.skipif(
    not (SHARED / "timemachine.txt").is_file(),
    reason=f"the shared data folder {SHARED} (with timemachine.txt) is absent",
)


@pytest.fixture
def no_env(monkeypatch):
    monkeypatch.delenv(data.DATA_ENV, raising=False)


def test_env_folder_wins_over_shared(tmp_path, monkeypatch):
    (tmp_path / "timemachine.txt").write_text("The Time--Machine, 1898!\nBy Wells.")
    monkeypatch.setenv(data.DATA_ENV, str(tmp_path))
    assert data.find_data_file("timemachine.txt") == tmp_path / "timemachine.txt"
    assert data.load_time_machine() == "the time machine by wells "
    corpus, vocab = data.load_corpus_time_machine(level="word")
    assert vocab.idx_to_token == ["<unk>", "by", "machine", "the", "time", "wells"]
    assert corpus.tolist() == [3, 4, 2, 1, 5]


def test_explicit_path_wins_file_or_folder(tmp_path, monkeypatch):
    monkeypatch.setenv(data.DATA_ENV, str(tmp_path / "elsewhere"))
    (tmp_path / "mine.txt").write_text("ab ba")
    assert data.find_data_file("timemachine.txt", tmp_path / "mine.txt") == tmp_path / "mine.txt"
    assert data.load_time_machine(tmp_path / "mine.txt") == "ab ba"
    (tmp_path / "timemachine.txt").write_text("x")
    assert data.find_data_file("timemachine.txt", str(tmp_path)) == tmp_path / "timemachine.txt"


def test_explicit_path_that_does_not_exist_is_an_error(tmp_path):
    with pytest.raises(FileNotFoundError, match="the path given"):
        data.find_data_file("timemachine.txt", tmp_path / "nope.txt")
    with pytest.raises(FileNotFoundError, match="the path given"):
        data.find_data_file("nope.txt", tmp_path)


def test_missing_file_names_the_variable(tmp_path, monkeypatch):
    monkeypatch.setenv(data.DATA_ENV, str(tmp_path))
    with pytest.raises(OSError, match=r"not-a-data-file\.txt: not found.*SEQRNN_DATA"):
        data.find_data_file("not-a-data-file.txt")


def test_missing_file_without_variable_says_how_to_set_it(no_env):
    with pytest.raises(FileNotFoundError, match=r"\$SEQRNN_DATA is not set.*set SEQRNN_DATA"):
        data.find_data_file("not-a-data-file.txt")


def test_max_tokens_cuts_the_corpus_not_the_vocab(tmp_path):
    (tmp_path / "timemachine.txt").write_text("abcabc")
    corpus, vocab = data.load_corpus_time_machine(tmp_path, max_tokens=4)
    assert corpus.tolist() == [1, 2, 3, 1] and len(vocab) == 4
    with pytest.raises(TypeError, match="max_tokens must be an int"):
        data.load_corpus_time_machine(tmp_path, max_tokens=2.0)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="level must be 'char' or 'word'"):
        data.load_corpus_time_machine(tmp_path, level="line")


@needs_shared
def test_shared_folder_is_found_without_the_variable(no_env):
    assert data.find_data_file("timemachine.txt").resolve() == (SHARED / "timemachine.txt").resolve()


@needs_shared
def test_time_machine_char_counts():
    text = data.load_time_machine(SHARED)
    raw = (SHARED / "timemachine.txt").read_text(encoding="utf-8")
    assert text == re.sub("[^A-Za-z]+", " ", raw).lower()  # d2l 1.0's _preprocess
    assert len(text) == 173_428
    corpus, vocab = data.load_corpus_time_machine(SHARED)
    assert corpus.dtype == np.int64 and corpus.shape == (173_428,)
    assert len(vocab) == 28  # ' ', 'a'..'z' and '<unk>'
    assert vocab.idx_to_token[:3] == [" ", "<unk>", "a"]
    assert vocab.unk not in set(corpus.tolist())
    assert "".join(vocab.to_tokens(corpus[:16])) == "the time machine"
    assert data.load_corpus_time_machine(SHARED, max_tokens=10_000)[0].shape == (10_000,)


@needs_shared
def test_time_machine_word_counts():
    corpus, vocab = data.load_corpus_time_machine(SHARED, level="word")
    assert corpus.shape == (32_775,)
    assert len(vocab) == 4_580  # 4,579 words and '<unk>'
    assert vocab.token_freqs[:3] == [("the", 2261), ("i", 1267), ("and", 1245)]
    words = data.load_time_machine(SHARED).split()
    assert vocab.token_freqs == collections.Counter(words).most_common()
    assert Vocab(words, min_freq=5).idx_to_token[:2] == ["<unk>", "a"]
    assert len(Vocab(words, min_freq=5)) == 1 + sum(
        1 for c in collections.Counter(words).values() if c >= 5
    )
