"""Hypothesis mutates the header of real checkpoints of every kind (model files of both models,
a translator, training checkpoints of both trainers with their fit records and best
parameters) and every loader must either load the file or raise one of the documented
exceptions: ``ValueError`` itself (not a subclass such as ``JSONDecodeError``) or
``MemoryError``; never ``AttributeError``, ``KeyError``, ``TypeError``, ``RecursionError``,
``OverflowError``, a pyo3 ``PanicException`` or a dead process.

``SEQRNN_FUZZ_EXAMPLES`` sets the number of examples per kind (default 60); README's Testing
section records a long run."""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
import seqrnn
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

EXAMPLES = int(os.environ.get("SEQRNN_FUZZ_EXAMPLES", "60"))
FUZZ = settings(max_examples=EXAMPLES, deadline=None, database=None,
                suppress_health_check=list(HealthCheck))
CORPUS = np.arange(120) % 6
PAIRS = [("one", "un"), ("two", "deux"), ("three", "trois"), ("one two", "un deux")]


def _split(b: bytes) -> tuple[dict, bytes]:
    n = int.from_bytes(b[:8], "little")
    return json.loads(b[8:8 + n]), b[8 + n:]


def _join(header_text: bytes, data: bytes) -> bytes:
    header_text += b" " * (-len(header_text) % 8)
    return len(header_text).to_bytes(8, "little") + header_text + data


def _lm_fit(path: Path) -> Callable[[Path], object]:
    def make() -> seqrnn.LanguageModel:
        return seqrnn.LanguageModel(6, 5, embed_size=3, seed=0)

    args = {"epochs": 2, "batch_size": 2, "num_steps": 5, "lr": 0.1, "optimizer": "adam",
            "valid": CORPUS[:40], "keep_best": True, "progress": False, "seed": 1}
    make().fit(CORPUS, checkpoint=path, checkpoint_every_steps=7, **args)
    return lambda p: make().fit(CORPUS, resume=p, **{**args, "epochs": 3})


def _s2s_fit(path: Path) -> Callable[[Path], object]:
    data = seqrnn.data.make_translation_data(PAIRS, 5)

    def make() -> seqrnn.Seq2Seq:
        return seqrnn.Seq2Seq(len(data.src_vocab), len(data.tgt_vocab), 3, 4, 1, seed=0)

    args = {"epochs": 2, "batch_size": 2, "lr": 0.05, "progress": False, "seed": 1}
    make().fit(data, checkpoint=path, **args)
    return lambda p: make().fit(data, resume=p, **{**args, "epochs": 3})


def _made(kind: str, path: Path) -> Callable[[Path], object]:
    if kind == "lm":
        seqrnn.LanguageModel.from_text("the time machine by h g wells " * 4, hidden_size=4,
                                        epochs=1, batch_size=2, num_steps=5, seed=0,
                                        progress=False).save(path)
        return seqrnn.LanguageModel.load
    if kind == "seq2seq":
        seqrnn.Seq2Seq(5, 6, 3, 4, 2, seed=0).save(path)
        return seqrnn.Seq2Seq.load
    if kind == "translator":
        seqrnn.Translator.train(PAIRS, epochs=1, embed_size=3, hidden_size=4, num_layers=1,
                                batch_size=2, seed=0, progress=False).save(path)
        return seqrnn.Translator.load
    if kind == "lm-fit":
        return _lm_fit(path)
    return _s2s_fit(path)


KINDS = ["lm", "seq2seq", "translator", "lm-fit", "s2s-fit"]

# Values a hostile header might hold where a string, a number or a JSON document is expected.
NASTY = st.one_of(
    st.sampled_from(["", "null", "[]", "{}", "-1", "0", "1e308", "NaN", "Infinity", "2e19",
                     str(2**64 - 1), str(2**64), "9" * 40, "\"x\"", "[" * 5000, "{\"a\":" * 300,
                     "inf", "true", "\u0000", "<unk>", "float16"]),
    st.text(max_size=30),
    st.integers(min_value=-(2**70), max_value=2**70).map(str),
)


def _mutate_json(text: str, draw: st.DrawFn) -> str:
    """A JSON document with one value (at any depth) replaced, a key removed, or a key
    repeated; text that is not JSON is replaced."""
    try:
        doc = json.loads(text)
    except ValueError:
        return draw(NASTY)
    paths: list[tuple[object, object]] = []

    def walk(node: object) -> None:
        if isinstance(node, dict):
            for k in list(node):
                paths.append((node, k))
                walk(node[k])
        elif isinstance(node, list):
            for i in range(len(node)):
                paths.append((node, i))
                walk(node[i])

    walk(doc)
    if not paths:
        return draw(NASTY)
    parent, key = draw(st.sampled_from(paths))
    how = draw(st.sampled_from(["value", "json value", "delete", "repeat"]))
    if how == "delete":
        del parent[key]  # type: ignore[index, attr-defined]
    elif how == "repeat" and isinstance(parent, dict):
        text = json.dumps(doc)
        first = json.dumps(key)
        return text.replace(first + ":", f"{first}: {json.dumps(parent[key])}, {first}:", 1)
    elif how == "json value":
        parent[key] = draw(st.one_of(  # type: ignore[index]
            st.none(), st.booleans(), st.integers(-(2**70), 2**70),
            st.floats(allow_nan=False, allow_infinity=False), st.text(max_size=8),
            st.lists(st.integers(-5, 10**6), max_size=4)))
    else:
        return text.replace(json.dumps(parent[key]), draw(NASTY), 1)  # type: ignore[index]
    return json.dumps(doc)


@st.composite
def _mutation(draw: st.DrawFn, header: dict) -> bytes:
    header = json.loads(json.dumps(header))
    meta = header.setdefault("__metadata__", {})
    tensors = [k for k in header if k != "__metadata__"]
    target = draw(st.sampled_from(["metadata", "metadata", "metadata", "tensor", "key"]))
    if target == "metadata" and meta:
        key = draw(st.sampled_from(sorted(meta)))
        meta[key] = _mutate_json(meta[key], draw)
    elif target == "tensor" and tensors:
        name = draw(st.sampled_from(sorted(tensors)))
        field = draw(st.sampled_from(["shape", "dtype", "data_offsets", "name"]))
        if field == "name":
            header[draw(st.text(max_size=12))] = header.pop(name)
        elif field == "dtype":
            header[name]["dtype"] = draw(st.sampled_from(["F64", "F32", "F16", "I64", "U8", "x"]))
        else:
            values = header[name][field]
            if values:
                i = draw(st.integers(0, len(values) - 1))
                values[i] = draw(st.integers(0, 2**64 - 1))
            else:
                values.append(draw(st.integers(0, 9)))
    else:
        key = draw(st.sampled_from(["seqrnn.kind", "seqrnn.dtype", "seqrnn.config",
                                    "seqrnn.fit", "seqrnn.progress", "seqrnn.level",
                                    "seqrnn.num_steps", "seqrnn.vocab"]))
        if draw(st.booleans()):
            meta.pop(key, None)
        else:
            meta[key] = draw(NASTY)
    return json.dumps(header).encode()


@pytest.mark.parametrize("kind", KINDS)
def test_mutated_checkpoints_load_or_raise_documented_errors(kind: str, tmp_path: Path) -> None:
    path = tmp_path / f"{kind}.safetensors"
    load = _made(kind, path)
    load(path)  # the unmutated file loads
    header, data = _split(path.read_bytes())
    forged = tmp_path / "forged.safetensors"
    seen: dict[str, int] = {}

    @FUZZ
    @given(_mutation(header))
    def check(header_text: bytes) -> None:
        forged.write_bytes(_join(header_text, data))
        try:
            load(forged)
            seen["loaded"] = seen.get("loaded", 0) + 1
        except (ValueError, MemoryError) as e:
            assert type(e) in (ValueError, MemoryError, seqrnn.NonFiniteError), repr(e)
            seen[type(e).__name__] = seen.get(type(e).__name__, 0) + 1

    check()
    assert seen.get("ValueError", 0) > 0, seen  # the mutations do reach the checks
