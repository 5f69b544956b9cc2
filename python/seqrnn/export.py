"""ONNX export (``pip install seqrnn[onnx]``): the language model, and a translator's encoder
and decoder, as graphs of the standard ONNX ``RNN`` operator, one per layer.

ONNX's ``RNN`` computes ``H_t = f(X_t W^T + H_{t-1} R^T + Wb + Rb)`` with ``W`` ``(1, hidden,
input)``, ``R`` ``(1, hidden, hidden)`` and ``B = [Wb, Rb]`` ``(1, 2 hidden)``: PyTorch's
``weight_ih_l{k}``, ``weight_hh_l{k}``, ``bias_ih_l{k}`` and ``bias_hh_l{k}`` with a leading
direction axis. Graphs are float32 (ONNX runtimes implement ``RNN`` in float32; a float64
model's weights are rounded), opset 17, with symbolic ``batch`` and ``steps`` dimensions.

Inputs and outputs (batch first, as seqrnn's Python API):

- language model: ``tokens`` int64 ``(batch, steps)`` and ``state`` ``(num_layers, batch,
  hidden)`` (zeros to start) -> ``logits`` ``(batch, steps, vocab)`` and ``state_out``;
- encoder: ``src`` int64 ``(batch, steps)`` and ``src_valid_len`` int64 ``(batch,)`` ->
  ``state`` ``(num_layers, batch, hidden)``, the state after each source's last valid token;
- decoder: ``tgt_in`` int64 ``(batch, steps)``, ``state`` and, for ``context="concat"``,
  ``context`` ``(batch, hidden)`` (the encoder's ``state[-1]``) -> ``logits`` ``(batch, steps,
  tgt_vocab)`` and ``state_out``.

Example:
    >>> import onnxruntime as ort
    >>> lm = seqrnn.LanguageModel(vocab_size=5, hidden_size=8, seed=0)
    >>> proto = seqrnn.export.to_onnx(lm, "lm.onnx")
    >>> sess = ort.InferenceSession("lm.onnx")
    >>> logits, state = sess.run(None, {"tokens": np.array([[0, 1, 2]]),
    ...                                 "state": np.zeros((1, 1, 8), np.float32)})
"""

from __future__ import annotations

import os
from typing import Any

import numpy as np

from . import _core
from .lm import LanguageModel
from .seq2seq import Seq2Seq, Translator

__all__ = ["decoder_to_onnx", "encoder_to_onnx", "to_onnx"]

OPSET = 17


def _onnx() -> Any:
    try:
        import onnx
    except ImportError as e:  # pragma: no cover - depends on the environment
        raise ImportError("ONNX export needs onnx: pip install seqrnn[onnx]") from e
    return onnx


class _Graph:
    """Nodes, initializers and value infos of one graph being built."""

    def __init__(self, state: dict[str, Any]) -> None:
        self.onnx = _onnx()
        self.h = self.onnx.helper
        self.state = state
        self.nodes: list[Any] = []
        self.inits: list[Any] = []
        self._n = 0

    def const(self, name: str, value: Any) -> str:
        a = np.asarray(value)
        a = a.astype(np.float32) if a.dtype.kind == "f" else a
        self.inits.append(self.onnx.numpy_helper.from_array(np.ascontiguousarray(a), name))
        return name

    def op(self, op: str, inputs: list[str], n_out: int = 1, **attrs: Any) -> list[str]:
        self._n += 1
        outs = [f"{op.lower()}_{self._n}_{i}" for i in range(n_out)]
        self.nodes.append(self.h.make_node(op, inputs, outs, **attrs))
        return outs

    def one(self, op: str, inputs: list[str], **attrs: Any) -> str:
        return self.op(op, inputs, **attrs)[0]

    def time_major(self, ids: str) -> str:
        return self.one("Transpose", [ids], perm=[1, 0])  # (steps, batch)

    def embed(self, key: str, ids_t: str) -> str:
        return self.one("Gather", [self.const(key, self.state[key]), ids_t])  # (steps, batch, E)

    def rnn(self, prefix: str, x: str, layers: int, nonlinearity: str, h0: str | None,
            lens: str | None) -> tuple[str, str]:
        """Stacked ``RNN`` nodes over ``x`` (steps, batch, in) -> (top states (steps, batch,
        hidden), final states (layers, batch, hidden))."""
        finals = []
        for k in range(layers):
            p = {n: self.state[f"{prefix}{n}_l{k}"] for n in ("weight_ih", "weight_hh",
                                                             "bias_ih", "bias_hh")}
            hidden = p["weight_hh"].shape[0]
            w = self.const(f"{prefix}W_l{k}", p["weight_ih"][None])  # (1, H, in)
            r = self.const(f"{prefix}R_l{k}", p["weight_hh"][None])  # (1, H, H)
            b = self.const(f"{prefix}B_l{k}", np.concatenate([p["bias_ih"], p["bias_hh"]])[None])
            init = ""
            if h0 is not None:
                init = self.one("Slice", [h0, self.const(f"{prefix}start_l{k}", [k]),
                                          self.const(f"{prefix}end_l{k}", [k + 1]),
                                          self.const(f"{prefix}axis_l{k}", [0])])  # (1, B, H)
            y, y_h = self.op("RNN", [x, w, r, b, lens or "", init], n_out=2,
                             hidden_size=hidden, activations=[nonlinearity.capitalize()])
            x = self.one("Squeeze", [y, self.const(f"{prefix}dir_l{k}", [1])])  # (T, B, H)
            finals.append(y_h)  # (1, B, H)
        return x, finals[0] if layers == 1 else self.one("Concat", finals, axis=0)

    def logits(self, prefix: str, top: str) -> str:
        w = self.const(f"{prefix}weight_t", self.state[f"{prefix}weight"].T)  # (H, V)
        z = self.one("Add", [self.one("MatMul", [top, w]),
                             self.const(f"{prefix}bias", self.state[f"{prefix}bias"])])
        return self.one("Transpose", [z], perm=[1, 0, 2])  # (batch, steps, V)

    def finish(self, name: str, inputs: list[Any], outputs: list[tuple[str, str, list[Any]]],
               path: str | os.PathLike[str] | None) -> Any:
        h, tp = self.h, self.onnx.TensorProto
        for node_out, graph_out, _ in outputs:
            self.nodes.append(h.make_node("Identity", [node_out], [graph_out]))
        outs = [h.make_tensor_value_info(n, tp.FLOAT, shape) for _, n, shape in outputs]
        graph = h.make_graph(self.nodes, name, inputs, outs, self.inits)
        model = h.make_model(graph, opset_imports=[h.make_opsetid("", OPSET)],
                             producer_name="seqrnn")
        model.ir_version = min(model.ir_version, 8)  # readable by older runtimes too
        self.onnx.checker.check_model(model)
        if path is not None:
            _core.write_atomic(os.fspath(path), model.SerializeToString())  # as models are saved
        return model


def _ids_input(g: _Graph, name: str) -> Any:
    return g.h.make_tensor_value_info(name, g.onnx.TensorProto.INT64, ["batch", "steps"])


def _floats_input(g: _Graph, name: str, shape: list[Any]) -> Any:
    return g.h.make_tensor_value_info(name, g.onnx.TensorProto.FLOAT, shape)


def to_onnx(model: LanguageModel, path: str | os.PathLike[str] | None = None) -> Any:
    """The language model as an ONNX graph (an ``onnx.ModelProto``; written to ``path`` if
    given): ``(tokens (batch, steps), state (num_layers, batch, hidden)) -> (logits (batch,
    steps, vocab), state_out)``. Without an embedding the input is ``OneHot``.

    Example:
        >>> proto = to_onnx(seqrnn.LanguageModel(5, 8, seed=0), "lm.onnx")
    """
    if not isinstance(model, LanguageModel):
        raise TypeError(f"to_onnx expects a seqrnn.LanguageModel, got {type(model).__name__}")
    g = _Graph(model.state_dict())
    L, H, V = model.num_layers, model.hidden_size, model.vocab_size
    ids_t = g.time_major("tokens")
    if model.embed_size is None:
        x = g.one("OneHot", [ids_t, g.const("depth", np.array(V, dtype=np.int64)),
                             g.const("off_on", np.array([0.0, 1.0], dtype=np.float32))])
    else:
        x = g.embed("embedding.weight", ids_t)
    top, state = g.rnn("rnn.", x, L, model.nonlinearity, "state", None)
    inputs = [_ids_input(g, "tokens"), _floats_input(g, "state", [L, "batch", H])]
    outputs = [(g.logits("output.", top), "logits", ["batch", "steps", V]),
               (state, "state_out", [L, "batch", H])]
    return g.finish("seqrnn_language_model", inputs, outputs, path)


def _seq2seq(model: Seq2Seq | Translator) -> Seq2Seq:
    m = model.model if isinstance(model, Translator) else model
    if not isinstance(m, Seq2Seq):
        raise TypeError(f"expected a seqrnn.Seq2Seq or Translator, got {type(model).__name__}")
    if m.attention != "none":
        raise ValueError(f"ONNX export of a Seq2Seq with attention={m.attention!r} is not "
                         "supported (its decoder attends to every encoder state at each step); "
                         "seqrnn.interop.to_torch gives a PyTorch module of it")
    return m


def encoder_to_onnx(model: Seq2Seq | Translator,
                    path: str | os.PathLike[str] | None = None) -> Any:
    """The encoder as an ONNX graph: ``(src (batch, steps), src_valid_len (batch,)) -> state
    (num_layers, batch, hidden)``, each source stopped at its valid length (the ``RNN``
    operator's ``sequence_lens``).

    Example:
        >>> proto = encoder_to_onnx(seqrnn.Seq2Seq(10, 12, 4, 8, seed=0), "encoder.onnx")
    """
    m = _seq2seq(model)
    g = _Graph(m.state_dict())
    lens = g.one("Cast", ["src_valid_len"], to=g.onnx.TensorProto.INT32)  # (batch,)
    x = g.embed("encoder.embedding.weight", g.time_major("src"))
    _, state = g.rnn("encoder.rnn.", x, m.num_layers, "tanh", None, lens)
    inputs = [_ids_input(g, "src"),
              g.h.make_tensor_value_info("src_valid_len", g.onnx.TensorProto.INT64, ["batch"])]
    outputs = [(state, "state", [m.num_layers, "batch", m.hidden_size])]
    return g.finish("seqrnn_encoder", inputs, outputs, path)


def decoder_to_onnx(model: Seq2Seq | Translator,
                    path: str | os.PathLike[str] | None = None) -> Any:
    """The decoder as an ONNX graph: ``(tgt_in (batch, steps), state (num_layers, batch,
    hidden)[, context (batch, hidden)]) -> (logits (batch, steps, tgt_vocab), state_out)``;
    ``context`` (the encoder's ``state[-1]``) is an input only for ``context="concat"``.
    Call it on the whole teacher-forced target or one token at a time.

    Example:
        >>> proto = decoder_to_onnx(seqrnn.Seq2Seq(10, 12, 4, 8, seed=0), "decoder.onnx")
    """
    m = _seq2seq(model)
    g = _Graph(m.state_dict())
    L, H = m.num_layers, m.hidden_size
    ids_t = g.time_major("tgt_in")
    x = g.embed("decoder.embedding.weight", ids_t)  # (T, B, E)
    inputs = [_ids_input(g, "tgt_in"), _floats_input(g, "state", [L, "batch", H])]
    if m.context == "concat":
        inputs.append(_floats_input(g, "context", ["batch", H]))
        shape = g.one("Concat", [g.one("Shape", [ids_t]), g.const("hidden", [H])], axis=0)
        c = g.one("Expand", [g.one("Unsqueeze", ["context", g.const("axis0", [0])]), shape])
        x = g.one("Concat", [x, c], axis=2)  # (T, B, E + H)
    top, state = g.rnn("decoder.rnn.", x, L, "tanh", "state", None)
    outputs = [(g.logits("decoder.output.", top), "logits", ["batch", "steps", m.tgt_vocab_size]),
               (state, "state_out", [L, "batch", H])]
    return g.finish("seqrnn_decoder", inputs, outputs, path)
