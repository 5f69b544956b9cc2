"""seqrnn: small, fast, exact vanilla (Elman, tanh) recurrent neural networks.

A Rust core computes forward passes and exact backpropagation through time; this package
gives it a numpy interface shaped like PyTorch's ``nn.RNN``.
"""

from ._core import __version__
from .lm import LanguageModel
from .rnn import RNN

__all__ = ["RNN", "LanguageModel", "__version__"]
