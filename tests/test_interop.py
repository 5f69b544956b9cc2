"""seqrnn <-> PyTorch: converted modules give the same outputs and gradients, and convert back."""

from __future__ import annotations

import subprocess
import sys
from typing import Any

import numpy as np
import pytest
import seqrnn
from seqrnn.interop import from_torch, to_torch

try:
    import torch
    import torch.nn.functional as F
except ImportError:  # the conversions are checked where torch is installed
    torch = F = None
needs_torch = pytest.mark.skipif(torch is None, reason="needs torch (pip install seqrnn[torch])")


def test_import_needs_neither_torch_nor_onnx() -> None:
    code = ("import sys, seqrnn, seqrnn.interop, seqrnn.export; "
            "print(sorted({'torch', 'onnx', 'onnxruntime'} & set(sys.modules)))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_without_torch_the_error_says_what_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "torch", None)  # import torch fails
    with pytest.raises(ImportError, match=r"needs torch: pip install seqrnn\[torch\]"):
        seqrnn.RNN(2, 3, seed=0).to_torch()
    with pytest.raises(ImportError, match="needs torch"):
        from_torch(object())

TOL = {"rtol": 1e-5, "atol": 1e-5}  # float32


def t(a: Any) -> Any:
    return torch.from_numpy(np.ascontiguousarray(a))


def grads_of(module: Any) -> dict[str, np.ndarray]:
    return {k: p.grad.numpy() for k, p in module.named_parameters()}


def assert_dicts_close(got: dict[str, np.ndarray], want: dict[str, np.ndarray]) -> None:
    assert sorted(got) == sorted(want)
    for k, w in want.items():
        np.testing.assert_allclose(got[k], w, err_msg=k, **TOL)


# ----- RNN ------------------------------------------------------------------------------------


@needs_torch
@pytest.mark.parametrize("batch_first", [False, True])
@pytest.mark.parametrize("nonlinearity", ["tanh", "relu"])
def test_rnn_outputs_and_gradients_match_torch(batch_first: bool, nonlinearity: str) -> None:
    rng = np.random.default_rng(0)
    rnn = seqrnn.RNN(3, 5, num_layers=2, nonlinearity=nonlinearity, batch_first=batch_first,
                     seed=1)
    module = to_torch(rnn)
    assert isinstance(module, torch.nn.RNN) and module.batch_first == batch_first
    x = rng.standard_normal((4, 6, 3)).astype(np.float32)  # (batch or steps, ..., 3)
    h0 = rng.standard_normal((2, 6 if not batch_first else 4, 5)).astype(np.float32)
    out, h_n = rnn.forward(x, h0)
    x_t, h0_t = t(x).requires_grad_(), t(h0).requires_grad_()
    out_t, h_n_t = module(x_t, h0_t)
    np.testing.assert_allclose(out, out_t.detach().numpy(), **TOL)
    np.testing.assert_allclose(h_n, h_n_t.detach().numpy(), **TOL)

    d_out = rng.standard_normal(out.shape).astype(np.float32)
    d_h_n = rng.standard_normal(h_n.shape).astype(np.float32)
    grads, d_x, d_h0 = rnn.backward(x, d_out, h0, d_h_n)
    ((out_t * t(d_out)).sum() + (h_n_t * t(d_h_n)).sum()).backward()
    assert_dicts_close(grads, grads_of(module))
    np.testing.assert_allclose(d_x, x_t.grad.numpy(), **TOL)
    np.testing.assert_allclose(d_h0, h0_t.grad.numpy(), **TOL)


@needs_torch
def test_rnn_round_trip_keeps_everything() -> None:
    rnn = seqrnn.RNN(3, 4, num_layers=3, nonlinearity="relu", bias=False, batch_first=True,
                     dropout=0.25, seed=0, dtype="float64")
    module = to_torch(rnn)
    assert module.weight_ih_l0.dtype == torch.float64 and module.dropout == 0.25
    back = from_torch(module)
    assert isinstance(back, seqrnn.RNN)
    assert repr(back) == repr(rnn) and back.dropout == 0.25
    assert_dicts_close(back.state_dict(), rnn.state_dict())
    for k, v in rnn.state_dict().items():
        assert np.array_equal(back.state_dict()[k], v)


@needs_torch
def test_torch_rnn_converts_and_back() -> None:
    torch.manual_seed(0)
    module = torch.nn.RNN(2, 3, num_layers=2)
    rnn = seqrnn.RNN.from_torch(module)
    again = to_torch(rnn)
    for k, v in module.state_dict().items():
        assert torch.equal(again.state_dict()[k], v)


@needs_torch
@pytest.mark.parametrize("bias", [True, False])
def test_linear_outputs_gradients_and_round_trip(bias: bool) -> None:
    rng = np.random.default_rng(5)
    layer = seqrnn.Linear(4, 3, bias=bias, seed=0)
    module = to_torch(layer)
    assert isinstance(module, torch.nn.Linear) and (module.bias is not None) == bias
    x = rng.standard_normal((2, 5, 4)).astype(np.float32)
    d_y = rng.standard_normal((2, 5, 3)).astype(np.float32)
    x_t = t(x).requires_grad_()
    y_t = module(x_t)
    np.testing.assert_allclose(layer.forward(x), y_t.detach().numpy(), **TOL)
    (y_t * t(d_y)).sum().backward()
    grads, d_x = layer.backward(x, d_y)
    assert_dicts_close(grads, grads_of(module))
    np.testing.assert_allclose(d_x, x_t.grad.numpy(), **TOL)
    back = seqrnn.Linear.from_torch(module)
    assert repr(back) == repr(layer)
    for k, v in layer.state_dict().items():
        assert np.array_equal(back.state_dict()[k], v)


# ----- language model -------------------------------------------------------------------------


def lm_loss_torch(module: Any, x: np.ndarray, y: np.ndarray, mask: np.ndarray,
                  state: np.ndarray) -> Any:
    logits, _ = module(t(x), t(state))
    ce = F.cross_entropy(logits.reshape(-1, logits.shape[-1]), t(y).reshape(-1),
                         reduction="none")
    m = t(mask).reshape(-1)
    return logits, (ce * m).sum() / m.sum()


@needs_torch
@pytest.mark.parametrize("embed_size", [None, 4])
def test_language_model_logits_and_gradients_match_torch(embed_size: int | None) -> None:
    rng = np.random.default_rng(1)
    lm = seqrnn.LanguageModel(vocab_size=7, hidden_size=6, num_layers=2, embed_size=embed_size,
                              seed=2)
    module = to_torch(lm)
    assert (module.embedding is None) == (embed_size is None)
    x = rng.integers(0, 7, size=(3, 5))
    y = rng.integers(0, 7, size=(3, 5))
    mask = (rng.random((3, 5)) < 0.7).astype(np.float32)
    mask[0, 0] = 1.0
    state = rng.standard_normal((2, 3, 6)).astype(np.float32)

    logits, h_n = lm.logits(x, state)
    loss, grads = lm.loss_and_grads(x, y, mask=mask, state=state)
    logits_t, loss_t = lm_loss_torch(module, x, y, mask, state)
    loss_t.backward()
    np.testing.assert_allclose(logits, logits_t.detach().numpy(), **TOL)
    np.testing.assert_allclose(h_n, module(t(x), t(state))[1].detach().numpy(), **TOL)
    np.testing.assert_allclose(loss, loss_t.item(), **TOL)
    assert_dicts_close(grads, grads_of(module))


@needs_torch
def test_language_model_round_trip() -> None:
    lm = seqrnn.LanguageModel(vocab_size=5, hidden_size=4, num_layers=2, embed_size=3, seed=0,
                              nonlinearity="relu", dtype="float64")
    back = seqrnn.LanguageModel.from_torch(lm.to_torch())
    assert repr(back) == repr(lm) and back.nonlinearity == "relu"
    for k, v in lm.state_dict().items():
        assert np.array_equal(back.state_dict()[k], v)


@needs_torch
def test_custom_language_model_module_converts() -> None:
    class CharRNN(torch.nn.Module):  # a user's own module with the same parts
        def __init__(self) -> None:
            super().__init__()
            self.rnn = torch.nn.RNN(6, 8)
            self.output = torch.nn.Linear(8, 6)

    lm = from_torch(CharRNN())
    assert isinstance(lm, seqrnn.LanguageModel) and lm.embed_size is None and lm.vocab_size == 6


# ----- translator -----------------------------------------------------------------------------


def seq2seq_batch(rng: np.random.Generator, src_v: int, tgt_v: int) -> tuple[np.ndarray, ...]:
    src = rng.integers(0, src_v, size=(4, 6))
    src_len = np.array([6, 3, 1, 5])
    tgt_in = rng.integers(0, tgt_v, size=(4, 5))
    tgt_out = rng.integers(0, tgt_v, size=(4, 5))
    tgt_len = np.array([5, 2, 4, 1])
    return src, src_len, tgt_in, tgt_out, tgt_len


@needs_torch
@pytest.mark.parametrize("context", ["concat", "none"])
def test_seq2seq_logits_and_gradients_match_torch(context: str) -> None:
    rng = np.random.default_rng(3)
    model = seqrnn.Seq2Seq(9, 8, embed_size=4, hidden_size=5, num_layers=2, context=context,
                           seed=4)
    module = to_torch(model)
    src, src_len, tgt_in, tgt_out, tgt_len = seq2seq_batch(rng, 9, 8)
    loss, grads = model.loss_and_grads(src, src_len, tgt_in, tgt_out, tgt_len)

    logits = module(t(src), t(src_len), t(tgt_in))  # (4, 5, 8)
    ce = F.cross_entropy(logits.reshape(-1, 8), t(tgt_out).reshape(-1), reduction="none")
    mask = (torch.arange(5)[None, :] < t(tgt_len)[:, None]).reshape(-1).float()
    loss_t = (ce * mask).sum() / mask.sum()
    loss_t.backward()
    np.testing.assert_allclose(loss, loss_t.item(), **TOL)
    assert_dicts_close(grads, grads_of(module))
    # padding never enters the encoder: changing it leaves the logits alone
    src2 = src.copy()
    src2[1, 3:] = (src2[1, 3:] + 1) % 9
    np.testing.assert_allclose(module(t(src2), t(src_len), t(tgt_in)).detach().numpy(),
                               logits.detach().numpy(), **TOL)


@needs_torch
def test_seq2seq_greedy_decoding_agrees_with_torch() -> None:
    model = seqrnn.Seq2Seq(9, 8, embed_size=4, hidden_size=6, num_layers=2, seed=5)
    module = to_torch(model)
    src, src_len = np.array([[3, 4, 5, 0], [6, 2, 0, 0]]), np.array([3, 2])
    got = model.decode(src, src_len, bos=1, eos=2, max_len=6)
    state = module.encoder(t(src), t(src_len))
    context, token = state[-1], torch.ones((2, 1), dtype=torch.int64)
    want: list[list[int]] = [[], []]
    done = [False, False]
    for _ in range(6):
        logits, state = module.decoder(token, state, context)
        token = logits.argmax(-1)
        for b in range(2):
            if not done[b]:
                done[b] = int(token[b, 0]) == 2
                if not done[b]:
                    want[b].append(int(token[b, 0]))
    assert got == want


@needs_torch
def test_seq2seq_round_trip_and_d2l_names() -> None:
    model = seqrnn.Seq2Seq(6, 7, embed_size=3, hidden_size=4, num_layers=1, context="none",
                           seed=0)
    back = seqrnn.Seq2Seq.from_torch(model.to_torch())
    assert repr(back) == repr(model)
    for k, v in model.state_dict().items():
        assert np.array_equal(back.state_dict()[k], v)

    class Decoder(torch.nn.Module):  # d2l calls the output layer "dense"
        def __init__(self) -> None:
            super().__init__()
            self.embedding = torch.nn.Embedding(7, 3)
            self.rnn = torch.nn.RNN(3 + 4, 4)
            self.dense = torch.nn.Linear(4, 7)

    class EncoderDecoder(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.encoder = torch.nn.Module()
            self.encoder.embedding = torch.nn.Embedding(6, 3)
            self.encoder.rnn = torch.nn.RNN(3, 4)
            self.decoder = Decoder()

    d2l = EncoderDecoder()
    m = from_torch(d2l)
    assert isinstance(m, seqrnn.Seq2Seq) and m.context == "concat"
    np.testing.assert_array_equal(m.state_dict()["decoder.output.weight"],
                                  d2l.decoder.dense.weight.detach().numpy())


# ----- errors ---------------------------------------------------------------------------------


@needs_torch
def test_conversion_errors() -> None:
    with pytest.raises(TypeError, match="expects a seqrnn RNN, Linear, LanguageModel or Seq2Seq, "
                       "got int"):
        to_torch(3)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="expects a torch.nn.Module, got str"):
        from_torch("rnn")
    with pytest.raises(TypeError, match="expects an nn.RNN.*got LSTM"):
        from_torch(torch.nn.LSTM(2, 3))
    with pytest.raises(ValueError, match="unidirectional nn.RNN, got bidirectional=True"):
        from_torch(torch.nn.RNN(2, 3, bidirectional=True))
    with pytest.raises(TypeError, match=r"float32 or float64 parameters.*\['float16'\]"):
        from_torch(torch.nn.RNN(2, 3).half())
    with pytest.raises(TypeError, match="converts to a RNN, not a LanguageModel"):
        seqrnn.LanguageModel.from_torch(torch.nn.RNN(2, 3))

    lm = to_torch(seqrnn.LanguageModel(5, 4, seed=0))
    lm.rnn = torch.nn.GRU(5, 4, batch_first=True)
    with pytest.raises(TypeError, match=r"\.rnn: expected a torch.nn.RNN, got GRU"):
        from_torch(lm)
    lm.rnn = torch.nn.RNN(5, 4, bias=False)
    with pytest.raises(ValueError, match="expected layers with biases"):
        from_torch(lm)
    lm.rnn = torch.nn.RNN(6, 4)
    with pytest.raises(ValueError, match="expected rnn.input_size 5 and output.in_features 4, "
                       "got 6 and 4"):
        from_torch(lm)

    s2s = to_torch(seqrnn.Seq2Seq(5, 6, embed_size=3, hidden_size=4, num_layers=1, seed=0))
    s2s.encoder.rnn = torch.nn.RNN(3, 4, nonlinearity="relu")
    with pytest.raises(ValueError, match="encoder.rnn: expected nonlinearity 'tanh', got 'relu'"):
        from_torch(s2s)
    s2s.encoder.rnn = torch.nn.RNN(3, 5)
    with pytest.raises(ValueError, match=r"decoder.rnn.weight_ih_l0: expected shape \[5, 3\], got \[4, 7\]"):
        from_torch(s2s)
