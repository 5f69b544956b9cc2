"""README's Python examples run as written (in order, sharing one namespace)."""

import os
import re
from pathlib import Path

import pytest

README = Path(__file__).resolve().parents[1] / "README.md"
DATA = Path(__file__).resolve().parents[2] / "shared" / "data"


def test_python_examples_run(monkeypatch, capsys):
    blocks = re.findall(r"```python\n(.*?)```", README.read_text(encoding="utf-8"), re.DOTALL)
    assert len(blocks) >= 3
    if not (DATA / "timemachine.txt").exists() and "SEQRNN_DATA" not in os.environ:
        pytest.skip(f"the Time Machine text is not in {DATA} and SEQRNN_DATA is unset")
    if "SEQRNN_DATA" not in os.environ:
        monkeypatch.setenv("SEQRNN_DATA", str(DATA))
    namespace: dict[str, object] = {}
    for block in blocks:
        exec(compile(block, str(README), "exec"), namespace)  # noqa: S102 - our own README
    out = capsys.readouterr().out
    assert "output.bias" in out
    assert "trois cent quarante deux" in out
