"""d2l 1.0's sequence-to-sequence models in plain PyTorch (no ``d2l`` package): the reference
that ``translate_quality.py`` and ``bench.py`` set seqrnn beside.

- :class:`Encoder` is d2l's ``Seq2SeqEncoder`` (section 10.7): embedding, then a multilayer GRU
  (``rnn="gru"``) or tanh RNN (``rnn="rnn"``) with dropout between the layers, run over every
  step of the padded source (d2l does not stop at the valid length).
- :class:`Decoder` is d2l's ``Seq2SeqDecoder``: the encoder's top-layer output at the last
  step is concatenated to every decoder input; the decoder starts from the encoder's state.
- :class:`AttentionDecoder` is d2l's ``Seq2SeqAttentionDecoder`` (section 11.4, Bahdanau):
  at each step the decoder's top-layer state queries the encoder's outputs through
  :class:`AdditiveAttention` (``W_q``, ``W_k``, ``w_v`` without bias, scores past each source's
  valid length set to -1e6 before the softmax, dropout on the weights) and the context is
  concatenated to the step's embedding.
- :func:`train` is d2l's ``Trainer.fit`` for ``Seq2Seq``: Adam, reshuffled minibatches, the
  mean cross-entropy over non-padding labels, teacher forcing (``tgt_in`` starts with <bos>),
  d2l's ``clip_gradients`` (rescale all gradients when their joint norm exceeds ``clip``),
  ``model.eval()`` after each epoch; an optional time budget checked after each epoch.
- :func:`greedy` is d2l's ``predict_step``: one decoder call per step for the whole batch,
  ``num_steps`` steps, cut at the first <eos> afterwards.

Initialisation follows d2l's ``init_seq2seq``: ``xavier_uniform_`` on every weight matrix of
the recurrent layers. d2l applies it while its output and attention layers are still
``nn.LazyLinear`` (``type(module) == nn.Linear`` is false for them), so those keep PyTorch's
default initialisation; ``init="xavier"`` gives them ``xavier_uniform_`` too.

Shapes: ids batch-major ``(batch, steps)`` int64 at the interfaces, time-major inside the
recurrent layers ``(steps, batch, features)``; states ``(num_layers, batch, hidden)``.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

RNNS: dict[str, type[nn.RNNBase]] = {"gru": nn.GRU, "rnn": nn.RNN}
INITS = ("d2l", "xavier")


def init_seq2seq(module: nn.Module, linear: bool) -> None:
    """d2l's ``init_seq2seq``: ``xavier_uniform_`` on the recurrent weight matrices (biases
    keep PyTorch's default), and on ``nn.Linear`` weights when ``linear``."""
    if isinstance(module, nn.RNNBase):
        for name, param in module.named_parameters():
            if "weight" in name:
                nn.init.xavier_uniform_(param)
    if linear and isinstance(module, nn.Linear):
        nn.init.xavier_uniform_(module.weight)


class Encoder(nn.Module):
    """d2l's ``Seq2SeqEncoder``."""

    def __init__(self, vocab_size: int, embed_size: int, hidden_size: int, num_layers: int,
                 dropout: float, rnn: str) -> None:
        super().__init__()
        self.embedding = nn.Embedding(vocab_size, embed_size)
        self.rnn = RNNS[rnn](embed_size, hidden_size, num_layers, dropout=dropout)

    def forward(self, src: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``src`` ``(B, Ts)`` -> outputs ``(Ts, B, H)`` and final state ``(L, B, H)``."""
        embs = self.embedding(src.t())  # (Ts, B, E)
        outputs, state = self.rnn(embs)  # (Ts, B, H), (L, B, H)
        return outputs, state


class Decoder(nn.Module):
    """d2l's ``Seq2SeqDecoder``: ``[embedding, encoder's last top-layer output]`` in."""

    def __init__(self, vocab_size: int, embed_size: int, hidden_size: int, num_layers: int,
                 dropout: float, rnn: str) -> None:
        super().__init__()
        self.embedding = nn.Embedding(vocab_size, embed_size)
        self.rnn = RNNS[rnn](embed_size + hidden_size, hidden_size, num_layers, dropout=dropout)
        self.dense = nn.Linear(hidden_size, vocab_size)

    def init_state(self, enc: tuple[torch.Tensor, torch.Tensor], src_valid_len: torch.Tensor
                   ) -> list[torch.Tensor]:
        """``[encoder outputs (Ts, B, H), state (L, B, H)]``; the valid lengths are unused."""
        return list(enc)

    def forward(self, tgt: torch.Tensor, state: list[torch.Tensor]
                ) -> tuple[torch.Tensor, list[torch.Tensor]]:
        """``tgt`` ``(B, Tt)`` -> logits ``(B, Tt, V)`` and the new state."""
        enc_outputs, hidden = state
        embs = self.embedding(tgt.t())  # (Tt, B, E)
        context = enc_outputs[-1].expand(embs.shape[0], -1, -1)  # (Tt, B, H)
        outputs, hidden = self.rnn(torch.cat([embs, context], dim=-1), hidden)  # (Tt, B, H)
        return self.dense(outputs).transpose(0, 1), [enc_outputs, hidden]  # (B, Tt, V)


def masked_softmax(scores: torch.Tensor, valid_lens: torch.Tensor) -> torch.Tensor:
    """d2l's ``masked_softmax`` with 1-D valid lengths: keys at or past ``valid_lens[b]`` get
    the score -1e6, then the softmax over the last axis. ``scores`` ``(B, Q, K)``."""
    keys = torch.arange(scores.shape[-1], device=scores.device)  # (K,)
    mask = keys[None, None, :] < valid_lens[:, None, None]  # (B, 1, K)
    return F.softmax(scores.masked_fill(~mask, -1e6), dim=-1)


class AdditiveAttention(nn.Module):
    """d2l's ``AdditiveAttention``: ``w_v . tanh(W_q q + W_k k)`` scores, masked softmax,
    dropout on the weights, weighted sum of the values."""

    def __init__(self, query_size: int, key_size: int, hidden_size: int, dropout: float) -> None:
        super().__init__()
        self.W_k = nn.Linear(key_size, hidden_size, bias=False)
        self.W_q = nn.Linear(query_size, hidden_size, bias=False)
        self.w_v = nn.Linear(hidden_size, 1, bias=False)
        self.dropout = nn.Dropout(dropout)

    def forward(self, queries: torch.Tensor, keys: torch.Tensor, values: torch.Tensor,
                valid_lens: torch.Tensor) -> torch.Tensor:
        """queries ``(B, Q, Dq)``, keys ``(B, K, Dk)``, values ``(B, K, Dv)`` -> ``(B, Q, Dv)``."""
        features = torch.tanh(self.W_q(queries).unsqueeze(2)
                              + self.W_k(keys).unsqueeze(1))  # (B, Q, K, H)
        scores = self.w_v(features).squeeze(-1)  # (B, Q, K)
        self.attention_weights = masked_softmax(scores, valid_lens)  # (B, Q, K)
        return torch.bmm(self.dropout(self.attention_weights), values)  # (B, Q, Dv)


class AttentionDecoder(nn.Module):
    """d2l's ``Seq2SeqAttentionDecoder``: ``[attention context, embedding]`` in, one step at
    a time, the query being the previous top-layer state."""

    def __init__(self, vocab_size: int, embed_size: int, hidden_size: int, num_layers: int,
                 dropout: float, rnn: str) -> None:
        super().__init__()
        self.attention = AdditiveAttention(hidden_size, hidden_size, hidden_size, dropout)
        self.embedding = nn.Embedding(vocab_size, embed_size)
        self.rnn = RNNS[rnn](embed_size + hidden_size, hidden_size, num_layers, dropout=dropout)
        self.dense = nn.Linear(hidden_size, vocab_size)

    def init_state(self, enc: tuple[torch.Tensor, torch.Tensor], src_valid_len: torch.Tensor
                   ) -> list[torch.Tensor]:
        """``[encoder outputs (B, Ts, H), state (L, B, H), valid lengths (B,)]``."""
        outputs, hidden = enc
        return [outputs.permute(1, 0, 2), hidden, src_valid_len]

    def forward(self, tgt: torch.Tensor, state: list[torch.Tensor]
                ) -> tuple[torch.Tensor, list[torch.Tensor]]:
        """``tgt`` ``(B, Tt)`` -> logits ``(B, Tt, V)`` and the new state."""
        enc_outputs, hidden, valid_lens = state
        outputs = []
        for x in self.embedding(tgt.t()):  # (B, E) per step
            query = hidden[-1].unsqueeze(1)  # (B, 1, H)
            context = self.attention(query, enc_outputs, enc_outputs, valid_lens)  # (B, 1, H)
            step_in = torch.cat([context, x.unsqueeze(1)], dim=-1)  # (B, 1, H + E)
            out, hidden = self.rnn(step_in.permute(1, 0, 2), hidden)  # (1, B, H)
            outputs.append(out)
        logits = self.dense(torch.cat(outputs, dim=0))  # (Tt, B, V)
        return logits.transpose(0, 1), [enc_outputs, hidden, valid_lens]  # (B, Tt, V)


class TorchSeq2Seq(nn.Module):
    """Encoder + decoder (``attention`` ``"additive"`` or ``"none"``), d2l's initialisation."""

    def __init__(self, src_vocab: int, tgt_vocab: int, embed_size: int = 256,
                 hidden_size: int = 256, num_layers: int = 2, dropout: float = 0.2,
                 rnn: str = "gru", attention: str = "additive", init: str = "d2l") -> None:
        super().__init__()
        if rnn not in RNNS or attention not in ("additive", "none") or init not in INITS:
            raise ValueError(f"rnn must be one of {list(RNNS)}, attention 'additive' or "
                             f"'none', init one of {INITS}; got {rnn!r}, {attention!r}, {init!r}")
        self.encoder = Encoder(src_vocab, embed_size, hidden_size, num_layers, dropout, rnn)
        dec = AttentionDecoder if attention == "additive" else Decoder
        self.decoder = dec(tgt_vocab, embed_size, hidden_size, num_layers, dropout, rnn)
        self.apply(lambda m: init_seq2seq(m, linear=init == "xavier"))

    def forward(self, src: torch.Tensor, src_valid_len: torch.Tensor, tgt_in: torch.Tensor
                ) -> torch.Tensor:
        """Teacher-forced logits ``(B, Tt, V)``."""
        state = self.decoder.init_state(self.encoder(src), src_valid_len)
        return self.decoder(tgt_in, state)[0]


def masked_loss(logits: torch.Tensor, tgt_out: torch.Tensor, tgt_valid_len: torch.Tensor
                ) -> torch.Tensor:
    """Mean cross-entropy over the labels before each valid length (d2l masks the labels equal
    to <pad>; ``tgt_valid_len`` counts exactly those that are not)."""
    ce = F.cross_entropy(logits.reshape(-1, logits.shape[-1]), tgt_out.reshape(-1),
                         reduction="none").view(tgt_out.shape)  # (B, Tt)
    steps = torch.arange(tgt_out.shape[1])  # (Tt,)
    mask = (steps[None, :] < tgt_valid_len[:, None]).to(ce.dtype)  # (B, Tt)
    return (ce * mask).sum() / mask.sum()


def clip_gradients(model: nn.Module, clip: float) -> None:
    """d2l's ``Trainer.clip_gradients``: scale every gradient by ``clip / norm`` when the
    joint norm exceeds ``clip``."""
    grads = [p.grad for p in model.parameters() if p.requires_grad and p.grad is not None]
    norm = torch.sqrt(torch.stack([torch.sum(g**2) for g in grads]).sum())
    if norm > clip:
        for g in grads:
            g.mul_(clip / norm)


def as_tensors(arrays: tuple[Any, ...]) -> tuple[torch.Tensor, ...]:
    """``(src, src_valid_len, tgt_in, tgt_out, tgt_valid_len)`` numpy arrays as int64 tensors."""
    return tuple(torch.from_numpy(np.ascontiguousarray(a, dtype=np.int64)) for a in arrays)


def train_epoch(model: TorchSeq2Seq, opt: torch.optim.Optimizer, data: tuple[torch.Tensor, ...],
                batch_size: int, clip: float) -> float:
    """One epoch over reshuffled minibatches; returns the mean of the minibatch losses."""
    model.train()
    order = torch.randperm(len(data[0]))  # d2l's DataLoader(shuffle=True)
    total, count = 0.0, 0
    for start in range(0, len(order), batch_size):
        src, src_len, tgt_in, tgt_out, tgt_len = (a[order[start:start + batch_size]]
                                                  for a in data)
        loss = masked_loss(model(src, src_len, tgt_in), tgt_out, tgt_len)
        opt.zero_grad()
        loss.backward()
        if clip > 0:
            clip_gradients(model, clip)
        opt.step()
        total, count = total + loss.item(), count + 1
    model.eval()
    return total / count


def train(model: TorchSeq2Seq, data: tuple[torch.Tensor, ...], epochs: int, batch_size: int,
          lr: float, clip: float = 1.0, budget: float | None = None,
          report: Callable[[int, float, float], None] | None = None) -> dict[str, Any]:
    """d2l's training loop with Adam: ``epochs`` epochs, or fewer when ``budget`` seconds have
    passed at the end of one. ``report(epoch, loss, seconds)`` after each epoch. Returns the
    epochs done, the training seconds, the pairs seen and the per-epoch losses."""
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    losses: list[float] = []
    start = time.perf_counter()
    for epoch in range(epochs):
        losses.append(train_epoch(model, opt, data, batch_size, clip))
        seconds = time.perf_counter() - start
        if report is not None:
            report(epoch, losses[-1], seconds)
        if budget is not None and seconds >= budget:
            break
    seconds = time.perf_counter() - start
    return {"epochs": len(losses), "seconds": seconds, "pairs": len(losses) * len(data[0]),
            "losses": losses}


@torch.no_grad()
def greedy(model: TorchSeq2Seq, src: torch.Tensor, src_valid_len: torch.Tensor, bos: int,
           num_steps: int) -> torch.Tensor:
    """d2l's ``predict_step``: from <bos>, ``num_steps`` argmax steps for the whole batch at
    once (eval mode). ``src`` ``(B, Ts)`` -> ids ``(B, num_steps)``."""
    model.eval()
    state = model.decoder.init_state(model.encoder(src), src_valid_len)
    token = torch.full((src.shape[0], 1), bos, dtype=torch.int64)  # (B, 1)
    out = []
    for _ in range(num_steps):
        logits, state = model.decoder(token, state)  # (B, 1, V)
        token = logits.argmax(dim=2)  # (B, 1)
        out.append(token)
    return torch.cat(out, dim=1)  # (B, num_steps)


def translate(model: TorchSeq2Seq, data: Any, sentences: list[str], batch_size: int = 512
              ) -> list[str]:
    """Greedy translations of ``sentences`` with ``data``'s vocabularies and ``num_steps``
    (a ``seqrnn.data.TranslationData``): tokens before the first <eos>, joined by spaces."""
    eos, out = data.tgt_vocab["<eos>"], []
    for start in range(0, len(sentences), batch_size):
        src, src_len = data.encode_source(sentences[start:start + batch_size])
        ids = greedy(model, torch.from_numpy(src), torch.from_numpy(src_len),
                     data.tgt_vocab["<bos>"], data.num_steps)
        for row in ids.tolist():
            row = row[:row.index(eos)] if eos in row else row
            out.append(" ".join(data.tgt_vocab.to_tokens(row)))
    return out
