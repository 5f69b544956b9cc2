"""Pictures for the command line, drawn with matplotlib: perplexity per epoch, and a
translator's attention weights as a heatmap.

matplotlib is an optional dependency (``pip install matplotlib``, or ``pip install
seqrnn[plot]``). :func:`check_plot_file` tells early, before any training, whether a curve can
be written; :func:`save_perplexity_curve` draws it. Only ``matplotlib.figure.Figure`` is used,
never ``pyplot``, so no window or GUI backend is involved.

Example:
    >>> from seqrnn._training import History
    >>> history = History(train_perplexity=[9.0, 5.0, 4.0], valid_perplexity=[8.0, 6.0, 5.5])
    >>> check_plot_file("curve.png")
    >>> save_perplexity_curve(history, "curve.png", "char model")
"""

from __future__ import annotations

import io
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from . import _core
from ._training import History

INSTALL_HINT = "pip install matplotlib"


def check_plot_file(path: str | os.PathLike[str]) -> None:
    """Raise before any work if a curve cannot be written to ``path``.

    ``ImportError`` when matplotlib is missing (the message names ``pip install matplotlib``);
    ``ValueError`` when the file name has no extension matplotlib writes (``.png``, ``.pdf``,
    ``.svg``, ...), its folder does not exist, or it names something that is not a regular
    file (a folder, FIFO, socket or device).

    Example:
        >>> check_plot_file("curve.png")          # fine: returns None
        >>> check_plot_file("curve.txt")
        Traceback (most recent call last):
            ...
        ValueError: --plot curve.txt: give a file name with an image extension (.png, .pdf, .svg, ...)
    """
    try:
        from matplotlib.backend_bases import FigureCanvasBase
    except ImportError as e:
        message = f"--plot needs matplotlib, which is not installed: {INSTALL_HINT}"
        raise ImportError(message) from e
    p = Path(path)
    formats = FigureCanvasBase.get_supported_filetypes()  # {"png": "Portable Network ...", ...}
    if p.suffix[1:].lower() not in formats:
        known = ", ".join(f".{ext}" for ext in ("png", "pdf", "svg") if ext in formats)
        raise ValueError(f"--plot {p}: give a file name with an image extension ({known}, ...)")
    folder = p.parent if str(p.parent) else Path(".")
    if not folder.is_dir():
        raise ValueError(f"--plot {p}: folder {folder} does not exist")
    if p.exists() and not p.is_file():  # stat only: a FIFO is never opened
        raise ValueError(f"--plot {p}: is not a regular file (a folder, FIFO, socket or "
                         "device); give a file name")


def save_perplexity_curve(
    history: History, path: str | os.PathLike[str], title: str = "training"
) -> None:
    """Write training (and, when recorded, validation) perplexity against epoch to ``path``.

    The format follows the file extension (``.png``, ``.pdf``, ``.svg``, ...).

    Example:
        >>> history = History(train_perplexity=[9.0, 5.0, 4.0], valid_perplexity=[8.0, 6.0, 5.5])
        >>> save_perplexity_curve(history, "curve.png", "char model")
    """
    from matplotlib.figure import Figure
    from matplotlib.ticker import MaxNLocator

    epochs = list(range(1, history.epochs + 1))
    fig = Figure(figsize=(6.4, 4.0), layout="constrained")
    ax = fig.add_subplot()
    ax.plot(epochs, history.train_perplexity, marker="o", markersize=3, label="training")
    if history.valid_perplexity:
        ax.plot(epochs[: len(history.valid_perplexity)], history.valid_perplexity, marker="o",
                markersize=3, label="validation")
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))  # whole epochs only
    ax.set_xlabel("epoch")
    ax.set_ylabel("perplexity")
    ax.set_title(title)
    ax.grid(True, alpha=0.3)
    ax.legend()
    image = io.BytesIO()
    fig.savefig(image, format=Path(path).suffix[1:].lower() or None, dpi=120)
    _core.write_atomic(os.fspath(path), image.getvalue())  # as models are saved


def save_attention_heatmap(
    weights: Any, source: Sequence[str], output: Sequence[str], path: str | os.PathLike[str],
    title: str = "attention",
) -> None:
    """Draw attention ``weights`` ``(output steps, source steps)`` as a heatmap (d2l's
    ``show_heatmaps``): one row per output token, one column per source token, darker where
    the decoder looked. The format follows the file extension.

    Example:
        >>> save_attention_heatmap([[0.9, 0.1], [0.2, 0.8]], ["go", "<eos>"], ["va", "!"],
        ...                        "heatmap.png")
    """
    import numpy as np
    from matplotlib.figure import Figure

    w = np.asarray(weights, dtype=np.float64)
    if w.ndim != 2 or w.shape != (len(output), len(source)):
        raise ValueError(f"weights: expected shape (len(output), len(source)) = "
                         f"({len(output)}, {len(source)}), got {w.shape}")
    fig = Figure(figsize=(1.2 + 0.5 * len(source), 1.0 + 0.4 * len(output)),
                 layout="constrained")
    ax = fig.add_subplot()
    image = ax.imshow(w, cmap="Reds", vmin=0.0, vmax=1.0, aspect="auto")
    ax.set_xticks(range(len(source)), list(source), rotation=45, ha="right")
    ax.set_yticks(range(len(output)), list(output))
    ax.set_xlabel("source")
    ax.set_ylabel("output")
    ax.set_title(title)
    fig.colorbar(image, ax=ax, shrink=0.8)
    data = io.BytesIO()
    fig.savefig(data, format=Path(path).suffix[1:].lower() or None, dpi=120)
    _core.write_atomic(os.fspath(path), data.getvalue())
