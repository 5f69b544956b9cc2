"""Data files and corpora: where the text lives and how d2l turns it into ids (The Time Machine
for language models, English-French pairs for translation).

Data files are found in this order: an explicit ``path`` (a file, or a folder holding the file),
the folder named by the environment variable ``SEQRNN_DATA``, then ``../shared/data`` relative to
the current folder and to the repository root (for a development install), then the download
cache (``~/.cache/seqrnn``). :func:`download` fetches d2l's copies (``timemachine.txt``,
``fra-eng.zip`` unpacked to ``fra-eng/fra.txt``) into ``$SEQRNN_DATA`` or that cache.

The translation pairs (:func:`load_translation_pairs`, :func:`make_translation_data`,
:class:`TranslationData`, ...) live in :mod:`seqrnn.translation_data` and are re-exported here.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import numpy.typing as npt

from . import _core
from . import _validate as _v
from .hub import DATA_ENV, DATA_HUB, DATA_URL, cache_folder, cached_file, download
from .translation_data import (
    BOS,
    EOS,
    FRA_ENG,
    PAD,
    TranslationBatch,
    TranslationData,
    check_pairs,
    encode_sentences,
    load_translation_pairs,
    make_translation_data,
    preprocess_nmt,
    tokenize_nmt,
)
from .vocab import Vocab, tokenize

__all__ = [  # the translation pairs live in translation_data, re-exported here
    "BOS", "DATA_ENV", "DATA_HUB", "DATA_URL", "EOS", "FRA_ENG", "PAD", "TIME_MACHINE",
    "TranslationBatch", "TranslationData", "cache_folder", "cached_file", "check_pairs",
    "download", "encode_sentences", "find_data_file", "load_corpus_time_machine",
    "load_time_machine", "load_translation_pairs", "make_translation_data", "preprocess_nmt",
    "seq_data_iter_random", "seq_data_iter_sequential", "tokenize_nmt",
]

TIME_MACHINE = "timemachine.txt"


def _fallback_folders() -> list[Path]:
    """``../shared/data`` next to the current folder and next to the repository root."""
    folders = [Path.cwd() / ".." / "shared" / "data"]
    package = Path(__file__).resolve().parent  # <repo>/python/seqrnn in a development install
    if package.parent.name == "python":
        folders.append(package.parent.parent.parent / "shared" / "data")
    return folders


def find_data_file(name: str, path: str | os.PathLike[str] | None = None) -> Path:
    """The path of data file ``name`` (e.g. ``"timemachine.txt"``).

    ``path`` wins when given: a file is returned as is, a folder must hold ``name``. Otherwise
    the folder in ``$SEQRNN_DATA`` is tried, then ``../shared/data`` relative to the current
    folder and to the repository root, then where :func:`download` puts ``name`` (in
    ``$SEQRNN_DATA``, else ``~/.cache/seqrnn``; ``fra-eng.txt`` as ``fra-eng/fra.txt``).
    ``FileNotFoundError`` (an ``OSError``) lists every place looked at and says how to download.

    Example:
        >>> find_data_file("timemachine.txt").name  # doctest: +SKIP
        'timemachine.txt'
    """
    if not isinstance(name, str) or not name:
        raise TypeError(f"name must be a non-empty str, got {name!r}")
    if path is not None:
        p = Path(path)
        candidate = p / name if p.is_dir() else p
        if candidate.is_file():
            return candidate
        raise FileNotFoundError(f"{name}: not found at {candidate} (the path given)")
    folders = []
    env = os.environ.get(DATA_ENV)
    if env:
        folders.append(Path(env))
    folders += _fallback_folders()
    candidates = [f / name for f in folders]
    cached = cached_file(name)
    if cached is not None and cached not in candidates:
        candidates.append(cached)
    for candidate in candidates:
        if candidate.is_file():
            return candidate
    looked = ", ".join(str(c.resolve()) for c in candidates)
    hint = f"${DATA_ENV}={env!r}" if env else f"${DATA_ENV} is not set"
    fetch = "" if cached is None else (f"Run seqrnn.data.download({name!r}) to fetch d2l's "
                                       f"copy into {cache_folder()}, or pass")
    raise FileNotFoundError(
        f"{name}: not found; looked in {looked} ({hint}). {fetch or 'Pass'} path=..., or set "
        f"{DATA_ENV} to the folder that holds it."
    )


def load_time_machine(path: str | os.PathLike[str] | None = None) -> str:
    """H. G. Wells' *The Time Machine* after d2l 1.0's preprocessing
    (``re.sub('[^A-Za-z]+', ' ', text).lower()``): lowercase letters and single spaces.

    ``path`` is the file or its folder; see :func:`find_data_file`. d2l's copy gives
    173,428 characters.

    Example:
        >>> text = load_time_machine()  # doctest: +SKIP
        >>> len(text), text[:22]  # doctest: +SKIP
        (173428, 'the time machine by h ')
    """
    text = find_data_file(TIME_MACHINE, path).read_text(encoding="utf-8")
    return _core.preprocess_d2l(text)


@_v.int_args
def load_corpus_time_machine(
    path: str | os.PathLike[str] | None = None, max_tokens: int = -1, level: str = "char"
) -> tuple[npt.NDArray[np.int64], Vocab]:
    """Token ids of *The Time Machine* and their vocabulary, like d2l's
    ``load_corpus_time_machine``: the vocabulary is built from the whole book, then the corpus
    is cut to its first ``max_tokens`` ids when ``max_tokens > 0``.

    Shapes: corpus ``(n_tokens,)`` int64. Characters give 173,428 ids over 28 tokens
    (27 characters and ``<unk>``); words give 32,775 ids over 4,580 tokens.

    Example:
        >>> corpus, vocab = load_corpus_time_machine()  # doctest: +SKIP
        >>> corpus.shape, len(vocab)  # doctest: +SKIP
        ((173428,), 28)
    """
    if isinstance(max_tokens, bool) or not isinstance(max_tokens, (int, np.integer)):
        raise TypeError(f"max_tokens must be an int, got {type(max_tokens).__name__}")
    tokens = tokenize(load_time_machine(path), level)
    vocab = Vocab(tokens)
    corpus = vocab.encode(tokens)  # (n_tokens,)
    if max_tokens > 0:
        corpus = corpus[:max_tokens].copy()
    return corpus, vocab


# ----- minibatch iterators over a token-id corpus ----------------------------------------------


def _iterate(corpus: npt.ArrayLike, batch_size: int, num_steps: int, sampling: str,
             seed: int | None) -> Iterator[tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]]]:
    """The core's minibatches, made one at a time (the first comes at once, whatever the
    corpus length)."""
    ids = _v.ids(corpus, "corpus")
    _v.ndim(ids, "corpus", (1,), "(a flat sequence of token ids)")
    if ids.size and ids.min() < 0:
        raise IndexError(f"corpus: token id {ids.min()} is out of range (ids are >= 0)")
    return _core.CorpusBatches(ids, _v.positive_int(batch_size, "batch_size"),
                               _v.positive_int(num_steps, "num_steps"), sampling,
                               _v.seed_or_random(seed))


@_v.int_args
def seq_data_iter_random(
    corpus: npt.ArrayLike, batch_size: int, num_steps: int, seed: int | None = None
) -> Iterator[tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]]]:
    """d2l's random sampling: ``(X, Y)`` minibatches ``(batch_size, num_steps)``.

    A random offset, then non-overlapping subsequences in random order; ``Y`` is ``X``
    shifted by one token. Consecutive minibatches are unrelated.

    Example:
        >>> X, Y = next(seq_data_iter_random(np.arange(35), batch_size=2, num_steps=5, seed=0))
        >>> X.shape, bool((Y == X + 1).all())
        ((2, 5), True)
    """
    return _iterate(corpus, batch_size, num_steps, "random", seed)


@_v.int_args
def seq_data_iter_sequential(
    corpus: npt.ArrayLike, batch_size: int, num_steps: int, seed: int | None = None
) -> Iterator[tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]]]:
    """d2l's sequential partitioning: row ``b`` of minibatch ``i + 1`` continues row ``b`` of
    minibatch ``i``, so a hidden state can be carried across them. Shapes as above.

    Example:
        >>> batches = list(seq_data_iter_sequential(np.arange(35), 2, 5, seed=0))
        >>> first, second = batches[0][0], batches[1][0]         # (2, 5) each
        >>> bool((second[:, 0] == first[:, -1] + 1).all())        # rows continue
        True
    """
    return _iterate(corpus, batch_size, num_steps, "sequential", seed)
