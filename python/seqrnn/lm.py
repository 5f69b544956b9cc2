"""``seqrnn.LanguageModel``: next-token prediction with an RNN (d2l's RNN chapter, min-char-rnn)."""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt

from . import _core
from . import _validate as v

Array = npt.NDArray[Any]


class LanguageModel:
    """Embedding (or one-hot input) -> multi-layer tanh RNN -> linear logits.

    State-dict keys: ``embedding.weight`` (V, E) when ``embed_size`` is set, ``rnn.weight_ih_l0``
    (H, E or V), ``rnn.weight_hh_l0`` (H, H), ``rnn.bias_ih_l0``, ``rnn.bias_hh_l0``, ...,
    ``output.weight`` (V, H), ``output.bias`` (V,).

    Shapes: token ids ``(batch, steps)``; logits ``(batch, steps, vocab_size)``; state
    ``(num_layers, batch, hidden_size)``.

    Example:
        >>> lm = LanguageModel(vocab_size=5, hidden_size=8, seed=0)
        >>> logits, state = lm.logits(np.array([[0, 1, 2]]))
        >>> logits.shape, state.shape
        ((1, 3, 5), (1, 1, 8))
    """

    def __init__(
        self,
        vocab_size: int,
        hidden_size: int = 256,
        num_layers: int = 1,
        embed_size: int | None = None,
        seed: int | None = None,
        dtype: Any = "float32",
        nonlinearity: str = "tanh",
        init: str = "uniform",
    ) -> None:
        self.seed = v.seed_or_random(seed)
        self._core = _core.LanguageModel(
            v.positive_int(vocab_size, "vocab_size"),
            v.positive_int(hidden_size, "hidden_size"),
            v.positive_int(num_layers, "num_layers"),
            None if embed_size is None else v.positive_int(embed_size, "embed_size"),
            nonlinearity,
            self.seed,
            v.dtype_name(dtype),
            init,
        )

    vocab_size = property(lambda self: self._core.vocab_size, doc="Number of token types.")
    hidden_size = property(lambda self: self._core.hidden_size, doc="RNN units per layer.")
    num_layers = property(lambda self: self._core.num_layers, doc="Stacked RNN layers.")
    embed_size = property(lambda self: self._core.embed_size, doc="Embedding width or None.")
    nonlinearity = property(lambda self: self._core.nonlinearity, doc="'tanh' or 'relu'.")
    dtype = property(lambda self: self._core.dtype, doc="'float32' or 'float64'.")

    def __repr__(self) -> str:
        return (
            f"LanguageModel(vocab_size={self.vocab_size}, hidden_size={self.hidden_size}, "
            f"num_layers={self.num_layers}, embed_size={self.embed_size}, dtype={self.dtype!r})"
        )

    def _ids(self, x: Any, what: str) -> Array:
        a = v.ids(x, what)
        v.ndim(a, what, (2,), "(batch, steps)")
        return a

    def _state(self, state: Any) -> Array | None:
        return None if state is None else v.floats(state, "state", self.dtype)

    def logits(self, inputs: Any, state: Any = None) -> tuple[Array, Array]:
        """Logits ``(batch, steps, vocab)`` and the final state ``(num_layers, batch, hidden)``."""
        return self._core.logits(self._ids(inputs, "inputs"), self._state(state))

    def loss_and_grads(
        self,
        inputs: Any,
        targets: Any,
        mask: Any = None,
        state: Any = None,
        return_state: bool = False,
    ) -> Any:
        """Mean cross-entropy over unmasked positions and the exact gradient of every parameter.

        ``inputs`` and ``targets`` are ``(batch, steps)`` ids; ``mask`` is ``None`` or 0/1
        (floats or booleans) shaped like ``targets``. Returns ``(loss, grads)`` with ``grads``
        keyed like ``state_dict()``; with ``return_state=True``, ``(loss, grads, final_state)``.
        """
        m = None if mask is None else v.mask(mask, "mask", self.dtype)
        loss, grads, h_n = self._core.loss_and_grads(
            self._ids(inputs, "inputs"), self._ids(targets, "targets"), m, self._state(state)
        )
        grads = dict(grads)
        return (loss, grads, h_n) if return_state else (loss, grads)

    def state_dict(self) -> dict[str, Array]:
        """Copies of all parameters, keyed by PyTorch-style names."""
        return dict(self._core.state_dict())

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        """Replace every parameter; names, shapes and dtypes must match exactly."""
        if not isinstance(state_dict, dict):
            raise TypeError(f"state_dict must be a dict, got {type(state_dict).__name__}")
        self._core.load_state_dict({k: np.asarray(a) for k, a in state_dict.items()})
