"""Data files and corpora: where the text lives and how d2l turns it into ids (The Time Machine
for language models, English-French pairs for translation).

Data files are found in this order: an explicit ``path`` (a file, or a folder holding the file),
the folder named by the environment variable ``SEQRNN_DATA``, then ``../shared/data`` relative to
the current folder and to the repository root (for a development install), then the download
cache (``~/.cache/seqrnn``). :func:`download` fetches d2l's copies (``timemachine.txt``,
``fra-eng.zip`` unpacked to ``fra-eng/fra.txt``) into ``$SEQRNN_DATA`` or that cache.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np
import numpy.typing as npt

from . import _core
from . import _validate as _v
from .hub import DATA_ENV, DATA_HUB, DATA_URL, cache_folder, cached_file, download  # noqa: F401 (public)
from .vocab import Vocab, tokenize

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


def _iterate(
    corpus: npt.ArrayLike, batch_size: int, num_steps: int, sampling: str, seed: int | None
) -> Iterator[tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]]]:
    from . import _validate as v

    ids = v.ids(corpus, "corpus")
    v.ndim(ids, "corpus", (1,), "(a flat sequence of token ids)")
    if ids.size and ids.min() < 0:
        raise IndexError(f"corpus: token id {ids.min()} is out of range (ids are >= 0)")
    xs, ys = _core.batches(
        ids,
        v.positive_int(batch_size, "batch_size"),
        v.positive_int(num_steps, "num_steps"),
        sampling,
        v.seed_or_random(seed),
    )
    yield from zip(xs, ys)


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


# ----- translation pairs: d2l 1.0's MTFraEng -------------------------------------------------

FRA_ENG = "fra-eng.txt"
PAD, BOS, EOS = "<pad>", "<bos>", "<eos>"
_SPACE_BEFORE_PUNCTUATION = re.compile(r"(?<=[^ ])([,.!?])")  # a , . ! ? after a non-space
Ids = npt.NDArray[np.int64]


def preprocess_nmt(text: str) -> str:
    r"""d2l 1.0's ``MTFraEng._preprocess``: U+202F and U+00A0 (no-break spaces) become spaces,
    the text is lower-cased, and a space goes before every ``,``, ``.``, ``!`` or ``?`` that
    follows anything but a space (not at the very start).

    Example:
        >>> preprocess_nmt("Cours\u202f!\tRun!")
        'cours !\trun !'
        >>> preprocess_nmt("Hi. Ok ?")
        'hi . ok ?'
    """
    if not isinstance(text, str):
        raise TypeError(f"text must be a str, got {type(text).__name__}")
    text = text.replace("\u202f", " ").replace("\xa0", " ").lower()
    return _SPACE_BEFORE_PUNCTUATION.sub(r" \1", text)


def _columns(text_or_lines: str | Iterable[str], limit: int | None) -> list[tuple[str, str]]:
    """The first two tab-separated columns of each line that has them, at most ``limit``."""
    lines = text_or_lines.split("\n") if isinstance(text_or_lines, str) else text_or_lines
    pairs: list[tuple[str, str]] = []
    for line in lines:
        if limit is not None and len(pairs) >= limit:
            break
        parts = line.rstrip("\r\n").split("\t")
        if len(parts) >= 2:
            pairs.append((parts[0], parts[1]))
    return pairs


def _words(sentence: str) -> list[str]:
    """d2l's word tokens: split on single spaces, empty strings dropped."""
    return [t for t in sentence.split(" ") if t]


@_v.int_args
def tokenize_nmt(
    text_or_lines: str | Iterable[str], num_examples: int | None = None
) -> tuple[list[list[str]], list[list[str]]]:
    """Word tokens of the first two tab-separated columns (source, target) of each line, like
    d2l 1.0's ``MTFraEng._tokenize`` without its ``<eos>`` (added by :class:`TranslationData`).

    Further columns (an attribution, say) are ignored; lines with fewer than two columns are
    skipped and not counted. ``num_examples`` keeps the first that many pairs. Apply
    :func:`preprocess_nmt` first to split punctuation off the words.

    Example:
        >>> tokenize_nmt("go .\\tva !\\tCC-BY\\nbad line\\nhi .\\tsalut !")
        ([['go', '.'], ['hi', '.']], [['va', '!'], ['salut', '!']])
    """
    if num_examples is not None:
        num_examples = _v.positive_int(num_examples, "num_examples")
    pairs = _columns(text_or_lines, num_examples)
    return [_words(s) for s, _ in pairs], [_words(t) for _, t in pairs]


def _pad_or_trim(tokens: list[str], num_steps: int) -> list[str]:
    return tokens[:num_steps] + [PAD] * (num_steps - len(tokens))


def _rows(lines: Sequence[list[str]], num_steps: int) -> list[list[str]]:
    """d2l's padded sequences: ``tokens + [<eos>]`` cut or padded with ``<pad>`` to num_steps."""
    return [_pad_or_trim(line + [EOS], num_steps) for line in lines]


def _valid_len(lines: Sequence[list[str]], num_steps: int) -> Ids:
    """Non-pad tokens of each padded row: ``min(len + 1, num_steps)`` (the +1 is ``<eos>``)."""
    lengths = np.array([len(line) for line in lines], dtype=np.int64)  # (n,)
    return np.minimum(lengths + 1, num_steps)  # (n,)


def _encode(rows: list[list[str]], vocab: Vocab) -> Ids:
    """Shapes: ``n`` rows of ``t`` tokens -> ``(n, t)`` int64 ids, one call into the core."""
    width = len(rows[0]) if rows else 0
    flat = vocab.encode([t for row in rows for t in row])  # (n * t,)
    return flat.reshape(len(rows), width)  # (n, t)


@_v.int_args
def encode_sentences(
    sentences: Sequence[str], vocab: Vocab, num_steps: int, preprocess: bool = True
) -> tuple[Ids, Ids]:
    """Source-side ids and valid lengths of sentences with d2l's conventions (``tokens +
    [<eos>]``, cut or padded to ``num_steps``), preprocessed by :func:`preprocess_nmt` first
    unless ``preprocess`` is false.

    Shapes: ``n`` sentences -> ids ``(n, num_steps)``, valid lengths ``(n,)``.

    Example:
        >>> vocab = Vocab(["go", ".", "<eos>"], reserved_tokens=["<pad>"])
        >>> ids, valid_len = encode_sentences(["Go.", "go go go go go"], vocab, num_steps=4)
        >>> [vocab.to_tokens(row) for row in ids], valid_len.tolist()
        ([['go', '.', '<eos>', '<pad>'], ['go', 'go', 'go', 'go']], [3, 4])
    """
    if isinstance(sentences, str) or not all(isinstance(s, str) for s in sentences):
        raise TypeError("sentences must be a list of str")
    lines = [_words(preprocess_nmt(s) if preprocess else s) for s in sentences]
    rows = _rows(lines, num_steps)
    ids = _encode(rows, vocab).reshape(len(rows), num_steps)  # (n, num_steps)
    return ids, _valid_len(lines, num_steps)


class TranslationBatch(NamedTuple):
    """One minibatch of :meth:`TranslationData.batches`; every array has ``batch`` rows.

    Example:
        >>> data = make_translation_data([("Go.", "Va !"), ("Hi.", "Salut.")], num_steps=4)
        >>> b = next(data.batches(batch_size=2, shuffle=False))
        >>> b.src.shape, b.tgt_in.shape, b.src_valid_len.tolist()
        ((2, 4), (2, 4), [3, 3])
    """

    src: Ids  # (batch, num_steps)
    tgt_in: Ids  # (batch, num_steps), starts with <bos>
    tgt_out: Ids  # (batch, num_steps), the labels
    src_valid_len: Ids  # (batch,)
    tgt_valid_len: Ids  # (batch,), non-pad labels


@_v.int_args_everywhere
@dataclass(eq=False)
class TranslationData:
    """Source/target id arrays and vocabularies with d2l 1.0's conventions (``MTFraEng``).

    Row ``i`` of pair ``(x, y)`` with tokens ``xs``, ``ys`` holds: ``src`` = ``xs + [<eos>]``,
    ``tgt_out`` = ``ys + [<eos>]`` and ``tgt_in`` = ``[<bos>] + ys + [<eos>]``, each cut to
    ``num_steps`` tokens or padded with ``<pad>`` (a cut sequence loses its ``<eos>``, as in
    d2l). ``tgt_in`` is ``tgt_out`` shifted right by one. Valid lengths count the non-pad
    tokens: ``min(len + 1, num_steps)``, so always in ``[1, num_steps]``; ``tgt_valid_len``
    counts those of ``tgt_out`` (d2l's loss mask).

    ``train`` and ``valid`` index the rows of each part; ``pairs`` are the preprocessed
    sentences. Both vocabularies always hold ``<unk>``, ``<pad>`` and ``<eos>``; the target
    one also ``<bos>``.

    Shapes: ``src``, ``tgt_in``, ``tgt_out`` ``(N, num_steps)`` int64; ``src_valid_len``,
    ``tgt_valid_len`` ``(N,)`` int64; ``train``, ``valid`` index arrays.

    Example:
        >>> data = make_translation_data([("Go.", "Va !"), ("Hi.", "Salut.")], num_steps=4)
        >>> data.pairs[0], data.src_vocab.to_tokens(data.src[0])
        (('go .', 'va !'), ['go', '.', '<eos>', '<pad>'])
        >>> data.tgt_vocab.to_tokens(data.tgt_in[1]), data.tgt_valid_len.tolist()
        (['<bos>', 'salut', '.', '<eos>'], [3, 3])
    """

    src_vocab: Vocab
    tgt_vocab: Vocab
    num_steps: int
    src: Ids
    tgt_in: Ids
    tgt_out: Ids
    src_valid_len: Ids
    tgt_valid_len: Ids
    pairs: list[tuple[str, str]]
    train: Ids
    valid: Ids
    preprocess: bool = True  # apply preprocess_nmt to the sentences given to encode_source

    def __len__(self) -> int:
        return len(self.pairs)

    def subset(self, indices: npt.ArrayLike) -> TranslationData:
        """The rows ``indices`` (same vocabularies), all of them its ``train`` part.

        Example:
            >>> data = make_translation_data([("Go.", "Va !"), ("Hi.", "Salut.")], num_steps=4)
            >>> data.subset([1]).pairs
            [('hi .', 'salut .')]
        """
        idx = _v.ids(indices, "indices")
        _v.ndim(idx, "indices", (1,), "(a flat array of row numbers)")
        if idx.size and not (0 <= idx.min() and idx.max() < len(self)):
            raise IndexError(f"indices: row numbers must be in [0, {len(self)})")
        return TranslationData(
            self.src_vocab,
            self.tgt_vocab,
            self.num_steps,
            self.src[idx],
            self.tgt_in[idx],
            self.tgt_out[idx],
            self.src_valid_len[idx],
            self.tgt_valid_len[idx],
            [self.pairs[i] for i in idx.tolist()],
            np.arange(idx.size, dtype=np.int64),
            np.zeros(0, dtype=np.int64),
            self.preprocess,
        )

    def split(self) -> tuple[TranslationData, TranslationData]:
        """``(training part, validation part)`` as two :class:`TranslationData`.

        Example:
            >>> pairs = [("Go.", "Va !"), ("Hi.", "Salut."), ("Run!", "Cours !")]
            >>> train, valid = make_translation_data(pairs, 4, num_valid=1).split()
            >>> len(train), len(valid)
            (2, 1)
        """
        return self.subset(self.train), self.subset(self.valid)

    def encode_source(self, sentences: Sequence[str]) -> tuple[Ids, Ids]:
        """Source ids and valid lengths of new sentences, exactly as ``src`` was built
        (preprocessed unless the data was made from already preprocessed pairs).

        Shapes: ``n`` sentences -> ids ``(n, num_steps)``, valid lengths ``(n,)``.

        Example:
            >>> data = make_translation_data([("Go.", "Va !")], num_steps=4)
            >>> ids, valid_len = data.encode_source(["Go!"])
            >>> data.src_vocab.to_tokens(ids[0]), valid_len.tolist()
            (['go', '<unk>', '<eos>', '<pad>'], [3])
        """
        return encode_sentences(sentences, self.src_vocab, self.num_steps, self.preprocess)

    def batches(
        self, batch_size: int, part: str = "train", shuffle: bool = True, seed: int | None = None
    ) -> Iterator[TranslationBatch]:
        """Minibatches of the ``"train"`` or ``"valid"`` rows (d2l's data loaders), shuffled
        with ``seed`` or in order; the last one may be smaller.

        Shapes: each array has ``batch_size`` rows, see :class:`TranslationBatch`.

        Example:
            >>> pairs = [("Go.", "Va !"), ("Hi.", "Salut."), ("Run!", "Cours !")]
            >>> data = make_translation_data(pairs, num_steps=4)
            >>> [len(b.src) for b in data.batches(batch_size=2, seed=0)]
            [2, 1]
        """
        if part not in ("train", "valid"):
            raise ValueError(f"part must be 'train' or 'valid', got {part!r}")
        batch_size = _v.positive_int(batch_size, "batch_size")
        rows = self.train if part == "train" else self.valid  # (n,)
        if shuffle:
            rows = np.random.default_rng(_v.seed_or_random(seed)).permutation(rows)
        for start in range(0, rows.size, batch_size):
            i = rows[start : start + batch_size]  # (batch,)
            yield TranslationBatch(
                self.src[i],
                self.tgt_in[i],
                self.tgt_out[i],
                self.src_valid_len[i],
                self.tgt_valid_len[i],
            )


def check_pairs(pairs: Any) -> list[tuple[str, str]]:
    """``pairs`` as a list of ``(source, target)`` str tuples; ``TypeError`` naming it otherwise.

    Example:
        >>> check_pairs([["go .", "va !"]])
        [('go .', 'va !')]
        >>> check_pairs("go .")
        Traceback (most recent call last):
            ...
        TypeError: pairs must be a list of (source, target) str pairs, got a str
    """
    if isinstance(pairs, str):
        raise TypeError("pairs must be a list of (source, target) str pairs, got a str")
    try:
        out = [(s, t) for s, t in pairs]
    except (TypeError, ValueError) as e:
        raise TypeError(f"pairs must be a list of (source, target) str pairs: {e}") from None
    if not all(isinstance(s, str) and isinstance(t, str) for s, t in out):
        raise TypeError("pairs must be a list of (source, target) str pairs")
    return out


@_v.int_args
def make_translation_data(
    pairs: Sequence[tuple[str, str]],
    num_steps: int,
    min_freq: int = 0,
    num_valid: int = 0,
    already_preprocessed: bool = False,
    vocab_from: str = "train",
) -> TranslationData:
    """:class:`TranslationData` of in-memory ``(source, target)`` sentence pairs.

    Sentences go through :func:`preprocess_nmt` unless ``already_preprocessed``; words are
    split on spaces. The last ``num_valid`` pairs are the validation part, the others the
    training part. Vocabularies count the padded training sequences as d2l does (tokens cut
    off by ``num_steps`` are not counted) and keep tokens seen ``min_freq`` times;
    ``vocab_from="all"`` counts the validation pairs too, as d2l 1.0 does.

    Example:
        >>> data = make_translation_data([("one", "un"), ("two", "deux")], 3, num_valid=1)
        >>> data.train.tolist(), data.valid.tolist(), data.tgt_vocab.idx_to_token
        ([0], [1], ['<bos>', '<eos>', '<pad>', '<unk>', 'un'])
    """
    num_steps = _v.positive_int(num_steps, "num_steps")
    if isinstance(num_valid, bool) or not isinstance(num_valid, (int, np.integer)):
        raise TypeError(f"num_valid must be an int, got {type(num_valid).__name__}")
    if vocab_from not in ("train", "all"):
        raise ValueError(f"vocab_from must be 'train' or 'all', got {vocab_from!r}")
    pairs = check_pairs(pairs)
    if not 0 <= num_valid < len(pairs):
        raise ValueError(
            f"num_valid must be in [0, {len(pairs)}) to leave a training pair; "
            f"got {num_valid} for {len(pairs)} pairs"
        )
    if not already_preprocessed:
        pairs = [(preprocess_nmt(s), preprocess_nmt(t)) for s, t in pairs]
    num_train = len(pairs) - int(num_valid)
    src_lines = [_words(s) for s, _ in pairs]
    tgt_lines = [_words(t) for _, t in pairs]
    src_rows = _rows(src_lines, num_steps)  # N rows of num_steps tokens
    tgt_rows = [[BOS] + row for row in _rows(tgt_lines, num_steps)]  # N rows of num_steps + 1
    counted = num_train if vocab_from == "train" else len(pairs)
    src_vocab = Vocab(src_rows[:counted], min_freq, reserved_tokens=[PAD, EOS])
    tgt_vocab = Vocab(tgt_rows[:counted], min_freq, reserved_tokens=[PAD, BOS, EOS])
    tgt = _encode(tgt_rows, tgt_vocab)  # (N, num_steps + 1)
    return TranslationData(
        src_vocab=src_vocab,
        tgt_vocab=tgt_vocab,
        num_steps=num_steps,
        src=_encode(src_rows, src_vocab),  # (N, num_steps)
        tgt_in=np.ascontiguousarray(tgt[:, :-1]),  # (N, num_steps)
        tgt_out=np.ascontiguousarray(tgt[:, 1:]),  # (N, num_steps)
        src_valid_len=_valid_len(src_lines, num_steps),  # (N,)
        tgt_valid_len=_valid_len(tgt_lines, num_steps),  # (N,)
        pairs=pairs,
        train=np.arange(num_train, dtype=np.int64),
        valid=np.arange(num_train, len(pairs), dtype=np.int64),
        preprocess=not already_preprocessed,
    )


@_v.int_args
def load_translation_pairs(
    path: str | os.PathLike[str] | None = None,
    num_examples: int | None = None,
    num_steps: int = 9,
    min_freq: int = 2,
    num_train: int | None = None,
    num_valid: int = 0,
    vocab_from: str = "train",
) -> TranslationData:
    """d2l's English-French pairs (``fra-eng.txt``, see :func:`find_data_file`) as
    :class:`TranslationData`: the first ``num_examples`` pairs (all when ``None``), of which the
    first ``num_train`` (default: all but ``num_valid``) train and the next ``num_valid``
    validate; vocabularies from the training pairs (``vocab_from="all"``: from both).

    d2l 1.0's ``MTFraEng()`` reads 641 lines (its ``i > max_examples`` test lets one more
    through), trains on 512, validates on the other 129 and builds its vocabularies from all
    641: ``num_train=512, num_valid=129, vocab_from="all"`` gives its 194 source and 214
    target tokens. From the 512 training pairs alone they are 160 and 166.

    Example:
        >>> data = load_translation_pairs(num_train=512, num_valid=128)  # doctest: +SKIP
        >>> len(data.src_vocab), len(data.tgt_vocab), data.pairs[0]  # doctest: +SKIP
        (160, 166, ('go .', 'va !'))
    """
    if num_train is not None:
        num_train = _v.positive_int(num_train, "num_train")
    if isinstance(num_valid, bool) or not isinstance(num_valid, (int, np.integer)):
        raise TypeError(f"num_valid must be an int, got {type(num_valid).__name__}")
    if num_examples is not None:
        num_examples = _v.positive_int(num_examples, "num_examples")
    wanted = num_examples if num_train is None else num_train + int(num_valid)
    if num_examples is not None and wanted is not None and wanted > num_examples:
        raise ValueError(f"num_train + num_valid = {wanted} exceeds num_examples = {num_examples}")
    file = find_data_file(FRA_ENG, path)
    with open(file, encoding="utf-8") as f:  # stops reading once it has enough pairs
        pairs = _columns(f, wanted)
    if wanted is not None and len(pairs) < wanted:
        raise ValueError(f"{file} holds {len(pairs)} pairs, fewer than the {wanted} asked for")
    return make_translation_data(pairs, num_steps, min_freq, num_valid, vocab_from=vocab_from)
