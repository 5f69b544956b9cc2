"""d2l's data files, downloaded once and checked: ``seqrnn.data.download("timemachine.txt")``.

Dive into Deep Learning keeps its data sets at ``DATA_URL`` with a SHA-1 for each
(``d2l.DATA_HUB``); :data:`DATA_HUB` holds the two seqrnn reads. :func:`download` fetches a file
into the cache folder (``$SEQRNN_DATA`` if set, else ``~/.cache/seqrnn``), into a temporary file
first: only a file whose SHA-1 matches is renamed into place, so the cache never holds a partial
or wrong file. A zip (``fra-eng.zip``) is unpacked next to it as d2l does (``fra-eng/fra.txt``).
"""

from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
import urllib.request
import zipfile
from pathlib import Path
from typing import BinaryIO

DATA_ENV = "SEQRNN_DATA"
DATA_URL = "http://d2l-data.s3-accelerate.amazonaws.com/"
# name -> (file name under DATA_URL, or a full URL; its SHA-1), as d2l 1.0's DATA_HUB
DATA_HUB: dict[str, tuple[str, str]] = {
    "time_machine": ("timemachine.txt", "090b5e7e70c295757f55df93cb0a180b9691891a"),
    "fra-eng": ("fra-eng.zip", "94646ad1522d915e7b0f9296181140edcf86a4f5"),
}
# other names of the same entries, and the file each one's download returns
ALIASES = {"timemachine.txt": "time_machine", "fra-eng.zip": "fra-eng", "fra-eng.txt": "fra-eng"}
RESULT = {"time_machine": "timemachine.txt", "fra-eng": "fra-eng/fra.txt"}
_CHUNK = 1 << 20


def cache_folder() -> Path:
    """Where :func:`download` keeps files: ``$SEQRNN_DATA`` if set, else ``~/.cache/seqrnn``.

    Example:
        >>> cache_folder().name in ("seqrnn", os.path.basename(os.environ.get(DATA_ENV, "")))
        True
    """
    env = os.environ.get(DATA_ENV)
    return Path(env) if env else Path.home() / ".cache" / "seqrnn"


def cached_file(name: str, folder: str | os.PathLike[str] | None = None) -> Path | None:
    """Where ``download(name)`` puts its result inside ``folder`` (default
    :func:`cache_folder`), or ``None`` if ``name`` is not in :data:`DATA_HUB`.

    Example:
        >>> cached_file("fra-eng.txt", "cache").as_posix()
        'cache/fra-eng/fra.txt'
    """
    key = ALIASES.get(name, name)
    if key not in DATA_HUB:
        return None
    return Path(cache_folder() if folder is None else folder) / RESULT.get(key, DATA_HUB[key][0])


def sha1(path: str | os.PathLike[str]) -> str:
    """The SHA-1 of a file, read 1 MiB at a time (d2l's check).

    Example:
        >>> _ = Path("a.txt").write_bytes(b"abc")
        >>> sha1("a.txt")
        'a9993e364706816aba3e25717850c26c9cd0d89d'
    """
    h = hashlib.sha1()  # d2l's checksum
    with open(path, "rb") as f:
        while chunk := f.read(_CHUNK):
            h.update(chunk)
    return h.hexdigest()


def fetch(url: str, out: BinaryIO) -> None:
    """Copy the bytes at ``url`` (``http(s)://`` or ``file://``) into ``out``.

    Example:
        >>> _ = Path("a.txt").write_bytes(b"abc")
        >>> import io; buffer = io.BytesIO()
        >>> fetch(Path("a.txt").resolve().as_uri(), buffer); buffer.getvalue()
        b'abc'
    """
    with urllib.request.urlopen(url, timeout=60) as response:
        shutil.copyfileobj(response, out, _CHUNK)


def download(name: str, cache_dir: str | os.PathLike[str] | None = None) -> Path:
    """The path of d2l's data file ``name``, downloaded into ``cache_dir`` (default
    :func:`cache_folder`) unless a copy with the right SHA-1 is already there.

    ``name`` is a :data:`DATA_HUB` key (d2l's ``"time_machine"``, ``"fra-eng"``) or a file name
    (``"timemachine.txt"``, ``"fra-eng.zip"``, ``"fra-eng.txt"``). A zip is unpacked next to
    itself and the path of the text seqrnn reads is returned: ``fra-eng/fra.txt``. The download
    goes to a temporary file in ``cache_dir`` and is renamed into place only once its SHA-1
    matches. ``OSError`` when the file cannot be fetched (offline, say) or its SHA-1 differs;
    ``KeyError`` for an unknown name.

    Example:
        >>> path = download("timemachine.txt")  # doctest: +SKIP
        >>> seqrnn.data.load_time_machine(path)[:16]  # doctest: +SKIP
        'the time machine'
    """
    key = ALIASES.get(name, name)
    if key not in DATA_HUB:
        known = sorted({*DATA_HUB, *ALIASES})
        raise KeyError(f"{name!r} is not a known data file; known: {', '.join(known)}")
    file_name, expected = DATA_HUB[key]
    url = file_name if "://" in file_name else DATA_URL + file_name
    folder = Path(cache_folder() if cache_dir is None else cache_dir)
    path = folder / url.rsplit("/", 1)[-1]
    if not (path.is_file() and sha1(path) == expected):
        folder.mkdir(parents=True, exist_ok=True)
        _download_to(url, path, expected)
    if path.suffix == ".zip":
        _unzip(path, folder)
    result = cached_file(key, folder)
    assert result is not None
    return result


def _download_to(url: str, path: Path, expected: str) -> None:
    """Fetch ``url`` into a temporary file next to ``path``; rename it there if its SHA-1 is
    ``expected``, else delete it and raise ``OSError``."""
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".part", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as out:
            try:
                fetch(url, out)
            except (OSError, ValueError) as e:  # URLError, timeouts, refused connections
                raise OSError(f"could not download {url} ({e}); are you offline? Put the file "
                              f"in {path.parent} yourself, or set {DATA_ENV} to a folder "
                              "that holds it") from e
        got = sha1(tmp)
        if got != expected:
            raise OSError(f"{url}: SHA-1 {got} is not the expected {expected}; the download "
                          "was discarded")
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)


def _unzip(path: Path, folder: Path) -> None:
    """Unpack ``path`` into ``folder`` as d2l's ``download_extract``, each member through a
    temporary file and a rename; members already there with the same size are kept."""
    root = folder.resolve()
    with zipfile.ZipFile(path) as z:
        for info in z.infolist():
            target = (folder / info.filename).resolve()
            if not target.is_relative_to(root):
                raise OSError(f"{path}: member {info.filename!r} would land outside {folder}")
            if info.is_dir():
                target.mkdir(parents=True, exist_ok=True)
                continue
            if target.is_file() and target.stat().st_size == info.file_size:
                continue
            target.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".part",
                                       dir=target.parent)
            try:
                with os.fdopen(fd, "wb") as out, z.open(info) as src:
                    shutil.copyfileobj(src, out, _CHUNK)
                os.replace(tmp, target)
            finally:
                if os.path.exists(tmp):
                    os.remove(tmp)
