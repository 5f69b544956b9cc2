"""The ``seqrnn`` command line (``python -m seqrnn`` or the ``seqrnn`` console script).

Commands: ``demo``, ``train-lm``, ``generate``, ``train-translate``, ``translate``, ``bench``;
``seqrnn COMMAND --help`` lists each one's options. Training shows a progress bar with
perplexity and tokens/s on stderr (``--no-progress`` hides it); ``--json`` prints one JSON
value on stdout and nothing else; ``--plot curve.png`` draws perplexity per epoch (needs
matplotlib). A user mistake (a missing file, a bad option value, a file that is not the right
kind of checkpoint) prints one line ``seqrnn: error: ...`` on stderr and exits with status 2;
a usage mistake (an unknown or missing option) prints one line ``seqrnn COMMAND: error: ...``
with a pointer to ``--help`` and exits with status 2 too.

Example:
    $ seqrnn train-lm --text book.txt --epochs 10 --out book.safetensors --plot curve.png
    $ seqrnn train-lm --text book.txt --epochs 30 --schedule cosine --warmup 2 --out lm.safetensors
    $ seqrnn generate --model book.safetensors --prefix "time traveller" --num-tokens 80
    $ seqrnn train-translate --toy --epochs 30 --out numbers.safetensors
    $ echo "three hundred forty two" | seqrnn translate --model numbers.safetensors --beam 4
"""

from __future__ import annotations

import argparse
import contextlib
import json
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, NoReturn

from . import __version__, cli
from .vocab import LEVELS

DESCRIPTION = """Vanilla tanh RNN language models and seq2seq translators. Training shows a
progress bar on stderr (--no-progress hides it); --json prints one JSON value on stdout and
nothing else; --plot FILE draws perplexity per epoch (needs matplotlib). Mistakes print one
line "seqrnn: error: ..." and exit with status 2. seqrnn COMMAND --help shows a command's
options."""


class _Parser(argparse.ArgumentParser):
    """argparse's parser, with a usage mistake reported in one line instead of the whole usage.

    Example:
        >>> _Parser(prog="seqrnn demo").error("unrecognized arguments: --fast")  # stderr:
        Traceback (most recent call last):
            ...
        SystemExit: 2
        >>> # seqrnn demo: error: unrecognized arguments: --fast (seqrnn demo --help lists ...)
    """

    def error(self, message: str) -> NoReturn:
        """Print ``PROG: error: MESSAGE (PROG --help lists the options)``; exit with status 2.

        Example:
            >>> build_parser().parse_args(["fly"])  # doctest: +SKIP
        """
        self.exit(2, f"{self.prog}: error: {message} ({self.prog} --help lists the options)\n")


class _Deprecated(argparse.Action):
    """A hidden old spelling of an option: stores into the new one's ``dest`` and says so on
    stderr (one line, ``PROG: warning: --old is deprecated; use --new``)."""

    def __init__(self, option_strings: list[str], dest: str, new: str = "",
                 **kwargs: Any) -> None:
        super().__init__(option_strings, dest, default=argparse.SUPPRESS, help=argparse.SUPPRESS,
                         **kwargs)
        self.new = new

    def __call__(self, parser: argparse.ArgumentParser, namespace: argparse.Namespace,
                 values: Any, option_string: str | None = None) -> None:
        print(f"{parser.prog}: warning: {option_string} is deprecated; use {self.new}",
              file=sys.stderr)
        setattr(namespace, self.dest, values)


class _Formatter(argparse.HelpFormatter):
    """argparse's help, with each option's default when it has one."""

    def _get_help_string(self, action: argparse.Action) -> str:
        text = action.help or ""
        if action.option_strings and action.default not in (None, argparse.SUPPRESS) and \
                action.default is not False:
            text += " (default: %(default)s)"
        return text.strip()

    def _get_default_metavar_for_optional(self, action: argparse.Action) -> str:
        names: dict[Any, str] = {int: "N", float: "X"}
        return names.get(action.type, action.dest.upper())


def _outputs(p: argparse.ArgumentParser, json_help: str, train: bool = True) -> None:
    """``--seed``, ``--json`` and, for training, ``--no-progress`` and ``--plot``."""
    p.add_argument("--seed", type=int, default=0, help="random seed")
    p.add_argument("--json", action="store_true", help=json_help)
    if train:
        p.add_argument("--no-progress", action="store_true", help="hide the progress bar")
        p.add_argument("--plot", type=Path, metavar="FILE", help="draw perplexity per epoch "
                       "to FILE (.png, .pdf, .svg; needs matplotlib)")


def _network(p: argparse.ArgumentParser, embed: int | None, layers: int, side: str) -> None:
    """``--embed``, ``--hidden`` and ``--layers`` of a model to train."""
    embed_help = "embedding width" + (" (default: one-hot)" if embed is None else "")
    p.add_argument("--embed", type=int, default=embed, help=embed_help)
    p.add_argument("--hidden", type=int, default=256, help="RNN units per layer")
    p.add_argument("--layers", type=int, default=layers, help=f"stacked RNN layers{side}")


def _schedule(p: argparse.ArgumentParser) -> None:
    """The learning-rate schedule, early stopping and clipping by value of a training command."""
    g = p.add_argument_group("learning-rate schedule and early stopping")
    g.add_argument("--schedule", choices=cli.SCHEDULES, default="constant",
                   help="constant: --lr throughout; step: times --lr-factor every --step-size "
                   "epochs; cosine: linear warm-up over --warmup epochs, then cosine annealing "
                   "to 0 at the last epoch; plateau: times --lr-factor after more than "
                   "--patience epochs without a better validation perplexity (PyTorch's "
                   "ReduceLROnPlateau)")
    plateau, step = cli.SCHEDULE_DEFAULTS["plateau"], cli.SCHEDULE_DEFAULTS["step"]
    factors = {step["gamma"], plateau["factor"]}
    g.add_argument("--lr-factor", type=float, help="step and plateau: factor of each reduction, "
                   "below 1 (default: " + (f"{step['gamma']}" if len(factors) == 1 else
                   f"{step['gamma']} for step, {plateau['factor']} for plateau") + ")")
    g.add_argument("--step-size", type=int, help="step: epochs between reductions (default: a "
                   "third of --epochs)")
    g.add_argument("--warmup", type=int, help="cosine: warm-up epochs (default: "
                   f"{cli.SCHEDULE_DEFAULTS['cosine']['warmup']})")
    g.add_argument("--patience", type=int, help="plateau: epochs without improvement "
                   f"tolerated before a reduction (default: {plateau['patience']})")
    g.add_argument("--restore-best", action="store_true", help="plateau: go back to the best "
                   "epoch's parameters at each reduction")
    g.add_argument("--early-stopping", type=int, metavar="N", help="stop after N epochs "
                   "without a better validation perplexity")
    g.add_argument("--clip-value", type=float, help="clip every gradient element to [-X, X] "
                   "(before the gradient-norm clip at 1)")


def _demo_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--text", type=Path, metavar="FILE", help="train on this text file instead")
    p.add_argument("--epochs", type=int, default=8, help="passes over the text")
    p.add_argument("--hidden", type=int, default=256, help="RNN units")
    p.add_argument("--seed", type=int, default=0, help="random seed")
    p.add_argument("--no-progress", action="store_true", help="hide the progress bars")


def _train_lm_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--text", type=Path, metavar="FILE", required=True, help="UTF-8 training text")
    p.add_argument("--preprocess", choices=cli.PREPROCESS, default="d2l",
                   help="d2l: letters only, lower-cased, every other run of characters a space "
                   "(as seqrnn.data.load_time_machine; The Time Machine gives 28 characters); "
                   "none: the text as it is")
    p.add_argument("--level", choices=LEVELS, default="char", help="tokens: characters or words")
    _network(p, embed=None, layers=1, side="")
    p.add_argument("--epochs", type=int, default=20, help="passes over the text")
    p.add_argument("--batch", type=int, default=32, help="parallel streams per minibatch")
    p.add_argument("--num-steps", type=int, default=35,
                   help="tokens per training sequence (BPTT steps per minibatch), as d2l")
    p.add_argument("--steps", type=int, dest="num_steps", action=_Deprecated, new="--num-steps")
    p.add_argument("--lr", type=float, default=0.002, help="learning rate")
    p.add_argument("--optimizer", choices=("sgd", "adam", "adagrad"), default="adam",
                   help="update rule")
    p.add_argument("--dropout", type=float, default=0.0, help="between-layer dropout")
    p.add_argument("--valid-fraction", type=float, default=0.1,
                   help="the end of the text held out for validation perplexity")
    p.add_argument("--out", type=Path, metavar="FILE", required=True,
                   help="model file to write (safetensors, vocabulary included)")
    _outputs(p, "print one JSON object of metrics on stdout, nothing else")
    _schedule(p)


def _generate_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--model", type=Path, metavar="FILE", required=True,
                   help="a file written by train-lm")
    p.add_argument("--prefix", required=True, action="append",
                   help='text to continue, e.g. "time traveller"; characters the model never saw '
                   "read as <unk>, with a warning; repeat it to continue several texts at once "
                   "(one per output line)")
    p.add_argument("--num-tokens", type=int, default=100, help="tokens to add")
    p.add_argument("--temperature", type=float, default=0.0, help="0: most likely token")
    p.add_argument("--top-k", type=int, default=None, help="sample among the K likeliest only")
    p.add_argument("--top-p", type=float, default=None, metavar="P",
                   help="nucleus sampling: among the fewest likeliest tokens of probability P "
                   "(0 < P <= 1), after --temperature and --top-k")
    p.add_argument("--stop", default=None, metavar="TOKEN",
                   help="end a text when this token comes (kept at its end), e.g. $'\\n'; "
                   "with several --prefix, text i samples with --seed + i")
    _outputs(p, "print one JSON object on stdout", train=False)


def _train_translate_args(p: argparse.ArgumentParser) -> None:
    data = p.add_mutually_exclusive_group(required=True)
    data.add_argument("--pairs", type=Path, metavar="FILE",
                      help="tab-separated source/target lines (d2l's fra-eng.txt)")
    data.add_argument("--toy", action="store_true",
                      help="the embedded English -> French number-word task instead")
    p.add_argument("--num-examples", type=int, default=None,
                   help="use the first N pairs (default: all; --toy: the numbers 0..N-1, "
                   "default 1000)")
    p.add_argument("--num-valid", type=int, default=None,
                   help="the last N of them are held out for BLEU and validation perplexity "
                   "(default: 0; --toy: a tenth, at most 100)")
    p.add_argument("--min-freq", type=int, default=2, help="rarer words become <unk>")
    p.add_argument("--num-steps", type=int, default=9,
                   help="tokens per padded sentence (sequence length), as d2l")
    _network(p, embed=256, layers=2, side=" on each side")
    p.add_argument("--attention", choices=("none", "additive"), default="none",
                   help="additive: the decoder attends to every encoder state at each step "
                   "(Bahdanau, d2l 11.4); none: d2l's plain encoder-decoder")
    p.add_argument("--dropout", type=float, default=0.0, help="between-layer dropout")
    p.add_argument("--epochs", type=int, default=50, help="passes over the pairs")
    p.add_argument("--batch", type=int, default=128, help="sentence pairs per minibatch")
    p.add_argument("--lr", type=float, default=0.005, help="Adam learning rate")
    p.add_argument("--bucketing", action="store_true",
                   help="minibatches of pairs of similar lengths (less padding, faster epochs)")
    p.add_argument("--out", type=Path, metavar="FILE", required=True,
                   help="translator file to write (safetensors, vocabularies included)")
    _outputs(p, "print one JSON object of metrics on stdout, nothing else")
    _schedule(p)


def _translate_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--model", type=Path, metavar="FILE", required=True,
                   help="a file written by train-translate")
    p.add_argument("--beam", type=int, default=1, help="beam size (1: greedy)")
    p.add_argument("--alpha", type=float, default=0.75, help="beam length penalty exponent")
    p.add_argument("--json", action="store_true",
                   help='print a JSON list of {"source", "translation"} objects')
    p.add_argument("--plot", type=Path, metavar="FILE", help="draw the attention weights of "
                   "the first sentence as a heatmap to FILE (.png, .pdf, .svg; needs matplotlib "
                   "and a translator trained with --attention additive)")
    p.add_argument("sentences", nargs="*", help="sentences to translate (default: stdin lines)")


def _bench_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("args", nargs=argparse.REMAINDER, help="arguments of bench.py")


# name, what it does (--help), its arguments, the function that runs it
_COMMANDS: list[tuple[str, str, Callable[[argparse.ArgumentParser], None],
                      Callable[[argparse.Namespace], Any]]] = [
    ("demo", "train a character model on an embedded text and the toy translator (README)",
     _demo_args, cli.cmd_demo),
    ("train-lm", "train a language model on a text file and save it", _train_lm_args,
     cli.cmd_train_lm),
    ("generate", "continue a prefix with a saved language model", _generate_args,
     cli.cmd_generate),
    ("train-translate", "train a seq2seq translator and save it", _train_translate_args,
     cli.cmd_train_translate),
    ("translate", "translate sentences with a saved translator", _translate_args,
     cli.cmd_translate),
    ("bench", ("run benchmarks/bench.py of a source checkout; arguments pass through (seqrnn "
               "bench --help shows them)"), _bench_args, lambda a: cli.run_bench(a.args)),
]


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of every command but ``bench`` (which passes its arguments on).

    Example:
        >>> args = build_parser().parse_args(["generate", "--model", "m.safetensors",
        ...                                   "--prefix", "the"])
        >>> args.num_tokens, args.temperature
        (100, 0.0)
    """
    parser = _Parser(prog="seqrnn", description=DESCRIPTION, formatter_class=_Formatter)
    parser.add_argument("--version", action="version", version=f"seqrnn {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name, text, add_arguments, func in _COMMANDS:
        p = sub.add_parser(name, help=text, description=text, formatter_class=_Formatter,
                           add_help=name != "bench")
        add_arguments(p)
        p.set_defaults(func=func)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run ``seqrnn COMMAND [options]``; returns the exit status.

    0 on success; 2 for a user mistake (one ``seqrnn: error: ...`` line on stderr); usage
    mistakes (unknown or missing options) exit 2 through ``SystemExit`` after one line
    ``seqrnn COMMAND: error: ...``; ``bench`` returns
    the benchmark's status; Ctrl-C gives 130.

    Example:
        >>> main(["translate", "--model", "missing.safetensors", "go ."])   # one line on stderr
        2
    """
    argv = list(sys.argv[1:] if argv is None else argv)
    try:
        if argv[:1] == ["bench"]:
            return cli.run_bench(argv[1:])
        args = build_parser().parse_args(argv)
        cli.check_values(args)
        if not getattr(args, "json", False):
            args.func(args)
            return 0
        with contextlib.redirect_stdout(sys.stderr):  # stdout holds the JSON and nothing else
            result = args.func(args)
        print(json.dumps(cli.jsonable(result)), flush=True)
        return 0
    except cli.USER_ERRORS as e:
        message = " ".join(str(e).split()) or type(e).__name__
        print(f"seqrnn: error: {message}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("seqrnn: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
