"""seqrnn.LanguageModel against the float64 NumPy reference in tests/_reference.py."""

from __future__ import annotations

import warnings
from itertools import pairwise

import numpy as np
import pytest
import seqrnn
from _reference import lm_logits, lm_loss_and_grads
from test_rnn import DTYPES, assert_close, assert_grads_close

# Every test here runs at each instruction-set level the CPU supports (tests/conftest.py).
pytestmark = pytest.mark.usefixtures("every_level")

V, H, B, T = 7, 6, 3, 5


def make(dtype, layers=1, embed_size=None, nonlinearity="tanh", seed=0):
    return seqrnn.LanguageModel(
        V, H, layers, embed_size=embed_size, seed=seed, dtype=dtype, nonlinearity=nonlinearity
    )


def batch(seed=0, dtype="float32", layers=1):
    """inputs, targets (B, T) int64; float mask (B, T) with some zeros; state (L, B, H)."""
    rng = np.random.default_rng(seed)
    inputs = rng.integers(0, V, size=(B, T))
    targets = rng.integers(0, V, size=(B, T))
    mask = (rng.random((B, T)) > 0.3).astype(dtype)
    mask[0, 0] = 1
    mask[1, 2] = 0
    state = rng.normal(size=(layers, B, H)).astype(dtype)
    return inputs, targets, mask, state


def check(lm, inputs, targets, mask=None, state=None):
    """Compares logits, loss, grads and final state with the reference; returns the model's."""
    dtype, L, nl = lm.dtype, lm.num_layers, lm.nonlinearity
    p = lm.state_dict()
    logits, h_n = lm.logits(inputs, state)
    ref_logits, ref_h_n = lm_logits(p, inputs, state, L, nl)
    assert_close(logits, ref_logits, dtype)  # (B, T, V)
    assert_close(h_n, ref_h_n, dtype)  # (L, B, H)
    loss, grads, state_out = lm.loss_and_grads(inputs, targets, mask, state, return_state=True)
    ref_loss, ref_grads, ref_state = lm_loss_and_grads(p, inputs, targets, mask, state, L, nl)
    assert isinstance(loss, float)
    assert abs(loss - ref_loss) <= {"float64": 1e-10, "float32": 1e-5}[dtype] * max(1, ref_loss)
    assert_grads_close(grads, ref_grads, dtype)
    assert_close(state_out, ref_state, dtype)
    assert sorted(grads) == sorted(p)
    return loss, grads


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("embed_size", [None, 4])
@pytest.mark.parametrize("layers", [1, 2])
def test_matches_reference_with_mask_and_state(dtype, embed_size, layers):
    lm = make(dtype, layers, embed_size)
    inputs, targets, mask, state = batch(layers, dtype, layers)
    check(lm, inputs, targets, mask, state)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("embed_size", [None, 4])
def test_matches_reference_without_mask_or_state(dtype, embed_size):
    lm = make(dtype, 2, embed_size)
    inputs, targets, _, _ = batch(1, dtype)
    check(lm, inputs, targets)


@pytest.mark.parametrize("dtype", DTYPES)
def test_relu(dtype):
    lm = make(dtype, 2, 4, nonlinearity="relu")
    inputs, targets, mask, state = batch(3, dtype, 2)
    check(lm, inputs, targets, mask, np.abs(state))


def test_state_dict_keys_and_shapes():
    lm = make("float32", 2, 4)
    shapes = {k: v.shape for k, v in lm.state_dict().items()}
    assert shapes == {
        "embedding.weight": (V, 4),
        "rnn.weight_ih_l0": (H, 4),
        "rnn.weight_hh_l0": (H, H),
        "rnn.bias_ih_l0": (H,),
        "rnn.bias_hh_l0": (H,),
        "rnn.weight_ih_l1": (H, H),
        "rnn.weight_hh_l1": (H, H),
        "rnn.bias_ih_l1": (H,),
        "rnn.bias_hh_l1": (H,),
        "output.weight": (V, H),
        "output.bias": (V,),
    }
    one_hot = make("float32", 1).state_dict()
    assert "embedding.weight" not in one_hot and one_hot["rnn.weight_ih_l0"].shape == (H, V)


@pytest.mark.parametrize("dtype", DTYPES)
def test_bool_mask_equals_float_mask(dtype):
    lm = make(dtype, 2, 4)
    inputs, targets, mask, state = batch(4, dtype, 2)
    loss_f, grads_f = lm.loss_and_grads(inputs, targets, mask, state)
    loss_b, grads_b = lm.loss_and_grads(inputs, targets, mask.astype(bool), state)
    assert loss_f == loss_b
    assert all(np.array_equal(grads_f[k], grads_b[k]) for k in grads_f)
    check(lm, inputs, targets, mask.astype(bool), state)


@pytest.mark.parametrize("dtype", DTYPES)
def test_all_ones_mask_equals_no_mask(dtype):
    lm = make(dtype, 1, 4)
    inputs, targets, _, _ = batch(5, dtype)
    loss_m, grads_m = lm.loss_and_grads(inputs, targets, np.ones((B, T), dtype))
    loss_n, grads_n = lm.loss_and_grads(inputs, targets)
    assert abs(loss_m - loss_n) <= 1e-12 * loss_n
    for k in grads_n:
        np.testing.assert_allclose(grads_m[k], grads_n[k], rtol=1e-6, atol=1e-12)


@pytest.mark.parametrize("dtype", DTYPES)
def test_masked_positions_are_excluded(dtype):
    lm = make(dtype, 2, 4)
    inputs, targets, mask, state = batch(6, dtype, 2)
    loss, grads = lm.loss_and_grads(inputs, targets, mask, state)
    changed = targets.copy()
    changed[mask == 0] = (changed[mask == 0] + 1) % V  # only masked targets differ
    loss2, grads2 = lm.loss_and_grads(inputs, changed, mask, state)
    assert loss == loss2
    assert all(np.array_equal(grads[k], grads2[k]) for k in grads)
    # an unmasked target, by contrast, does change the loss
    changed[mask == 1] = (changed[mask == 1] + 1) % V
    assert lm.loss_and_grads(inputs, changed, mask, state)[0] != loss


def test_loss_is_mean_over_unmasked_positions():
    lm = make("float64", 1, 4)
    inputs, targets, _, _ = batch(7, "float64")
    logits, _ = lm.logits(inputs)  # (B, T, V)
    z = logits - logits.max(-1, keepdims=True)
    nll = -(z - np.log(np.exp(z).sum(-1, keepdims=True)))  # (B, T, V)
    per_pos = np.take_along_axis(nll, targets[..., None], -1)[..., 0]  # (B, T)
    mask = np.zeros((B, T))
    mask[0, 1] = mask[2, 4] = 1
    loss, _ = lm.loss_and_grads(inputs, targets, mask)
    assert abs(loss - (per_pos[0, 1] + per_pos[2, 4]) / 2) < 1e-12


@pytest.mark.parametrize("dtype", DTYPES)
def test_state_carries_across_calls(dtype):
    """logits over a whole sequence == logits over its halves with the state passed on."""
    lm = make(dtype, 2, 4)
    inputs, _, _, state = batch(8, dtype, 2)
    whole, h_whole = lm.logits(inputs, state)
    first, h_first = lm.logits(inputs[:, :2], state)
    second, h_second = lm.logits(inputs[:, 2:], h_first)
    tol = {"float64": 1e-12, "float32": 1e-6}[dtype]
    np.testing.assert_allclose(np.concatenate([first, second], axis=1), whole, atol=tol)
    np.testing.assert_allclose(h_second, h_whole, atol=tol)


def test_same_seed_same_weights_different_seed_different():
    a, b, c = (make("float32", 2, 4, seed=s).state_dict() for s in (3, 3, 4))
    assert all(np.array_equal(a[k], b[k]) for k in a)
    assert all(not np.array_equal(a[k], c[k]) for k in a)


def test_state_dict_round_trip():
    src, dst = make("float64", 2, 4, seed=1), make("float64", 2, 4, seed=2)
    inputs, targets, mask, state = batch(9, "float64", 2)
    dst.load_state_dict(src.state_dict())
    assert np.array_equal(src.logits(inputs, state)[0], dst.logits(inputs, state)[0])
    check(dst, inputs, targets, mask, state)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("embed_size", [None, 4])
def test_sgd_lowers_the_loss(dtype, embed_size):
    lm = seqrnn.LanguageModel(V, 16, 2, embed_size=embed_size, seed=0, dtype=dtype)
    rng = np.random.default_rng(10)
    inputs = rng.integers(0, V, size=(4, 8))  # (batch, steps)
    targets = (inputs + 1) % V  # learnable: next id
    losses = []
    for _ in range(20):
        loss, grads = lm.loss_and_grads(inputs, targets)
        losses.append(loss)
        lm.load_state_dict(
            {k: (w - 0.5 * grads[k]).astype(dtype) for k, w in lm.state_dict().items()}
        )
    assert losses[-1] < 0.8 * losses[0]
    assert all(b < a for a, b in pairwise(losses[:6]))  # early steps each descend


def test_ids_other_integer_types_and_layouts():
    lm = make("float32", 1, 4)
    inputs, targets, mask, _ = batch(11)
    want = lm.logits(inputs)[0]
    strided = np.asfortranarray(inputs)  # (B, T), not C-contiguous
    read_only = inputs.copy()
    read_only.setflags(write=False)
    for ids in (
        inputs.astype(np.int32),
        inputs.astype(np.uint8),
        inputs.tolist(),
        strided,
        read_only,
    ):
        assert np.array_equal(lm.logits(ids)[0], want)
    loss, _ = lm.loss_and_grads(inputs, targets, mask)
    loss2, _ = lm.loss_and_grads(strided, np.asfortranarray(targets), np.asfortranarray(mask))
    assert loss == loss2


def test_predict_warns_naming_unknown_prefix_characters() -> None:
    vocab = seqrnn.Vocab(seqrnn.tokenize("the time machine"))
    lm = seqrnn.LanguageModel(len(vocab), 8, seed=0)
    lm.vocab = vocab
    with pytest.warns(UserWarning, match=r"2 prefix characters are not in the vocabulary and "
                      r"read as <unk>: 'T', 'z'$"):
        text = lm.predict("Tz the", num_tokens=2)
    assert text.startswith("<unk><unk> the")
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a known prefix gives no warning
        lm.predict("the", num_tokens=2)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with pytest.raises(UserWarning, match="'Q'"):
            lm.predict("Q", num_tokens=2)
