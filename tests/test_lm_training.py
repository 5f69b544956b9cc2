"""Language-model training, generation, streaming and checkpoints through the Python API."""

import math

import numpy as np
import pytest
import seqrnn

PATTERN = np.tile(np.array([0, 1, 2, 3, 4, 3, 2, 1]), 200)  # (1600,) a periodic corpus


def trained(seed=0, **kw):
    lm = seqrnn.LanguageModel(5, hidden_size=32, seed=seed)
    history = lm.fit(PATTERN, epochs=5, batch_size=8, num_steps=16, lr=0.01, optimizer="adam",
                     progress=False, seed=seed, **kw)
    return lm, history


@pytest.mark.parametrize("sampling", ["sequential", "random", "windows"])
def test_training_lowers_perplexity_far_below_vocab_size(sampling):
    lm = seqrnn.LanguageModel(5, hidden_size=32, seed=0)
    before = lm.perplexity(PATTERN)
    history = lm.fit(PATTERN, epochs=5, batch_size=8, num_steps=16, lr=0.01, optimizer="adam",
                     sampling=sampling, progress=False, seed=0)
    assert before > 3.0
    assert lm.perplexity(PATTERN) < 1.2
    assert history.epochs == 5 and len(history.tokens_per_second) == 5
    assert history.train_perplexity[-1] < history.train_perplexity[0]


@pytest.mark.parametrize("optimizer,lr", [("sgd", 1.0), ("adagrad", 0.1)])
def test_other_optimizers_learn(optimizer, lr):
    lm = seqrnn.LanguageModel(5, hidden_size=32, seed=0)
    lm.fit(PATTERN, epochs=8, batch_size=8, num_steps=16, lr=lr, optimizer=optimizer,
           progress=False, seed=0)
    assert lm.perplexity(PATTERN) < 2.0


def test_same_seed_same_parameters():
    a, _ = trained(seed=3)
    b, _ = trained(seed=3)
    for k, w in a.state_dict().items():
        np.testing.assert_array_equal(w, b.state_dict()[k])


def test_validation_history_and_callback_stop():
    seen = []
    lm = seqrnn.LanguageModel(5, hidden_size=16, seed=0)
    h = lm.fit(PATTERN[:1200], epochs=10, batch_size=4, num_steps=8, lr=0.01, optimizer="adam",
               valid=PATTERN[1200:], progress=False,
               callback=lambda e, m: seen.append(m) or e < 2)
    assert h.epochs == 3 and len(h.valid_perplexity) == 3
    assert set(seen[0]) == {"train_perplexity", "tokens_per_second", "valid_perplexity", "lr"}


def test_greedy_generation_is_deterministic_and_continues_the_pattern():
    lm, _ = trained()
    out = lm.generate([0, 1, 2], 13)
    assert out[:3] == [0, 1, 2] and len(out) == 16
    assert out == lm.generate([0, 1, 2], 13)
    assert out == list(PATTERN[:16])
    assert lm.generate([0, 1], 10, temperature=1.0, top_k=1, seed=5) == lm.generate([0, 1], 10)
    s1 = lm.generate([0], 30, temperature=2.0, seed=9)
    assert s1 == lm.generate([0], 30, temperature=2.0, seed=9)


def test_stream_keeps_state_and_resets():
    lm, _ = trained()
    s = lm.stream(seed=0)
    first = s.feed(0)
    second = s.feed(0)
    assert first.shape == (5,) and not np.allclose(first, second)  # the state moved
    s.reset()
    np.testing.assert_array_equal(s.feed(0), first)
    s.reset()
    s.feed([0, 1, 2])
    assert [s.next() for _ in range(5)] == lm.generate([0, 1, 2], 5)[3:]


def test_save_and_load_give_identical_logits(tmp_path):
    lm, _ = trained()
    lm.vocab = seqrnn.Vocab(list("abcd"))
    path = tmp_path / "lm.safetensors"
    lm.save(path)
    loaded = seqrnn.LanguageModel.load(path)
    x = PATTERN[:40].reshape(2, 20)
    np.testing.assert_array_equal(lm.logits(x)[0], loaded.logits(x)[0])
    assert loaded.vocab == lm.vocab
    assert not list(tmp_path.glob(".*tmp"))  # no temporary file left behind


def test_float64_checkpoint_round_trip(tmp_path):
    lm = seqrnn.LanguageModel(6, hidden_size=4, num_layers=2, embed_size=3, seed=1, dtype="float64")
    lm.save(tmp_path / "m")
    loaded = seqrnn.LanguageModel.load(tmp_path / "m")
    assert loaded.dtype == "float64" and loaded.embed_size == 3
    for k, w in lm.state_dict().items():
        np.testing.assert_array_equal(w, loaded.state_dict()[k])


def test_bad_files_raise_clear_errors(tmp_path):
    with pytest.raises(OSError):
        seqrnn.LanguageModel.load(tmp_path / "missing.safetensors")
    lm, _ = trained()
    path = tmp_path / "lm.safetensors"
    lm.save(path)
    data = path.read_bytes()
    (tmp_path / "cut").write_bytes(data[: len(data) // 2])
    with pytest.raises(ValueError, match="invalid checkpoint"):
        seqrnn.LanguageModel.load(tmp_path / "cut")
    (tmp_path / "junk").write_bytes(b"\xff" * 64)
    with pytest.raises(ValueError, match="invalid checkpoint"):
        seqrnn.LanguageModel.load(tmp_path / "junk")


def test_perplexity_edge_cases():
    lm = seqrnn.LanguageModel(4, hidden_size=3, seed=0)
    sd = {k: np.zeros_like(w) for k, w in lm.state_dict().items()}
    lm.load_state_dict(sd)  # all logits equal: the uniform model
    assert lm.perplexity(np.array([0, 1, 2, 3, 0, 1])) == pytest.approx(4.0)
    sd["output.bias"] = np.array([1e4, -1e4, -1e4, -1e4], np.float32)  # token 0 is certain
    lm.load_state_dict(sd)
    assert lm.perplexity(np.zeros(10, np.int64)) == pytest.approx(1.0)
    assert math.isinf(lm.perplexity(np.array([0, 1, 1])))


@pytest.mark.parametrize("kwargs,exc,match", [
    ({"lr": float("nan")}, ValueError, "lr"),
    ({"lr": -1.0}, ValueError, "lr"),
    ({"clip": float("inf")}, ValueError, "clip"),
    ({"optimizer": "rmsprop"}, ValueError, "optimizer"),
    ({"sampling": "shuffle"}, ValueError, "sampling"),
    ({"batch_size": 0}, ValueError, "batch_size"),
])
def test_fit_rejects_bad_arguments(kwargs, exc, match):
    lm = seqrnn.LanguageModel(5, hidden_size=4, seed=0)
    args = {"epochs": 1, "batch_size": 2, "num_steps": 4, "lr": 0.1, "progress": False} | kwargs
    with pytest.raises(exc, match=match):
        lm.fit(PATTERN, **args)


def test_generation_rejects_bad_arguments():
    lm = seqrnn.LanguageModel(5, hidden_size=4, seed=0)
    with pytest.raises(ValueError, match="temperature"):
        lm.generate([0], 3, temperature=-1.0)
    with pytest.raises(ValueError, match="top_k"):
        lm.generate([0], 3, temperature=1.0, top_k=0)
    with pytest.raises(ValueError, match="prefix"):
        lm.generate([], 3)
    with pytest.raises(IndexError, match="prefix"):
        lm.generate([7], 3)


def test_results_do_not_depend_on_the_thread_count():
    before = seqrnn.get_num_threads()
    try:
        weights = []
        for threads in (1, 2):
            seqrnn.set_num_threads(threads)
            assert seqrnn.get_num_threads() == threads
            lm = seqrnn.LanguageModel(5, hidden_size=256, seed=0)
            lm.fit(PATTERN, epochs=1, batch_size=64, num_steps=16, lr=0.01, optimizer="adam",
                   progress=False, seed=0)
            weights.append(lm.state_dict())
        for k, w in weights[0].items():
            np.testing.assert_array_equal(w, weights[1][k])
    finally:
        seqrnn.set_num_threads(0)
    assert seqrnn.get_num_threads() == before


def test_valid_ids_is_the_former_name_of_valid():
    import warnings

    ids = np.arange(200) % 4
    kwargs = {"epochs": 1, "batch_size": 2, "num_steps": 10, "lr": 0.1, "progress": False,
              "seed": 0}
    new = seqrnn.LanguageModel(4, 8, seed=0).fit(ids, valid=ids[:40], **kwargs)
    with pytest.warns(DeprecationWarning, match="valid_ids is now called valid"):
        old = seqrnn.LanguageModel(4, 8, seed=0).fit(ids, valid_ids=ids[:40], **kwargs)
    assert old.valid_perplexity == new.valid_perplexity
    with pytest.raises(TypeError, match="not both"), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        seqrnn.LanguageModel(4, 8, seed=0).fit(ids, valid=ids, valid_ids=ids, **kwargs)
