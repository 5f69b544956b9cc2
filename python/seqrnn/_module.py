"""What every seqrnn model class shares: its parameters as a PyTorch-style state dict, pickling
through the checkpoint bytes, and conversion to and from PyTorch modules."""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any, cast

import numpy as np
import numpy.typing as npt

if TYPE_CHECKING:
    from typing_extensions import Self

    from .interop import Model
_CORE = "_core"  # the compiled model; pickled as the safetensors bytes that ``save`` writes
_TRANSIENT = ("_fit_lock", "_optimizer")  # per-process state and the last fit's optimizer


def users_entries(meta: dict[str, str]) -> dict[str, str]:
    """The entries of a file's metadata that its writer's caller put there.

    Example:
        >>> users_entries({"seqrnn.kind": "Linear", "note": "x"})
        {'note': 'x'}
    """
    return {k: v for k, v in meta.items() if not k.startswith("seqrnn.")}


class StateDict:
    """``state_dict()`` / ``load_state_dict()`` over the compiled model in ``self._core``, plus
    ``pickle``/``copy.deepcopy`` support and ``to_torch()`` / ``from_torch()``.

    Example:
        >>> import copy, pickle
        >>> lm = seqrnn.LanguageModel(vocab_size=5, hidden_size=4, seed=0)
        >>> clone = pickle.loads(pickle.dumps(lm))          # or copy.deepcopy(lm)
        >>> bool((clone.state_dict()["output.weight"] == lm.state_dict()["output.weight"]).all())
        True
    """

    _metadata: dict[str, str]  # the caller's entries of a loaded file (see metadata)

    _core: Any

    def state_dict(self) -> dict[str, npt.NDArray[Any]]:
        """Copies of all parameters keyed by PyTorch-style names (``rnn.weight_ih_l0``, ...),
        shaped as PyTorch shapes them.

        Example:
            >>> lm = seqrnn.LanguageModel(vocab_size=5, hidden_size=4, seed=0)
            >>> {k: a.shape for k, a in lm.state_dict().items()}  # doctest: +NORMALIZE_WHITESPACE
            {'rnn.weight_ih_l0': (4, 5), 'rnn.weight_hh_l0': (4, 4), 'rnn.bias_ih_l0': (4,),
             'rnn.bias_hh_l0': (4,), 'output.weight': (5, 4), 'output.bias': (5,)}
        """
        return dict(self._core.state_dict())

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        """Replace every parameter; names, shapes and dtypes must match exactly (``ValueError``
        for names and shapes, ``TypeError`` for dtypes). Nothing changes on error.

        Example:
            >>> a = seqrnn.RNN(3, 4, seed=0)
            >>> b = seqrnn.RNN(3, 4, seed=1)
            >>> b.load_state_dict(a.state_dict())             # b now computes what a computes
        """
        if not isinstance(state_dict, dict):
            raise TypeError(f"state_dict must be a dict, got {type(state_dict).__name__}")
        self._core.load_state_dict({k: np.asarray(a) for k, a in state_dict.items()})

    # ----- files --------------------------------------------------------------------------------
    # LanguageModel and Seq2Seq have their own save/load (vocabularies); RNN and Linear use these.

    _CORE_TYPE: Any = None  # the compiled class, for `load`

    def _file_metadata(self) -> dict[str, str]:
        """Python-level settings to keep in a saved file's metadata."""
        return {}

    def _restore_file_metadata(self, meta: dict[str, str], name: str) -> None:
        """Restore :meth:`_file_metadata` (``ValueError`` for values it never writes)."""

    @property
    def metadata(self) -> dict[str, str]:
        """The caller's entries of the file this model was loaded from (``save``'s
        ``metadata``); empty for a model made in this process.

        Example:
            >>> seqrnn.Linear(in_features=3, out_features=2, seed=0).metadata
            {}
        """
        return dict(self.__dict__.get("_metadata", {}))

    def save(self, path: str | os.PathLike[str], metadata: dict[str, str] | None = None) -> None:
        """Write parameters and configuration to one safetensors file, atomically (see README's
        guarantees: links are followed, special files refused, permission bits kept), with
        ``metadata`` (str -> str, keys not starting with ``seqrnn.``) in its header.

        Example:
            >>> seqrnn.RNN(input_size=3, hidden_size=4, seed=0).save("rnn.safetensors",
            ...                                                     {"note": "untrained"})
            >>> rnn = seqrnn.RNN.load("rnn.safetensors")
            >>> rnn.hidden_size, rnn.metadata
            (4, {'note': 'untrained'})
        """
        from . import _core
        from ._validate import user_metadata

        meta = {**user_metadata(metadata), **self._file_metadata()}
        _core.write_atomic(os.fspath(path), self._core.to_bytes(meta))

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> Self:
        """Read a file written by :meth:`save`; validates everything and never executes code.

        Example:
            >>> seqrnn.Linear(in_features=3, out_features=2, seed=0).save("linear.safetensors")
            >>> seqrnn.Linear.load("linear.safetensors")
            Linear(in_features=3, out_features=2, bias=True, dtype='float32')
        """
        from ._validate import read_file

        name = os.fspath(path)
        core, meta = cls._CORE_TYPE.from_bytes(read_file(name))
        model = cls.__new__(cls)
        model._core = core
        model.__dict__.setdefault("seed", None)
        model._restore_file_metadata(meta, name)
        model._metadata = users_entries(meta)
        return model

    # ----- pickle and copy ----------------------------------------------------------------------

    def __getstate__(self) -> dict[str, Any]:
        """The instance's attributes with the compiled model replaced by its checkpoint bytes
        (safetensors: parameters, configuration and dtype), so ``pickle``, ``copy.deepcopy``,
        ``multiprocessing`` and ``joblib`` work and a copy shares nothing with the original."""
        state = {k: v for k, v in self.__dict__.items() if k not in _TRANSIENT}
        core = state.pop(_CORE)
        state[_CORE] = (type(core), core.to_bytes({}))
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        """Rebuild from :meth:`__getstate__`; the bytes are validated as a checkpoint file is."""
        state = dict(state)
        core_type, data = state.pop(_CORE)
        if not isinstance(data, bytes) or not hasattr(core_type, "from_bytes"):
            raise TypeError(f"cannot restore a {type(self).__name__} from this pickled state")
        self.__dict__.update(state)
        self._core = core_type.from_bytes(data)[0]

    # ----- PyTorch ------------------------------------------------------------------------------

    def to_torch(self) -> Any:
        """The equivalent PyTorch module with copies of the parameters (see
        :func:`seqrnn.interop.to_torch`; needs ``pip install seqrnn[torch]``).

        Example:
            >>> module = seqrnn.RNN(3, 4, seed=0).to_torch()    # a torch.nn.RNN
            >>> module.weight_hh_l0.shape
            torch.Size([4, 4])
        """
        from .interop import to_torch

        return to_torch(cast("Model", self))

    @classmethod
    def from_torch(cls, module: Any) -> Self:
        """A model of this class from an equivalent PyTorch module (see
        :func:`seqrnn.interop.from_torch`); ``TypeError`` if the module converts to another
        kind of model.

        Example:
            >>> import torch
            >>> seqrnn.RNN.from_torch(torch.nn.RNN(3, 4, nonlinearity="relu")).nonlinearity
            'relu'
        """
        from .interop import from_torch

        model = from_torch(module)
        if not isinstance(model, cls):
            raise TypeError(
                f"{type(module).__name__} converts to a {type(model).__name__}, not a {cls.__name__}"
            )
        return model
