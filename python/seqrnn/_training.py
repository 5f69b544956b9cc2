"""The epoch loop shared by every ``fit``: progress bar, history, callbacks, checkpoints,
keeping the best epoch, responsiveness."""

from __future__ import annotations

import json
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


@dataclass
class History:
    """Per-epoch metrics of a ``fit`` call (Keras-like ``history.history`` dict too).

    ``seconds`` and ``tokens_per_second`` are each epoch's training time (validation left out)
    and speed, ``lr`` the learning rate of its first step; :attr:`total_seconds` and :meth:`speed` are the whole run's, the figures the
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
        (3, ['lr', 'seconds', 'tokens_per_second', 'train_perplexity', 'valid_perplexity'], 2)
    """

    train_perplexity: list[float] = field(default_factory=list)
    valid_perplexity: list[float] = field(default_factory=list)
    tokens_per_second: list[float] = field(default_factory=list)
    seconds: list[float] = field(default_factory=list)
    lr: list[float] = field(default_factory=list)
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
            "lr": self.lr,
        }

    @classmethod
    def of(cls, record: tuple[Any, ...]) -> History:
        """The history in a trainer's record (the epoch in progress left out).

        Example:
            >>> History.of(([3.0], [2.5], [1e4], [0.5], [0.01], 0, 2.5, (0, 0.0, 0.0))).lr
            [0.01]
        """
        train, valid, speed, seconds, lr, best_epoch, best_valid, _ = record
        return cls(list(train), list(valid), list(speed), list(seconds), list(lr), best_epoch,
                   best_valid)

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
            >>> History(tokens_per_second=[math.inf], seconds=[1.0]).speed()  # a forged record
            inf
        """
        done = math.fsum(round(r * s) if math.isfinite(r * s) else r * s
                         for r, s in zip(self.tokens_per_second, self.seconds))
        return (done + tokens) / max(self.total_seconds + seconds, 1e-9)  # inf or nan if so


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


# PyTorch's defaults (ReduceLROnPlateau, StepLR's gamma) and the run's length (cosine).
_SCHEDULE_DEFAULTS: dict[str, dict[str, Any]] = {
    "constant": {},
    "step": {"step_size": None, "gamma": 0.1},
    "cosine": {"epochs": None, "warmup": 0, "min_lr": 0.0},
    "plateau": {"factor": 0.1, "patience": 10, "cooldown": 0, "min_lr": 0.0,
                "threshold": 1e-4, "restore_best": False},
}


def schedule_json(schedule: Any, epochs: int, has_valid: bool) -> str | None:
    """The core's JSON form of ``fit``'s ``schedule``: ``None``, a name (``"constant"``,
    ``"step"``, ``"cosine"``, ``"plateau"``) or a dict with ``"name"`` and any settings, the
    others taking PyTorch's defaults (``step_size``: a third of ``epochs``; cosine's ``epochs``:
    the run's).

    Example:
        >>> schedule_json({"name": "plateau", "factor": 0.5, "patience": 1}, 20, True)
        '{"name": "plateau", "factor": 0.5, "patience": 1, "cooldown": 0, "min_lr": 0.0, \
"threshold": 0.0001, "restore_best": false}'
    """
    if schedule is None:
        return None
    if isinstance(schedule, str):
        schedule = {"name": schedule}
    if not isinstance(schedule, dict):
        raise TypeError("schedule must be None, a name or a dict with a 'name', got "
                        f"{type(schedule).__name__}")
    name = schedule.get("name")
    if name not in _SCHEDULE_DEFAULTS:
        raise ValueError(f"schedule name must be one of {sorted(_SCHEDULE_DEFAULTS)}, got {name!r}")
    settings = dict(_SCHEDULE_DEFAULTS[name])
    unknown = sorted(set(schedule) - set(settings) - {"name"})
    if unknown:
        raise ValueError(f"schedule {name!r} takes {sorted(settings)}, not {unknown}")
    settings.update({k: v for k, v in schedule.items() if k != "name"})
    if name == "step" and settings["step_size"] is None:
        settings["step_size"] = max(1, epochs // 3)
    if name == "cosine" and settings["epochs"] is None:
        settings["epochs"] = epochs
    if name == "plateau" and not has_valid:
        raise ValueError("schedule 'plateau' needs validation data (valid=...) to watch")
    return json.dumps({"name": name, **settings})


def default_lr(optimizer: str, lr: float | None) -> float:
    """``lr``, or the optimizer's usual rate when ``None``: 1.0 for SGD (d2l's RNN chapter,
    with clipping), PyTorch's defaults for Adam (0.001) and Adagrad (0.01)."""
    if lr is None:
        return {"adam": 0.001, "adagrad": 0.01}.get(optimizer, 1.0)
    return v.finite_positive(lr, "lr")


@dataclass(frozen=True)
class FitOptions:
    """The arguments every ``fit`` shares, checked before any work."""

    epochs: int
    batch_size: int
    lr: float
    clip: float | None
    clip_value: float | None
    schedule: str | None
    early_stopping: int | None

    @classmethod
    def of(cls, epochs: Any, batch_size: Any, lr: Any, optimizer: Any, clip: Any,
           clip_value: Any, schedule: Any, early_stopping: Any, has_valid: bool) -> FitOptions:
        if not isinstance(optimizer, str):
            raise TypeError(f"optimizer must be a str, got {type(optimizer).__name__}")
        epochs = v.positive_int(epochs, "epochs")
        if early_stopping is not None:
            early_stopping = v.positive_int(early_stopping, "early_stopping")
            if not has_valid:
                raise ValueError("early_stopping needs validation data (valid=...) to watch")
        return cls(epochs, v.positive_int(batch_size, "batch_size"), default_lr(optimizer, lr),
                   None if clip is None else v.finite_positive(clip, "clip"),
                   None if clip_value is None else v.finite_positive(clip_value, "clip_value"),
                   schedule_json(schedule, epochs, has_valid), early_stopping)

    def core(self, saving: Saving) -> dict[str, Any]:
        """The compiled trainer's keyword arguments for these options."""
        return {"clip": self.clip, "clip_value": self.clip_value, "schedule": self.schedule,
                "keep_best": saving.keep_best, "early_stopping": self.early_stopping}


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

    Each ``trainer.run(core, max_batches)`` call is sized to take about 0.1 s, so Ctrl-C and
    the progress bar stay responsive while the GIL is released for the work itself; a
    ``KeyboardInterrupt`` arrives with the model whole and savable. Other threads may use the
    model meanwhile (the trainer works on a copy); a second ``fit`` of the same model at once
    is a ``RuntimeError``. The optimizer's state is kept on the model for its next ``fit``."""
    lock = _fit_lock(model)
    if not lock.acquire(blocking=False):
        raise RuntimeError(f"this {type(model).__name__} is already being trained by fit in "
                           "another thread; wait for that fit to return")
    try:
        return _Run(trainer, model, saving or Saving(), validate, save_best).epochs(
            epochs, progress, callback)
    finally:
        model.__dict__["_optimizer"] = trainer.optimizer_state()
        lock.release()


def previous_trainer(model: Any, reset_optimizer: bool) -> Any:
    """The optimizer state ``model``'s last ``fit`` left (to go on with), or ``None``."""
    return None if reset_optimizer else model.__dict__.get("_optimizer")


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


class _Run:
    """One ``fit``: the compiled trainer does the epochs' work and bookkeeping (history,
    schedule, best parameters, early stopping, checkpoints); this drives it in short chunks
    and adds validation, the progress bar, the callback and the file of the best model."""

    def __init__(self, trainer: Any, model: Any, saving: Saving,
                 validate: Callable[[], float] | None,
                 save_best: Callable[[str], None] | None) -> None:
        self.trainer, self.model, self.core, self.saving = trainer, model, model._core, saving
        self.validate, self.save_best = validate, save_best or model.save
        self.chunk = 1
        if saving.resume_from is not None:  # the core checks the file before anything changes
            trainer.resume(self.core, saving.resume_from, saving.seed_given)

    def epochs(self, epochs: int, progress: bool,
               callback: Callable[[int, dict[str, float]], Any] | None) -> History:
        from tqdm.auto import tqdm

        t = self.trainer
        bar = tqdm(total=epochs, initial=min(t.epochs, epochs), unit="epoch",
                   disable=not progress, dynamic_ncols=True)
        try:
            for epoch in range(t.epochs, epochs):
                self.train_epoch(bar)
                metrics, stop = self.end_epoch(epoch)
                bar.update(1)
                bar.set_postfix(self.summary(metrics))
                stop = (callback is not None and callback(epoch, metrics) is False) or stop
                if self.saving.checkpoint is not None and (
                        (epoch + 1) % self.saving.every == 0 or epoch + 1 == epochs or stop
                        or self.at_step_checkpoint()):
                    t.checkpoint(self.core, self.saving.checkpoint)
                if stop:
                    break
        finally:
            bar.close()
        if self.saving.keep_best:
            t.restore_best(self.core)
        return History.of(t.record)

    def at_step_checkpoint(self) -> bool:
        every = self.saving.every_steps
        return every is not None and self.trainer.steps % every == 0

    def train_epoch(self, bar: Any) -> None:
        """Runs the trainer to the end of the epoch in chunks of about 0.1 s."""
        t, every, done = self.trainer, self.saving.every_steps, False
        while not done:
            n = self.chunk if every is None else min(self.chunk, every - t.steps % every)
            t0 = time.perf_counter()
            batches, _, _, done = t.run(self.core, n)
            per_batch = (time.perf_counter() - t0) / max(batches, 1)
            self.chunk = max(1, min(10_000, int(0.1 / max(per_batch, 1e-6))))
            if done:
                return  # the epoch's sums went into the history; end_epoch shows them
            if self.saving.checkpoint is not None and self.at_step_checkpoint():
                t.checkpoint(self.core, self.saving.checkpoint)
            *_, (tokens, loss_sum, seconds) = record = t.record
            loss = loss_sum / max(tokens, 1)
            bar.set_postfix({"loss": f"{loss:.4f}", "ppl": f"{perplexity(loss):.3f}",
                             "tok/s": f"{History.of(record).speed(tokens, seconds):,.0f}",
                             "lr": f"{t.lr:.3g}"}, refresh=False)
            bar.refresh()

    def end_epoch(self, epoch: int) -> tuple[dict[str, float], bool]:
        """Validates the finished epoch and lets the trainer end it (schedule, best, early
        stopping); saves the best model when it improved."""
        t = self.trainer
        valid = None if self.validate is None else self.validate()
        improved, _, stop = t.end_epoch(self.core, valid)
        if improved and self.saving.best_path is not None:
            self.save_best(self.saving.best_path)
        h = History.of(t.record)
        metrics = {"train_perplexity": h.train_perplexity[-1],
                   "tokens_per_second": h.tokens_per_second[-1], "lr": h.lr[-1]}
        if valid is not None:
            metrics["valid_perplexity"] = valid
        return metrics, stop

    def summary(self, metrics: dict[str, float]) -> dict[str, str]:
        """The bar's text at an epoch's end: the run's speed, as fit's summary line."""
        h = History.of(self.trainer.record)
        out = {"ppl": f"{metrics['train_perplexity']:.3f}", "tok/s": f"{h.speed():,.0f}",
               "lr": f"{self.trainer.lr:.3g}"}
        if "valid_perplexity" in metrics:
            out["valid ppl"] = f"{metrics['valid_perplexity']:.3f}"
        return out
