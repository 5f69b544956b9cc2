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

__all__ = ["AdditiveAttention", "LanguageModelModule", "Seq2SeqAttentionDecoder",
           "Seq2SeqDecoder", "Seq2SeqEncoder", "Seq2SeqModule"]


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
        return self.encode(src, src_valid_len)[1]

    def encode(self, src: torch.Tensor,
               src_valid_len: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """The top layer's states ``(batch, src_steps, hidden)`` (zeros past each valid
        length) and the final state ``(num_layers, batch, hidden)``.

        Example:
            >>> enc = Seq2SeqEncoder(10, 4, 8, 1)
            >>> outputs, state = enc.encode(torch.tensor([[3, 4, 0]]), torch.tensor([2]))
            >>> tuple(outputs.shape), bool(torch.equal(outputs[0, 1], state[-1, 0]))
            ((1, 3, 8), True)
        """
        x = self.embedding(src)  # (B, Ts, E)
        packed = nn.utils.rnn.pack_padded_sequence(
            x, src_valid_len.to("cpu", torch.int64), batch_first=True, enforce_sorted=False)
        out, state = self.rnn(packed)  # state (L, B, H), in the original batch order
        outputs, _ = nn.utils.rnn.pad_packed_sequence(out, batch_first=True,
                                                      total_length=x.shape[1])  # (B, Ts, H)
        return outputs, state


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


class AdditiveAttention(nn.Module):
    """d2l's ``AdditiveAttention`` (without dropout): ``W_q``, ``W_k`` ``(hidden, hidden)``,
    ``w_v`` ``(1, hidden)``, no biases; scores past each valid length masked before the softmax.

    ``forward(queries (batch, hidden), keys (batch, steps, hidden), values (batch, steps,
    hidden), valid_len (batch,))`` returns ``(context (batch, hidden), weights (batch, steps))``.

    Example:
        >>> att = AdditiveAttention(8)
        >>> keys = torch.randn(2, 3, 8)
        >>> c, w = att(torch.randn(2, 8), keys, keys, torch.tensor([3, 1]))
        >>> tuple(c.shape), w[1].tolist()[1:]
        ((2, 8), [0.0, 0.0])
    """

    def __init__(self, hidden_size: int, dtype: torch.dtype = torch.float32) -> None:
        super().__init__()
        self.W_q = nn.Linear(hidden_size, hidden_size, bias=False, dtype=dtype)
        self.W_k = nn.Linear(hidden_size, hidden_size, bias=False, dtype=dtype)
        self.w_v = nn.Linear(hidden_size, 1, bias=False, dtype=dtype)

    def forward(self, queries: torch.Tensor, keys: torch.Tensor, values: torch.Tensor,
                valid_len: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        features = torch.tanh(self.W_q(queries)[:, None, :] + self.W_k(keys))  # (B, Ts, A)
        scores = self.w_v(features).squeeze(-1)  # (B, Ts)
        steps = torch.arange(keys.shape[1], device=keys.device)
        scores = scores.masked_fill(steps[None, :] >= valid_len[:, None], -1e6)
        weights = torch.softmax(scores, dim=-1)  # (B, Ts)
        return torch.bmm(weights[:, None, :], values).squeeze(1), weights  # (B, H)


class Seq2SeqAttentionDecoder(nn.Module):
    """d2l's ``Seq2SeqAttentionDecoder`` with a tanh ``nn.RNN``: at each step the top layer's
    state attends to the encoder's states and the context comes first in the input
    (``[context, embedding]``).

    ``forward(tgt_in (batch, steps), state (num_layers, batch, hidden), enc_outputs (batch,
    src_steps, hidden), src_valid_len (batch,))`` returns ``(logits (batch, steps, vocab),
    state, weights (batch, steps, src_steps))``.

    Example:
        >>> dec = Seq2SeqAttentionDecoder(vocab_size=12, embed_size=4, hidden_size=8, num_layers=2)
        >>> dec.rnn.input_size                   # context + embedding
        12
    """

    def __init__(self, vocab_size: int, embed_size: int, hidden_size: int, num_layers: int,
                 dropout: float = 0.0, dtype: torch.dtype = torch.float32) -> None:
        super().__init__()
        self.embedding = nn.Embedding(vocab_size, embed_size, dtype=dtype)
        self.rnn = nn.RNN(hidden_size + embed_size, hidden_size, num_layers, batch_first=True,
                          dropout=dropout, dtype=dtype)
        self.output = nn.Linear(hidden_size, vocab_size, dtype=dtype)
        self.attention = AdditiveAttention(hidden_size, dtype)

    def forward(self, tgt_in: torch.Tensor, state: torch.Tensor, enc_outputs: torch.Tensor,
                src_valid_len: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        x = self.embedding(tgt_in)  # (B, T, E)
        outputs, weights = [], []
        for t in range(x.shape[1]):
            c, w = self.attention(state[-1], enc_outputs, enc_outputs, src_valid_len)
            y, state = self.rnn(torch.cat([c, x[:, t]], dim=-1)[:, None, :], state)  # (B, 1, H)
            outputs.append(y)
            weights.append(w)
        return self.output(torch.cat(outputs, dim=1)), state, torch.stack(weights, dim=1)


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
                 dropout: float = 0.0, dtype: torch.dtype = torch.float32,
                 attention: str = "none") -> None:
        super().__init__()
        if attention not in ("none", "additive"):
            raise ValueError(f"attention must be 'none' or 'additive', got {attention!r}")
        self.encoder = Seq2SeqEncoder(src_vocab_size, embed_size, hidden_size, num_layers,
                                      dropout, dtype)
        self.decoder: nn.Module
        if attention == "additive":
            self.decoder = Seq2SeqAttentionDecoder(tgt_vocab_size, embed_size, hidden_size,
                                                   num_layers, dropout, dtype)
        else:
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
        if isinstance(self.decoder, Seq2SeqAttentionDecoder):
            outputs, state = self.encoder.encode(src, src_valid_len)  # (B, Ts, H), (L, B, H)
            return self.decoder(tgt_in, state, outputs, src_valid_len)[0]
        state = self.encoder(src, src_valid_len)  # (L, B, H)
        logits, _ = self.decoder(tgt_in, state, state[-1])
        return logits
