"""Validation perplexity against wall time on the whole *Time Machine*, seqrnn and PyTorch side by side.

The setting of d2l's RNN chapter on the whole book: characters after d2l 1.0's preprocessing,
the first 90% for training and the last 10% for validation, batch 32, 35 steps, sequential
partitioning with the state carried, Adam, clip 1. Both implementations start from the same
weights and are scored by the same evaluation (32 parallel streams, state carried, every
validation character predicted from the ones before it). Each trains for ``--budget`` seconds of
wall time; the best validation perplexity is kept.

Learning-rate schedules: with ``--decay F --patience P`` seqrnn's ``fit`` runs its built-in
plateau schedule (``schedule={"name": "plateau", "factor": F, "patience": P, "threshold": 0,
"restore_best": True}``: the rate times F after more than P epochs without a better
validation perplexity, going back to the best epoch; ``--keep-going`` goes on from the current
weights instead, as PyTorch does) and PyTorch runs
``torch.optim.lr_scheduler.ReduceLROnPlateau`` with each ``--torch-plateau F,P`` given (its
rule is the same; it keeps the current weights), one 60 s run per setting, plus the plain
recipe without a schedule.

    python benchmarks/lm_quality.py [--budget 60] [--hidden 256] [--layers 1] [--lr 0.002]
        [--dropout 0.0] [--decay 0.3 --patience 1] [--torch-plateau 0.3,1 0.5,2 0.1,0]
        [--impls seqrnn torch] [--isa avx512|avx2|generic] [--data DIR] [--threads N]

``--isa`` caps both libraries' kernels (seqrnn's ``set_max_isa``, PyTorch's
``ATEN_CPU_CAPABILITY``; PyTorch calls its portable level ``default``). PyTorch is optional
(``pip install torch``); without it only seqrnn runs.
"""

from __future__ import annotations

import argparse
import math
import os
import time
from typing import Any

import numpy as np
import seqrnn


def corpus(data: str | None) -> tuple[np.ndarray, np.ndarray, int]:
    text = seqrnn.data.load_time_machine(data)
    tokens = seqrnn.tokenize(text, "char")
    vocab = seqrnn.Vocab(tokens)
    ids = np.asarray(vocab.encode(tokens), dtype=np.int64)
    split = int(0.9 * len(ids))
    return ids[:split], ids[split:], len(vocab)


def run_seqrnn(args: argparse.Namespace, train: np.ndarray, valid: np.ndarray,
               lm: seqrnn.LanguageModel) -> list[tuple[float, float]]:
    curve: list[tuple[float, float]] = []
    start = time.perf_counter()

    def record(epoch: int, metrics: dict[str, float]) -> bool:
        curve.append((time.perf_counter() - start, metrics["valid_perplexity"]))
        return curve[-1][0] < args.budget

    schedule = None if args.decay is None else {
        "name": "plateau", "factor": args.decay, "patience": args.patience, "threshold": 0.0,
        "restore_best": not args.keep_going}
    lm.fit(train, 100_000, 32, 35, lr=args.lr, optimizer="adam", clip=1.0, valid=valid,
           progress=False, callback=record, seed=0, schedule=schedule)
    return curve


def run_torch(args: argparse.Namespace, train: np.ndarray, valid: np.ndarray,
              weights: dict[str, Any], vocab: int,
              plateau: tuple[float, int] | None) -> list[tuple[float, float]]:
    import torch
    import torch.nn.functional as F
    from torch import nn

    torch.manual_seed(0)
    hidden = weights["rnn.weight_hh_l0"].shape[0]

    class Model(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.rnn = nn.RNN(vocab, hidden, args.layers, dropout=args.dropout)
            self.output = nn.Linear(hidden, vocab)

        def forward(self, x: torch.Tensor, h: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
            out, h = self.rnn(F.one_hot(x, vocab).to(torch.float32), h)  # (T, B, H)
            return self.output(out), h  # (T, B, V)

    model = Model()
    model.load_state_dict({k: torch.from_numpy(np.array(a)) for k, a in weights.items()})
    opt = torch.optim.Adam(model.parameters(), lr=args.lr)
    sched = None if plateau is None else torch.optim.lr_scheduler.ReduceLROnPlateau(
        opt, factor=plateau[0], patience=plateau[1], threshold=0.0)

    def perplexity() -> float:  # the same evaluation as seqrnn's LanguageModel.perplexity
        model.eval()
        rows, steps = 32, 64
        per_row = (len(valid) - 1) // rows
        streams = torch.from_numpy(valid[: rows * per_row + 1])
        h = torch.zeros(args.layers, rows, hidden)
        nll, count = 0.0, 0
        with torch.no_grad():
            for t0 in range(0, per_row, steps):
                n = min(steps, per_row - t0)
                idx = torch.arange(rows)[None, :] * per_row + t0 + torch.arange(n)[:, None]
                logits, h = model(streams[idx], h)  # (n, rows, V)
                nll += F.cross_entropy(logits.reshape(-1, vocab), streams[idx + 1].reshape(-1),
                                       reduction="sum").item()
                count += n * rows
        model.train()
        return math.exp(nll / count)

    curve: list[tuple[float, float]] = []
    start, epoch = time.perf_counter(), 0
    while not curve or curve[-1][0] < args.budget:
        h = torch.zeros(args.layers, 32, hidden)
        for x, y in seqrnn.data.seq_data_iter_sequential(train, 32, 35, seed=epoch):
            x_t, y_t = torch.from_numpy(x.T.copy()), torch.from_numpy(y.T.copy())  # (T, B)
            logits, h = model(x_t, h.detach())
            loss = F.cross_entropy(logits.reshape(-1, vocab), y_t.reshape(-1))
            opt.zero_grad()
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            opt.step()
        epoch += 1
        curve.append((time.perf_counter() - start, perplexity()))
        if sched is not None:
            sched.step(curve[-1][1])
    return curve


def summary(name: str, curve: list[tuple[float, float]]) -> str:
    best_t, best = min(curve, key=lambda c: c[1])
    below6 = next((t for t, p in curve if p < 6.0), math.nan)
    at_507 = next((t for t, p in curve if p <= 5.07), math.nan)
    return (f"| {name} | {below6:.1f} | {at_507:.1f} | {best:.3f} | {best_t:.1f} | {len(curve)} |")


def cpu_name() -> str:
    try:
        with open("/proc/cpuinfo") as f:
            return next(line.split(":", 1)[1].strip() for line in f if line.startswith("model name"))
    except (OSError, StopIteration):
        return "?"


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--budget", type=float, default=60.0, help="seconds of training per run")
    p.add_argument("--hidden", type=int, default=256)
    p.add_argument("--layers", type=int, default=1)
    p.add_argument("--dropout", type=float, default=0.0)
    p.add_argument("--lr", type=float, default=0.002)
    p.add_argument("--decay", type=float, default=None,
                   help="seqrnn: plateau schedule factor (default: no schedule)")
    p.add_argument("--patience", type=int, default=1, help="seqrnn: plateau schedule patience")
    p.add_argument("--keep-going", action="store_true",
                   help="seqrnn: reduce the rate from the current weights, as PyTorch does, "
                        "instead of going back to the best epoch")
    p.add_argument("--torch-plateau", nargs="*", default=[],
                   help="PyTorch ReduceLROnPlateau settings to try, as factor,patience")
    p.add_argument("--impls", nargs="+", default=["seqrnn", "torch"])
    p.add_argument("--isa", choices=["avx512", "avx2", "generic"], default=None)
    p.add_argument("--threads", type=int, default=None, help="PyTorch threads (default: its own)")
    p.add_argument("--data", help="folder of timemachine.txt (default: $SEQRNN_DATA)")
    args = p.parse_args()
    if args.isa is not None:
        seqrnn.set_max_isa(args.isa)
        os.environ["ATEN_CPU_CAPABILITY"] = {"generic": "default"}.get(args.isa, args.isa)
    train, valid, vocab = corpus(args.data)
    lm = seqrnn.LanguageModel(vocab, args.hidden, args.layers, seed=0, dropout=args.dropout)
    weights = lm.state_dict()
    curves = {}
    if "seqrnn" in args.impls:
        name = "seqrnn" + ("" if args.decay is None else
                           f", plateau schedule (factor {args.decay}, patience {args.patience}"
                           + ("" if args.keep_going else ", restore_best") + ")")
        curves[name] = run_seqrnn(args, train, valid, lm)
    if "torch" in args.impls:
        try:
            import torch
        except ImportError:
            print("PyTorch is not installed: skipped")
        else:
            if args.threads:
                torch.set_num_threads(args.threads)
            settings = [None] + [(float(f), int(q)) for f, q in
                                 (x.split(",") for x in args.torch_plateau)]
            for plateau in settings:
                name = "PyTorch" + ("" if plateau is None else
                                    f", ReduceLROnPlateau (factor {plateau[0]}, patience "
                                    f"{plateau[1]})")
                curves[name] = run_torch(args, train, valid, weights, vocab, plateau)
    info = seqrnn.cpu_info()
    print(f"CPU {cpu_name()}, seqrnn level {info['isa']}"
          + (f", PyTorch ATEN_CPU_CAPABILITY={os.environ['ATEN_CPU_CAPABILITY']}"
             if "ATEN_CPU_CAPABILITY" in os.environ else ""))
    print(f"hidden {args.hidden}, {args.layers} layer(s), dropout {args.dropout}, Adam lr {args.lr}, "
          f"budget {args.budget:.0f} s, {len(train):,} training / {len(valid):,} validation chars")
    print("| implementation | s to valid ppl < 6.0 | s to <= 5.07 | best valid ppl | at s | epochs |")
    print("|---|---|---|---|---|---|")
    for name, curve in curves.items():
        print(summary(name, curve))
    for name, curve in curves.items():
        print(f"{name}: " + ", ".join(f"{t:.0f}s {p:.2f}" for t, p in curve))


if __name__ == "__main__":
    main()
