"""Class labels to index tuples: pairs and triplets.

Samplers return integer indices into ``X``, never images. Every function takes
a ``numpy.random.Generator`` so that a single ``random_state`` drives all the
randomness of a fit.

Examples
--------
>>> import numpy as np
>>> from sksiamese.sampling import sample_triplets
>>> y = np.array([0, 0, 1, 1, 2, 2])
>>> triplets = sample_triplets(y, np.random.default_rng(0))
>>> triplets.shape
(6, 3)
>>> bool(np.all(y[triplets[:, 0]] == y[triplets[:, 1]]))
True
>>> bool(np.all(y[triplets[:, 0]] != y[triplets[:, 2]]))
True
"""

import numbers

import numpy as np
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components

__all__ = [
    "ClassIndex",
    "balanced_batches",
    "pair_components",
    "sample_pairs",
    "sample_triplets",
    "split_pairs",
    "stratified_holdout",
]


def _check_rng(rng):
    if not isinstance(rng, np.random.Generator):
        raise ValueError(
            "rng must be a numpy.random.Generator, such as "
            f"np.random.default_rng(seed); got {rng!r}."
        )


def _check_count(value, name, low, allow_none=False):
    if value is None and allow_none:
        return
    if (
        not isinstance(value, numbers.Integral)
        or isinstance(value, bool)
        or value < low
    ):
        none = " or None" if allow_none else ""
        raise ValueError(f"{name} must be an int >= {low}{none}; got {value!r}.")


class ClassIndex:
    """Sample positions grouped by class, for vectorised sampling.

    Parameters
    ----------
    y : array-like of shape (n_samples,)
        Integer class codes ``0..n_classes-1``.
    """

    def __init__(self, y):
        y = np.asarray(y)
        if y.ndim != 1 or (y.size and y.dtype.kind not in "iu"):
            raise ValueError(
                "ClassIndex takes a 1-D array of integer class codes "
                f"0..n_classes-1; got an array of shape {y.shape} and dtype "
                f"{y.dtype}. Encode labels with np.unique(y, return_inverse=True)[1]."
            )
        y = y.astype(np.int64, copy=False)
        if y.size and y.min() < 0:
            raise ValueError(
                "ClassIndex takes class codes 0..n_classes-1; got the negative "
                f"code {int(y.min())}. Encode labels with "
                "np.unique(y, return_inverse=True)[1]."
            )
        counts = np.bincount(y)
        if not counts.all():
            raise ValueError(
                "ClassIndex takes class codes 0..n_classes-1, each of them "
                f"used; no sample has code {int(np.flatnonzero(counts == 0)[0])}. "
                "Encode labels with np.unique(y, return_inverse=True)[1]."
            )
        self.y = y
        self.order = np.argsort(y, kind="stable")
        self.counts = counts
        self.starts = np.concatenate([[0], np.cumsum(self.counts)[:-1]])
        # rank of each sample within its class, in ``order``
        self.rank = np.empty_like(y)
        self.rank[self.order] = np.arange(len(y)) - self.starts[y[self.order]]
        self.n_classes = len(self.counts)

    def positives(self, anchors, rng):
        """One other sample of the same class for each anchor, uniformly."""
        c = self.y[anchors]
        r = rng.integers(0, self.counts[c] - 1)
        r = r + (r >= self.rank[anchors])  # skip the anchor itself
        return self.order[self.starts[c] + r]

    def negatives(self, anchors, rng):
        """One sample of another class for each anchor.

        The other class is drawn uniformly among the remaining classes, then
        the sample uniformly within it, so small classes are not starved.
        """
        c = self.y[anchors]
        other = (c + rng.integers(1, self.n_classes, size=len(anchors))) % (
            self.n_classes
        )
        r = rng.integers(0, self.counts[other])
        return self.order[self.starts[other] + r]

    def valid(self, anchors):
        """Anchors whose class has another sample and which have negatives."""
        keep = self.counts[self.y[anchors]] >= 2
        return anchors[keep] if self.n_classes >= 2 else anchors[:0]


def _anchors(class_index, rng, n_anchors=None, kind="triplet"):
    _check_rng(rng)
    idx = np.arange(len(class_index.y))
    if n_anchors == 0:
        return idx[:0]
    ci = class_index
    if ci.n_classes < 2 or ci.counts.max(initial=0) < 2:
        largest = int(ci.counts.max(initial=0))
        raise ValueError(
            f"No {kind} can be drawn from these labels: a {kind} needs a class "
            "with 2 or more samples and another class, but the labels hold "
            f"{ci.n_classes} class(es), the largest of {largest} sample(s). "
            "Give at least 2 classes, one of them with 2 or more samples."
        )
    if n_anchors is None:
        anchors = rng.permutation(idx)
    else:
        anchors = rng.choice(idx, size=n_anchors, replace=True)
    return class_index.valid(anchors)


def sample_triplets(y, rng, n_triplets=None):
    """Draw (anchor, positive, negative) index triplets.

    Parameters
    ----------
    y : array-like of shape (n_samples,) or ClassIndex
        Integer class codes.
    rng : numpy.random.Generator
        Source of randomness.
    n_triplets : int, default=None
        Number of triplets. By default every sample is the anchor of exactly
        one triplet, in random order, so an epoch sees every sample.

    Returns
    -------
    triplets : ndarray of shape (n_triplets, 3), dtype int64
    """
    _check_count(n_triplets, "n_triplets", 0, allow_none=True)
    ci = y if isinstance(y, ClassIndex) else ClassIndex(y)
    a = _anchors(ci, rng, n_triplets)
    return np.stack([a, ci.positives(a, rng), ci.negatives(a, rng)], axis=1)


def sample_pairs(y, rng, n_pairs=None):
    """Draw labelled pairs, half of them positive.

    Each anchor gets one positive and one negative partner, so positives and
    negatives are exactly balanced.

    Parameters
    ----------
    y : array-like of shape (n_samples,) or ClassIndex
        Integer class codes.
    rng : numpy.random.Generator
        Source of randomness.
    n_pairs : int, default=None
        Number of pairs (rounded down to an even number). By default each
        sample anchors one positive and one negative pair.

    Returns
    -------
    pairs : ndarray of shape (n_pairs, 2), dtype int64
    same : ndarray of shape (n_pairs,), dtype int64
        1 where both samples have the same class, 0 otherwise.
    """
    _check_count(n_pairs, "n_pairs", 0, allow_none=True)
    ci = y if isinstance(y, ClassIndex) else ClassIndex(y)
    a = _anchors(ci, rng, None if n_pairs is None else n_pairs // 2, "pair")
    p, n = ci.positives(a, rng), ci.negatives(a, rng)
    pairs = np.empty((2 * len(a), 2), dtype=np.int64)
    pairs[0::2, 0], pairs[0::2, 1] = a, p
    pairs[1::2, 0], pairs[1::2, 1] = a, n
    same = np.tile(np.array([1, 0], dtype=np.int64), len(a))
    return pairs, same


def balanced_batches(y, rng, m_per_class=4, batch_size=128):
    """Split an epoch into class-balanced batches of ``m_per_class`` per class.

    Each class's samples are shuffled and cut into groups of
    ``m_per_class`` (the last group is topped up with other samples of the
    same class); the groups are shuffled and packed into batches of
    ``batch_size // m_per_class`` groups. Every sample appears in every
    epoch, so unlike samplers that draw classes with replacement, nothing
    is left out and small classes are not repeated more than needed.

    Parameters
    ----------
    y : array-like of shape (n_samples,) or ClassIndex
        Integer class codes.
    rng : numpy.random.Generator
        Source of randomness.
    m_per_class : int, default=4
        Samples per class in a batch (at least 2, so that every sample has
        a positive partner).
    batch_size : int, default=128
        Samples per batch, rounded down to a multiple of ``m_per_class``
        (at least two groups).

    Returns
    -------
    batches : list of ndarray of int64
        Sample indices of each batch.

    Examples
    --------
    >>> import numpy as np
    >>> y = np.repeat([0, 1, 2, 3], 4)
    >>> batches = balanced_batches(y, np.random.default_rng(0), 2, 4)
    >>> len(batches), sorted(np.concatenate(batches).tolist()) == list(range(16))
    (4, True)
    """
    _check_rng(rng)
    _check_count(m_per_class, "m_per_class", 2)
    _check_count(batch_size, "batch_size", 1)
    ci = y if isinstance(y, ClassIndex) else ClassIndex(y)
    m = int(m_per_class)
    groups = []
    for c in range(ci.n_classes):
        members = ci.order[ci.starts[c] : ci.starts[c] + ci.counts[c]]
        if len(members) < 2:
            continue
        members = rng.permutation(members)
        size = min(m, len(members))
        short = -len(members) % size
        if short:
            rest = np.setdiff1d(members, members[-(len(members) % size) :])
            extra = rng.choice(rest, size=short, replace=len(rest) < short)
            members = np.concatenate([members, extra])
        groups.extend(members.reshape(-1, size))
    order = rng.permutation(len(groups))
    per_batch = max(2, batch_size // m)
    return [
        np.concatenate([groups[g] for g in order[i : i + per_batch]])
        for i in range(0, len(order), per_batch)
    ]


def stratified_holdout(codes, fraction, rng):
    """Split sample positions into train and held-out ones, class by class.

    Every class keeps at least two training samples; a class contributes
    held-out samples only when it can spare two or more, so that the
    held-out set holds positive pairs.

    Parameters
    ----------
    codes : ndarray of int64
        Class codes ``0..n_classes-1``.
    fraction : float
        Share of each class to hold out.
    rng : numpy.random.Generator

    Returns
    -------
    train, held : ndarray of int64
        Sorted positions.
    """
    train, held = [], []
    for c in range(codes.max() + 1):
        members = rng.permutation(np.flatnonzero(codes == c))
        n_held = min(int(round(fraction * len(members))), len(members) - 2)
        n_held = n_held if n_held >= 2 else 0
        held.append(members[:n_held])
        train.append(members[n_held:])
    train, held = np.sort(np.concatenate(train)), np.sort(np.concatenate(held))
    if len(np.unique(codes[held])) < 2:
        raise ValueError(
            f"holding out {fraction} of each class leaves fewer than 2 classes "
            "with 2 or more held-out samples, too few for positive pairs."
        )
    return train, held


def pair_components(n_samples, pairs, same):
    """Label samples linked by "same" pairs alike (connected components).

    Parameters
    ----------
    n_samples : int
    pairs : ndarray of shape (n_pairs, 2)
        Positions of the two samples of each pair.
    same : ndarray of shape (n_pairs,)
        1 (True) for "same" pairs.

    Returns
    -------
    labels : ndarray of int64 of shape (n_samples,)
    """
    pos = pairs[np.asarray(same, dtype=bool)]
    graph = coo_matrix(
        (np.ones(len(pos)), (pos[:, 0], pos[:, 1])), shape=(n_samples, n_samples)
    )
    return connected_components(graph, directed=False)[1].astype(np.int64)


def split_pairs(same, fraction, rng, what):
    """Hold out ``fraction`` of the same and of the different pairs.

    Returns the sorted rows kept and held out; ``what`` names the parameter
    in the error raised when either kind of pair cannot spare any.
    """
    keep, held = [], []
    for value in (0, 1):
        rows = rng.permutation(np.flatnonzero(same == value))
        n_held = int(round(fraction * len(rows)))
        if n_held < 1 or n_held >= len(rows):
            raise ValueError(
                f"{what}={fraction} cannot hold out both same and different "
                "pairs while leaving some of each to train on: there are "
                f"{int(np.sum(same == 1))} same and {int(np.sum(same == 0))} "
                "different pairs."
            )
        held.append(rows[:n_held])
        keep.append(rows[n_held:])
    return np.sort(np.concatenate(keep)), np.sort(np.concatenate(held))
