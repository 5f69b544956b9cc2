"""Moving models between seqrnn and PyTorch (``pip install seqrnn[torch]``).

:func:`to_torch` turns a :class:`seqrnn.RNN` into a ``torch.nn.RNN``, a :class:`seqrnn.Linear`
into a ``torch.nn.Linear``, a
:class:`seqrnn.LanguageModel` into a :class:`seqrnn.torch_modules.LanguageModelModule` and a
:class:`seqrnn.Seq2Seq` into a :class:`seqrnn.torch_modules.Seq2SeqModule`, with the same
parameters and the same outputs; :func:`from_torch` goes back. torch is imported by these
functions only, so ``import seqrnn`` never needs it.

Parameter names are the same on both sides, so a state dict moves as it is; the dtype
(float32 or float64) is kept. Modules must be on the CPU side of the copy: parameters are
copied with ``.detach().cpu()``.

Example:
    >>> import seqrnn, torch
    >>> lm = seqrnn.LanguageModel(vocab_size=5, hidden_size=8, seed=0)
    >>> module = seqrnn.interop.to_torch(lm)                # LanguageModelModule
    >>> logits, state = module(torch.tensor([[0, 1, 2]]))  # (1, 3, 5), (1, 1, 8)
    >>> back = seqrnn.interop.from_torch(module)           # a seqrnn.LanguageModel
"""

from __future__ import annotations

from typing import Any, TypeAlias

import numpy as np

from .linear import Linear
from .lm import LanguageModel
from .rnn import RNN
from .seq2seq import Seq2Seq

__all__ = ["from_torch", "to_torch"]

_DTYPES = ("float32", "float64")


def _torch() -> Any:
    try:
        import torch
    except ImportError as e:  # pragma: no cover - depends on the environment
        raise ImportError(
            "moving models to and from PyTorch needs torch: pip install seqrnn[torch]"
        ) from e
    return torch


def _load(module: Any, state: dict[str, Any]) -> Any:
    torch = _torch()
    module.load_state_dict({k: torch.from_numpy(np.ascontiguousarray(a)) for k, a in state.items()})
    return module


Model: TypeAlias = RNN | LanguageModel | Seq2Seq | Linear  # what converts


def to_torch(model: Model) -> Any:
    """The PyTorch module computing what ``model`` computes, with copies of its parameters.

    - :class:`seqrnn.RNN` -> ``torch.nn.RNN`` (same sizes, nonlinearity, bias, ``batch_first``
      and dropout);
    - :class:`seqrnn.Linear` -> ``torch.nn.Linear``;
    - :class:`seqrnn.LanguageModel` -> :class:`~seqrnn.torch_modules.LanguageModelModule`,
      whose ``forward(ids (batch, steps))`` gives ``(logits (batch, steps, vocab), state)``;
    - :class:`seqrnn.Seq2Seq` -> :class:`~seqrnn.torch_modules.Seq2SeqModule`, whose
      ``forward(src, src_valid_len, tgt_in)`` gives the teacher-forced logits.

    The module is in training mode as any new module (dropout, if configured, is active);
    call ``.eval()`` to compare outputs.

    Example:
        >>> rnn = seqrnn.RNN(3, 4, num_layers=2, seed=0)
        >>> to_torch(rnn)
        RNN(3, 4, num_layers=2)
    """
    if not isinstance(model, (RNN, LanguageModel, Seq2Seq, Linear)):
        raise TypeError(f"to_torch expects a seqrnn RNN, Linear, LanguageModel or Seq2Seq, got "
                        f"{type(model).__name__}")
    torch = _torch()
    dtype = torch.float32 if model.dtype == "float32" else torch.float64
    if isinstance(model, RNN):
        module = torch.nn.RNN(model.input_size, model.hidden_size, model.num_layers,
                              nonlinearity=model.nonlinearity, bias=model.bias,
                              batch_first=model.batch_first, dropout=model.dropout, dtype=dtype)
    elif isinstance(model, Linear):
        module = torch.nn.Linear(model.in_features, model.out_features, bias=model.bias,
                                 dtype=dtype)
    elif isinstance(model, LanguageModel):
        from .torch_modules import LanguageModelModule

        module = LanguageModelModule(model.vocab_size, model.hidden_size, model.num_layers,
                                     model.embed_size, model.nonlinearity, model.dropout, dtype)
    else:
        from .torch_modules import Seq2SeqModule

        module = Seq2SeqModule(model.src_vocab_size, model.tgt_vocab_size, model.embed_size,
                               model.hidden_size, model.num_layers, model.context,
                               model.dropout, dtype, model.attention)
    return _load(module, model.state_dict())


def _numpy_state(module: Any) -> dict[str, Any]:
    return {k: v.detach().cpu().numpy() for k, v in module.state_dict().items()}


def _dtype(module: Any) -> str:
    dtypes = {str(p.dtype).removeprefix("torch.") for p in module.parameters()}
    if len(dtypes) != 1 or not dtypes <= set(_DTYPES):
        raise TypeError(
            f"{type(module).__name__}: expected float32 or float64 parameters of one dtype, "
            f"got {sorted(dtypes)}"
        )
    return dtypes.pop()


def _rnn_options(rnn: Any, where: str) -> tuple[str, float]:
    """Checks that ``rnn`` is an ``nn.RNN`` seqrnn can hold; returns (nonlinearity, dropout)."""
    torch = _torch()
    if not isinstance(rnn, torch.nn.RNN):
        raise TypeError(f"{where}: expected a torch.nn.RNN, got {type(rnn).__name__}")
    if rnn.bidirectional:
        raise ValueError(f"{where}: expected a unidirectional nn.RNN, got bidirectional=True")
    if getattr(rnn, "proj_size", 0):
        raise ValueError(f"{where}: expected proj_size=0, got {rnn.proj_size}")
    return str(rnn.nonlinearity), float(rnn.dropout)


def _require_bias(where: str, rnn: Any, linear: Any) -> None:
    if not rnn.bias or linear.bias is None:
        raise ValueError(f"{where}: expected layers with biases (bias=True), got bias=False")


def _output(decoder: Any) -> Any:
    out = getattr(decoder, "output", None)
    return out if out is not None else getattr(decoder, "dense", None)  # d2l names it dense


def from_torch(module: Any) -> Model:
    """The seqrnn model equivalent to a PyTorch module, with copies of its parameters.

    Accepts a ``torch.nn.RNN`` (-> :class:`seqrnn.RNN`), a ``torch.nn.Linear`` (->
    :class:`seqrnn.Linear`), a module with ``rnn`` (``nn.RNN``),
    ``output`` (``nn.Linear``) and optionally ``embedding`` (``nn.Embedding``) attributes such
    as :class:`~seqrnn.torch_modules.LanguageModelModule` (-> :class:`seqrnn.LanguageModel`;
    without ``embedding`` the input is one-hot), and a module with ``encoder`` and ``decoder``
    as :class:`~seqrnn.torch_modules.Seq2SeqModule` or d2l's ``EncoderDecoder`` with tanh
    ``nn.RNN`` layers (-> :class:`seqrnn.Seq2Seq`; the decoder's ``output`` or ``dense``
    layer; ``context="concat"`` when the decoder input is ``embed_size + hidden_size`` wide).

    ``TypeError`` for other modules or dtypes, ``ValueError`` for options seqrnn lacks
    (bidirectional, ``proj_size``, no bias in a language model or translator).

    Example:
        >>> import torch
        >>> rnn = from_torch(torch.nn.RNN(3, 4, num_layers=2))   # a seqrnn.RNN
        >>> rnn
        RNN(3, 4, num_layers=2, nonlinearity='tanh', bias=True, batch_first=False, dtype='float32')
    """
    torch = _torch()
    name = type(module).__name__
    if not isinstance(module, torch.nn.Module):
        raise TypeError(f"from_torch expects a torch.nn.Module, got {name}")
    dtype = _dtype(module)
    if isinstance(module, torch.nn.RNN):
        nonlinearity, dropout = _rnn_options(module, name)
        rnn = RNN(module.input_size, module.hidden_size, module.num_layers, nonlinearity,
                  bool(module.bias), bool(module.batch_first), seed=0, dtype=dtype,
                  dropout=dropout)
        rnn.load_state_dict(_numpy_state(module))
        return rnn
    if isinstance(module, torch.nn.Linear):
        layer = Linear(module.in_features, module.out_features, module.bias is not None, seed=0,
                       dtype=dtype)
        layer.load_state_dict(_numpy_state(module))
        return layer
    if hasattr(module, "encoder") and hasattr(module, "decoder"):
        return _seq2seq(module, dtype)
    if hasattr(module, "rnn") and hasattr(module, "output"):
        return _language_model(module, dtype)
    raise TypeError(
        f"from_torch expects an nn.RNN, an nn.Linear, a module with rnn/output (a language "
        f"model) or with encoder/decoder (a translator), got {name}"
    )


def _language_model(module: Any, dtype: str) -> LanguageModel:
    name = type(module).__name__
    nonlinearity, dropout = _rnn_options(module.rnn, f"{name}.rnn")
    _require_bias(name, module.rnn, module.output)
    vocab_size, hidden = module.output.out_features, module.rnn.hidden_size
    embedding = getattr(module, "embedding", None)
    embed_size = None if embedding is None else int(embedding.embedding_dim)
    want = vocab_size if embed_size is None else embed_size
    if module.rnn.input_size != want or module.output.in_features != hidden:
        raise ValueError(
            f"{name}: expected rnn.input_size {want} and output.in_features {hidden}, got "
            f"{module.rnn.input_size} and {module.output.in_features}"
        )
    if embedding is not None and embedding.num_embeddings != vocab_size:
        raise ValueError(f"{name}: expected {vocab_size} embeddings (the output size), got "
                         f"{embedding.num_embeddings}")
    lm = LanguageModel(vocab_size, hidden, module.rnn.num_layers, embed_size, seed=0,
                       dtype=dtype, nonlinearity=nonlinearity, dropout=dropout)
    state = {f"rnn.{k}": v for k, v in _numpy_state(module.rnn).items()}
    state.update({f"output.{k}": v for k, v in _numpy_state(module.output).items()})
    if embedding is not None:
        state["embedding.weight"] = _numpy_state(embedding)["weight"]
    lm.load_state_dict(state)
    return lm


def _seq2seq(module: Any, dtype: str) -> Seq2Seq:
    name = type(module).__name__
    enc, dec = module.encoder, module.decoder
    out = _output(dec)
    for part, where in ((enc, "encoder"), (dec, "decoder")):
        if not hasattr(part, "embedding") or not hasattr(part, "rnn"):
            raise TypeError(f"{name}.{where}: expected embedding and rnn attributes")
        nonlinearity, _ = _rnn_options(part.rnn, f"{name}.{where}.rnn")
        if nonlinearity != "tanh":
            raise ValueError(f"{name}.{where}.rnn: expected nonlinearity 'tanh', got "
                             f"{nonlinearity!r}")
    if out is None:
        raise TypeError(f"{name}.decoder: expected an output (or dense) nn.Linear")
    _require_bias(f"{name}.decoder", dec.rnn, out)
    _require_bias(f"{name}.encoder", enc.rnn, out)
    e, h = int(enc.embedding.embedding_dim), int(enc.rnn.hidden_size)
    attention = "additive" if hasattr(dec, "attention") else "none"
    context = "concat" if dec.rnn.input_size == e + h and attention == "none" else "none"
    model = Seq2Seq(enc.embedding.num_embeddings, out.out_features, e, h, enc.rnn.num_layers,
                    context, seed=0, dtype=dtype, dropout=float(enc.rnn.dropout),
                    attention=attention)
    state = {f"encoder.{k}": v for k, v in _numpy_state(enc).items()
             if k.split(".")[0] in ("embedding", "rnn")}
    state.update({f"decoder.{k}": v for k, v in _numpy_state(dec).items()
                  if k.split(".")[0] in ("embedding", "rnn")})
    state.update({f"decoder.output.{k}": v for k, v in _numpy_state(out).items()})
    if attention == "additive":
        state.update({f"decoder.attention.{k}": v
                      for k, v in _numpy_state(dec.attention).items()})
    model.load_state_dict(state)  # ValueError naming the first shape that does not fit
    return model
