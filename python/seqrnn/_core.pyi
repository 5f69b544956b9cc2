"""Type stubs of the compiled core (kept honest by ``python -m mypy.stubtest seqrnn._core``)."""

import os
from collections.abc import Sequence
from typing import Any, TypeAlias, final

import numpy as np
import numpy.typing as npt

_Floats: TypeAlias = npt.NDArray[np.floating[Any]]
_Ids: TypeAlias = npt.NDArray[np.int64]
# A fit record: per-epoch train/valid perplexity, tokens/s, seconds, learning rate, best
# epoch and its perplexity, and (tokens, loss sum, seconds) of the epoch in progress.
_Record: TypeAlias = tuple[list[float], list[float], list[float], list[float], list[float],
                           int | None, float | None, tuple[int, float, float]]

__all__ = [
    "RNN",
    "CorpusBatches",
    "LanguageModel",
    "Linear",
    "NonFiniteError",
    "OptimizerState",
    "Seq2Seq",
    "Stream",
    "Trainer",
    "Vocab",
    "__version__",
    "batches",
    "cpu_info",
    "encode_source",
    "get_num_threads",
    "load_translation_data",
    "preprocess_d2l",
    "preprocess_nmt",
    "set_max_isa",
    "set_num_threads",
    "tokenize",
    "tokenize_nmt",
    "translation_data",
    "write_atomic",
]

__version__: str

class NonFiniteError(ValueError): ...

@final
class RNN:
    def __new__(
        cls,
        input_size: int,
        hidden_size: int,
        num_layers: int = 1,
        nonlinearity: str = "tanh",
        bias: bool = True,
        seed: int = 0,
        dtype: str = "float32",
        init: str = "uniform",
        dropout: float = 0.0,
    ) -> RNN: ...
    def forward(
        self, x: _Floats, h0: _Floats | None = None, lengths: _Ids | None = None
    ) -> tuple[_Floats, _Floats]: ...
    def backward(
        self,
        x: _Floats,
        d_output: _Floats,
        h0: _Floats | None = None,
        d_h_n: _Floats | None = None,
        lengths: _Ids | None = None,
    ) -> tuple[dict[str, _Floats], _Floats, _Floats]: ...
    def state_dict(self) -> dict[str, _Floats]: ...
    def load_state_dict(self, state_dict: dict[str, Any]) -> None: ...
    def to_bytes(self, metadata: dict[str, str]) -> bytes: ...
    @staticmethod
    def from_bytes(data: bytes) -> tuple[RNN, dict[str, str]]: ...
    @property
    def input_size(self) -> int: ...
    @property
    def hidden_size(self) -> int: ...
    @property
    def num_layers(self) -> int: ...
    @property
    def nonlinearity(self) -> str: ...
    @property
    def bias(self) -> bool: ...
    @property
    def dropout(self) -> float: ...
    @property
    def dtype(self) -> str: ...

@final
class Linear:
    def __new__(
        cls,
        in_features: int,
        out_features: int,
        bias: bool = True,
        seed: int = 0,
        dtype: str = "float32",
        init: str = "uniform",
    ) -> Linear: ...
    def forward(self, x: _Floats) -> _Floats: ...
    def backward(self, x: _Floats, d_output: _Floats) -> tuple[dict[str, _Floats], _Floats]: ...
    def state_dict(self) -> dict[str, _Floats]: ...
    def load_state_dict(self, state_dict: dict[str, Any]) -> None: ...
    def to_bytes(self, metadata: dict[str, str]) -> bytes: ...
    @staticmethod
    def from_bytes(data: bytes) -> tuple[Linear, dict[str, str]]: ...
    @property
    def in_features(self) -> int: ...
    @property
    def out_features(self) -> int: ...
    @property
    def bias(self) -> bool: ...
    @property
    def dtype(self) -> str: ...

@final
class LanguageModel:
    def __new__(
        cls,
        vocab_size: int,
        hidden_size: int = 256,
        num_layers: int = 1,
        embed_size: int | None = None,
        nonlinearity: str = "tanh",
        seed: int = 0,
        dtype: str = "float32",
        init: str = "uniform",
        dropout: float = 0.0,
    ) -> LanguageModel: ...
    def logits(self, inputs: _Ids, state: _Floats | None = None) -> tuple[_Floats, _Floats]: ...
    def loss_and_grads(
        self,
        inputs: _Ids,
        targets: _Ids,
        mask: _Floats | None = None,
        state: _Floats | None = None,
    ) -> tuple[float, dict[str, _Floats], _Floats]: ...
    def generate(
        self,
        prefixes: Sequence[_Ids],
        num_tokens: int,
        temperature: float = 0.0,
        top_k: int | None = None,
        top_p: float | None = None,
        stop: int | None = None,
        seed: int = 0,
    ) -> list[list[int]]: ...
    def perplexity(self, corpus: _Ids, batch_size: int = 32, num_steps: int = 64) -> float: ...
    def save(self, path: str, metadata: dict[str, str]) -> None: ...
    @staticmethod
    def load(path: str) -> tuple[LanguageModel, dict[str, str]]: ...
    def state_dict(self) -> dict[str, _Floats]: ...
    def load_state_dict(self, state_dict: dict[str, Any]) -> None: ...
    def to_bytes(self, metadata: dict[str, str]) -> bytes: ...
    @staticmethod
    def from_bytes(data: bytes) -> tuple[LanguageModel, dict[str, str]]: ...
    @property
    def vocab_size(self) -> int: ...
    @property
    def hidden_size(self) -> int: ...
    @property
    def num_layers(self) -> int: ...
    @property
    def embed_size(self) -> int | None: ...
    @property
    def nonlinearity(self) -> str: ...
    @property
    def dropout(self) -> float: ...
    @property
    def dtype(self) -> str: ...

@final
class Stream:
    def __new__(cls, model: LanguageModel, seed: int = 0) -> Stream: ...
    def feed(self, tokens: _Ids) -> _Floats: ...
    def next(
        self, temperature: float = 0.0, top_k: int | None = None, top_p: float | None = None
    ) -> int: ...
    def reset(self) -> None: ...
    @property
    def state(self) -> _Floats: ...
    @state.setter
    def state(self, value: _Floats) -> None: ...

@final
class Trainer:
    def __new__(
        cls,
        model: LanguageModel | Seq2Seq,
        data: Any,
        batch_size: int,
        lr: float,
        optimizer: str = "sgd",
        num_steps: int | None = None,
        sampling: str = "sequential",
        clip: float | None = None,
        clip_value: float | None = None,
        seed: int = 0,
        momentum: float = 0.0,
        weight_decay: float = 0.0,
        schedule: str | None = None,
        keep_best: bool = False,
        early_stopping: int | None = None,
        previous: OptimizerState | None = None,
        bucketing: bool = False,
    ) -> Trainer: ...
    def run(self, model: LanguageModel | Seq2Seq, max_batches: int) -> tuple[int, int, float, bool]: ...
    def end_epoch(
        self, model: LanguageModel | Seq2Seq, valid: float | None
    ) -> tuple[bool, bool, bool]: ...
    def restore_best(self, model: LanguageModel | Seq2Seq) -> bool: ...
    def optimizer_state(self) -> OptimizerState: ...
    def checkpoint(self, model: LanguageModel | Seq2Seq, path: str) -> None: ...
    def resume(self, model: LanguageModel | Seq2Seq, path: str, seed_given: bool) -> None: ...
    @property
    def record(self) -> _Record: ...
    @property
    def lr(self) -> float: ...
    @property
    def epochs(self) -> int: ...
    @property
    def steps(self) -> int: ...
    @property
    def progress(self) -> tuple[int, int]: ...

@final
class OptimizerState:
    @property
    def steps(self) -> int: ...

@final
class Seq2Seq:
    def __new__(
        cls,
        src_vocab_size: int,
        tgt_vocab_size: int,
        embed_size: int = 256,
        hidden_size: int = 256,
        num_layers: int = 2,
        context: str = "concat",
        seed: int = 0,
        dtype: str = "float32",
        init: str = "orthogonal",
        dropout: float = 0.0,
        attention: str = "none",
    ) -> Seq2Seq: ...
    def loss(
        self,
        src: _Ids,
        src_valid_len: _Ids,
        tgt_in: _Ids,
        tgt_out: _Ids,
        tgt_valid_len: _Ids,
    ) -> tuple[float, int]: ...
    def loss_and_grads(
        self,
        src: _Ids,
        src_valid_len: _Ids,
        tgt_in: _Ids,
        tgt_out: _Ids,
        tgt_valid_len: _Ids,
    ) -> tuple[float, dict[str, _Floats], int]: ...
    def decode(
        self,
        src: _Ids,
        src_valid_len: _Ids,
        bos: int,
        eos: int,
        max_len: int,
        beam_size: int = 1,
        alpha: float = 0.75,
    ) -> list[tuple[list[int], float, float]]: ...
    def greedy_steps(
        self, src: _Ids, bos: int, eos: int, max_len: int
    ) -> tuple[_Floats, _Floats, _Floats, list[int], _Floats | None]: ...
    def state_dict(self) -> dict[str, _Floats]: ...
    def load_state_dict(self, state_dict: dict[str, Any]) -> None: ...
    def to_bytes(self, metadata: dict[str, str]) -> bytes: ...
    @staticmethod
    def from_bytes(data: bytes) -> tuple[Seq2Seq, dict[str, str]]: ...
    def save(self, path: str, metadata: dict[str, str]) -> None: ...
    @staticmethod
    def load(path: str) -> tuple[Seq2Seq, dict[str, str]]: ...
    @property
    def config(self) -> tuple[int, int, int, int, int, str]: ...
    @property
    def dropout(self) -> float: ...
    @property
    def attention(self) -> str: ...
    @property
    def dtype(self) -> str: ...

@final
class Vocab:
    def __new__(
        cls, tokens: list[str], min_freq: int = 0, reserved_tokens: list[str] | None = None
    ) -> Vocab: ...
    def __len__(self) -> int: ...
    def token_to_id(self, token: str) -> int: ...
    def id_to_token(self, id: int) -> str: ...
    def encode(self, tokens: list[str]) -> _Ids: ...
    def decode(self, ids: Any) -> list[str]: ...
    @property
    def unk(self) -> int: ...
    @property
    def idx_to_token(self) -> list[str]: ...
    @property
    def token_freqs(self) -> list[tuple[str, int]]: ...
    def to_json(self) -> str: ...
    @staticmethod
    def from_json(json: str) -> Vocab: ...

def batches(
    corpus: _Ids, batch_size: int, num_steps: int, sampling: str = "random", seed: int = 0
) -> tuple[_Ids, _Ids]: ...
def tokenize(text: str, level: str = "char") -> list[str]: ...
def preprocess_d2l(text: str) -> str: ...
def set_num_threads(n: int) -> None: ...
def get_num_threads() -> int: ...
def cpu_info() -> dict[str, Any]: ...
def set_max_isa(level: str | None) -> None: ...
def write_atomic(path: str | os.PathLike[str], data: bytes) -> None: ...

# ----- the data pipeline (rust/python/src/data.rs) ---------------------------------------------

# (src_vocab, tgt_vocab, [src, tgt_in, tgt_out, src_valid_len, tgt_valid_len], pairs,
#  (train start, end), (valid start, end))
_Made: TypeAlias = tuple[Vocab, Vocab, list[_Ids], list[tuple[str, str]], tuple[int, int],
                         tuple[int, int]]

def preprocess_nmt(text: str) -> str: ...
def tokenize_nmt(
    text_or_lines: str | list[str], num_examples: int | None = None
) -> tuple[list[list[str]], list[list[str]]]: ...
def encode_source(
    sentences: list[str], vocab: Vocab, num_steps: int, preprocess: bool
) -> tuple[_Ids, _Ids]: ...
def translation_data(
    pairs: list[tuple[str, str]],
    num_steps: int,
    min_freq: int = 0,
    num_valid: int = 0,
    vocab_from: str = "train",
    preprocess: bool = True,
) -> _Made: ...
def load_translation_data(
    path: str | os.PathLike[str],
    num_pairs: int | None = None,
    num_steps: int = 9,
    min_freq: int = 2,
    num_valid: int = 0,
    vocab_from: str = "train",
) -> _Made: ...

@final
class CorpusBatches:
    def __new__(
        cls, corpus: _Ids, batch_size: int, num_steps: int, sampling: str = "random",
        seed: int = 0
    ) -> CorpusBatches: ...
    def __iter__(self) -> CorpusBatches: ...
    def __next__(self) -> tuple[_Ids, _Ids]: ...
    def __len__(self) -> int: ...
