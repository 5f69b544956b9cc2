"""The epoch loop shared by every ``fit``: progress bar, history, callbacks, responsiveness."""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any


@dataclass
class History:
    """Per-epoch metrics of a ``fit`` call (Keras-like ``history.history`` dict too)."""

    train_perplexity: list[float] = field(default_factory=list)
    valid_perplexity: list[float] = field(default_factory=list)
    tokens_per_second: list[float] = field(default_factory=list)
    seconds: list[float] = field(default_factory=list)

    @property
    def history(self) -> dict[str, list[float]]:
        """The metrics as a dict of lists, one entry per epoch."""
        return {
            "train_perplexity": self.train_perplexity,
            "valid_perplexity": self.valid_perplexity,
            "tokens_per_second": self.tokens_per_second,
            "seconds": self.seconds,
        }

    @property
    def epochs(self) -> int:
        """Number of completed epochs."""
        return len(self.train_perplexity)


def run_epochs(
    run: Callable[[int], tuple[int, int, float, bool]],
    epochs: int,
    progress: bool,
    validate: Callable[[], float] | None = None,
    callback: Callable[[int, dict[str, float]], Any] | None = None,
) -> History:
    """Call ``run(max_batches) -> (batches, tokens, loss_sum, epoch_done)`` until ``epochs``
    epochs are done. Each call is sized to take about 0.1 s, so Ctrl-C and the progress bar stay
    responsive while the GIL is released for the work itself."""
    from tqdm.auto import tqdm

    history = History()
    bar = tqdm(total=epochs, unit="epoch", disable=not progress, dynamic_ncols=True)
    chunk = 1
    try:
        for epoch in range(epochs):
            start = time.perf_counter()
            tokens, loss_sum, done = 0, 0.0, False
            while not done:
                t0 = time.perf_counter()
                batches, n, ls, done = run(chunk)
                per_batch = (time.perf_counter() - t0) / max(batches, 1)
                chunk = max(1, min(10_000, int(0.1 / max(per_batch, 1e-6))))
                tokens, loss_sum = tokens + n, loss_sum + ls
                elapsed = time.perf_counter() - start
                bar.set_postfix({"ppl": f"{math.exp(loss_sum / max(tokens, 1)):.3f}",
                                 "tok/s": f"{tokens / max(elapsed, 1e-9):,.0f}"}, refresh=False)
                bar.refresh()
            seconds = time.perf_counter() - start
            history.train_perplexity.append(math.exp(loss_sum / max(tokens, 1)))
            history.tokens_per_second.append(tokens / max(seconds, 1e-9))
            history.seconds.append(seconds)
            metrics = {"train_perplexity": history.train_perplexity[-1],
                       "tokens_per_second": history.tokens_per_second[-1]}
            if validate is not None:
                history.valid_perplexity.append(validate())
                metrics["valid_perplexity"] = history.valid_perplexity[-1]
            bar.update(1)
            summary = {"ppl": f"{metrics['train_perplexity']:.3f}",
                       "tok/s": f"{metrics['tokens_per_second']:,.0f}"}
            if "valid_perplexity" in metrics:
                summary["valid ppl"] = f"{metrics['valid_perplexity']:.3f}"
            bar.set_postfix(summary)
            if callback is not None and callback(epoch, metrics) is False:
                break
    finally:
        bar.close()
    return history
