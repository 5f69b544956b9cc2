"""Generation: nucleus (top-p) sampling, stop tokens, several prefixes at once."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pytest
import seqrnn

PROBS = [0.15, 0.5, 0.05, 0.3]


def fixed(probs: list[float]) -> seqrnn.LanguageModel:
    """A model whose logits are ``ln(probs)`` at every step, whatever came before."""
    lm = seqrnn.LanguageModel(len(probs), hidden_size=3, seed=0, dtype="float64")
    sd = lm.state_dict()
    sd["output.weight"] = np.zeros_like(sd["output.weight"])
    sd["output.bias"] = np.log(np.asarray(probs))
    lm.load_state_dict(sd)
    return lm


def frequencies(lm: seqrnn.LanguageModel, n: int, **sampling: Any) -> Any:
    out = lm.generate([0], n, seed=1, **sampling)[1:]
    return np.bincount(out, minlength=lm.vocab_size) / n


def test_top_p_draws_only_from_the_nucleus_at_the_renormalized_rates() -> None:
    lm = fixed(PROBS)
    f = frequencies(lm, 4000, temperature=1.0, top_p=0.7)  # 0.5 + 0.3 reach 0.7
    assert f[0] == 0 and f[2] == 0
    assert abs(f[1] - 0.625) < 0.03 and abs(f[3] - 0.375) < 0.03
    assert frequencies(lm, 100, temperature=1.0, top_p=0.01).tolist() == [0, 1, 0, 0]
    # Temperature first: at 2 the probabilities go as sqrt(p), and 0.7 needs three tokens.
    root = np.sqrt(PROBS)
    kept = root[[0, 1, 3]].sum()
    f = frequencies(lm, 4000, temperature=2.0, top_p=0.7)
    assert f[2] == 0
    np.testing.assert_allclose(f[[0, 1, 3]], root[[0, 1, 3]] / kept, atol=0.03)
    # top_k before top_p: the top 2 are 0.625 / 0.375, and 0.6 is reached by the first.
    assert frequencies(lm, 100, temperature=1.0, top_k=2, top_p=0.6).tolist() == [0, 1, 0, 0]


def test_stream_next_takes_top_p() -> None:
    s = fixed(PROBS).stream(seed=0)
    s.feed([0])
    assert {s.next(temperature=1.0, top_p=0.3) for _ in range(50)} == {1}


@pytest.mark.parametrize("p", [0.0, -0.5, 1.5, math.nan, math.inf])
def test_top_p_outside_zero_one_is_a_value_error(p: float) -> None:
    with pytest.raises(ValueError, match=r"^top_p must be a number in \(0, 1\]"):
        fixed(PROBS).generate([1], 3, temperature=1.0, top_p=p)


def test_top_p_must_be_a_number() -> None:
    with pytest.raises(TypeError, match="^top_p must be a number, got str"):
        fixed(PROBS).generate([1], 3, top_p="0.9")  # type: ignore[arg-type]


def model(layers: int = 2, embed: int | None = 4) -> seqrnn.LanguageModel:
    return seqrnn.LanguageModel(9, hidden_size=16, num_layers=layers, embed_size=embed, seed=3)


PREFIXES = [[1, 2, 3, 4, 5], [6], [0, 8, 2], [7, 7]]


@pytest.mark.parametrize(("layers", "embed"), [(1, None), (2, 4)])
def test_greedy_batch_equals_one_prefix_at_a_time(layers: int, embed: int | None) -> None:
    lm = model(layers, embed)
    batch = lm.generate(PREFIXES, 25)
    assert batch == [lm.generate(p, 25) for p in PREFIXES]
    assert lm.generate(np.array([[1, 2], [3, 4]]), 5) == [lm.generate([1, 2], 5),
                                                         lm.generate([3, 4], 5)]


def test_prefix_i_samples_with_seed_plus_i() -> None:
    lm = model()
    kw = {"temperature": 1.0, "top_k": 6, "top_p": 0.9}
    batch = lm.generate(PREFIXES, 25, seed=10, **kw)  # type: ignore[arg-type]
    assert batch == [lm.generate(p, 25, seed=10 + i, **kw)  # type: ignore[arg-type]
                     for i, p in enumerate(PREFIXES)]
    assert batch[0] != batch[3][2:] or batch[0][:5] != batch[3][:5]


def test_stop_id_ends_each_stream_and_is_kept() -> None:
    lm = fixed([0.25] * 4)
    out = lm.generate([[2, 2], [1]], 300, temperature=1.0, stop=2, seed=4)
    for o, n in zip(out, [2, 1]):
        new = o[n:]
        assert len(new) < 300 and new[-1] == 2 and 2 not in new[:-1]
    alone = lm.generate([2, 2], 300, temperature=1.0, seed=4)
    assert out[0] == alone[:len(out[0])]


def text_model() -> seqrnn.LanguageModel:
    lm = fixed([0.2, 0.2, 0.2, 0.2, 0.2])
    lm.vocab = seqrnn.Vocab(list("ab\nc"))  # <unk> \n a b c
    return lm


def test_text_prefixes_give_texts_and_a_stop_string_ends_them() -> None:
    lm = text_model()
    one = lm.generate("ab", 300, temperature=1.0, stop="\n", seed=2)
    assert isinstance(one, str) and one.startswith("ab") and one.endswith("\n")
    assert one.count("\n") == 1
    many = lm.generate(["ab", "c"], 300, temperature=1.0, stop="\n", seed=2)
    assert many[0] == one and many[1].startswith("c") and many[1].endswith("\n")
    assert lm.predict("ab", 300, temperature=1.0, stop="\n", seed=2) == one
    assert lm.generate(["ab"], 3) == [lm.predict("ab", 3)]


def test_stop_errors() -> None:
    lm = text_model()
    with pytest.raises(ValueError, match=r"^stop token '<eos>' is not in the vocabulary"):
        lm.generate("ab", 3, stop="<eos>")
    with pytest.raises(ValueError, match=r"^stop token 'a' needs a vocabulary"):
        fixed(PROBS).generate([1], 3, stop="a")
    with pytest.raises(IndexError, match=r"^stop: token id 9 is out of range"):
        fixed(PROBS).generate([1], 3, stop=9)
    with pytest.raises(TypeError, match=r"^stop must be a token string, an id or None, got float"):
        fixed(PROBS).generate([1], 3, stop=1.0)  # type: ignore[arg-type]


def test_prefix_list_errors() -> None:
    lm = model()
    with pytest.raises(ValueError, match=r"^prefix: expected at least one prefix, got none"):
        lm.generate(np.zeros((0, 2), dtype=np.int64), 3)
    with pytest.raises(ValueError, match=r"^prefix must be at least one token"):
        lm.generate([], 3)
    with pytest.raises(ValueError, match=r"^prefix 1 must be at least one token"):
        lm.generate([[1], []], 3)
    with pytest.raises(IndexError, match=r"^prefix 1: token id 9 is out of range"):
        lm.generate([[1], [9]], 3)
    with pytest.raises(TypeError, match=r"^prefix: a list of prefixes holds either strings"):
        text_model().generate(["ab", [1]], 3)
    with pytest.raises(ValueError, match=r"^generate needs a vocabulary"):
        lm.generate(["ab"], 3)
