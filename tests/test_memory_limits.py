"""Sizes a caller or a file controls are checked before anything is allocated: under an
address-space limit, asking for too much is a ``MemoryError`` or a ``ValueError``, and the
process lives on (never killed by an allocation failure)."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import seqrnn

resource = pytest.importorskip("resource")  # POSIX only


def _run_limited(code: str, limit_gb: float = 3.0) -> subprocess.CompletedProcess[str]:
    prelude = textwrap.dedent(f"""
        import resource
        limit = int({limit_gb} * 2**30)
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    """)
    return subprocess.run([sys.executable, "-c", prelude + textwrap.dedent(code)],
                          check=False, capture_output=True, text=True, timeout=300)


def test_sequences_too_large_for_memory_are_memory_errors():
    r = _run_limited("""
        import seqrnn
        class Claims:  # a sequence that says it holds 10**11 items
            def __len__(self): return 10**11
            def __iter__(self): return iter([1] * 3)
        vocab = seqrnn.Vocab(list("abc"))
        for call in (lambda: vocab._core.encode(Claims()),
                     lambda: seqrnn._core.Vocab(Claims(), 0, []),
                     lambda: seqrnn._core.Vocab([], 0, Claims()),
                     lambda: vocab._core.decode(Claims()),
                     lambda: seqrnn._core.translation_data(Claims(), 5),
                     lambda: seqrnn._core.tokenize_nmt(Claims()),
                     lambda: seqrnn._core.encode_source(Claims(), vocab._core, 5, True),
                     # rows of 2**60 tokens
                     lambda: seqrnn._core.encode_source(["a b"], vocab._core, 2**60, True),
                     lambda: seqrnn.data.make_translation_data([("a", "b")], 2**60)):
            try:
                call()
                print("no error")
            except MemoryError as e:
                print("MemoryError", e)
    """)
    assert r.returncode == 0, (r.returncode, r.stderr[-2000:])
    lines = r.stdout.splitlines()
    assert len(lines) == 9 and all(line.startswith("MemoryError cannot allocate") for line in lines), r.stdout


def test_a_forged_translator_length_is_refused_at_load(tmp_path: Path):
    pairs = [("one", "un"), ("two", "deux")]
    tr = seqrnn.Translator.train(pairs, epochs=1, embed_size=4, hidden_size=8, num_layers=1,
                                 batch_size=2, seed=0, progress=False)
    path = tmp_path / "tr.safetensors"
    tr.save(path)
    b = path.read_bytes()
    n = int.from_bytes(b[:8], "little")
    header = json.loads(b[8:8 + n])
    for steps in ("100000000", "9" * 30, "9" * 5000, "65537", "-1", "1e3", "٣"):
        header["__metadata__"]["seqrnn.num_steps"] = steps
        text = json.dumps(header).encode()
        text += b" " * (-len(text) % 8)
        forged = tmp_path / "forged.safetensors"
        forged.write_bytes(len(text).to_bytes(8, "little") + text + b[8 + n:])
        with pytest.raises(ValueError, match=r"^invalid checkpoint: .*num_steps must be an int in "
                                             r"\[1, 65536\]"):
            seqrnn.Translator.load(forged)
    r = _run_limited(f"""
        import seqrnn
        tr = seqrnn.Translator.load({str(path)!r})
        try:
            tr.translate("one two", max_len=10**15)
            print("no error")
        except MemoryError as e:
            print("MemoryError", e)
    """)
    assert r.returncode == 0, (r.returncode, r.stderr[-2000:])
    assert r.stdout.startswith("MemoryError"), r.stdout


def test_inputs_whose_copy_does_not_fit_are_memory_errors():
    # Each input takes 1.6 GB of a 3 GB address space: the core's copy of it cannot be had.
    r = _run_limited("""
        import numpy as np
        import seqrnn
        ids = np.zeros(200_000_000, dtype=np.int64)
        lm = seqrnn.LanguageModel(5, 4, seed=0)
        for call in (lambda: lm.perplexity(ids),
                     lambda: seqrnn.Vocab(list("abc")).decode(ids)):
            try:
                call()
                print("no error")
            except MemoryError as e:
                print("MemoryError", e)
        del ids
        x = np.zeros((100_000_000, 4), dtype=np.float32)
        try:
            seqrnn.RNN(4, 4, seed=0).forward(x.reshape(-1, 1, 4))
            print("no error")
        except MemoryError as e:
            print("MemoryError", e)
    """)
    assert r.returncode == 0, (r.returncode, r.stderr[-2000:])
    lines = r.stdout.splitlines()
    assert len(lines) == 3 and all(line.startswith("MemoryError") for line in lines), r.stdout
