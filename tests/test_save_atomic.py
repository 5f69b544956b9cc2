"""Saving is atomic: a process killed at any moment leaves the old checkpoint or the new one, whole.
And a save writes what the path means: a symbolic link is followed and kept, a directory, FIFO or
device is refused before anything is written, a file's permissions are kept, and temporary files
left by killed savers are removed once their process is gone.

A child process saves three different models over one file in a loop and is sent SIGKILL at a
random moment, many times over; after every kill the file must load and equal one of the three.
"""

from __future__ import annotations

import os
import random
import signal
import stat
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import seqrnn
from seqrnn import _core

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


# ----- what a save writes: links, special files, permissions, leftovers --------------------------

posix = pytest.mark.skipif(os.name != "posix", reason="needs POSIX links, FIFOs and modes")


def _weights(path: Path) -> np.ndarray:
    return seqrnn.LanguageModel.load(path).state_dict()["output.bias"]


@posix
def test_a_link_is_followed_and_stays_a_link(tmp_path: Path) -> None:
    real = tmp_path / "real"
    real.mkdir()
    target = real / "model.safetensors"
    seqrnn.LanguageModel(5, 4, seed=0).save(target)
    absolute = tmp_path / "abs.safetensors"
    absolute.symlink_to(target)
    (tmp_path / "links").mkdir()
    relative = tmp_path / "links" / "rel.safetensors"  # a chain: rel -> abs -> real/model
    relative.symlink_to(Path("..") / "abs.safetensors")
    for seed, link in ((1, absolute), (2, relative)):
        model = seqrnn.LanguageModel(5, 4, seed=seed)
        model.save(link)
        assert absolute.is_symlink() and relative.is_symlink()
        assert np.array_equal(_weights(target), model.state_dict()["output.bias"])
    assert sorted(os.listdir(tmp_path)) == ["abs.safetensors", "links", "real"]
    assert os.listdir(real) == ["model.safetensors"]  # the temporary file was made here


@posix
def test_a_dangling_link_creates_the_file_it_points_to(tmp_path: Path) -> None:
    (tmp_path / "out").mkdir()
    link = tmp_path / "model.safetensors"
    link.symlink_to(Path("out") / "new.safetensors")
    seqrnn.LanguageModel(5, 4, seed=0).save(link)
    assert link.is_symlink()
    assert (tmp_path / "out" / "new.safetensors").is_file()
    seqrnn.Vocab(list("abc")).save(tmp_path / "vocab.json")
    (tmp_path / "v.json").symlink_to(tmp_path / "vocab.json")
    seqrnn.Vocab(list("abcd")).save(tmp_path / "v.json")  # vocabularies are saved alike
    assert (tmp_path / "v.json").is_symlink()
    assert len(seqrnn.Vocab.load(tmp_path / "vocab.json")) == 5


def test_a_directory_is_refused_with_a_clear_error(tmp_path: Path) -> None:
    (tmp_path / "sub").mkdir()
    with pytest.raises(OSError, match=r"sub: expected a regular file .*, got a directory"):
        seqrnn.LanguageModel(5, 4, seed=0).save(tmp_path / "sub")
    with pytest.raises(OSError, match="got a directory"):
        seqrnn.Vocab(list("abc")).save(tmp_path / "sub")
    assert os.listdir(tmp_path) == ["sub"] and os.listdir(tmp_path / "sub") == []


FIFO_SAVER = """
import sys
import seqrnn
try:
    seqrnn.LanguageModel(5, 4, seed=0).save(sys.argv[1])
except OSError as e:
    print(e)
"""


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs os.mkfifo")
def test_a_fifo_is_refused_without_being_opened(tmp_path: Path) -> None:
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    # In a child with a timeout: a save that opened the FIFO would block until a reader came.
    done = subprocess.run([sys.executable, "-c", FIFO_SAVER, str(fifo)], capture_output=True,
                          text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr
    assert "pipe: expected a regular file" in done.stdout and "FIFO" in done.stdout, done.stdout
    assert stat.S_ISFIFO(os.lstat(fifo).st_mode)
    assert os.listdir(tmp_path) == ["pipe"]


@posix
def test_a_character_device_is_refused(tmp_path: Path) -> None:
    if os.geteuid() != 0:
        device = Path("/dev/null")
    else:
        # As root a save that replaced devices would replace /dev/null: use a node of our own.
        device = tmp_path / "null"
        try:
            os.mknod(device, 0o666 | stat.S_IFCHR, os.makedev(1, 3))
        except OSError as e:
            pytest.skip(f"cannot make a device node: {e}")
    with pytest.raises(OSError, match=f"{device}: expected a regular file .*character device"):
        seqrnn.LanguageModel(5, 4, seed=0).save(device)
    with pytest.raises(OSError, match="character device"):
        _core.write_atomic(device, b"x")
    assert stat.S_ISCHR(os.stat(device).st_mode)


@posix
def test_permission_bits_are_kept(tmp_path: Path) -> None:
    path = tmp_path / "model.safetensors"
    seqrnn.LanguageModel(5, 4, seed=0).save(path)
    reference = tmp_path / "reference"
    reference.touch()  # a new file gets what open() gives: 0666 less the umask
    assert stat.S_IMODE(path.stat().st_mode) == stat.S_IMODE(reference.stat().st_mode)
    for mode in (0o600, 0o640):
        path.chmod(mode)
        seqrnn.LanguageModel(5, 4, seed=1).save(path)
        assert stat.S_IMODE(path.stat().st_mode) == mode
    vocab = tmp_path / "vocab.json"
    seqrnn.Vocab(list("ab")).save(vocab)
    vocab.chmod(0o600)
    seqrnn.Vocab(list("abc")).save(vocab)
    assert stat.S_IMODE(vocab.stat().st_mode) == 0o600


@pytest.mark.skipif(not Path("/proc/self").exists(), reason="dead savers are told by /proc")
def test_leftovers_of_dead_savers_go_those_of_live_ones_stay(tmp_path: Path) -> None:
    path = tmp_path / "model.safetensors"
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    live = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)"])
    try:
        leftovers = {who: tmp_path / f".model.safetensors.{pid}.3.9f2c1.tmp"
                     for who, pid in (("dead", dead.pid), ("live", live.pid),
                                      ("self", os.getpid()))}
        for p in leftovers.values():
            p.write_bytes(b"half a checkpoint")
        seqrnn.LanguageModel(5, 4, seed=0).save(path)
    finally:
        live.kill()
        live.wait()
    assert not leftovers["dead"].exists()
    assert leftovers["live"].exists() and leftovers["self"].exists()
    assert seqrnn.LanguageModel.load(path).vocab_size == 5
