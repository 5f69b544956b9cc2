"""What every seqrnn model class shares: its parameters as a PyTorch-style state dict."""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt


class StateDict:
    """``state_dict()`` / ``load_state_dict()`` over the compiled model in ``self._core``."""

    _core: Any

    def state_dict(self) -> dict[str, npt.NDArray[Any]]:
        """Copies of all parameters keyed by PyTorch-style names (``rnn.weight_ih_l0``, ...)."""
        return dict(self._core.state_dict())

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        """Replace every parameter; names, shapes and dtypes must match exactly (``ValueError``
        for names and shapes, ``TypeError`` for dtypes). Nothing changes on error."""
        if not isinstance(state_dict, dict):
            raise TypeError(f"state_dict must be a dict, got {type(state_dict).__name__}")
        self._core.load_state_dict({k: np.asarray(a) for k, a in state_dict.items()})
