"""Instruction-set levels: what cpu_info reports, the cap (set_max_isa, SEQRNN_MAX_ISA), and
results that agree across levels and repeat exactly at each."""

from __future__ import annotations

import os
import subprocess
import sys

import numpy as np
import pytest
import seqrnn
from conftest import LEVELS

ALL = ["avx512", "avx2", "generic"]


def run_python(code: str, **env: str) -> subprocess.CompletedProcess[str]:
    full = {k: v for k, v in os.environ.items() if k != "SEQRNN_MAX_ISA"}
    return subprocess.run([sys.executable, "-c", code], check=False, env={**full, **env},
                          capture_output=True, text=True, timeout=120)


def test_cpu_info_reports_the_machine_and_the_level_in_use():
    info = seqrnn.cpu_info()
    assert set(info) == {"arch", "features", "supported", "max_isa", "isa", "threads"}
    assert info["supported"] == [lv for lv in ALL if lv in info["supported"]]  # widest first
    assert info["supported"][-1] == "generic"
    assert info["isa"] == info["supported"][0]
    assert info["max_isa"] is None
    assert info["threads"] == seqrnn.get_num_threads()
    assert all(isinstance(f, str) for f in info["features"])
    if "avx2" in info["supported"]:
        assert {"avx2", "fma"} <= set(info["features"])
    if "avx512" in info["supported"]:
        assert "avx512f" in info["features"]


@pytest.mark.parametrize("level", LEVELS)
def test_set_max_isa_caps_and_none_restores(level):
    try:
        seqrnn.set_max_isa(level.upper())
        info = seqrnn.cpu_info()
        assert (info["isa"], info["max_isa"]) == (level, level)
    finally:
        seqrnn.set_max_isa(None)
    assert seqrnn.cpu_info()["isa"] == LEVELS[0]


def test_a_cap_above_the_cpu_changes_nothing():
    try:
        seqrnn.set_max_isa("avx512")
        assert seqrnn.cpu_info()["isa"] == LEVELS[0]
    finally:
        seqrnn.set_max_isa(None)


@pytest.mark.parametrize("bad, exc, match", [
    ("sse9", ValueError, 'one of "avx512", "avx2", "generic", got "sse9"'),
    ("", ValueError, 'got ""'),
    (3, TypeError, "'int' object is not an instance of 'str'"),
])
def test_bad_levels_are_refused(bad, exc, match):
    with pytest.raises(exc, match=match):
        seqrnn.set_max_isa(bad)
    assert seqrnn.cpu_info()["max_isa"] is None


def test_environment_variable_caps_and_set_max_isa_overrides_it():
    code = ("import seqrnn; i = seqrnn.cpu_info(); print(i['isa'], i['max_isa']); "
            "seqrnn.set_max_isa('generic'); print(seqrnn.cpu_info()['isa'])")
    out = run_python(code, SEQRNN_MAX_ISA="generic")
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["generic", "generic", "generic"]
    out = run_python(code, SEQRNN_MAX_ISA=" AVX2 ")
    assert out.returncode == 0, out.stderr
    expected = "avx2" if "avx2" in LEVELS else "generic"
    assert out.stdout.split() == [expected, "avx2", "generic"]


def test_a_bad_environment_variable_warns_and_is_ignored():
    out = run_python("import warnings; warnings.simplefilter('error'); import seqrnn",
                     SEQRNN_MAX_ISA="fast")
    assert out.returncode != 0
    assert 'RuntimeWarning: SEQRNN_MAX_ISA must be one of "avx512", "avx2", "generic", got ' \
           '"fast"; ignored' in out.stderr
    out = run_python("import seqrnn; print(seqrnn.cpu_info()['isa'], "
                     "seqrnn.cpu_info()['max_isa'])", SEQRNN_MAX_ISA="fast")
    assert out.returncode == 0
    assert out.stdout.split() == [LEVELS[0], "None"]
    assert "RuntimeWarning" in out.stderr


def fit_once(level: str) -> tuple[np.ndarray, list[float]]:
    """A few epochs of a small language model at `level` (two threads, minibatches cut in
    parts): its final logits and training perplexities."""
    seqrnn.set_max_isa(level)
    try:
        rng = np.random.default_rng(0)
        ids = rng.integers(0, 20, size=3000)
        lm = seqrnn.LanguageModel(20, 48, num_layers=2, seed=3)
        hist = lm.fit(ids, epochs=2, batch_size=32, num_steps=10, lr=0.5, progress=False,
                       seed=1)
        return lm.logits(ids[:40].reshape(4, 10))[0], list(hist.train_perplexity)
    finally:
        seqrnn.set_max_isa(None)


def test_each_level_repeats_exactly_and_levels_agree_within_rounding():
    results = {}
    for level in LEVELS:
        logits, losses = fit_once(level)
        again_logits, again_losses = fit_once(level)
        assert np.array_equal(logits, again_logits), level  # the parameters repeat exactly
        np.testing.assert_allclose(losses, again_losses, rtol=1e-6, err_msg=level)
        results[level] = (logits, losses)
    ref_logits, ref_losses = results[LEVELS[0]]
    for level, (logits, losses) in results.items():
        # Two epochs of training amplify float32 rounding differences a little.
        np.testing.assert_allclose(logits, ref_logits, rtol=2e-3, atol=2e-3, err_msg=level)
        np.testing.assert_allclose(losses, ref_losses, rtol=1e-4, err_msg=level)
