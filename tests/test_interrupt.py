"""Ctrl-C stops every call that can run long within about a second, and the model stays whole.

Each call gets work for many seconds (all but ``preprocess_d2l``, which would need gigabytes);
SIGINT comes 0.3 s in, and the test measures how long after it the ``KeyboardInterrupt``
arrives.
"""

from __future__ import annotations

import os
import signal
import subprocess
import threading
import time
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
import seqrnn
from seqrnn import _core

DELAY = 0.3  # seconds from the start of the call to SIGINT
LATENCY = 1.5  # at most this long from SIGINT to KeyboardInterrupt


def interrupt(call: Callable[[], Any]) -> float:
    """Runs ``call`` while another process sends SIGINT ``DELAY`` s in, and returns the seconds
    from the signal to the ``KeyboardInterrupt``; fails if the call ends otherwise. (A thread
    of this process could not send it in time: it needs the GIL, which a call copying a long
    list holds.) The handler raises only until the call ends, so a late signal never escapes."""
    armed = True

    def handler(signum: int, frame: Any) -> None:
        if armed:
            raise KeyboardInterrupt

    old = signal.signal(signal.SIGINT, handler)
    killer = subprocess.Popen(
        ["sh", "-c", f"sleep {DELAY}; kill -INT {os.getpid()}; date +%s.%N"],
        stdout=subprocess.PIPE, text=True)
    try:
        with pytest.raises(KeyboardInterrupt):
            call()
        raised = time.time()
    finally:
        armed = False
        out, _ = killer.communicate()
        signal.signal(signal.SIGINT, old)
    return raised - float(out)


def no_eos(model: seqrnn.Seq2Seq, eos: int) -> seqrnn.Seq2Seq:
    """``model`` with ``eos`` made impossible, so decoding runs to ``max_len``."""
    sd = model.state_dict()
    sd["decoder.output.bias"][eos] = -1e9
    model.load_state_dict(sd)
    return model


def _ids(shape: tuple[int, ...], high: int) -> np.ndarray:
    return (np.arange(int(np.prod(shape))).reshape(shape) * 7 % high).astype(np.int64)


@pytest.fixture(scope="module")
def m() -> dict[str, Any]:
    """Models and inputs, made once (the text inputs take a second)."""
    chars = list("abcdefghijklmnopqrstuvwxyz ")
    lm = seqrnn.LanguageModel(28, 256, seed=0)
    lm.vocab = seqrnn.Vocab(chars)
    s2s = seqrnn.Seq2Seq(20, 40, embed_size=16, hidden_size=256, num_layers=2, seed=0)
    words = [f"w{i}" for i in range(17)]
    src_vocab = seqrnn.Vocab(words, reserved_tokens=["<pad>", "<eos>"])
    tgt_vocab = seqrnn.Vocab(words + [f"v{i}" for i in range(20)],
                             reserved_tokens=["<pad>", "<bos>", "<eos>"])
    s2s_tr = seqrnn.Seq2Seq(len(src_vocab), len(tgt_vocab), embed_size=16, hidden_size=256,
                            num_layers=2, seed=0)
    tokens = [f"w{i % 5000}" for i in range(5_000_000)]
    return {
        "lm": lm,
        # One-hot input and no context: the time loop is the work, not one big product.
        "big": seqrnn.LanguageModel(28, 2048, seed=0),
        "s2s": no_eos(s2s, 2),
        "s2s_big": seqrnn.Seq2Seq(20, 40, embed_size=16, hidden_size=2048, num_layers=1,
                                  context="none", seed=0, init="uniform"),
        "translator": seqrnn.Translator(no_eos(s2s_tr, tgt_vocab["<eos>"]), src_vocab,
                                        tgt_vocab, num_steps=8),
        "rnn": seqrnn.RNN(8, 2048, seed=0),
        "x": np.full((6000, 1, 8), 0.1, np.float32),  # (steps, batch, input)
        "d_out": np.full((6000, 1, 2048), 1e-3, np.float32),
        "ids": _ids((4, 6000), 28),  # (batch, steps)
        "corpus": _ids((5_000_000,), 28),
        "src": _ids((8, 5), 20),
        "tgt": _ids((4, 6000), 40),
        "text": "The Time Machine, by H. G. Wells! " * 1_000_000,  # 34 MB: 13 s of tokens
        "tokens": tokens * 4,  # 20 M
        "vocab": seqrnn.Vocab(tokens[:5000]),
        "long_corpus": _ids((10_000_000,), 28),  # its shuffle (not cut) a small part of the work
        "pairs_text": "Go now, Tom!\tVa-t'en, Tom !\n" * 2_000_000,  # 56 MB
        "pairs": [("Go now, Tom!", "Va-t'en, Tom !")] * 2_000_000,
    }


CALLS: list[tuple[str, Callable[[dict[str, Any]], Any]]] = [
    ("LanguageModel.generate", lambda m: m["lm"].generate([1, 2], 10_000_000)),
    ("LanguageModel.predict", lambda m: m["lm"].predict("the time ", 10_000_000)),
    ("Stream.feed", lambda m: m["lm"].stream().feed(m["corpus"])),
    ("LanguageModel.perplexity", lambda m: m["lm"].perplexity(m["corpus"])),
    ("LanguageModel.logits", lambda m: m["big"].logits(m["ids"])),
    ("LanguageModel.loss_and_grads", lambda m: m["big"].loss_and_grads(m["ids"], m["ids"])),
    ("RNN.forward", lambda m: m["rnn"].forward(m["x"])),
    ("RNN.backward", lambda m: m["rnn"].backward(m["x"], m["d_out"])),
    ("Seq2Seq.decode greedy",
     lambda m: m["s2s"].decode(m["src"], [5] * 8, bos=1, eos=2, max_len=1_000_000)),
    ("Seq2Seq.decode beam",
     lambda m: m["s2s"].decode(m["src"], [5] * 8, bos=1, eos=2, max_len=1_000_000,
                               beam_size=4)),
    ("Seq2Seq.decode_steps",
     lambda m: m["s2s"].decode_steps([3, 4, 5], bos=1, eos=2, max_len=200_000)),
    ("Seq2Seq.loss_and_grads",
     lambda m: m["s2s_big"].loss_and_grads(m["src"][:4], [5] * 4, m["tgt"], m["tgt"],
                                           [6000] * 4)),
    ("Seq2Seq.perplexity",
     lambda m: m["s2s_big"].perplexity((m["src"][:4], [5] * 4, m["tgt"], m["tgt"], [6000] * 4))),
    ("Translator.translate",
     lambda m: m["translator"].translate(["w1 w2 w3", "w4"], beam_size=4, max_len=1_000_000)),
    ("tokenize", lambda m: seqrnn.tokenize(m["text"], "char")),
    # 0.7 s in all: this one shows no more than that it raises.
    ("preprocess_d2l", lambda m: _core.preprocess_d2l(m["text"] * 10)),
    ("Vocab", lambda m: seqrnn.Vocab(m["tokens"])),
    ("Vocab.encode", lambda m: m["vocab"].encode(m["tokens"])),
    # minibatches come one at a time: a loop over all of them is what runs long
    ("seq_data_iter_random",
     lambda m: _drain(seqrnn.data.seq_data_iter_random(m["long_corpus"], 1, 2))),
    ("tokenize_nmt", lambda m: seqrnn.data.tokenize_nmt(m["pairs_text"])),
    ("translation_data", lambda m: _core.translation_data(m["pairs"], 8)),
]


def _drain(batches: Any) -> None:
    for _ in batches:
        pass


@pytest.mark.parametrize("call", [c for _, c in CALLS], ids=[name for name, _ in CALLS])
def test_ctrl_c_stops_the_call_promptly_and_the_model_stays_whole(
    m: dict[str, Any], call: Callable[[dict[str, Any]], Any]
) -> None:
    probe = _ids((2000,), 28)
    before = m["lm"].perplexity(probe, batch_size=4, num_steps=50)
    decoded = m["s2s"].decode(m["src"][:2], [5, 5], bos=1, eos=2, max_len=3, beam_size=2)
    latency = interrupt(lambda: call(m))
    if latency >= LATENCY:  # a busy machine can hold the process off a core: once more
        latency = min(latency, interrupt(lambda: call(m)))
    assert latency < LATENCY, f"KeyboardInterrupt came {latency:.2f} s after SIGINT"
    assert m["lm"].perplexity(probe, batch_size=4, num_steps=50) == before
    assert m["s2s"].decode(m["src"][:2], [5, 5], bos=1, eos=2, max_len=3, beam_size=2) == decoded


def test_a_stream_goes_on_after_an_interrupted_feed(m: dict[str, Any]) -> None:
    stream = m["lm"].stream()
    interrupt(lambda: stream.feed(m["corpus"]))
    assert stream.feed([1]).shape == (28,)


def test_an_exception_of_the_signal_handler_is_the_one_raised(m: dict[str, Any]) -> None:
    class Stop(Exception):
        pass

    def handler(signum: int, frame: Any) -> None:
        raise Stop

    old = signal.signal(signal.SIGINT, handler)
    timer = threading.Timer(DELAY, signal.pthread_kill,
                            (threading.main_thread().ident or 0, signal.SIGINT))
    try:
        timer.start()
        with pytest.raises(Stop):
            m["lm"].generate([1], 10_000_000)
    finally:
        timer.cancel()
        timer.join()
        signal.signal(signal.SIGINT, old)
