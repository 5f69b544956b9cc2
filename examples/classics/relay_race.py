"""The encoder-decoder as a relay race, step by step (the classic "I go" walk-through).

The write-up translates "I go" with the smallest possible encoder-decoder: each word is
embedded as one number, a 2-unit tanh RNN ``h_t = tanh(W_h h_{t-1} + W_x x_t + b)`` reads the
sentence, and its last state is the baton handed to a decoder with the same cell, whose state
goes through a logits layer over a 4-word output vocabulary; softmax turns the logits into
probabilities and argmax picks each word, which is fed back in until ``<eos>``. Its table
follows the ten steps: embed "I" (1), encoder state (2), embed "go" (3), encoder state = the
baton (4), then for each output word the decoder state (5, 7, 9) and logits, probabilities and
choice (6, 8, 10).

Here ``seqrnn.Seq2Seq(embed_size=1, hidden_size=2, num_layers=1, context="none")`` is that
model; it is trained on a handful of pairs until it translates them all, and
``Seq2Seq.decode_steps`` gives the states and logits of every step.

Run: ``python examples/classics/relay_race.py``
"""

from __future__ import annotations

import numpy as np
import seqrnn

SRC_VOCAB = ["<pad>", "I", "go"]
TGT_VOCAB = ["<bos>", "<eos>", "je", "vais"]
PAIRS = [("I go", "je vais"), ("I", "je"), ("go", "vais")]
BOS, EOS = TGT_VOCAB.index("<bos>"), TGT_VOCAB.index("<eos>")


def arrays(pairs: list[tuple[str, str]]) -> tuple[np.ndarray, ...]:
    """``(src, src_valid_len, tgt_in, tgt_out, tgt_valid_len)``, padded; targets end in <eos>."""
    src = [[SRC_VOCAB.index(w) for w in s.split()] for s, _ in pairs]
    tgt = [[TGT_VOCAB.index(w) for w in t.split()] + [EOS] for _, t in pairs]
    ns, nt = max(map(len, src)), max(map(len, tgt))

    def pad(rows: list[list[int]], n: int) -> np.ndarray:  # (pairs, n); padding is masked
        return np.array([r + [0] * (n - len(r)) for r in rows])

    tgt_in = pad([[BOS] + t[:-1] for t in tgt], nt)
    return (pad(src, ns), np.array([len(s) for s in src]), tgt_in, pad(tgt, nt),
            np.array([len(t) for t in tgt]))


def translate(model: seqrnn.Seq2Seq, sentence: str) -> str:
    src = [SRC_VOCAB.index(w) for w in sentence.split()]
    out = model.decode([src], [len(src)], BOS, EOS, max_len=4)[0]
    return " ".join(TGT_VOCAB[i] for i in out)


def train(seed: int = 0, max_epochs: int = 2000) -> tuple[seqrnn.Seq2Seq, int]:
    """Train until every pair is translated; returns the model and the epochs it took."""
    model = seqrnn.Seq2Seq(len(SRC_VOCAB), len(TGT_VOCAB), embed_size=1, hidden_size=2,
                           num_layers=1, context="none", seed=seed, dtype="float64")
    data = arrays(PAIRS)
    for epoch in range(50, max_epochs + 1, 50):
        model.fit(data, epochs=50, batch_size=len(PAIRS), lr=0.05, progress=False, seed=seed)
        if all(translate(model, s) == t for s, t in PAIRS):
            return model, epoch
    raise RuntimeError(f"not all pairs translated after {max_epochs} epochs")


def softmax(z: np.ndarray) -> np.ndarray:
    e = np.exp(z - z.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


def fmt(a: np.ndarray, sign: str = "+") -> str:
    return np.array2string(a, precision=3, floatmode="fixed", suppress_small=True, sign=sign)


def relay(model: seqrnn.Seq2Seq, sentence: str = "I go") -> list[str]:
    """The write-up's table: one line per step, from seqrnn's states and logits."""
    words = sentence.split()
    steps = model.decode_steps([SRC_VOCAB.index(w) for w in words], BOS, EOS, max_len=4)
    embedding = model.state_dict()["encoder.embedding.weight"]  # (src_vocab, 1)
    lines, n = [], 0
    for word, h in zip(words, steps["encoder_states"]):
        x = embedding[SRC_VOCAB.index(word), 0]
        lines += [f"{n + 1:2d}  embed {word!r:8} x = {x:+.3f}",
                  f"{n + 2:2d}  encoder     h = {fmt(h)}"]
        n += 2
    lines[-1] += "  (the baton)"
    fed = "<bos>"
    for s, z, word in zip(steps["decoder_states"], steps["logits"], steps["tokens"]):
        p = softmax(z)
        choice = f"softmax {fmt(p, ' ')}  -> {TGT_VOCAB[word]!r}"
        lines += [f"{n + 1:2d}  decoder {fed!r:7} s = {fmt(s)}",
                  f"{n + 2:2d}  logits {fmt(z)}  {choice}"]
        n += 2
        fed = TGT_VOCAB[word]
    return lines


def main() -> None:
    model, epochs = train()
    print(f"trained {epochs} epochs; output vocabulary {TGT_VOCAB}")
    for s, _ in PAIRS:
        print(f"  {s!r:8} -> {translate(model, s)!r}")
    print()
    print("\n".join(relay(model)))


if __name__ == "__main__":
    main()
