"""Enrolment and identification: a gallery of known identities.

A :class:`Gallery` holds the embeddings of samples of known identities,
made by a fitted :class:`~sksiamese.SiameseVerifier`, in a nearest-neighbour
index (:mod:`sksiamese.neighbors`), and answers "who is this?" for new
samples, or "nobody known" when no identity is likely enough. Identities
are enrolled without retraining, and need not have been seen in training.
"""

import numbers

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin, MetaEstimatorMixin, clone
from sklearn.exceptions import NotFittedError
from sklearn.frozen import FrozenEstimator
from sklearn.utils._param_validation import HasMethods, Interval
from sklearn.utils.validation import check_consistent_length, check_is_fitted

from ._data import validate_samples
from ._docstrings import DOCS
from ._utils import check_labels, fill_doc, unique_codes
from ._verifier import SiameseVerifier
from .neighbors import make_index

__all__ = ["Gallery"]

# identity_proba compares chunks of queries with blocks of enrolled rows.
_CHUNK = 1024
_BLOCK = 16384


def _is_fitted(estimator):
    if isinstance(estimator, FrozenEstimator):
        return True
    try:
        check_is_fitted(estimator)
    except NotFittedError:
        return False
    return True


def _join_labels(old, new):
    """Concatenate label arrays without turning one kind into another."""
    if old.dtype.kind != new.dtype.kind or "O" in (old.dtype.kind, new.dtype.kind):
        joined = np.empty(len(old) + len(new), dtype=object)
        joined[: len(old)], joined[len(old) :] = old.tolist(), new.tolist()
        return joined
    return np.concatenate([old, new])


class Gallery(MetaEstimatorMixin, ClassifierMixin, BaseEstimator):
    """Enrol samples of known identities and identify new samples.

    :meth:`fit` enrols samples with their identities, :meth:`enroll` adds
    more, :meth:`identify` (alias :meth:`predict`) answers each query with
    the enrolled identity whose closest sample is most likely the same, or
    with ``unknown_label`` when even that one is below the threshold, and
    :meth:`identity_proba` gives ``P(same)`` for every identity.

    Parameters
    ----------
    verifier : SiameseVerifier, default=None
        What embeds the samples and turns distances into ``P(same)``. A
        fitted verifier (or one wrapped in
        :class:`~sklearn.frozen.FrozenEstimator`) is used as it is: the
        usual case, where the enrolled identities are new. An unfitted one
        (``SiameseVerifier()`` when None) is cloned and fitted on the
        samples that :meth:`fit` enrols. :func:`~sklearn.base.clone` (and
        so model selection) makes a fitted verifier an unfitted one, as for
        every scikit-learn meta-estimator; wrap it in ``FrozenEstimator``
        to keep it through clones.
    threshold : float in [0, 1], default=None
        ``P(same)`` a query's best identity must reach to be named;
        ``None`` uses the verifier's ``threshold_``. Each query is compared
        with every enrolled identity, so with many identities a stranger is
        more likely to pass a pairwise threshold somewhere: a stricter one,
        for instance the ``threshold_`` that
        ``verifier.calibrate_threshold(pairs, same, strategy="far")`` sets,
        keeps more strangers out.
    unknown_label : object, default=-1
        Answer of :meth:`identify` for queries that match no identity.
    index : {"exact", "faiss", "ivf", "hnsw"} or index object, default="exact"
        The nearest-neighbour index the enrolled embeddings are kept in,
        see :func:`sksiamese.neighbors.make_index`: exact search, or a
        faiss index for galleries of millions of samples.

    Attributes
    ----------
    verifier_ : SiameseVerifier
        The fitted verifier in use.
    index_ : object
        The index of the enrolled embeddings.
    enrolled_labels_ : ndarray of shape (n_enrolled,)
        The identity of each enrolled sample, as given.
    classes_ : ndarray of shape (n_identities,)
        The distinct identities, as given (sorted when they can be
        compared, else in order of first enrolment): the columns of
        :meth:`identity_proba`.
    threshold_ : float
        The threshold in use.
    n_features_in_ : int
        Number of values per sample.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.datasets import load_digits
    >>> from sksiamese import Gallery, SiameseEmbedder, SiameseVerifier
    >>> X, y = load_digits(return_X_y=True)
    >>> embedder = SiameseEmbedder(max_epochs=2, random_state=0)
    >>> verifier = SiameseVerifier(embedder, random_state=0)
    >>> verifier = verifier.fit(X[y < 7], y[y < 7])  # digits 0-6
    >>> names = np.array(["seven", "eight", "nine"])
    >>> new = np.flatnonzero(y >= 7)
    >>> gallery = Gallery(verifier).fit(X[new[:30]], names[y[new[:30]] - 7])
    >>> gallery.classes_.tolist()
    ['eight', 'nine', 'seven']
    >>> answers = gallery.identify(X[new[30:]])
    >>> bool(np.mean(answers == names[y[new[30:]] - 7]) > 0.6)
    True
    """

    _parameter_constraints = {
        "verifier": [HasMethods(["fit", "predict_proba"]), None],
        "threshold": [Interval(numbers.Real, 0, 1, closed="both"), None],
        "unknown_label": "no_validation",
        "index": "no_validation",
    }

    def __init__(
        self, verifier=None, *, threshold=None, unknown_label=-1, index="exact"
    ):
        self.verifier = verifier
        self.threshold = threshold
        self.unknown_label = unknown_label
        self.index = index

    def fit(self, X, y):
        """Enrol ``X`` with identities ``y``, replacing any enrolled before.

        Parameters
        ----------
        X : array-like, laid out as the verifier's samples
            One or more samples of each identity.
        y : array-like of shape (n_samples,)
            Their identities, of any type; no NaN or None.

        Returns
        -------
        self : Gallery
        """
        self._validate_params()
        verifier = SiameseVerifier() if self.verifier is None else self.verifier
        if not _is_fitted(verifier):
            verifier = clone(verifier).fit(X, y)
        self.verifier_ = verifier
        self.threshold_ = float(
            self.verifier_.threshold_ if self.threshold is None else self.threshold
        )
        X, y = self._check_enrolment(X, y)
        embeddings = self._embed(X)
        self.index_ = make_index(self.index).fit(embeddings)
        self.enrolled_labels_ = y
        self._encode()
        return self

    def enroll(self, X, y):
        """Add samples of identities, known already or new.

        Parameters
        ----------
        X : array-like, laid out as the verifier's samples
            Samples to enrol.
        y : array-like of shape (n_samples,)
            Their identities.

        Returns
        -------
        self : Gallery
        """
        if not hasattr(self, "index_"):
            return self.fit(X, y)
        X, y = self._check_enrolment(X, y)
        self.index_.add(self._embed(X))
        self.enrolled_labels_ = _join_labels(self.enrolled_labels_, y)
        self._encode()
        return self

    def _check_enrolment(self, X, y):
        X = self._validate_queries(X)
        y = check_labels(y, name="y")
        check_consistent_length(X, y)
        return X, y

    def _validate_queries(self, X):
        X = validate_samples(self.verifier_, X, reset=False)
        self.n_features_in_ = self.verifier_.n_features_in_
        return X

    def _encode(self):
        self.classes_, self._codes = unique_codes(self.enrolled_labels_)

    def _embed(self, X):
        return self.verifier_.embedder_.transform(X)

    def _proba(self, distances):
        calibrator = self.verifier_.calibrator_
        return np.clip(calibrator.predict(distances.ravel()), 0, 1).reshape(
            distances.shape
        )

    def _check_enrolled(self):
        if not hasattr(self, "index_"):
            raise NotFittedError(
                "This Gallery has no enrolled samples yet; call fit(X, y) or "
                "enroll(X, y) with samples of known identities first."
            )

    @fill_doc(**DOCS)
    def kneighbors(self, X, n_neighbors=5):
        """The closest enrolled samples of each query.

        Parameters
        ----------
        {queries}
        n_neighbors : int, default=5
            Number of enrolled samples returned per query.

        Returns
        -------
        distances : ndarray of shape (n_queries, n_neighbors)
            Embedding distances, ascending.
        indices : ndarray of shape (n_queries, n_neighbors)
            Positions in ``enrolled_labels_``.
        """
        self._check_enrolled()
        queries = self._embed(self._validate_queries(X))
        return self.index_.search(queries, n_neighbors)

    @fill_doc(**DOCS)
    def identify(self, X):
        """The enrolled identity of each query, or ``unknown_label``.

        A query gets the identity of its nearest enrolled sample when
        ``P(same)`` at that distance reaches ``threshold_``, and
        ``unknown_label`` otherwise ("nobody known").

        Parameters
        ----------
        {queries}

        Returns
        -------
        identities : ndarray of shape (n_queries,)
            Enrolled identities, as given, and ``unknown_label``; of the
            identities' dtype when ``unknown_label`` fits it, of object
            dtype otherwise.
        """
        distances, indices = self.kneighbors(X, n_neighbors=1)
        known = self._proba(distances[:, 0]) >= self.threshold_
        labels = self.enrolled_labels_[indices[:, 0]]
        kind, unknown = labels.dtype.kind, self.unknown_label
        fits = (
            kind in "iuf"
            and isinstance(unknown, numbers.Number)
            and not isinstance(unknown, bool)
        ) or (kind in "US" and isinstance(unknown, str))
        if fits:
            return np.where(known, labels, np.asarray(unknown))
        out = labels.astype(object)
        out[~known] = unknown
        return out

    predict = identify

    @fill_doc(**DOCS)
    def identity_proba(self, X):
        """``P(same)`` of each query and each enrolled identity.

        A query's probability for an identity is that of the identity's
        closest enrolled sample. Rows need not sum to 1: a query may match
        no identity, or several.

        Parameters
        ----------
        {queries}

        Returns
        -------
        proba : ndarray of shape (n_queries, n_identities)
            Columns follow ``classes_``.
        """
        self._check_enrolled()
        queries = self._embed(self._validate_queries(X)).astype(np.float64)
        order = np.argsort(self._codes, kind="stable")
        codes = self._codes[order]
        nearest = np.full((len(queries), len(self.classes_)), np.inf)
        for start in range(0, len(order), _BLOCK):  # bounded memory
            rows = self.index_.reconstruct(order[start : start + _BLOCK])
            block = codes[start : start + _BLOCK]
            firsts = np.flatnonzero(np.r_[True, block[1:] != block[:-1]])
            ids = block[firsts]
            for q in range(0, len(queries), _CHUNK):
                d = _euclidean(queries[q : q + _CHUNK], rows)
                least = np.minimum.reduceat(d, firsts, axis=1)
                nearest[q : q + _CHUNK, ids] = np.minimum(
                    nearest[q : q + _CHUNK, ids], least
                )
        return self._proba(nearest)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.three_d_array = True
        tags.non_deterministic = False
        return tags


def _euclidean(queries, rows):
    """Euclidean distances of float64 ``queries`` to float32 ``rows``."""
    rows = rows.astype(np.float64)
    squared = (
        np.einsum("ij,ij->i", queries, queries)[:, None]
        + np.einsum("ij,ij->i", rows, rows)[None, :]
        - 2.0 * queries @ rows.T
    )
    return np.sqrt(np.maximum(squared, 0.0))
