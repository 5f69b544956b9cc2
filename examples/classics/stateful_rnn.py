"""A vanilla RNN with a stateful ``forward_prop``, from silly to trained.

The classic from-scratch write-up keeps the hidden state inside the network: each call of
``forward_prop(x)`` updates ``h = tanh(h W_hh + x W_xh + b_h)`` and returns the linear output
``y = h W_hy + b_y``. With a 3x3 hidden state (3 sequences, 3 units), feeding the *same* input
three times gives three different outputs, because the state moves; with random weights those
outputs mean nothing (the write-up's "silly" network). Its next step trains the network.

Here the state lives in ``h`` and is carried by ``seqrnn.RNN.forward(x, h0)``; the output layer
is ``seqrnn.Linear``. Training teaches the network to count: on the t-th feeding of the same
input it should output t. Gradients come from ``RNN.backward`` and ``Linear.backward`` (exact
BPTT over the three steps); the update is plain gradient descent.

Run: ``python examples/classics/stateful_rnn.py``
"""

from __future__ import annotations

import numpy as np
import seqrnn

SEQUENCES, FEATURES, HIDDEN = 3, 3, 3
FEEDS = 3
TARGET = np.arange(1.0, FEEDS + 1)[:, None, None] * np.ones((FEEDS, SEQUENCES, 1))  # (3, 3, 1)


class StatefulRNN:
    """``forward_prop`` moves the hidden state ``h`` (1, sequences, hidden) one step."""

    def __init__(self, seed: int = 0) -> None:
        self.rnn = seqrnn.RNN(FEATURES, HIDDEN, seed=seed, dtype="float64")
        self.output = seqrnn.Linear(HIDDEN, 1, seed=seed + 1, dtype="float64")
        self.reset()

    def reset(self) -> None:
        self.h = np.zeros((1, SEQUENCES, HIDDEN))

    def forward_prop(self, x: np.ndarray) -> np.ndarray:
        """x (sequences, features) -> y (sequences, 1); the state is kept for the next call."""
        _, self.h = self.rnn.forward(x[None], self.h)  # h: (1, sequences, hidden)
        return self.output.forward(self.h[0])

    def loss_and_grads(self, xs: np.ndarray) -> tuple[float, dict[str, np.ndarray]]:
        """Mean squared error of the outputs against 1, 2, 3 over the feedings ``xs``
        (feeds, sequences, features), from the zero state, and every parameter's gradient."""
        hs, _ = self.rnn.forward(xs)  # (feeds, sequences, hidden)
        y = self.output.forward(hs)  # (feeds, sequences, 1)
        d_y = 2 * (y - TARGET) / y.size
        g_out, d_hs = self.output.backward(hs, d_y)
        g_rnn, _, _ = self.rnn.backward(xs, d_hs)
        grads = {**{f"rnn.{k}": g for k, g in g_rnn.items()},
                 **{f"output.{k}": g for k, g in g_out.items()}}
        return float(((y - TARGET) ** 2).mean()), grads

    def sgd_step(self, grads: dict[str, np.ndarray], lr: float) -> None:
        for prefix, layer in (("rnn.", self.rnn), ("output.", self.output)):
            p = layer.state_dict()
            layer.load_state_dict({k: w - lr * grads[prefix + k] for k, w in p.items()})


def same_input_three_times(net: StatefulRNN, x: np.ndarray) -> np.ndarray:
    """Outputs (feeds, sequences) of feeding ``x`` three times from the zero state."""
    net.reset()
    return np.stack([net.forward_prop(x)[:, 0] for _ in range(FEEDS)])


def train(net: StatefulRNN, x: np.ndarray, steps: int = 1500, lr: float = 0.1) -> list[float]:
    xs = np.broadcast_to(x, (FEEDS, *x.shape)).copy()  # the same input at every step
    losses = []
    for _ in range(steps):
        loss, grads = net.loss_and_grads(xs)
        net.sgd_step(grads, lr)
        losses.append(loss)
    return losses


def main() -> None:
    net = StatefulRNN(seed=0)
    x = np.random.default_rng(0).normal(size=(SEQUENCES, FEATURES))
    np.set_printoptions(precision=3, suppress=True)
    print("the same input, three times, through the silly (random) network:")
    for t, y in enumerate(same_input_three_times(net, x), start=1):
        print(f"  feeding {t}: y = {y}")
    losses = train(net, x)
    print(f"\ntrained to count the feedings: loss {losses[0]:.4f} -> {losses[-1]:.6f}")
    for t, y in enumerate(same_input_three_times(net, x), start=1):
        print(f"  feeding {t}: y = {y}")
    print(f"hidden state after the third feeding (3 sequences x 3 units):\n{net.h[0]}")


if __name__ == "__main__":
    main()
