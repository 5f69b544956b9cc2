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


# --- seq2seq (d2l): encoder RNN stopped at each source's valid length, decoder RNN started from
# its final states, the encoder's top final state c appended to every decoder input ("concat").


def _part(p, prefix):
    return {
        k[len(prefix) :]: np.asarray(v, dtype=np.float64)
        for k, v in p.items()
        if k.startswith(prefix)
    }


def seq2seq_encode(p, src, src_valid_len, num_layers=1):
    """src (B, Ts) ints -> (h_enc (L, B, H), encoder cache)."""
    ids = np.asarray(src).T  # (Ts, B)
    x = embedding(p["encoder.embedding.weight"], ids)  # (Ts, B, E)
    _, h_enc, cache = rnn_forward(
        _part(p, "encoder.rnn."), x, None, src_valid_len, "tanh", num_layers
    )
    return h_enc, cache


def seq2seq_decoder_inputs(p, ids, c, context):
    """ids (T, B) ints, c (B, H) -> (T, B, E [+ H]): [embedding, c] for "concat"."""
    emb = embedding(p["decoder.embedding.weight"], ids)  # (T, B, E)
    if context == "none":
        return emb
    return np.concatenate([emb, np.broadcast_to(c, ids.shape + c.shape[1:])], axis=-1)


def seq2seq_loss_and_grads(
    p, src, src_valid_len, tgt_in, tgt_out, tgt_valid_len, num_layers=1, context="concat"
):
    """Batch-first ids (B, Ts), (B, Tt), lengths (B,) -> (mean CE over t < tgt_valid_len, grads)."""
    h_enc, enc_cache = seq2seq_encode(p, src, src_valid_len, num_layers)  # (L, B, H)
    tin, tout = np.asarray(tgt_in).T, np.asarray(tgt_out).T  # (Tt, B)
    Tt, B = tin.shape
    E = np.asarray(p["decoder.embedding.weight"]).shape[1]
    x = seq2seq_decoder_inputs(p, tin, h_enc[-1], context)  # (Tt, B, E [+ H])
    out, _, dec_cache = rnn_forward(_part(p, "decoder.rnn."), x, h_enc, None, "tanh", num_layers)
    H = out.shape[2]
    W = np.asarray(p["decoder.output.weight"], dtype=np.float64)  # (V, H)
    logits = linear(out, W, p["decoder.output.bias"]).reshape(Tt * B, -1)  # (Tt*B, V)
    mask = _valid(Tt, B, tgt_valid_len).reshape(Tt * B)
    loss, d_logits = masked_mean_ce(logits, tout.reshape(Tt * B), mask)
    grads = {
        "decoder.output.weight": d_logits.T @ out.reshape(Tt * B, H),
        "decoder.output.bias": d_logits.sum(0),
    }
    d_out = (d_logits @ W).reshape(Tt, B, H)
    dec_grads, d_x, d_h_enc = rnn_backward(dec_cache, d_out)  # d_x (Tt, B, E [+ H])
    if context == "concat":
        d_h_enc[-1] += d_x[..., E:].sum(axis=0)  # c is used at every step
    src_ids = np.asarray(src).T  # (Ts, B)
    enc_grads, d_src, _ = rnn_backward(enc_cache, np.zeros(src_ids.shape + (H,)), d_h_enc)
    for side, ids, d in (("decoder", tin, d_x[..., :E]), ("encoder", src_ids, d_src)):
        dE = np.zeros(np.asarray(p[f"{side}.embedding.weight"]).shape)
        np.add.at(dE, ids, d)
        grads[f"{side}.embedding.weight"] = dE
    grads.update({"decoder.rnn." + k: g for k, g in dec_grads.items()})
    grads.update({"encoder.rnn." + k: g for k, g in enc_grads.items()})
    return loss, grads


def seq2seq_next_log_probs(p, src, src_valid_len, prefixes, bos, num_layers=1, context="concat"):
    """log P(next token | source b, <bos> + prefixes[b]) for each row b -> (B, V)."""
    h_enc, _ = seq2seq_encode(p, src, src_valid_len, num_layers)  # (L, B, H)
    rows = []
    for b, prefix in enumerate(prefixes):
        ids = np.array([bos, *prefix])[:, None]  # (T, 1)
        x = seq2seq_decoder_inputs(p, ids, h_enc[-1][b : b + 1], context)
        _, h, _ = rnn_forward(
            _part(p, "decoder.rnn."), x, h_enc[:, b : b + 1], None, "tanh", num_layers
        )
        rows.append(
            log_softmax(linear(h[-1], p["decoder.output.weight"], p["decoder.output.bias"]))[0]
        )
    return np.array(rows)


def seq2seq_greedy(p, src, src_valid_len, bos, eos, max_len, num_layers=1, context="concat"):
    """Greedy translation of each source row: token lists without <bos>/<eos>."""
    out = [[] for _ in range(len(src_valid_len))]
    done = [False] * len(out)
    for _ in range(max_len):
        lp = seq2seq_next_log_probs(p, src, src_valid_len, out, bos, num_layers, context)
        for b, v in enumerate(lp.argmax(axis=1)):
            if not done[b]:
                done[b] = v == eos
                out[b] += [] if done[b] else [int(v)]
    return out


def seq2seq_beam(
    p, src, src_valid_len, bos, eos, max_len, beam_size, alpha=0.75, num_layers=1, context="concat"
):
    """d2l beam search of each source row -> [(tokens, log_prob, score)], the best by score.

    Keeps the ``beam_size`` most probable extensions (ties: earlier beam, then smaller id); one
    ending in <eos> is finished, the others are the next prefixes. A sentence stops once no
    live prefix can still score above the best finished one (at most log_prob /
    max_len**alpha), none is alive, or after ``max_len`` tokens, when the unfinished prefixes
    join the finished ones. Score:
    log_prob / L**alpha, L counting <eos> when emitted.
    """
    src, best = np.asarray(src), []
    for b, n in enumerate(src_valid_len):
        beams, finished = [([], 0.0)], []
        for step in range(max_len):
            rows = (np.repeat(src[b : b + 1], len(beams), 0), [n] * len(beams))
            lp = seq2seq_next_log_probs(p, *rows, [t for t, _ in beams], bos, num_layers, context)
            cands = sorted(
                (
                    (s + lp[r, v], r, v)
                    for r, (_, s) in enumerate(beams)
                    for v in range(lp.shape[1])
                ),
                key=lambda c: (-c[0], c[1], c[2]),
            )
            alive = []
            for s, r, v in cands[:beam_size]:
                if v == eos:
                    finished.append((beams[r][0], s, len(beams[r][0]) + 1))
                else:
                    alive.append((beams[r][0] + [v], s))
            beams = alive
            if step + 1 == max_len:
                finished += [(t, s, len(t)) for t, s in alive]
            best_score = max((s / n**alpha for _, s, n in finished), default=-np.inf)
            if not alive or all(s / max_len**alpha <= best_score for _, s in alive):
                break
        t, s, length = max(finished, key=lambda f: f[1] / f[2] ** alpha)
        best.append((t, s, s / length**alpha))
    return best


# --- seq2seq with additive attention (d2l 11.4): at each step the decoder's top state h attends
# to the encoder's top states v_i (i < valid length): e_i = w_v . tanh(W_q h + W_k v_i),
# a = softmax(e), c = sum_i a_i v_i; the decoder's input is [c, embedding].


def attention_decode(p, h_enc, enc_out, src_valid_len, ids, num_layers=1):
    """ids (T, B) from state h_enc (L, B, H) over enc_out (Ts, B, H) -> (top states (T, B, H),
    final state, attention weights (T, B, Ts))."""
    Wq, Wk, wv = (np.asarray(p[f"decoder.attention.{k}.weight"], dtype=np.float64)
                  for k in ("W_q", "W_k", "w_v"))
    keys = enc_out @ Wk.T  # (Ts, B, A)
    Ts = enc_out.shape[0]
    valid = np.arange(Ts)[:, None] < np.asarray(src_valid_len)[None, :]  # (Ts, B)
    emb = embedding(p["decoder.embedding.weight"], ids)  # (T, B, E)
    h, tops, weights = np.asarray(h_enc, dtype=np.float64), [], []
    for t in range(ids.shape[0]):
        e = np.tanh((h[-1] @ Wq.T)[None] + keys) @ wv[0]  # (Ts, B)
        e = np.where(valid, e, -np.inf)
        a = np.exp(e - e.max(axis=0))
        a /= a.sum(axis=0)  # (Ts, B)
        c = (a[..., None] * enc_out).sum(axis=0)  # (B, H)
        x = np.concatenate([c, emb[t]], axis=-1)[None]  # (1, B, H + E)
        out, h, _ = rnn_forward(_part(p, "decoder.rnn."), x, h, None, "tanh", num_layers)
        tops.append(out[0])
        weights.append(a.T)
    return np.array(tops), h, np.array(weights)


def attention_loss(p, src, src_valid_len, tgt_in, tgt_out, tgt_valid_len, num_layers=1):
    """Batch-first ids -> mean cross-entropy over t < tgt_valid_len (forward only)."""
    ids = np.asarray(src).T  # (Ts, B)
    x = embedding(p["encoder.embedding.weight"], ids)
    enc_out, h_enc, _ = rnn_forward(_part(p, "encoder.rnn."), x, None, src_valid_len, "tanh",
                                    num_layers)
    tin, tout = np.asarray(tgt_in).T, np.asarray(tgt_out).T  # (Tt, B)
    tops, _, _ = attention_decode(p, h_enc, enc_out, src_valid_len, tin, num_layers)
    Tt, B = tin.shape
    logits = linear(tops, p["decoder.output.weight"], p["decoder.output.bias"])
    mask = _valid(Tt, B, tgt_valid_len).reshape(Tt * B)
    return masked_mean_ce(logits.reshape(Tt * B, -1), tout.reshape(Tt * B), mask)[0]


def attention_greedy(p, src, src_valid_len, bos, eos, max_len, num_layers=1):
    """Greedy translation of each source row with attention: token lists without <bos>/<eos>."""
    out = []
    for b, n in enumerate(src_valid_len):
        ids = np.asarray(src)[b : b + 1, :n].T  # (n, 1)
        x = embedding(p["encoder.embedding.weight"], ids)
        enc_out, h, _ = rnn_forward(_part(p, "encoder.rnn."), x, None, None, "tanh", num_layers)
        tokens, feed = [], bos
        while len(tokens) < max_len:
            top, h, _ = attention_decode(p, h, enc_out, [n], np.array([[feed]]), num_layers)
            feed = int(np.argmax(linear(top[0], p["decoder.output.weight"],
                                        p["decoder.output.bias"])))
            if feed == eos:
                break
            tokens.append(feed)
        out.append(tokens)
    return out
