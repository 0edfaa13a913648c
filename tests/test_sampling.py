import numpy as np
import pytest

from sksiamese.sampling import (
    ClassIndex,
    balanced_batches,
    sample_pairs,
    sample_triplets,
)


@pytest.fixture
def labels():
    # unbalanced classes, shuffled
    y = np.repeat([0, 1, 2, 3], [2, 5, 11, 30])
    return np.random.default_rng(0).permutation(y)


def test_triplets_are_labelled_correctly(labels):
    t = sample_triplets(labels, np.random.default_rng(1))
    assert t.dtype == np.int64 and t.shape == (len(labels), 3)
    a, p, n = t.T
    assert np.all(labels[a] == labels[p])
    assert np.all(a != p)
    assert np.all(labels[a] != labels[n])


def test_each_sample_anchors_once_per_epoch(labels):
    t = sample_triplets(labels, np.random.default_rng(1))
    assert sorted(t[:, 0]) == list(range(len(labels)))


def test_pairs_balanced_and_labelled(labels):
    pairs, same = sample_pairs(labels, np.random.default_rng(2))
    assert pairs.shape == (2 * len(labels), 2)
    assert same.sum() == len(labels)  # exactly half positive
    is_same = labels[pairs[:, 0]] == labels[pairs[:, 1]]
    np.testing.assert_array_equal(is_same, same.astype(bool))
    assert np.all(pairs[:, 0] != pairs[:, 1])


def test_negative_classes_are_uniform_over_other_classes():
    y = np.repeat([0, 1, 2, 3], [1000, 10, 10, 10])
    t = sample_triplets(y, np.random.default_rng(0), n_triplets=40000)
    neg_of_big = y[t[y[t[:, 0]] == 0, 2]]
    freq = np.bincount(neg_of_big, minlength=4)[1:] / len(neg_of_big)
    np.testing.assert_allclose(freq, 1 / 3, atol=0.03)


def test_positives_uniform_within_class():
    y = np.array([0, 0, 0, 0, 1, 1])
    ci = ClassIndex(y)
    anchors = np.zeros(30000, dtype=np.int64)
    p = ci.positives(anchors, np.random.default_rng(0))
    counts = np.bincount(p, minlength=4)
    assert counts[0] == 0
    np.testing.assert_allclose(counts[1:4] / len(p), 1 / 3, atol=0.02)


def test_samplers_return_indices_not_data(labels):
    # index arrays, small and integer: never the samples themselves
    t = sample_triplets(labels, np.random.default_rng(0))
    assert np.issubdtype(t.dtype, np.integer)
    assert t.max() < len(labels)


def test_seeded_sampling_is_reproducible(labels):
    a = sample_triplets(labels, np.random.default_rng(5))
    b = sample_triplets(labels, np.random.default_rng(5))
    c = sample_triplets(labels, np.random.default_rng(6))
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)


def test_balanced_batches_cover_every_sample(labels):
    batches = balanced_batches(labels, np.random.default_rng(0), 4, 16)
    seen = np.concatenate(batches)
    assert set(seen.tolist()) == set(range(len(labels)))
    for b in batches:
        _, counts = np.unique(labels[b], return_counts=True)
        # every sample in a batch has a positive partner
        assert counts.min() >= 2
        assert len(b) <= 16


def test_balanced_batches_groups_of_m():
    y = np.repeat(np.arange(8), 8)
    batches = balanced_batches(y, np.random.default_rng(0), 4, 32)
    assert len(batches) == 2  # 64 samples, 32 per batch
    for b in batches:
        assert len(b) == 32
        _, counts = np.unique(y[b], return_counts=True)
        assert all(c % 4 == 0 for c in counts)
