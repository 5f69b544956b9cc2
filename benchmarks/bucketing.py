"""Training speed and quality of seq2seq translation with and without length bucketing.

d2l's fra-eng setting at 20,000 pairs: the first 20,000 pairs of ``fra-eng.txt``, the last
2,000 held out, vocabularies from the training pairs with ``min_freq=2``, 12 steps, embed 256,
hidden 256, 2 layers, batch 128, Adam lr 0.002, clip 1. Each run trains a fresh model (seed =
repeat number, the same for both settings) for ``--epochs`` epochs with ``fit(...,
bucketing=False)`` and with ``bucketing=True`` (each minibatch cut to its longest pair either
way) and reports training pairs/s (pairs x epochs over ``History.total_seconds``, validation
left out) and pairs per CPU second of the process (validation included: robust to a machine
shared with other work), the last validation perplexity and greedy held-out BLEU (k=2); the table gives the
median over ``--repeats`` runs.

    python benchmarks/bucketing.py [--epochs 3] [--repeats 3] [--threads 2] [--data DIR]
"""

from __future__ import annotations

import argparse
import os
import statistics
import time


def one_run(data, bucketing: bool, seed: int, epochs: int) -> dict[str, float]:
    import seqrnn
    from seqrnn.metrics import corpus_bleu

    train, valid = data.split()
    model = seqrnn.Seq2Seq(len(data.src_vocab), len(data.tgt_vocab), 256, 256, 2, seed=seed)
    cpu = time.process_time()
    history = model.fit(train, epochs=epochs, batch_size=128, lr=0.002, clip=1.0, valid=valid,
                        progress=False, seed=seed, bucketing=bucketing)
    cpu = time.process_time() - cpu
    translator = seqrnn.Translator(model, data.src_vocab, data.tgt_vocab, data.num_steps)
    preds = translator.translate([s for s, _ in valid.pairs])
    return {"pairs_per_s": len(train) * epochs / history.total_seconds,
            "pairs_per_cpu_s": len(train) * epochs / cpu,
            "valid_perplexity": history.valid_perplexity[-1],
            "bleu": corpus_bleu(preds, [t for _, t in valid.pairs])}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--epochs", type=int, default=3)
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--threads", type=int, default=2, help="seqrnn threads")
    p.add_argument("--data", default=None, help="folder or file of fra-eng.txt")
    args = p.parse_args()
    import seqrnn

    seqrnn.set_num_threads(args.threads)
    data = seqrnn.data.load_translation_pairs(args.data, num_examples=20_000, num_valid=2_000,
                                              min_freq=2, num_steps=12)
    results: dict[bool, list[dict[str, float]]] = {False: [], True: []}
    load0 = os.getloadavg()
    start = time.perf_counter()
    for seed in range(args.repeats):
        for bucketing in (False, True):
            r = one_run(data, bucketing, seed, args.epochs)
            results[bucketing].append(r)
            print(f"seed {seed} bucketing={bucketing}: {r['pairs_per_s']:,.0f} pairs/s, "
                  f"{r['pairs_per_cpu_s']:,.0f} pairs per CPU second, "
                  f"valid perplexity {r['valid_perplexity']:.2f}, BLEU {r['bleu']:.3f}",
                  flush=True)
    print(f"\n{args.repeats} runs each, {args.epochs} epochs, {args.threads} threads, "
          f"{time.perf_counter() - start:.0f} s; load average {load0} -> {os.getloadavg()}")
    print("\n| minibatches | training pairs/s | pairs per CPU s | validation perplexity | "
          "held-out BLEU |")
    print("|---|---|---|---|---|")
    for bucketing, name in ((False, "shuffled (cut to the longest pair)"),
                            (True, "`bucketing=True`")):
        med = {k: statistics.median(r[k] for r in results[bucketing])
               for k in ("pairs_per_s", "pairs_per_cpu_s", "valid_perplexity", "bleu")}
        print(f"| {name} | {med['pairs_per_s']:,.0f} | {med['pairs_per_cpu_s']:,.0f} | "
              f"{med['valid_perplexity']:.2f} | "
              f"{med['bleu']:.3f} |")


if __name__ == "__main__":
    main()
