"""examples/classics: each textbook example runs and computes what its text describes."""

from __future__ import annotations

import importlib.util
import math
import sys
from pathlib import Path

import numpy as np
import pytest

CLASSICS = Path(__file__).resolve().parents[1] / "examples" / "classics"


def load(name: str):
    spec = importlib.util.spec_from_file_location(f"classics_{name}", CLASSICS / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


hidden_state = load("d2l_hidden_state")
relay_race = load("relay_race")
stateful_rnn = load("stateful_rnn")
perplexity_cases = load("perplexity_cases")


@pytest.mark.parametrize("module,expected", [
    (hidden_state, ["H_3 = relu(X_3 W_xh + H_2 W_hh)", "O_1 = relu(H_1 W_hq)", "equals H_3: True"]),
    (relay_race, ["'I go'   -> 'je vais'", " 1  embed 'I'", "(the baton)", "-> '<eos>'"]),
    (stateful_rnn, ["silly", "feeding 3: y =", "trained to count"]),
    (perplexity_cases, ["float64: always right (P = 1): 1.0   always wrong (P = 0): inf"]),
])
def test_scripts_print_what_their_texts_describe(module, expected, capsys):
    module.main()
    out = capsys.readouterr().out
    for text in expected:
        assert text in out


# ----- 1. d2l: H = relu(X W_xh + H W_hh), O = relu(H W_hq) -------------------------------------

def test_hidden_state_is_the_books_two_equations():
    r = hidden_state.run(seed=0, steps=3)
    assert r["X"].shape == (3, 3, 1)
    assert (r["W_xh"].shape, r["W_hh"].shape, r["W_hq"].shape) == ((1, 2), (2, 2), (2, 3))
    H_prev = np.zeros((3, 2))
    for t in range(3):  # the equations, transcribed
        H = np.maximum(r["X"][t] @ r["W_xh"] + H_prev @ r["W_hh"], 0.0)
        O = np.maximum(H @ r["W_hq"], 0.0)
        np.testing.assert_allclose(r["H"][t], H, rtol=0, atol=1e-14)
        np.testing.assert_allclose(r["O"][t], O, rtol=0, atol=1e-14)
        H_prev = H
    assert (r["H"] == 0).any() and (r["H"] > 0).any()  # relu clips somewhere, not everywhere


def test_hidden_state_layers_have_no_biases():
    import seqrnn

    rnn = seqrnn.RNN(1, 2, nonlinearity="relu", bias=False, seed=0)
    assert sorted(rnn.state_dict()) == ["weight_hh_l0", "weight_ih_l0"]
    assert (rnn.nonlinearity, rnn.bias) == ("relu", False)
    assert list(seqrnn.Linear(2, 3, bias=False, seed=0).state_dict()) == ["weight"]


# ----- 2. the relay race ----------------------------------------------------------------------

def test_relay_race_translates_every_pair_and_its_table_is_the_cell():
    model, epochs = relay_race.train(seed=0)
    assert all(relay_race.translate(model, s) == t for s, t in relay_race.PAIRS)
    assert epochs <= 2000
    lines = relay_race.relay(model, "I go")
    assert [int(line.split()[0]) for line in lines] == list(range(1, 11))
    assert lines[5].endswith("-> 'je'") and lines[7].endswith("-> 'vais'")
    assert lines[9].endswith("-> '<eos>'")
    # The states and logits of the table follow h_t = tanh(W_h h_{t-1} + W_x x_t + b).
    p = model.state_dict()
    src = [relay_race.SRC_VOCAB.index(w) for w in ("I", "go")]
    steps = model.decode_steps(src, relay_race.BOS, relay_race.EOS, max_len=4)

    def cell(side, x, h):
        W_x, W_h = p[f"{side}.rnn.weight_ih_l0"], p[f"{side}.rnn.weight_hh_l0"]
        return np.tanh(W_h @ h + W_x @ x + p[f"{side}.rnn.bias_ih_l0"] + p[f"{side}.rnn.bias_hh_l0"])

    h = np.zeros(2)
    for t, token in enumerate(src):
        h = cell("encoder", p["encoder.embedding.weight"][token], h)
        np.testing.assert_allclose(steps["encoder_states"][t], h, rtol=0, atol=1e-12)
    fed = relay_race.BOS
    for t, token in enumerate(steps["tokens"]):
        h = cell("decoder", p["decoder.embedding.weight"][fed], h)
        logits = p["decoder.output.weight"] @ h + p["decoder.output.bias"]
        np.testing.assert_allclose(steps["decoder_states"][t], h, rtol=0, atol=1e-12)
        np.testing.assert_allclose(steps["logits"][t], logits, rtol=0, atol=1e-12)
        assert token == int(np.argmax(relay_race.softmax(logits)))
        fed = token
    assert [relay_race.TGT_VOCAB[i] for i in steps["tokens"]] == ["je", "vais", "<eos>"]


# ----- 3. the stateful forward_prop -----------------------------------------------------------

def test_same_input_gives_different_outputs_because_the_state_moves():
    net = stateful_rnn.StatefulRNN(seed=0)
    x = np.random.default_rng(0).normal(size=(3, 3))
    ys = stateful_rnn.same_input_three_times(net, x)  # (feeds, sequences)
    assert net.h.shape == (1, 3, 3)
    assert np.abs(ys[1] - ys[0]).min() > 1e-3 and np.abs(ys[2] - ys[1]).min() > 1e-3
    # Carrying h by hand is the same as running the whole sequence at once.
    hs, _ = net.rnn.forward(np.stack([x] * 3))
    np.testing.assert_allclose(ys, net.output.forward(hs)[..., 0], rtol=0, atol=1e-14)
    net.reset()
    np.testing.assert_array_equal(net.forward_prop(x), stateful_rnn.same_input_three_times(net, x)[:1].T)


def test_training_makes_the_network_count():
    net = stateful_rnn.StatefulRNN(seed=0)
    x = np.random.default_rng(0).normal(size=(3, 3))
    before = stateful_rnn.same_input_three_times(net, x)
    losses = stateful_rnn.train(net, x)
    after = stateful_rnn.same_input_three_times(net, x)
    assert losses[-1] < 1e-3 < losses[0]
    assert np.abs(before - np.array([[1.0], [2.0], [3.0]])).max() > 1.0
    np.testing.assert_allclose(after, np.array([[1.0], [2.0], [3.0]]) * np.ones((3, 3)), atol=0.1)


# ----- 4. perplexity's three cases ------------------------------------------------------------

@pytest.mark.parametrize("dtype,tol", [("float64", 1e-12), ("float32", 1e-6)])
@pytest.mark.parametrize("batch_size,num_steps", [(32, 64), (1, 7), (4, 3)])
def test_perplexity_cases(dtype, tol, batch_size, num_steps):
    text = perplexity_cases.corpus()

    def ppl(case):
        return perplexity_cases.model(case, dtype).perplexity(text, batch_size, num_steps)

    assert ppl("perfect") == pytest.approx(1.0, abs=tol)
    hopeless = ppl("hopeless")
    assert math.isinf(hopeless) and hopeless > 0  # inf, not an error and not nan
    assert ppl("uniform") == pytest.approx(perplexity_cases.VOCAB, rel=tol)


def test_perplexity_cases_are_what_they_claim():
    """The probability the model gives the right token is 1, 0 and 1/V."""
    text = perplexity_cases.corpus(11)
    for case, want in (("perfect", 1.0), ("hopeless", 0.0), ("uniform", 1 / perplexity_cases.VOCAB)):
        logits, _ = perplexity_cases.model(case).logits(text[None, :-1])
        z = logits[0] - logits[0].max(axis=-1, keepdims=True)
        probs = np.exp(z) / np.exp(z).sum(axis=-1, keepdims=True)
        np.testing.assert_allclose(probs[np.arange(10), text[1:]], want, rtol=0, atol=1e-12)
