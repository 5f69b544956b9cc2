"""d2l 0.17's Time Machine setting with seqrnn and with PyTorch, side by side, at one
instruction-set level.

    python benchmarks/d2l_side_by_side.py --level avx2 [--epochs 500] [--threads 2] [--data DIR]

The setting of ``examples/time_machine.py --setting d2l-0.17``: the first 10,000 characters,
one-hot input, hidden 512, batch 32, 35 steps, SGD lr 1, gradients clipped at norm 1, 500
epochs, sequential sampling (state carried and detached) and random sampling (a zero state for
every minibatch). Both start from the same weights; PyTorch's minibatches come from seqrnn's
``batches`` (d2l's partitioning, a new random offset every epoch); PyTorch is eager ``nn.RNN`` + ``nn.Linear`` on the CPU
(``_torch_rnn.TorchLM``). The script runs itself in a child process with the level's caps set
before any library loads (as ``bench.py``: ``SEQRNN_MAX_ISA``, ``ATEN_CPU_CAPABILITY``,
``MKL_ENABLE_INSTRUCTIONS``, ``ONEDNN_MAX_CPU_ISA``) and prints, per sampling, the final training
perplexity and wall time of each, and their ratio.
"""

from __future__ import annotations

import argparse
import math
import os
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
STEPS, BATCH, HIDDEN, LR, CLIP = 35, 32, 512, 1.0, 1.0


def child(args: argparse.Namespace) -> None:
    import numpy as np
    import seqrnn
    import torch
    from seqrnn import _core

    sys.path.insert(0, str(HERE))
    from _torch_rnn import TorchLM

    seqrnn.set_num_threads(args.threads)
    torch.set_num_threads(args.threads)
    info = seqrnn.cpu_info()
    print(f"level {args.level}: seqrnn runs {info['isa']}; PyTorch "
          f"{torch.backends.cpu.get_cpu_capability()}; {args.threads} threads", flush=True)
    text = seqrnn.data.load_time_machine(args.data)
    tokens = seqrnn.tokenize(text, "char")
    vocab = seqrnn.Vocab(tokens)
    ids = np.asarray(vocab.encode(tokens), dtype=np.int64)[:10_000]
    for sampling in ("sequential", "random"):
        lm = seqrnn.LanguageModel(len(vocab), hidden_size=HIDDEN, seed=0)
        weights = lm.state_dict()
        start = time.perf_counter()
        h = lm.fit(ids, args.epochs, BATCH, STEPS, lr=LR, clip=CLIP, sampling=sampling,
                   progress=False, seed=0)
        ours = time.perf_counter() - start
        print(f"{sampling}: seqrnn perplexity {h.train_perplexity[-1]:.3f} in {ours:.1f} s",
              flush=True)
        model = TorchLM(weights)
        opt = torch.optim.SGD(model.parameters(), lr=LR)
        start, ppl = time.perf_counter(), float("nan")
        for epoch in range(args.epochs):
            xs, ys = _core.batches(ids, BATCH, STEPS, sampling, seed=epoch)  # (n, B, T)
            xs = torch.from_numpy(np.ascontiguousarray(xs.transpose(0, 2, 1)))  # (n, T, B)
            ys = torch.from_numpy(np.ascontiguousarray(ys.transpose(0, 2, 1)))
            state = torch.zeros(1, BATCH, HIDDEN)
            total = 0.0
            for x, y in zip(xs, ys, strict=True):
                if sampling == "random":
                    state = torch.zeros(1, BATCH, HIDDEN)
                loss, state = model.loss(x, y, state.detach())
                opt.zero_grad(set_to_none=True)
                loss.backward()
                torch.nn.utils.clip_grad_norm_(model.parameters(), CLIP)
                opt.step()
                total += loss.item()
            ppl = math.exp(total / len(xs))
        theirs = time.perf_counter() - start
        print(f"{sampling}: seqrnn perplexity {h.train_perplexity[-1]:.3f} in {ours:.1f} s; "
              f"PyTorch perplexity {ppl:.3f} in {theirs:.1f} s; seqrnn takes "
              f"{ours / theirs:.0%} of PyTorch's time ({theirs / ours:.2f}x)", flush=True)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--level", default=None, help="avx512, avx2 or generic (default: the widest)")
    p.add_argument("--epochs", type=int, default=500)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--data", default=None, help="folder of timemachine.txt ($SEQRNN_DATA)")
    p.add_argument("--_child", action="store_true", help=argparse.SUPPRESS)
    args = p.parse_args()
    if args._child:
        return child(args)
    sys.path.insert(0, str(HERE))
    import _isa_levels as isa

    levels, _ = isa.supported_levels()
    args.level = args.level or levels[0]
    if args.level not in levels:
        p.error(f"--level must be one of {', '.join(levels)} on this CPU, got {args.level!r}")
    env = isa.child_env(isa.level_env(args.level, None))
    for var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
        env[var] = str(args.threads)
    cmd = [sys.executable, __file__, "--_child", "--level", args.level, "--epochs",
           str(args.epochs), "--threads", str(args.threads)]
    if args.data:
        cmd += ["--data", args.data]
    sys.exit(subprocess.run(cmd, env=env, check=False).returncode)


if __name__ == "__main__":
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    main()
