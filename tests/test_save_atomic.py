"""Saving is atomic: a process killed at any moment leaves the old checkpoint or the new one, whole.

A child process saves three different models over one file in a loop and is sent SIGKILL at a
random moment, many times over; after every kill the file must load and equal one of the three.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import seqrnn

pytestmark = pytest.mark.skipif(not hasattr(signal, "SIGKILL"), reason="needs SIGKILL")

KILLS = 24
SEEDS = (0, 1, 2)
# vocab 40, hidden 96, 2 layers: about 70k float32 parameters, a 280 kB file per save.
SIZES = {"vocab_size": 40, "hidden_size": 96, "num_layers": 2}

SAVER = """
import sys
import seqrnn
path = sys.argv[1]
models = [seqrnn.LanguageModel(**{sizes!r}, seed=s) for s in {seeds!r}]
models[0].save(path)
print("ready", flush=True)
i = 1
while True:
    models[i % len(models)].save(path)
    i += 1
"""


def _state_dicts() -> list[dict[str, np.ndarray]]:
    return [seqrnn.LanguageModel(**SIZES, seed=s).state_dict() for s in SEEDS]


def _which(loaded: dict[str, np.ndarray], versions: list[dict[str, np.ndarray]]) -> int | None:
    for i, sd in enumerate(versions):
        if sd.keys() == loaded.keys() and all(np.array_equal(sd[k], loaded[k]) for k in sd):
            return i
    return None


def test_killed_saver_leaves_a_whole_checkpoint(tmp_path: Path) -> None:
    path = tmp_path / "model.safetensors"
    versions = _state_dicts()
    script = SAVER.format(sizes=SIZES, seeds=SEEDS)
    rng = random.Random(0)
    seen = set()
    for _ in range(KILLS):
        child = subprocess.Popen([sys.executable, "-c", script, str(path)],
                                 stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        try:
            assert child.stdout is not None
            line = child.stdout.readline()
            assert line == "ready\n", f"saver did not start: {line!r} {child.stderr.read()!r}"
            time.sleep(rng.uniform(0.0, 0.03))  # mid-save on most kills: a save takes ms
        finally:
            child.send_signal(signal.SIGKILL)
            child.wait()
        assert child.returncode == -signal.SIGKILL
        loaded = seqrnn.LanguageModel.load(path).state_dict()
        version = _which(loaded, versions)
        assert version is not None, "the checkpoint is none of the saved models"
        seen.add(version)
    assert len(seen) >= 2, f"the saver never got past its first save ({seen})"

    # Whatever temporary files the kills left beside it change nothing: the file still loads,
    # and a new save over it works and reads back.
    assert seqrnn.LanguageModel.load(path).state_dict().keys() == versions[0].keys()
    model = seqrnn.LanguageModel(**SIZES, seed=SEEDS[1])
    model.save(path)
    assert _which(seqrnn.LanguageModel.load(path).state_dict(), versions) == 1
    assert [p for p in os.listdir(tmp_path) if not p.startswith(".")] == [path.name]


def test_failed_save_keeps_the_old_file_and_leaves_no_temporary(tmp_path: Path) -> None:
    path = tmp_path / "model.safetensors"
    seqrnn.LanguageModel(5, 4, seed=0).save(path)
    before = path.read_bytes()
    (tmp_path / "sub").mkdir()
    with pytest.raises(OSError, match="sub"):  # a directory cannot be replaced by a file
        seqrnn.LanguageModel(5, 4, seed=1).save(tmp_path / "sub")
    with pytest.raises(OSError, match="missing"):
        seqrnn.LanguageModel(5, 4, seed=1).save(tmp_path / "missing" / "model.safetensors")
    assert path.read_bytes() == before
    assert sorted(os.listdir(tmp_path)) == ["model.safetensors", "sub"]
    assert os.listdir(tmp_path / "sub") == []


def test_save_replaces_and_round_trips(tmp_path: Path) -> None:
    path = tmp_path / "model.safetensors"
    for seed in (0, 1):
        seqrnn.LanguageModel(5, 4, seed=seed).save(path)
    expected = seqrnn.LanguageModel(5, 4, seed=1).state_dict()
    loaded = seqrnn.LanguageModel.load(path).state_dict()
    assert all(np.array_equal(expected[k], loaded[k]) for k in expected)
    assert os.listdir(tmp_path) == ["model.safetensors"]
