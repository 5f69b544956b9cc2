"""README's main job: train a character model on an embedded text and show what it learned.

The default text is generated here from a small grammar of our own (no data file needed);
``--text FILE`` trains on any file instead.
"""

from __future__ import annotations

import math
import random

import numpy as np

from .lm import LanguageModel
from .vocab import Vocab, tokenize

_SUBJECTS = ["the traveller", "the old clockmaker", "my neighbour", "the river pilot",
             "a quiet engineer", "the lighthouse keeper", "the young astronomer"]
_VERBS = ["built", "repaired", "painted", "measured", "carried", "opened", "studied"]
_OBJECTS = ["a brass machine", "the northern tower", "an iron bridge", "the silver lantern",
            "a wooden boat", "the great telescope", "a glass engine"]
_PLACES = ["before dawn", "in the winter", "beside the harbour", "under the old arch",
           "after the long storm", "near the market", "at the edge of the town"]
_ENDINGS = ["and nobody knew why", "and the whole town watched", "while the bells rang",
            "because the tide was late", "and then went home to sleep"]


def default_text(num_sentences: int = 1500, seed: int = 7) -> str:
    """Deterministic prose from a small grammar: about 90 characters a sentence.

    Example:
        >>> default_text(2) == default_text(2)                  # same seed, same text
        True
    """
    rng = random.Random(seed)
    sentences = []
    for _ in range(num_sentences):
        s = (f"{rng.choice(_SUBJECTS)} {rng.choice(_VERBS)} {rng.choice(_OBJECTS)} "
             f"{rng.choice(_PLACES)} {rng.choice(_ENDINGS)}.")
        sentences.append(s)
    return " ".join(sentences)


def run(text: str | None = None, epochs: int = 8, hidden_size: int = 256, seed: int = 0,
        progress: bool = True) -> dict[str, float]:
    """Train, then print perplexities and samples. Returns the final metrics.

    Example:
        >>> metrics = run(default_text(200), epochs=1, hidden_size=32, progress=False)  # doctest: +SKIP
    """
    text = default_text() if text is None else text
    tokens = tokenize(text, "char")
    vocab = Vocab(tokens)
    ids = np.asarray(vocab.encode(tokens), dtype=np.int64)
    split = int(0.9 * len(ids))
    train, valid = ids[:split], ids[split:]
    print(f"seqrnn demo: {len(ids):,} characters, vocabulary of {len(vocab)}, "
          f"hidden {hidden_size}, {epochs} epochs")
    lm = LanguageModel(len(vocab), hidden_size=hidden_size, seed=seed)
    lm.vocab, lm.level = vocab, "char"
    print(f"validation perplexity before training: {lm.perplexity(valid):.2f}")
    history = lm.fit(train, epochs=epochs, batch_size=32, num_steps=35, lr=0.005,
                     optimizer="adam", clip=1.0, valid=valid, progress=progress, seed=seed)
    seconds = history.total_seconds  # training time and speed as the progress bar shows them
    print(f"trained in {seconds:.1f} s at {history.speed():,.0f} tokens/s")
    print(f"perplexity: train {history.train_perplexity[-1]:.3f}, "
          f"validation {history.valid_perplexity[-1]:.3f}")
    for prefix in ("the traveller ", "the old "):
        print(f"greedy      | {lm.predict(prefix, 60)}")
    print(f"temperature | {lm.predict('a quiet ', 60, temperature=0.7, seed=seed)}")
    translation = translate_demo(seed=seed, progress=progress)
    return {"train_perplexity": history.train_perplexity[-1],
            "toy_exact_match": translation,
            "valid_perplexity": history.valid_perplexity[-1], "seconds": seconds,
            "uniform_perplexity": float(len(vocab)), "ln_vocab": math.log(len(vocab))}


def translate_demo(seed: int = 0, progress: bool = True) -> float:
    """Train the embedded English -> French number-word translator; print held-out results.
    Returns the held-out exact-match accuracy.

    The data are :func:`seqrnn.toy.toy_translation_task`'s, as for ``seqrnn train-translate
    --toy`` (same seed, same split); translations are printed as the model writes them, words
    separated by spaces as in d2l ("cinquante neuf"), like ``seqrnn translate``.

    Example:
        >>> accuracy = translate_demo(progress=False)  # doctest: +SKIP
    """
    from .metrics import corpus_bleu, exact_match, sacrebleu
    from .seq2seq import Translator
    from .toy import toy_translation_task

    train, valid = toy_translation_task(num_valid=100, seed=seed)
    print(f"\ntoy translation: {len(train)} English -> French number-word pairs, "
          f"{len(valid)} held-out numbers")
    tr = Translator.train(train, epochs=30, embed_size=32, hidden_size=128, num_layers=1,
                          batch_size=32, lr=0.005, seed=seed, progress=progress)
    sources, labels = [s for s, _ in valid], [t for _, t in valid]
    greedy = tr.translate(sources)
    beam = tr.translate(sources, beam_size=4)
    accuracy = exact_match(greedy, labels)
    seconds = tr.history.total_seconds if tr.history is not None else float("nan")
    print(f"trained in {seconds:.1f} s; held-out exact match "
          f"{accuracy:.0%} greedy, {exact_match(beam, labels):.0%} beam 4; "
          f"BLEU {corpus_bleu(greedy, labels):.3f} (d2l's), sacreBLEU "
          f"{sacrebleu(greedy, labels):.1f}")
    for src, out in list(zip(sources, greedy))[:5]:
        print(f"  {src:<32} -> {out}")
    return accuracy
