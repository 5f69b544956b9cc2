"""CPU instruction-set levels for ``bench.py``: which ones this machine supports, the environment
that caps seqrnn, PyTorch and NumPy's OpenBLAS at each (the libraries read it when they load, so
every level runs in a fresh process), what a capped process reports about itself, and the
markdown that describes a level and compares the levels.

Levels, widest first: ``avx512`` (AVX-512 F, BW, CD, DQ and VL), ``avx2`` (AVX2 and FMA) and
``generic`` (no wide vector extension).
"""

from __future__ import annotations

import ctypes
import os
import platform
import re
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
LEVELS = ("avx512", "avx2", "generic")
AVX512_FLAGS = ("avx512f", "avx512bw", "avx512cd", "avx512dq", "avx512vl")
# PyTorch's caps: ATen's own vectorized kernels, MKL (the matrix products) and oneDNN; at avx512
# only ATen is named, MKL and oneDNN keep their own (widest) choice.
TORCH_CAPS = {
    "avx512": {"ATEN_CPU_CAPABILITY": "avx512"},
    "avx2": {"MKL_ENABLE_INSTRUCTIONS": "AVX2", "ONEDNN_MAX_CPU_ISA": "AVX2",
             "ATEN_CPU_CAPABILITY": "avx2"},
    "generic": {"MKL_ENABLE_INSTRUCTIONS": "SSE4_2", "ONEDNN_MAX_CPU_ISA": "SSE41",
                "ATEN_CPU_CAPABILITY": "default"},
}
ATEN_NAMES = {"avx512": "AVX512", "avx2": "AVX2", "generic": "DEFAULT"}
# OpenBLAS kernel sets of each level: the fastest of the avx512 and avx2 ones is kept; for generic
# the first this OpenBLAS has (all SSE only).
CORETYPES = {"avx512": ("SkylakeX", "Cooperlake", "SapphireRapids"), "avx2": ("Haswell", "Zen"),
             "generic": ("Nehalem", "Prescott", "Core2")}
# Inherited values of these would blur the caps: every child starts without them.
CAP_VARS = ("SEQRNN_MAX_ISA", "ATEN_CPU_CAPABILITY", "MKL_ENABLE_INSTRUCTIONS", "MKL_CBWR",
            "ONEDNN_MAX_CPU_ISA", "DNNL_MAX_CPU_ISA", "OPENBLAS_CORETYPE")


def cpuinfo() -> dict[str, str]:
    """The first processor's fields in /proc/cpuinfo ({} where there is none)."""
    path = Path("/proc/cpuinfo")
    block = (path.read_text() if path.exists() else "").split("\n\n")[0]
    return {k.strip(): v.strip() for k, _, v in (ln.partition(":") for ln in block.splitlines())}


def non_intel_x86() -> str | None:
    """The vendor of an x86 CPU not made by Intel (MKL ignores MKL_ENABLE_INSTRUCTIONS there)."""
    vendor = cpuinfo().get("vendor_id")
    return vendor if vendor and vendor != "GenuineIntel" else None


def supported_levels() -> tuple[list[str], str]:
    """The levels this CPU supports, widest first, and where that came from."""
    try:
        import seqrnn
    except ImportError:
        seqrnn = None
    if seqrnn is not None and hasattr(seqrnn, "cpu_info"):
        return [x for x in seqrnn.cpu_info()["supported"] if x in LEVELS], "`seqrnn.cpu_info()`"
    flags = set(cpuinfo().get("flags", "").split())
    wide = [lvl for lvl, need in (("avx512", AVX512_FLAGS), ("avx2", ("avx2", "fma")))
            if flags.issuperset(need)]
    return [*wide, "generic"], "the /proc/cpuinfo flags, as this seqrnn has no `cpu_info()`"


def level_env(level: str, coretype: str | None) -> dict[str, str]:
    """The variables that cap every library at ``level``."""
    caps = {"SEQRNN_MAX_ISA": level, **TORCH_CAPS[level]}
    if level == "generic" and non_intel_x86():
        caps["MKL_CBWR"] = "COMPATIBLE"  # the one code branch MKL honors on non-Intel CPUs
    if coretype:
        caps["OPENBLAS_CORETYPE"] = coretype
    return caps


def child_env(caps: dict[str, str]) -> dict[str, str]:
    """This process's environment without inherited caps, with ``caps``."""
    return {**{k: v for k, v in os.environ.items() if k not in CAP_VARS}, **caps}


def openblas_corename() -> str | None:
    """The kernel set the OpenBLAS loaded in this process runs (None: none loaded, or it does not
    say). An unknown OPENBLAS_CORETYPE falls back to OpenBLAS's own choice, so this is the check."""
    maps = Path("/proc/self/maps")
    if not maps.exists():
        return None
    libs = {parts[-1] for ln in maps.read_text().splitlines()
            if len(parts := ln.split(maxsplit=5)) == 6 and "openblas" in parts[-1].lower()}
    for lib in sorted(libs):
        try:
            dll = ctypes.CDLL(lib)
        except OSError:
            continue
        for sym in ("openblas_get_corename", "openblas_get_corename64_",
                    "scipy_openblas_get_corename64_", "scipy_openblas_get_corename"):
            fn = getattr(dll, sym, None)
            if fn is not None:
                fn.restype = ctypes.c_char_p
                return str(fn().decode())
    return None


PROBE = """
import sys, time
sys.path.insert(0, {here!r})
import numpy as np
from _isa_levels import openblas_corename
a = np.random.default_rng(0).standard_normal(({n}, {n}), dtype=np.float32)
a @ a
times = []
for _ in range(3):
    t = time.perf_counter(); a @ a; times.append(time.perf_counter() - t)
print(2 * {n}**3 / min(times) / 1e9, openblas_corename())
"""


def probe(coretype: str, size: int) -> tuple[float, str | None] | None:
    """GFLOP/s of a float32 ``size`` x ``size`` product with numpy under ``coretype``, and the
    kernel set OpenBLAS ran; None if that failed (e.g. kernels this CPU cannot execute)."""
    env = {**os.environ, "OPENBLAS_CORETYPE": coretype}
    try:
        out = subprocess.run([sys.executable, "-c", PROBE.format(here=str(HERE), n=size)],
                             env=env, capture_output=True, text=True, check=True,
                             timeout=300).stdout.split()
        return float(out[0]), None if out[1] == "None" else out[1]
    except (OSError, subprocess.SubprocessError, ValueError, IndexError):
        return None


def choose_coretypes(choice: str, levels: list[str], size: int
                     ) -> dict[str, tuple[str | None, str]]:
    """OPENBLAS_CORETYPE of each level and how it was chosen. ``auto`` probes the level's kernel
    sets (keeping only those this OpenBLAS really runs), ``env`` keeps the environment's value,
    any other value applies to every level."""
    if choice == "env":
        env = os.environ.get("OPENBLAS_CORETYPE")
        how = "kept from the environment" if env else "not set: OpenBLAS's own choice"
        return {lvl: (env, how) for lvl in levels}
    if choice != "auto":
        return {lvl: (choice, "given with --openblas-coretype") for lvl in levels}
    if platform.machine() not in ("x86_64", "AMD64"):
        return {lvl: (None, "not set (not x86-64): OpenBLAS's own choice") for lvl in levels}
    out: dict[str, tuple[str | None, str]] = {}
    for lvl in levels:
        rates, notes = {}, []
        for name in CORETYPES[lvl]:
            got = probe(name, size)
            if got is None:
                notes.append(f"{name} failed")
            elif got[1] is not None and got[1].lower() != name.lower():
                notes.append(f"{name}: OpenBLAS ran {got[1]} instead")
            else:
                rates[name] = got[0]
                if lvl == "generic":
                    break
        if rates:
            best = max(rates, key=rates.__getitem__)
            how = (f"{'first SSE-only' if lvl == 'generic' else 'fastest'} kernel set at "
                   f"{size}x{size}: " + ", ".join(f"{k} {v:.0f}" for k, v in rates.items())
                   + " GFLOP/s")
            out[lvl] = best, "; ".join([how, *notes])
        else:
            failed = ("**no kernel set of this level could be forced: OpenBLAS's own (possibly "
                      "wider) choice**")
            out[lvl] = None, "; ".join([failed, *notes])
        print(f"OpenBLAS for {lvl}: {out[lvl][0] or 'own choice'} ({out[lvl][1]})", flush=True)
    return out


TORCH_PROBE = """
import torch
torch.set_num_threads(1)
a = torch.randn(64, 64)
torch.mm(a, a)
torch.nn.functional.conv2d(torch.randn(1, 16, 64, 64), torch.randn(32, 16, 3, 3))
"""


def torch_libraries() -> dict[str, str]:
    """What MKL (its reproducibility branch) and oneDNN (its ISA) say in a PyTorch process with
    this environment, from their verbose output."""
    env = {**os.environ, "MKL_VERBOSE": "1", "ONEDNN_VERBOSE": "1"}
    try:
        run = subprocess.run([sys.executable, "-c", TORCH_PROBE], env=env, capture_output=True,
                             text=True, timeout=300, check=False)
    except (OSError, subprocess.SubprocessError):
        return {}
    text, found = run.stdout + run.stderr, {}
    if m := re.search(r"CNR:(\w+)", text):
        found["mkl_cnr"] = m.group(1)
    if m := re.search(r"onednn_verbose,.*?info,cpu,isa:([^\n]+)", text):
        found["onednn_isa"] = m.group(1).strip()
    return found


def child_info(level: str, seqrnn: Any, torch: Any) -> dict[str, Any]:
    """What the libraries of this (capped) process report, after the cases ran."""
    torch_cpu = getattr(getattr(torch, "backends", None), "cpu", None)
    return {
        "caps": {k: os.environ[k] for k in CAP_VARS if k in os.environ},
        "cpu_info": seqrnn.cpu_info() if hasattr(seqrnn, "cpu_info") else None,
        "openblas": openblas_corename(),
        "aten": torch_cpu.get_cpu_capability() if hasattr(torch_cpu, "get_cpu_capability")
        else None,
        "torch_libs": torch_libraries() if torch is not None else {},
    }


def level_lines(run: dict[str, Any]) -> list[str]:
    """A level's markdown preamble: what was capped and how, and what the libraries reported."""
    level, info = run["level"], run.get("info")
    if info is None:  # the level's process failed
        return ["- environment: " + ", ".join(f"`{k}={v}`" for k, v in run["caps"].items())]
    caps = info["caps"]

    def var(name: str) -> str:
        return f"`{name}={caps[name]}`" if name in caps else f"`{name}` not set"

    seq, ci = f"- seqrnn: {var('SEQRNN_MAX_ISA')}", info.get("cpu_info")
    if ci is None:
        seq += (f". **Warning: this seqrnn has no `cpu_info()`, so the level it ran at is "
                f"unconfirmed; it may ignore `SEQRNN_MAX_ISA`: its numbers here are not known to "
                f"be `{level}`'s.**")
    elif ci.get("isa") != level:
        seq += (f". **Warning: `seqrnn.cpu_info()` reported isa `{ci.get('isa')}`, not "
                f"`{level}`: seqrnn's numbers in this section are not at this level.**")
    else:
        seq += (f"; `seqrnn.cpu_info()` reported isa `{ci['isa']}` (max_isa "
                f"`{ci.get('max_isa')}`, {ci.get('threads')} threads)")
    aten, libs, vendor = info.get("aten"), info.get("torch_libs", {}), non_intel_x86()
    torch = [f"{var('ATEN_CPU_CAPABILITY')} (ATen reported `{aten or 'nothing'}`)"]
    if aten and aten != ATEN_NAMES[level]:
        torch[0] += f" **Warning: ATen runs `{aten}`, not `{ATEN_NAMES[level]}`.**"
    onednn = f"oneDNN reported \"{libs.get('onednn_isa', 'nothing')}\""
    if level == "avx512":
        torch.append(f"MKL (the matrix products) and oneDNN not capped ({onednn})")
    else:
        torch.append(f"{var('MKL_ENABLE_INSTRUCTIONS')} (MKL: the matrix products)")
        if vendor:
            torch[-1] += (f", **which MKL ignores on this {vendor} CPU** (Intel documents it for "
                          "Intel processors only)")
        if "MKL_CBWR" in caps:
            torch.append(f"{var('MKL_CBWR')} instead (MKL's SSE2 branch of conditional numerical "
                         "reproducibility, the one branch it honors on non-Intel CPUs; it also "
                         f"fixes MKL's blocking and reductions): MKL reported CNR "
                         f"`{libs.get('mkl_cnr')}`")
        elif vendor:
            torch.append("**so MKL's matrix products run at MKL's own choice at this level**")
        torch.append(f"{var('ONEDNN_MAX_CPU_ISA')} ({onednn})")
    ct, got = caps.get("OPENBLAS_CORETYPE"), info.get("openblas")
    ceil = (f"- float32 ceiling: NumPy's OpenBLAS, {var('OPENBLAS_CORETYPE')} ({run['how']}); "
            f"OpenBLAS reported kernel set `{got}`")
    if ct and got and ct.lower() != got.lower():
        ceil += f". **Warning: OpenBLAS ran `{got}`, not `{ct}`.**"
    lines = [seq, "- PyTorch: " + "; ".join(torch), ceil]
    if "load" in run:
        lines.append("- load average (1, 5, 15 min) at the level's start {:.2f}, {:.2f}, {:.2f}; "
                     "at its end {:.2f}, {:.2f}, {:.2f}".format(*run["load"][0], *run["load"][1]))
    return lines


def ceiling(rows: list[dict[str, Any]]) -> float | None:
    """The best median float32 matmul GFLOP/s among ``rows``."""
    peaks = [r["median"] for row in rows if row["group"] == "matmul" for r in row["res"].values()]
    return max(peaks) if peaks else None


def summary(runs: list[dict[str, Any]], fmt: Callable[[float], str]) -> list[str]:
    """The cross-level markdown: seqrnn/PyTorch at each level, seqrnn at generic against avx2,
    and the largest batch-32 char-LM case's share of each level's ceiling."""
    done = [r for r in runs if r.get("rows")]
    if not done:
        return ["No level completed."]
    levels = [r["level"] for r in done]
    by = {r["level"]: {(x["title"], x["label"]): x for x in r["rows"]} for r in done}
    keys = list(dict.fromkeys((x["title"], x["label"]) for r in done for x in r["rows"]
                              if x["group"] != "matmul"))
    both = "generic" in by and "avx2" in by
    head = ["case", *(f"seqrnn/PyTorch at {lvl}" for lvl in levels)]
    head += ["seqrnn at generic / at avx2"] if both else []
    out = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for key in keys:
        cells = [f"{key[0]}, {key[1]}"]
        for lvl in levels:
            ratio = by[lvl][key]["ratio"] if key in by[lvl] else None
            cells.append(f"{ratio:.2f}x" if ratio else "-")
        if both:
            g, a = by["generic"].get(key), by["avx2"].get(key)
            if g and a and "seqrnn" in g["res"] and "seqrnn" in a["res"]:
                s, t = g["res"]["seqrnn"]["median"], a["res"]["seqrnn"]["median"]
                frac = s / t if g["higher"] else t / s
                cells.append(f"{frac:.2f}" + (f" ({1 / frac:.1f}x slower)" if frac < 1 else "")
                             + (" **beyond the 3x target**" if frac < 1 / 3 else ""))
            else:
                cells.append("-")
        out.append("| " + " | ".join(cells) + " |")
    if both:
        out += ["", ("\"seqrnn at generic / at avx2\": seqrnn's speed at `generic` as a "
                     "fraction of its speed at `avx2` (the target: within 3x).")]
    lm = [x for r in done for x in r["rows"] if x["group"] == "lm" and x["label"].endswith("B=32")]
    if lm:
        big = max(lm, key=lambda x: x["flops"])
        key = (big["title"], big["label"])
        rows: list[list[str]] = [["float32 ceiling (GFLOP/s)"],
                                 [f"seqrnn {key[0]}, {key[1]} (GFLOP/s)"],
                                 ["its share of the ceiling"]]
        for lvl, r in zip(levels, done):
            peak, gf = ceiling(r["rows"]), by[lvl].get(key, {}).get("gflops")
            rows[0].append(fmt(peak) if peak else "-")
            rows[1].append(fmt(gf) if gf else "-")
            rows[2].append(f"{gf / peak:.1%}" if gf and peak else "-")
        out += ["", "| | " + " | ".join(levels) + " |", "|" + "---|" * (len(levels) + 1)]
        out += ["| " + " | ".join(row) + " |" for row in rows]
    return out
