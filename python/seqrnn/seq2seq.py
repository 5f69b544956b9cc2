"""``seqrnn.Seq2Seq`` and ``seqrnn.Translator``: RNN encoder-decoder translation (d2l's seq2seq)."""

from __future__ import annotations

import inspect
import os
from collections.abc import Callable, Sequence
from typing import Any

import numpy.typing as npt

from . import _core
from . import _validate as v
from ._module import StateDict, users_entries
from ._training import FitOptions, History, Saving, perplexity, previous_trainer, run_epochs

Array = npt.NDArray[Any]
SRC_VOCAB_KEY, TGT_VOCAB_KEY, STEPS_KEY = "seqrnn.src_vocab", "seqrnn.tgt_vocab", "seqrnn.num_steps"
MAX_NUM_STEPS = 65_536  # the longest sentence (in tokens) a Translator pads to
# The reserved tokens a translator's vocabularies must hold (make_translation_data adds them).
SRC_RESERVED, TGT_RESERVED = ("<pad>", "<eos>"), ("<pad>", "<bos>", "<eos>")


@v.int_args_everywhere
class Seq2Seq(StateDict):
    """Embedding + tanh RNN encoder, embedding + tanh RNN decoder, linear logits.

    The decoder starts from the encoder's final state (taken at each source's valid length);
    with ``context="concat"`` (d2l) the encoder's top-layer final state is also appended to
    every decoder input, so ``decoder.rnn.weight_ih_l0`` is ``(H, E + H)``; ``"none"`` is the
    plain design. With ``attention="additive"`` (d2l's Bahdanau design, section 11.4) the
    decoder's top-layer state attends at every step to all the encoder's top-layer states of
    the sentence (masked at its valid length), and the context comes first in the decoder's
    input, ``[c_t, embedding]``: ``decoder.rnn.weight_ih_l0`` is ``(H, H + E)`` and
    ``decoder.attention.W_q.weight``, ``W_k.weight`` ``(H, H)``, ``w_v.weight`` ``(1, H)`` are
    added (``context`` then defaults to ``"none"``). Recurrent weights start orthogonal (``init="orthogonal"``; ``"uniform"`` is
    PyTorch's default): with it the tanh RNN learns d2l's small English-French task as reliably
    as d2l's GRU (see README). State-dict names: ``encoder.embedding.weight``, ``encoder.rnn.weight_ih_l0``,
    ..., ``decoder.embedding.weight``, ``decoder.rnn.*``, ``decoder.output.weight``,
    ``decoder.output.bias``.

    Shapes: source ids ``(batch, src_steps)``, targets ``(batch, tgt_steps)``, valid lengths
    ``(batch,)`` (each between 1 and the number of steps).

    Example:
        >>> m = Seq2Seq(10, 12, embed_size=4, hidden_size=8, num_layers=1, seed=0)
        >>> src = np.array([[3, 4, 2, 0]]); tgt_in = np.array([[1, 5, 6]]); tgt_out = np.array([[5, 6, 2]])
        >>> loss, grads = m.loss_and_grads(src, [3], tgt_in, tgt_out, [3])
    """

    def __init__(
        self,
        src_vocab_size: int,
        tgt_vocab_size: int,
        embed_size: int = 256,
        hidden_size: int = 256,
        num_layers: int = 2,
        context: str | None = None,
        seed: int | None = None,
        dtype: Any = "float32",
        init: str = "orthogonal",
        dropout: float = 0.0,
        attention: str = "none",
    ) -> None:
        if context is None:
            context = "none" if attention == "additive" else "concat"
        self.seed: int | None = v.seed_or_random(seed)
        self._core = _core.Seq2Seq(
            v.positive_int(src_vocab_size, "src_vocab_size"),
            v.positive_int(tgt_vocab_size, "tgt_vocab_size"),
            v.positive_int(embed_size, "embed_size"),
            v.positive_int(hidden_size, "hidden_size"),
            v.positive_int(num_layers, "num_layers"),
            context,
            self.seed,
            v.dtype_name(dtype),
            init,
            float(dropout),
            attention,
        )

    def _config(self) -> tuple[int, int, int, int, int, str]:
        return self._core.config  # type: ignore[no-any-return]

    src_vocab_size = property(lambda self: self._config()[0], doc="Source vocabulary size.")
    tgt_vocab_size = property(lambda self: self._config()[1], doc="Target vocabulary size.")
    embed_size = property(lambda self: self._config()[2], doc="Embedding width.")
    hidden_size = property(lambda self: self._config()[3], doc="RNN units per layer.")
    num_layers = property(lambda self: self._config()[4], doc="Stacked layers per side.")
    context = property(lambda self: self._config()[5], doc="'concat' or 'none'.")
    dtype = property(lambda self: self._core.dtype, doc="'float32' or 'float64'.")
    dropout = property(lambda self: self._core.dropout, doc="Between-layer dropout in fit.")
    attention = property(lambda self: self._core.attention, doc="'none' or 'additive'.")

    def __repr__(self) -> str:
        return (
            f"Seq2Seq({self.src_vocab_size}, {self.tgt_vocab_size}, embed_size={self.embed_size}, "
            f"hidden_size={self.hidden_size}, num_layers={self.num_layers}, "
            f"context={self.context!r}, attention={self.attention!r}, dtype={self.dtype!r})"
        )

    @staticmethod
    def _arrays(src: Any, src_valid_len: Any, tgt_in: Any, tgt_out: Any,
                tgt_valid_len: Any) -> tuple[Array, Array, Array, Array, Array]:
        arrays = (v.ids(src, "src"), v.lengths(src_valid_len, "src_valid_len"), v.ids(tgt_in, "tgt_in"),
                  v.ids(tgt_out, "tgt_out"), v.lengths(tgt_valid_len, "tgt_valid_len"))
        for a, what in zip(arrays, ("src", "src_valid_len", "tgt_in", "tgt_out", "tgt_valid_len")):
            v.ndim(a, what, (1,) if what.endswith("len") else (2,),
                   "(batch,)" if what.endswith("len") else "(batch, steps)")
        v.same_shape(arrays[3], "tgt_out", arrays[2], "tgt_in")
        return arrays

    def loss_and_grads(self, src: Any, src_valid_len: Any, tgt_in: Any, tgt_out: Any,
                       tgt_valid_len: Any) -> tuple[float, dict[str, Array]]:
        """Teacher-forced mean cross-entropy over target tokens before each valid length (sum
        over tokens divided by their count) and the exact gradient of every parameter.

        Shapes: ``src`` ``(batch, src_steps)``, ``tgt_in`` and ``tgt_out`` ``(batch,
        tgt_steps)``, valid lengths ``(batch,)`` -> ``(loss, {name: array shaped like the
        parameter})``.

        Example:
            >>> m = Seq2Seq(10, 12, embed_size=4, hidden_size=8, num_layers=1, seed=0)
            >>> loss, grads = m.loss_and_grads([[3, 4, 2]], [3], [[1, 5, 6]], [[5, 6, 2]], [3])
            >>> grads["decoder.rnn.weight_ih_l0"].shape            # (hidden, embed + hidden)
            (8, 12)
        """
        loss, grads, _ = self._core.loss_and_grads(
            *self._arrays(src, src_valid_len, tgt_in, tgt_out, tgt_valid_len))
        return loss, dict(grads)

    def perplexity(self, data: Any, batch_size: int | None = None) -> float:
        """``exp`` of the teacher-forced mean cross-entropy over the valid target tokens of
        ``data`` (a :class:`~seqrnn.data.TranslationData` or the five arrays of
        :meth:`loss_and_grads`), computed without gradients or dropout, ``batch_size`` pairs at
        a time (all at once by default); ``inf`` past the largest float.

        Example:
            >>> m = Seq2Seq(10, 12, embed_size=4, hidden_size=8, num_layers=1, seed=0)
            >>> pairs = ([[3, 4, 2]], [3], [[1, 5, 6]], [[5, 6, 2]], [3])
            >>> bool(np.isclose(m.perplexity(pairs), np.exp(m.loss_and_grads(*pairs)[0])))
            True
        """
        src, src_len, tgt_in, tgt_out, tgt_len = self._arrays(*_as_tuple(data))
        n = len(src)
        size = n if batch_size is None else v.positive_int(batch_size, "batch_size")
        if size >= n:
            return perplexity(self._core.loss(src, src_len, tgt_in, tgt_out, tgt_len)[0])
        total, tokens = 0.0, 0
        for i in range(0, n, size):
            rows = slice(i, i + size)
            loss, count = self._core.loss(src[rows], src_len[rows], tgt_in[rows],
                                          tgt_out[rows], tgt_len[rows])
            total, tokens = total + loss * count, tokens + count
        return perplexity(total / max(tokens, 1))

    def fit(
        self,
        data: Any,
        epochs: int = 10,
        batch_size: int = 128,
        lr: float | None = None,
        optimizer: str = "adam",
        clip: float | None = 1.0,
        valid: Any = None,
        progress: bool = True,
        callback: Callable[[int, dict[str, float]], Any] | None = None,
        seed: int | None = None,
        momentum: float = 0.0,
        weight_decay: float = 0.0,
        checkpoint: str | os.PathLike[str] | None = None,
        checkpoint_every: int = 1,
        checkpoint_every_steps: int | None = None,
        resume: bool | str | os.PathLike[str] = False,
        keep_best: bool = False,
        best_path: str | os.PathLike[str] | None = None,
        schedule: str | dict[str, Any] | None = None,
        early_stopping: int | None = None,
        clip_value: float | None = None,
        reset_optimizer: bool = False,
        bucketing: bool = False,
    ) -> History:
        """Train with teacher forcing on ``data``: a ``TranslationData`` (see
        :func:`seqrnn.data.load_translation_pairs`; its ``train`` rows only, never those it
        holds out as ``valid``) or a tuple ``(src, src_valid_len, tgt_in, tgt_out,
        tgt_valid_len)``. Minibatches are reshuffled each epoch. ``valid`` (same forms, all its
        rows) adds a per-epoch validation perplexity. Returns a :class:`History`.

        Each minibatch is cut to its longest source and target, which gives the same losses and
        gradients as the padded minibatch. ``bucketing=True`` (torchtext's ``BucketIterator``)
        puts pairs of similar lengths together: each epoch the shuffled pairs are sorted by
        length within pools of 100 minibatches' worth and the minibatches are shuffled, so they
        hold little padding; every pair is still seen once an epoch, and the same seed gives the
        same minibatches (a checkpoint records the setting, and a resumed run must match it).

        Every other argument works as in :meth:`LanguageModel.fit` (``lr`` defaults to the
        optimizer's usual rate, Adam's 0.001); the same trainer runs both.

        Shapes: ``src``, ``tgt_in``, ``tgt_out`` ``(n, steps)``; valid lengths ``(n,)``.

        Example:
            >>> m = Seq2Seq(10, 12, embed_size=4, hidden_size=8, num_layers=1, seed=0)
            >>> src, src_len = np.array([[3, 4, 2], [5, 2, 0]]), np.array([3, 2])
            >>> tgt_in, tgt_out = np.array([[1, 5, 6], [1, 7, 0]]), np.array([[5, 6, 2], [7, 2, 0]])
            >>> history = m.fit((src, src_len, tgt_in, tgt_out, np.array([3, 2])), epochs=50,
            ...                 batch_size=2, lr=0.05, progress=False, seed=0)
            >>> m.decode(src, src_len, bos=1, eos=2, max_len=5)     # learned by heart
            [[5, 6], [7]]
        """
        args = dict(locals())
        del args["self"]
        return self._fit(**args)

    def _fit(self, data: Any, epochs: int, batch_size: int, lr: float | None, optimizer: str,
             clip: float | None, valid: Any, progress: bool,
             callback: Callable[[int, dict[str, float]], Any] | None, seed: int | None,
             momentum: float, weight_decay: float, checkpoint: Any, checkpoint_every: int,
             checkpoint_every_steps: int | None, resume: Any, keep_best: bool, best_path: Any,
             schedule: Any, early_stopping: int | None, clip_value: float | None,
             reset_optimizer: bool, bucketing: bool = False,
             save_best: Callable[[str], None] | None = None) -> History:
        if hasattr(data, "subset") and len(getattr(data, "valid", ())):
            data = data.subset(data.train)  # a TranslationData's held-out rows stay out
        arrays = self._arrays(*_as_tuple(data))
        valid_arrays = None if valid is None else self._arrays(*_as_tuple(valid))
        if valid_arrays is not None:  # checked now, not after the first epoch
            src, _, tgt_in, tgt_out, _ = valid_arrays
            v.ids_in_range(src, "valid src", self.src_vocab_size)
            v.ids_in_range(tgt_in, "valid tgt_in", self.tgt_vocab_size)
            v.ids_in_range(tgt_out, "valid tgt_out", self.tgt_vocab_size)
        has_valid = valid_arrays is not None
        options = FitOptions.of(epochs, batch_size, lr, optimizer, clip, clip_value, schedule,
                                early_stopping, has_valid)
        saving = Saving.of(checkpoint, checkpoint_every, checkpoint_every_steps, resume,
                           keep_best, best_path, has_valid, seed)
        trainer = _core.Trainer(
            self._core, arrays, options.batch_size, options.lr, optimizer,
            seed=v.seed_or_random(seed), momentum=float(momentum),
            weight_decay=float(weight_decay), previous=previous_trainer(self, reset_optimizer),
            bucketing=bucketing, **options.core(saving))

        def validate() -> float:
            assert valid_arrays is not None
            return perplexity(self._core.loss(*valid_arrays)[0])

        return run_epochs(trainer, self, options.epochs, progress,
                          validate if has_valid else None, callback, saving, save_best)

    def decode(self, src: Any, src_valid_len: Any, bos: int, eos: int, max_len: int,
               beam_size: int = 1, alpha: float = 0.75, with_scores: bool = False) -> list[Any]:
        """Token ids of the translation of each source row (without ``<bos>``/``<eos>``):
        greedy for ``beam_size=1``, else beam search ranked by ``log P / L**alpha``.

        With ``with_scores=True``, each row's ``(ids, log_prob, score)`` instead: ``log_prob``
        is the natural-log probability of ``ids`` followed by ``<eos>`` (without it when
        ``max_len`` cut the sentence off), ``score`` is ``log_prob / L**alpha`` with ``L`` the
        number of tokens it counts (``<eos>`` included), the quantity beam search maximizes.

        Shapes: ``src`` ``(batch, src_steps)``, ``src_valid_len`` ``(batch,)`` -> ``batch``
        lists of at most ``max_len`` ids (or ``batch`` tuples).

        Example:
            >>> m = Seq2Seq(10, 12, embed_size=4, hidden_size=8, num_layers=1, seed=0)
            >>> out = m.decode([[3, 4, 2, 0], [5, 2, 0, 0]], [3, 2], bos=1, eos=2, max_len=5,
            ...                beam_size=3)
            >>> len(out), all(len(ids) <= 5 for ids in out)
            (2, True)
            >>> ids, log_prob, score = m.decode([[3, 4, 2]], [3], bos=1, eos=2, max_len=5,
            ...                                 beam_size=3, with_scores=True)[0]
            >>> ids == out[0], log_prob <= score <= 0.0
            (True, True)
        """
        src_a, lens = v.ids(src, "src"), v.lengths(src_valid_len, "src_valid_len")
        v.ndim(src_a, "src", (2,), "(batch, steps)")
        hyps = self._core.decode(src_a, lens, v.non_negative_int(bos, "bos"),
                                 v.non_negative_int(eos, "eos"), v.positive_int(max_len, "max_len"),
                                 v.positive_int(beam_size, "beam_size"), v.number(alpha, "alpha"))
        if with_scores:
            return [(list(tokens), log_prob, score) for tokens, log_prob, score in hyps]
        return [list(tokens) for tokens, _, _ in hyps]

    def decode_steps(self, src: Any, bos: int, eos: int, max_len: int) -> dict[str, Any]:
        """Greedy translation of one sentence ``src`` (its token ids, no padding), step by step.

        Returns ``{"encoder_states": (src_steps, hidden), "decoder_states": (out_steps, hidden),
        "logits": (out_steps, tgt_vocab), "tokens": [argmax of each step], "attention":
        (out_steps, src_steps) or None}`` (top layer's states; ``tokens`` ends with ``eos``
        when it was chosen within ``max_len`` steps; ``attention``: with
        ``attention="additive"``, the weights each output step gave each source token, rows
        summing to 1). The tokens before ``eos`` are what :meth:`decode` returns for this
        sentence.

        Example:
            >>> m = Seq2Seq(10, 12, embed_size=4, hidden_size=8, num_layers=1, seed=0)
            >>> steps = m.decode_steps([3, 4, 2], bos=1, eos=2, max_len=5)
            >>> steps["encoder_states"].shape, steps["logits"].shape, steps["tokens"][-1]
            ((3, 8), (5, 12), 2)
        """
        src_a = v.ids(src, "src")
        v.ndim(src_a, "src", (1,), "(src_steps,)")
        enc, dec, logits, tokens, weights = self._core.greedy_steps(src_a, bos, eos, max_len)
        return {"encoder_states": enc, "decoder_states": dec, "logits": logits,
                "tokens": list(tokens), "attention": weights}

    def save(self, path: str | os.PathLike[str], metadata: dict[str, str] | None = None) -> None:
        """Write one safetensors file atomically, with ``metadata`` (str -> str, keys not
        starting with ``seqrnn.``) in its header, read back as ``Seq2Seq.load(path).metadata``.

        Example:
            >>> Seq2Seq(10, 12, 4, 8, seed=0).save("s2s.safetensors", {"note": "untrained"})
            >>> Seq2Seq.load("s2s.safetensors").metadata
            {'note': 'untrained'}
        """
        self._save(path, v.user_metadata(metadata))

    def _save(self, path: str | os.PathLike[str], meta: dict[str, str]) -> None:
        self._core.save(os.fspath(path), meta)

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> Seq2Seq:
        """Read a file written by :meth:`save` (validated; never executes code).

        Example:
            >>> Seq2Seq(10, 12, 4, 8, num_layers=1, seed=0).save("s2s.safetensors")
            >>> Seq2Seq.load("s2s.safetensors")
            Seq2Seq(10, 12, embed_size=4, hidden_size=8, num_layers=1, context='concat', attention='none', dtype='float32')
        """
        return cls._from_core(*_core.Seq2Seq.load(os.fspath(path)))

    @classmethod
    def _from_core(cls, core: Any, meta: dict[str, str] | None = None) -> Seq2Seq:
        m = cls.__new__(cls)
        m._core, m.seed, m._metadata = core, None, users_entries(meta or {})
        return m


def _as_tuple(data: Any) -> tuple[Any, ...]:
    if hasattr(data, "src") and hasattr(data, "tgt_out"):
        return (data.src, data.src_valid_len, data.tgt_in, data.tgt_out, data.tgt_valid_len)
    if isinstance(data, (tuple, list)) and len(data) == 5:
        return tuple(data)
    raise TypeError("data must be a TranslationData or a tuple "
                    "(src, src_valid_len, tgt_in, tgt_out, tgt_valid_len)")


@v.int_args_everywhere
class Translator:
    """A :class:`Seq2Seq` with its vocabularies: sentences in, sentences out.

    Example:
        >>> pairs = [("one", "un"), ("two", "deux"), ("three", "trois"), ("one two", "un deux"),
        ...          ("two three", "deux trois"), ("three one", "trois un")]
        >>> tr = Translator.train(pairs, epochs=100, embed_size=8, hidden_size=16,
        ...                       num_layers=1, batch_size=6, lr=0.02, seed=0, progress=False)
        >>> tr.translate(["one two", "three"])
        ['un deux', 'trois']
    """

    def __init__(self, model: Seq2Seq, src_vocab: Any, tgt_vocab: Any, num_steps: int) -> None:
        """``num_steps`` (at most ``MAX_NUM_STEPS``, 65,536) is the length sentences are cut
        or padded to; the vocabularies must fit the model and hold d2l's reserved tokens
        (``<pad>`` and ``<eos>``; the target one ``<bos>`` too)."""
        self.num_steps = v.positive_int(num_steps, "num_steps")
        if self.num_steps > MAX_NUM_STEPS:
            raise ValueError(f"num_steps must be at most {MAX_NUM_STEPS}, got {num_steps}")
        for side, vocab, size, reserved in (("src_vocab", src_vocab, model.src_vocab_size,
                                             SRC_RESERVED),
                                            ("tgt_vocab", tgt_vocab, model.tgt_vocab_size,
                                             TGT_RESERVED)):
            if len(vocab) != size:
                raise ValueError(f"{side}: the model expects {size} tokens, got {len(vocab)}")
            tokens = set(vocab.idx_to_token)
            missing = [t for t in reserved if t not in tokens]
            if missing:
                raise ValueError(f"{side}: expected the reserved tokens {list(reserved)}, "
                                 f"{missing[0]!r} is missing")
        self.model, self.src_vocab, self.tgt_vocab = model, src_vocab, tgt_vocab
        self.history: History | None = None  # set by Translator.train

    @classmethod
    def train(
        cls,
        pairs: Sequence[tuple[str, str]],
        epochs: int = 50,
        num_steps: int | None = None,
        min_freq: int = 0,
        embed_size: int = 256,
        hidden_size: int = 256,
        num_layers: int = 2,
        batch_size: int = 128,
        lr: float = 0.005,
        seed: int | None = None,
        progress: bool = True,
        context: str | None = None,
        dropout: float = 0.0,
        init: str = "orthogonal",
        dtype: Any = "float32",
        attention: str = "none",
        valid_fraction: float = 0.0,
        valid_pairs: Sequence[tuple[str, str]] | None = None,
        **fit_args: Any,
    ) -> Translator:
        """Vocabularies from the training pairs of ``pairs`` (source, target sentences), a
        :class:`Seq2Seq` (``embed_size`` ... ``dtype`` as there) and :meth:`Seq2Seq.fit`, which
        every other keyword argument goes to (``schedule``, ``keep_best``, ``early_stopping``,
        ``checkpoint``, ``optimizer``, ...). ``num_steps`` defaults to the longest sentence plus
        two. Validation pairs, for a per-epoch validation perplexity, keep-best and plateau
        schedules: ``valid_pairs``, or the last ``valid_fraction`` of ``pairs``; their words
        are not in the vocabularies unless the training pairs have them. ``best_path`` saves
        the whole translator. The history is ``translator.history``.

        Example:
            >>> tr = Translator.train([("hi", "salut"), ("go", "va")], epochs=30, embed_size=4,
            ...                       hidden_size=8, num_layers=1, batch_size=2, seed=0,
            ...                       progress=False)
            >>> tr.translate("hi"), tr.history.epochs
            ('salut', 30)
        """
        from .data import check_pairs, make_translation_data

        pairs = check_pairs(pairs)
        if not pairs:
            raise ValueError("pairs must hold at least one (source, target) pair, got none")
        held = [] if valid_pairs is None else check_pairs(valid_pairs)
        if held and valid_fraction:
            raise ValueError("give valid_pairs or valid_fraction, not both")
        fraction = float(valid_fraction)
        if not 0.0 <= fraction < 1.0:
            raise ValueError(f"valid_fraction must be in [0, 1), got {valid_fraction}")
        num_valid = len(held) or round(fraction * len(pairs))
        if num_steps is None:
            num_steps = 2 + max(len(s.split()) for pair in pairs + held for s in pair)
        data = make_translation_data(pairs + held, num_steps, min_freq=min_freq,
                                     num_valid=num_valid)
        model = Seq2Seq(len(data.src_vocab), len(data.tgt_vocab), embed_size, hidden_size,
                        num_layers, context, seed, dtype, init, dropout, attention)
        tr = cls(model, data.src_vocab, data.tgt_vocab, num_steps)
        bound = inspect.signature(Seq2Seq.fit).bind(
            model, data, epochs, batch_size, lr, progress=progress, seed=seed, **fit_args)
        bound.apply_defaults()
        a = dict(bound.arguments)
        del a["self"]
        if num_valid:
            if a["valid"] is not None:
                raise ValueError("give valid_pairs or valid_fraction, or valid, not two of them")
            a["valid"] = data.subset(data.valid)
        tr.history = model._fit(**a, save_best=tr.save)
        return tr

    def translate(self, sentences: str | Sequence[str], beam_size: int = 1, alpha: float = 0.75,
                  max_len: int | None = None, with_scores: bool = False) -> Any:
        """Translate one sentence (returns a str) or a list of them (returns a list), greedy
        or with beam search (``beam_size``, length penalty ``alpha``). With
        ``with_scores=True``, each translation is a tuple ``(text, log_prob, score)``, as in
        :meth:`Seq2Seq.decode`.

        Example:
            >>> pairs = [("one", "un"), ("two", "deux"), ("three", "trois"),
            ...          ("one two", "un deux"), ("two three", "deux trois"), ("three one", "trois un")]
            >>> tr = Translator.train(pairs, epochs=100, embed_size=8, hidden_size=16,
            ...                       num_layers=1, batch_size=6, lr=0.02, seed=0, progress=False)
            >>> tr.translate(["two three", "one", "three one"], beam_size=2)
            ['deux trois', 'un', 'trois un']
        """
        from .data import encode_sentences

        single = isinstance(sentences, str)
        try:
            batch: list[str] = [sentences] if isinstance(sentences, str) else list(sentences)
        except TypeError:
            raise TypeError(f"sentences must be a str or a list of str, "
                            f"got {type(sentences).__name__}") from None
        if not batch:
            return []
        src, lens = encode_sentences(batch, self.src_vocab, self.num_steps)
        out = self.model.decode(src, lens, self.tgt_vocab["<bos>"], self.tgt_vocab["<eos>"],
                                max_len or self.num_steps, beam_size, alpha, with_scores=True)
        scored = [(" ".join(self.tgt_vocab.to_tokens(ids)), log_p, score)
                  for ids, log_p, score in out]
        texts: list[Any] = scored if with_scores else [text for text, _, _ in scored]
        return texts[0] if single else texts

    def attention(self, sentence: str, max_len: int | None = None) -> dict[str, Any]:
        """Where the decoder looked: the greedy translation of ``sentence`` with its attention
        weights, for a model built with ``attention="additive"``.

        Returns ``{"source": [tokens, with <eos>], "output": [tokens, with <eos> when it was
        chosen], "weights": (len(output), len(source))}``; draw it with
        :func:`seqrnn.plot.save_attention_heatmap`.

        Example:
            >>> pairs = [("a b", "b a"), ("b a", "a b"), ("a a", "a a"), ("b b", "b b")]
            >>> tr = Translator.train(pairs, epochs=5, embed_size=4, hidden_size=8,
            ...                       num_layers=1, batch_size=4, seed=0, progress=False,
            ...                       attention="additive")
            >>> a = tr.attention("a b")
            >>> a["source"], a["weights"].shape == (len(a["output"]), 3)
            (['a', 'b', '<eos>'], True)
        """
        from .data import encode_sentences

        if not isinstance(sentence, str):
            raise TypeError(f"sentence must be a str, got {type(sentence).__name__}")
        if self.model.attention == "none":
            raise ValueError("attention: this translator's model has no attention (built with "
                             "attention='none'); train one with attention='additive'")
        src, lens = encode_sentences([sentence], self.src_vocab, self.num_steps)
        ids = src[0, : lens[0]]
        steps = self.model.decode_steps(ids, self.tgt_vocab["<bos>"], self.tgt_vocab["<eos>"],
                                        max_len or self.num_steps)
        return {"source": self.src_vocab.to_tokens(ids.tolist()),
                "output": self.tgt_vocab.to_tokens(steps["tokens"]),
                "weights": steps["attention"]}

    def save(self, path: str | os.PathLike[str], metadata: dict[str, str] | None = None) -> None:
        """Model, both vocabularies and ``num_steps`` in one safetensors file, atomically, with
        ``metadata`` as :meth:`Seq2Seq.save` (read back as ``Translator.load(path).metadata``).

        Example:
            >>> tr = Translator.train([("hi", "salut")], epochs=1, embed_size=4, hidden_size=8,
            ...                       num_layers=1, seed=0, progress=False)
            >>> tr.save("tr.safetensors")
        """
        self.model._save(path, {**v.user_metadata(metadata),
                                SRC_VOCAB_KEY: self.src_vocab.to_json(),
                                TGT_VOCAB_KEY: self.tgt_vocab.to_json(),
                                STEPS_KEY: str(self.num_steps)})

    @property
    def metadata(self) -> dict[str, str]:
        """The caller's entries of the file this translator was loaded from.

        Example:
            >>> tr = Translator.train([("hi", "salut")], epochs=1, embed_size=4, hidden_size=8,
            ...                       num_layers=1, seed=0, progress=False)
            >>> tr.save("tr.safetensors", {"data": "one pair"})
            >>> Translator.load("tr.safetensors").metadata
            {'data': 'one pair'}
        """
        return self.model.metadata

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> Translator:
        """Read a file written by :meth:`save`.

        Example:
            >>> tr = Translator.train([("hi", "salut")], epochs=1, embed_size=4, hidden_size=8,
            ...                       num_layers=1, seed=0, progress=False)
            >>> tr.save("tr.safetensors")
            >>> Translator.load("tr.safetensors").num_steps
            3
        """
        from .vocab import Vocab

        name = os.fspath(path)
        core, meta = _core.Seq2Seq.load(name)
        missing = [k for k in (SRC_VOCAB_KEY, TGT_VOCAB_KEY, STEPS_KEY) if k not in meta]
        if missing:
            raise ValueError(f"invalid checkpoint: {name}: not a translator checkpoint "
                             f"(no {missing[0]})")
        model = Seq2Seq._from_core(core, meta)
        steps = meta[STEPS_KEY]
        if not (steps.isascii() and steps.isdigit() and len(steps) <= 6
                and 1 <= int(steps) <= MAX_NUM_STEPS):
            raise ValueError(f"invalid checkpoint: {name}: num_steps must be an int in "
                             f"[1, {MAX_NUM_STEPS}], got {steps[:40]!r}")
        try:
            vocabs = Vocab.from_json(meta[SRC_VOCAB_KEY]), Vocab.from_json(meta[TGT_VOCAB_KEY])
            return cls(model, *vocabs, int(steps))
        except ValueError as e:
            raise ValueError(f"invalid checkpoint: {name}: {e}") from None
