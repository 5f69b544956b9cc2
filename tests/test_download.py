"""seqrnn.data.download: d2l's files fetched once, checked by SHA-1, cached; local URLs only."""

from __future__ import annotations

import hashlib
import socket
import zipfile
from pathlib import Path

import pytest
from seqrnn import data, hub

SHARED = Path(__file__).resolve().parent.parent.parent / "shared" / "data"


def served(monkeypatch: pytest.MonkeyPatch, folder: Path) -> None:
    """d2l's data URL pointed at a local folder (``file://``)."""
    monkeypatch.setattr(hub, "DATA_URL", folder.resolve().as_uri() + "/")


def no_fetch(url: str, out: object) -> None:
    raise AssertionError(f"fetched {url}; the cache should have answered")


@pytest.mark.skipif(not (SHARED / "timemachine.txt").is_file(), reason="no shared data folder")
def test_time_machine_downloads_then_comes_from_the_cache(tmp_path, monkeypatch):
    served(monkeypatch, SHARED)
    path = data.download("timemachine.txt", tmp_path / "cache")
    assert path == tmp_path / "cache" / "timemachine.txt"
    assert path.read_bytes() == (SHARED / "timemachine.txt").read_bytes()
    assert [p.name for p in path.parent.iterdir()] == ["timemachine.txt"]  # no temporary file
    assert data.load_time_machine(path).startswith("the time machine by h g wells ")

    monkeypatch.setattr(hub, "fetch", no_fetch)
    assert data.download("time_machine", tmp_path / "cache") == path  # d2l's name works too

    monkeypatch.setenv(data.DATA_ENV, str(tmp_path / "cache"))  # the default cache folder
    assert data.download("timemachine.txt") == path


def test_a_damaged_cached_copy_is_fetched_again(tmp_path, monkeypatch):
    (tmp_path / "site").mkdir()
    (tmp_path / "site" / "t.txt").write_bytes(b"good")
    monkeypatch.setitem(hub.DATA_HUB, "t", ("t.txt", hashlib.sha1(b"good").hexdigest()))
    served(monkeypatch, tmp_path / "site")
    (tmp_path / "cache").mkdir()
    (tmp_path / "cache" / "t.txt").write_bytes(b"bad")
    assert data.download("t", tmp_path / "cache").read_bytes() == b"good"


def test_a_wrong_sha1_is_refused_and_nothing_is_kept(tmp_path, monkeypatch):
    (tmp_path / "site").mkdir()
    (tmp_path / "site" / "t.txt").write_bytes(b"tampered")
    monkeypatch.setitem(hub.DATA_HUB, "t", ("t.txt", hashlib.sha1(b"good").hexdigest()))
    served(monkeypatch, tmp_path / "site")
    with pytest.raises(OSError, match=r"SHA-1 [0-9a-f]{40} is not the expected .*discarded"):
        data.download("t", tmp_path / "cache")
    assert list((tmp_path / "cache").iterdir()) == []


def test_offline_is_a_clear_oserror(tmp_path, monkeypatch):
    with socket.socket() as s:  # a local port that nothing listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    monkeypatch.setattr(hub, "DATA_URL", f"http://127.0.0.1:{port}/")
    with pytest.raises(OSError, match=r"could not download http://127\.0\.0\.1:\d+/timemachine"
                       r"\.txt .*offline"):
        data.download("timemachine.txt", tmp_path)
    assert list(tmp_path.iterdir()) == []


def test_zip_is_unpacked_like_d2l(tmp_path, monkeypatch):
    site = tmp_path / "site"
    site.mkdir()
    with zipfile.ZipFile(site / "fra-eng.zip", "w") as z:
        z.writestr("fra-eng/_about.txt", "about")
        z.writestr("fra-eng/fra.txt", "Go.\tVa !\nHi.\tSalut.\n")
    digest = hashlib.sha1((site / "fra-eng.zip").read_bytes()).hexdigest()
    monkeypatch.setitem(hub.DATA_HUB, "fra-eng", ("fra-eng.zip", digest))
    served(monkeypatch, site)
    path = data.download("fra-eng.txt", tmp_path / "cache")
    assert path == tmp_path / "cache" / "fra-eng" / "fra.txt"
    assert data.load_translation_pairs(path, num_steps=4, min_freq=0).pairs[0] == ("go .", "va !")
    monkeypatch.setattr(hub, "fetch", no_fetch)
    assert data.download("fra-eng", tmp_path / "cache") == path

    monkeypatch.setenv(data.DATA_ENV, str(tmp_path / "cache"))  # find_data_file looks there
    monkeypatch.setattr(data, "_fallback_folders", list)
    assert data.find_data_file("fra-eng.txt") == path


def test_zip_members_outside_the_folder_are_refused(tmp_path, monkeypatch):
    site = tmp_path / "site"
    site.mkdir()
    with zipfile.ZipFile(site / "evil.zip", "w") as z:
        z.writestr("../escaped.txt", "x")
    digest = hashlib.sha1((site / "evil.zip").read_bytes()).hexdigest()
    monkeypatch.setitem(hub.DATA_HUB, "evil", ("evil.zip", digest))
    served(monkeypatch, site)
    with pytest.raises(OSError, match="outside"):
        data.download("evil", tmp_path / "cache")
    assert not (tmp_path / "escaped.txt").exists()


def test_unknown_name(tmp_path):
    with pytest.raises(KeyError, match="known: fra-eng, fra-eng.txt"):
        data.download("ptb", tmp_path)


def test_not_found_message_says_how_to_download(tmp_path, monkeypatch):
    monkeypatch.setenv(data.DATA_ENV, str(tmp_path))
    monkeypatch.setattr(data, "_fallback_folders", list)
    with pytest.raises(FileNotFoundError, match=r"seqrnn\.data\.download\('timemachine\.txt'\)"):
        data.find_data_file("timemachine.txt")
