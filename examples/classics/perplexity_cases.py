"""Dive into Deep Learning, section 8.4 (RNNs), "Perplexity": the three cases.

Perplexity is ``exp(-1/n sum_t log P(x_t | x_{t-1}, ..., x_1))``. The book describes three
cases: a model that always gives the right next token probability 1 has perplexity 1; one that
always gives it probability 0 has perplexity infinity; a model that predicts the uniform
distribution over the vocabulary has perplexity equal to the vocabulary size.

Here each case is a ``seqrnn.LanguageModel`` whose weights are set with ``load_state_dict``
and measured with ``LanguageModel.perplexity`` on a text that cycles through the vocabulary
(the next token is the current one plus 1). One-hot input and ``weight_ih = 10 I`` put
``tanh(10) e_x`` (about the unit vector of the current token) in the hidden state; the output
weights then point the logits at the token the case wants, with logits 10,000 apart so that
``softmax`` gives probabilities of exactly 1 and 0 in floating point.

Run: ``python examples/classics/perplexity_cases.py``
"""

from __future__ import annotations

import numpy as np
import seqrnn

VOCAB = 5
SCALE = 1e4  # logit gap: exp(-1e4) is 0 in float32 and float64


def corpus(length: int = 101) -> np.ndarray:
    """0, 1, 2, ..., VOCAB - 1, 0, 1, ...: each token is the previous one plus 1."""
    return np.arange(length) % VOCAB


def model(case: str, dtype: str = "float64") -> seqrnn.LanguageModel:
    """``"perfect"`` (the right token gets probability 1), ``"hopeless"`` (it gets 0: the model
    is sure of the token after it) or ``"uniform"`` (every token 1 / VOCAB)."""
    lm = seqrnn.LanguageModel(VOCAB, hidden_size=VOCAB, seed=0, dtype=dtype)
    p = {name: np.zeros_like(w) for name, w in lm.state_dict().items()}
    p["rnn.weight_ih_l0"] = 10 * np.eye(VOCAB, dtype=dtype)  # h = tanh(10) e_x
    shift = {"perfect": 1, "hopeless": 2, "uniform": None}[case]
    if shift is not None:
        # output.weight[(x + shift) % V, x] = SCALE: the logit of token x + shift is ~1e4.
        p["output.weight"] = SCALE * np.roll(np.eye(VOCAB, dtype=dtype), shift, axis=0)
    lm.load_state_dict(p)
    return lm


def perplexities(dtype: str = "float64") -> dict[str, float]:
    return {case: model(case, dtype).perplexity(corpus())
            for case in ("perfect", "hopeless", "uniform")}


def main() -> None:
    for dtype in ("float64", "float32"):
        ppl = perplexities(dtype)
        print(f"{dtype}: always right (P = 1): {ppl['perfect']}   always wrong (P = 0): "
              f"{ppl['hopeless']}   uniform over {VOCAB} tokens: {ppl['uniform']:.6f}")


if __name__ == "__main__":
    main()
