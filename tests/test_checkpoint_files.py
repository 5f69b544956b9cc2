"""Hostile checkpoint files: truncated, corrupted, forged or foreign. Loading validates the whole
file before building anything, raises ValueError (TypeError for element types) naming what is
wrong, and never executes code."""

from __future__ import annotations

import json
import pickle
from pathlib import Path

import numpy as np
import pytest
import seqrnn


def _split(b: bytes) -> tuple[dict, bytes]:
    n = int.from_bytes(b[:8], "little")
    return json.loads(b[8 : 8 + n]), b[8 + n :]


def _join(header: dict, data: bytes) -> bytes:
    text = json.dumps(header, separators=(",", ":")).encode()
    text += b" " * (-len(text) % 8)  # safetensors pads its header to 8 bytes
    return len(text).to_bytes(8, "little") + text + data


def _forge(path: Path, change) -> Path:
    """The checkpoint at ``path`` with ``change(header)`` applied, written beside it."""
    header, data = _split(path.read_bytes())
    change(header)
    out = path.with_name("forged-" + path.name)
    out.write_bytes(_join(header, data))
    return out


def _config(**changes):
    def change(header):
        config = json.loads(header["__metadata__"]["seqrnn.config"])
        config.update(changes)
        header["__metadata__"]["seqrnn.config"] = json.dumps(config)

    return change


@pytest.fixture
def lm_file(tmp_path: Path) -> Path:
    path = tmp_path / "lm.safetensors"
    seqrnn.LanguageModel(6, 4, seed=0).save(path)
    return path


def test_forging_helpers_round_trip(lm_file: Path) -> None:
    same = _forge(lm_file, lambda header: None)
    loaded = seqrnn.LanguageModel.load(same).state_dict()
    expected = seqrnn.LanguageModel.load(lm_file).state_dict()
    assert all(np.array_equal(expected[k], loaded[k]) for k in expected)


def test_truncated_files_are_errors(lm_file: Path) -> None:
    b = lm_file.read_bytes()
    for n in sorted({0, 1, 7, 8, 9, 50, len(b) // 2, len(b) - 4, len(b) - 1}):
        cut = lm_file.with_name(f"cut{n}")
        cut.write_bytes(b[:n])
        with pytest.raises(ValueError, match="^invalid checkpoint: "):
            seqrnn.LanguageModel.load(cut)


def test_header_size_beyond_the_file_is_an_error(lm_file: Path) -> None:
    b = lm_file.read_bytes()
    for claimed in (len(b), 10**8 - 1, 2**40, 2**64 - 1):
        bad = lm_file.with_name("big-header")
        bad.write_bytes(claimed.to_bytes(8, "little") + b[8:])
        with pytest.raises(ValueError, match="^invalid checkpoint: "):
            seqrnn.LanguageModel.load(bad)


@pytest.mark.parametrize(
    ("changes", "match"),
    [
        ({"hidden_size": 10**9}, r"configuration needs \d+ parameters, the file holds 78"),
        ({"vocab_size": 10**12, "hidden_size": 10**12}, r"configuration needs|overflow"),
        ({"num_layers": 2**40}, r"configuration needs \d+ parameters"),
        ({"hidden_size": 2**63}, r"overflow"),
        ({"hidden_size": -4}, r"bad configuration"),
        ({"hidden_size": "4"}, r"bad configuration"),
        ({"nonlinearity": "gelu"}, r"bad configuration"),
        ({"dropout": 3.0}, r"dropout must be a probability"),
        ({"embed_size": 2}, r"configuration needs \d+ parameters"),
    ],
    ids=lambda x: str(x)[:40],
)
def test_forged_configurations_are_refused_before_building(lm_file, changes, match) -> None:
    # The file holds vocab 6, hidden 4: 4*6 + 4*4 + 2*4 + 6*4 + 6 = 78 scalars.
    with pytest.raises(ValueError, match=match):
        seqrnn.LanguageModel.load(_forge(lm_file, _config(**changes)))


def test_forged_tensors_are_refused(lm_file: Path) -> None:
    def rename(header):
        header["rnn.weight_hh_l1"] = header.pop("rnn.weight_hh_l0")

    with pytest.raises(ValueError, match=r'unexpected parameter "rnn.weight_hh_l1"'):
        seqrnn.LanguageModel.load(_forge(lm_file, rename))

    def transpose(header):
        header["output.weight"]["shape"] = header["output.weight"]["shape"][::-1]

    with pytest.raises(ValueError, match=r"^output.weight: expected shape \[6, 4\], got \[4, 6\]"):
        seqrnn.LanguageModel.load(_forge(lm_file, transpose))

    def offsets(header):
        header["output.bias"]["data_offsets"][1] += 4

    with pytest.raises(ValueError, match="^invalid checkpoint: "):
        seqrnn.LanguageModel.load(_forge(lm_file, offsets))

    def as_f64(header):
        header["__metadata__"]["seqrnn.dtype"] = "float64"

    with pytest.raises(ValueError, match=r"^invalid checkpoint: tensor .* is F32 in a float64 file"):
        seqrnn.LanguageModel.load(_forge(lm_file, as_f64))

    def as_f16(header):
        header["__metadata__"]["seqrnn.dtype"] = "float16"

    with pytest.raises(ValueError, match=r'unknown dtype "float16"'):
        seqrnn.LanguageModel.load(_forge(lm_file, as_f16))

    def no_kind(header):
        del header["__metadata__"]["seqrnn.kind"]

    with pytest.raises(ValueError, match="not a seqrnn checkpoint"):
        seqrnn.LanguageModel.load(_forge(lm_file, no_kind))


def test_flipped_bytes_load_or_fail_cleanly(lm_file: Path) -> None:
    b = bytearray(lm_file.read_bytes())
    rng = np.random.default_rng(0)
    bad = lm_file.with_name("flipped")
    for i in rng.integers(0, len(b), 60):
        c = bytearray(b)
        c[i] ^= 1 << int(rng.integers(0, 8))
        bad.write_bytes(bytes(c))
        try:
            seqrnn.LanguageModel.load(bad)
        except (ValueError, TypeError):
            pass


class _Payload:
    def __reduce__(self):
        return (Path.touch, (Path(MARKER),))


MARKER = ""


def test_a_pickle_is_rejected_and_never_executed(tmp_path: Path) -> None:
    global MARKER
    MARKER = str(tmp_path / "executed")
    path = tmp_path / "model.safetensors"
    path.write_bytes(pickle.dumps({"state_dict": _Payload()}))
    for load in (seqrnn.LanguageModel.load, seqrnn.Seq2Seq.load, seqrnn.Translator.load):
        with pytest.raises(ValueError, match="^invalid checkpoint: "):
            load(path)
    assert not Path(MARKER).exists()
    pickle.loads(path.read_bytes())  # the payload is live: unpickling would have run it
    assert Path(MARKER).exists()


@pytest.mark.parametrize("load", [seqrnn.LanguageModel.load, seqrnn.Seq2Seq.load,
                                  seqrnn.Translator.load, seqrnn.RNN.load, seqrnn.Linear.load,
                                  seqrnn.Vocab.load])
def test_only_regular_files_are_read(load, tmp_path: Path) -> None:
    # /dev/zero never ends and a FIFO blocks until a writer opens it: both refused unopened.
    import os

    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    for path in ("/dev/zero", fifo, tmp_path):
        with pytest.raises(OSError, match="not a regular file|Is a directory"):
            load(path)


def test_rnn_and_linear_save_and_load(tmp_path: Path) -> None:
    rnn = seqrnn.RNN(3, 4, num_layers=2, batch_first=True, dtype="float64", seed=0)
    rnn.save(tmp_path / "rnn.safetensors")
    back = seqrnn.RNN.load(tmp_path / "rnn.safetensors")
    assert (back.batch_first, back.dtype, back.num_layers) == (True, "float64", 2)
    x = np.random.default_rng(0).standard_normal((2, 5, 3))
    assert np.array_equal(back.forward(x)[0], rnn.forward(x)[0])
    lin = seqrnn.Linear(3, 2, seed=0)
    lin.save(tmp_path / "lin.safetensors")
    assert np.array_equal(seqrnn.Linear.load(tmp_path / "lin.safetensors").state_dict()["weight"],
                          lin.state_dict()["weight"])
    with pytest.raises(ValueError, match="file holds a RNN, not a Linear|file holds a Rnn"):
        seqrnn.Linear.load(tmp_path / "rnn.safetensors")

    def flag(header):
        header["__metadata__"]["seqrnn.batch_first"] = "yes"

    with pytest.raises(ValueError, match="^invalid checkpoint: .*batch_first must be"):
        seqrnn.RNN.load(_forge(tmp_path / "rnn.safetensors", flag))


def test_every_model_saves_and_loads_the_callers_metadata(tmp_path):
    pairs = [("hi", "salut"), ("go", "va")]
    models = [seqrnn.RNN(input_size=3, hidden_size=4, seed=0),
              seqrnn.Linear(in_features=3, out_features=2, seed=0),
              seqrnn.LanguageModel(vocab_size=5, hidden_size=4, seed=0),
              seqrnn.Seq2Seq(6, 7, 4, 8, num_layers=1, seed=0),
              seqrnn.Translator.train(pairs, epochs=1, embed_size=4, hidden_size=8,
                                      num_layers=1, seed=0, progress=False)]
    for model in models:
        path = tmp_path / f"{type(model).__name__}.safetensors"
        assert model.metadata == {}
        model.save(path, {"note": "untrained", "data": "none"})
        loaded = type(model).load(path)
        assert loaded.metadata == {"note": "untrained", "data": "none"}, type(model)
        model.save(path)  # metadata is optional everywhere
        assert type(model).load(path).metadata == {}
        with pytest.raises(ValueError, match="keys starting with 'seqrnn.' are the library's"):
            model.save(path, {"seqrnn.kind": "Linear"})
        with pytest.raises(TypeError, match="metadata must be a dict of str to str"):
            model.save(path, {"note": 1})
