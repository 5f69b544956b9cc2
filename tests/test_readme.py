"""README's Python examples run as written (in order, sharing one namespace)."""

import os
import re
from importlib.util import find_spec
from pathlib import Path

import pytest

README = Path(__file__).resolve().parents[1] / "README.md"
DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
OPTIONAL = {"import torch": "torch", "seqrnn.export": "onnx"}  # blocks needing an extra


def test_python_examples_run(monkeypatch, capsys, tmp_path):
    blocks = re.findall(r"```python\n(.*?)```", README.read_text(encoding="utf-8"), re.DOTALL)
    assert len(blocks) >= 3
    if not (DATA / "timemachine.txt").exists() and "SEQRNN_DATA" not in os.environ:
        pytest.skip(f"the Time Machine text is not in {DATA} and SEQRNN_DATA is unset")
    if "SEQRNN_DATA" not in os.environ:
        monkeypatch.setenv("SEQRNN_DATA", str(DATA))
    monkeypatch.chdir(tmp_path)  # examples that write files write them here
    namespace: dict[str, object] = {}
    for block in blocks:
        if any(key in block and find_spec(mod) is None for key, mod in OPTIONAL.items()):
            continue  # the extra is not installed
        exec(compile(block, str(README), "exec"), namespace)  # noqa: S102 - our own README
    out = capsys.readouterr().out
    assert "output.bias" in out
    assert "trois cent quarante deux" in out
