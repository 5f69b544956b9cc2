"""Side-by-side speed of seqrnn, PyTorch (eager, CPU) and plain NumPy on the same RNN work.

Usage (from the repository root, with seqrnn installed; PyTorch is optional)::

    python benchmarks/bench.py                       # every case, 5 repeats, 2 threads
    python benchmarks/bench.py --quick               # smoke test: small sizes, once, < 1 min
    python benchmarks/bench.py --write BENCHMARKS.md # also write the report as markdown
    python benchmarks/bench.py --cases lm generate --repeats 9 --threads 2

Options: ``--repeats N`` measurements per implementation and case (default 5; 1 with
``--quick``); ``--threads N`` threads for PyTorch (``torch.set_num_threads``) and for the BLAS
libraries (``OMP_NUM_THREADS``, ``OPENBLAS_NUM_THREADS``, ``MKL_NUM_THREADS``, set before numpy
loads) and for seqrnn (``seqrnn.set_num_threads``), default 2; ``--cases`` any of ``lm generate seq2seq matmul``
(default all); ``--impls`` any of ``seqrnn torch numpy`` (default all that import);
``--clock cpu`` times with the process's CPU time instead of wall time, which keeps single-thread
comparisons meaningful on a busy machine (the "CPU/wall" column shows how busy it was);
``--openblas-coretype auto`` (default) picks NumPy's fastest OpenBLAS kernel set for this CPU
(an environment may pin ``OPENBLAS_CORETYPE=Haswell``, AVX2 only), ``env`` keeps the
environment's, any other value is used as given.

Cases (identical shapes, data and starting weights for every implementation):

- ``lm``: char-LM training, tokens/s. Vocabulary 28, one-hot input, one tanh layer, 35 steps,
  sequential minibatches with the state carried and detached, SGD lr 1, clipping at norm 1;
  hidden 128/256/512/1024 at batch 32, hidden 256 at batch 128 and 1. One measurement is one
  epoch over a corpus sized so that seqrnn's epoch takes about 1.5 s.
- ``generate``: single-stream sampling at temperature 1, us/token (2000 tokens, hidden 256, 512).
- ``seq2seq``: encoder-decoder training, sentence pairs/s. Vocabularies 200, embedding 32,
  hidden 256, one layer, context concatenated to the decoder input, 10 steps each side with
  valid lengths in 6..10 (about 20% padding), batch 64, masked loss, SGD and clipping.
  (No NumPy version.)
- ``matmul``: float32 2048x2048 @ 2048x2048 with numpy's and PyTorch's BLAS, GFLOP/s; the
  higher median is the machine's ceiling that the other cases are measured against.

Each measurement is prepared untimed (a fresh model from the same weights) and then timed
around the work alone. The implementations are interleaved (each round measures every
implementation once, the order rotated) and each case first checks that PyTorch and NumPy
compute seqrnn's loss and gradients. Medians are reported with min-max.
"""

from __future__ import annotations

import argparse
import os
import platform
import shlex
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any

NAMES = {"seqrnn": "seqrnn", "torch": "PyTorch", "numpy": "NumPy"}
GROUPS = {  # group: (title, what the unit counts, higher is better)
    "lm": ("char-LM training", "tokens/s", True),
    "generate": ("single-stream generation latency", "us/token", False),
    "seq2seq": ("seq2seq training", "sentence pairs/s", True),
    "matmul": ("float32 matmul ceiling", "GFLOP/s", True),
}
CLOCKS = {"wall": "wall-clock time", "cpu": "the process's CPU time"}
FLOP_MODEL = """\
FLOP model (multiply-add = 2 FLOPs; biases, tanh, softmax and the one-hot gather ignored):
- char-LM training, per token: forward 2*H*H (recurrence) + 2*H*V (output); backward 2x the
  forward (one product for the weight gradient, one for the input gradient) = 6*H*(H+V).
- generation, per token: 2*H*(H+V).
- seq2seq training, per pair: 3 x [Ls*(2*E*H + 2*H*H) + Lt*(2*(E+H)*H + 2*H*H + 2*H*V)] with
  Ls, Lt the valid (unpadded) source and target lengths of each pair, averaged over the data:
  encoder input and recurrence, decoder input [embedding, context] and recurrence, output.
- achieved GFLOP/s = FLOPs per token (or pair) x tokens (or pairs) per second; "of ceiling" is
  that divided by the best median float32 matmul GFLOP/s measured in this run."""
METHOD = """\
Every implementation gets the same shapes, data and starting weights (seqrnn's, copied into the
others). Before timing, each case checks that PyTorch and NumPy reproduce seqrnn's loss and every
gradient on the first minibatch, and warms each implementation up. The measurements are
interleaved: {repeats} rounds, each measuring every implementation once, the order rotated from
round to round; each is prepared untimed (a fresh model) and timed by {clock} around the work
alone. Tables give the median (min-max) over the rounds; "seqrnn/PyTorch speed" is the ratio of
median speeds (>1: seqrnn is faster).

- seqrnn: the public API, timed around `LanguageModel.fit(ids, epochs=1, ...,
  sampling="sequential", progress=False)` (tokens as reported in its history),
  `Seq2Seq.fit(data, epochs=1, ..., optimizer="sgd")` and `generate(prefix, n,
  temperature=1.0)`; minibatch gathering and the binding's checks are included.
- PyTorch: eager float32 on CPU, `F.one_hot` + `nn.RNN` + `nn.Linear` + `F.cross_entropy` +
  `clip_grad_norm_` + `torch.optim.SGD`, timed around the epoch loop over prepared tensors;
  seq2seq adds `nn.Embedding`, `pack_padded_sequence` for the encoder and a masked loss;
  generation loops `rnn` + `linear` + `softmax` + `torch.multinomial` under `torch.no_grad()`.
- NumPy: batched float32 BPTT with the recurrence in a Python loop, the one-hot input as a
  gather and its gradient as `np.add.at`; generation loops a matvec and samples by inverse CDF.
- "CPU/wall" is the process's CPU time over wall time during the measurements (columns in the
  table's order): about the number of threads at work on an idle machine; below 1 means the
  process was waiting for a core, i.e. the machine was busy and the numbers are less reliable."""


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--quick", action="store_true", help="small sizes, each case once (smoke test)")
    p.add_argument("--repeats", type=int, default=None, help="measurements per implementation")
    p.add_argument("--threads", type=int, default=2, help="PyTorch, BLAS and seqrnn threads")
    p.add_argument("--write", metavar="FILE", help="write the markdown report to FILE")
    p.add_argument("--openblas-coretype", default="auto", metavar="NAME",
                   help="OpenBLAS kernels for NumPy (OPENBLAS_CORETYPE); 'auto' tries the "
                        "AVX-512 ones too and keeps the fastest at 2048x2048, 'env' keeps the "
                        "environment's")
    p.add_argument("--cases", nargs="+", choices=list(GROUPS), default=list(GROUPS))
    p.add_argument("--impls", nargs="+", choices=list(NAMES), default=list(NAMES))
    p.add_argument("--clock", choices=["wall", "cpu"], default="wall",
                   help="time base; 'cpu' (process CPU time) resists a busy machine, and is "
                   "meaningful only when everything runs on one thread")
    args = p.parse_args(argv)
    if args.repeats is None:
        args.repeats = 1 if args.quick else 5
    if args.repeats < 1 or args.threads < 1:
        p.error("--repeats and --threads must be positive")
    return args


def plan(args: argparse.Namespace, cases: Any, impls: list[str]) -> list[Callable[[], Any]]:
    """Factories of the selected cases, in the order of GROUPS."""
    q = args.quick
    seconds = 0.05 if q else 1.5
    lm_sizes = ([(16, 32), (32, 32), (64, 32), (128, 32), (32, 128), (32, 1)] if q else
                [(128, 32), (256, 32), (512, 32), (1024, 32), (256, 128), (256, 1)])
    out: dict[str, list[Callable[[], Any]]] = {
        "lm": [partial(cases.lm_training, h, b, impls, seconds) for h, b in lm_sizes],
        "generate": [partial(cases.generation, h, impls, 100 if q else 2000)
                     for h in ((32, 64) if q else (256, 512))],
        "seq2seq": [partial(cases.seq2seq_training, impls, seconds, 32 if q else 256)],
        "matmul": [partial(cases.matmul, impls, 256 if q else 2048)],
    }
    return [f for group in GROUPS if group in args.cases for f in out[group]]


def measure(case: Any, repeats: int, clock: str) -> dict[str, dict[str, Any]]:
    """Interleaved measurements: each round prepares (untimed) and times every implementation
    once, the order rotated from round to round."""
    names = list(case.run)
    res: dict[str, dict[str, Any]] = {n: {"values": [], "cpu_wall": []} for n in names}
    for rnd in range(repeats):
        for name in names[rnd % len(names):] + names[: rnd % len(names)]:
            work = case.run[name]()
            wall, cpu = time.perf_counter(), time.process_time()
            amount = work()
            wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
            res[name]["values"].append(case.value(amount, cpu if clock == "cpu" else wall))
            res[name]["cpu_wall"].append(cpu / wall)
    for r in res.values():
        v = r["values"]
        r.update(median=statistics.median(v), min=min(v), max=max(v),
                 cpu_wall=statistics.median(r["cpu_wall"]))
    return res


def fmt(x: float) -> str:
    return f"{x:,.0f}" if x >= 100 else f"{x:.1f}" if x >= 10 else f"{x:.2f}"


def speed_ratio(case: Any, res: dict[str, Any]) -> float | None:
    """seqrnn's speed over PyTorch's (>1: seqrnn faster), from the medians."""
    if "seqrnn" not in res or "torch" not in res:
        return None
    a, b = res["seqrnn"]["median"], res["torch"]["median"]
    return a / b if GROUPS[case.group][2] else b / a


def ceiling(results: list[tuple[Any, dict[str, Any]]]) -> float | None:
    peaks = [r["median"] for c, res in results if c.group == "matmul" for r in res.values()]
    return max(peaks) if peaks else None


def tables(results: list[tuple[Any, dict[str, Any]]], impls: list[str]) -> str:
    """One markdown table per case group."""
    peak, out = ceiling(results), []
    for group, (title, unit, higher) in GROUPS.items():
        rows = [(c, res) for c, res in results if c.group == group]
        if not rows:
            continue
        cols = [i for i in impls if any(i in res for _, res in rows)]
        better = "higher" if higher else "lower"
        out.append(f"### {title} ({unit}, {better} is better)\n")
        head = ["case"] + [f"{NAMES[i]}" for i in cols]
        if group != "matmul":
            head += ["seqrnn/PyTorch speed", "seqrnn GFLOP/s", "of ceiling"]
        head += ["CPU/wall"]
        out += ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
        for c, res in rows:
            cells = [c.label] + [
                f"{fmt(res[i]['median'])} ({fmt(res[i]['min'])}-{fmt(res[i]['max'])})"
                if i in res else "-" for i in cols]
            if group != "matmul":
                ratio = speed_ratio(c, res)
                gf = c.gflops(res["seqrnn"]["median"]) if "seqrnn" in res else None
                cells += [f"{ratio:.2f}x" if ratio else "-", fmt(gf) if gf else "-",
                          f"{gf / peak:.1%}" if gf and peak else "-"]
            cells.append(" / ".join(f"{res[i]['cpu_wall']:.1f}" if i in res else "-" for i in cols))
            out.append("| " + " | ".join(cells) + " |")
        if group == "matmul" and peak:
            out.append(f"\nCeiling: **{fmt(peak)} GFLOP/s**.")
        notes = [note for c, _ in rows if (note := notes_line(c))]
        if notes:
            out += ["", "Checks and data:", "", *notes]
        out.append("")
    return "\n".join(out)


def notes_line(case: Any) -> str:
    """What was verified and measured besides speed, as a markdown list item."""
    notes = list(case.checks)
    if case.perplexity:
        notes.append("training perplexity of the last epoch " + ", ".join(
            f"{NAMES[k]} {v:.2f}" for k, v in case.perplexity.items()))
    return f"- {case.label}: " + "; ".join(notes) if notes else ""


def machine() -> list[str]:
    """CPU model, cores and vector extensions, from /proc/cpuinfo where it exists."""
    path = Path("/proc/cpuinfo")
    blocks = [{k.strip(): v.strip() for k, _, v in (ln.partition(":") for ln in b.splitlines())}
              for b in (path.read_text() if path.exists() else "").split("\n\n") if b.strip()]
    fields = blocks[0] if blocks else {}  # one block per logical CPU
    physical = {(b["physical id"], b["core id"]) for b in blocks if "core id" in b}
    flags = fields.get("flags", "").split()
    avx512 = sorted(f for f in flags if f.startswith("avx512"))
    usable = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return [
        f"- CPU: {fields.get('model name', platform.processor() or platform.machine())}",
        (f"- cores: {os.cpu_count()} logical CPUs ({usable} usable by this process), "
         f"{len(physical) or '?'} physical cores"),
        (f"- AVX-512: {' '.join(avx512) if avx512 else 'none'}; "
         f"AVX2: {'yes' if 'avx2' in flags else 'no'}; FMA: {'yes' if 'fma' in flags else 'no'}"),
        f"- OS: {platform.platform()}",
    ]


def versions(threads: int) -> list[str]:
    import numpy as np
    import seqrnn

    lines = [f"- Python {platform.python_version()} ({sys.executable})"]
    try:
        blas = np.show_config(mode="dicts")["Build Dependencies"]["blas"]
        np_blas = f"{blas.get('name')} {blas.get('version')}"
    except (TypeError, KeyError, AttributeError):  # older numpy: no dict form
        np_blas = "unknown"
    coretype = os.environ.get("OPENBLAS_CORETYPE", "the library's own choice")
    lines.append(f"- NumPy {np.__version__} (BLAS: {np_blas}; OPENBLAS_CORETYPE {coretype})")
    try:
        root = Path(__file__).resolve().parent.parent
        commit = subprocess.run(["git", "-C", str(root), "rev-parse", "--short", "HEAD"],
                                capture_output=True, text=True, check=True).stdout.strip()
        dirty = subprocess.run(["git", "-C", str(root), "status", "--porcelain"],
                               capture_output=True, text=True, check=True).stdout.strip()
        commit = f", checkout {commit}{' with uncommitted changes' if dirty else ''}"
    except (OSError, subprocess.CalledProcessError):  # no git, or not a checkout
        commit = ""
    lines.append(f"- seqrnn {seqrnn.__version__}{commit}")
    try:
        import torch
    except ImportError:
        lines.append("- PyTorch: not installed (its columns are empty)")
    else:
        cfg = torch.__config__.show()
        keep = ("BLAS_INFO", "USE_MKL", "USE_MKLDNN", "USE_OPENMP")
        build = [kv for kv in cfg.replace(",", " ").split() if kv.split("=")[0] in keep]
        extra = [ln.strip(" -") for ln in cfg.splitlines()
                 if "Math Kernel Library" in ln or "CPU capability" in ln]
        lines.append(f"- PyTorch {torch.__version__} ({', '.join(build + extra)}), "
                     f"torch.get_num_threads() = {torch.get_num_threads()}")
    lines.append(f"- threads: {threads} for PyTorch, the BLAS libraries and seqrnn "
                 "(`seqrnn.set_num_threads`)")
    return lines


def report(args: argparse.Namespace, results: list[Any], impls: list[str],
           load: tuple[tuple[float, ...], tuple[float, ...]]) -> str:
    cmd = f"python {shlex.join(sys.argv)}"
    return "\n".join([
        "# Benchmarks", "",
        f"Written by `benchmarks/bench.py` on {time.strftime('%Y-%m-%d %H:%M %Z')} with:", "",
        f"```\n{cmd}\n```", "",
        "## Machine", "", *machine(),
        "- load average (1, 5, 15 min) at start {:.2f}, {:.2f}, {:.2f}; at end {:.2f}, {:.2f}, "
        "{:.2f}".format(*load[0], *load[1]), "",
        "## Software", "", *versions(args.threads), "",
        "## Method", "", METHOD.format(repeats=args.repeats, clock=CLOCKS[args.clock]), "",
        "```\n" + FLOP_MODEL + "\n```", "",
        "## Results", "", tables(results, impls),
    ])


OPENBLAS_CANDIDATES = ("Haswell", "Zen", "SkylakeX", "Cooperlake", "SapphireRapids")
PROBE = """
import time, numpy as np
a = np.random.default_rng(0).standard_normal((2048, 2048), dtype=np.float32)
a @ a
times = []
for _ in range(3):
    t = time.perf_counter(); a @ a; times.append(time.perf_counter() - t)
print(2 * 2048**3 / min(times) / 1e9)
"""


def pick_openblas_coretype(choice: str) -> None:
    """Sets ``OPENBLAS_CORETYPE`` before numpy loads: ``auto`` times a 2048x2048 product with each
    of OpenBLAS's x86-64 kernel sets in a subprocess and keeps the fastest (an environment may
    pin an older set, such as AVX2-only Haswell, on an AVX-512 machine)."""
    if choice == "env":
        return
    if choice != "auto":
        os.environ["OPENBLAS_CORETYPE"] = choice
        return
    if platform.machine() not in ("x86_64", "AMD64"):
        return
    rates = {}
    for name in OPENBLAS_CANDIDATES:
        env = {**os.environ, "OPENBLAS_CORETYPE": name}
        try:
            out = subprocess.run([sys.executable, "-c", PROBE], env=env, capture_output=True,
                                 text=True, check=True, timeout=120).stdout
            rates[name] = float(out.split()[-1])
        except (OSError, subprocess.SubprocessError, ValueError, IndexError):
            continue  # numpy missing, or a kernel set this OpenBLAS lacks
    if rates:
        best = max(rates, key=rates.__getitem__)
        os.environ["OPENBLAS_CORETYPE"] = best
        print("OpenBLAS kernels, 2048x2048 GFLOP/s: "
              + ", ".join(f"{k} {v:.0f}" for k, v in rates.items()) + f"; using {best}")


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ[var] = str(args.threads)  # read when the libraries load, so before numpy
    pick_openblas_coretype(args.openblas_coretype)
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    import _cases as cases  # imports numpy, seqrnn and (if installed) torch

    impls = [i for i in args.impls if i != "torch" or cases.torch is not None]
    if cases.torch is not None:
        cases.torch.set_num_threads(args.threads)
    cases.seqrnn.set_num_threads(args.threads)
    print(f"implementations: {', '.join(NAMES[i] for i in impls)}; threads {args.threads}; "
          f"repeats {args.repeats}; clock {args.clock}", flush=True)
    load0, results = os.getloadavg(), []
    for build in plan(args, cases, impls):
        t0 = time.perf_counter()
        case = build()
        res = measure(case, args.repeats, args.clock)
        results.append((case, res))
        parts = [f"{NAMES[k]} {fmt(r['median'])} ({fmt(r['min'])}-{fmt(r['max'])})"
                 for k, r in res.items()]
        ratio = speed_ratio(case, res)
        print(f"[{case.group} {case.label}] {case.unit}: " + " | ".join(parts)
              + (f" | seqrnn/PyTorch speed {ratio:.2f}x" if ratio else "")
              + f"  ({time.perf_counter() - t0:.0f} s)", flush=True)
    text = report(args, results, impls, (load0, os.getloadavg()))
    print("\n" + tables(results, impls))
    if args.write:
        Path(args.write).write_text(text + "\n")
        print(f"wrote {args.write}")


if __name__ == "__main__":
    main()
