"""seqrnn: small, fast, exact vanilla (Elman, tanh) recurrent neural networks.

A Rust core computes forward passes and exact backpropagation through time; this package
gives it a numpy interface shaped like PyTorch's ``nn.RNN``.
"""

from . import _core, data, export, interop, metrics, toy
from ._core import (
    NonFiniteError,
    __version__,
    cpu_info,
    get_num_threads,
    set_max_isa,
)
from ._training import History
from ._validate import int_args as _int_args
from .linear import Linear
from .lm import LanguageModel
from .rnn import RNN
from .seq2seq import Seq2Seq, Translator
from .vocab import Vocab, tokenize

set_num_threads = _int_args(_core.set_num_threads)

__all__ = [
    "RNN",
    "History",
    "LanguageModel",
    "Linear",
    "NonFiniteError",
    "Seq2Seq",
    "Translator",
    "Vocab",
    "__version__",
    "cpu_info",
    "data",
    "export",
    "get_num_threads",
    "interop",
    "metrics",
    "set_max_isa",
    "set_num_threads",
    "tokenize",
    "toy",
]
