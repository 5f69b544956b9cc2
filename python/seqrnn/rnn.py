"""``seqrnn.RNN``: a multi-layer Elman RNN with ``torch.nn.RNN``'s interface and names."""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt

from . import _core
from . import _validate as v
from ._module import StateDict

Array = npt.NDArray[Any]


@v.int_args_everywhere
class RNN(StateDict):
    """Multi-layer tanh (or relu) RNN: ``h_t = tanh(x_t W_ih^T + b_ih + h_{t-1} W_hh^T + b_hh)``.

    Parameters are named and shaped as in ``torch.nn.RNN`` (``weight_ih_l0`` (H, in),
    ``weight_hh_l0`` (H, H), ``bias_ih_l0`` (H,), ``bias_hh_l0`` (H,), ...).

    Shapes (as ``torch.nn.RNN``): input ``(steps, batch, input_size)``, or
    ``(batch, steps, input_size)`` with ``batch_first=True``, or unbatched ``(steps, input_size)``;
    ``h0`` and ``h_n`` ``(num_layers, batch, hidden_size)`` (``(num_layers, hidden_size)`` unbatched).

    Example:
        >>> rnn = RNN(input_size=3, hidden_size=4, num_layers=2, seed=0)
        >>> output, h_n = rnn.forward(np.zeros((5, 2, 3), dtype=np.float32))
        >>> output.shape, h_n.shape
        ((5, 2, 4), (2, 2, 4))
    """

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        num_layers: int = 1,
        nonlinearity: str = "tanh",
        bias: bool = True,
        batch_first: bool = False,
        seed: int | None = None,
        dtype: Any = "float32",
        init: str = "uniform",
        dropout: float = 0.0,
    ) -> None:
        self.seed = v.seed_or_random(seed)
        self.batch_first = bool(batch_first)
        self._core = _core.RNN(
            v.positive_int(input_size, "input_size"),
            v.positive_int(hidden_size, "hidden_size"),
            v.positive_int(num_layers, "num_layers"),
            nonlinearity,
            bool(bias),
            self.seed,
            v.dtype_name(dtype),
            init,
            float(dropout),
        )

    _CORE_TYPE = _core.RNN

    def _file_metadata(self) -> dict[str, str]:
        return {"seqrnn.batch_first": "true" if self.batch_first else "false"}

    def _restore_file_metadata(self, meta: dict[str, str], name: str) -> None:
        flag = meta.get("seqrnn.batch_first", "false")
        if flag not in ("true", "false"):
            raise ValueError(f"invalid checkpoint: {name}: seqrnn.batch_first must be 'true' or "
                             f"'false', got {flag[:40]!r}")
        self.batch_first = flag == "true"

    input_size = property(lambda self: self._core.input_size, doc="Features per input step.")
    hidden_size = property(lambda self: self._core.hidden_size, doc="Units per layer.")
    num_layers = property(lambda self: self._core.num_layers, doc="Stacked layers.")
    nonlinearity = property(lambda self: self._core.nonlinearity, doc="'tanh' or 'relu'.")
    bias = property(lambda self: self._core.bias, doc="Whether the layers have biases.")
    dtype = property(lambda self: self._core.dtype, doc="'float32' or 'float64'.")
    dropout = property(lambda self: self._core.dropout, doc="Between-layer dropout in training.")

    def __repr__(self) -> str:
        return (
            f"RNN({self.input_size}, {self.hidden_size}, num_layers={self.num_layers}, "
            f"nonlinearity={self.nonlinearity!r}, bias={self.bias}, "
            f"batch_first={self.batch_first}, dtype={self.dtype!r})"
        )

    def _time_major(self, x: Any, h0: Any) -> tuple[Array, Array | None, bool]:
        x = v.floats(x, "input", self.dtype)
        v.ndim(x, "input", (2, 3), "(steps, batch, input_size) or (steps, input_size)")
        unbatched = x.ndim == 2
        if x.shape[-1] != self.input_size:
            layout = "(steps" if unbatched else "(batch, steps" if self.batch_first else "(steps, batch"
            raise ValueError(
                f"input: expected shape {layout}, {self.input_size}), got {list(x.shape)}"
            )
        if unbatched:
            x = x[:, None, :]
        elif self.batch_first:
            x = x.transpose(1, 0, 2)
        x = np.ascontiguousarray(x)
        if h0 is not None:
            h0 = v.floats(h0, "h0", self.dtype)
            v.ndim(h0, "h0", (2,) if unbatched else (3,), "(num_layers, [batch,] hidden_size)")
            if unbatched:
                h0 = np.ascontiguousarray(h0[:, None, :])
        return x, h0, unbatched

    def _batch_layout(self, out: Array, unbatched: bool) -> Array:
        if unbatched:
            return out[:, 0, :]
        return out.transpose(1, 0, 2) if self.batch_first else out

    def forward(self, x: Any, h0: Any = None, lengths: Any = None) -> tuple[Array, Array]:
        """Run the RNN over a whole sequence; returns ``(output, h_n)`` as ``torch.nn.RNN``.

        ``lengths`` ``(batch,)`` gives each sequence's valid length: it stops there and
        carries its state, so ``h_n`` is the state at that step and ``output`` is zero
        beyond it (PyTorch's packed sequences).

        Shapes: ``x`` ``(steps, batch, input_size)`` (``(batch, steps, input_size)`` with
        ``batch_first``), ``h0`` ``(num_layers, batch, hidden)`` -> ``output`` ``(steps, batch,
        hidden)``, ``h_n`` ``(num_layers, batch, hidden)``.

        Example:
            >>> rnn = RNN(input_size=2, hidden_size=3, batch_first=True, seed=0)
            >>> x = np.ones((2, 4, 2), dtype=np.float32)          # (batch, steps, input)
            >>> output, h_n = rnn.forward(x, lengths=[4, 2])
            >>> output.shape, bool((output[1, 2:] == 0).all()), bool((h_n[0, 1] == output[1, 1]).all())
            ((2, 4, 3), True, True)
        """
        x, h0, unbatched = self._time_major(x, h0)
        lens = None if lengths is None else v.lengths(lengths, "lengths")
        out, h_n = self._core.forward(x, h0, lens)
        return self._batch_layout(out, unbatched), (h_n[:, 0, :] if unbatched else h_n)

    __call__ = forward

    def backward(
        self, x: Any, d_output: Any, h0: Any = None, d_h_n: Any = None, lengths: Any = None
    ) -> tuple[dict[str, Array], Array, Array]:
        """Exact BPTT for ``loss = sum(output * d_output) + sum(h_n * d_h_n)``.

        Returns ``(grads, d_x, d_h0)``: ``grads`` keyed like ``state_dict()``, ``d_x`` shaped
        like ``x`` and ``d_h0`` like ``h0``.

        Example:
            >>> rnn = RNN(input_size=2, hidden_size=3, num_layers=2, seed=0, dtype="float64")
            >>> x = np.random.default_rng(0).standard_normal((5, 1, 2))
            >>> grads, d_x, d_h0 = rnn.backward(x, np.ones((5, 1, 3)))   # d sum(output)
            >>> grads["weight_hh_l1"].shape, d_x.shape, d_h0.shape
            ((3, 3), (5, 1, 2), (2, 1, 3))
        """
        x, h0, unbatched = self._time_major(x, h0)
        d_out = v.floats(d_output, "d_output", self.dtype)
        v.ndim(d_out, "d_output", (2,) if unbatched else (3,), "(like the output)")
        d_out = np.ascontiguousarray(
            d_out[:, None, :] if unbatched else d_out.transpose(1, 0, 2) if self.batch_first else d_out
        )
        if d_h_n is not None:
            d_h_n = v.floats(d_h_n, "d_h_n", self.dtype)
            if unbatched:
                d_h_n = np.ascontiguousarray(d_h_n[:, None, :])
        lens = None if lengths is None else v.lengths(lengths, "lengths")
        grads, d_x, d_h0 = self._core.backward(x, d_out, h0, d_h_n, lens)
        return grads, self._batch_layout(d_x, unbatched), (d_h0[:, 0, :] if unbatched else d_h0)

