"""Translation pairs with d2l 1.0's conventions (``MTFraEng``), all made by the core
(``seqrnn::pairs``, the pipeline of the Rust ``translate`` example too): preprocessing, word
tokens, padded id rows, vocabularies and the training/validation split. This module holds the
results as numpy arrays in :class:`TranslationData`; :mod:`seqrnn.data` re-exports it all.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Iterable, Iterator, Sequence
from typing import Any, NamedTuple

import numpy as np
import numpy.typing as npt

from . import _core
from . import _validate as _v
from .vocab import Vocab

FRA_ENG = "fra-eng.txt"
PAD, BOS, EOS = "<pad>", "<bos>", "<eos>"
Ids = npt.NDArray[np.int64]


def _int(value: object, what: str) -> int:
    """``value`` as an int (``TypeError`` otherwise); the core checks its range."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise TypeError(f"{what} must be an int, got {type(value).__name__}")
    return int(value)


def _encode(sentences: Sequence[str], vocab: Vocab, num_steps: int,
            preprocess: bool) -> tuple[Ids, Ids]:
    """Source ids ``(n, num_steps)`` and valid lengths ``(n,)`` of ``n`` sentences (the core's
    ``encode_source``)."""
    if isinstance(sentences, str):
        raise TypeError("sentences must be a list of str")
    sentences = list(sentences)
    if not all(isinstance(s, str) for s in sentences):
        raise TypeError("sentences must be a list of str")
    num_steps = _v.positive_int(num_steps, "num_steps")
    return _core.encode_source(sentences, vocab._core, num_steps, bool(preprocess))


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
@dataclasses.dataclass(eq=False)
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

    @classmethod
    def _of_core(cls, made: Any, num_steps: int, preprocess: bool) -> TranslationData:
        """The dataclass of what the core's ``translation_data`` returns."""
        src_vocab, tgt_vocab, arrays, pairs, train, valid = made
        src, tgt_in, tgt_out, src_valid_len, tgt_valid_len = arrays
        return cls(Vocab._wrap(src_vocab), Vocab._wrap(tgt_vocab), num_steps, src, tgt_in,
                   tgt_out, src_valid_len, tgt_valid_len, pairs,
                   np.arange(*train, dtype=np.int64), np.arange(*valid, dtype=np.int64),
                   preprocess)

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
        return dataclasses.replace(
            self, src=self.src[idx], tgt_in=self.tgt_in[idx], tgt_out=self.tgt_out[idx],
            src_valid_len=self.src_valid_len[idx], tgt_valid_len=self.tgt_valid_len[idx],
            pairs=[self.pairs[i] for i in idx.tolist()], train=np.arange(idx.size, dtype=np.int64),
            valid=np.zeros(0, dtype=np.int64))

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
        return _encode(sentences, self.src_vocab, self.num_steps, self.preprocess)

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
            yield TranslationBatch(self.src[i], self.tgt_in[i], self.tgt_out[i],
                                   self.src_valid_len[i], self.tgt_valid_len[i])


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
    return _core.preprocess_nmt(text)


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
    lines = text_or_lines if isinstance(text_or_lines, str) else list(text_or_lines)
    return _core.tokenize_nmt(lines, num_examples)


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
    return _encode(sentences, vocab, num_steps, preprocess)


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
    num_valid, min_freq = _int(num_valid, "num_valid"), _int(min_freq, "min_freq")
    made = _core.translation_data(check_pairs(pairs), num_steps, min_freq, num_valid,
                                  vocab_from, not already_preprocessed)
    return TranslationData._of_core(made, num_steps, not already_preprocessed)


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
    """d2l's English-French pairs (``fra-eng.txt``, see :func:`seqrnn.data.find_data_file`) as
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
    num_valid = _int(num_valid, "num_valid")
    num_train = None if num_train is None else _v.positive_int(num_train, "num_train")
    if num_examples is not None:
        num_examples = _v.positive_int(num_examples, "num_examples")
    wanted = num_examples if num_train is None else num_train + num_valid
    if num_examples is not None and wanted is not None and wanted > num_examples:
        raise ValueError(f"num_train + num_valid = {wanted} exceeds num_examples = {num_examples}")
    from .data import find_data_file  # data re-exports this module

    file = find_data_file(FRA_ENG, path)
    num_steps = _v.positive_int(num_steps, "num_steps")
    made = _core.load_translation_data(file, wanted, num_steps, _int(min_freq, "min_freq"),
                                       num_valid, vocab_from)
    return TranslationData._of_core(made, num_steps, True)
