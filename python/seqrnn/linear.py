"""``seqrnn.Linear``: the affine map ``y = x W^T + b`` with ``torch.nn.Linear``'s interface."""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt

from . import _core
from . import _validate as v
from ._module import StateDict

Array = npt.NDArray[Any]


@v.int_args_everywhere
class Linear(StateDict):
    """``y = x W^T + b`` (``b`` left out with ``bias=False``), as ``torch.nn.Linear``.

    Parameters are named and shaped as PyTorch's: ``weight`` ``(out_features, in_features)``
    and ``bias`` ``(out_features,)``, drawn from U(-1/sqrt(in_features), 1/sqrt(in_features)).

    Shapes: input ``(..., in_features)`` (any number of leading dimensions, or none) ->
    output ``(..., out_features)``.

    Example:
        >>> layer = Linear(3, 2, seed=0)
        >>> layer.forward(np.ones((4, 3), dtype=np.float32)).shape
        (4, 2)
    """

    def __init__(
        self,
        in_features: int,
        out_features: int,
        bias: bool = True,
        seed: int | None = None,
        dtype: Any = "float32",
        init: str = "uniform",
    ) -> None:
        self.seed = v.seed_or_random(seed)
        self._core = _core.Linear(
            v.positive_int(in_features, "in_features"),
            v.positive_int(out_features, "out_features"),
            bool(bias),
            self.seed,
            v.dtype_name(dtype),
            init,
        )

    _CORE_TYPE = _core.Linear

    in_features = property(lambda self: self._core.in_features, doc="Input features.")
    out_features = property(lambda self: self._core.out_features, doc="Output features.")
    bias = property(lambda self: self._core.bias, doc="Whether the layer adds a bias.")
    dtype = property(lambda self: self._core.dtype, doc="'float32' or 'float64'.")

    def __repr__(self) -> str:
        return (
            f"Linear(in_features={self.in_features}, out_features={self.out_features}, "
            f"bias={self.bias}, dtype={self.dtype!r})"
        )

    def _rows(self, x: Any, what: str, features: int, name: str) -> Array:
        a = v.floats(x, what, self.dtype)
        shape = np.shape(x)
        if len(shape) == 0 or shape[-1] != features:
            raise ValueError(f"{what}: expected shape (..., {features}) ({name} as the last "
                             f"dimension), got {list(shape)}")
        return np.ascontiguousarray(a.reshape(-1, features))

    def forward(self, x: Any) -> Array:
        """``x W^T + b`` over the last dimension of ``x``.

        Shapes: ``(..., in_features)`` -> ``(..., out_features)``.

        Example:
            >>> layer = Linear(3, 2, bias=False, seed=0)
            >>> x = np.eye(3, dtype=np.float32)
            >>> bool((layer.forward(x) == layer.state_dict()["weight"].T).all())   # rows of W^T
            True
        """
        rows = self._rows(x, "input", self.in_features, "in_features")
        y = self._core.forward(rows)  # (n, out_features)
        return y.reshape(*np.shape(x)[:-1], self.out_features)  # type: ignore[no-any-return]

    __call__ = forward

    def backward(self, x: Any, d_output: Any) -> tuple[dict[str, Array], Array]:
        """Exact gradients of ``loss = sum(forward(x) * d_output)``.

        Returns ``(grads, d_x)``: ``grads`` keyed like ``state_dict()`` and ``d_x`` shaped
        like ``x``.

        Example:
            >>> layer = Linear(3, 2, seed=0, dtype="float64")
            >>> grads, d_x = layer.backward(np.ones((5, 3)), np.ones((5, 2)))
            >>> grads["weight"].tolist(), grads["bias"].tolist(), d_x.shape
            ([[5.0, 5.0, 5.0], [5.0, 5.0, 5.0]], [5.0, 5.0], (5, 3))
        """
        rows = self._rows(x, "input", self.in_features, "in_features")
        expected = (*np.shape(x)[:-1], self.out_features)
        d_out = v.floats(d_output, "d_output", self.dtype)
        if d_out.shape != expected:
            raise ValueError(f"d_output: expected shape {list(expected)} (like the output), "
                             f"got {list(d_out.shape)}")
        grads, d_x = self._core.backward(rows, np.ascontiguousarray(d_out.reshape(rows.shape[0], -1)))
        return dict(grads), d_x.reshape(np.shape(x))
