"""Every public class and function documents itself with an example, and the examples run."""

from __future__ import annotations

import doctest
import importlib
import inspect
from importlib.util import find_spec
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import seqrnn

MODULES = ["seqrnn", "seqrnn.rnn", "seqrnn.linear", "seqrnn.lm", "seqrnn.seq2seq", "seqrnn.vocab", "seqrnn.data",
           "seqrnn.translation_data",
           "seqrnn.metrics", "seqrnn.toy", "seqrnn.interop", "seqrnn.export",
           "seqrnn.torch_modules", "seqrnn._module", "seqrnn._training", "seqrnn.plot",
           "seqrnn.demo", "seqrnn.cli", "seqrnn.__main__", "seqrnn.hub"]
CHECKED_IN_PRIVATE = {"seqrnn._training": {"History"}}  # what private modules hand out
NEEDS = {"seqrnn.interop": ["torch"], "seqrnn.torch_modules": ["torch"],
         "seqrnn.export": ["onnx", "onnxruntime"], "seqrnn._module": ["torch"],
         "seqrnn.plot": ["matplotlib"]}


def module(name: str) -> Any:
    missing = [dep for dep in NEEDS.get(name, []) if find_spec(dep) is None]
    if missing:
        pytest.skip(f"{name}'s examples need {', '.join(missing)}")
    return importlib.import_module(name)


def public_items(name: str) -> list[tuple[str, Any]]:
    """Public classes and functions defined in module ``name``, and their public methods."""
    m = importlib.import_module(name)
    out = []
    for attr, obj in vars(m).items():
        if attr.startswith("_") or getattr(obj, "__module__", None) != name:
            continue
        if inspect.isfunction(obj):
            out.append((f"{name}.{attr}", obj))
        elif inspect.isclass(obj):
            out.append((f"{name}.{attr}", obj))
            for meth, f in vars(obj).items():
                f = f.__func__ if isinstance(f, (classmethod, staticmethod)) else f
                if not meth.startswith("_") and inspect.isfunction(f):
                    out.append((f"{name}.{attr}.{meth}", f))
    return out


@pytest.mark.parametrize("name", MODULES)
def test_public_items_have_docstrings_with_examples(name: str) -> None:
    if name == "seqrnn.torch_modules" and find_spec("torch") is None:
        pytest.skip("importing seqrnn.torch_modules needs torch")
    items = public_items(name)
    if name in CHECKED_IN_PRIVATE:
        items = [(q, obj) for q, obj in items if q.split(".")[2] in CHECKED_IN_PRIVATE[name]]
    lacking = [q for q, obj in items if "Example" not in (inspect.getdoc(obj) or "")]
    assert lacking == [], f"no docstring example: {lacking}"


@pytest.mark.parametrize("name", MODULES)
def test_examples_run(name: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    mod = module(name)
    monkeypatch.chdir(tmp_path)  # examples that write files write them here
    seqrnn.set_num_threads(0)
    finder = doctest.DocTestFinder(exclude_empty=True)
    runner = doctest.DocTestRunner(optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    globs = {"np": np, "seqrnn": seqrnn, **vars(mod)}
    for test in finder.find(mod, name, globs=globs):
        runner.run(test)
    result = runner.summarize(verbose=False)
    assert result.failed == 0
