"""Learning-rate schedules, early stopping, clipping by value and the optimizer kept across
``fit`` calls: the one trainer behind ``LanguageModel.fit`` and ``Seq2Seq.fit``."""

import hashlib
import math
from pathlib import Path

import numpy as np
import pytest
import seqrnn
from seqrnn.toy import toy_translation_task

rng = np.random.default_rng(1)
CORPUS = (np.tile(np.array([0, 1, 2, 3, 4, 3, 2, 1]), 60) + (rng.random(480) < 0.1)) % 5  # (480,)
VALID = np.tile(np.array([0, 1, 2, 3, 4, 3, 2, 1]), 10)  # (80,)
FIT = {"batch_size": 4, "num_steps": 8, "optimizer": "adam", "valid": VALID, "progress": False,
       "seed": 5}
FIXTURES = Path(__file__).parent / "fixtures"


def lm(seed=0):
    return seqrnn.LanguageModel(5, hidden_size=12, embed_size=4, seed=seed, dropout=0.1)


def states(model):
    return {k: a.copy() for k, a in model.state_dict().items()}


def same(a, b):
    assert a.keys() == b.keys()
    for k in a:
        assert a[k].tobytes() == b[k].tobytes(), k


def digest(model):
    sd, h = model.state_dict(), hashlib.sha256()
    for k in sorted(sd):
        h.update(k.encode())
        h.update(np.ascontiguousarray(sd[k]).tobytes())
    return h.hexdigest()


def reference_plateau(metrics, lr, factor, patience, cooldown, min_lr, threshold):
    """PyTorch's ReduceLROnPlateau (mode "min", threshold_mode "rel") written out: the rate of
    each epoch, given the validation metrics of the epochs before it."""
    best, bad, cool, rates = math.inf, 0, 0, []
    for m in metrics:
        rates.append(lr)
        if m < best * (1 - threshold):
            best, bad = m, 0
        else:
            bad += 1
        if cool > 0:
            cool, bad = cool - 1, 0
        if bad > patience:
            new = max(lr * factor, min_lr)
            if lr - new > 1e-8 * lr:
                lr = new
            cool, bad = cooldown, 0
    return rates


def test_plateau_follows_pytorchs_rule():
    settings = {"factor": 0.5, "patience": 1, "cooldown": 1, "min_lr": 0.002,
                "threshold": 1e-4}
    h = lm().fit(CORPUS, epochs=14, lr=0.05, schedule={"name": "plateau", **settings}, **FIT)
    assert h.lr == reference_plateau(h.valid_perplexity, 0.05, **settings)
    assert h.lr[-1] < 0.05  # it did reduce on this run
    try:
        import torch
    except ImportError:
        return
    p = torch.nn.Parameter(torch.zeros(1))
    opt = torch.optim.SGD([p], lr=0.05)
    sched = torch.optim.lr_scheduler.ReduceLROnPlateau(opt, **settings)
    rates = []
    for m in h.valid_perplexity:
        rates.append(opt.param_groups[0]["lr"])
        sched.step(m)
    assert h.lr == pytest.approx(rates, rel=1e-12)


def test_step_and_cosine_rates():
    h = lm().fit(CORPUS, epochs=5, lr=0.04, schedule={"name": "step", "step_size": 2,
                                                        "gamma": 0.5}, **FIT)
    assert h.lr == [0.04, 0.04, 0.02, 0.02, 0.01]
    h = lm().fit(CORPUS, epochs=6, lr=0.04, schedule={"name": "cosine", "warmup": 2}, **FIT)
    per_epoch = len(seqrnn._core.batches(CORPUS, 4, 8, "sequential")[0])
    assert h.lr[0] == pytest.approx(0.04 / (2 * per_epoch))  # the first step of the warm-up
    assert h.lr[1] == pytest.approx(0.04 * (per_epoch + 1) / (2 * per_epoch))
    assert h.lr[2:] == pytest.approx([0.04 * 0.5 * (1 + math.cos(math.pi * e / 4))
                                      for e in range(4)])
    h = lm().fit(CORPUS, epochs=6, schedule="step", **FIT)  # by name, PyTorch's defaults
    # Adam's default rate, times 0.1 after each third of the epochs
    assert h.lr == pytest.approx([1e-3, 1e-3, 1e-4, 1e-4, 1e-5, 1e-5], rel=1e-12)


def test_plateau_restore_best_goes_back_to_the_best_epoch():
    seen = []
    model = lm()
    h = model.fit(CORPUS, epochs=12, lr=0.2, callback=lambda e, m: seen.append(states(model)),
                  schedule={"name": "plateau", "factor": 0.3, "patience": 0,
                            "restore_best": True}, **FIT)
    reductions = [e for e in range(len(h.lr) - 1) if h.lr[e + 1] < h.lr[e]]
    assert reductions, h.lr
    for e in reductions:
        best = int(np.argmin(h.valid_perplexity[:e + 1]))
        same(seen[e], seen[best])  # the epoch ended back at the best parameters


def test_a_resumed_schedule_equals_an_uninterrupted_one(tmp_path):
    for schedule in [{"name": "plateau", "factor": 0.5, "patience": 0, "restore_best": True},
                     {"name": "cosine", "warmup": 1}]:
        full = lm()
        h_full = full.fit(CORPUS, epochs=6, lr=0.1, schedule=schedule, **FIT)
        path = tmp_path / "run.safetensors"
        lm().fit(CORPUS, epochs=6, lr=0.1, schedule=schedule, checkpoint=path,
                 checkpoint_every_steps=17, callback=lambda e, m: e < 2, **FIT)
        resumed = lm(seed=4)
        h = resumed.fit(CORPUS, epochs=6, lr=0.1, schedule=schedule, resume=path, **FIT)
        same(states(resumed), states(full))
        assert h.lr == h_full.lr and h.valid_perplexity == h_full.valid_perplexity
        other = {"name": "step", "step_size": 1, "gamma": 0.5}
        with pytest.raises(ValueError, match="the schedule is"):
            lm().fit(CORPUS, epochs=6, lr=0.1, schedule=other, resume=path, **FIT)


def test_early_stopping():
    h = lm().fit(CORPUS, epochs=60, lr=0.5, early_stopping=2, **FIT)
    assert h.epochs < 60
    assert h.epochs - 1 - h.best_epoch == 2
    assert min(h.valid_perplexity[-2:]) >= h.best_valid_perplexity
    with pytest.raises(ValueError, match="early_stopping needs validation data"):
        lm().fit(CORPUS, epochs=2, early_stopping=2, progress=False)
    with pytest.raises(ValueError, match="early_stopping must be"):
        lm().fit(CORPUS, epochs=2, early_stopping=0, **FIT)


def test_the_optimizer_goes_on_across_fit_calls():
    a = lm()
    a.fit(CORPUS, epochs=1, lr=0.01, **FIT)
    b = lm()
    b.load_state_dict(a.state_dict())  # same parameters, no optimizer state
    c = lm()
    c.load_state_dict(a.state_dict())
    c.fit(CORPUS, epochs=1, lr=0.01, **FIT)  # a fresh Adam, from the same parameters
    a2 = lm()
    a2.load_state_dict(a.state_dict())
    a.fit(CORPUS, epochs=1, lr=0.01, reset_optimizer=True, **FIT)
    same(states(a), states(c))  # reset: as a fresh optimizer
    b.fit(CORPUS, epochs=1, lr=0.01, **FIT)
    same(states(b), states(c))
    kept = lm()
    kept.fit(CORPUS, epochs=1, lr=0.01, **FIT)
    kept.fit(CORPUS, epochs=1, lr=0.01, **FIT)  # Adam's moments and step count go on
    assert any(states(kept)[k].tobytes() != states(c)[k].tobytes() for k in states(c))
    sgd = lm()
    sgd.fit(CORPUS, epochs=1, lr=0.01, **FIT)
    sgd.fit(CORPUS, epochs=1, lr=0.5, **dict(FIT, optimizer="sgd"))  # another kind: afresh
    fresh = lm()
    fresh.load_state_dict(a2.state_dict())
    fresh.fit(CORPUS, epochs=1, lr=0.5, **dict(FIT, optimizer="sgd"))
    same(states(sgd), states(fresh))


def test_clip_value_clips_each_gradient_element():
    corpus = CORPUS[:33]  # one minibatch of 4 x 8
    model = seqrnn.LanguageModel(5, hidden_size=6, seed=2)
    before = states(model)
    x = corpus[:32].reshape(4, 8)
    y = corpus[1:33].reshape(4, 8)
    _, grads = model.loss_and_grads(x, y)
    model.fit(corpus, epochs=1, batch_size=4, num_steps=8, lr=1.0, optimizer="sgd",
              clip=None, clip_value=0.01, sampling="random", progress=False, seed=0)
    after = model.state_dict()
    for k, g in grads.items():
        np.testing.assert_allclose(before[k] - after[k], np.clip(g, -0.01, 0.01), atol=1e-7,
                                   err_msg=k)
    assert max(np.abs(g).max() for g in grads.values()) > 0.01  # some were clipped


def test_default_rates_and_bad_schedules():
    for optimizer, rate in [("adam", 0.001), ("adagrad", 0.01), ("sgd", 1.0)]:
        h = lm().fit(CORPUS, epochs=1, **dict(FIT, optimizer=optimizer))
        assert h.lr == [rate]
    h = seqrnn.LanguageModel(5, hidden_size=4, seed=0).fit(np.tile(CORPUS, 3), progress=False)
    assert (h.epochs, h.lr) == (10, [1.0] * 10)  # d2l's batch 32, 35 steps, SGD at 1
    cases = [({"name": "exponential"}, ValueError, "schedule name must be one of"),
             ({"name": "step", "gamma": 0.5, "steps": 3}, ValueError, "not \\['steps'\\]"),
             ({"name": "step", "step_size": 0}, ValueError, "step_size"),
             ({"name": "plateau", "factor": 2.0}, ValueError, "factor"),
             ({"name": "cosine", "warmup": 20}, ValueError, "warmup"),
             (3, TypeError, "schedule must be None, a name or a dict")]
    for schedule, error, match in cases:
        with pytest.raises(error, match=match):
            lm().fit(CORPUS, epochs=2, schedule=schedule, **FIT)
    with pytest.raises(ValueError, match="needs validation data"):
        lm().fit(CORPUS, epochs=2, schedule="plateau", progress=False)
    with pytest.raises(ValueError, match="clip_value must be a finite number > 0"):
        lm().fit(CORPUS, epochs=2, clip_value=-1.0, **FIT)
    with pytest.raises(ValueError, match="momentum is an SGD setting"):
        lm().fit(CORPUS, epochs=2, momentum=0.9, **FIT)


def test_seq2seq_fit_takes_the_same_schedule():
    train, valid = toy_translation_task(num_valid=40, seed=0, max_number=99)
    data = seqrnn.data.make_translation_data(train + valid, 8, num_valid=len(valid))
    m = seqrnn.Seq2Seq(len(data.src_vocab), len(data.tgt_vocab), 8, 16, 1, seed=0)
    vdata = data.subset(data.valid)
    h = m.fit(data, epochs=4, batch_size=32, lr=0.01, valid=vdata, progress=False, seed=1,
              schedule={"name": "step", "step_size": 1, "gamma": 0.5}, early_stopping=3)
    assert h.lr == [0.01, 0.005, 0.0025, 0.00125]
    assert m.perplexity(vdata) == h.valid_perplexity[-1]


def test_translator_train_reaches_every_model_and_fit_setting(tmp_path):
    train, _ = toy_translation_task(num_valid=10, seed=0, max_number=99)
    best = tmp_path / "best.safetensors"
    tr = seqrnn.Translator.train(
        train, epochs=3, embed_size=8, hidden_size=12, num_layers=2, batch_size=32, seed=0,
        progress=False, context="none", dropout=0.1, init="uniform", valid_fraction=0.2,
        keep_best=True, best_path=best, schedule={"name": "cosine"})
    assert (tr.model.context, tr.model.dropout) == ("none", pytest.approx(0.1))
    assert len(tr.history.valid_perplexity) == 3 and tr.history.lr[0] == 0.005
    same(states(seqrnn.Translator.load(best).model), states(tr.model))  # kept best = saved
    held = train[-5:]
    tr = seqrnn.Translator.train(train[:-5], epochs=2, embed_size=8, hidden_size=12,
                                 num_layers=1, batch_size=32, seed=0, progress=False,
                                 valid_pairs=held, early_stopping=1)
    assert len(tr.history.valid_perplexity) == tr.history.epochs
    with pytest.raises(ValueError, match="not both"):
        seqrnn.Translator.train(train, valid_pairs=held, valid_fraction=0.1, progress=False)
    with pytest.raises(ValueError, match="valid_fraction must be in"):
        seqrnn.Translator.train(train, valid_fraction=1.0, progress=False)


@pytest.mark.parametrize("kind", ["lm", "seq2seq"])
def test_first_format_checkpoints_resume_to_the_same_parameters(tmp_path, kind):
    """Files written by the version before schedules (``tests/fixtures``, stopped inside an
    epoch) resume to the parameters that version reached without stopping."""
    path = tmp_path / "run.safetensors"
    path.write_bytes((FIXTURES / f"{kind}_checkpoint_format1.safetensors").read_bytes())
    if kind == "lm":
        ids = (np.arange(3000) * 7 % 11) % 6
        model = seqrnn.LanguageModel(vocab_size=6, hidden_size=5, seed=11)
        h = model.fit(ids[:400], epochs=2, batch_size=2, num_steps=5, lr=0.01,
                      optimizer="adam", valid=ids[:60], progress=False, seed=3,
                      checkpoint=path, resume=True, keep_best=True)
        assert h.epochs == 2 and h.best_epoch == 1
        expected = "6f579bdc37964af5abd107997b8c539f8460abd45fcd56ccf93d6bc799343552"
    else:
        rows = [[3, 4, 2, 0], [5, 2, 0, 0], [4, 4, 2, 0]] * 5
        src, lens = np.array(rows), np.array([3, 2, 3] * 5)
        tgt_in = np.array([[1, 5, 6, 0], [1, 7, 0, 0], [1, 6, 6, 0]] * 5)
        tgt_out = np.array([[5, 6, 2, 0], [7, 2, 0, 0], [6, 6, 2, 0]] * 5)
        model = seqrnn.Seq2Seq(10, 12, embed_size=3, hidden_size=4, num_layers=1, seed=9)
        h = model.fit((src, lens, tgt_in, tgt_out, lens), epochs=4, batch_size=4, lr=0.01,
                      progress=False, seed=5, checkpoint=path, resume=True)
        assert h.epochs == 4
        expected = "132fab9d8fcd89351a095636cb6dd5f13e85c53fa1336a5ee81e42ee07c0eab0"
    assert digest(model) == expected
    header = path.read_bytes()
    assert b'format\\":2' in header[:4096]  # written again in the current format


def test_the_progress_bar_shows_the_epoch_in_progress_and_the_rate(capsys):
    lm().fit(np.tile(CORPUS, 4), epochs=2, lr=0.01, **dict(FIT, progress=True))
    err = capsys.readouterr().err
    assert "lr=0.01" in err and "valid ppl=" in err
    assert "loss=0.0000" not in err  # never the sums of an epoch already closed
