"""The epoch loop shared by every ``fit``: progress bar, history, callbacks, checkpoints,
keeping the best epoch, responsiveness."""

from __future__ import annotations

import math
import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from . import _validate as v


def perplexity(loss: float) -> float:
    """``exp(loss)`` of a mean cross-entropy in nats, ``inf`` where that exceeds the largest
    float (a loss above about 709.78) instead of an ``OverflowError``.

    Example:
        >>> perplexity(0.0), perplexity(1000.0)
        (1.0, inf)
    """
    try:
        return math.exp(loss)
    except OverflowError:
        return math.inf


BEST = "best."  # checkpoint tensors: the best parameters so far, for keep_best (checked by the core)


@dataclass
class History:
    """Per-epoch metrics of a ``fit`` call (Keras-like ``history.history`` dict too).

    ``seconds`` and ``tokens_per_second`` are each epoch's training time (validation left out)
    and speed; :attr:`total_seconds` and :meth:`speed` are the whole run's, the figures the
    progress bar, the CLI's summary line and its ``--json`` show. ``best_epoch`` is the 0-based
    epoch with the lowest validation perplexity (``best_valid_perplexity``), ``None`` without
    validation data.

    Example:
        >>> import seqrnn
        >>> lm = seqrnn.LanguageModel(vocab_size=4, hidden_size=8, seed=0)
        >>> ids = np.arange(200) % 4
        >>> h = lm.fit(ids, epochs=3, batch_size=2, num_steps=10, lr=0.05, optimizer="adam",
        ...            valid=ids[:50], progress=False, seed=0)
        >>> h.epochs, sorted(h.history), h.best_epoch
        (3, ['seconds', 'tokens_per_second', 'train_perplexity', 'valid_perplexity'], 2)
    """

    train_perplexity: list[float] = field(default_factory=list)
    valid_perplexity: list[float] = field(default_factory=list)
    tokens_per_second: list[float] = field(default_factory=list)
    seconds: list[float] = field(default_factory=list)
    best_epoch: int | None = None
    best_valid_perplexity: float | None = None

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

    @property
    def total_seconds(self) -> float:
        """Training time of all the epochs, in seconds (validation left out).

        Example:
            >>> History(seconds=[1.5, 2.5]).total_seconds
            4.0
        """
        return math.fsum(self.seconds)

    def speed(self, tokens: int = 0, seconds: float = 0.0) -> float:
        """Tokens per second over all the epochs, plus ``tokens`` in ``seconds`` of an epoch in
        progress: total tokens over :attr:`total_seconds` (not a mean of per-epoch speeds).

        Example:
            >>> History(tokens_per_second=[100.0, 300.0], seconds=[2.0, 1.0]).speed()
            166.66666666666666
            >>> History().speed(tokens=50, seconds=0.5)
            100.0
        """
        done = sum(round(r * s) for r, s in zip(self.tokens_per_second, self.seconds))
        return (done + tokens) / max(self.total_seconds + seconds, 1e-9)


@dataclass(frozen=True)
class Saving:
    """The checkpoint and keep-best arguments of ``fit``, checked."""

    checkpoint: str | None = None
    every: int = 1
    every_steps: int | None = None
    resume_from: str | None = None
    keep_best: bool = False
    best_path: str | None = None
    seed_given: bool = False

    @classmethod
    def of(cls, checkpoint: Any, checkpoint_every: Any, checkpoint_every_steps: Any,
           resume: Any, keep_best: Any, best_path: Any, has_valid: bool,
           seed: int | None) -> Saving:
        path = None if checkpoint is None else os.fspath(checkpoint)
        if isinstance(resume, bool):
            if resume and path is None:
                raise ValueError("resume=True needs checkpoint=<path> (or pass resume=<path>)")
            # Like Keras' BackupAndRestore: resume when the file exists, else start afresh.
            resume_from = path if resume and os.path.exists(path or "") else None
        else:
            resume_from = os.fspath(resume)
        if (keep_best or best_path is not None) and not has_valid:
            raise ValueError("keep_best and best_path need validation data to rank epochs by "
                             "validation perplexity")
        steps = checkpoint_every_steps
        return cls(path, v.positive_int(checkpoint_every, "checkpoint_every"),
                   None if steps is None else v.positive_int(steps, "checkpoint_every_steps"),
                   resume_from, bool(keep_best),
                   None if best_path is None else os.fspath(best_path), seed is not None)


def run_epochs(
    trainer: Any,
    model: Any,
    epochs: int,
    progress: bool,
    validate: Callable[[], float] | None = None,
    callback: Callable[[int, dict[str, float]], Any] | None = None,
    saving: Saving | None = None,
    save_best: Callable[[str], None] | None = None,
) -> History:
    """Train ``model`` (a Python model class over ``model._core``) with the compiled
    ``trainer`` until ``epochs`` epochs are done in all (counting those of a resumed run).

    Each ``trainer.run(core, max_batches) -> (batches, tokens, loss_sum, epoch_done)`` call is
    sized to take about 0.1 s, so Ctrl-C and the progress bar stay responsive while the GIL
    is released for the work itself; a ``KeyboardInterrupt`` arrives between calls, with the
    model whole and savable. Other threads may use the model meanwhile (the trainer works on a
    copy); a second ``fit`` of the same model at once is a ``RuntimeError``."""
    lock = _fit_lock(model)
    if not lock.acquire(blocking=False):
        raise RuntimeError(f"this {type(model).__name__} is already being trained by fit in "
                           "another thread; wait for that fit to return")
    try:
        return _run_epochs(trainer, model, epochs, progress, validate, callback,
                           saving or Saving(), save_best)
    finally:
        lock.release()


def _fit_lock(model: Any) -> threading.Lock:
    """The lock that makes a second ``fit`` of ``model`` at once an error, one per process.

    Locks live in ``model.__dict__["_fit_lock"]`` keyed by process id: a child forked while a
    thread of its parent was inside ``fit`` inherits that lock held, by a thread that does not
    exist in the child, so the child takes a fresh lock of its own (and drops the inherited
    ones, which nothing in it can release). ``dict.setdefault`` is atomic, so two threads of a
    process always get the same lock; no lock guards the locks, so none can be left held."""
    locks: dict[int, threading.Lock] = model.__dict__.setdefault("_fit_lock", {})
    pid = os.getpid()
    lock = locks.setdefault(pid, threading.Lock())
    for other in [p for p in list(locks) if p != pid]:
        locks.pop(other, None)
    return lock


def _run_epochs(trainer: Any, model: Any, epochs: int, progress: bool,
                validate: Callable[[], float] | None,
                callback: Callable[[int, dict[str, float]], Any] | None, saving: Saving,
                save_best: Callable[[str], None] | None) -> History:
    from tqdm.auto import tqdm

    core, history = model._core, History()
    best: dict[str, Any] | None = None
    tokens, loss_sum, seconds_before = 0, 0.0, 0.0  # the epoch in progress
    if saving.resume_from is not None:
        # The core checks the record's schema and the best tensors before anything changes.
        record, extra = trainer.resume(core, saving.resume_from, saving.seed_given)
        if record is not None:
            train, valid, speed, secs, best_epoch, best_valid, partial = record
            history = History(train, valid, speed, secs, best_epoch, best_valid)
            tokens, loss_sum, seconds_before = partial
        best = {k[len(BEST):]: a for k, a in extra.items() if k.startswith(BEST)} or None

    def write_checkpoint(partial: tuple[int, float, float]) -> None:
        assert saving.checkpoint is not None
        h = history
        record = (h.train_perplexity, h.valid_perplexity, h.tokens_per_second, h.seconds,
                  h.best_epoch, h.best_valid_perplexity, partial)
        extra = {BEST + k: a for k, a in (best or {}).items()} if saving.keep_best else {}
        trainer.checkpoint(core, saving.checkpoint, record, extra)

    every_steps = saving.every_steps
    bar = tqdm(total=epochs, initial=min(trainer.epochs, epochs), unit="epoch",
               disable=not progress, dynamic_ncols=True)
    chunk = 1
    try:
        for epoch in range(trainer.epochs, epochs):
            start = time.perf_counter() - seconds_before
            done = False
            while not done:
                n = chunk if every_steps is None else min(chunk,
                                                          every_steps - trainer.steps % every_steps)
                t0 = time.perf_counter()
                batches, nt, ls, done = trainer.run(core, n)
                per_batch = (time.perf_counter() - t0) / max(batches, 1)
                chunk = max(1, min(10_000, int(0.1 / max(per_batch, 1e-6))))
                tokens, loss_sum = tokens + nt, loss_sum + ls
                elapsed = time.perf_counter() - start
                if (saving.checkpoint is not None and every_steps is not None and not done
                        and trainer.steps % every_steps == 0):
                    write_checkpoint((tokens, loss_sum, elapsed))
                loss = loss_sum / max(tokens, 1)
                bar.set_postfix({"loss": f"{loss:.4f}", "ppl": f"{perplexity(loss):.3f}",
                                 "tok/s": f"{history.speed(tokens, elapsed):,.0f}"},
                                refresh=False)
                bar.refresh()
            seconds = time.perf_counter() - start
            loss = loss_sum / max(tokens, 1)
            history.train_perplexity.append(perplexity(loss))
            history.tokens_per_second.append(tokens / max(seconds, 1e-9))
            history.seconds.append(seconds)
            tokens, loss_sum, seconds_before = 0, 0.0, 0.0
            metrics = {"train_perplexity": history.train_perplexity[-1],
                       "tokens_per_second": history.tokens_per_second[-1]}
            if validate is not None:
                ppl = validate()
                history.valid_perplexity.append(ppl)
                metrics["valid_perplexity"] = ppl
                if history.best_valid_perplexity is None or ppl < history.best_valid_perplexity:
                    history.best_epoch, history.best_valid_perplexity = epoch, ppl
                    if saving.keep_best:
                        best = model.state_dict()
                    if saving.best_path is not None:
                        (save_best or model.save)(saving.best_path)
            bar.update(1)
            summary = {"loss": f"{loss:.4f}",
                       "ppl": f"{metrics['train_perplexity']:.3f}",
                       "tok/s": f"{history.speed():,.0f}"}  # the run's, as fit's summary
            if "valid_perplexity" in metrics:
                summary["valid ppl"] = f"{metrics['valid_perplexity']:.3f}"
            bar.set_postfix(summary)
            stop = callback is not None and callback(epoch, metrics) is False
            if saving.checkpoint is not None and (
                (epoch + 1) % saving.every == 0 or epoch + 1 == epochs or stop
                or (every_steps is not None and trainer.steps % every_steps == 0)
            ):
                write_checkpoint((0, 0.0, 0.0))
            if stop:
                break
    finally:
        bar.close()
    if saving.keep_best and best is not None:
        model.load_state_dict(best)
    return history
