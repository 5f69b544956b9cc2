"""The cases of ``bench.py``: data, FLOP models, correctness cross-checks, and the work to time.

Each factory builds its data once, warms every implementation up, checks that the baselines
compute what seqrnn computes (same weights, same minibatch: loss and every gradient), and returns
a :class:`Case`. ``case.run[impl]()`` prepares one measurement (untimed: fresh model, etc.) and
returns the part to time, which does the work and returns how much it did (tokens, pairs,
GFLOPs); ``bench.py`` times it and turns it into a value with :meth:`Case.value`.
"""

from __future__ import annotations

import inspect
import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from typing import Any

import numpy as np
import seqrnn
from _numpy_rnn import NumpyLM

try:
    import _torch_seq2seq as d2l_torch
    import torch
    from _torch_rnn import TorchLM, TorchSeq2Seq
except ImportError:  # the PyTorch columns stay empty
    torch = None

Array = np.ndarray[Any, Any]
VOCAB, STEPS, CLIP, LR = 28, 35, 1.0, 1.0  # char-LM: d2l's Time Machine settings
S2S_VOCAB, S2S_EMBED, S2S_HIDDEN, S2S_STEPS, S2S_BATCH, S2S_LR = 200, 32, 256, 10, 64, 0.5
BEAM, BEAM_EOS = 4, 2  # beam search: beam size, the id of <eos>
ATT_LAYERS, ATT_BATCH, ATT_LR = 2, 128, 0.005  # with attention: d2l 11.4's network and Adam


Work = Callable[[], float]  # does the timed work, returns its amount in the case's unit
LATENCIES = {"us/token": 1e6, "ms/step": 1e3}  # units of time per amount: seconds x scale


@dataclass
class Case:
    """One benchmark case: ``run[impl]()`` prepares a measurement and returns its :data:`Work`."""

    group: str  # "lm", "generate", "seq2seq", "beam" or "matmul"
    label: str  # e.g. "H=256, B=32"
    unit: str  # "tokens/s", "pairs/s" and "GFLOP/s" (rates) or "us/token", "ms/step" (latencies)
    flops: float  # model FLOPs per token or pair (0: not applicable)
    run: dict[str, Callable[[], Work]]
    checks: list[str] = field(default_factory=list)  # what was verified, data sizes
    perplexity: dict[str, float] = field(default_factory=dict)  # training ones, last repeat

    def value(self, amount: float, seconds: float) -> float:
        """The measured value of ``amount`` of work done in ``seconds``."""
        scale = LATENCIES.get(self.unit)
        return scale * seconds / amount if scale else amount / seconds

    def gflops(self, value: float) -> float:
        """Achieved GFLOP/s for a measured value under the FLOP model."""
        scale = LATENCIES.get(self.unit)
        per_second = scale / value if scale else value
        return self.flops * per_second / 1e9


def _compare(what: str, ref: tuple[float, dict[str, Array]], got: tuple[float, dict[str, Any]]
             ) -> str:
    """Relative differences of loss and gradients; fails loudly if they are not the same math."""
    loss_err = abs(got[0] - ref[0]) / abs(ref[0])
    grad_err = max(float(np.max(np.abs(np.asarray(got[1][k]) - g)) / (np.max(np.abs(g)) + 1e-30))
                   for k, g in ref[1].items())
    if loss_err > 1e-4 or grad_err > 1e-3:
        raise SystemExit(f"{what} does not match seqrnn: loss rel. err {loss_err:.1e}, "
                         f"worst gradient rel. err {grad_err:.1e}")
    return f"{what} = seqrnn (loss {loss_err:.0e}, gradients {grad_err:.0e} rel.)"


def _words_corpus(num_tokens: int, vocab: int, seed: int = 0) -> Array:
    """Learnable character ids: 400 random "words" (ids 1..vocab-1) drawn at random, each
    followed by a space (id 0)."""
    rng = np.random.default_rng(seed)
    words = [np.append(rng.integers(1, vocab, size=n), 0) for n in rng.integers(2, 9, size=400)]
    picks = rng.integers(0, len(words), size=num_tokens // 2 + 1)  # >= 3 ids a word
    return np.concatenate([words[i] for i in picks])[:num_tokens]


def _sequential_batches(ids: Array, batch: int, steps: int) -> tuple[Array, Array]:
    """d2l's sequential partitioning (offset 0): ``(num_batches, steps, batch)`` inputs and
    targets, time-major; batch ``i + 1`` continues batch ``i`` row by row."""
    per_row = (len(ids) - 1) // batch
    nb = per_row // steps
    start = (np.arange(batch) * per_row)[None, None, :] + (np.arange(nb) * steps)[:, None, None]
    idx = start + np.arange(steps)[None, :, None]  # (nb, T, B)
    return ids[idx], ids[idx + 1]


def _counted(amount: float, fn: Callable[..., Any], *args: Any) -> Work:
    """The work ``fn(*args)``, reporting ``amount``."""

    def work() -> float:
        fn(*args)
        return amount

    return work


def _training(case: Case, name: str, make: Callable[[], Any],
              epoch: Callable[[Any], tuple[float, float]]) -> Callable[[], Work]:
    """Preparation builds a fresh model (untimed); the work is ``epoch(model)``, which returns
    the amount done and the training perplexity."""

    def prepare() -> Work:
        model = make()

        def work() -> float:
            amount, case.perplexity[name] = epoch(model)
            return amount

        return work

    return prepare


def lm_training(hidden: int, batch: int, impls: list[str], seconds: float) -> Case:
    """char-LM training, tokens/s: one epoch of sequential minibatches with SGD and clipping."""

    def make() -> seqrnn.LanguageModel:
        return seqrnn.LanguageModel(VOCAB, hidden_size=hidden, seed=0)

    def seqrnn_epoch(lm: seqrnn.LanguageModel, ids: Array) -> tuple[float, float]:
        h = lm.fit(ids, epochs=1, batch_size=batch, num_steps=STEPS, lr=LR, clip=CLIP,
                   sampling="sequential", progress=False, seed=0)
        return round(h.tokens_per_second[0] * h.seconds[0]), h.train_perplexity[0]

    # Warm seqrnn up and size the corpus so that one of its epochs takes about `seconds`.
    lm, t0 = make(), time.perf_counter()
    warm_tokens, _ = seqrnn_epoch(lm, _words_corpus(4 * batch * STEPS + STEPS + 2, VOCAB))
    rate = warm_tokens / (time.perf_counter() - t0)
    ids = _words_corpus(max(4 * batch * STEPS, int(seconds * rate)) + STEPS + 2, VOCAB)
    xs, ys = _sequential_batches(ids, batch, STEPS)  # (nb, T, B) each
    weights = make().state_dict()
    ref = make().loss_and_grads(xs[0].T, ys[0].T)  # batch-major in seqrnn's Python API
    case = Case("lm", f"H={hidden}, B={batch}", "tokens/s", 6.0 * hidden * (hidden + VOCAB), {},
                [f"{len(ids):,}-token corpus, {len(xs)} minibatches an epoch"])
    case.run["seqrnn"] = _training(case, "seqrnn", make, lambda lm: seqrnn_epoch(lm, ids))
    tokens = float(xs.size)
    if "torch" in impls and torch is not None:
        txs, tys = torch.from_numpy(xs), torch.from_numpy(ys)
        case.checks.append(_compare("PyTorch", ref, TorchLM(weights).loss_and_grads(txs[0],
                                                                                    tys[0])))
        TorchLM(weights).train_epoch(txs[:2], tys[:2], LR, CLIP)  # warm-up
        case.run["torch"] = _training(case, "torch", lambda: TorchLM(weights), lambda m: (
            tokens, math.exp(m.train_epoch(txs, tys, LR, CLIP))))
    if "numpy" in impls:
        zero = np.zeros((batch, hidden), np.float32)  # (B, H)
        loss, grads, _ = NumpyLM(weights).loss_and_grads(xs[0], ys[0], zero)
        case.checks.append(_compare("NumPy", ref, (loss, grads)))
        NumpyLM(weights).train_epoch(xs[:2], ys[:2], LR, CLIP)  # warm-up
        case.run["numpy"] = _training(case, "numpy", lambda: NumpyLM(weights), lambda m: (
            tokens, math.exp(m.train_epoch(xs, ys, LR, CLIP))))
    return case


def generation(hidden: int, impls: list[str], num_tokens: int) -> Case:
    """Single-stream sampling latency, us/token: batch 1, temperature 1, state carried."""
    lm = seqrnn.LanguageModel(VOCAB, hidden_size=hidden, seed=0)
    weights = lm.state_dict()
    prefix = [int(i) for i in _words_corpus(8, VOCAB)]
    case = Case("generate", f"H={hidden}", "us/token", 2.0 * hidden * (hidden + VOCAB), {})
    gens: dict[str, Callable[[int], Any]] = {
        "seqrnn": lambda n: lm.generate(prefix, n, temperature=1.0, seed=0)}
    if "torch" in impls and torch is not None:
        tlm, gen = TorchLM(weights), torch.Generator().manual_seed(0)
        gens["torch"] = lambda n: tlm.generate(prefix, n, 1.0, gen)
    if "numpy" in impls:
        nlm, rng = NumpyLM(weights), np.random.default_rng(0)
        gens["numpy"] = lambda n: nlm.generate(prefix, n, 1.0, rng)
    for name, g in gens.items():
        g(50)  # warm-up
        case.run[name] = partial(_counted, float(num_tokens), g, num_tokens)
    case.checks.append(f"{num_tokens} tokens after a {len(prefix)}-token prefix per measurement")
    return case


def _pairs(n: int, seed: int = 0) -> tuple[Array, ...]:
    """``n`` random sentence pairs, valid lengths in 6..10 of 10 (about 20% padding, id 0);
    ``tgt_in`` starts with <bos> (1), ``tgt_out`` ends with <eos> (2)."""
    rng = np.random.default_rng(seed)
    steps = np.arange(S2S_STEPS)[None, :]
    src_len, tgt_len = (rng.integers(6, S2S_STEPS + 1, size=n) for _ in range(2))
    src = np.where(steps < src_len[:, None], rng.integers(3, S2S_VOCAB, size=(n, S2S_STEPS)), 0)
    words = rng.integers(3, S2S_VOCAB, size=(n, S2S_STEPS))
    tgt_out = np.where(steps < tgt_len[:, None] - 1, words, 0)
    tgt_out[np.arange(n), tgt_len - 1] = 2
    tgt_in = np.where(steps < tgt_len[:, None], np.concatenate(
        [np.ones((n, 1), np.int64), words[:, :-1]], axis=1), 0)
    return src, src_len, tgt_in, tgt_out, tgt_len


def seq2seq_training(impls: list[str], seconds: float, hidden: int = S2S_HIDDEN) -> Case:
    """Encoder-decoder training with teacher forcing, pairs/s: SGD, clipping, masked loss."""

    def make() -> seqrnn.Seq2Seq:
        return seqrnn.Seq2Seq(S2S_VOCAB, S2S_VOCAB, embed_size=S2S_EMBED, hidden_size=hidden,
                              num_layers=1, context="concat", seed=0)

    def seqrnn_epoch(m: seqrnn.Seq2Seq, data: tuple[Array, ...]) -> tuple[float, float]:
        h = m.fit(data, epochs=1, batch_size=S2S_BATCH, lr=S2S_LR, optimizer="sgd", clip=CLIP,
                  progress=False, seed=0)
        return float(len(data[0])), h.train_perplexity[0]

    m, t0 = make(), time.perf_counter()
    pairs, _ = seqrnn_epoch(m, _pairs(4 * S2S_BATCH))  # warm-up and sizing
    rate = pairs / (time.perf_counter() - t0)
    n = S2S_BATCH * max(4, round(seconds * rate / S2S_BATCH))
    data = _pairs(n)
    e, h, v = S2S_EMBED, hidden, S2S_VOCAB
    fwd = (data[1].sum() * (2 * e * h + 2 * h * h)  # encoder, valid source tokens
           + data[4].sum() * (2 * (e + h) * h + 2 * h * h + 2 * h * v)) / n  # decoder + output
    padding = 1 - (data[1].sum() + data[4].sum()) / (2 * n * S2S_STEPS)
    case = Case("seq2seq", f"H={hidden}, E={e}, B={S2S_BATCH}", "pairs/s", 3.0 * fwd, {},
                [f"{n:,} pairs, {padding:.0%} padding"])
    case.run["seqrnn"] = _training(case, "seqrnn", make, lambda m: seqrnn_epoch(m, data))
    if "torch" in impls and torch is not None:
        order = np.random.default_rng(0).permutation(n)
        batches = []  # time-major tensors, in a shuffled order as seqrnn's fit uses
        for i in range(0, n, S2S_BATCH):
            src, src_len, tgt_in, tgt_out, tgt_len = (a[order[i:i + S2S_BATCH]] for a in data)
            batches.append((torch.from_numpy(src.T.copy()), torch.from_numpy(src_len),
                            torch.from_numpy(tgt_in.T.copy()), torch.from_numpy(tgt_out.T.copy()),
                            torch.from_numpy(tgt_len)))
        start = make()
        weights = start.state_dict()
        first = [a[order[:S2S_BATCH]] for a in data]
        case.checks.append(_compare("PyTorch", start.loss_and_grads(*first),
                                    TorchSeq2Seq(weights).loss_and_grads(*batches[0])))
        TorchSeq2Seq(weights).train_epoch(batches[:2], S2S_LR, CLIP)  # warm-up
        # exp of the mean of per-batch mean losses: close to seqrnn's perplexity, not equal
        case.run["torch"] = _training(case, "torch", lambda: TorchSeq2Seq(weights), lambda m: (
            float(n), math.exp(m.train_epoch(batches, S2S_LR, CLIP))))
    return case


def beam_search(max_len: int, hidden: int = S2S_HIDDEN) -> Case:
    """Beam search (beam 4) over a batch of 64 sentences, ms per decoding step. The output bias
    of ``<eos>`` is -1e4, so that no hypothesis ever ends and every sentence runs all
    ``max_len`` steps: the time per step shows whether a step's cost grows with its index.
    seqrnn only (neither PyTorch nor NumPy has a beam search to compare with)."""
    m = seqrnn.Seq2Seq(S2S_VOCAB, S2S_VOCAB, embed_size=S2S_EMBED, hidden_size=hidden,
                       num_layers=1, context="concat", seed=0)
    weights = m.state_dict()
    weights["decoder.output.bias"][BEAM_EOS] = -1e4
    m.load_state_dict(weights)
    src, src_len, *_ = _pairs(S2S_BATCH)

    def decode() -> list[Any]:
        return m.decode(src, src_len, bos=1, eos=BEAM_EOS, max_len=max_len, beam_size=BEAM)

    out = decode()  # warm-up, and the check that no sentence stops early
    if any(len(ids) != max_len for ids in out):
        raise SystemExit(f"beam search stopped before max_len {max_len}")
    e, h, v = S2S_EMBED, hidden, S2S_VOCAB
    flops = S2S_BATCH * BEAM * (2 * (e + h) * h + 2 * h * h + 2 * h * v)  # decoder rows a step
    case = Case("beam", f"H={hidden}, B={S2S_BATCH}, beam {BEAM}, max_len={max_len}", "ms/step",
                float(flops), {}, [f"every sentence ran all {max_len} steps"])
    case.run["seqrnn"] = partial(_counted, float(max_len), decode)
    return case


def _attention_flops(data: tuple[Array, ...], e: int, h: int, v: int) -> float:
    """Training FLOPs per pair of a 2-layer encoder-decoder with additive attention (3x the
    forward), from the valid source and target lengths of ``data``."""
    ls, lt = data[1].astype(np.float64), data[4].astype(np.float64)  # (n,) each
    enc = ls * (2 * e * h + 2 * h * h + 4 * h * h + 2 * h * h)  # 2 layers + W_k of every key
    att = lt * (2 * h * h + 4 * h * ls)  # W_q of the query; scores w_v and the weighted sum
    dec = lt * (2 * (e + h) * h + 2 * h * h + 4 * h * h + 2 * h * v)  # 2 layers + output
    return float(3.0 * np.mean(enc + att + dec))


def attention_training(impls: list[str], seconds: float, hidden: int = S2S_HIDDEN) -> Case:
    """Encoder-decoder training with additive (Bahdanau) attention, pairs/s: 2 layers, embed =
    hidden, batch 128, Adam, clipping, masked loss, no dropout. seqrnn's tanh RNN beside d2l
    11.4's PyTorch GRU model: not the same model, so no gradient cross-check."""
    has_attention = "attention" in inspect.signature(seqrnn.Seq2Seq).parameters
    use_torch = "torch" in impls and torch is not None
    label = f"H={hidden}, E={hidden}, L={ATT_LAYERS}, B={ATT_BATCH}"
    fits: dict[str, tuple[Callable[[], Any], Callable[[Any, tuple[Array, ...]], float]]] = {}
    if has_attention:
        def seqrnn_epoch(m: Any, data: tuple[Array, ...]) -> float:
            h = m.fit(data, epochs=1, batch_size=ATT_BATCH, lr=ATT_LR, clip=CLIP,
                      progress=False, seed=0)
            return float(h.train_perplexity[0])

        fits["seqrnn"] = (lambda: seqrnn.Seq2Seq(
            S2S_VOCAB, S2S_VOCAB, hidden, hidden, ATT_LAYERS, attention="additive", seed=0),
            seqrnn_epoch)
    if use_torch:
        def torch_model() -> Any:
            torch.manual_seed(0)
            return d2l_torch.TorchSeq2Seq(S2S_VOCAB, S2S_VOCAB, hidden, hidden, ATT_LAYERS,
                                          dropout=0.0, rnn="gru", attention="additive")

        def torch_epoch(m: Any, data: tuple[Array, ...]) -> float:
            done = d2l_torch.train(m, d2l_torch.as_tensors(data), 1, ATT_BATCH, ATT_LR, CLIP)
            return math.exp(done["losses"][0])

        fits["torch"] = (torch_model, torch_epoch)
    notes = [] if has_attention else ["seqrnn skipped: this build has no Seq2Seq(attention=...)"]
    if not fits:
        return Case("attention", label, "pairs/s", 0.0, {}, notes)
    make, epoch = next(iter(fits.values()))  # warm-up, and size the data by the first one
    t0 = time.perf_counter()
    epoch(make(), _pairs(2 * ATT_BATCH))
    rate = 2 * ATT_BATCH / (time.perf_counter() - t0)
    n = ATT_BATCH * max(2, round(seconds * rate / ATT_BATCH))
    data = _pairs(n)
    padding = 1 - (data[1].sum() + data[4].sum()) / (2 * n * S2S_STEPS)
    notes.append(f"{n:,} pairs, {padding:.0%} padding; seqrnn: tanh RNN, PyTorch: GRU "
                 "(d2l 11.4), so no cross-check")
    case = Case("attention", label, "pairs/s", _attention_flops(data, hidden, hidden, S2S_VOCAB),
                {}, notes)

    def counted(ep: Callable[[Any, tuple[Array, ...]], float]) -> Callable[[Any], Any]:
        return lambda m: (float(n), ep(m, data))

    for name, (mk, ep) in fits.items():
        if name != next(iter(fits)):
            ep(mk(), _pairs(2 * ATT_BATCH))  # warm-up
        case.run[name] = _training(case, name, mk, counted(ep))
    return case


def matmul(impls: list[str], size: int) -> Case:
    """float32 ``(size, size) @ (size, size)`` with numpy's and PyTorch's BLAS, GFLOP/s."""
    rng = np.random.default_rng(0)
    a, b = (rng.standard_normal((size, size), dtype=np.float32) for _ in range(2))
    case = Case("matmul", f"{size}x{size} @ {size}x{size}", "GFLOP/s", 0.0, {})
    gflop = 2.0 * size**3 / 1e9
    case.run["numpy"] = partial(_counted, gflop, np.matmul, a, b)
    np.matmul(a, b)  # warm-up
    if "torch" in impls and torch is not None:
        ta, tb = torch.from_numpy(a), torch.from_numpy(b)
        case.run["torch"] = partial(_counted, gflop, torch.mm, ta, tb)
        torch.mm(ta, tb)  # warm-up
    return case
