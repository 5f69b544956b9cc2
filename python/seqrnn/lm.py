"""``seqrnn.LanguageModel``: next-token prediction with an RNN (d2l's RNN chapter, min-char-rnn)."""

from __future__ import annotations

import os
import warnings
from collections.abc import Callable
from typing import Any

import numpy as np
import numpy.typing as npt

from . import _core
from . import _validate as v
from ._module import StateDict, users_entries
from ._training import FitOptions, History, Saving, previous_trainer, run_epochs

Array = npt.NDArray[Any]
VOCAB_KEY = "seqrnn.vocab"


def _texts(prefix: Any) -> list[str] | None:
    """``prefix`` as a list of texts, or ``None`` when it holds token ids."""
    if isinstance(prefix, str):
        return [prefix]
    if isinstance(prefix, (list, tuple)) and prefix and isinstance(prefix[0], str):
        if not all(isinstance(p, str) for p in prefix):
            raise TypeError("prefix: a list of prefixes holds either strings or id sequences, "
                            "not both")
        return list(prefix)
    return None


def _is_batch(prefix: Any) -> bool:
    """Whether token-id ``prefix`` is several prefixes: a list of sequences or a 2-D array."""
    if isinstance(prefix, np.ndarray):
        return prefix.ndim == 2
    return (isinstance(prefix, (list, tuple)) and len(prefix) > 0
            and isinstance(prefix[0], (list, tuple, np.ndarray)))


def _warn_unknown(tokens: list[str], ids: Array, vocab: Any, level: str, caller: str) -> None:
    """A ``UserWarning`` naming the tokens that ``vocab`` encoded as ``<unk>`` (not the literal
    ``"<unk>"`` token)."""
    unknown = sorted({t for t, i in zip(tokens, ids.tolist()) if i == vocab.unk and t != "<unk>"})
    if unknown:
        shown = ", ".join(repr(t) for t in unknown[:20]) + (", ..." if len(unknown) > 20 else "")
        n, noun = len(unknown), "character" if level == "char" else "word"
        warnings.warn(f"{caller}: {n} prefix {noun}{'s are' if n > 1 else ' is'} not in the "
                      f"vocabulary and read{'' if n > 1 else 's'} as <unk>: {shown}", UserWarning,
                      stacklevel=4)


@v.int_args_everywhere
class Stream:
    """Token-by-token use of a language model; the hidden state is kept between calls.

    Example:
        >>> lm = LanguageModel(vocab_size=5, hidden_size=8, seed=0)
        >>> s = lm.stream(seed=0)
        >>> logits = s.feed([1, 2])       # (vocab,) logits of the next token
        >>> token = s.next(temperature=1.0)  # sample, feed, return it
        >>> s.reset()                      # back to the zero state
    """

    def __init__(self, model: LanguageModel, seed: int | None = None) -> None:
        self._core = _core.Stream(model._core, v.seed_or_random(seed))

    def feed(self, tokens: Any) -> Array:
        """Feed one token id or a sequence of them; returns the next token's logits ``(vocab,)``.

        Example:
            >>> s = LanguageModel(vocab_size=5, hidden_size=8, seed=0).stream()
            >>> s.feed([1, 2, 3]).shape
            (5,)
        """
        return self._core.feed(v.ids(np.atleast_1d(tokens), "tokens"))

    def next(self, temperature: float = 0.0, top_k: int | None = None,
             top_p: float | None = None) -> int:
        """Choose the next token (greedy at temperature 0; ``top_k`` and ``top_p`` as in
        :meth:`LanguageModel.generate`), feed it, and return it.

        Example:
            >>> s = LanguageModel(vocab_size=5, hidden_size=8, seed=0).stream(seed=0)
            >>> logits = s.feed([1, 2])
            >>> s.next() == int(np.argmax(logits))            # greedy
            True
        """
        return int(self._core.next(v.number(temperature, "temperature"),
                                   v.optional_positive_int(top_k, "top_k"),
                                   None if top_p is None else v.number(top_p, "top_p")))

    def reset(self) -> None:
        """Return to the zero state.

        Example:
            >>> s = LanguageModel(vocab_size=5, hidden_size=8, seed=0).stream()
            >>> first = s.feed([1])
            >>> s.reset()
            >>> bool((s.feed([1]) == first).all())
            True
        """
        self._core.reset()

    @property
    def state(self) -> Array:
        """The hidden state ``(num_layers, 1, hidden)``."""
        return self._core.state

    @state.setter
    def state(self, value: Any) -> None:
        self._core.state = v.floats(value, "state", self._core.state.dtype.name)


@v.int_args_everywhere
class LanguageModel(StateDict):
    """Embedding (or one-hot input) -> multi-layer tanh RNN -> linear logits.

    State-dict keys: ``embedding.weight`` (V, E) when ``embed_size`` is set, ``rnn.weight_ih_l0``
    (H, E or V), ``rnn.weight_hh_l0`` (H, H), ``rnn.bias_ih_l0``, ``rnn.bias_hh_l0``, ...,
    ``output.weight`` (V, H), ``output.bias`` (V,).

    Shapes: token ids ``(batch, steps)``; logits ``(batch, steps, vocab_size)``; state
    ``(num_layers, batch, hidden_size)``.

    Example:
        >>> lm = LanguageModel(vocab_size=5, hidden_size=8, seed=0)
        >>> logits, state = lm.logits(np.array([[0, 1, 2]]))
        >>> logits.shape, state.shape
        ((1, 3, 5), (1, 1, 8))
    """

    def __init__(
        self,
        vocab_size: int,
        hidden_size: int = 256,
        num_layers: int = 1,
        embed_size: int | None = None,
        seed: int | None = None,
        dtype: Any = "float32",
        nonlinearity: str = "tanh",
        init: str = "uniform",
        dropout: float = 0.0,
    ) -> None:
        self.seed: int | None = v.seed_or_random(seed)
        self.vocab: Any = None  # a seqrnn.Vocab for the text-level methods
        self.level = "char"
        self._core = _core.LanguageModel(
            v.positive_int(vocab_size, "vocab_size"),
            v.positive_int(hidden_size, "hidden_size"),
            v.positive_int(num_layers, "num_layers"),
            None if embed_size is None else v.positive_int(embed_size, "embed_size"),
            nonlinearity,
            self.seed,
            v.dtype_name(dtype),
            init,
            float(dropout),
        )

    vocab_size = property(lambda self: self._core.vocab_size, doc="Number of token types.")
    hidden_size = property(lambda self: self._core.hidden_size, doc="RNN units per layer.")
    num_layers = property(lambda self: self._core.num_layers, doc="Stacked RNN layers.")
    embed_size = property(lambda self: self._core.embed_size, doc="Embedding width or None.")
    nonlinearity = property(lambda self: self._core.nonlinearity, doc="'tanh' or 'relu'.")
    dtype = property(lambda self: self._core.dtype, doc="'float32' or 'float64'.")
    dropout = property(lambda self: self._core.dropout, doc="Between-layer dropout in fit.")

    def __repr__(self) -> str:
        return (
            f"LanguageModel(vocab_size={self.vocab_size}, hidden_size={self.hidden_size}, "
            f"num_layers={self.num_layers}, embed_size={self.embed_size}, dtype={self.dtype!r})"
        )

    def _ids(self, x: Any, what: str) -> Array:
        a = v.ids(x, what)
        v.ndim(a, what, (2,), "(batch, steps)")
        return a

    def _state(self, state: Any) -> Array | None:
        return None if state is None else v.floats(state, "state", self.dtype)

    def logits(self, inputs: Any, state: Any = None) -> tuple[Array, Array]:
        """Logits ``(batch, steps, vocab)`` and the final state ``(num_layers, batch, hidden)``
        of token ids ``(batch, steps)``, from ``state`` (zeros when ``None``).

        Example:
            >>> lm = LanguageModel(vocab_size=5, hidden_size=8, num_layers=2, seed=0)
            >>> logits, state = lm.logits(np.array([[0, 1, 2], [3, 4, 0]]))
            >>> more, _ = lm.logits(np.array([[3], [1]]), state)      # carry on from state
            >>> logits.shape, state.shape, more.shape
            ((2, 3, 5), (2, 2, 8), (2, 1, 5))
        """
        logits, h_n = self._core.logits(self._ids(inputs, "inputs"), self._state(state))
        return logits, h_n

    def loss_and_grads(
        self,
        inputs: Any,
        targets: Any,
        mask: Any = None,
        state: Any = None,
        return_state: bool = False,
    ) -> Any:
        """Mean cross-entropy over unmasked positions and the exact gradient of every parameter.

        ``inputs`` and ``targets`` are ``(batch, steps)`` ids; ``mask`` is ``None`` or 0/1
        (floats or booleans) shaped like ``targets``. Returns ``(loss, grads)`` with ``grads``
        keyed like ``state_dict()``; with ``return_state=True``, ``(loss, grads, final_state)``.

        Example:
            >>> lm = LanguageModel(vocab_size=5, hidden_size=8, seed=0)
            >>> x = np.array([[0, 1, 2, 3, 4]])
            >>> loss, grads = lm.loss_and_grads(x[:, :-1], x[:, 1:])   # (1, 4) each
            >>> round(loss, 1), grads["rnn.weight_hh_l0"].shape           # about ln 5 at first
            (1.6, (8, 8))
        """
        x, y = self._ids(inputs, "inputs"), self._ids(targets, "targets")
        v.same_shape(y, "targets", x, "inputs")
        m = None if mask is None else v.mask(mask, "mask", self.dtype)
        if m is not None:
            v.same_shape(m, "mask", x, "inputs")
        loss, grads, h_n = self._core.loss_and_grads(x, y, m, self._state(state))
        grads = dict(grads)
        return (loss, grads, h_n) if return_state else (loss, grads)


    # ----- training -------------------------------------------------------------------------

    def fit(
        self,
        corpus_ids: Any,
        epochs: int = 10,
        batch_size: int = 32,
        num_steps: int = 35,
        lr: float | None = None,
        optimizer: str = "sgd",
        clip: float | None = 1.0,
        sampling: str = "sequential",
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
        valid_ids: Any = None,
        schedule: str | dict[str, Any] | None = None,
        early_stopping: int | None = None,
        clip_value: float | None = None,
        reset_optimizer: bool = False,
    ) -> History:
        """Train on a token-id corpus with truncated BPTT, as d2l's ``train_ch8``.

        ``sampling="sequential"`` carries the hidden state across minibatches (gradients are
        cut there); ``"random"`` starts each minibatch from a zero state; ``"windows"`` uses
        every overlapping window (d2l 1.0). ``lr`` defaults to 1.0 for SGD (d2l's, with
        clipping), 0.001 for Adam and 0.01 for Adagrad (PyTorch's). ``clip`` is the global
        gradient-norm threshold, ``clip_value`` clips every gradient element to ``[-v, v]``
        first (``None``: no clipping). ``callback(epoch, metrics)`` runs after each epoch;
        returning ``False`` stops training. ``valid`` (token ids; ``valid_ids`` is its former
        name) adds a per-epoch validation perplexity. Returns a :class:`History`.

        ``schedule`` sets the rate from ``lr``: ``"constant"`` (default), ``"step"``,
        ``"cosine"`` or ``"plateau"``, or a dict of settings: ``{"name": "plateau", "factor":
        0.3, "patience": 1, "restore_best": True}`` (PyTorch's ``ReduceLROnPlateau``, going
        back to the best epoch at each reduction), ``{"name": "cosine", "warmup": 2}``.
        ``early_stopping=n`` stops after ``n`` epochs without a better validation perplexity.
        A model keeps its optimizer's state (Adam's moments) from one ``fit`` to the next
        unless ``reset_optimizer`` (or another kind of optimizer is asked for).

        ``checkpoint=path`` writes the model and the whole training state atomically every
        ``checkpoint_every`` epochs, at the last one, and every ``checkpoint_every_steps``
        steps if set; ``resume=True`` continues from that file if it exists (``resume=path``
        from another): ``epochs`` counts those already done and the result equals an
        uninterrupted run bit for bit (same data and settings; the seed is the file's when
        ``seed`` is ``None``). ``keep_best=True`` ends with the parameters of the epoch of lowest
        validation perplexity (``history.best_epoch``); ``best_path`` saves that model.

        Shapes: ``corpus_ids`` and ``valid`` ``(n,)`` int64; each minibatch is ``(batch_size,
        num_steps)``.

        Example:
            >>> lm = LanguageModel(vocab_size=4, hidden_size=16, seed=0)
            >>> corpus = np.arange(400) % 4                                  # 0 1 2 3 0 1 ...
            >>> history = lm.fit(corpus, epochs=10, batch_size=4, num_steps=10, lr=0.05,
            ...                  optimizer="adam", progress=False, seed=0)
            >>> history.epochs, history.train_perplexity[-1] < 1.5
            (10, True)
        """
        ids = self._corpus(corpus_ids, "corpus_ids")
        valid = self._valid(valid, valid_ids)
        options = FitOptions.of(epochs, batch_size, lr, optimizer, clip, clip_value, schedule,
                                early_stopping, valid is not None)
        saving = Saving.of(checkpoint, checkpoint_every, checkpoint_every_steps, resume,
                           keep_best, best_path, valid is not None, seed)
        trainer = _core.Trainer(
            self._core, ids, options.batch_size, options.lr, optimizer,
            num_steps=v.positive_int(num_steps, "num_steps"), sampling=sampling,
            seed=v.seed_or_random(seed), momentum=float(momentum),
            weight_decay=float(weight_decay),
            previous=previous_trainer(self, reset_optimizer), **options.core(saving))
        validate = None if valid is None else (lambda: self.perplexity(valid))
        return run_epochs(trainer, self, options.epochs, progress, validate, callback, saving)

    def _valid(self, valid: Any, valid_ids: Any) -> Array | None:
        """``fit``'s validation ids, checked now rather than after the first epoch."""
        if valid_ids is not None:
            if valid is not None:
                raise TypeError("give valid or its former name valid_ids, not both")
            warnings.warn("valid_ids is now called valid", DeprecationWarning, stacklevel=4)
            valid = valid_ids
        if valid is None:
            return None
        valid = self._corpus(valid, "valid")
        v.ids_in_range(valid, "valid", self.vocab_size)
        if valid.size < 2:
            raise ValueError(f"valid must hold at least 2 tokens, got {valid.size}")
        return valid  # type: ignore[no-any-return]

    def _corpus(self, ids: Any, what: str) -> Array:
        a = v.ids(ids, what)
        v.ndim(a, what, (1,), "(a flat sequence of token ids)")
        return a

    def perplexity(self, ids: Any, batch_size: int = 32, num_steps: int = 64) -> float:
        """``exp(mean cross-entropy)`` of predicting every token of ``ids`` from those before it.

        The sequence is read as ``batch_size`` parallel streams with the state carried; a
        probability of zero gives ``inf``.

        Example:
            >>> lm = LanguageModel(vocab_size=4, hidden_size=8, seed=0)
            >>> 2 < lm.perplexity(np.arange(100) % 4, batch_size=2, num_steps=10) < 8  # untrained
            True
        """
        return float(self._core.perplexity(self._corpus(ids, "ids"), batch_size, num_steps))

    # ----- generation -----------------------------------------------------------------------

    def generate(
        self,
        prefix: Any,
        num_tokens: int,
        temperature: float = 0.0,
        top_k: int | None = None,
        seed: int | None = None,
        top_p: float | None = None,
        stop: str | int | None = None,
    ) -> Any:
        """Each prefix followed by up to ``num_tokens`` new tokens, as d2l's ``predict``.

        ``prefix`` is token ids (returns a list of ids), a list of id sequences (a list of
        such lists), a string (returns the text continuation, as :meth:`predict`; needs
        ``self.vocab``) or a list of strings (a list of texts). Several prefixes run at once,
        one batched step per token; greedy output equals that of one prefix at a time.

        The prefix warms up the state; temperature 0 picks the most likely token, a positive
        temperature samples from ``softmax(logits / temperature)``, then optionally among the
        ``top_k`` most likely tokens only, then among the smallest set of most likely tokens
        whose probability reaches ``top_p`` (nucleus sampling), in Hugging Face transformers'
        order. Prefix ``i`` samples with the random stream of seed ``seed + i``, so the first
        prefix of a list continues as it would alone with the same seed.

        ``stop`` (a token string such as ``"\\n"`` or ``"<eos>"``, or an id) ends a stream when
        it is produced. It is kept at the end of the output, ids and text alike (as
        transformers keeps the end-of-sequence id): ``text.removesuffix(stop)`` drops it, and an
        output that does not end with it ran for all ``num_tokens``.

        Example:
            >>> lm = LanguageModel(vocab_size=5, hidden_size=8, seed=0)
            >>> ids = lm.generate([1, 2], num_tokens=4, temperature=0.8, top_k=3, seed=0)
            >>> len(ids), ids[:2]
            (6, [1, 2])
            >>> both = lm.generate([[1, 2], [3]], num_tokens=4, temperature=0.8, top_p=0.9, seed=0)
            >>> both[0] == lm.generate([1, 2], 4, temperature=0.8, top_p=0.9, seed=0)
            True
        """
        texts = _texts(prefix)
        if texts is not None:
            strs = self._generate_text(texts, num_tokens, temperature, top_k, seed, top_p, stop,
                                       "generate")
            return strs[0] if isinstance(prefix, str) else strs
        single = not _is_batch(prefix)
        prefixes = [self._corpus(p, "prefix") for p in ([prefix] if single else prefix)]
        out = self._generate_ids(prefixes, num_tokens, temperature, top_k, seed, top_p, stop)
        return out[0] if single else out

    def _generate_ids(self, prefixes: list[Array], num_tokens: int, temperature: float,
                      top_k: int | None, seed: int | None, top_p: float | None,
                      stop: str | int | None) -> list[list[int]]:
        """The core's batched generation, arguments checked."""
        if not prefixes:
            raise ValueError("prefix: expected at least one prefix, got none")
        return [list(ids) for ids in self._core.generate(
            prefixes, v.non_negative_int(num_tokens, "num_tokens"),
            v.number(temperature, "temperature"), v.optional_positive_int(top_k, "top_k"),
            None if top_p is None else v.number(top_p, "top_p"), self._stop_id(stop),
            v.seed_or_random(seed))]

    def _stop_id(self, stop: str | int | None) -> int | None:
        """The id of the stop token: a token of ``self.vocab`` or an id."""
        if stop is None:
            return None
        if isinstance(stop, str):
            if self.vocab is None:
                raise ValueError(f"stop token {stop!r} needs a vocabulary: set model.vocab or "
                                 "give its id")
            self._check_vocab()
            i = int(self.vocab[stop])
            if i == self.vocab.unk and stop != "<unk>":
                raise ValueError(f"stop token {stop!r} is not in the vocabulary")
            return i
        if isinstance(stop, bool) or not isinstance(stop, (int, np.integer)):
            raise TypeError(f"stop must be a token string, an id or None, got "
                            f"{type(stop).__name__}")
        return int(stop)

    def _generate_text(self, prefixes: list[str], num_tokens: int, temperature: float,
                       top_k: int | None, seed: int | None, top_p: float | None,
                       stop: str | int | None, caller: str) -> list[str]:
        """Text continuations of ``prefixes`` (needs ``self.vocab``)."""
        if self.vocab is None:
            raise ValueError(f"{caller} needs a vocabulary: set model.vocab or use "
                             "from_text/load")
        self._check_vocab()
        from .vocab import tokenize

        level = self.level
        ids = []
        for text in prefixes:
            tokens = tokenize(text, level)
            ids.append(self.vocab.encode(tokens))  # (n,) int64
            _warn_unknown(tokens, ids[-1], self.vocab, level, caller)
        out = self._generate_ids(ids, num_tokens, temperature, top_k, seed, top_p, stop)
        sep = "" if level == "char" else " "
        return [sep.join(self.vocab.decode(o)) for o in out]

    def stream(self, seed: int | None = None) -> Stream:
        """A :class:`Stream` for token-by-token use with a kept state.

        Example:
            >>> stream = LanguageModel(vocab_size=5, hidden_size=8, seed=0).stream(seed=1)
        """
        return Stream(self, seed)

    # ----- text level -----------------------------------------------------------------------

    @classmethod
    def from_text(
        cls,
        text: str,
        level: str = "char",
        hidden_size: int = 256,
        num_layers: int = 1,
        embed_size: int | None = None,
        epochs: int = 20,
        batch_size: int = 32,
        num_steps: int = 35,
        lr: float = 0.002,
        optimizer: str = "adam",
        seed: int | None = None,
        progress: bool = True,
        **fit_kwargs: Any,
    ) -> LanguageModel:
        """Build a vocabulary from ``text``, a model over it, and train it (three-line use);
        ``fit_kwargs`` go to :meth:`fit`.

        Example:
            >>> lm = LanguageModel.from_text("abcd" * 200, hidden_size=16, epochs=5,
            ...                              batch_size=4, num_steps=10, lr=0.05, seed=0,
            ...                              progress=False)
            >>> lm.predict("ab", num_tokens=6)
            'abcdabcd'
        """
        from .vocab import Vocab, tokenize

        tokens = tokenize(text, level)
        vocab = Vocab(tokens)
        lm = cls(len(vocab), hidden_size, num_layers, embed_size, seed=seed)
        lm.vocab = vocab
        lm.level = level
        lm.fit(np.asarray(vocab.encode(tokens), dtype=np.int64), epochs, batch_size, num_steps, lr,
               optimizer=optimizer, progress=progress, seed=seed, **fit_kwargs)
        return lm

    def predict(self, prefix: str, num_tokens: int = 50, temperature: float = 0.0,
                top_k: int | None = None, seed: int | None = None, top_p: float | None = None,
                stop: str | None = None) -> str:
        """Text continuation of ``prefix`` (needs ``self.vocab``), as d2l's ``predict_ch8``:
        the prefix and ``num_tokens`` more tokens, joined by nothing (characters) or spaces
        (words). ``top_p`` and ``stop`` are those of :meth:`generate` (the stop token, when
        produced, ends the text).

        Prefix tokens missing from the vocabulary are read as ``<unk>`` (as d2l, Keras'
        ``StringLookup`` and torchtext's default index do), with a ``UserWarning`` naming them:
        a model trained on d2l-preprocessed text knows lower-case letters and spaces only.
        ``warnings.simplefilter("error")`` turns the warning into an exception.

        Example:
            >>> lm = LanguageModel.from_text("to be or not to be " * 30, level="word",
            ...                              hidden_size=16, epochs=5, batch_size=2,
            ...                              num_steps=6, lr=0.05, seed=0, progress=False)
            >>> lm.predict("to be", num_tokens=4)
            'to be or not to be'
            >>> import warnings
            >>> with warnings.catch_warnings(record=True) as caught:
            ...     warnings.simplefilter("always")
            ...     _ = lm.predict("To be", num_tokens=1)
            >>> print(caught[0].message)
            predict: 1 prefix word is not in the vocabulary and reads as <unk>: 'To'
        """
        return self._generate_text([prefix], num_tokens, temperature, top_k, seed, top_p, stop,
                                   "predict")[0]

    # ----- files ----------------------------------------------------------------------------

    def save(self, path: str | os.PathLike[str], metadata: dict[str, str] | None = None) -> None:
        """Write weights, configuration and vocabulary to one safetensors file, atomically, with
        ``metadata`` (str -> str, read back as ``LanguageModel.load(path).metadata``).

        Example:
            >>> LanguageModel(vocab_size=5, hidden_size=8, seed=0).save("lm.safetensors")
        """
        meta = v.user_metadata(metadata)
        if self.vocab is not None:
            self._check_vocab()
            meta[VOCAB_KEY] = self.vocab.to_json()
            meta["seqrnn.level"] = self.level
        self._core.save(os.fspath(path), meta)

    def _check_vocab(self) -> None:
        if len(self.vocab) != self.vocab_size:
            raise ValueError(f"vocab has {len(self.vocab)} tokens, the model {self.vocab_size}")

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> LanguageModel:
        """Read a file written by :meth:`save`; validates everything and never executes code.

        Example:
            >>> LanguageModel(vocab_size=5, hidden_size=8, seed=0).save("lm.safetensors")
            >>> LanguageModel.load("lm.safetensors")
            LanguageModel(vocab_size=5, hidden_size=8, num_layers=1, embed_size=None, dtype='float32')
        """
        core, meta = _core.LanguageModel.load(os.fspath(path))
        lm = cls.__new__(cls)
        lm._core, lm.seed, lm.vocab, lm.level = core, None, None, "char"
        lm._metadata = users_entries(meta)
        if VOCAB_KEY in meta:
            from .vocab import Vocab

            name = os.fspath(path)
            try:
                lm.vocab = Vocab.from_json(meta[VOCAB_KEY])
            except ValueError as e:
                raise ValueError(f"invalid checkpoint: {name}: {e}") from None
            if len(lm.vocab) != core.vocab_size:
                raise ValueError(
                    f"invalid checkpoint: {name}: vocabulary has {len(lm.vocab)} tokens, "
                    f"the model {core.vocab_size}"
                )
            lm.level = meta.get("seqrnn.level", "char")
            if lm.level not in ("char", "word"):
                raise ValueError(f"invalid checkpoint: {name}: seqrnn.level must be 'char' or "
                                 f"'word', got {lm.level[:40]!r}")
        return lm
