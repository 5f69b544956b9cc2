"""``seqrnn.Vocab`` and ``seqrnn.tokenize``: tokens <-> ids as in d2l 1.0's ``Vocab``."""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence
from typing import Any, overload

import numpy as np
import numpy.typing as npt

from . import _core
from . import _validate as v

LEVELS = ("char", "word")


def tokenize(text: str, level: str = "char") -> list[str]:
    """Cut ``text`` into tokens: ``"char"`` (every character, ``list(text)``) or ``"word"``
    (runs of non-whitespace, ``text.split()``).

    Example:
        >>> tokenize("to be")
        ['t', 'o', ' ', 'b', 'e']
        >>> tokenize("to be", "word")
        ['to', 'be']
    """
    if not isinstance(text, str):
        raise TypeError(f"text must be a str, got {type(text).__name__}")
    if not isinstance(level, str):
        raise TypeError(f"level must be a str ('char' or 'word'), got {type(level).__name__}")
    if level not in LEVELS:
        raise ValueError(f"level must be 'char' or 'word', got {level!r}")
    return _core.tokenize(text, level)


def _flat_tokens(tokens: Iterable[Any]) -> list[str]:
    """A flat list of tokens; a list of lines (lists of tokens) is flattened like d2l's."""
    if isinstance(tokens, str):
        raise TypeError("tokens must be a list of str, got a str; use tokenize(text) first")
    tokens = list(tokens)
    if tokens and isinstance(tokens[0], (list, tuple)):
        tokens = [t for line in tokens for t in line]
    if tokens and not isinstance(tokens[0], str):
        raise TypeError(f"tokens must be a list of str, got a list of {type(tokens[0]).__name__}")
    return tokens


@v.int_args_everywhere
class Vocab:
    """Tokens <-> ids: ``<unk>``, the reserved tokens and every token counted at least
    ``min_freq`` times, sorted by string as in d2l 1.0. Unknown tokens map to ``unk``.

    Shapes: ``encode`` maps ``(n,)`` tokens to ``(n,)`` int64 ids, ``decode`` the reverse.

    Example:
        >>> vocab = Vocab(tokenize("hello world"))
        >>> len(vocab), vocab.idx_to_token[:3]
        (9, [' ', '<unk>', 'd'])
        >>> vocab["l"], vocab[["h", "i"]]
        (5, [4, 1])
        >>> vocab.to_tokens([4, 3, 5, 5, 6])
        ['h', 'e', 'l', 'l', 'o']
        >>> vocab.token_freqs[0]
        ('l', 3)
    """

    def __init__(
        self,
        tokens: Iterable[str] | Iterable[Sequence[str]] = (),
        min_freq: int = 0,
        reserved_tokens: Iterable[str] = (),
    ) -> None:
        if isinstance(min_freq, bool) or not isinstance(min_freq, (int, np.integer)):
            raise TypeError(f"min_freq must be an int, got {type(min_freq).__name__}")
        if isinstance(reserved_tokens, str):
            raise TypeError("reserved_tokens must be a list of str, got a str")
        self._core = _core.Vocab(_flat_tokens(tokens), int(min_freq), list(reserved_tokens))

    @classmethod
    def _wrap(cls, core: Any) -> Vocab:
        vocab = cls.__new__(cls)
        vocab._core = core
        return vocab

    def __len__(self) -> int:
        return len(self._core)

    @overload
    def __getitem__(self, tokens: str) -> int: ...
    @overload
    def __getitem__(self, tokens: list[str] | tuple[str, ...]) -> list[int]: ...
    def __getitem__(self, tokens: Any) -> Any:
        """The id of a token (``unk`` if unknown), or a list of ids for a list of tokens."""
        if isinstance(tokens, str):
            return self._core.token_to_id(tokens)
        if isinstance(tokens, (list, tuple)):
            return self._core.encode(list(tokens)).tolist()
        raise TypeError(f"expected a str or a list of str, got {type(tokens).__name__}")

    def to_tokens(self, ids: Any) -> Any:
        """The token of one id, or the list of tokens of a list/array of ids (``IndexError``
        for ids outside ``0 <= id < len(vocab)``).

        Example:
            >>> vocab = Vocab(tokenize("abba"))
            >>> vocab.to_tokens(1), vocab.to_tokens([1, 2, 2])
            ('a', ['a', 'b', 'b'])
        """
        if isinstance(ids, (int, np.integer)) and not isinstance(ids, bool):
            return self._core.id_to_token(int(ids))
        return self.decode(ids)

    def encode(self, tokens: Iterable[str]) -> npt.NDArray[np.int64]:
        """Shapes: ``(n,)`` tokens -> ``(n,)`` int64 ids (``unk`` for unknown tokens).

        Example:
            >>> Vocab(tokenize("abba")).encode(["b", "a", "z"])      # <unk> is 0
            array([2, 1, 0])
        """
        if isinstance(tokens, str):
            raise TypeError("tokens must be a list of str, got a str; use tokenize(text) first")
        return self._core.encode(list(tokens))

    def decode(self, ids: Any) -> list[str]:
        """Shapes: ``(n,)`` ids -> ``(n,)`` tokens; ``IndexError`` for an id out of range.

        Example:
            >>> vocab = Vocab(tokenize("abba"))
            >>> "".join(vocab.decode(vocab.encode(tokenize("baab"))))
            'baab'
        """
        if isinstance(ids, (list, tuple)) and not ids:
            return []
        a = v.ids(ids, "ids")
        v.ndim(a, "ids", (1,), "(n,)")
        return self._core.decode(a)

    @property
    def unk(self) -> int:
        """The id of ``<unk>``."""
        return self._core.unk

    @property
    def idx_to_token(self) -> list[str]:
        """Tokens in id order (a fresh list)."""
        return self._core.idx_to_token

    @property
    def token_freqs(self) -> list[tuple[str, int]]:
        """``(token, count)`` of the building tokens, most frequent first, ties by first
        appearance; includes tokens below ``min_freq``."""
        return self._core.token_freqs

    def to_json(self) -> str:
        """``{"idx_to_token": [...], "token_freqs": [[token, count], ...]}``.

        Example:
            >>> Vocab(["b", "a", "b"]).to_json()
            '{"idx_to_token":["<unk>","a","b"],"token_freqs":[["b",2],["a",1]]}'
        """
        return self._core.to_json()

    @classmethod
    def from_json(cls, json: str) -> Vocab:
        """Parse :meth:`to_json` output; ``ValueError`` for malformed JSON, repeated tokens or
        a missing ``<unk>``.

        Example:
            >>> vocab = Vocab(tokenize("hello"))
            >>> Vocab.from_json(vocab.to_json()) == vocab
            True
        """
        if not isinstance(json, str):
            raise TypeError(f"json must be a str, got {type(json).__name__}")
        return cls._wrap(_core.Vocab.from_json(json))

    def save(self, path: str | os.PathLike[str]) -> None:
        """Write :meth:`to_json` to ``path`` atomically, as models are saved (see
        ``seqrnn._core.write_atomic``): a reader never sees half a file, a symbolic link is
        followed and kept, a file's permissions are kept, and a directory, FIFO or device is
        refused with ``OSError``.

        Example:
            >>> Vocab(tokenize("hello")).save("vocab.json")
        """
        _core.write_atomic(os.fspath(path), self.to_json().encode("utf-8"))

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> Vocab:
        """Read a file written by :meth:`save`.

        Example:
            >>> Vocab(tokenize("hello")).save("vocab.json")
            >>> len(Vocab.load("vocab.json"))
            5
        """
        data = v.read_file(path)
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError as e:
            raise ValueError(f"{os.fspath(path)}: not a UTF-8 vocabulary file ({e})") from None
        return cls.from_json(text)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Vocab):
            return NotImplemented
        return self.idx_to_token == other.idx_to_token and self.token_freqs == other.token_freqs

    __hash__ = None  # type: ignore[assignment]

    def __reduce__(self) -> tuple[Any, tuple[str]]:
        return (Vocab.from_json, (self.to_json(),))

    def __repr__(self) -> str:
        head = ", ".join(map(repr, self.idx_to_token[:8])) + (", ..." if len(self) > 8 else "")
        return f"Vocab(len={len(self)}, unk={self.unk}, idx_to_token=[{head}])"
