"""English -> French translation quality of seqrnn and PyTorch side by side, with attention.

Both implementations see the same data (``seqrnn.data.load_translation_pairs``: the same pairs,
vocabularies and ids), run one after the other in one process, and are scored by the same
code. seqrnn trains ``seqrnn.Seq2Seq(..., attention="additive")`` (a tanh RNN with d2l 1.0's
Bahdanau attention; ``--attention none`` is its plain design with the context concatenated);
PyTorch trains d2l 1.0's models written out in ``_torch_seq2seq.py`` (``--torch-rnn gru|rnn``,
``--torch-attention additive|none``).

Usage (from the repository root; PyTorch is needed for the ``torch`` side)::

    python benchmarks/translate_quality.py --setting d2l             # seeds 0 1 2, 30 epochs
    python benchmarks/translate_quality.py --setting d2l --epochs 3 --seeds 0 --impls torch
    python benchmarks/translate_quality.py --setting large --budget 240

``--setting d2l`` (d2l 1.0 section 11.4): the first 640 pairs, 512 train and 128 held out,
vocabularies from all 640, ``min_freq`` 2, 9 steps, embed and hidden 256, 2 layers, dropout
0.2, batch 128, Adam lr 0.005, clip 1, 30 epochs; per seed the training seconds, d2l's four
sentences greedily translated with their d2l-BLEU (k=2), how many reach BLEU 1.0, and the mean
d2l-BLEU on the 128 held-out pairs.

``--setting large``: the first 20,000 pairs, the last 2,000 held out, vocabularies from the
training pairs, ``min_freq`` 2, 12 steps, the same network, Adam lr 0.002; epochs until
``--budget`` seconds of training are spent (checked after each epoch), then greedy
translations of the held-out pairs scored by the mean d2l-BLEU (``seqrnn.metrics.corpus_bleu``)
and a sacreBLEU-compatible corpus BLEU (``seqrnn.metrics.sacrebleu`` where it exists, else the
``sacrebleu`` package's ``corpus_bleu`` with its defaults, 13a tokens and exp smoothing, on the
preprocessed lower-case text, 0-100; skipped with a note when neither is there); epochs done and
training pairs/s.

Options: ``--threads N`` for both (``torch.set_num_threads``, ``seqrnn.set_num_threads``),
``--impls seqrnn torch``, ``--seeds``, ``--epochs``, ``--lr``, ``--dropout``, ``--budget``,
``--init`` (seqrnn's recurrent init), ``--layers`` and ``--torch-layers`` (each side's RNN
layers, 2 as d2l by default), ``--schedule cosine`` (seqrnn's learning rate down to 0 over
``--epochs``; the budget still stops training), ``--bucketing`` (seqrnn's
``fit(bucketing=True)``), ``--torch-init d2l|xavier`` (``xavier`` also gives the linear layers
``xavier_uniform_``), ``--data`` (folder or file of ``fra-eng.txt``, default
``$SEQRNN_DATA``), ``--json FILE`` for the results.
"""

from __future__ import annotations

import argparse
import inspect
import json
import math
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import seqrnn
from seqrnn.metrics import bleu, corpus_bleu

ENGLISH = ["go .", "i lost .", "he's calm .", "i'm home ."]
FRENCH = ["va !", "j'ai perdu .", "il est calme .", "je suis chez moi ."]
EMBED, HIDDEN, BATCH, CLIP = 256, 256, 128, 1.0
NAMES = {"seqrnn": "seqrnn", "torch": "PyTorch"}

Translate = Callable[[list[str]], list[str]]


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--setting", choices=["d2l", "large"], default="d2l")
    p.add_argument("--impls", nargs="+", choices=list(NAMES), default=list(NAMES))
    p.add_argument("--data", help="folder or file of fra-eng.txt (default: $SEQRNN_DATA)")
    p.add_argument("--seeds", type=int, nargs="+", help="default: 0 1 2 (d2l), 0 (large)")
    p.add_argument("--epochs", type=int, help="d2l setting (default 30)")
    p.add_argument("--lr", type=float, help="Adam learning rate (default: 0.005 d2l, 0.002 large)")
    p.add_argument("--dropout", type=float, default=0.2)
    p.add_argument("--layers", type=int, default=2, help="seqrnn's RNN layers (d2l: 2)")
    p.add_argument("--torch-layers", type=int, default=2, help="PyTorch's RNN layers (d2l: 2)")
    p.add_argument("--schedule", choices=["constant", "cosine"], default="constant",
                   help="seqrnn's learning-rate schedule (cosine: down to 0 over --epochs)")
    p.add_argument("--budget", type=float, default=240.0, help="training seconds (large)")
    p.add_argument("--threads", type=int, default=2, help="threads of both implementations")
    p.add_argument("--attention", choices=["additive", "none"], default="additive",
                   help="seqrnn's decoder: Bahdanau attention or the concatenated context")
    p.add_argument("--init", default="orthogonal", help="seqrnn's recurrent init")
    p.add_argument("--bucketing", action="store_true",
                   help="seqrnn: minibatches of pairs of similar lengths (fit(bucketing=True))")
    p.add_argument("--torch-rnn", choices=["gru", "rnn"], default="gru")
    p.add_argument("--torch-attention", choices=["additive", "none"], default="additive")
    p.add_argument("--torch-init", choices=["d2l", "xavier"], default="d2l")
    p.add_argument("--json", metavar="FILE", help="also write the results as JSON")
    args = p.parse_args(argv)
    large = args.setting == "large"
    args.seeds = args.seeds or ([0] if large else [0, 1, 2])
    args.lr = args.lr if args.lr is not None else (0.002 if large else 0.005)
    args.epochs = args.epochs or (10_000 if large else 30)  # large: until the budget
    if min(args.threads, args.epochs, args.layers, args.torch_layers) < 1 or args.budget <= 0:
        p.error("--threads, --epochs, --layers, --torch-layers and --budget must be positive")
    if args.schedule == "cosine" and large and args.epochs == 10_000:
        p.error("--schedule cosine needs --epochs (the epochs it decays over)")
    return args


def load(args: argparse.Namespace) -> Any:
    """The setting's ``TranslationData``: the same pairs, vocabularies and ids for both."""
    if args.setting == "d2l":
        return seqrnn.data.load_translation_pairs(
            args.data, num_examples=640, num_train=512, num_valid=128, min_freq=2,
            num_steps=9, vocab_from="all")
    return seqrnn.data.load_translation_pairs(
        args.data, num_examples=20_000, num_valid=2_000, min_freq=2, num_steps=12,
        vocab_from="train")


def train_seqrnn(args: argparse.Namespace, data: Any, seed: int, budget: float | None
                 ) -> tuple[dict[str, Any], Translate | None]:
    """seqrnn's model trained on ``data``'s training rows; ``None`` (and a note) when this
    build of seqrnn has no ``attention`` argument."""
    sizes = (len(data.src_vocab), len(data.tgt_vocab), EMBED, HIDDEN, args.layers)
    if args.attention == "none":
        design = {"context": "concat"}
    elif "attention" in inspect.signature(seqrnn.Seq2Seq).parameters:
        design = {"attention": "additive"}
    else:
        return {"note": f"skipped: seqrnn {seqrnn.__version__} has no Seq2Seq(attention=...)"}, None
    model = seqrnn.Seq2Seq(*sizes, seed=seed, init=args.init, dropout=args.dropout, **design)
    start = time.perf_counter()

    def report(epoch: int, metrics: dict[str, float]) -> bool:
        seconds = time.perf_counter() - start
        print(f"    seqrnn epoch {epoch + 1}: train perplexity "
              f"{metrics['train_perplexity']:.2f}, {seconds:.0f} s", flush=True)
        return budget is None or seconds < budget

    history = model.fit(data.subset(data.train), args.epochs, BATCH, args.lr, clip=CLIP,
                        progress=False, seed=seed, callback=report, bucketing=args.bucketing,
                        schedule=args.schedule)
    seconds = time.perf_counter() - start
    tr = seqrnn.Translator(model, data.src_vocab, data.tgt_vocab, data.num_steps)
    info = {"design": f"tanh RNN, {args.layers} layers, {design}, {args.schedule} lr",
            "epochs": history.epochs, "seconds": seconds,
            "pairs_per_s": history.epochs * len(data.train) / seconds,
            "last_train_perplexity": history.train_perplexity[-1]}
    return info, lambda sentences: list(tr.translate(sentences))


def train_torch(args: argparse.Namespace, data: Any, seed: int, budget: float | None
                ) -> tuple[dict[str, Any], Translate | None]:
    """d2l's PyTorch model trained on ``data``'s training rows."""
    import _torch_seq2seq as ts
    import torch

    torch.manual_seed(seed)  # initialisation, shuffling and dropout
    model = ts.TorchSeq2Seq(len(data.src_vocab), len(data.tgt_vocab), EMBED, HIDDEN,
                            args.torch_layers, args.dropout, args.torch_rnn, args.torch_attention, args.torch_init)
    train = data.subset(data.train)
    arrays = ts.as_tensors((train.src, train.src_valid_len, train.tgt_in, train.tgt_out,
                            train.tgt_valid_len))

    def report(epoch: int, loss: float, seconds: float) -> None:
        print(f"    PyTorch epoch {epoch + 1}: train perplexity {math.exp(loss):.2f} (of the "
              f"mean minibatch loss), {seconds:.0f} s", flush=True)

    done = ts.train(model, arrays, args.epochs, BATCH, args.lr, CLIP, budget, report)
    info = {"design": f"{args.torch_rnn.upper()}, {args.torch_layers} layers, attention "
                      f"{args.torch_attention}, "
                      f"init {args.torch_init}",
            "epochs": done["epochs"], "seconds": done["seconds"],
            "pairs_per_s": done["pairs"] / done["seconds"],
            "last_train_perplexity": math.exp(done["losses"][-1])}
    return info, lambda sentences: ts.translate(model, data, sentences)


TRAINERS = {"seqrnn": train_seqrnn, "torch": train_torch}


def d2l_sentences(translate: Translate) -> dict[str, Any]:
    """d2l's four sentences: translations, d2l-BLEU (k=2) and how many score 1.0."""
    outs = translate(ENGLISH)
    scores = [bleu(o, f, k=2) for o, f in zip(outs, FRENCH, strict=True)]
    for e, o, s in zip(ENGLISH, outs, scores, strict=True):
        print(f"    {e:<12} => {o:<24} BLEU {s:.3f}")
    return {"translations": outs, "bleu": scores, "at_1": sum(s == 1.0 for s in scores)}


def held_out(translate: Translate, pairs: list[tuple[str, str]]) -> dict[str, Any]:
    """Greedy translations of held-out pairs: mean d2l-BLEU and sacreBLEU's corpus BLEU."""
    outs = translate([s for s, _ in pairs])
    refs = [t for _, t in pairs]
    res: dict[str, Any] = {"pairs": len(pairs), "d2l_bleu": corpus_bleu(outs, refs, k=2)}
    sacre = getattr(seqrnn.metrics, "sacrebleu", None)
    if sacre is not None:
        res["sacrebleu"] = float(sacre(outs, refs))
    else:
        try:
            import sacrebleu
        except ImportError:
            res["sacrebleu_note"] = "sacreBLEU skipped: neither seqrnn.metrics.sacrebleu nor " \
                                    "the sacrebleu package is available"
        else:
            # the text is d2l-preprocessed (punctuation split off): force stops the warning
            res["sacrebleu"] = sacrebleu.corpus_bleu(outs, [refs], force=True).score
    for (s, t), o in list(zip(pairs, outs, strict=True))[:4]:
        print(f"    {s} => {o}   [{t}]")
    return res


def run(args: argparse.Namespace) -> list[dict[str, Any]]:
    """Every seed, every implementation, one after the other, on the same data."""
    data = load(args)
    pairs = [data.pairs[i] for i in data.valid]
    budget = args.budget if args.setting == "large" else None
    print(f"{args.setting} setting: {len(data.train)} training and {len(pairs)} held-out pairs, "
          f"vocabularies {len(data.src_vocab)} / {len(data.tgt_vocab)}, {data.num_steps} steps, "
          f"lr {args.lr}, dropout {args.dropout}, "
          + (f"budget {budget:.0f} s" if budget else f"{args.epochs} epochs"), flush=True)
    results = []
    for seed in args.seeds:
        for impl in args.impls:
            print(f"  {NAMES[impl]}, seed {seed}:", flush=True)
            info, translate = TRAINERS[impl](args, data, seed, budget)
            row = {"impl": impl, "seed": seed, **info}
            if translate is not None:
                print(f"    trained {info['epochs']} epochs in {info['seconds']:.1f} s "
                      f"({info['pairs_per_s']:.0f} pairs/s)", flush=True)
                if args.setting == "d2l":
                    row["sentences"] = d2l_sentences(translate)
                row["held_out"] = held_out(translate, pairs)
            else:
                print(f"    {info['note']}", flush=True)
            results.append(row)
    return results


def summary(args: argparse.Namespace, results: list[dict[str, Any]]) -> list[str]:
    """One line per implementation and seed."""
    lines = []
    for r in results:
        if "note" in r:
            lines.append(f"{NAMES[r['impl']]:<8} seed {r['seed']}: {r['note']}")
            continue
        h = r["held_out"]
        line = (f"{NAMES[r['impl']]:<8} seed {r['seed']}: {r['epochs']} epochs, "
                f"{r['seconds']:.1f} s, {r['pairs_per_s']:.0f} pairs/s, held-out d2l-BLEU "
                f"{h['d2l_bleu']:.3f}")
        if "sacrebleu" in h:
            line += f", sacreBLEU {h['sacrebleu']:.1f}"
        if "sentences" in r:
            line += f", d2l's sentences at BLEU 1.0: {r['sentences']['at_1']}/4"
        lines.append(line)
    notes = {r["held_out"].get("sacrebleu_note") for r in results if "held_out" in r} - {None}
    return lines + sorted(n for n in notes if n)


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    seqrnn.set_num_threads(args.threads)
    if "torch" in args.impls:
        import torch

        torch.set_num_threads(args.threads)
    results = run(args)
    print("\n" + "\n".join(summary(args, results)))
    if args.json:
        Path(args.json).write_text(json.dumps({"args": vars(args), "results": results},
                                              indent=1))
        print(f"wrote {args.json}")


if __name__ == "__main__":
    main()
