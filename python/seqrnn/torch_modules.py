"""PyTorch modules that compute what seqrnn's models compute (importing this module needs torch).

:func:`seqrnn.interop.to_torch` builds them from seqrnn models; they are plain ``nn.Module``
subclasses made of ``nn.Embedding``, ``nn.RNN`` and ``nn.Linear`` whose state-dict names are
seqrnn's (``embedding.weight``, ``rnn.weight_ih_l0``, ``output.weight``, ...).

Shapes are batch-first as in seqrnn's Python API: token ids ``(batch, steps)``, logits
``(batch, steps, vocab)``, states ``(num_layers, batch, hidden)``.

Example:
    >>> import torch
    >>> m = LanguageModelModule(vocab_size=5, hidden_size=8)      # one-hot input
    >>> logits, state = m(torch.tensor([[0, 1, 2]]))
    >>> tuple(logits.shape), tuple(state.shape)
    ((1, 3, 5), (1, 1, 8))
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

__all__ = ["LanguageModelModule", "Seq2SeqDecoder", "Seq2SeqEncoder", "Seq2SeqModule"]


class LanguageModelModule(nn.Module):
    """``seqrnn.LanguageModel`` in PyTorch: ``nn.Embedding`` (or one-hot input when
    ``embed_size`` is ``None``) -> ``nn.RNN`` (batch first) -> ``nn.Linear``.

    ``forward(inputs (batch, steps) int64, state (num_layers, batch, hidden) or None)`` returns
    ``(logits (batch, steps, vocab_size), state)``, as ``seqrnn.LanguageModel.logits``.

    Example:
        >>> m = LanguageModelModule(vocab_size=5, hidden_size=8, embed_size=3)
        >>> m(torch.zeros((2, 4), dtype=torch.int64))[0].shape
        torch.Size([2, 4, 5])
    """

    def __init__(self, vocab_size: int, hidden_size: int, num_layers: int = 1,
                 embed_size: int | None = None, nonlinearity: str = "tanh",
                 dropout: float = 0.0, dtype: torch.dtype = torch.float32) -> None:
        super().__init__()
        self.vocab_size = vocab_size
        self.embedding = (None if embed_size is None
                          else nn.Embedding(vocab_size, embed_size, dtype=dtype))
        self.rnn = nn.RNN(vocab_size if embed_size is None else embed_size, hidden_size,
                          num_layers, nonlinearity=nonlinearity, batch_first=True,
                          dropout=dropout, dtype=dtype)
        self.output = nn.Linear(hidden_size, vocab_size, dtype=dtype)

    def forward(self, inputs: torch.Tensor,
                state: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """Logits ``(batch, steps, vocab)`` and the final state ``(num_layers, batch, hidden)``
        from ids ``(batch, steps)`` and an optional initial state (zeros).

        Example:
            >>> m = LanguageModelModule(vocab_size=5, hidden_size=8, num_layers=2)
            >>> logits, state = m(torch.tensor([[1, 2], [3, 4]]), torch.zeros(2, 2, 8))
            >>> tuple(logits.shape), tuple(state.shape)
            ((2, 2, 5), (2, 2, 8))
        """
        if self.embedding is None:
            x = F.one_hot(inputs, self.vocab_size).to(self.output.weight.dtype)  # (B, T, V)
        else:
            x = self.embedding(inputs)  # (B, T, E)
        y, state = self.rnn(x, state)  # (B, T, H), (L, B, H)
        return self.output(y), state  # (B, T, V)


class Seq2SeqEncoder(nn.Module):
    """Embedding + ``nn.RNN`` over the source; each sentence stops at its own valid length
    (packed sequences), so padding never enters the state.

    ``forward(src (batch, steps) int64, src_valid_len (batch,))`` returns the final state
    ``(num_layers, batch, hidden)``.

    Example:
        >>> enc = Seq2SeqEncoder(vocab_size=10, embed_size=4, hidden_size=8, num_layers=2)
        >>> enc(torch.tensor([[3, 4, 0], [5, 0, 0]]), torch.tensor([2, 1])).shape
        torch.Size([2, 2, 8])
    """

    def __init__(self, vocab_size: int, embed_size: int, hidden_size: int, num_layers: int,
                 dropout: float = 0.0, dtype: torch.dtype = torch.float32) -> None:
        super().__init__()
        self.embedding = nn.Embedding(vocab_size, embed_size, dtype=dtype)
        self.rnn = nn.RNN(embed_size, hidden_size, num_layers, batch_first=True,
                          dropout=dropout, dtype=dtype)

    def forward(self, src: torch.Tensor, src_valid_len: torch.Tensor) -> torch.Tensor:
        """The state ``(num_layers, batch, hidden)`` after each source's last valid token.

        Example:
            >>> enc = Seq2SeqEncoder(10, 4, 8, 1)
            >>> a = enc(torch.tensor([[3, 4, 0]]), torch.tensor([2]))
            >>> b = enc(torch.tensor([[3, 4, 9]]), torch.tensor([2]))   # other padding
            >>> bool(torch.equal(a, b))
            True
        """
        x = self.embedding(src)  # (B, Ts, E)
        packed = nn.utils.rnn.pack_padded_sequence(
            x, src_valid_len.to("cpu", torch.int64), batch_first=True, enforce_sorted=False)
        _, state = self.rnn(packed)  # (L, B, H), in the original batch order
        return state


class Seq2SeqDecoder(nn.Module):
    """Embedding + ``nn.RNN`` + ``nn.Linear``; with ``context="concat"`` (d2l) the encoder's
    top-layer final state is appended to every input embedding (``[embedding, context]``).

    ``forward(tgt_in (batch, steps) int64, state (num_layers, batch, hidden), context (batch,
    hidden) or None)`` returns ``(logits (batch, steps, vocab_size), state)``.

    Example:
        >>> dec = Seq2SeqDecoder(vocab_size=12, embed_size=4, hidden_size=8, num_layers=2)
        >>> dec.rnn.input_size                   # embedding + context
        12
    """

    def __init__(self, vocab_size: int, embed_size: int, hidden_size: int, num_layers: int,
                 context: str = "concat", dropout: float = 0.0,
                 dtype: torch.dtype = torch.float32) -> None:
        super().__init__()
        if context not in ("concat", "none"):
            raise ValueError(f"context must be 'concat' or 'none', got {context!r}")
        self.context = context
        extra = hidden_size if context == "concat" else 0
        self.embedding = nn.Embedding(vocab_size, embed_size, dtype=dtype)
        self.rnn = nn.RNN(embed_size + extra, hidden_size, num_layers, batch_first=True,
                          dropout=dropout, dtype=dtype)
        self.output = nn.Linear(hidden_size, vocab_size, dtype=dtype)

    def forward(self, tgt_in: torch.Tensor, state: torch.Tensor,
                context: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """Logits ``(batch, steps, vocab)`` and the new state; ``context`` defaults to
        ``state[-1]`` (right for the first call after the encoder).

        Example:
            >>> dec = Seq2SeqDecoder(12, 4, 8, 2)
            >>> state = torch.zeros(2, 3, 8)              # (num_layers, batch, hidden)
            >>> logits, state = dec(torch.ones(3, 1, dtype=torch.int64), state, state[-1])
            >>> tuple(logits.shape)                       # one step of 3 sentences
            (3, 1, 12)
        """
        x = self.embedding(tgt_in)  # (B, T, E)
        if self.context == "concat":
            c = state[-1] if context is None else context  # (B, H)
            x = torch.cat([x, c[:, None, :].expand(-1, x.shape[1], -1)], dim=-1)  # (B, T, E + H)
        y, state = self.rnn(x, state)  # (B, T, H)
        return self.output(y), state  # (B, T, V)


class Seq2SeqModule(nn.Module):
    """``seqrnn.Seq2Seq`` in PyTorch: a :class:`Seq2SeqEncoder` and a :class:`Seq2SeqDecoder`
    (d2l's ``EncoderDecoder``) with seqrnn's state-dict names (``encoder.rnn.weight_ih_l0``,
    ``decoder.output.weight``, ...).

    ``forward(src (batch, src_steps), src_valid_len (batch,), tgt_in (batch, tgt_steps))``
    returns teacher-forced logits ``(batch, tgt_steps, tgt_vocab_size)``.

    Example:
        >>> m = Seq2SeqModule(10, 12, embed_size=4, hidden_size=8, num_layers=2)
        >>> sorted(m.state_dict())[:3]
        ['decoder.embedding.weight', 'decoder.output.bias', 'decoder.output.weight']
    """

    def __init__(self, src_vocab_size: int, tgt_vocab_size: int, embed_size: int,
                 hidden_size: int, num_layers: int, context: str = "concat",
                 dropout: float = 0.0, dtype: torch.dtype = torch.float32) -> None:
        super().__init__()
        self.encoder = Seq2SeqEncoder(src_vocab_size, embed_size, hidden_size, num_layers,
                                      dropout, dtype)
        self.decoder = Seq2SeqDecoder(tgt_vocab_size, embed_size, hidden_size, num_layers,
                                      context, dropout, dtype)

    def forward(self, src: torch.Tensor, src_valid_len: torch.Tensor,
                tgt_in: torch.Tensor) -> torch.Tensor:
        """Teacher-forced logits ``(batch, tgt_steps, tgt_vocab_size)``.

        Example:
            >>> m = Seq2SeqModule(10, 12, embed_size=4, hidden_size=8, num_layers=1)
            >>> src, src_len = torch.tensor([[3, 4, 2, 0]]), torch.tensor([3])
            >>> m(src, src_len, torch.tensor([[1, 5, 6]])).shape
            torch.Size([1, 3, 12])
        """
        state = self.encoder(src, src_valid_len)  # (L, B, H)
        logits, _ = self.decoder(tgt_in, state, state[-1])
        return logits
