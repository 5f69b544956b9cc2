"""The minibatch iterators cover the corpus as d2l specifies."""

import itertools

import numpy as np
import pytest
from seqrnn.data import seq_data_iter_random, seq_data_iter_sequential

CORPUS = np.arange(100)  # token i at position i: positions can be read off the ids


def test_random_batches_are_shifted_non_overlapping_subsequences():
    batches = list(seq_data_iter_random(CORPUS, batch_size=3, num_steps=5, seed=0))
    assert batches
    starts = []
    for x, y in batches:
        assert x.shape == y.shape == (3, 5)
        np.testing.assert_array_equal(y, x + 1)  # targets are the next tokens
        np.testing.assert_array_equal(np.diff(x, axis=1), 1)  # contiguous subsequences
        starts.extend(x[:, 0])
    offset = min(starts)
    assert 0 <= offset < 5
    assert all((s - offset) % 5 == 0 for s in starts)  # on one grid of step 5: no overlap
    assert len(set(starts)) == len(starts)
    assert len(starts) == ((100 - offset - 1) // 5) // 3 * 3  # every full minibatch is used


def test_random_order_depends_on_seed_only():
    a = [x.tolist() for x, _ in seq_data_iter_random(CORPUS, 2, 5, seed=1)]
    b = [x.tolist() for x, _ in seq_data_iter_random(CORPUS, 2, 5, seed=1)]
    c = [x.tolist() for x, _ in seq_data_iter_random(CORPUS, 2, 5, seed=2)]
    assert a == b
    assert a != c


def test_sequential_batches_continue_each_other():
    batches = list(seq_data_iter_sequential(CORPUS, batch_size=2, num_steps=5, seed=0))
    assert len(batches) >= 2
    for (x0, _), (x1, _) in itertools.pairwise(batches):
        np.testing.assert_array_equal(x1[:, 0], x0[:, -1] + 1)
    rows = np.concatenate([x for x, _ in batches], axis=1)  # (2, total steps)
    np.testing.assert_array_equal(np.diff(rows, axis=1), 1)  # each row is one stream


def test_corpus_too_short_and_bad_arguments():
    with pytest.raises(ValueError, match="corpus length"):
        list(seq_data_iter_random(np.arange(5), batch_size=2, num_steps=5))
    with pytest.raises(ValueError, match="batch_size"):
        list(seq_data_iter_sequential(CORPUS, batch_size=0, num_steps=5))
    with pytest.raises(TypeError, match="corpus"):
        list(seq_data_iter_random(np.zeros(10), 2, 2))
