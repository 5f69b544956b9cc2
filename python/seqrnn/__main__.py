"""Command line: ``python -m seqrnn demo`` (and the ``seqrnn`` console script)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path


def main(argv: list[str] | None = None) -> int:
    """Parse arguments and run a subcommand; user mistakes print one line and exit 2."""
    parser = argparse.ArgumentParser(prog="seqrnn", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    demo = sub.add_parser("demo", help="train a character model on an embedded text and sample")
    demo.add_argument("--text", type=Path, help="train on this text file instead")
    demo.add_argument("--epochs", type=int, default=8)
    demo.add_argument("--hidden", type=int, default=256)
    demo.add_argument("--seed", type=int, default=0)
    demo.add_argument("--no-progress", action="store_true")
    args = parser.parse_args(argv)
    try:
        if args.command == "demo":
            from . import demo as demo_module

            text = None if args.text is None else args.text.read_text(encoding="utf-8")
            demo_module.run(text, epochs=args.epochs, hidden_size=args.hidden, seed=args.seed,
                            progress=not args.no_progress)
    except (OSError, ValueError, TypeError, IndexError) as e:
        print(f"seqrnn: error: {e}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
