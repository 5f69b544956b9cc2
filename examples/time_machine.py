"""The RNN chapter of Dive into Deep Learning on H. G. Wells' *The Time Machine*, with seqrnn.

Three settings (``--setting``):

- ``d2l-0.17``: first 10,000 characters, batch 32, 35 steps, one-hot input, hidden 512, SGD lr 1,
  clip 1, 500 epochs, sequential and random sampling (d2l reports perplexity 1.0 and 1.5).
- ``d2l-1.0``: overlapping 32-step windows, 10,000 training and 5,000 validation windows,
  batch 1024, hidden 32, SGD lr 1, clip 1, 100 epochs (d2l reports validation perplexity 7.4).
- ``book``: whole book, first 90% for training, last 10% for validation, batch 32, 35 steps,
  sequential, Adam; the best model by validation perplexity is kept.

The book is found via ``--data`` or ``$SEQRNN_DATA`` (the folder holding ``timemachine.txt``).
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import seqrnn


def corpus(data: str | None) -> tuple[np.ndarray, seqrnn.Vocab]:
    text = seqrnn.data.load_time_machine(data)
    tokens = seqrnn.tokenize(text, "char")
    vocab = seqrnn.Vocab(tokens)
    return np.asarray(vocab.encode(tokens), dtype=np.int64), vocab


def sample(lm: seqrnn.LanguageModel, vocab: seqrnn.Vocab) -> None:
    lm.vocab = vocab
    for prefix in ("time traveller", "traveller"):
        print(f"  {lm.predict(prefix, 50)!r}")


def d2l_017(data: str | None, epochs: int, progress: bool) -> None:
    ids, vocab = corpus(data)
    ids = ids[:10_000]
    for sampling in ("sequential", "random"):
        lm = seqrnn.LanguageModel(len(vocab), hidden_size=512, seed=0)
        h = lm.fit(ids, epochs, 32, 35, lr=1.0, clip=1.0, sampling=sampling, progress=progress,
                   seed=0)
        print(f"d2l 0.17, {sampling}: training perplexity {h.train_perplexity[-1]:.3f} after "
              f"{epochs} epochs in {h.total_seconds:.1f} s ({h.speed():,.0f} tokens/s)")
        sample(lm, vocab)


def d2l_10(data: str | None, epochs: int, progress: bool) -> None:
    ids, vocab = corpus(data)
    num_steps, num_train, num_val = 32, 10_000, 5_000
    train = ids[: num_train + num_steps]  # every offset of it starts one training window
    valid = ids[num_train: num_train + num_val + num_steps]
    lm = seqrnn.LanguageModel(len(vocab), hidden_size=32, seed=0)
    start = time.perf_counter()
    h = lm.fit(train, epochs, 1024, num_steps, lr=1.0, clip=1.0, sampling="windows",
               progress=progress, seed=0)
    # d2l 1.0 scores each validation window from a zero state: the same windows here.
    val_windows = np.lib.stride_tricks.sliding_window_view(valid, num_steps + 1)[:num_val]
    loss, _ = lm.loss_and_grads(val_windows[:, :-1], val_windows[:, 1:])
    print(f"d2l 1.0: training perplexity {h.train_perplexity[-1]:.3f}, validation perplexity "
          f"{np.exp(loss):.3f} after {epochs} epochs in {time.perf_counter() - start:.1f} s")
    sample(lm, vocab)


def book(data: str | None, epochs: int, progress: bool, hidden: int, lr: float) -> None:
    ids, vocab = corpus(data)
    split = int(0.9 * len(ids))
    lm = seqrnn.LanguageModel(len(vocab), hidden_size=hidden, seed=0)
    best, best_state, start = float("inf"), lm.state_dict(), time.perf_counter()

    def keep_best(epoch: int, metrics: dict[str, float]) -> None:
        nonlocal best, best_state
        ppl = metrics["valid_perplexity"]
        if ppl < best:
            best, best_state = ppl, lm.state_dict()
        print(f"  epoch {epoch + 1:3d}  {time.perf_counter() - start:6.1f} s  "
              f"train {metrics['train_perplexity']:.3f}  valid {ppl:.3f}")

    lm.fit(ids[:split], epochs, 32, 35, lr=lr, optimizer="adam", clip=1.0,
           valid=ids[split:], progress=progress, callback=keep_best, seed=0)
    lm.load_state_dict(best_state)
    print(f"book, hidden {hidden}: best validation perplexity {best:.3f}")
    sample(lm, vocab)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--setting", choices=["d2l-0.17", "d2l-1.0", "book"], default="d2l-0.17")
    p.add_argument("--data", help="folder or file of timemachine.txt (default: $SEQRNN_DATA)")
    p.add_argument("--epochs", type=int, help="default: 500, 100 and 30 for the three settings")
    p.add_argument("--hidden", type=int, default=256, help="hidden size of the book setting")
    p.add_argument("--lr", type=float, default=0.002, help="Adam learning rate (book setting)")
    p.add_argument("--progress", action="store_true")
    a = p.parse_args()
    if a.setting == "d2l-0.17":
        d2l_017(a.data, a.epochs or 500, a.progress)
    elif a.setting == "d2l-1.0":
        d2l_10(a.data, a.epochs or 100, a.progress)
    else:
        book(a.data, a.epochs or 30, a.progress, a.hidden, a.lr)


if __name__ == "__main__":
    main()
