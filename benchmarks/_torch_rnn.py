"""The PyTorch baseline of ``bench.py``: the same models written the way a PyTorch user would.

Eager mode, float32, CPU: ``nn.RNN`` + ``nn.Linear`` + ``F.cross_entropy`` +
``clip_grad_norm_`` + ``torch.optim.SGD`` (d2l's ``train_epoch_ch8`` for the language model,
d2l's ``train_seq2seq`` with a masked loss for translation). Module attribute names are chosen
so each ``state_dict`` has seqrnn's keys and both start from the same weights.

Shapes: ids time-major ``(steps, batch)`` as ``int64`` tensors; states ``(1, batch, hidden)``.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.utils import clip_grad_norm_
from torch.nn.utils.rnn import pack_padded_sequence


def _load(module: nn.Module, state_dict: dict[str, Any]) -> None:
    module.load_state_dict({k: torch.from_numpy(np.array(a, dtype=np.float32))
                            for k, a in state_dict.items()})


def _grads(module: nn.Module) -> dict[str, np.ndarray[Any, Any]]:
    return {k: p.grad.numpy().copy() for k, p in module.named_parameters() if p.grad is not None}


class TorchLM(nn.Module):
    """One-hot characters -> ``nn.RNN`` -> ``nn.Linear``."""

    def __init__(self, state_dict: dict[str, Any]) -> None:
        super().__init__()
        hidden, vocab = state_dict["rnn.weight_ih_l0"].shape
        self.vocab_size = vocab
        self.rnn = nn.RNN(vocab, hidden)
        self.output = nn.Linear(hidden, vocab)
        _load(self, state_dict)

    def loss(self, x: torch.Tensor, y: torch.Tensor, state: torch.Tensor
             ) -> tuple[torch.Tensor, torch.Tensor]:
        """Mean cross-entropy of ``y`` given ``x`` ``(T, B)`` and the final state."""
        inputs = F.one_hot(x, self.vocab_size).to(torch.float32)  # (T, B, V)
        out, state = self.rnn(inputs, state)  # (T, B, H), (1, B, H)
        logits = self.output(out)  # (T, B, V)
        return F.cross_entropy(logits.reshape(-1, self.vocab_size), y.reshape(-1)), state

    def loss_and_grads(self, x: torch.Tensor, y: torch.Tensor) -> tuple[float, dict[str, Any]]:
        """For the cross-check against seqrnn: loss and gradients from a zero state."""
        self.zero_grad(set_to_none=True)
        loss, _ = self.loss(x, y, torch.zeros(1, x.shape[1], self.rnn.hidden_size))
        loss.backward()
        return loss.item(), _grads(self)

    def train_epoch(self, xs: torch.Tensor, ys: torch.Tensor, lr: float, clip: float) -> float:
        """SGD over ``xs``/``ys`` ``(num_batches, T, B)``, the state carried and detached."""
        opt = torch.optim.SGD(self.parameters(), lr=lr)
        state = torch.zeros(1, xs.shape[2], self.rnn.hidden_size)  # (1, B, H)
        total = 0.0
        for x, y in zip(xs, ys, strict=True):
            loss, state = self.loss(x, y, state.detach())
            opt.zero_grad(set_to_none=True)
            loss.backward()
            clip_grad_norm_(self.parameters(), clip)
            opt.step()
            total += loss.item()
        return total / len(xs)

    @torch.no_grad()
    def generate(self, prefix: list[int], num_tokens: int, temperature: float,
                 generator: torch.Generator) -> list[int]:
        """The prefix and ``num_tokens`` ids sampled one at a time (``torch.multinomial``)."""
        eye = torch.eye(self.vocab_size)  # (V, V): row v is token v's one-hot vector
        state = torch.zeros(1, 1, self.rnn.hidden_size)  # (1, 1, H)
        for tok in prefix[:-1]:
            _, state = self.rnn(eye[tok].view(1, 1, -1), state)
        out, tok = list(prefix), prefix[-1]
        for _ in range(num_tokens):
            y, state = self.rnn(eye[tok].view(1, 1, -1), state)  # (1, 1, H)
            probs = torch.softmax(self.output(y[0, 0]) / temperature, dim=-1)  # (V,)
            tok = int(torch.multinomial(probs, 1, generator=generator))
            out.append(tok)
        return out


class TorchSeq2Seq(nn.Module):
    """Embedding + ``nn.RNN`` encoder (packed: it stops at each valid length), embedding +
    ``nn.RNN`` decoder fed ``[embedding, context]`` from the encoder's final state, linear."""

    def __init__(self, state_dict: dict[str, Any]) -> None:
        super().__init__()
        src_vocab, embed = state_dict["encoder.embedding.weight"].shape
        tgt_vocab, hidden = state_dict["decoder.output.weight"].shape
        self.encoder = nn.ModuleDict({"embedding": nn.Embedding(src_vocab, embed),
                                      "rnn": nn.RNN(embed, hidden)})
        self.decoder = nn.ModuleDict({"embedding": nn.Embedding(tgt_vocab, embed),
                                      "rnn": nn.RNN(embed + hidden, hidden),
                                      "output": nn.Linear(hidden, tgt_vocab)})
        _load(self, state_dict)

    def loss(self, src: torch.Tensor, src_len: torch.Tensor, tgt_in: torch.Tensor,
             tgt_out: torch.Tensor, tgt_len: torch.Tensor) -> torch.Tensor:
        """Masked mean cross-entropy; ids ``(T, B)``, valid lengths ``(B,)``."""
        emb = self.encoder["embedding"](src)  # (Ts, B, E)
        _, state = self.encoder["rnn"](pack_padded_sequence(emb, src_len, enforce_sorted=False))
        steps = tgt_in.shape[0]
        context = state[-1].expand(steps, -1, -1)  # (Tt, B, H)
        dec_in = torch.cat([self.decoder["embedding"](tgt_in), context], dim=-1)  # (Tt, B, E+H)
        out, _ = self.decoder["rnn"](dec_in, state)  # (Tt, B, H)
        logits = self.decoder["output"](out)  # (Tt, B, V)
        ce = F.cross_entropy(logits.reshape(-1, logits.shape[-1]), tgt_out.reshape(-1),
                             reduction="none").view(steps, -1)  # (Tt, B)
        mask = (torch.arange(steps)[:, None] < tgt_len[None, :]).to(ce.dtype)  # (Tt, B)
        return (ce * mask).sum() / mask.sum()

    def loss_and_grads(self, *batch: torch.Tensor) -> tuple[float, dict[str, Any]]:
        """For the cross-check against seqrnn."""
        self.zero_grad(set_to_none=True)
        loss = self.loss(*batch)
        loss.backward()
        return loss.item(), _grads(self)

    def train_epoch(self, batches: list[tuple[torch.Tensor, ...]], lr: float, clip: float
                    ) -> float:
        """SGD over prepared minibatches ``(src, src_len, tgt_in, tgt_out, tgt_len)``."""
        opt = torch.optim.SGD(self.parameters(), lr=lr)
        total = 0.0
        for batch in batches:
            loss = self.loss(*batch)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            clip_grad_norm_(self.parameters(), clip)
            opt.step()
            total += loss.item()
        return total / len(batches)
