"""Every invalid argument of the array-level API (RNN, LanguageModel's logits and gradients,
state dicts) raises a specific Python exception naming it, never a pyo3 panic. Training,
generation, decoding, vocabularies, iterators and files: tests/test_api_errors.py."""

from __future__ import annotations

import numpy as np
import pytest
import seqrnn

F32, I64 = np.float32, np.int64
RNN = seqrnn.RNN(3, 4, 2, seed=0)  # input_size 3, hidden 4, 2 layers, float32
RNN_BF = seqrnn.RNN(3, 4, 2, seed=0, batch_first=True)
LM = seqrnn.LanguageModel(5, 4, seed=0)  # vocab 5, hidden 4, one-hot input, float32
LM_EMB = seqrnn.LanguageModel(5, 4, embed_size=3, seed=0)
X = np.zeros((2, 3, 3), F32)  # (T=2, B=3, I=3)
D_OUT = np.zeros((2, 3, 4), F32)  # (T, B, H)
IDS = np.zeros((2, 3), I64)  # (B=2, T=3)


def sd_with(model, **changes):
    """model.state_dict() with some entries replaced (a dot in a name written as __)."""
    d = model.state_dict()
    d.update({k.replace("__", "."): v for k, v in changes.items()})
    return d


def sd_without(model, name):
    return {k: v for k, v in model.state_dict().items() if k != name}


def case(name, exc, match, call, bug=None):
    marks = [] if bug is None else [pytest.mark.xfail(reason=bug, strict=True)]
    return pytest.param(call, exc, match, id=name, marks=marks)


# fmt: off
CASES = [
    # --- wrong shapes: ValueError naming the argument
    case("input 4-D", ValueError, r"^input: expected 2 or 3 dim",
         lambda: RNN.forward(np.zeros((1, 2, 3, 3), F32))),
    case("input 1-D", ValueError, r"^input: expected 2 or 3 dim",
         lambda: RNN.forward(np.zeros(3, F32))),
    case("input features", ValueError, r"^input: expected shape",
         lambda: RNN.forward(np.zeros((2, 3, 5), F32))),
    case("input features batch_first", ValueError, r"^input: expected shape",
         lambda: RNN_BF.forward(np.zeros((3, 2, 5), F32))),
    case("h0 batch", ValueError, r"^h0: expected shape", lambda: RNN.forward(X, D_OUT[:, :2])),
    case("h0 layers", ValueError, r"^h0: expected shape", lambda: RNN.forward(X, D_OUT[:1])),
    case("h0 hidden", ValueError, r"^h0: expected shape",
         lambda: RNN.forward(X, np.zeros((2, 3, 5), F32))),
    case("h0 2-D", ValueError, r"^h0: expected 3 dim", lambda: RNN.forward(X, np.zeros((2, 4), F32))),
    case("h0 3-D with unbatched input", ValueError, r"^h0: expected 2 dim",
         lambda: RNN.forward(X[:, 0], np.zeros((2, 1, 4), F32))),
    case("d_output shape", ValueError, r"^d_output: expected shape",
         lambda: RNN.backward(X, np.zeros((2, 3, 5), F32))),
    case("d_output 2-D", ValueError, r"^d_output: expected (a )?3[- ]dim",
         lambda: RNN.backward(X, np.zeros((2, 3), F32))),
    case("d_output 2-D batch_first", ValueError, r"d_output",
         lambda: RNN_BF.backward(X, np.zeros((2, 3), F32))),
    case("d_h_n shape", ValueError, r"^d_h_n: expected shape",
         lambda: RNN.backward(X, D_OUT, d_h_n=np.zeros((2, 3, 5), F32))),
    case("lengths count", ValueError, r"^lengths: expected shape",
         lambda: RNN.forward(X, lengths=np.array([1, 2]))),
    case("lengths 2-D", ValueError, r"lengths",
         lambda: RNN.forward(X, lengths=np.ones((3, 1), I64))),
    case("lengths 0", ValueError, r"^lengths .* got 0",
         lambda: RNN.forward(X, lengths=np.array([1, 0, 2]))),
    case("lengths > steps", ValueError, r"^lengths .*number of steps \(2\), got 3",
         lambda: RNN.forward(X, lengths=np.array([1, 3, 2]))),
    case("lengths negative", ValueError, r"^lengths: .* got -1",
         lambda: RNN.forward(X, lengths=np.array([1, -1, 2]))),
    case("empty batch", ValueError, r"batch size must be at least 1, got 0",
         lambda: RNN.forward(np.zeros((2, 0, 3), F32))),
    case("empty steps", ValueError, r"number of steps must be at least 1, got 0",
         lambda: RNN.forward(np.zeros((0, 2, 3), F32))),
    case("lm empty batch", ValueError, r"batch size must be at least 1, got 0",
         lambda: LM.logits(np.zeros((0, 3), I64))),
    case("lm loss empty batch", ValueError, r"batch size must be at least 1, got 0",
         lambda: LM.loss_and_grads(IDS[:0], IDS[:0])),
    case("inputs 1-D", ValueError, r"^inputs: expected 2 dim", lambda: LM.logits(np.zeros(3, I64))),
    case("inputs 3-D", ValueError, r"^inputs: expected 2 dim",
         lambda: LM.logits(np.zeros((1, 2, 3), I64))),
    case("targets shape", ValueError, r"^targets: expected shape",
         lambda: LM.loss_and_grads(IDS, np.zeros((2, 4), I64))),
    case("targets shape as passed", ValueError, r"[\[(]2, 4[\])]",
         lambda: LM.loss_and_grads(IDS, np.zeros((2, 4), I64))),
    case("mask shape", ValueError, r"^mask: expected shape",
         lambda: LM.loss_and_grads(IDS, IDS, np.ones((2, 4)))),
    case("state 2-D", ValueError, r"^state: expected a 3-dim",
         lambda: LM.logits(IDS, np.zeros((1, 4), F32))),
    case("state batch", ValueError, r"^state",
         lambda: LM.logits(IDS, np.zeros((1, 3, 4), F32))),
    case("lengths beyond int64", ValueError, r"^lengths: expected lengths of at most 2\*\*63 - 1",
         lambda: RNN.forward(X, lengths=np.array([2**63, 1, 1], np.uint64))),
    case("backward lengths > steps", ValueError, r"^lengths must be between 1 and the number of steps",
         lambda: RNN.backward(X, D_OUT, lengths=np.array([3, 1, 1]))),
    # --- floats where ids are expected, ints where floats are expected: TypeError
    case("input None", TypeError, r"^input: expected a floating-point array, got dtype object",
         lambda: RNN.forward(None)),
    case("input str", TypeError, r"^input: expected a floating-point array", lambda: RNN.forward("abc")),
    case("inputs None", TypeError, r"^inputs: expected integer token ids, got dtype object",
         lambda: LM.logits(None)),
    case("inputs objects", TypeError, r"^inputs: expected integer token ids, got dtype object",
         lambda: LM.logits(np.array([[1, "a"]], dtype=object))),
    case("inputs float", TypeError, r"^inputs: expected integer token ids",
         lambda: LM.logits(np.zeros((2, 3)))),
    case("inputs bool", TypeError, r"^inputs: expected integer token ids",
         lambda: LM.logits(np.zeros((2, 3), bool))),
    case("targets float", TypeError, r"^targets: expected integer token ids",
         lambda: LM.loss_and_grads(IDS, np.zeros((2, 3), F32))),
    case("lengths float", TypeError, r"^lengths: expected integer",
         lambda: RNN.forward(X, lengths=np.array([1.0, 2.0, 2.0]))),
    case("input int", TypeError, r"^input: expected a floating-point array, got dtype int64",
         lambda: RNN.forward(np.zeros((2, 3, 3), I64))),
    case("input int list", TypeError, r"^input: expected a floating-point",
         lambda: RNN.forward([[[0, 1, 2]]])),
    case("h0 int", TypeError, r"^h0: expected a floating-point",
         lambda: RNN.forward(X, np.zeros((2, 3, 4), np.int32))),
    case("d_output int", TypeError, r"^d_output: expected a floating-point",
         lambda: RNN.backward(X, np.zeros((2, 3, 4), I64))),
    case("d_h_n int", TypeError, r"^d_h_n: expected a floating-point",
         lambda: RNN.backward(X, D_OUT, d_h_n=np.zeros((2, 3, 4), I64))),
    case("state int", TypeError, r"^state: expected a floating-point",
         lambda: LM.logits(IDS, np.zeros((1, 2, 4), I64))),
    case("mask strings", TypeError, r"^mask: expected booleans or 0/1 numbers",
         lambda: LM.loss_and_grads(IDS, IDS, np.full((2, 3), "a"))),
    # --- token ids out of range: IndexError
    case("inputs id == vocab", IndexError, r"^inputs: token id 5 is out of range",
         lambda: LM.logits(np.array([[0, 5]]))),
    case("inputs id negative", IndexError, r"^inputs: token id -1 is out of range",
         lambda: LM.logits(np.array([[0, -1]]))),
    case("inputs id embedding", IndexError, r"^inputs: token id 7 is out of range",
         lambda: LM_EMB.logits(np.array([[7, 0]]))),
    case("inputs id 2**63 uint64", IndexError, r"^inputs: token id 9223372036854775808",
         lambda: LM.logits(np.array([[2**63]], np.uint64))),
    case("targets id == vocab", IndexError, r"^targets: token id 5 is out of range",
         lambda: LM.loss_and_grads(IDS, IDS + 5)),
    case("targets id negative", IndexError, r"^targets: token id -2 is out of range",
         lambda: LM.loss_and_grads(IDS, IDS - 2)),
    case("targets id embedding", IndexError, r"^targets: token id 9 is out of range",
         lambda: LM_EMB.loss_and_grads(IDS, IDS + 9)),
    # --- sizes, dtype, nonlinearity, init
    case("input_size 0", ValueError, r"^input_size must be at least 1, got 0",
         lambda: seqrnn.RNN(0, 4)),
    case("hidden_size negative", ValueError, r"^hidden_size must be at least 1, got -4",
         lambda: seqrnn.RNN(3, -4)),
    case("num_layers 0", ValueError, r"^num_layers must be at least 1, got 0",
         lambda: seqrnn.RNN(3, 4, 0)),
    case("vocab_size 0", ValueError, r"^vocab_size must be at least 1, got 0",
         lambda: seqrnn.LanguageModel(0)),
    case("lm hidden_size 0", ValueError, r"^hidden_size must be at least 1, got 0",
         lambda: seqrnn.LanguageModel(5, 0)),
    case("lm num_layers negative", ValueError, r"^num_layers must be at least 1, got -1",
         lambda: seqrnn.LanguageModel(5, 4, -1)),
    case("embed_size 0", ValueError, r"^embed_size must be at least 1, got 0",
         lambda: seqrnn.LanguageModel(5, 4, embed_size=0)),
    case("size float", TypeError, r"^input_size must be an int", lambda: seqrnn.RNN(3.0, 4)),
    case("dtype float16", ValueError, r"^dtype must be 'float32' or 'float64', got 'float16'",
         lambda: seqrnn.RNN(3, 4, dtype="float16")),
    case("dtype int32", ValueError, r"^dtype must be 'float32' or 'float64'",
         lambda: seqrnn.RNN(3, 4, dtype=np.int32)),
    case("lm dtype float16", ValueError, r"^dtype must be 'float32' or 'float64'",
         lambda: seqrnn.LanguageModel(5, dtype="float16")),
    case("dtype unknown name", ValueError, r"^dtype must be 'float32' or 'float64', got 'bogus'",
         lambda: seqrnn.RNN(3, 4, dtype="bogus")),
    case("nonlinearity", ValueError, r'^nonlinearity must be "tanh" or "relu", got "sigmoid"',
         lambda: seqrnn.RNN(3, 4, nonlinearity="sigmoid")),
    case("lm nonlinearity", ValueError, r'^nonlinearity must be "tanh" or "relu", got "gelu"',
         lambda: seqrnn.LanguageModel(5, nonlinearity="gelu")),
    case("dropout NaN", ValueError, r"^dropout must be a probability in \[0, 1\), got NaN",
         lambda: seqrnn.RNN(3, 4, dropout=float("nan"))),
    case("dropout negative", ValueError, r"^dropout must be a probability", lambda: seqrnn.RNN(3, 4, dropout=-1.0)),
    case("seed negative", ValueError, r"^seed must be in \[0, 2\*\*64\), got -1", lambda: seqrnn.RNN(3, 4, seed=-1)),
    case("seed float", TypeError, r"^seed must be an int or None, got float", lambda: seqrnn.LanguageModel(5, seed=1.5)),
    case("init", ValueError, r"^init must be .*xavier", lambda: seqrnn.RNN(3, 4, init="xavier")),
    # --- state dicts: names and shapes ValueError, dtypes TypeError
    case("sd unknown key", ValueError, r'unexpected parameter "foo"',
         lambda: RNN.load_state_dict(sd_with(RNN, foo=np.zeros(3, F32)))),
    case("sd missing key", ValueError, r'missing parameter "bias_hh_l1"',
         lambda: RNN.load_state_dict(sd_without(RNN, "bias_hh_l1"))),
    case("sd empty", ValueError, r'missing parameter "weight_ih_l0"',
         lambda: RNN.load_state_dict({})),
    case("sd shape", ValueError, r"^weight_ih_l0: expected shape \[4, 3\], got \[4, 4\]",
         lambda: RNN.load_state_dict(sd_with(RNN, weight_ih_l0=np.zeros((4, 4), F32)))),
    case("sd float64 into float32", TypeError, r"^weight_ih_l0: expected dtype float32, got float64",
         lambda: RNN.load_state_dict({k: v.astype(float) for k, v in RNN.state_dict().items()})),
    case("sd int64", TypeError, r"^bias_hh_l0: expected dtype float32, got int64",
         lambda: RNN.load_state_dict(sd_with(RNN, bias_hh_l0=np.zeros(4, I64)))),
    case("sd float32 into float64", TypeError, r"expected dtype float64, got float32",
         lambda: seqrnn.RNN(3, 4, 2, dtype="float64").load_state_dict(RNN.state_dict())),
    case("sd not a dict", TypeError, r"^state_dict must be a dict, got list",
         lambda: RNN.load_state_dict([("weight_ih_l0", X)])),
    case("sd int key", TypeError, r"^state_dict keys must be str",
         lambda: RNN.load_state_dict({1: np.zeros(3, F32)})),
    case("lm sd unknown key", ValueError, r'unexpected parameter "embedding.weight"',
         lambda: LM.load_state_dict(sd_with(LM, embedding__weight=np.zeros((5, 3), F32)))),
    case("lm sd missing key", ValueError, r'missing parameter "embedding.weight"',
         lambda: LM_EMB.load_state_dict(sd_without(LM_EMB, "embedding.weight"))),
    case("lm sd shape", ValueError, r"^output.bias: expected shape \[5\], got \[6\]",
         lambda: LM.load_state_dict(sd_with(LM, output__bias=np.zeros(6, F32)))),
    case("lm sd dtype", TypeError, r"^output.bias: expected dtype float32, got float64",
         lambda: LM.load_state_dict(sd_with(LM, output__bias=np.zeros(5)))),
    # --- masks
    case("mask all zeros", ValueError, r"^mask .*all positions masked",
         lambda: LM.loss_and_grads(IDS, IDS, np.zeros((2, 3)))),
    case("mask all False", ValueError, r"^mask .*all positions masked",
         lambda: LM.loss_and_grads(IDS, IDS, np.zeros((2, 3), bool))),
    case("mask negative", ValueError, r"^mask must be finite weights >= 0",
         lambda: LM.loss_and_grads(IDS, IDS, np.full((2, 3), -1.0))),
    case("mask NaN", ValueError, r"^mask must be finite weights >= 0",
         lambda: LM.loss_and_grads(IDS, IDS, np.full((2, 3), np.nan))),
]
# fmt: on


@pytest.mark.parametrize(("call", "exc", "match"), CASES)
def test_raises_specific_exception(call, exc, match):
    with pytest.raises(BaseException) as info:  # BaseException: a PanicException is caught too
        call()
    err = info.value
    assert "PanicException" not in [t.__name__ for t in type(err).__mro__], f"pyo3 panic: {err}"
    assert isinstance(err, exc), f"expected {exc.__name__}, got {type(err).__name__}: {err}"
    info.match(match)


@pytest.mark.parametrize("model", [RNN, LM_EMB], ids=["rnn", "lm"])
def test_rejected_state_dict_leaves_model_unchanged(model):
    """A state dict whose last entry is bad must not half-load the earlier ones."""
    before = model.state_dict()
    bad = {k: np.ones_like(v) for k, v in before.items()}  # valid, different values ...
    last = list(bad)[-1]
    bad[last] = np.ones(bad[last].shape + (2,), F32)  # ... except a wrong shape at the end
    with pytest.raises(ValueError, match=f"^{last}: expected shape"):
        model.load_state_dict(bad)
    after = model.state_dict()
    assert all(np.array_equal(before[k], after[k]) for k in before)
