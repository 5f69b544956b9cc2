"""Independent float64 NumPy reference for the RNN and the language model.

Written from the equations (min-char-rnn style loops over time), not from the Rust core:

    a_t = x_t W_ih^T + b_ih + h_{t-1} W_hh^T + b_hh,   h_t = f(a_t)   (f = tanh or relu)

Everything is time-major here: x (T, B, in), h0 (L, B, H). ``lengths`` (B,) freezes each
sequence after its valid length (state carried, output zero), as PyTorch's packed sequences.
Parameters are dicts keyed like ``torch.nn.RNN.state_dict()``.
"""

from __future__ import annotations

import numpy as np


def _f64(d):
    return {k: np.asarray(v, dtype=np.float64) for k, v in d.items()}


def _valid(T, B, lengths):
    """(T, B, 1) float mask: 1 where step t is within sequence b's valid length."""
    if lengths is None:
        return np.ones((T, B, 1))
    return (np.arange(T)[:, None] < np.asarray(lengths)[None, :]).astype(np.float64)[:, :, None]


def rnn_forward(p, x, h0=None, lengths=None, nonlinearity="tanh", num_layers=1):
    """x (T, B, in) -> (output (T, B, H), h_n (L, B, H), cache for rnn_backward)."""
    p = _f64(p)
    x = np.asarray(x, dtype=np.float64)
    T, B, _ = x.shape
    H = p["weight_hh_l0"].shape[0]
    f = np.tanh if nonlinearity == "tanh" else (lambda a: np.maximum(a, 0.0))
    m = _valid(T, B, lengths)  # (T, B, 1)
    h0 = np.zeros((num_layers, B, H)) if h0 is None else np.asarray(h0, dtype=np.float64)
    layer_in, cache, h_n = x, [], np.zeros((num_layers, B, H))
    for l in range(num_layers):
        W_ih, W_hh = p[f"weight_ih_l{l}"], p[f"weight_hh_l{l}"]
        b = p.get(f"bias_ih_l{l}", 0.0) + p.get(f"bias_hh_l{l}", 0.0)
        hs = np.zeros((T + 1, B, H))  # hs[t + 1] is the state after step t
        pre = np.zeros((T, B, H))
        hs[0] = h0[l]
        for t in range(T):
            pre[t] = layer_in[t] @ W_ih.T + hs[t] @ W_hh.T + b
            hs[t + 1] = m[t] * f(pre[t]) + (1 - m[t]) * hs[t]
        cache.append((layer_in, hs, pre))
        h_n[l] = hs[T]
        layer_in = m * hs[1:]  # (T, B, H): zero beyond the valid length
    return layer_in, h_n, (p, m, cache, nonlinearity)


def rnn_backward(fwd_cache, d_output, d_h_n=None):
    """BPTT of loss = sum(output * d_output) + sum(h_n * d_h_n) -> (grads, d_x, d_h0)."""
    p, m, cache, nonlinearity = fwd_cache
    L = len(cache)
    T, B, H = cache[0][2].shape
    d_layer_out = np.asarray(d_output, dtype=np.float64) * m  # (T, B, H)
    d_h_n = np.zeros((L, B, H)) if d_h_n is None else np.asarray(d_h_n, dtype=np.float64)
    grads, d_h0 = {}, np.zeros((L, B, H))
    for l in reversed(range(L)):
        layer_in, hs, pre = cache[l]
        W_ih, W_hh = p[f"weight_ih_l{l}"], p[f"weight_hh_l{l}"]
        dW_ih, dW_hh, db = np.zeros_like(W_ih), np.zeros_like(W_hh), np.zeros(H)
        d_in = np.zeros_like(layer_in)  # (T, B, in_l)
        dh = d_h_n[l].copy()  # (B, H): gradient flowing into hs[t + 1]
        for t in reversed(range(T)):
            dh = dh + d_layer_out[t]
            fprime = 1 - np.tanh(pre[t]) ** 2 if nonlinearity == "tanh" else (pre[t] > 0) * 1.0
            da = m[t] * dh * fprime  # (B, H)
            dW_ih += da.T @ layer_in[t]
            dW_hh += da.T @ hs[t]
            db += da.sum(axis=0)
            d_in[t] = da @ W_ih
            dh = (1 - m[t]) * dh + da @ W_hh
        d_h0[l] = dh
        grads[f"weight_ih_l{l}"], grads[f"weight_hh_l{l}"] = dW_ih, dW_hh
        if f"bias_ih_l{l}" in p:
            grads[f"bias_ih_l{l}"], grads[f"bias_hh_l{l}"] = db, db.copy()
        d_layer_out = d_in * m if l > 0 else d_in
    return grads, d_layer_out, d_h0


def embedding(W, ids):
    """W (V, E), ids (...) ints -> (..., E)."""
    return np.asarray(W, dtype=np.float64)[np.asarray(ids)]


def linear(x, W, b):
    """x (..., in), W (out, in), b (out,) -> (..., out)."""
    return x @ np.asarray(W, dtype=np.float64).T + np.asarray(b, dtype=np.float64)


def log_softmax(z):
    z = z - z.max(axis=-1, keepdims=True)
    return z - np.log(np.exp(z).sum(axis=-1, keepdims=True))


def masked_mean_ce(logits, targets, mask=None):
    """logits (N, V), targets (N,), mask (N,) or None -> (loss, d_logits (N, V))."""
    N = logits.shape[0]
    w = np.ones(N) if mask is None else np.asarray(mask, dtype=np.float64)
    lsm = log_softmax(logits)
    loss = -(w * lsm[np.arange(N), targets]).sum() / w.sum()
    d = np.exp(lsm)
    d[np.arange(N), targets] -= 1.0
    return loss, d * (w / w.sum())[:, None]


def _rnn_part(p):
    return {k[len("rnn.") :]: v for k, v in p.items() if k.startswith("rnn.")}


def lm_inputs(p, inputs, vocab_size):
    """inputs (batch, steps) ints -> time-major RNN input (steps, batch, E or V)."""
    ids = np.asarray(inputs).T  # (steps, batch)
    if "embedding.weight" in p:
        return embedding(p["embedding.weight"], ids)
    return np.eye(vocab_size)[ids]


def lm_logits(p, inputs, state=None, num_layers=1, nonlinearity="tanh"):
    """-> (logits (batch, steps, V), final state (L, batch, H))."""
    V = np.asarray(p["output.bias"]).shape[0]
    x = lm_inputs(p, inputs, V)
    out, h_n, _ = rnn_forward(_rnn_part(p), x, state, None, nonlinearity, num_layers)
    logits = linear(out, p["output.weight"], p["output.bias"])  # (steps, batch, V)
    return logits.transpose(1, 0, 2), h_n


def lm_loss_and_grads(p, inputs, targets, mask=None, state=None, num_layers=1, nonlinearity="tanh"):
    """Mean CE over unmasked positions -> (loss, grads keyed like p, final state)."""
    V = np.asarray(p["output.bias"]).shape[0]
    ids = np.asarray(inputs).T  # (steps, batch)
    x = lm_inputs(p, inputs, V)  # (steps, batch, E or V)
    out, h_n, cache = rnn_forward(_rnn_part(p), x, state, None, nonlinearity, num_layers)
    T, B, H = out.shape
    logits = linear(out, p["output.weight"], p["output.bias"]).reshape(T * B, V)
    tgt = np.asarray(targets).T.reshape(T * B)
    msk = None if mask is None else np.asarray(mask, dtype=np.float64).T.reshape(T * B)
    loss, d_logits = masked_mean_ce(logits, tgt, msk)  # d_logits (T*B, V)
    W_out = np.asarray(p["output.weight"], dtype=np.float64)
    grads = {"output.weight": d_logits.T @ out.reshape(T * B, H), "output.bias": d_logits.sum(0)}
    d_out = (d_logits @ W_out).reshape(T, B, H)
    rnn_grads, d_x, _ = rnn_backward(cache, d_out)
    grads.update({"rnn." + k: g for k, g in rnn_grads.items()})
    if "embedding.weight" in p:
        dE = np.zeros(np.asarray(p["embedding.weight"]).shape)
        np.add.at(dE, ids, d_x)
        grads["embedding.weight"] = dE
    return loss, grads, h_n
