"""The higher-level API under bad input: training, generation, decoding, vocabularies, data
iterators and files. Each case raises a specific exception whose message names the argument;
none raises pyo3's PanicException. Non-contiguous and read-only arrays work."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
import seqrnn
from seqrnn import data

LM = seqrnn.LanguageModel(5, 4, seed=0)  # vocab 5, hidden 4, one-hot input, float32
S2S = seqrnn.Seq2Seq(6, 7, embed_size=3, hidden_size=4, num_layers=1, seed=0)  # src 6, tgt 7
VOCAB = seqrnn.Vocab(list("abcab"))  # 4 tokens
# src: <unk>, <pad>, <eos>, a, b, c; tgt: <unk>, <pad>, <bos>, <eos>, a, b, c
TRANSLATOR = seqrnn.Translator(S2S, seqrnn.Vocab(list("abc"), reserved_tokens=["<pad>", "<eos>"]),
                               seqrnn.Vocab(list("abc"), reserved_tokens=["<pad>", "<bos>", "<eos>"]),
                               5)
CORPUS = np.arange(50) % 5
SRC = np.array([[3, 4, 2, 0]])  # (batch 1, steps 4)
TGT_IN, TGT_OUT = np.array([[1, 5, 6]]), np.array([[5, 6, 2]])  # (batch 1, steps 3)
PAIRS = (SRC, [3], TGT_IN, TGT_OUT, [3])
NAN, INF = float("nan"), float("inf")
BIG = 2**50  # sizes whose bytes no address space holds


def fit(**kw):
    args = {"corpus_ids": CORPUS, "epochs": 1, "batch_size": 2, "num_steps": 3, "lr": 1.0, "progress": False}
    return LM.fit(**{**args, **kw})


def s2s_fit(**kw):
    args = {"data": PAIRS, "epochs": 1, "batch_size": 1, "lr": 0.1, "progress": False}
    return S2S.fit(**{**args, **kw})


def decode(**kw):
    args = {"src": SRC, "src_valid_len": [3], "bos": 1, "eos": 2, "max_len": 5}
    return S2S.decode(**{**args, **kw})


def saved(tmp: Path, model, name: str, metadata=None) -> Path:
    """``model`` saved; ``metadata`` may forge the library's own ``seqrnn.*`` entries, which
    ``save`` refuses from callers, so it goes through the compiled model directly."""
    path = tmp / name
    model.save(path) if metadata is None else model._core.save(str(path), metadata)
    return path


def _with_vocab(lm, vocab):
    lm.vocab = vocab
    return lm


def case(name, exc, match, call):
    return pytest.param(call, exc, match, id=name)


# fmt: off
CASES = [
    # --- LanguageModel.fit
    case("fit lr nan", ValueError, r"^lr must be a finite number > 0, got nan", lambda: fit(lr=NAN)),
    case("fit lr inf", ValueError, r"^lr must be a finite number > 0", lambda: fit(lr=INF)),
    case("fit lr 0", ValueError, r"^lr must be a finite number > 0, got 0", lambda: fit(lr=0)),
    case("fit lr str", TypeError, r"^lr must be a number, got str", lambda: fit(lr="fast")),
    case("fit clip nan", ValueError, r"^clip must be a finite number > 0", lambda: fit(clip=NAN)),
    case("fit clip inf", ValueError, r"^clip must be a finite number > 0", lambda: fit(clip=INF)),
    case("fit clip negative", ValueError, r"^clip must be .* got -1", lambda: fit(clip=-1)),
    case("fit epochs 0", ValueError, r"^epochs must be at least 1, got 0", lambda: fit(epochs=0)),
    case("fit batch_size 0", ValueError, r"^batch_size must be at least 1, got 0",
         lambda: fit(batch_size=0)),
    case("fit num_steps negative", ValueError, r"^num_steps must be at least 1, got -3",
         lambda: fit(num_steps=-3)),
    case("fit batch_size float", TypeError, r"^batch_size must be an int", lambda: fit(batch_size=2.0)),
    case("fit empty corpus", ValueError, r"^corpus length must be at least 7 tokens .* got 0",
         lambda: fit(corpus_ids=[])),
    case("fit corpus too short", ValueError, r"^corpus length .* got 2", lambda: fit(corpus_ids=[1, 2])),
    case("fit huge batch", ValueError, r"^corpus length .*batch_size 1125899906842624",
         lambda: fit(batch_size=BIG)),
    case("fit corpus id == vocab", IndexError, r"^corpus: token id 5 is out of range",
         lambda: fit(corpus_ids=CORPUS + 1)),
    case("fit corpus negative id", IndexError, r"^corpus: token id -1 is out of range",
         lambda: fit(corpus_ids=CORPUS - 1)),
    case("fit corpus float", TypeError, r"^corpus_ids: expected integer token ids",
         lambda: fit(corpus_ids=CORPUS * 1.0)),
    case("fit corpus 2-D", ValueError, r"^corpus_ids: expected 1 dim",
         lambda: fit(corpus_ids=CORPUS.reshape(5, 10))),
    case("fit valid id out of range", IndexError, r"^valid: token id 9 is out of range",
         lambda: fit(valid=[1, 9])),
    case("fit valid too short", ValueError, r"^valid must hold at least 2 tokens, got 1",
         lambda: fit(valid=[1])),
    case("fit optimizer", ValueError, r'^optimizer must be "sgd", "adam" or "adagrad", got "lbfgs"',
         lambda: fit(optimizer="lbfgs")),
    case("fit sampling", ValueError, r'^sampling must be .*got "shuffle"', lambda: fit(sampling="shuffle")),
    case("fit momentum nan", ValueError, r"^momentum must be a finite number >= 0",
         lambda: fit(momentum=NAN)),
    case("fit weight_decay negative", ValueError, r"^weight_decay must be a finite number >= 0",
         lambda: fit(weight_decay=-0.1)),
    case("fit seed negative", ValueError, r"^seed must be in \[0, 2\*\*64\)", lambda: fit(seed=-1)),
    # --- perplexity, generate, stream
    case("perplexity batch_size 0", ValueError, r"^batch_size must be at least 1, got 0",
         lambda: LM.perplexity(CORPUS, batch_size=0)),
    case("perplexity one token", ValueError, r"^corpus length must be at least 2", lambda: LM.perplexity([1])),
    case("perplexity id out of range", IndexError, r"^corpus: token id 8", lambda: LM.perplexity([1, 8])),
    case("generate temperature < 0", ValueError, r"^temperature must be a finite number >= 0, got -1",
         lambda: LM.generate([1], 3, temperature=-1)),
    case("generate temperature nan", ValueError, r"^temperature must be a finite number >= 0, got NaN",
         lambda: LM.generate([1], 3, temperature=NAN)),
    case("generate temperature inf", ValueError, r"^temperature must be a finite",
         lambda: LM.generate([1], 3, temperature=INF)),
    case("generate temperature str", TypeError, r"^temperature must be a number, got str",
         lambda: LM.generate([1], 3, temperature="hot")),
    case("generate top_k 0", ValueError, r"^top_k must be at least 1, got 0",
         lambda: LM.generate([1], 3, temperature=1.0, top_k=0)),
    case("generate top_k float", TypeError, r"^top_k must be an int", lambda: LM.generate([1], 3, top_k=2.5)),
    case("generate num_tokens negative", ValueError, r"^num_tokens must be >= 0, got -1",
         lambda: LM.generate([1], -1)),
    case("generate num_tokens float", TypeError, r"^num_tokens must be an int", lambda: LM.generate([1], 2.5)),
    case("generate num_tokens huge", MemoryError, r"generated tokens", lambda: LM.generate([1], BIG)),
    case("generate empty prefix", ValueError, r"^prefix must be at least one token", lambda: LM.generate([], 3)),
    case("generate prefix id", IndexError, r"^prefix: token id 7 is out of range", lambda: LM.generate([7], 3)),
    case("generate prefix float", TypeError, r"^prefix: expected integer", lambda: LM.generate([1.0], 3)),
    case("stream next before feed", ValueError, r"^stream must be fed", lambda: LM.stream(0).next()),
    case("stream feed empty", ValueError, r"^tokens must be at least one token", lambda: LM.stream(0).feed([])),
    case("stream feed id", IndexError, r"^tokens: token id 9 is out of range", lambda: LM.stream(0).feed(9)),
    case("stream next top_k 0", ValueError, r"^top_k must be at least 1",
         lambda: LM.stream(0).next(temperature=1.0, top_k=0)),
    case("stream next temperature", ValueError, r"^temperature must be a finite number >= 0",
         lambda: LM.stream(0).next(temperature=-2.0)),
    case("stream state shape", ValueError, r"^state: expected shape \[1, 1, 4\], got \[1, 2, 4\]",
         lambda: setattr(LM.stream(0), "state", np.zeros((1, 2, 4), np.float32))),
    case("stream state int", TypeError, r"^state: expected a floating-point array",
         lambda: setattr(LM.stream(0), "state", np.zeros((1, 1, 4), np.int64))),
    # --- constructors: sizes memory cannot hold, dropout
    case("lm huge", MemoryError, r"^cannot allocate \d+ bytes for", lambda: seqrnn.LanguageModel(BIG, BIG)),
    case("lm huge layers", MemoryError, r"num_layers 1125899906842624", lambda: seqrnn.LanguageModel(5, 4, num_layers=BIG)),
    case("lm huge embedding", MemoryError, r"embedding.weight",
         lambda: seqrnn.LanguageModel(BIG, 4, embed_size=BIG)),
    case("rnn huge", MemoryError, r"hidden_size 1125899906842624", lambda: seqrnn.RNN(BIG, BIG)),
    case("seq2seq huge", MemoryError, r"embedding.weight", lambda: seqrnn.Seq2Seq(BIG, 5, embed_size=BIG)),
    case("lm dropout nan", ValueError, r"^dropout must be a probability in \[0, 1\), got NaN",
         lambda: seqrnn.LanguageModel(5, 4, dropout=NAN)),
    case("seq2seq dropout 1", ValueError, r"^dropout must be a probability",
         lambda: seqrnn.Seq2Seq(5, 5, dropout=1.0)),
    case("seq2seq size 0", ValueError, r"^tgt_vocab_size must be at least 1, got 0",
         lambda: seqrnn.Seq2Seq(5, 0)),
    case("seq2seq context", ValueError, r'^context must be "concat" or "none", got "attention"',
         lambda: seqrnn.Seq2Seq(5, 5, context="attention")),
    case("set_num_threads negative", ValueError, r"^n must be >= 0", lambda: seqrnn.set_num_threads(-1)),
    # --- Seq2Seq: loss, fit, decode and beam search
    case("s2s tgt_out id", IndexError, r"^tgt_out: token id 12 is out of range",
         lambda: S2S.loss_and_grads(SRC, [3], TGT_IN, TGT_OUT + 7, [3])),
    case("s2s tgt_in id", IndexError, r"^tgt_in: token id 8 is out of range",
         lambda: S2S.loss_and_grads(SRC, [3], TGT_IN + 7, TGT_OUT, [3])),
    case("s2s src id", IndexError, r"^src: token id 6 is out of range",
         lambda: S2S.loss_and_grads(SRC + 3, [3], TGT_IN, TGT_OUT, [3])),
    case("s2s src_valid_len > steps", ValueError, r"^src_valid_len must be between 1 and .*\(4\), got 5",
         lambda: S2S.loss_and_grads(SRC, [5], TGT_IN, TGT_OUT, [3])),
    case("s2s tgt_valid_len 0", ValueError, r"^tgt_valid_len must be between 1 and .*got 0",
         lambda: S2S.loss_and_grads(SRC, [3], TGT_IN, TGT_OUT, [0])),
    case("s2s tgt_out shape", ValueError, r"^tgt_out: expected shape \[1, 3\]",
         lambda: S2S.loss_and_grads(SRC, [3], TGT_IN, TGT_OUT[:, :2], [2])),
    case("s2s empty batch", ValueError, r"^number of sentence pairs must be at least 1, got 0",
         lambda: S2S.loss_and_grads(SRC[:0], [], TGT_IN[:0], TGT_OUT[:0], [])),
    case("s2s lengths float", TypeError, r"^src_valid_len: expected integer",
         lambda: S2S.loss_and_grads(SRC, [3.0], TGT_IN, TGT_OUT, [3])),
    case("s2s fit lr nan", ValueError, r"^lr must be a finite number > 0", lambda: s2s_fit(lr=NAN)),
    case("s2s fit clip inf", ValueError, r"^clip must be a finite number > 0", lambda: s2s_fit(clip=INF)),
    case("s2s fit batch_size 0", ValueError, r"^batch_size must be at least 1", lambda: s2s_fit(batch_size=0)),
    case("s2s fit data", TypeError, r"^data must be a TranslationData or a tuple",
         lambda: s2s_fit(data=PAIRS[:2])),
    case("s2s fit valid id", IndexError, r"^valid tgt_out: token id 12 is out of range",
         lambda: s2s_fit(valid=(SRC, [3], TGT_IN, TGT_OUT + 7, [3]))),
    case("s2s fit valid src id", IndexError, r"^valid src: token id 6 is out of range",
         lambda: s2s_fit(valid=(SRC + 3, [3], TGT_IN, TGT_OUT, [3]))),
    case("s2s fit optimizer", ValueError, r"^optimizer must be", lambda: s2s_fit(optimizer="x")),
    case("decode beam_size 0", ValueError, r"^beam_size must be at least 1, got 0",
         lambda: decode(beam_size=0)),
    case("decode beam_size float", TypeError, r"^beam_size must be an int", lambda: decode(beam_size=2.0)),
    case("decode max_len 0", ValueError, r"^max_len must be at least 1, got 0", lambda: decode(max_len=0)),
    case("decode max_len huge", MemoryError, r"decoded tokens", lambda: decode(max_len=BIG)),
    case("decode beam_size huge", MemoryError, r"^cannot allocate", lambda: decode(beam_size=BIG)),
    case("decode alpha nan", ValueError, r"^alpha must be a finite number >= 0, got NaN",
         lambda: decode(alpha=NAN)),
    case("decode alpha str", TypeError, r"^alpha must be a number", lambda: decode(alpha="x")),
    case("decode bos negative", ValueError, r"^bos must be >= 0, got -1", lambda: decode(bos=-1)),
    case("decode eos out of range", IndexError, r"^bos/eos: token id 7 is out of range",
         lambda: decode(eos=7)),
    case("decode src_valid_len count", ValueError, r"^src_valid_len: expected shape \[1\], got \[2\]",
         lambda: decode(src_valid_len=[3, 3])),
    case("decode empty batch", ValueError, r"batch size must be at least 1, got 0",
         lambda: decode(src=SRC[:0], src_valid_len=[])),
    case("predict vocab of another size", ValueError, r"^vocab has 4 tokens, the model 5",
         lambda: _with_vocab(seqrnn.LanguageModel(5, 4, seed=0), VOCAB).predict("ab")),
    case("predict without vocab", ValueError, r"^predict needs a vocabulary",
         lambda: seqrnn.LanguageModel(5, 4, seed=0).predict("ab")),
    # --- Translator
    case("translate beam_size 0", ValueError, r"^beam_size must be at least 1, got 0",
         lambda: TRANSLATOR.translate("a b", beam_size=0)),
    case("translate max_len negative", ValueError, r"^max_len must be at least 1, got -1",
         lambda: TRANSLATOR.translate("a b", max_len=-1)),
    case("translate alpha nan", ValueError, r"^alpha must be a finite number", lambda: TRANSLATOR.translate("a", alpha=NAN)),
    case("translate not text", TypeError, r"^sentences must be a str or a list of str, got int",
         lambda: TRANSLATOR.translate(5)),
    case("translate list of ints", TypeError, r"^sentences must be a list of str",
         lambda: TRANSLATOR.translate([1, 2])),
    case("translator num_steps 0", ValueError, r"^num_steps must be at least 1, got 0",
         lambda: seqrnn.Translator(S2S, VOCAB, VOCAB, 0)),
    case("translator no pairs", ValueError, r"^pairs must hold at least one",
         lambda: seqrnn.Translator.train([], epochs=1, progress=False)),
    case("translator malformed pairs", TypeError, r"^pairs must be a list of \(source, target\) str pairs",
         lambda: seqrnn.Translator.train([("a",)], epochs=1, progress=False)),
    case("translator pairs str", TypeError, r"^pairs must be a list of .* got a str",
         lambda: seqrnn.Translator.train("ab", epochs=1, progress=False)),
    case("translator epochs 0", ValueError, r"^epochs must be at least 1, got 0",
         lambda: seqrnn.Translator.train([("a", "b")], epochs=0, embed_size=2, hidden_size=2,
                                         num_layers=1, progress=False)),
    # --- vocabularies
    case("vocab tokens str", TypeError, r"^tokens must be a list of str, got a str",
         lambda: seqrnn.Vocab("abc")),
    case("vocab tokens ints", TypeError, r"^tokens must be a list of str, got a list of int",
         lambda: seqrnn.Vocab([1, 2])),
    case("vocab min_freq negative", ValueError, r"^min_freq must be an int >= 0, got -1",
         lambda: seqrnn.Vocab(list("ab"), min_freq=-1)),
    case("vocab to_tokens id", IndexError, r"^id: token id 99 is out of range", lambda: VOCAB.to_tokens(99)),
    case("vocab decode negative", IndexError, r"^ids: token id -1 is out of range", lambda: VOCAB.decode([-1])),
    case("vocab decode float", TypeError, r"^ids: expected integer", lambda: VOCAB.decode([1.5])),
    case("vocab json broken", ValueError, r"vocabulary JSON", lambda: seqrnn.Vocab.from_json("{")),
    case("vocab json repeated", ValueError, r'^idx_to_token must be unique tokens, got "a"',
         lambda: seqrnn.Vocab.from_json('{"idx_to_token": ["<unk>", "a", "a"], "token_freqs": []}')),
    case("vocab json no unk", ValueError, r'^idx_to_token must be a list holding "<unk>"',
         lambda: seqrnn.Vocab.from_json('{"idx_to_token": ["a"], "token_freqs": []}')),
    case("vocab json not str", TypeError, r"^json must be a str, got int", lambda: seqrnn.Vocab.from_json(5)),
    case("tokenize level", ValueError, r"^level must be 'char' or 'word', got 'sentence'",
         lambda: seqrnn.tokenize("abc", "sentence")),
    # --- data iterators
    case("iter batch_size 0", ValueError, r"^batch_size must be at least 1, got 0",
         lambda: list(data.seq_data_iter_random(CORPUS, 0, 3))),
    case("iter num_steps 0", ValueError, r"^num_steps must be at least 1, got 0",
         lambda: list(data.seq_data_iter_sequential(CORPUS, 2, 0))),
    case("iter empty corpus", ValueError, r"^corpus length must be at least .* got 0",
         lambda: list(data.seq_data_iter_sequential([], 2, 3))),
    case("iter corpus float", TypeError, r"^corpus: expected integer token ids",
         lambda: list(data.seq_data_iter_random(CORPUS * 1.0, 2, 3))),
    case("iter negative id", IndexError, r"^corpus: token id -1 is out of range",
         lambda: list(data.seq_data_iter_random(CORPUS - 1, 2, 3))),
    case("iter huge batch", ValueError, r"^corpus length .*batch_size 1125899906842624",
         lambda: list(data.seq_data_iter_random(CORPUS, BIG, 3))),
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


# fmt: off
FILE_CASES = [
    ("missing file", FileNotFoundError, r"nope\.safetensors",
     lambda tmp: seqrnn.LanguageModel.load(tmp / "nope.safetensors")),
    ("directory", IsADirectoryError, r"Is a directory", lambda tmp: seqrnn.LanguageModel.load(tmp)),
    ("save into a missing folder", FileNotFoundError, r"missing",
     lambda tmp: LM.save(tmp / "missing" / "m.safetensors")),
    ("empty file", ValueError, r"^invalid checkpoint",
     lambda tmp: seqrnn.LanguageModel.load(_write(tmp / "empty", b""))),
    ("Seq2Seq file as LanguageModel", ValueError, r"file holds a Seq2Seq, not a LanguageModel",
     lambda tmp: seqrnn.LanguageModel.load(saved(tmp, S2S, "s2s.safetensors"))),
    ("LanguageModel file as Translator", ValueError, r"file holds a LanguageModel, not a Seq2Seq",
     lambda tmp: seqrnn.Translator.load(saved(tmp, LM, "lm.safetensors"))),
    ("plain Seq2Seq file as Translator", ValueError, r"not a translator checkpoint \(no seqrnn.src_vocab\)",
     lambda tmp: seqrnn.Translator.load(saved(tmp, S2S, "s2s.safetensors"))),
    ("translator num_steps not a number", ValueError, r"^invalid checkpoint: .*num_steps must be an int in \[1, 65536\], got 'ten'",
     lambda tmp: seqrnn.Translator.load(saved(tmp, S2S, "t.safetensors", _translator_meta("ten")))),
    ("translator num_steps 0", ValueError, r"^invalid checkpoint: .*num_steps must be an int in \[1, 65536\], got '0'",
     lambda tmp: seqrnn.Translator.load(saved(tmp, S2S, "t.safetensors", _translator_meta("0")))),
    ("translator vocabularies of other sizes", ValueError, r"^invalid checkpoint: .*src_vocab: the model expects 6 tokens, got",
     lambda tmp: seqrnn.Translator.load(saved(tmp, S2S, "t.safetensors", _translator_meta("5", VOCAB)))),
    ("lm vocabulary of another size", ValueError, r"vocabulary has 4 tokens, the model 5",
     lambda tmp: seqrnn.LanguageModel.load(_lm_with_vocab(tmp, VOCAB))),
    ("save with a vocabulary of another size", ValueError, r"^vocab has 4 tokens, the model 5",
     lambda tmp: _with_vocab(seqrnn.LanguageModel(5, 4, seed=0), VOCAB).save(tmp / "m")),
    ("save path not a path", TypeError, r"expected str, bytes or os.PathLike", lambda tmp: LM.save(5)),
]
# fmt: on


def _write(path: Path, b: bytes) -> Path:
    path.write_bytes(b)
    return path


def _translator_meta(steps: str, vocab=None) -> dict[str, str]:
    src = vocab or seqrnn.Vocab(list("abcde"))  # 6 tokens with <unk>, as S2S's source side
    tgt = vocab or seqrnn.Vocab(list("abcdef"))  # 7
    return {"seqrnn.src_vocab": src.to_json(), "seqrnn.tgt_vocab": tgt.to_json(),
            "seqrnn.num_steps": steps}


def _lm_with_vocab(tmp: Path, vocab) -> Path:
    """A file whose vocabulary does not fit its model (save refuses to write one)."""
    path = tmp / "lm-vocab.safetensors"
    seqrnn.LanguageModel(5, 4, seed=0)._core.save(str(path), {"seqrnn.vocab": vocab.to_json()})
    return path


@pytest.mark.parametrize(("make", "exc", "match"),
                         [pytest.param(make, exc, match, id=name) for name, exc, match, make in FILE_CASES])
def test_file_errors(tmp_path, make, exc, match):
    with pytest.raises(BaseException) as info:
        make(tmp_path)
    err = info.value
    assert isinstance(err, exc), f"expected {exc.__name__}, got {type(err).__name__}: {err}"
    info.match(match)


def test_non_contiguous_and_read_only_arrays_work():
    ids = np.tile(np.arange(5), (3, 2))  # (3, 10)
    strided, fortran = ids[:, ::2], np.asfortranarray(ids)
    frozen = ids.copy()
    frozen.setflags(write=False)
    expected = LM.logits(np.ascontiguousarray(strided))[0]
    np.testing.assert_array_equal(LM.logits(strided)[0], expected)
    for x in (fortran, frozen, ids[::-1]):
        np.testing.assert_array_equal(LM.logits(x)[0], LM.logits(x.copy())[0])
        LM.loss_and_grads(x, x)
    corpus = np.repeat(CORPUS, 2)[::2]
    corpus.setflags(write=False)
    assert LM.perplexity(corpus, 2, 3) == LM.perplexity(CORPUS, 2, 3)
    assert LM.generate(corpus[:3], 2, seed=0) == LM.generate(CORPUS[:3], 2, seed=0)
    x = np.zeros((4, 3, 2), np.float32).transpose(0, 2, 1)  # (4, 2, 3), not contiguous
    x.setflags(write=False)
    rnn = seqrnn.RNN(3, 4, seed=0)
    np.testing.assert_array_equal(rnn.forward(x)[0], rnn.forward(x.copy())[0])
    src = np.asfortranarray(np.array([[3, 4, 2, 0], [1, 2, 3, 4]]))
    lens = np.array([4, 3])[::-1]
    assert S2S.decode(src, lens, 1, 2, 5) == S2S.decode(src.copy(), lens.copy(), 1, 2, 5)
    state = {k: np.asfortranarray(v) for k, v in LM.state_dict().items()}
    for a in state.values():
        a.setflags(write=False)
    seqrnn.LanguageModel(5, 4, seed=1).load_state_dict(state)
    assert next(iter(data.seq_data_iter_sequential(corpus, 2, 3, seed=0)))[0].shape == (2, 3)


def test_error_cases_leave_no_files(tmp_path):
    with pytest.raises(OSError):
        LM.save(tmp_path / "missing" / "m.safetensors")
    assert os.listdir(tmp_path) == []


WIDE = 2**70
WIDE_CASES = [
    ("hidden_size", lambda: seqrnn.LanguageModel(5, WIDE)),
    ("num_layers", lambda: seqrnn.LanguageModel(5, 4, num_layers=WIDE)),
    ("embed_size", lambda: seqrnn.LanguageModel(5, 4, embed_size=WIDE)),
    ("batch_size", lambda: LM.fit(CORPUS, epochs=1, batch_size=WIDE, num_steps=5, lr=0.1,
                                  progress=False)),
    ("num_steps", lambda: LM.perplexity(CORPUS, num_steps=WIDE)),
    ("num_tokens", lambda: LM.generate([1], WIDE)),
    ("top_k", lambda: LM.stream(seed=0).next(top_k=WIDE)),
    ("prefix: token id", lambda: LM.generate([WIDE], 3)),
    ("inputs: token id", lambda: LM.logits([[WIDE]])),
    ("src_vocab_size", lambda: seqrnn.Seq2Seq(WIDE, 7, 3, 4, 1)),
    ("max_len", lambda: S2S.decode(SRC, [3], 1, 2, WIDE)),
    ("beam_size", lambda: S2S.decode(SRC, [3], 1, 2, 5, beam_size=WIDE)),
    ("bos", lambda: S2S.decode_steps(SRC[0], WIDE, 2, 5)),
    ("src_valid_len", lambda: S2S.decode(SRC, [WIDE], 1, 2, 5)),
    ("min_freq", lambda: seqrnn.Vocab(list("abc"), min_freq=WIDE)),
    ("ids: token id", lambda: VOCAB.decode([WIDE])),
    ("input_size", lambda: seqrnn.RNN(WIDE, 3)),
    ("out_features", lambda: seqrnn.Linear(3, WIDE)),
    ("num_steps", lambda: data.make_translation_data([("a", "b")], WIDE)),
    ("batch_size", lambda: list(data.seq_data_iter_random(list(range(50)), WIDE, 5))),
    ("num_steps", lambda: seqrnn.Translator(S2S, VOCAB, VOCAB, WIDE)),
    ("n must", lambda: seqrnn.set_num_threads(WIDE)),
    ("max_len", lambda: TRANSLATOR.translate("a b", max_len=WIDE)),
    ("seed", lambda: seqrnn.LanguageModel(5, 4, seed=-WIDE)),
]


@pytest.mark.parametrize(("name", "call"), WIDE_CASES, ids=[f"{i}-{c[0]}" for i, c in enumerate(WIDE_CASES)])
def test_integers_beyond_64_bits_name_the_argument(name, call):
    with pytest.raises((ValueError, IndexError)) as info:
        call()
    assert name in str(info.value), str(info.value)
    assert type(info.value) in (ValueError, IndexError), type(info.value)


def test_a_ten_thousand_digit_integer_is_named_without_printing_it():
    with pytest.raises(ValueError, match=r"^hidden_size must be an integer in \[-2\*\*63, 2\*\*63\), "
                                         r"got an integer of 33220 bits$"):
        seqrnn.LanguageModel(5, 10**10000)
