"""The plain-NumPy baseline of ``bench.py``: a one-hot character RNN language model.

Everything is batched numpy in float32; only the recurrence is a Python loop over time. The
one-hot input is a gather (row ``v`` of ``weight_ih.T`` is the input projection of token ``v``),
never a product with a one-hot matrix; its gradient is a scatter-add. The parameters are
seqrnn's/PyTorch's (two biases, kept apart so SGD and clipping see what they see).

Shapes: ids time-major ``(steps, batch)``; states ``(batch, hidden)``.
"""

from __future__ import annotations

from typing import Any

import numpy as np

Array = np.ndarray[Any, Any]


class NumpyLM:
    """tanh RNN over one-hot characters + linear logits, with BPTT, SGD and sampling."""

    def __init__(self, state_dict: dict[str, Array]) -> None:
        p = {k: np.array(a, dtype=np.float32) for k, a in state_dict.items()}
        self.w_ih_t = np.ascontiguousarray(p["rnn.weight_ih_l0"].T)  # (V, H)
        self.w_hh = p["rnn.weight_hh_l0"]  # (H, H)
        self.b_ih, self.b_hh = p["rnn.bias_ih_l0"], p["rnn.bias_hh_l0"]  # (H,) each
        self.w_out, self.b_out = p["output.weight"], p["output.bias"]  # (V, H), (V,)
        self.vocab_size, self.hidden_size = self.w_ih_t.shape

    def params(self) -> dict[str, Array]:
        """The parameters under seqrnn's names (``weight_ih`` as a transposed view)."""
        return {"rnn.weight_ih_l0": self.w_ih_t.T, "rnn.weight_hh_l0": self.w_hh,
                "rnn.bias_ih_l0": self.b_ih, "rnn.bias_hh_l0": self.b_hh,
                "output.weight": self.w_out, "output.bias": self.b_out}

    def loss_and_grads(self, x: Array, y: Array, h0: Array
                       ) -> tuple[float, dict[str, Array], Array]:
        """Mean cross-entropy of ``y`` given ``x`` (both ``(T, B)``), gradients, final state."""
        steps, batch = x.shape
        n = steps * batch
        hs = np.empty((steps + 1, batch, self.hidden_size), np.float32)  # (T+1, B, H)
        hs[0] = h0
        xw = self.w_ih_t[x]  # (T, B, H) the one-hot input as a gather
        xw += self.b_ih + self.b_hh
        w_hh_t = self.w_hh.T  # (H, H)
        for t in range(steps):
            z = hs[t] @ w_hh_t  # (B, H)
            z += xw[t]
            np.tanh(z, out=hs[t + 1])
        hf = hs[1:].reshape(n, self.hidden_size)  # (T*B, H)
        logits = hf @ self.w_out.T  # (T*B, V)
        logits += self.b_out
        logits -= logits.max(axis=1, keepdims=True)
        p = np.exp(logits)  # (T*B, V)
        z_sum = p.sum(axis=1, keepdims=True)  # (T*B, 1)
        rows, yf = np.arange(n), y.reshape(n)
        loss = float(np.mean(np.log(z_sum[:, 0]) - logits[rows, yf]))
        p /= z_sum
        p[rows, yf] -= 1.0
        p /= n  # d loss / d logits, (T*B, V)
        d_w_out = p.T @ hf  # (V, H)
        d_b_out = p.sum(axis=0)  # (V,)
        dh_out = (p @ self.w_out).reshape(steps, batch, self.hidden_size)  # (T, B, H)
        dz = np.empty_like(dh_out)  # (T, B, H) gradient at the pre-activations
        dh = np.zeros((batch, self.hidden_size), np.float32)  # (B, H) from step t+1
        for t in range(steps - 1, -1, -1):
            dh += dh_out[t]
            np.multiply(dh, 1.0 - hs[t + 1] * hs[t + 1], out=dz[t])
            dh = dz[t] @ self.w_hh  # (B, H)
        dzf = dz.reshape(n, self.hidden_size)  # (T*B, H)
        d_w_hh = dzf.T @ hs[:-1].reshape(n, self.hidden_size)  # (H, H)
        d_b = dzf.sum(axis=0)  # (H,)
        d_w_ih_t = np.zeros_like(self.w_ih_t)  # (V, H)
        np.add.at(d_w_ih_t, x.reshape(n), dzf)  # the gather's gradient: a scatter-add
        grads = {"rnn.weight_ih_l0": d_w_ih_t.T, "rnn.weight_hh_l0": d_w_hh,
                 "rnn.bias_ih_l0": d_b, "rnn.bias_hh_l0": d_b.copy(),
                 "output.weight": d_w_out, "output.bias": d_b_out}
        return loss, grads, hs[-1].copy()

    def train_epoch(self, xs: Array, ys: Array, lr: float, clip: float) -> float:
        """SGD over minibatches ``xs``/``ys`` ``(num_batches, T, B)``, the state carried (and
        cut) between them, gradients clipped to global norm ``clip``. Returns the mean loss."""
        h = np.zeros((xs.shape[2], self.hidden_size), np.float32)  # (B, H)
        params, total = self.params(), 0.0
        for x, y in zip(xs, ys, strict=True):
            loss, grads, h = self.loss_and_grads(x, y, h)
            norm = np.sqrt(sum(float(np.vdot(g, g)) for g in grads.values()))
            scale = lr * min(1.0, clip / (norm + 1e-6))
            for k, g in grads.items():
                params[k] -= np.float32(scale) * g
            total += loss
        return total / len(xs)

    def generate(self, prefix: list[int], num_tokens: int, temperature: float,
                 rng: np.random.Generator) -> list[int]:
        """The prefix and ``num_tokens`` ids sampled from ``softmax(logits / temperature)``."""
        h = np.zeros(self.hidden_size, np.float32)  # (H,)
        b = self.b_ih + self.b_hh  # (H,)
        for tok in prefix[:-1]:
            h = np.tanh(self.w_hh @ h + self.w_ih_t[tok] + b)
        out, tok = list(prefix), prefix[-1]
        for _ in range(num_tokens):
            h = np.tanh(self.w_hh @ h + self.w_ih_t[tok] + b)  # (H,) a matvec and a gather
            z = (self.w_out @ h + self.b_out) / np.float32(temperature)  # (V,)
            cdf = np.cumsum(np.exp(z - z.max()))  # (V,) unnormalized
            tok = int(np.searchsorted(cdf, rng.random() * cdf[-1], side="right"))
            out.append(tok)
        return out
