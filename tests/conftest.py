"""Fixtures shared by the test files."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import seqrnn

#: The instruction-set levels this CPU supports, widest first ("generic" always).
LEVELS: list[str] = seqrnn.cpu_info()["supported"]


@pytest.fixture(params=LEVELS)
def every_level(request: pytest.FixtureRequest) -> Iterator[str]:
    """Runs the test once at every level the CPU supports, with the engine capped to it."""
    seqrnn.set_max_isa(request.param)
    assert seqrnn.cpu_info()["isa"] == request.param
    try:
        yield request.param
    finally:
        seqrnn.set_max_isa(None)
