"""Side-by-side speed of seqrnn, PyTorch (eager, CPU) and plain NumPy on the same RNN work.

Usage (from the repository root, with seqrnn installed; PyTorch is optional)::

    python benchmarks/bench.py                       # every case, 5 repeats, 2 threads
    python benchmarks/bench.py --quick               # smoke test: small sizes, once, ~2 min
    python benchmarks/bench.py --write BENCHMARKS.md # also write the report as markdown
    python benchmarks/bench.py --cases lm generate --repeats 9 --threads 2
    python benchmarks/bench.py --cases beam --impls seqrnn --levels avx512
    python benchmarks/bench.py --levels avx2 generic  # only these instruction-set levels

Options: ``--repeats N`` measurements per implementation and case (default 5; 1 with
``--quick``); ``--threads N`` threads for PyTorch (``torch.set_num_threads``) and for the BLAS
libraries (``OMP_NUM_THREADS``, ``OPENBLAS_NUM_THREADS``, ``MKL_NUM_THREADS``, set before numpy
loads) and for seqrnn (``seqrnn.set_num_threads``), default 2; ``--cases`` any of ``lm generate
seq2seq beam attention matmul`` (default all); ``--impls`` any of ``seqrnn torch numpy`` (default
all that import);
``--clock cpu`` times with the process's CPU time instead of wall time, which keeps single-thread
comparisons meaningful on a busy machine (the "CPU/wall" column shows how busy it was);
``--openblas-coretype auto`` (default) picks NumPy's OpenBLAS kernel set of each level (the
fastest of the level's sets that this OpenBLAS has; an environment may pin
``OPENBLAS_CORETYPE=Haswell``, AVX2 only), ``env`` keeps the environment's, any other value is
used as given (at every level); ``--levels`` any of ``avx512 avx2 generic`` that this CPU
supports (default: all it supports, widest first).

Instruction-set levels: every level runs the cases in a fresh process whose environment caps the
libraries before they load: seqrnn (``SEQRNN_MAX_ISA``), PyTorch (``ATEN_CPU_CAPABILITY``,
``MKL_ENABLE_INSTRUCTIONS``, ``ONEDNN_MAX_CPU_ISA``) and the float32 ceiling (NumPy's OpenBLAS
forced to a kernel set of the level with ``OPENBLAS_CORETYPE``); this process collects their
results into one report with a section per level and a cross-level summary (``_isa_levels.py``).

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
- ``beam``: seq2seq beam search (beam 4, alpha 0.75), ms per decoding step, at ``max_len`` 10
  and 50: the model of ``seq2seq`` (untrained), batch 64, with ``<eos>``'s output bias at -1e4
  so that every sentence runs all ``max_len`` steps; equal figures mean a step costs the same
  however long the hypotheses are. (seqrnn only.)
- ``attention``: encoder-decoder training with additive (Bahdanau) attention, sentence pairs/s:
  seqrnn's ``Seq2Seq(attention="additive")`` (tanh RNN) beside d2l 1.0's PyTorch GRU model of
  section 11.4 (``_torch_seq2seq.py``). Vocabularies 200, embedding and hidden 256, 2 layers, 10
  steps each side with valid lengths in 6..10, batch 128, masked loss, Adam lr 0.005, clipping,
  no dropout. The models differ (tanh RNN, GRU), so there is no cross-check; seqrnn's column
  stays empty when its build has no ``attention`` argument. (No NumPy version.)
- ``matmul``: float32 2048x2048 @ 2048x2048 with numpy's and PyTorch's BLAS, GFLOP/s; the
  higher median is the level's ceiling that the other cases are measured against.

Each measurement is prepared untimed (a fresh model from the same weights) and then timed
around the work alone. The implementations are interleaved (each round measures every
implementation once, the order rotated) and each case first checks that PyTorch and NumPy
compute seqrnn's loss and gradients. Medians are reported with min-max.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shlex
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any

import _isa_levels as isa

NAMES = {"seqrnn": "seqrnn", "torch": "PyTorch", "numpy": "NumPy"}
GROUPS = {  # group: (title, what the unit counts, higher is better)
    "lm": ("char-LM training", "tokens/s", True),
    "generate": ("single-stream generation latency", "us/token", False),
    "seq2seq": ("seq2seq training", "sentence pairs/s", True),
    "beam": ("beam search decoding", "ms/step", False),
    "attention": ("seq2seq training with additive attention", "sentence pairs/s", True),
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
- beam search, per step: batch x beam rows x [2*(E+H)*H + 2*H*H + 2*H*V] (decoder input,
  recurrence, output; the log-softmax and the sort of the candidates ignored).
- seq2seq training with additive attention (2 layers, tanh cells), per pair: 3 x [Ls*(2*E*H +
  2*H*H + 4*H*H + 2*H*H) + Lt*(2*H*H + 4*H*Ls) + Lt*(2*(E+H)*H + 2*H*H + 4*H*H + 2*H*V)]:
  encoder layers and the keys W_k, the query W_q with the scores and the weighted sum over Ls
  keys, decoder layers and output (PyTorch's GRU does about 3x the recurrent work).
- achieved GFLOP/s = FLOPs per token (or pair) x tokens (or pairs) per second; "of ceiling" is
  that divided by the best median float32 matmul GFLOP/s measured at the same level."""
METHOD = """\
Every implementation gets the same shapes, data and starting weights (seqrnn's, copied into the
others). Before timing, each case checks that PyTorch and NumPy reproduce seqrnn's loss and every
gradient on the first minibatch, and warms each implementation up. The measurements are
interleaved: {repeats} rounds, each measuring every implementation once, the order rotated from
round to round; each is prepared untimed (a fresh model) and timed by {clock} around the work
alone. Tables give the median (min-max) over the rounds; "seqrnn/PyTorch speed" is the ratio of
median speeds (>1: seqrnn is faster). The attention case is the exception: its two models
differ (seqrnn's tanh RNN, d2l's GRU in PyTorch), so each starts from its own seed-0 weights and
nothing is cross-checked.

- seqrnn: the public API, timed around `LanguageModel.fit(ids, epochs=1, ...,
  sampling="sequential", progress=False)` (tokens as reported in its history),
  `Seq2Seq.fit(data, epochs=1, ..., optimizer="sgd")`, `Seq2Seq(..., attention="additive")
  .fit(data, epochs=1, ...)` (Adam) and `generate(prefix, n, temperature=1.0)`; minibatch
  gathering and the binding's checks are included.
- PyTorch: eager float32 on CPU, `F.one_hot` + `nn.RNN` + `nn.Linear` + `F.cross_entropy` +
  `clip_grad_norm_` + `torch.optim.SGD`, timed around the epoch loop over prepared tensors;
  seq2seq adds `nn.Embedding`, `pack_padded_sequence` for the encoder and a masked loss;
  generation loops `rnn` + `linear` + `softmax` + `torch.multinomial` under `torch.no_grad()`;
  with attention, d2l 1.0's `Seq2SeqEncoder` and `Seq2SeqAttentionDecoder` (`nn.GRU`, additive
  attention stepped in a Python loop) trained by d2l's loop with `torch.optim.Adam`.
- NumPy: batched float32 BPTT with the recurrence in a Python loop, the one-hot input as a
  gather and its gradient as `np.add.at`; generation loops a matvec and samples by inverse CDF.
- "CPU/wall" is the process's CPU time over wall time during the measurements (columns in the
  table's order): about the number of threads at work on an idle machine; below 1 means the
  process was waiting for a core, i.e. the machine was busy and the numbers are less reliable.

Instruction-set levels ({levels}): each level runs every case in a fresh process whose
environment caps the libraries before they load: seqrnn by `SEQRNN_MAX_ISA`; PyTorch by
`ATEN_CPU_CAPABILITY` (ATen's vectorized kernels), `MKL_ENABLE_INSTRUCTIONS` (MKL: the matrix
products) and `ONEDNN_MAX_CPU_ISA` (oneDNN), MKL and oneDNN uncapped at `avx512` (MKL ignores
`MKL_ENABLE_INSTRUCTIONS` on non-Intel CPUs: there `generic` adds `MKL_CBWR=COMPATIBLE`, MKL's
SSE2 reproducibility branch, and `avx2` leaves MKL uncapped); the float32 ceiling of a level is
NumPy's OpenBLAS forced to a kernel set of that level (`OPENBLAS_CORETYPE`: the fastest AVX-512
set for `avx512`, the fastest AVX2 set for `avx2`, an SSE-only set for `generic`). Each level's
section lists its variables and what the libraries in that process reported."""


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--quick", action="store_true", help="small sizes, each case once (smoke test)")
    p.add_argument("--repeats", type=int, default=None, help="measurements per implementation")
    p.add_argument("--threads", type=int, default=2, help="PyTorch, BLAS and seqrnn threads")
    p.add_argument("--write", metavar="FILE", help="write the markdown report to FILE")
    p.add_argument("--openblas-coretype", default="auto", metavar="NAME",
                   help="OpenBLAS kernels for NumPy (OPENBLAS_CORETYPE); 'auto' keeps the "
                        "fastest of each level's kernel sets at 2048x2048, 'env' keeps the "
                        "environment's, any other name applies to every level")
    p.add_argument("--cases", nargs="+", choices=list(GROUPS), default=list(GROUPS))
    p.add_argument("--impls", nargs="+", choices=list(NAMES), default=list(NAMES))
    p.add_argument("--clock", choices=["wall", "cpu"], default="wall",
                   help="time base; 'cpu' (process CPU time) resists a busy machine, and is "
                   "meaningful only when everything runs on one thread")
    p.add_argument("--levels", nargs="+", choices=isa.LEVELS, metavar="L",
                   help="instruction-set levels to run, of " + ", ".join(isa.LEVELS)
                   + " (default: every level this CPU supports)")
    p.add_argument("--_child-level", dest="child_level", help=argparse.SUPPRESS)
    p.add_argument("--_child-out", dest="child_out", help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.repeats is None:
        args.repeats = 1 if args.quick else 5
    if args.repeats < 1 or args.threads < 1:
        p.error("--repeats and --threads must be positive")
    if args.child_level is None:  # the parent: which levels
        args.supported, args.levels_source = isa.supported_levels()
        wanted = set(args.levels or args.supported)
        if wanted - set(args.supported):
            bad = ", ".join(sorted(wanted - set(args.supported)))
            p.error(f"this CPU does not support level(s) {bad} (it supports "
                    f"{', '.join(args.supported)}, from {args.levels_source})")
        args.levels = [lvl for lvl in isa.LEVELS if lvl in wanted]
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
        "beam": [partial(cases.beam_search, n, 32 if q else 256) for n in (10, 50)],
        "attention": [partial(cases.attention_training, impls, seconds, 32 if q else 256)],
        "matmul": [partial(cases.matmul, impls, 256 if q else 2048)],
    }
    return [f for group in GROUPS if group in args.cases for f in out[group]]


def measure(case: Any, repeats: int, clock: str) -> dict[str, dict[str, Any]]:
    """Interleaved measurements: each round prepares (untimed) and times every implementation
    once, the order rotated from round to round."""
    names = list(case.run)  # empty when no implementation can run the case
    res: dict[str, dict[str, Any]] = {n: {"values": [], "cpu_wall": []} for n in names}
    for rnd in range(repeats if names else 0):
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


def speed_ratio(row: dict[str, Any]) -> float | None:
    """seqrnn's speed over PyTorch's (>1: seqrnn faster), from the medians."""
    res = row["res"]
    if "seqrnn" not in res or "torch" not in res:
        return None
    a, b = res["seqrnn"]["median"], res["torch"]["median"]
    return a / b if row["higher"] else b / a


def tables(rows: list[dict[str, Any]], impls: list[str]) -> str:
    """One markdown table per case group, from one level's rows."""
    peak, out = isa.ceiling(rows), []
    for group, (title, unit, higher) in GROUPS.items():
        grp = [r for r in rows if r["group"] == group]
        if not grp:
            continue
        cols = [i for i in impls if any(i in r["res"] for r in grp)]
        better = "higher" if higher else "lower"
        out.append(f"### {title} ({unit}, {better} is better)\n")
        head = ["case"] + [f"{NAMES[i]}" for i in cols]
        if group != "matmul":
            head += ["seqrnn/PyTorch speed", "seqrnn GFLOP/s", "of ceiling"]
        head += ["CPU/wall"]
        out += ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
        for row in grp:
            res = row["res"]
            cells = [row["label"]] + [
                f"{fmt(res[i]['median'])} ({fmt(res[i]['min'])}-{fmt(res[i]['max'])})"
                if i in res else "-" for i in cols]
            if group != "matmul":
                ratio, gf = row["ratio"], row["gflops"]
                cells += [f"{ratio:.2f}x" if ratio else "-", fmt(gf) if gf else "-",
                          f"{gf / peak:.1%}" if gf and peak else "-"]
            cells.append(" / ".join(f"{res[i]['cpu_wall']:.1f}" if i in res else "-" for i in cols))
            out.append("| " + " | ".join(cells) + " |")
        if group == "matmul" and peak:
            out.append(f"\nCeiling at this level: **{fmt(peak)} GFLOP/s**.")
        notes = [note for row in grp if (note := notes_line(row))]
        if notes:
            out += ["", "Checks and data:", "", *notes]
        out.append("")
    return "\n".join(out)


def notes_line(row: dict[str, Any]) -> str:
    """What was verified and measured besides speed, as a markdown list item."""
    notes = list(row["checks"])
    if row["perplexity"]:
        notes.append("training perplexity of the last epoch " + ", ".join(
            f"{NAMES[k]} {v:.2f}" for k, v in row["perplexity"].items()))
    return f"- {row['label']}: " + "; ".join(notes) if notes else ""


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
    """The software, without what a level sets (OpenBLAS's kernels, ATen's capability)."""
    import numpy as np
    import seqrnn

    lines = [f"- Python {platform.python_version()} ({sys.executable})"]
    try:
        blas = np.show_config(mode="dicts")["Build Dependencies"]["blas"]
        np_blas = f"{blas.get('name')} {blas.get('version')}"
    except (TypeError, KeyError, AttributeError):  # older numpy: no dict form
        np_blas = "unknown"
    lines.append(f"- NumPy {np.__version__} (BLAS: {np_blas})")
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
        extra = [ln.strip(" -") for ln in cfg.splitlines() if "Math Kernel Library" in ln]
        lines.append(f"- PyTorch {torch.__version__} ({', '.join(build + extra)}), "
                     f"torch.get_num_threads() = {torch.get_num_threads()}")
    lines.append(f"- threads: {threads} for PyTorch, the BLAS libraries and seqrnn "
                 "(`seqrnn.set_num_threads`)")
    return lines


def results(runs: list[dict[str, Any]]) -> str:
    """A section per level (what was capped, then its tables) and the cross-level summary."""
    out = []
    for run in runs:
        out += [f"## Level: {run['level']}", "", *isa.level_lines(run), ""]
        if "rows" in run:
            out.append(tables(run["rows"], run["impls"]))
        else:
            out += [f"**This level failed (exit status {run['failed']}); see the console.**", ""]
    return "\n".join(out + ["## Across levels", "", *isa.summary(runs, fmt)])


def report(args: argparse.Namespace, runs: list[dict[str, Any]],
           load: tuple[tuple[float, ...], tuple[float, ...]]) -> str:
    cmd = f"python {shlex.join(sys.argv)}"
    software = next((r["software"] for r in runs if "software" in r), ["- (no level completed)"])
    return "\n".join([
        "# Benchmarks", "",
        f"Written by `benchmarks/bench.py` on {time.strftime('%Y-%m-%d %H:%M %Z')} with:", "",
        f"```\n{cmd}\n```", "",
        "## Machine", "", *machine(),
        (f"- instruction-set levels: {', '.join(args.supported)} (from {args.levels_source}); "
         f"run here: {', '.join(args.levels)}"),
        "- load average (1, 5, 15 min) at start {:.2f}, {:.2f}, {:.2f}; at end {:.2f}, {:.2f}, "
        "{:.2f}".format(*load[0], *load[1]), "",
        "## Software", "", *software, "",
        "## Method", "", METHOD.format(repeats=args.repeats, clock=CLOCKS[args.clock],
                                       levels=", ".join(args.levels)), "",
        "```\n" + FLOP_MODEL + "\n```", "",
        results(runs),
    ])


def run_level(args: argparse.Namespace) -> None:
    """One level, in this process (capped by the parent through the environment): measures every
    case and writes the rows, the software and what the libraries report to ``--_child-out``."""
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    import _cases as cases  # imports numpy, seqrnn and (if installed) torch

    impls = [i for i in args.impls if i != "torch" or cases.torch is not None]
    if cases.torch is not None:
        cases.torch.set_num_threads(args.threads)
    cases.seqrnn.set_num_threads(args.threads)
    print(f"implementations: {', '.join(NAMES[i] for i in impls)}; threads {args.threads}; "
          f"repeats {args.repeats}; clock {args.clock}", flush=True)
    load0, rows = os.getloadavg(), []
    for build in plan(args, cases, impls):
        t0 = time.perf_counter()
        case = build()
        res = measure(case, args.repeats, args.clock)
        row = {"group": case.group, "title": GROUPS[case.group][0], "label": case.label,
               "unit": case.unit, "higher": GROUPS[case.group][2], "flops": case.flops,
               "checks": case.checks, "perplexity": case.perplexity, "res": res,
               "gflops": case.gflops(res["seqrnn"]["median"]) if "seqrnn" in res else None}
        row["ratio"] = ratio = speed_ratio(row)
        rows.append(row)
        parts = [f"{NAMES[k]} {fmt(r['median'])} ({fmt(r['min'])}-{fmt(r['max'])})"
                 for k, r in res.items()]
        print(f"[{args.child_level} {case.group} {case.label}] {case.unit}: " + " | ".join(parts)
              + (f" | seqrnn/PyTorch speed {ratio:.2f}x" if ratio else "")
              + f"  ({time.perf_counter() - t0:.0f} s)", flush=True)
    data = {"level": args.child_level, "impls": impls, "rows": rows,
            "load": [load0, os.getloadavg()], "software": versions(args.threads),
            "info": isa.child_info(args.child_level, cases.seqrnn, cases.torch)}
    Path(args.child_out).write_text(json.dumps(data, default=str))


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ[var] = str(args.threads)  # read when the libraries load, so before numpy
    if args.child_level:
        return run_level(args)
    load0 = os.getloadavg()
    size = 1024 if args.quick else 2048
    coretypes = isa.choose_coretypes(args.openblas_coretype, args.levels, size)
    passed = ["--repeats", str(args.repeats), "--threads", str(args.threads), "--clock",
              args.clock, "--cases", *args.cases, "--impls", *args.impls]
    runs: list[dict[str, Any]] = []
    for level in args.levels:
        caps = isa.level_env(level, coretypes[level][0])
        print(f"\n=== level {level}: {' '.join(f'{k}={v}' for k, v in caps.items())}", flush=True)
        with tempfile.TemporaryDirectory() as tmp:
            out = Path(tmp) / "level.json"
            cmd = [sys.executable, str(Path(__file__).resolve()), "--_child-level", level,
                   "--_child-out", str(out), *passed, *(["--quick"] if args.quick else [])]
            status = subprocess.run(cmd, env=isa.child_env(caps), check=False).returncode
            run = json.loads(out.read_text()) if status == 0 and out.exists() else {
                "level": level, "failed": status}
        runs.append({**run, "caps": caps, "how": coretypes[level][1]})
    text = report(args, runs, (load0, os.getloadavg()))
    print("\n" + results(runs))
    if args.write:
        Path(args.write).write_text(text + "\n")
        print(f"wrote {args.write}")
    if failed := [r["level"] for r in runs if "failed" in r]:
        raise SystemExit(f"bench.py: level(s) {', '.join(failed)} failed (see above)")


if __name__ == "__main__":
    main()
