"""d2l's seq2seq chapter with seqrnn's tanh RNN: English -> French on d2l's ``fra-eng.txt``.

The decoder attends to the encoder's states (``--attention additive``, d2l 11.4, the default);
``--attention none`` is d2l 10.7's plain encoder-decoder. ``--setting d2l`` (d2l 1.0): first 640 pairs, 512 for training and 128 held out, ``min_freq=2``,
embed 256, hidden 256, 2 layers, batch 128, 9 steps, Adam lr 0.005, clip 1, 50 epochs (d2l: 30;
the tanh RNN needs orthogonal recurrent weights and 50 epochs to match d2l's GRU); prints
the translations and BLEU (k=2) of d2l's four test sentences, greedy and with beam search.
``--setting large``: first 20,000 pairs, the last 2,000 held out, 12 steps, one layer (two
learn much less in minutes: held-out BLEU near 0.20 against 0.31), length-bucketed minibatches,
Adam lr 0.002 with a cosine schedule down to 0 over 30 epochs (about 4 minutes on two AVX-512
cores; ``--budget`` stops earlier); held-out mean BLEU and sacreBLEU, greedy and beam 4
(``--keep-best``: of the epoch with the lowest validation perplexity). ``--layers 2 --dropout
0.2 --schedule constant`` is d2l's network.

The file is found via ``--data`` or ``$SEQRNN_DATA`` (the folder holding ``fra-eng.txt``).
"""

from __future__ import annotations

import argparse
import time
from typing import Any

import numpy as np
import seqrnn
from seqrnn.metrics import bleu, corpus_bleu, sacrebleu

ENGLISH = ["go .", "i lost .", "he's calm .", "i'm home ."]
FRENCH = ["va !", "j'ai perdu .", "il est calme .", "je suis chez moi ."]


def d2l(args: argparse.Namespace) -> None:
    data = seqrnn.data.load_translation_pairs(args.data, num_examples=640, num_train=512,
                                              num_valid=128, min_freq=2, num_steps=9,
                                              vocab_from="all")
    scores = []
    for seed in args.seeds:
        model = seqrnn.Seq2Seq(len(data.src_vocab), len(data.tgt_vocab), 256, 256,
                               args.layers or 2,
                               context=args.context, seed=seed, init=args.init, dropout=args.dropout,
                               attention=args.attention)
        start = time.perf_counter()
        model.fit(data.subset(data.train), args.epochs or 50, 128, args.lr, clip=1.0,
                  progress=args.progress, seed=seed, schedule=args.schedule or "constant")
        tr = seqrnn.Translator(model, data.src_vocab, data.tgt_vocab, data.num_steps)
        print(f"seed {seed}: trained in {time.perf_counter() - start:.1f} s")
        for beam in (1, 4):
            outs = tr.translate(ENGLISH, beam_size=beam)
            s = [bleu(o, f) for o, f in zip(outs, FRENCH)]
            for e, o, b in zip(ENGLISH, outs, s):
                print(f"  beam {beam}: {e:<12} => {o:<24} BLEU {b:.3f}")
            if beam == 1:
                scores.append(sum(b == 1.0 for b in s))
    print(f"sentences at BLEU 1.000 (greedy) per seed: {scores}")


def large(args: argparse.Namespace) -> None:
    data = seqrnn.data.load_translation_pairs(args.data, num_examples=20_000, num_valid=2_000,
                                              min_freq=2, num_steps=args.num_steps)
    model = seqrnn.Seq2Seq(len(data.src_vocab), len(data.tgt_vocab), 256, 256, args.layers or 1,
                           context=args.context, seed=args.seeds[0], init=args.init,
                           dropout=args.dropout, attention=args.attention)
    train, valid = data.subset(data.train), data.subset(data.valid)
    start, budget = time.perf_counter(), args.budget or float("inf")
    tr = seqrnn.Translator(model, data.src_vocab, data.tgt_vocab, data.num_steps)
    pairs = [data.pairs[i] for i in data.valid]

    # --select-by-bleu: the first half of the held-out pairs picks the epoch (greedy BLEU after
    # each one), the second half, never used for choosing, scores it.
    pick, score = (pairs[:1000], pairs[1000:]) if args.select_by_bleu else ([], pairs)
    best: dict[str, Any] = {"bleu": -1.0}

    def stop(epoch: int, metrics: dict[str, float]) -> bool:
        line = (f"  epoch {epoch + 1}: {time.perf_counter() - start:.0f} s, train perplexity "
                f"{metrics['train_perplexity']:.2f}, valid perplexity "
                f"{metrics['valid_perplexity']:.2f}")
        if pick:
            b = corpus_bleu(tr.translate([s for s, _ in pick]), [t for _, t in pick])
            line += f", BLEU on the picking half {b:.3f}"
            if b > best["bleu"]:
                best.update(bleu=b, epoch=epoch + 1, weights=model.state_dict())
        print(line)
        return time.perf_counter() - start < budget

    history = model.fit(train, args.epochs or 30, 128, args.lr, clip=1.0, valid=valid,
                        progress=args.progress, callback=stop, seed=args.seeds[0],
                        keep_best=args.keep_best, schedule=args.schedule or "cosine",
                        bucketing=True)
    if args.keep_best:
        print(f"kept epoch {(history.best_epoch or 0) + 1} (valid perplexity "
              f"{history.best_valid_perplexity:.2f}) of {len(history.train_perplexity)}")
    if pick:
        model.load_state_dict(best["weights"])
        print(f"kept epoch {best['epoch']} (BLEU {best['bleu']:.3f} on the picking half) "
              f"of {len(history.train_perplexity)}")
    seconds = time.perf_counter() - start
    which = "the other half of the held-out pairs" if pick else "held-out pairs"
    for beam in (1, 4):
        outs = tr.translate([s for s, _ in score], beam_size=beam)
        refs = [t for _, t in score]
        print(f"d2l mean BLEU (k=2) on {which}, beam {beam}: {corpus_bleu(outs, refs):.3f}, "
              f"sacreBLEU {sacrebleu(outs, refs):.2f} after {seconds:.0f} s")
    for (s, t), o in list(zip(score, outs))[:8]:
        print(f"  {s} => {o}   [{t}]")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--setting", choices=["d2l", "large"], default="d2l")
    p.add_argument("--data", help="folder or file of fra-eng.txt (default: $SEQRNN_DATA)")
    p.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    p.add_argument("--epochs", type=int)
    p.add_argument("--lr", type=float, help="Adam learning rate (default: 0.005 d2l, 0.002 large)")
    p.add_argument("--init", default="orthogonal")
    p.add_argument("--context", help="concat or none (default: concat without attention)")
    p.add_argument("--attention", choices=["additive", "none"], default="additive",
                   help="additive: Bahdanau attention (d2l 11.4); none: d2l 10.7's plain design")
    p.add_argument("--layers", type=int, help="RNN layers on each side (default: 2 d2l, 1 large)")
    p.add_argument("--dropout", type=float, default=0.0, help="between stacked layers")
    p.add_argument("--schedule", choices=["constant", "cosine"],
                   help="learning rate (default: constant d2l, cosine over --epochs large)")
    p.add_argument("--budget", type=float,
                   help="large setting: stop after the epoch that passes this many seconds")
    p.add_argument("--num-steps", type=int, default=12)
    p.add_argument("--progress", action="store_true")
    p.add_argument("--keep-best", action="store_true",
                   help="large setting: keep the epoch with the lowest validation perplexity")
    p.add_argument("--select-by-bleu", action="store_true",
                   help="large setting: keep the epoch with the best greedy BLEU on half of the "
                        "held-out pairs, score it on the other half")
    args = p.parse_args()
    np.set_printoptions(precision=3)
    large_setting = args.setting == "large"
    if args.lr is None:
        args.lr = 0.002 if large_setting else 0.005
    (large if large_setting else d2l)(args)


if __name__ == "__main__":
    main()
