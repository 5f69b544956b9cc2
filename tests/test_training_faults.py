"""Training faults: a non-finite loss, gradient or update stops ``fit`` with a NonFiniteError
naming the epoch and minibatch, the model keeping its last finite parameters; Ctrl-C stops
``fit`` promptly and leaves a model that saves and loads."""

import math
import os
import re
import select
import signal
import subprocess
import sys
import textwrap
import time

import numpy as np
import pytest
import seqrnn
from seqrnn import _core

CORPUS = np.tile(np.array([0, 1, 2, 3, 4, 3, 2, 1]), 50)  # (400,)
# A step of ~1e38 per element overflows float32 within a few minibatches.
BLOW_UP = {"batch_size": 4, "num_steps": 5, "lr": 1e38, "optimizer": "adam", "clip": None,
           "seed": 1}


def lm():
    return seqrnn.LanguageModel(5, hidden_size=8, seed=0)


def last_finite_state():
    """Steps a trainer one minibatch at a time: (state before the failing step, its error)."""
    model = lm()
    trainer = _core.Trainer(model._core, CORPUS, 4, 1e38, "adam", num_steps=5, seed=1)
    for _ in range(1000):
        before = model.state_dict()
        try:
            trainer.run(model._core, 1)
        except seqrnn.NonFiniteError as e:
            return before, e, trainer
    raise AssertionError("training never overflowed")


def test_non_finite_error_is_a_value_error_naming_the_step():
    _, err, trainer = last_finite_state()
    assert isinstance(err, ValueError)
    epoch, batch = trainer.epochs + 1, trainer.progress[0] + 1
    msg = str(err)
    assert f"at epoch {epoch}, minibatch {batch} (optimizer step {trainer.steps + 1})" in msg
    assert "keeps its parameters from before this step" in msg


def test_fit_stops_with_the_last_finite_parameters(tmp_path):
    expected, err, _ = last_finite_state()
    model = lm()
    with pytest.raises(seqrnn.NonFiniteError, match=re.escape(str(err))):  # the same step
        model.fit(CORPUS, epochs=50, progress=False, **BLOW_UP)
    state = model.state_dict()
    for name, a in state.items():
        assert np.isfinite(a).all(), name
        assert a.tobytes() == expected[name].tobytes(), name
    model.save(tmp_path / "m.safetensors")
    loaded = seqrnn.LanguageModel.load(tmp_path / "m.safetensors")
    assert math.isfinite(loaded.perplexity(CORPUS[:50]))


def test_seq2seq_fit_stops_with_finite_parameters():
    rng = np.random.default_rng(0)
    src = rng.integers(3, 9, (12, 5))
    tgt = rng.integers(3, 7, (12, 4))
    data = (src, np.full(12, 5), tgt, tgt, np.full(12, 4))
    m = seqrnn.Seq2Seq(9, 7, embed_size=4, hidden_size=6, num_layers=1, seed=0)
    with pytest.raises(seqrnn.NonFiniteError, match=r"at epoch \d+, minibatch \d+"):
        m.fit(data, epochs=200, batch_size=4, lr=1e38, clip=None, progress=False, seed=0)
    assert all(np.isfinite(a).all() for a in m.state_dict().values())


@pytest.mark.parametrize("lr", [math.inf, math.nan, 0.0, -1.0])
def test_non_finite_or_non_positive_learning_rates_are_refused_up_front(lr):
    model = lm()
    before = model.state_dict()
    with pytest.raises(ValueError, match="lr"):
        model.fit(CORPUS, epochs=1, batch_size=4, num_steps=5, lr=lr, progress=False)
    assert all(np.array_equal(a, before[k]) for k, a in model.state_dict().items())


CHILD = textwrap.dedent("""
    import math, signal, sys, time
    import numpy as np
    import seqrnn

    # Ctrl-C raises KeyboardInterrupt, as in any interactive Python, even when this test line
    # was started in the background of a script (which leaves SIGINT ignored, and Python keeps
    # an ignored SIGINT ignored).
    signal.signal(signal.SIGINT, signal.default_int_handler)

    lm = seqrnn.LanguageModel(40, hidden_size=48, seed=0)
    ids = np.random.default_rng(0).integers(0, 40, 50_000)

    print("ready", flush=True)
    try:
        lm.fit(ids, epochs=10**6, batch_size=16, num_steps=20, lr=0.01, optimizer="adam",
               progress=False, seed=0)
    except KeyboardInterrupt:
        print("interrupted", flush=True)
        lm.save(sys.argv[1])
        back = seqrnn.LanguageModel.load(sys.argv[1])
        finite = all(np.isfinite(a).all() for a in back.state_dict().values())
        print("finite" if finite and math.isfinite(back.perplexity(ids[:200])) else "broken",
              flush=True)
        sys.exit(0)
    print("fit ended", flush=True)
    sys.exit(1)
""")


@pytest.mark.skipif(sys.platform == "win32", reason="SIGINT to a child is POSIX")
def test_ctrl_c_stops_fit_promptly_with_a_savable_model(tmp_path):
    path = tmp_path / "interrupted.safetensors"
    child = subprocess.Popen([sys.executable, "-c", CHILD, str(path)], stdout=subprocess.PIPE,
                             text=True, env={**os.environ, "PYTHONUNBUFFERED": "1"})
    try:
        assert child.stdout is not None
        assert child.stdout.readline().strip() == "ready"
        time.sleep(1.5)  # well inside fit, which would run for hours
        sent = time.perf_counter()
        child.send_signal(signal.SIGINT)
        # A child that lost the signal would train for hours: wait 60 s at most.
        ready, _, _ = select.select([child.stdout], [], [], 60)
        assert ready, "fit did not stop within 60 s of SIGINT"
        line = child.stdout.readline().strip()
        waited = time.perf_counter() - sent
        assert line == "interrupted"
        # About 0.1 s of work runs between checks; 20 s leaves room for a loaded machine.
        assert waited < 20, f"fit took {waited:.1f} s to stop"
        assert child.stdout.readline().strip() == "finite"
        assert child.wait(timeout=60) == 0
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()
    assert seqrnn.LanguageModel.load(path).vocab_size == 40


@pytest.mark.parametrize("progress", [False, True])
def test_a_finite_loss_past_exp_range_trains_with_infinite_perplexity(progress):
    # Every target is one of 1..4 while the output bias puts all probability on 0: a loss of
    # about 2000 nats per token, finite, but exp(2000) overflows a float.
    model = lm()
    state = model.state_dict()
    state["output.bias"] = np.array([2000, 0, 0, 0, 0], dtype=np.float32)
    model.load_state_dict(state)
    ids = np.tile(np.array([1, 2, 3, 4]), 100)  # (400,)
    loss, grads = model.loss_and_grads(ids[None, :-1], ids[None, 1:])
    assert 1000 < loss < math.inf and all(np.isfinite(g).all() for g in grads.values())
    history = model.fit(ids, epochs=1, batch_size=4, num_steps=5, lr=0.01, optimizer="adam",
                        valid=ids[:100], progress=progress, seed=0)
    assert history.train_perplexity == [math.inf]
    assert history.valid_perplexity == [math.inf] and history.best_epoch == 0
    assert model.perplexity(ids) == math.inf
    assert np.isfinite(model.state_dict()["output.bias"]).all()


def test_perplexity_of_a_loss_is_inf_past_the_float_range():
    from seqrnn._training import perplexity

    assert perplexity(0.0) == 1.0
    assert perplexity(math.log(7.0)) == pytest.approx(7.0)
    assert perplexity(709.0) < math.inf
    assert perplexity(710.0) == perplexity(1e300) == perplexity(math.inf) == math.inf
