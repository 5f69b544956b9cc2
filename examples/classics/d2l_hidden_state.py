"""Dive into Deep Learning (MXNet edition), "Recurrent Neural Networks": a hidden state.

The section writes one recurrent step without biases,

    H_t = relu(X_t W_xh + H_{t-1} W_hh),      O_t = relu(H_t W_hq),

for a minibatch of 3 inputs with one feature each, 2 hidden units and 3 outputs, and notes that
``X W_xh + H W_hh`` is one product of the concatenations ``[X, H] [W_xh; W_hh]``. Here
``seqrnn.RNN(nonlinearity="relu", bias=False)`` computes ``H_t`` and
``seqrnn.Linear(bias=False)`` computes ``H_t W_hq``; PyTorch-style weights are the
transposes (``weight_ih_l0 = W_xh^T``, ``weight_hh_l0 = W_hh^T``, ``weight = W_hq^T``).

Run: ``python examples/classics/d2l_hidden_state.py``
"""

from __future__ import annotations

import numpy as np
import seqrnn

BATCH, INPUTS, HIDDEN, OUTPUTS = 3, 1, 2, 3


def run(seed: int = 0, steps: int = 3) -> dict[str, np.ndarray]:
    """The inputs, the weights as the book writes them, and H_t, O_t for each step."""
    rnn = seqrnn.RNN(INPUTS, HIDDEN, nonlinearity="relu", bias=False, seed=seed, dtype="float64")
    output = seqrnn.Linear(HIDDEN, OUTPUTS, bias=False, seed=seed + 1, dtype="float64")
    X = np.random.default_rng(seed).normal(size=(steps, BATCH, INPUTS))  # (steps, batch, 1)
    H, _ = rnn.forward(X)  # (steps, batch, hidden), starting from H_0 = 0
    O = np.maximum(output.forward(H), 0.0)  # (steps, batch, outputs)
    weights = rnn.state_dict()
    return {
        "X": X,
        "W_xh": weights["weight_ih_l0"].T,  # (1, 2)
        "W_hh": weights["weight_hh_l0"].T,  # (2, 2)
        "W_hq": output.state_dict()["weight"].T,  # (2, 3)
        "H": H,
        "O": O,
    }


def main() -> None:
    r = run()
    np.set_printoptions(precision=4, suppress=True)
    for name in ("W_xh", "W_hh", "W_hq"):
        print(f"{name} =\n{r[name]}")
    H_prev = np.zeros((BATCH, HIDDEN))
    for t, (X, H, O) in enumerate(zip(r["X"], r["H"], r["O"]), start=1):
        print(f"\nstep {t}: X_{t} = {X.ravel()}")
        print(f"H_{t} = relu(X_{t} W_xh + H_{t - 1} W_hh) =\n{H}")
        print(f"O_{t} = relu(H_{t} W_hq) =\n{O}")
        joint = np.concatenate([X, H_prev], axis=1) @ np.concatenate([r["W_xh"], r["W_hh"]])
        print(f"relu([X_{t}, H_{t - 1}] [W_xh; W_hh]) equals H_{t}:",
              np.allclose(np.maximum(joint, 0.0), H))
        H_prev = H


if __name__ == "__main__":
    main()
