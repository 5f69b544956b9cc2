"""Argument checks shared by the Python classes: numpy in, clear exceptions out."""

from __future__ import annotations

import functools
import inspect
import math
import os
import secrets
import stat
from collections.abc import Callable
from typing import Any, TypeVar, cast

import numpy as np
import numpy.typing as npt

DTYPES = ("float32", "float64")
_INT64_MAX = np.iinfo(np.int64).max
F = TypeVar("F", bound=Callable[..., Any])
C = TypeVar("C", bound=type)


def _wide(value: Any, top: int = 2**63) -> bool:
    return type(value) is int and not -(2**63) <= value < top


# Arguments that may use the whole unsigned 64-bit range (seeds); every other int is an int64.
_UNSIGNED = frozenset({"seed"})


def _shown(value: int) -> str:
    return str(value) if value.bit_length() < 128 else f"an integer of {value.bit_length()} bits"


def _widest(a: npt.NDArray[Any]) -> int | None:
    """The first int of an object array that does not fit in 64 bits, if any."""
    if a.dtype != object:
        return None
    return next((x for x in a.flat if _wide(x)), None)


def int_args(f: F) -> F:
    """``f`` with every int argument checked to fit in 64 bits first: a ``ValueError`` naming
    the argument instead of an anonymous ``OverflowError`` from the conversion to Rust."""
    signature = inspect.signature(f)

    @functools.wraps(f)
    def checked(*args: Any, **kwargs: Any) -> Any:
        if any(map(_wide, args)) or any(map(_wide, kwargs.values())):
            try:
                bound = signature.bind(*args, **kwargs).arguments
            except TypeError:
                return f(*args, **kwargs)  # Python's own message for a wrong call
            for name, value in bound.items():
                values = value.items() if isinstance(value, dict) else [(name, value)]
                for key, x in values:
                    top = 2**64 if key in _UNSIGNED else 2**63
                    if _wide(x, top):
                        raise ValueError(f"{key} must be an integer in [-2**63, 2**{top.bit_length() - 1}), "
                                         f"got {_shown(x)}")
        return f(*args, **kwargs)

    return cast(F, checked)


def int_args_everywhere(cls: C) -> C:
    """:func:`int_args` on every public method of ``cls`` (and ``__init__``)."""
    for name, attr in list(vars(cls).items()):
        if name.startswith("_") and name not in ("__init__", "__getitem__"):
            continue
        if isinstance(attr, (classmethod, staticmethod)):
            setattr(cls, name, type(attr)(int_args(attr.__func__)))
        elif inspect.isfunction(attr):
            setattr(cls, name, int_args(attr))
    return cls


def dtype_name(dtype: Any) -> str:
    """Normalize ``"float32"``, ``np.float32`` or ``np.dtype("f4")`` to ``"float32"``/``"float64"``."""
    try:
        name = str(np.dtype(dtype).name)
    except TypeError as e:
        raise ValueError(f"dtype must be 'float32' or 'float64', got {dtype!r}") from e
    if name not in DTYPES:
        raise ValueError(f"dtype must be 'float32' or 'float64', got {dtype!r}")
    return name


def seed_or_random(seed: int | None) -> int:
    """A seed for the core: the given one, or a fresh random one when ``None``."""
    if seed is None:
        return secrets.randbits(63)
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)):
        raise TypeError(f"seed must be an int or None, got {type(seed).__name__}")
    if not 0 <= int(seed) < 2**64:
        raise ValueError(f"seed must be in [0, 2**64), got {seed}")
    return int(seed)


def ids(x: Any, what: str) -> npt.NDArray[np.int64]:
    """Token ids as a C-contiguous int64 array; ``TypeError`` for anything but integers."""
    a = np.asarray(x)
    if a.size == 0 and a.dtype.kind == "f":  # [] is float64 to numpy; an empty list holds no floats
        return np.zeros(a.shape, dtype=np.int64)
    wide = _widest(a)  # numpy keeps Python ints beyond 64 bits as objects
    if wide is not None:
        raise IndexError(f"{what}: token id {_shown(wide)} is out of range")
    if a.dtype == np.bool_ or a.dtype.kind not in "iu":
        raise TypeError(f"{what}: expected integer token ids, got dtype {a.dtype}")
    if a.dtype.kind == "u" and a.size and int(a.max()) > _INT64_MAX:
        raise IndexError(f"{what}: token id {int(a.max())} is out of range")
    return np.ascontiguousarray(a, dtype=np.int64)


def lengths(x: Any, what: str) -> npt.NDArray[np.int64]:
    """Valid lengths as a C-contiguous int64 array; the core checks their range (``ValueError``)."""
    a = np.asarray(x)
    if a.size == 0 and a.dtype.kind == "f":
        return np.zeros(a.shape, dtype=np.int64)
    wide = _widest(a)
    if wide is not None:
        raise ValueError(f"{what}: expected lengths of at most 2**63 - 1, got {_shown(wide)}")
    if a.dtype == np.bool_ or a.dtype.kind not in "iu":
        raise TypeError(f"{what}: expected integer lengths, got dtype {a.dtype}")
    if a.dtype.kind == "u" and a.size and int(a.max()) > _INT64_MAX:
        raise ValueError(f"{what}: expected lengths of at most 2**63 - 1, got {int(a.max())}")
    return np.ascontiguousarray(a, dtype=np.int64)


def floats(x: Any, what: str, dtype: str) -> npt.NDArray[Any]:
    """Real values as a C-contiguous array of the model's dtype; ``TypeError`` for non-floats."""
    a = np.asarray(x)
    if a.dtype.kind != "f":
        raise TypeError(f"{what}: expected a floating-point array, got dtype {a.dtype}")
    return np.ascontiguousarray(a, dtype=dtype)


def mask(x: Any, what: str, dtype: str) -> npt.NDArray[Any]:
    """A 0/1 mask: booleans, integers or floats, returned in the model's dtype."""
    a = np.asarray(x)
    if a.dtype.kind not in "biuf":
        raise TypeError(f"{what}: expected booleans or 0/1 numbers, got dtype {a.dtype}")
    return np.ascontiguousarray(a, dtype=dtype)


def ndim(a: npt.NDArray[Any], what: str, expected: tuple[int, ...], meaning: str) -> None:
    """``ValueError`` unless ``a.ndim`` is one of ``expected``."""
    if a.ndim not in expected:
        want = " or ".join(str(n) for n in expected)
        raise ValueError(f"{what}: expected {want} dimensions {meaning}, got shape {a.shape}")


def positive_int(value: Any, what: str) -> int:
    """An int >= 1 (``TypeError`` for non-ints, ``ValueError`` for < 1)."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise TypeError(f"{what} must be an int, got {type(value).__name__}")
    if value < 1:
        raise ValueError(f"{what} must be at least 1, got {value}")
    return int(value)


def non_negative_int(value: Any, what: str) -> int:
    """An int >= 0 (``TypeError`` for non-ints, ``ValueError`` for negatives)."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise TypeError(f"{what} must be an int, got {type(value).__name__}")
    if value < 0:
        raise ValueError(f"{what} must be >= 0, got {value}")
    return int(value)


def optional_positive_int(value: Any, what: str) -> int | None:
    """``None`` or an int >= 1."""
    return None if value is None else positive_int(value, what)


def number(value: Any, what: str) -> float:
    """A real number as a float (``TypeError`` for strings and other objects); the core checks
    its range."""
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise TypeError(f"{what} must be a number, got {type(value).__name__}")
    return float(value)


def ids_in_range(a: npt.NDArray[np.int64], what: str, vocab_size: int) -> None:
    """``IndexError`` naming the first id outside ``0 <= id < vocab_size``."""
    bad = a[(a < 0) | (a >= vocab_size)]
    if bad.size:
        raise IndexError(
            f"{what}: token id {int(bad[0])} is out of range for a vocabulary of size {vocab_size}"
        )


RESERVED_PREFIX = "seqrnn."  # metadata keys the library writes and reads itself


def user_metadata(metadata: Any) -> dict[str, str]:
    """``save``'s ``metadata``: a dict of str to str whose keys do not start with ``seqrnn.``.

    Example:
        >>> user_metadata({"note": "trained on the whole book"})
        {'note': 'trained on the whole book'}
        >>> user_metadata({"seqrnn.vocab": "x"})
        Traceback (most recent call last):
            ...
        ValueError: metadata: keys starting with 'seqrnn.' are the library's own, got 'seqrnn.vocab'
    """
    if metadata is None:
        return {}
    if not isinstance(metadata, dict) or not all(
            isinstance(k, str) and isinstance(v, str) for k, v in metadata.items()):
        raise TypeError("metadata must be a dict of str to str")
    for key in metadata:
        if key.startswith(RESERVED_PREFIX):
            raise ValueError(f"metadata: keys starting with {RESERVED_PREFIX!r} are the "
                             f"library's own, got {key!r}")
    return dict(metadata)


def finite_positive(value: Any, what: str) -> float:
    """A finite float > 0 (learning rates, clipping thresholds)."""
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise TypeError(f"{what} must be a number, got {type(value).__name__}")
    if not (math.isfinite(value) and value > 0):
        raise ValueError(f"{what} must be a finite number > 0, got {value}")
    return float(value)


def same_shape(a: npt.NDArray[Any], what: str, reference: npt.NDArray[Any], ref_name: str) -> None:
    """``ValueError`` unless ``a`` has the shape of ``reference`` (shapes as the caller gave them)."""
    if a.shape != reference.shape:
        raise ValueError(
            f"{what}: expected shape {list(reference.shape)} (like {ref_name}), got {list(a.shape)}"
        )


def read_file(path: str | os.PathLike[str]) -> bytes:
    """The bytes of a regular file; ``OSError`` for anything else (a FIFO would block, a device
    such as ``/dev/zero`` never end), checked before it is opened."""
    name = os.fspath(path)
    mode = os.stat(name).st_mode
    if not (stat.S_ISREG(mode) or stat.S_ISDIR(mode)):  # open() raises IsADirectoryError
        raise OSError(f"{name}: not a regular file")
    with open(name, "rb") as f:
        return f.read()
