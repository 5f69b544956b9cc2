"""Checkpoints during ``fit``: a resumed run equals an uninterrupted one bit for bit; the best
epoch by validation perplexity is kept and saved; bad checkpoint arguments are refused."""

import json

import numpy as np
import pytest
import seqrnn
from seqrnn.data import make_translation_data
from seqrnn.toy import toy_translation_task

rng = np.random.default_rng(0)
CORPUS = (np.tile(np.array([0, 1, 2, 3, 4, 3, 2, 1]), 60) + (rng.random(480) < 0.1)) % 5  # (480,)
VALID = np.tile(np.array([0, 1, 2, 3, 4, 3, 2, 1]), 10)  # (80,)
FIT = {"batch_size": 4, "num_steps": 8, "lr": 0.02, "optimizer": "adam", "sampling": "sequential",
           "valid": VALID, "progress": False, "seed": 5}
PER_EPOCH = len(seqrnn._core.batches(CORPUS, 4, 8, "sequential")[0])  # minibatches an epoch


def lm(seed=0):
    return seqrnn.LanguageModel(5, hidden_size=12, num_layers=2, embed_size=4, seed=seed,
                                dropout=0.2)


def same(a, b):
    sa, sb = a.state_dict(), b.state_dict()
    assert sa.keys() == sb.keys()
    for k in sa:
        assert sa[k].tobytes() == sb[k].tobytes(), k


def test_lm_resumed_at_an_epoch_boundary_equals_uninterrupted(tmp_path):
    full = lm()
    h_full = full.fit(CORPUS, epochs=4, **FIT)
    path = tmp_path / "run.safetensors"
    part = lm()
    h_part = part.fit(CORPUS, epochs=2, checkpoint=path, **FIT)
    assert h_part.epochs == 2 and path.exists()
    resumed = lm(seed=9)  # other initial weights: everything comes from the checkpoint
    h = resumed.fit(CORPUS, epochs=4, checkpoint=path, resume=True, **FIT)
    same(resumed, full)
    assert h.epochs == 4
    assert h.valid_perplexity == h_full.valid_perplexity
    np.testing.assert_allclose(h.train_perplexity, h_full.train_perplexity, rtol=1e-12)
    assert h.train_perplexity[:2] == h_part.train_perplexity


def test_lm_resumed_inside_an_epoch_equals_uninterrupted(tmp_path):
    full = lm()
    h_full = full.fit(CORPUS, epochs=3, **FIT)
    path = tmp_path / "steps.safetensors"
    stopped = lm()

    class Stop(Exception):
        pass

    def stop_after_second_epoch(epoch, metrics):
        if epoch == 1:
            raise Stop  # the last checkpoint written is the one inside the second epoch

    with pytest.raises(Stop):
        stopped.fit(CORPUS, epochs=3, checkpoint=path, checkpoint_every=100,
                    checkpoint_every_steps=PER_EPOCH + 4, callback=stop_after_second_epoch,
                    **FIT)
    meta_partial = _fit_state(path)["partial"]
    assert meta_partial[0] > 0  # a checkpoint in the middle of an epoch
    resumed = lm(seed=3)
    h = resumed.fit(CORPUS, epochs=3, resume=path, **FIT)
    same(resumed, full)
    np.testing.assert_allclose(h.train_perplexity, h_full.train_perplexity, rtol=1e-12)


def _fit_state(path):
    with open(path, "rb") as f:
        n = int.from_bytes(f.read(8), "little")
        header = json.loads(f.read(n))
    return json.loads(header["__metadata__"]["seqrnn.fit"])


def test_checkpoint_holds_optimizer_state_and_progress(tmp_path):
    path = tmp_path / "c.safetensors"
    lm().fit(CORPUS, epochs=3, checkpoint=path, checkpoint_every=2, **FIT)
    with open(path, "rb") as f:
        header = json.loads(f.read(int.from_bytes(f.read(8), "little")))
    names = set(header) - {"__metadata__"}
    assert "optimizer.exp_avg.rnn.weight_hh_l1" in names
    assert "optimizer.exp_avg_sq.output.bias" in names
    progress = json.loads(header["__metadata__"]["seqrnn.progress"])
    assert progress["epochs"] == 3 and progress["steps"] == 3 * PER_EPOCH
    assert progress["next"] == 0
    with pytest.raises(ValueError, match="TrainingCheckpoint, not a LanguageModel"):
        seqrnn.LanguageModel.load(path)


def test_resume_true_without_a_file_starts_afresh(tmp_path):
    path = tmp_path / "new.safetensors"
    a, b = lm(), lm()
    a.fit(CORPUS, epochs=1, checkpoint=path, resume=True, **FIT)
    b.fit(CORPUS, epochs=1, **FIT)
    same(a, b)
    assert path.exists()


def test_resume_with_other_settings_or_data_is_refused(tmp_path):
    path = tmp_path / "c.safetensors"
    lm().fit(CORPUS, epochs=1, checkpoint=path, **FIT)
    fresh = lm(seed=4)
    before = fresh.state_dict()
    with pytest.raises(ValueError, match="batch_size is 4 in the checkpoint but 8"):
        fresh.fit(CORPUS, epochs=2, resume=path, **{**FIT, "batch_size": 8})
    with pytest.raises(ValueError, match="other training data"):
        fresh.fit(CORPUS[:-1], epochs=2, resume=path, **FIT)
    with pytest.raises(ValueError, match="seed is 5 in the checkpoint but 6"):
        fresh.fit(CORPUS, epochs=2, resume=path, **{**FIT, "seed": 6})
    with pytest.raises(ValueError, match="is F32, this run trains float64"):
        seqrnn.LanguageModel(5, 12, 2, 4, seed=0, dtype="float64").fit(
            CORPUS, epochs=2, resume=path, **FIT)
    with pytest.raises(FileNotFoundError):
        fresh.fit(CORPUS, epochs=2, resume=tmp_path / "missing.safetensors", **FIT)
    same_dict = fresh.state_dict()
    for k in before:
        assert np.array_equal(before[k], same_dict[k])


@pytest.mark.parametrize("kwargs,match", [
    ({"resume": True}, "resume=True needs checkpoint"),
    ({"keep_best": True, "valid": None}, "need validation data"),
    ({"best_path": "b.safetensors", "valid": None}, "need validation data"),
    ({"checkpoint": "c.safetensors", "checkpoint_every": 0}, "checkpoint_every"),
    ({"checkpoint": "c.safetensors", "checkpoint_every_steps": 0}, "checkpoint_every_steps"),
])
def test_bad_checkpoint_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        lm().fit(CORPUS, epochs=1, **{**FIT, **kwargs})


def test_keep_best_restores_the_best_epoch_and_saves_it(tmp_path):
    # A learning rate this large makes later epochs worse than an early one.
    fit = {**FIT, "lr": 0.3, "clip": None}
    snapshots = []
    ref = lm()
    ref.fit(CORPUS, epochs=6, callback=lambda e, m: snapshots.append(ref.state_dict()), **fit)
    best_path = tmp_path / "best.safetensors"
    model = lm()
    h = model.fit(CORPUS, epochs=6, keep_best=True, best_path=best_path, **fit)
    best = int(np.argmin(h.valid_perplexity))
    assert h.best_epoch == best and h.best_valid_perplexity == h.valid_perplexity[best]
    assert best < 5, h.valid_perplexity  # otherwise the test shows nothing
    for k, a in model.state_dict().items():
        assert a.tobytes() == snapshots[best][k].tobytes(), k
    same(seqrnn.LanguageModel.load(best_path), model)
    assert model.perplexity(VALID) == pytest.approx(h.valid_perplexity[best], rel=1e-6)


def test_keep_best_survives_a_resume(tmp_path):
    fit = {**FIT, "lr": 0.3, "clip": None}
    full = lm()
    h_full = full.fit(CORPUS, epochs=6, keep_best=True, **fit)
    path = tmp_path / "c.safetensors"
    lm().fit(CORPUS, epochs=4, keep_best=True, checkpoint=path, **fit)
    resumed = lm(seed=1)
    h = resumed.fit(CORPUS, epochs=6, keep_best=True, resume=path, **fit)
    assert h.best_epoch == h_full.best_epoch
    same(resumed, full)


def toy_data():
    train, valid = toy_translation_task(num_valid=20, seed=0, max_number=99)
    d = make_translation_data(train + valid, 8, num_valid=20, already_preprocessed=True)

    def part(rows):
        return (d.src[rows], d.src_valid_len[rows], d.tgt_in[rows], d.tgt_out[rows],
                d.tgt_valid_len[rows])

    return d, part(d.train), part(d.valid)


def s2s(d, seed=0, attention="none"):
    return seqrnn.Seq2Seq(len(d.src_vocab), len(d.tgt_vocab), embed_size=8, hidden_size=12,
                          num_layers=2, seed=seed, dropout=0.1, attention=attention)


@pytest.mark.parametrize("attention", ["none", "additive"])
def test_seq2seq_resumed_equals_uninterrupted(tmp_path, attention):
    d, data, vdata = toy_data()
    fit = {"batch_size": 16, "lr": 0.01, "valid": vdata, "progress": False, "seed": 2}
    full = s2s(d, attention=attention)
    h_full = full.fit(data, epochs=4, **fit)
    path = tmp_path / "s2s.safetensors"
    s2s(d, attention=attention).fit(data, epochs=3, checkpoint=path, checkpoint_every=2,
                                    checkpoint_every_steps=7, **fit)
    resumed = s2s(d, seed=5, attention=attention)
    h = resumed.fit(data, epochs=4, resume=path, **fit)
    same(resumed, full)
    assert h.valid_perplexity == h_full.valid_perplexity


def test_translator_best_path_is_a_translator(tmp_path):
    train, _ = toy_translation_task(num_valid=20, seed=0, max_number=99)
    d = make_translation_data(train, 8)  # what Translator.train builds
    vdata = (d.src[:30], d.src_valid_len[:30], d.tgt_in[:30], d.tgt_out[:30],
             d.tgt_valid_len[:30])
    best = tmp_path / "best.safetensors"
    tr = seqrnn.Translator.train(train, epochs=2, num_steps=8, embed_size=8, hidden_size=12,
                                 num_layers=1, batch_size=32, seed=0, progress=False,
                                 valid=vdata, keep_best=True, best_path=best)
    loaded = seqrnn.Translator.load(best)
    same(loaded.model, tr.model)
    assert tr.history.best_epoch is not None
