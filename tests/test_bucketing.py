"""Length bucketing of translation minibatches (``fit(..., bucketing=True)``): every pair once
an epoch, the same minibatches for the same seed, a checkpoint that records the setting and
resumes bit for bit, and the option on ``Translator.train`` and ``train-translate``."""

import json

import numpy as np
import pytest
import seqrnn
from seqrnn import _core
from seqrnn.__main__ import main
from seqrnn.data import make_translation_data
from seqrnn.toy import toy_translation_task


def toy_data():
    train, valid = toy_translation_task(num_valid=20, seed=0, max_number=299)
    d = make_translation_data(train + valid, 10, num_valid=20, already_preprocessed=True)
    return d, d.subset(d.train), d.subset(d.valid)


def s2s(d, seed=0):
    return seqrnn.Seq2Seq(len(d.src_vocab), len(d.tgt_vocab), embed_size=8, hidden_size=12,
                          num_layers=2, seed=seed, dropout=0.1)


def same(a, b):
    sa, sb = a.state_dict(), b.state_dict()
    assert sa.keys() == sb.keys()
    return all(sa[k].tobytes() == sb[k].tobytes() for k in sa)


FIT = {"batch_size": 16, "lr": 0.01, "progress": False, "seed": 2, "bucketing": True}


def test_each_epoch_holds_every_pair_once():
    d, train, _ = toy_data()
    m = s2s(d)
    arrays = (train.src, train.src_valid_len, train.tgt_in, train.tgt_out, train.tgt_valid_len)
    t = _core.Trainer(m._core, arrays, 16, 0.01, "adam", bucketing=True)
    for _ in range(2):
        tokens, done = 0, False
        while not done:
            _, n, _, done = t.run(m._core, 3)
            tokens += n
        assert tokens == int(train.tgt_valid_len.sum())  # every target token once
        t.end_epoch(m._core, None)


def test_same_seed_same_run_and_other_minibatches_than_without():
    d, train, _ = toy_data()
    a, b, plain = s2s(d), s2s(d), s2s(d)
    a.fit(train, epochs=2, **FIT)
    b.fit(train, epochs=2, **FIT)
    plain.fit(train, epochs=2, **{**FIT, "bucketing": False})
    assert same(a, b)
    assert not same(a, plain)


def test_resumed_inside_an_epoch_equals_uninterrupted(tmp_path):
    d, train, valid = toy_data()
    full = s2s(d)
    h_full = full.fit(train, epochs=3, valid=valid, **FIT)
    path = tmp_path / "s2s.safetensors"

    class Stop(Exception):
        pass

    def stop_after_second_epoch(epoch, metrics):
        if epoch == 1:
            raise Stop

    with pytest.raises(Stop):  # 18 minibatches an epoch: the last checkpoint is at step 23
        s2s(d).fit(train, epochs=3, valid=valid, checkpoint=path, checkpoint_every=100,
                   checkpoint_every_steps=23, callback=stop_after_second_epoch, **FIT)
    with open(path, "rb") as f:
        header = json.loads(f.read(int.from_bytes(f.read(8), "little")))
    progress = json.loads(header["__metadata__"]["seqrnn.progress"])
    assert progress["task"] == {"bucketed_translation": {"pool_batches": 100}}
    assert (progress["epochs"], progress["next"]) == (1, 5)
    resumed = s2s(d, seed=5)
    h = resumed.fit(train, epochs=3, valid=valid, resume=path, **FIT)
    assert same(resumed, full)
    assert h.valid_perplexity == h_full.valid_perplexity
    with pytest.raises(ValueError, match=r"the task is BucketedTranslation \{ pool_batches: 100 "
                       r"\} in the checkpoint but Translation in this fit"):
        s2s(d).fit(train, epochs=3, resume=path, **{**FIT, "bucketing": False})


def test_a_language_model_takes_no_bucketing():
    lm = seqrnn.LanguageModel(5, hidden_size=4, seed=0)
    with pytest.raises(ValueError, match="bucketing is a setting of translation .* got "
                       "bucketing=True"):
        _core.Trainer(lm._core, np.arange(50) % 5, 2, 0.1, num_steps=4, bucketing=True)
    with pytest.raises(TypeError, match="bucketing"):
        lm.fit(np.arange(50) % 5, epochs=1, batch_size=2, num_steps=4, progress=False,
               bucketing=True)  # type: ignore[call-arg]


def test_translator_train_and_the_cli_take_bucketing(tmp_path, capsys):
    train, _ = toy_translation_task(num_valid=10, seed=0, max_number=99)
    kw = {"epochs": 2, "embed_size": 8, "hidden_size": 12, "num_layers": 1, "batch_size": 16,
          "seed": 0, "progress": False}
    on = seqrnn.Translator.train(train, bucketing=True, **kw)
    off = seqrnn.Translator.train(train, **kw)
    assert not same(on.model, off.model)
    out = tmp_path / "tr.safetensors"
    code = main(["train-translate", "--toy", "--num-examples", "200", "--epochs", "1",
                 "--hidden", "16", "--embed", "8", "--layers", "1", "--batch", "32",
                 "--no-progress", "--bucketing", "--json", "--out", str(out)])
    result = json.loads(capsys.readouterr().out)
    assert code == 0 and result["bucketing"] is True and out.exists()
