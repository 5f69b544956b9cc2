"""Models used from several threads: fit releases the GIL, readers run while a model trains
and never see torn parameters, a fit with concurrent readers ends exactly like one without,
and a second fit of the same model at once is a clear error."""

import os
import threading

import numpy as np
import pytest
import seqrnn
from seqrnn import _core

rng = np.random.default_rng(0)
CORPUS = (np.tile(np.arange(7), 1500) + (rng.random(10_500) < 0.05)) % 7  # (10500,)
VALID = np.tile(np.arange(7), 40)  # (280,)
FIT = {"batch_size": 16, "num_steps": 20, "lr": 0.01, "optimizer": "adam", "progress": False,
       "seed": 3}


def lm():
    return seqrnn.LanguageModel(7, hidden_size=32, embed_size=8, seed=1)


def test_other_threads_run_while_the_core_trains():
    model = lm()
    trainer = _core.Trainer(model._core, np.tile(CORPUS, 4), 16, 0.01, "adam", num_steps=20)
    seen_inside, stop = [0], threading.Event()

    def poke():
        while not stop.is_set():
            try:
                trainer.steps  # noqa: B018 -- borrowed (so refused) only while run is working
            except RuntimeError:
                seen_inside[0] += 1  # this thread held the GIL while run was computing

    t = threading.Thread(target=poke)
    t.start()
    try:
        for _ in range(3):
            trainer.run(model._core, 10**6)  # whole epochs in single calls
    finally:
        stop.set()
        t.join()
    assert seen_inside[0] > 0


def test_a_counter_thread_progresses_during_fit():
    counter, stop = [0], threading.Event()

    def count():
        while not stop.is_set():
            counter[0] += 1

    at_epoch_end = []
    t = threading.Thread(target=count)
    t.start()
    try:
        # Epochs long enough (about 0.1 s or more each) that a busy machine still schedules
        # the counter during them; a fit holding the GIL would freeze it for whole chunks.
        lm().fit(np.tile(CORPUS, 4), epochs=3,
                 callback=lambda e, m: at_epoch_end.append(counter[0]), **FIT)
    finally:
        stop.set()
        t.join()
    assert at_epoch_end[0] < at_epoch_end[2]


def test_readers_during_fit_see_sane_models_and_change_nothing():
    alone = lm()
    alone.fit(CORPUS, epochs=2, **FIT)

    model, done, errors = lm(), threading.Event(), []
    ppls: list[float] = []
    outputs: list[list[int]] = []

    def read():
        try:
            while not done.is_set():
                ppls.append(model.perplexity(VALID))
                outputs.append(model.generate([0, 1, 2], 10, temperature=1.0, seed=0))
                logits, _ = model.logits(np.array([[0, 1, 2]]))
                assert np.isfinite(logits).all()
        except BaseException as e:  # noqa: BLE001 -- reported in the test thread
            errors.append(e)

    readers = [threading.Thread(target=read) for _ in range(2)]
    for r in readers:
        r.start()
    try:
        model.fit(CORPUS, epochs=2, **FIT)
    finally:
        done.set()
        for r in readers:
            r.join()
    assert not errors, errors
    assert len(ppls) >= 2
    assert all(1.0 <= p < 50.0 for p in ppls), ppls
    assert all(len(o) == 13 and all(0 <= i < 7 for i in o) for o in outputs)
    for name, a in model.state_dict().items():
        assert a.tobytes() == alone.state_dict()[name].tobytes(), name


def test_seq2seq_decodes_while_it_trains():
    src = rng.integers(3, 9, (64, 6))
    tgt = rng.integers(3, 8, (64, 5))
    data = (src, np.full(64, 6), tgt, tgt, np.full(64, 5))
    alone = seqrnn.Seq2Seq(9, 8, embed_size=6, hidden_size=12, num_layers=2, seed=0)
    alone.fit(data, epochs=4, batch_size=8, lr=0.01, progress=False, seed=0)
    model = seqrnn.Seq2Seq(9, 8, embed_size=6, hidden_size=12, num_layers=2, seed=0)
    done, errors, hyps = threading.Event(), [], []

    def read():
        try:
            while not done.is_set():
                hyps.extend(model.decode(src[:4], np.full(4, 6), bos=1, eos=2, max_len=6,
                                         beam_size=2))
        except BaseException as e:  # noqa: BLE001 -- reported in the test thread
            errors.append(e)

    r = threading.Thread(target=read)
    r.start()
    try:
        model.fit(data, epochs=4, batch_size=8, lr=0.01, progress=False, seed=0)
    finally:
        done.set()
        r.join()
    assert not errors, errors
    assert all(len(h) <= 6 and all(0 <= i < 8 for i in h) for h in hyps)
    for name, a in model.state_dict().items():
        assert a.tobytes() == alone.state_dict()[name].tobytes(), name


def test_a_second_fit_of_the_same_model_at_once_is_refused():
    model, running, stop, errors = lm(), threading.Event(), threading.Event(), []

    def first_fit():
        def callback(epoch, metrics):
            running.set()
            return not stop.is_set()

        try:
            model.fit(CORPUS[:2000], epochs=10**6, callback=callback, **FIT)
        except BaseException as e:  # noqa: BLE001 -- reported in the test thread
            errors.append(e)

    t = threading.Thread(target=first_fit)
    t.start()
    try:
        assert running.wait(timeout=120)
        with pytest.raises(RuntimeError, match="already being trained by fit in another thread"):
            model.fit(CORPUS, epochs=1, **FIT)
    finally:
        stop.set()
        t.join()
    assert not errors, errors
    model.fit(CORPUS[:500], epochs=1, **FIT)  # free again once the first fit returned


def test_load_state_dict_while_other_threads_read():
    model, other = lm(), seqrnn.LanguageModel(7, hidden_size=32, embed_size=8, seed=2)
    states = [model.state_dict(), other.state_dict()]
    ppls = {model.perplexity(VALID), other.perplexity(VALID)}
    done, errors, seen = threading.Event(), [], []

    def read():
        try:
            while not done.is_set():
                seen.append(model.perplexity(VALID))
        except BaseException as e:  # noqa: BLE001 -- reported in the test thread
            errors.append(e)

    readers = [threading.Thread(target=read) for _ in range(2)]
    for r in readers:
        r.start()
    try:
        for i in range(60):
            model.load_state_dict(states[i % 2])  # never refused, never torn
    finally:
        done.set()
        for r in readers:
            r.join()
    assert not errors, errors
    assert set(seen) <= ppls  # every reader saw one whole model or the other


def big_lm(seed):
    # hidden 128, batch 32: products and minibatch parts both use the helper threads
    return seqrnn.LanguageModel(7, hidden_size=128, seed=seed)


BIG_FIT = {**FIT, "batch_size": 32, "epochs": 1}


def test_two_threads_train_two_models_at_once_as_each_alone():
    want = []
    for seed in (1, 2):
        m = big_lm(seed)
        m.fit(CORPUS, **BIG_FIT)
        want.append(m.state_dict())
    models = [big_lm(1), big_lm(2)]
    errors = []

    def train(m):
        try:
            m.fit(CORPUS, **BIG_FIT)
        except Exception as e:  # noqa: BLE001 - reported below
            errors.append(e)

    threads = [threading.Thread(target=train, args=(m,)) for m in models]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    for m, w in zip(models, want, strict=True):
        got = m.state_dict()
        assert all(np.array_equal(got[k], w[k]) for k in w)


def _fit_in_child(queue):
    m = big_lm(1)
    m.fit(CORPUS, **BIG_FIT)
    queue.put({k: v.tolist() for k, v in m.state_dict().items()})


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork")
def test_a_process_forked_after_the_helpers_started_trains_as_its_parent():
    import multiprocessing

    parent = big_lm(1)
    parent.fit(CORPUS, **BIG_FIT)  # the helper threads now exist in this process
    want = parent.state_dict()
    ctx = multiprocessing.get_context("fork")
    queue = ctx.Queue()
    child = ctx.Process(target=_fit_in_child, args=(queue,))
    child.start()
    got = queue.get(timeout=120)
    child.join(timeout=60)
    assert child.exitcode == 0
    assert all(np.array_equal(np.asarray(got[k], dtype=want[k].dtype), want[k]) for k in want)
    # and the parent's helpers still work
    again = big_lm(1)
    again.fit(CORPUS, **BIG_FIT)
    assert all(np.array_equal(again.state_dict()[k], want[k]) for k in want)


def _in_forked_child(work):
    """Forks; the child runs ``work()`` and exits 0 if it returned something true. The child's exit code,
    or a failure if it has not finished within 120 s (a deadlock fails rather than blocks)."""
    import signal
    import time
    import traceback
    import warnings

    with warnings.catch_warnings():  # "multi-threaded, use of fork() may lead to deadlocks"
        warnings.simplefilter("ignore", DeprecationWarning)
        pid = os.fork()
    if pid == 0:
        code = 1
        try:
            code = 0 if work() else 1
        except BaseException:  # noqa: BLE001 -- reported on stderr, then the exit code
            traceback.print_exc()
        finally:
            os._exit(code)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            return os.waitstatus_to_exitcode(status)
        time.sleep(0.05)
    os.kill(pid, signal.SIGKILL)
    os.waitpid(pid, 0)
    pytest.fail("the forked child did not finish within 120 s")


def _busy_thread(work, running, stop, errors):
    """A thread running ``work(running, stop)`` with its exceptions kept in ``errors``."""
    def target():
        try:
            work(running, stop)
        except BaseException as e:  # noqa: BLE001 -- reported in the test thread
            errors.append(e)
            running.set()

    t = threading.Thread(target=target)
    t.start()
    return t


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork")
def test_a_child_forked_during_fit_can_fit_the_same_model():
    model, running, stop, errors = lm(), threading.Event(), threading.Event(), []

    def long_fit(running, stop):
        def callback(epoch, metrics):
            running.set()
            return not stop.is_set()

        model.fit(CORPUS[:2000], epochs=10**6, callback=callback, **FIT)

    def in_child():
        history = model.fit(CORPUS[:500], epochs=2, **FIT)  # the parent's fit holds its lock
        return history.epochs == 2 and np.isfinite(history.train_perplexity).all()

    t = _busy_thread(long_fit, running, stop, errors)
    try:
        assert running.wait(timeout=120)
        assert not errors, errors
        code = _in_forked_child(in_child)
    finally:
        stop.set()
        t.join()
    assert not errors, errors
    assert code == 0, "fit in the forked child failed (see its traceback above)"
    model.fit(CORPUS[:500], epochs=1, **FIT)  # and the parent's model is free again


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork")
def test_a_child_forked_during_generate_and_perplexity_can_use_the_model():
    model, running, stop, errors = lm(), threading.Event(), threading.Event(), []
    model.fit(CORPUS[:1000], epochs=1, **FIT)

    def read(running, stop):
        while not stop.is_set():
            model.generate([0, 1], 2000, seed=0)
            running.set()
            model.perplexity(CORPUS)

    def in_child():
        a = model.generate([0, 1], 50, seed=0)
        ppl = model.perplexity(CORPUS[:1000])
        model.load_state_dict(model.state_dict())
        history = model.fit(CORPUS[:500], epochs=1, **FIT)
        return len(a) == 52 and np.isfinite(ppl) and history.epochs == 1

    t = _busy_thread(read, running, stop, errors)
    try:
        assert running.wait(timeout=120)
        codes = [_in_forked_child(in_child) for _ in range(3)]  # at varied points of the calls
    finally:
        stop.set()
        t.join()
    assert not errors, errors
    assert codes == [0, 0, 0], "the forked child failed (see its traceback above)"
