"""What each ``seqrnn`` command does; ``seqrnn.__main__`` parses the arguments and calls these.

Every ``cmd_*`` function takes the parsed ``argparse.Namespace`` and returns its result for
``--json`` (human-readable lines are printed unless ``--json`` is given). User mistakes raise
:class:`CliError` or one of the library's ``OSError``/``ValueError``/``TypeError``/``IndexError``,
which the entry point turns into one ``seqrnn: error: ...`` line and exit status 2.
"""

from __future__ import annotations

import argparse
import json
import math
import subprocess
import sys
import warnings
from pathlib import Path
from typing import Any

from . import plot
from ._core import preprocess_d2l
from ._training import _SCHEDULE_DEFAULTS, History, schedule_json
from .data import load_translation_pairs, make_translation_data
from .lm import LanguageModel
from .metrics import chrf, corpus_bleu, exact_match, sacrebleu
from .seq2seq import Seq2Seq, Translator
from .toy import toy_translation_task
from .vocab import Vocab, tokenize


class CliError(Exception):
    """A user mistake, reported as one line ``seqrnn: error: ...`` with exit status 2.

    Example:
        >>> from seqrnn.__main__ import main
        >>> main(["generate", "--model", "missing.safetensors", "--prefix", "a"])  # stderr:
        2
        >>> # seqrnn: error: --model missing.safetensors: no such file
    """


# FileNotFoundError is an OSError; MemoryError: sizes too large for this machine
USER_ERRORS = (CliError, OSError, ValueError, TypeError, IndexError, MemoryError)
_INT_MAX = 2**63 - 1
_AT_LEAST_1 = {"hidden", "layers", "embed", "epochs", "batch", "num_steps", "num_examples",
               "top_k", "beam", "step_size", "early_stopping"}
_AT_LEAST_0 = {"num_tokens", "num_valid", "min_freq", "seed", "temperature", "alpha", "dropout",
               "valid_fraction", "warmup", "patience"}
_ABOVE_0 = {"lr", "lr_factor", "clip_value"}
_BELOW_1 = {"dropout", "valid_fraction", "lr_factor"}
PREPROCESS = ("d2l", "none")  # train-lm --preprocess: d2l's letters-only lower case, or none
SCHEDULE_DEFAULTS = _SCHEDULE_DEFAULTS  # --schedule's names and the settings' defaults
SCHEDULES = tuple(SCHEDULE_DEFAULTS)
# The --schedule settings, each with the schedules it belongs to.
_SCHEDULE_SETTINGS = {"lr_factor": ("step", "plateau"), "step_size": ("step",),
                      "warmup": ("cosine",), "patience": ("plateau",),
                      "restore_best": ("plateau",)}


# ----- checks and helpers -----------------------------------------------------------------------


def check_values(args: argparse.Namespace) -> None:
    """Range checks of the numeric options, so a bad value fails before any work is done.

    Example:
        >>> check_values(argparse.Namespace(epochs=0, lr=0.1))
        Traceback (most recent call last):
            ...
        seqrnn.cli.CliError: --epochs must be at least 1, got 0
    """
    for name, value in vars(args).items():
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            continue
        flag = "--" + name.replace("_", "-")
        if not math.isfinite(value):
            raise CliError(f"{flag} must be a finite number, got {value}")
        if isinstance(value, int) and abs(value) > _INT_MAX:
            raise CliError(f"{flag} must be at most {_INT_MAX}, got {value}")
        if name in _AT_LEAST_1 and value < 1:
            raise CliError(f"{flag} must be at least 1, got {value}")
        if name in _AT_LEAST_0 and value < 0:
            raise CliError(f"{flag} must be at least 0, got {value}")
        if name in _ABOVE_0 and value <= 0:
            raise CliError(f"{flag} must be above 0, got {value}")
        if name in _BELOW_1 and value >= 1:
            raise CliError(f"{flag} must be below 1, got {value}")
    if hasattr(args, "schedule"):
        _check_schedule(args)


def _check_schedule(args: argparse.Namespace) -> None:
    """Settings of a schedule other than ``--schedule``'s, a warm-up longer than the run, and
    early stopping that would end a plateau schedule's run before it lowers the rate.

    Example:
        >>> _check_schedule(argparse.Namespace(schedule="cosine", epochs=20, lr_factor=None,
        ...                 step_size=None, warmup=None, patience=3, restore_best=False,
        ...                 early_stopping=None))
        Traceback (most recent call last):
            ...
        seqrnn.cli.CliError: --patience is a setting of --schedule plateau, not of cosine
    """
    for name, schedules in _SCHEDULE_SETTINGS.items():
        if getattr(args, name) not in (None, False) and args.schedule not in schedules:
            default = " (the default)" if args.schedule == "constant" else ""
            raise CliError(f"--{name.replace('_', '-')} is a setting of --schedule "
                           f"{' or '.join(schedules)}, not of {args.schedule}{default}")
    if args.warmup is not None and args.warmup > args.epochs:
        raise CliError(f"--warmup {args.warmup} is longer than the run (--epochs {args.epochs})")
    patience = SCHEDULE_DEFAULTS["plateau"]["patience"] if args.patience is None else args.patience
    if args.schedule == "plateau" and args.early_stopping is not None and \
            args.early_stopping < patience + 2:
        raise CliError(f"--early-stopping {args.early_stopping} would stop training before "
                       f"--schedule plateau lowers the rate (after more than --patience "
                       f"{patience} epochs without improvement); give --early-stopping "
                       f"{patience + 2} or more, or a lower --patience")


def _fit_options(args: argparse.Namespace) -> dict[str, Any]:
    """``fit``'s ``schedule``, ``early_stopping`` and ``clip_value`` of a training command.

    Example:
        >>> _fit_options(argparse.Namespace(schedule="plateau", lr_factor=0.5, step_size=None,
        ...              warmup=None, patience=2, restore_best=True, early_stopping=None,
        ...              clip_value=None))["schedule"]
        {'name': 'plateau', 'factor': 0.5, 'patience': 2, 'restore_best': True}
    """
    settings = {"step": {"gamma": args.lr_factor, "step_size": args.step_size},
                "cosine": {"warmup": args.warmup},
                "plateau": {"factor": args.lr_factor, "patience": args.patience,
                            "restore_best": args.restore_best or None}}.get(args.schedule, {})
    schedule = {"name": args.schedule, **{k: v for k, v in settings.items() if v is not None}}
    return {"schedule": None if args.schedule == "constant" else schedule,
            "early_stopping": args.early_stopping, "clip_value": args.clip_value}


def _check_watched(args: argparse.Namespace, has_valid: bool, remedy: str) -> None:
    """A ``CliError`` when ``--schedule plateau`` or ``--early-stopping`` has no validation
    perplexity to watch; ``remedy`` says how to hold out data."""
    for flag, given in (("--schedule plateau", args.schedule == "plateau"),
                        (f"--early-stopping {args.early_stopping}",
                         args.early_stopping is not None)):
        if given and not has_valid:
            raise CliError(f"{flag} watches the validation perplexity, and {remedy}")


def _input_file(path: Path, flag: str) -> Path:
    if not path.exists():
        raise CliError(f"{flag} {path}: no such file")
    if not path.is_file():
        raise CliError(f"{flag} {path}: not a file")
    return path


def _not_utf8(path: Path, flag: str, e: UnicodeDecodeError) -> CliError:
    return CliError(f"{flag} {path}: not UTF-8 text ({e.reason} at byte {e.start})")


def _read_text(path: Path, flag: str) -> str:
    try:
        return _input_file(path, flag).read_text(encoding="utf-8")
    except UnicodeDecodeError as e:
        raise _not_utf8(path, flag, e) from e


def _check_outputs(args: argparse.Namespace) -> None:
    """Fail before training if ``--out`` or ``--plot`` cannot be written."""
    folder = args.out.parent if str(args.out.parent) else Path(".")
    if not folder.is_dir():
        raise CliError(f"--out {args.out}: folder {folder} does not exist")
    if args.out.is_dir():
        raise CliError(f"--out {args.out}: is a folder; give a file name")
    if args.out.exists() and not args.out.is_file():  # stat only: a FIFO is never opened
        raise CliError(f"--out {args.out}: is not a regular file (a FIFO, socket or device); "
                       "give a file name")
    _check_plot(args)


def _check_plot(args: argparse.Namespace) -> None:
    """Fail before any work if ``--plot`` cannot be written."""
    if args.plot is not None:
        try:
            plot.check_plot_file(args.plot)
        except ImportError as e:
            raise CliError(str(e)) from e


def _check_safetensors(path: Path) -> None:
    """A ``CliError`` unless ``path`` starts like a safetensors file: an 8-byte little-endian
    header length that fits in the file, then a JSON object (``{``).

    Example:
        >>> _ = Path("notes.txt").write_text("hello, world")
        >>> _check_safetensors(Path("notes.txt"))
        Traceback (most recent call last):
            ...
        seqrnn.cli.CliError: --model notes.txt: not a seqrnn model file (safetensors)
    """
    size = path.stat().st_size
    with open(path, "rb") as f:
        head = f.read(9)
    header_len = int.from_bytes(head[:8], "little") if len(head) == 9 else 0
    if not 2 <= header_len <= size - 8 or head[8:9] != b"{":
        raise CliError(f"--model {path}: not a seqrnn model file (safetensors)")


def _load(path: Path, kind: type[Any]) -> Any:
    """``kind.load(path)`` with the file named in the message of a wrong or damaged file."""
    _check_safetensors(_input_file(path, "--model"))
    try:
        return kind.load(path)
    except ValueError as e:
        maker = "train-lm" if kind is LanguageModel else "train-translate"
        raise CliError(f"--model {path}: {e} (expected a file written by seqrnn {maker})") from e


def _say(args: argparse.Namespace, text: str) -> None:
    """Human-readable output, suppressed by ``--json``."""
    if not getattr(args, "json", False):
        print(text, flush=True)


def _progress(args: argparse.Namespace) -> bool:
    return not (args.no_progress or getattr(args, "json", False))


def _summary(history: History, args: argparse.Namespace, options: dict[str, Any]
             ) -> dict[str, Any]:
    """Final metrics of a ``fit``: last-epoch perplexities, the last epoch's learning rate
    (``final_lr``, ``History.lr[-1]``), the run's tokens/s and training seconds
    (``History.speed`` and ``History.total_seconds``, as the progress bar's last figure), the
    0-based best epoch and whether early stopping ended the run, the fit ``options`` with every
    schedule setting, per-epoch lists."""
    schedule = schedule_json(options["schedule"] or "constant", args.epochs, True)
    return {
        "epochs": history.epochs,
        "train_perplexity": history.train_perplexity[-1],
        "valid_perplexity": history.valid_perplexity[-1] if history.valid_perplexity else None,
        "final_lr": history.lr[-1],
        "tokens_per_second": history.speed(),
        "seconds": history.total_seconds,
        "best_epoch": history.best_epoch,
        "stopped_early": history.epochs < args.epochs,
        **options,
        "schedule": json.loads(schedule or "{}"),
        "history": history.history,
    }


def _summary_line(m: dict[str, Any]) -> str:
    """The summary of a training command's metrics (:func:`_summary`) in one line.

    Example:
        >>> _summary_line({"train_perplexity": 5.0, "valid_perplexity": 6.0, "epochs": 4,
        ...                "tokens_per_second": 1e4, "seconds": 2.0, "stopped_early": True,
        ...                "best_epoch": 1, "final_lr": 0.0005})
        'perplexity: training 5.000, validation 6.000; 10,000 tokens/s; 2.0 s for 4 epochs \
(stopped early, the best was epoch 2); final learning rate 0.0005'
    """
    valid = m["valid_perplexity"]
    ppl = f"training {m['train_perplexity']:.3f}" + ("" if valid is None else
                                                      f", validation {valid:.3f}")
    stopped = f" (stopped early, the best was epoch {m['best_epoch'] + 1})" \
        if m["stopped_early"] else ""
    return (f"perplexity: {ppl}; {m['tokens_per_second']:,.0f} tokens/s; "
            f"{m['seconds']:.1f} s for {m['epochs']} epoch{'s' if m['epochs'] != 1 else ''}"
            f"{stopped}; final learning rate {m['final_lr']:.3g}")


def jsonable(value: Any) -> Any:
    """``value`` with non-finite floats as ``None``, so the output is strict JSON.

    Example:
        >>> jsonable({"perplexity": float("inf"), "history": [1.5, float("nan")]})
        {'perplexity': None, 'history': [1.5, None]}
    """
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {k: jsonable(x) for k, x in value.items()}
    if isinstance(value, (list, tuple)):
        return [jsonable(x) for x in value]
    return value


# ----- commands -----------------------------------------------------------------------------------


def cmd_demo(args: argparse.Namespace) -> None:
    """README's main job: a character model and the toy translator, trained and shown.

    Example:
        $ seqrnn demo --epochs 4 --hidden 128
    """
    from . import demo

    text = None if args.text is None else _read_text(args.text, "--text")
    demo.run(text, epochs=args.epochs, hidden_size=args.hidden, seed=args.seed,
             progress=not args.no_progress)


def cmd_train_lm(args: argparse.Namespace) -> dict[str, Any]:
    """Preprocess and tokenize a text file, train a language model on it, save it with its
    vocabulary.

    ``--preprocess d2l`` (the default) keeps letters only, lower-cased, as
    :func:`seqrnn.data.load_time_machine` does, so The Time Machine gives d2l's 28 tokens;
    ``--preprocess none`` keeps the text as it is. The last ``--valid-fraction`` of the tokens
    gives validation perplexity, which ``--schedule plateau`` and ``--early-stopping`` watch;
    ``--json`` returns the final metrics and the per-epoch history.

    Example:
        $ seqrnn train-lm --text book.txt --level word --hidden 256 --epochs 20 \\
              --out lm.safetensors --plot curve.png
    """
    raw = _read_text(args.text, "--text")
    if not raw.strip():
        raise CliError(f"--text {args.text}: the file holds no text (it is empty or all "
                       "whitespace); give a text to train on")
    preprocess = getattr(args, "preprocess", "d2l")
    text = preprocess_d2l(raw) if preprocess == "d2l" else raw
    if not text.strip():
        raise CliError(f"--text {args.text}: no letters left after --preprocess d2l (letters "
                       "only); use --preprocess none to train on the text as it is")
    _check_outputs(args)
    tokens = tokenize(text, args.level)
    vocab = Vocab(tokens)
    ids = vocab.encode(tokens)  # (n,) int64
    n_valid = int(len(ids) * args.valid_fraction)
    if args.valid_fraction > 0 and n_valid < 2:
        raise CliError(f"--valid-fraction {args.valid_fraction} of {len(ids)} tokens leaves "
                       f"{n_valid} for validation; it needs 2 (or --valid-fraction 0)")
    _check_watched(args, n_valid > 0, "--valid-fraction 0 holds out no text; give a "
                   "--valid-fraction above 0")
    train, valid = ids[: len(ids) - n_valid], (ids[len(ids) - n_valid :] if n_valid else None)
    needed = args.batch * args.num_steps + args.num_steps + 1  # a minibatch at any random offset
    if len(train) < needed:
        raise CliError(f"--text {args.text}: {len(train):,} training tokens are too few for "
                       f"--batch {args.batch} and --num-steps {args.num_steps} (at least "
                       f"{needed:,}); lower them")
    lm = LanguageModel(len(vocab), args.hidden, args.layers, args.embed, seed=args.seed,
                       dropout=args.dropout)
    lm.vocab, lm.level = vocab, args.level
    _say(args, f"train-lm: {len(ids):,} {args.level} tokens from {args.text} (--preprocess "
               f"{preprocess}; {len(train):,} training, {n_valid:,} validation), vocabulary of "
               f"{len(vocab)}; {lm!r}")
    options = _fit_options(args)
    history = lm.fit(train, args.epochs, args.batch, args.num_steps, args.lr,
                     optimizer=args.optimizer, valid=valid, progress=_progress(args),
                     seed=args.seed, **options)
    metrics = _summary(history, args, options)
    lm.save(args.out)
    _say(args, _summary_line(metrics))
    _say(args, f"saved {args.out}")
    if args.plot is not None:
        plot.save_perplexity_curve(history, args.plot, f"{args.level} language model")
        _say(args, f"plotted {args.plot}")
    return {"command": "train-lm", "model": str(args.out), "preprocess": preprocess,
            "level": args.level, "num_steps": args.num_steps,
            "vocab_size": len(vocab), "train_tokens": len(train), "valid_tokens": n_valid,
            **metrics, "plot": None if args.plot is None else str(args.plot)}


def cmd_generate(args: argparse.Namespace) -> dict[str, Any]:
    """Continue each ``--prefix`` with a saved language model, all at once; one text a line.

    Prefix characters (or words) the model's vocabulary lacks are read as ``<unk>``, with one
    ``seqrnn generate: warning: ...`` line on stderr naming them: a model trained with
    ``--preprocess d2l`` knows lower-case letters and spaces only. ``--stop TOKEN`` ends a text
    when the token comes; it stays at the text's end.

    Example:
        $ seqrnn generate --model lm.safetensors --prefix "time traveller" --num-tokens 50 \\
              --temperature 0.7 --top-p 0.9
    """
    lm = _load(args.model, LanguageModel)
    if lm.vocab is None:
        raise CliError(f"--model {args.model}: saved without a vocabulary; train it with "
                       "seqrnn train-lm (or set lm.vocab before lm.save)")
    for prefix in args.prefix:
        if not tokenize(prefix, lm.level):
            raise CliError(f"--prefix must hold at least one {lm.level} token, got {prefix!r}")
    if args.top_p is not None and not 0 < args.top_p <= 1:
        raise CliError(f"--top-p must be in (0, 1], got {args.top_p}")
    if args.stop is not None and lm.vocab[args.stop] == lm.vocab.unk and args.stop != "<unk>":
        raise CliError(f"--stop {args.stop!r} is not a {lm.level} of the model's vocabulary")
    with warnings.catch_warnings(record=True) as caught:  # unknown prefix characters
        warnings.simplefilter("always")
        texts = lm.generate(args.prefix, args.num_tokens, temperature=args.temperature,
                            top_k=args.top_k, top_p=args.top_p, stop=args.stop, seed=args.seed)
    for w in caught:
        print(f"seqrnn generate: warning: {str(w.message).removeprefix('generate: ')}",
              file=sys.stderr)
    for text in texts:
        _say(args, text)
    return {"command": "generate", "model": str(args.model), "prefix": args.prefix[0],
            "text": texts[0], "prefixes": args.prefix, "texts": texts,
            "num_tokens": args.num_tokens, "temperature": args.temperature,
            "top_k": args.top_k, "top_p": args.top_p, "stop": args.stop, "seed": args.seed}


def _translation_data(args: argparse.Namespace) -> Any:
    """The ``TranslationData`` of ``--pairs FILE`` or of the embedded toy task (``--toy``)."""
    if args.pairs is not None:
        try:
            with open(_input_file(args.pairs, "--pairs"), encoding="utf-8") as f:
                has_pairs = any("\t" in line for line in f)  # stops at the first pair
        except UnicodeDecodeError as e:
            raise _not_utf8(args.pairs, "--pairs", e) from e
        if not has_pairs:
            raise CliError(f"--pairs {args.pairs}: no tab-separated source/target lines")
        return load_translation_pairs(args.pairs, args.num_examples, args.num_steps,
                                      args.min_freq, num_valid=args.num_valid or 0,
                                      vocab_from="train")
    total = 1000 if args.num_examples is None else args.num_examples
    if not 2 <= total <= 1_000_000:
        raise CliError(f"--num-examples with --toy must be in [2, 1000000], got {total}")
    num_valid = min(100, total // 10) if args.num_valid is None else args.num_valid
    if num_valid >= total:
        raise CliError(f"--num-valid {num_valid} leaves no training pair of {total}")
    train, valid = toy_translation_task(num_valid=num_valid, seed=args.seed, max_number=total - 1)
    return make_translation_data(train + valid, args.num_steps, args.min_freq,
                                 num_valid=len(valid), already_preprocessed=True)


def cmd_train_translate(args: argparse.Namespace) -> dict[str, Any]:
    """Train a seq2seq translator on sentence pairs, save it, report held-out scores (d2l's
    BLEU, sacreBLEU's corpus BLEU and chrF, exact match: see :mod:`seqrnn.metrics`). The
    held-out pairs (``--num-valid``) also give the validation perplexity that ``--schedule
    plateau`` and ``--early-stopping`` watch.

    Example:
        $ seqrnn train-translate --pairs fra-eng.txt --num-examples 640 --num-valid 128 \\
              --out tr.safetensors
        $ seqrnn train-translate --toy --epochs 30 --schedule plateau --patience 2 \\
              --early-stopping 6 --out numbers.safetensors
        $ seqrnn train-translate --pairs fra-eng.txt --num-examples 20000 --num-valid 2000 \\
              --num-steps 12 --bucketing --out tr.safetensors
    """
    _check_outputs(args)
    data = _translation_data(args)
    train, valid = data.split()
    _check_watched(args, len(valid) > 0, "no pair is held out; give --num-valid N")
    model = Seq2Seq(len(data.src_vocab), len(data.tgt_vocab), args.embed, args.hidden,
                    args.layers, seed=args.seed, dropout=args.dropout, attention=args.attention)
    source = "the toy number task" if args.pairs is None else str(args.pairs)
    _say(args, f"train-translate: {len(train):,} training and {len(valid):,} held-out pairs from "
               f"{source}; vocabularies {len(data.src_vocab)} -> {len(data.tgt_vocab)}; {model!r}")
    options = _fit_options(args)
    history = model.fit(train, args.epochs, args.batch, args.lr,
                        valid=valid if len(valid) else None, progress=_progress(args),
                        seed=args.seed, bucketing=args.bucketing, **options)
    metrics = _summary(history, args, options)
    translator = Translator(model, data.src_vocab, data.tgt_vocab, data.num_steps)
    translator.save(args.out)
    _say(args, _summary_line(metrics))
    scores: dict[str, Any] = {"bleu": None, "sacrebleu": None, "chrf": None, "exact_match": None}
    if len(valid):
        sources, labels = [s for s, _ in valid.pairs], [t for _, t in valid.pairs]
        preds = translator.translate(sources)
        scores = {"bleu": corpus_bleu(preds, labels), "sacrebleu": sacrebleu(preds, labels),
                  "chrf": chrf(preds, labels), "exact_match": exact_match(preds, labels)}
        _say(args, f"held-out BLEU {scores['bleu']:.3f} (d2l's, 0-1), sacreBLEU "
                   f"{scores['sacrebleu']:.2f}, chrF {scores['chrf']:.2f} (0-100), exact match "
                   f"{scores['exact_match']:.1%} ({len(valid)} pairs, greedy)")
        for src, pred, label in list(zip(sources, preds, labels))[:3]:
            _say(args, f"  {src} -> {pred}   [{label}]")
    _say(args, f"saved {args.out}")
    if args.plot is not None:
        plot.save_perplexity_curve(history, args.plot, "translator")
        _say(args, f"plotted {args.plot}")
    return {"command": "train-translate", "model": str(args.out), "train_pairs": len(train),
            "valid_pairs": len(valid), "src_vocab_size": len(data.src_vocab),
            "tgt_vocab_size": len(data.tgt_vocab), "num_steps": data.num_steps,
            "bucketing": args.bucketing, **metrics,
            **scores, "plot": None if args.plot is None else str(args.plot)}


def cmd_translate(args: argparse.Namespace) -> list[dict[str, str]]:
    """Translate the sentences given as arguments, or one per line from stdin (blank lines
    stay blank, so output lines match input lines).

    Example:
        $ seqrnn translate --model tr.safetensors "go ." "i lost ."
        $ seqrnn translate --model tr.safetensors --beam 4 < sentences.txt
    """
    _check_plot(args)
    translator = _load(args.model, Translator)
    if args.plot is not None and translator.model.attention == "none":
        raise CliError(f"--plot draws attention weights; {args.model} was trained without "
                       "attention (train-translate --attention additive)")
    sentences = args.sentences
    if not sentences:
        if sys.stdin.isatty():
            print("seqrnn: reading sentences from stdin, one per line (Ctrl-D ends)",
                  file=sys.stderr)
        sentences = sys.stdin.read().splitlines()
    todo = [s for s in sentences if s.strip()]  # blank lines stay blank, so lines stay aligned
    done = iter(translator.translate(todo, beam_size=args.beam, alpha=args.alpha) if todo else [])
    results = [{"source": s, "translation": next(done) if s.strip() else ""} for s in sentences]
    for r in results:
        _say(args, r["translation"])
    if args.plot is not None and todo:
        a = translator.attention(todo[0])
        plot.save_attention_heatmap(a["weights"], a["source"], a["output"], args.plot,
                                    f"attention: {todo[0]}")
        _say(args, f"plotted {args.plot}")
    return results


def find_bench() -> Path | None:
    """``benchmarks/bench.py`` of the seqrnn source checkout holding this package (an editable
    install) or in the current folder; ``None`` for an installed wheel elsewhere.

    Example:
        >>> script = find_bench()       # .../benchmarks/bench.py in a clone, else None
    """
    roots = [*Path(__file__).resolve().parents, Path.cwd()]
    for root in roots:
        script, project = root / "benchmarks" / "bench.py", root / "pyproject.toml"
        if script.is_file() and project.is_file() and 'name = "seqrnn"' in project.read_text():
            return script
    return None


def run_bench(argv: list[str]) -> int:
    """Run ``benchmarks/bench.py`` with ``argv``; its exit status is ours.

    Example:
        $ seqrnn bench --quick
    """
    script = find_bench()
    if script is None:
        raise CliError("the benchmark ships with the source repository (benchmarks/bench.py); "
                       "run seqrnn bench from a clone of it")
    return subprocess.run([sys.executable, str(script), *argv], check=False).returncode
