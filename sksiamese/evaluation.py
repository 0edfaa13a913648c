"""Retrieval and few-shot evaluation of embeddings, scikit-learn style.

:class:`~sksiamese.RetrievalEvaluator` stores a gallery of embeddings and
scores queries against it, so that it can end a
:class:`~sklearn.pipeline.Pipeline` whose ``score`` is a retrieval metric
such as MAP@R. :func:`~sksiamese.make_retrieval_scorer` turns any
transformer into something :class:`~sklearn.model_selection.GridSearchCV`
can rank by retrieval quality. :func:`sample_episodes` and
:func:`~sksiamese.one_shot_evaluate` implement the N-way K-shot protocol
(for instance Omniglot's 20-way one-shot task).
"""

from numbers import Integral

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin, _fit_context
from sklearn.utils._param_validation import HasMethods, Interval, StrOptions
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import check_is_fitted, validate_data

from ._utils import check_embeddings, check_labels, check_positive_int
from .metrics import (
    RETRIEVAL_METRICS,
    one_shot_accuracy,
    retrieval_report_from_index,
)
from .neighbors import INDEX_NAMES, make_index, search_excluding

__all__ = [
    "RetrievalEvaluator",
    "make_retrieval_scorer",
    "one_shot_evaluate",
    "sample_episodes",
]

_FLOAT_DTYPES = (np.float64, np.float32)


class RetrievalEvaluator(ClassifierMixin, BaseEstimator):
    """Gallery of embeddings that scores queries by retrieval metrics.

    ``fit`` stores labelled embeddings as the gallery. ``evaluate`` ranks the
    gallery for each query and reports precision@1, precision@k, recall@k,
    hit rate@k, R-precision and MAP@R (see :mod:`sksiamese.metrics`);
    ``score`` returns the one named by ``scoring``, so the evaluator can be
    the last step of a pipeline tuned by
    :class:`~sklearn.model_selection.GridSearchCV`. ``predict`` labels
    queries by a majority vote of their ``k`` nearest gallery items, like
    :class:`~sklearn.neighbors.KNeighborsClassifier`.

    **Leave-one-out rule.** ``evaluate`` and ``score`` treat the queries as
    the gallery itself, removing each query's own entry from its ranking,
    when they are called without embeddings, or with embeddings of the same
    shape as the fitted ones and equal values up to floating-point noise
    (``np.allclose`` with its default tolerances; a transformer's
    ``fit_transform`` and ``transform`` of the same data can differ in the
    last bits). Any other embeddings are searched against the whole gallery.
    ``predict`` and ``kneighbors`` follow scikit-learn: only ``kneighbors()``
    without embeddings leaves each gallery item out of its own neighbours.

    Parameters
    ----------
    k : int, default=5
        Cut-off of the ``*_at_k`` metrics and number of voting neighbours in
        ``predict``.
    metric : {"euclidean", "cosine"}, default="euclidean"
        Distance between embeddings; cosine distance is
        ``1 - cosine similarity``.
    scoring : {"map_at_r", "precision_at_1", "precision_at_k", \
"recall_at_k", "hit_rate_at_k", "r_precision"}, default="map_at_r"
        Metric returned by ``score``.
    backend : {"auto", "brute", "exact", "faiss", "ivf", "hnsw"} or index \
object, default="auto"
        Index of the gallery, built at the first search after ``fit`` and
        kept for the next ones; see :func:`sksiamese.neighbors.make_index`
        and :func:`sksiamese.metrics.retrieval_report`.
    chunk_size : int, default=None
        Queries searched at once; ``None`` keeps the neighbour lists of a
        chunk near 256 MiB (the exact index bounds its own working memory).

    Attributes
    ----------
    classes_ : ndarray of shape (n_classes,)
        Labels seen in ``fit``.
    n_features_in_ : int
        Dimension of the embeddings.
    feature_names_in_ : ndarray of shape (n_features_in_,)
        Names of the features, when ``fit`` was given a DataFrame with string
        column names.

    See Also
    --------
    make_retrieval_scorer : Score a transformer by retrieval within ``X``.
    sksiamese.metrics.retrieval_report : The same metrics as functions.

    Examples
    --------
    >>> from sksiamese.evaluation import RetrievalEvaluator
    >>> X = [[0.0], [0.2], [1.0], [1.1], [5.0]]
    >>> y = [0, 0, 1, 1, 1]
    >>> evaluator = RetrievalEvaluator(k=1).fit(X, y)
    >>> evaluator.score(X, y)  # leave-one-out: the queries are the gallery
    0.8
    >>> evaluator.predict([[0.1], [4.0]]).tolist()
    [0, 1]
    """

    _parameter_constraints = {
        "k": [Interval(Integral, 1, None, closed="left")],
        "metric": [StrOptions({"euclidean", "cosine"})],
        "scoring": [StrOptions(set(RETRIEVAL_METRICS))],
        "backend": [StrOptions(set(INDEX_NAMES)), HasMethods(["fit", "search"])],
        "chunk_size": [Interval(Integral, 1, None, closed="left"), None],
    }

    def __init__(
        self,
        k=5,
        metric="euclidean",
        scoring="map_at_r",
        backend="auto",
        chunk_size=None,
    ):
        self.k = k
        self.metric = metric
        self.scoring = scoring
        self.backend = backend
        self.chunk_size = chunk_size

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y):
        """Store labelled embeddings as the gallery.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Gallery embeddings.
        y : array-like of shape (n_samples,)
            Gallery labels.

        Returns
        -------
        self : RetrievalEvaluator
            The fitted evaluator.
        """
        check_embeddings(X, "X")
        X, y = validate_data(self, X, y, dtype=_FLOAT_DTYPES)
        check_classification_targets(y)
        self.classes_, self._fit_codes = np.unique(y, return_inverse=True)
        self._fit_X = X
        self._fit_y = y
        self._index = self._build_index()
        return self

    def _build_index(self):
        index = make_index(self.backend, metric=self.metric).fit(self._fit_X)
        return (self.metric, repr(self.backend)), index

    def _gallery_index(self):
        """The index of the gallery, built in ``fit`` (and again, without
        being kept, when ``metric`` or ``backend`` changed since)."""
        key, index = self._index
        if key != (self.metric, repr(self.backend)):
            index = self._build_index()[1]
        return index

    def _queries(self, X, y):
        """Validated queries, their labels and whether they are the gallery
        itself (leave-one-out)."""
        if X is None:
            if y is not None:
                raise ValueError("y was given without X.")
            return self._fit_X, self._fit_y, True
        X = validate_data(self, X, reset=False, dtype=_FLOAT_DTYPES)
        y = check_labels(y, X.shape[0], "y")
        same = X.shape == self._fit_X.shape and (
            X is self._fit_X or np.allclose(X, self._fit_X)
        )
        return X, y, bool(same)

    def _evaluate(self, X, y, metrics):
        check_is_fitted(self)
        query, q_labels, leave_one_out = self._queries(X, y)
        return retrieval_report_from_index(
            query,
            q_labels,
            self._gallery_index(),
            self._fit_y,
            k=self.k,
            include=metrics,
            leave_one_out=leave_one_out,
            chunk_size=self.chunk_size,
        )

    def evaluate(self, X=None, y=None):
        """Compute every retrieval metric of queries against the gallery.

        Parameters
        ----------
        X : array-like of shape (n_queries, n_features), default=None
            Query embeddings. ``None``, or the fitted embeddings themselves,
            means leave-one-out over the gallery.
        y : array-like of shape (n_queries,), default=None
            Query labels; required when ``X`` is given.

        Returns
        -------
        report : dict of str to float
            ``precision_at_1``, ``precision_at_k``, ``recall_at_k``,
            ``hit_rate_at_k``, ``r_precision`` and ``map_at_r``, averaged over
            the queries that have at least one relevant gallery item.
        """
        return self._evaluate(X, y, RETRIEVAL_METRICS)

    def score(self, X, y):
        """Retrieval metric named by ``scoring`` (greater is better).

        Parameters
        ----------
        X : array-like of shape (n_queries, n_features)
            Query embeddings; the fitted embeddings mean leave-one-out.
        y : array-like of shape (n_queries,)
            Query labels.

        Returns
        -------
        score : float
            Value of the ``scoring`` metric.
        """
        return self._evaluate(X, y, (self.scoring,))[self.scoring]

    def kneighbors(self, X=None, n_neighbors=None, return_distance=True):
        """Nearest gallery items of each query.

        Parameters
        ----------
        X : array-like of shape (n_queries, n_features), default=None
            Query embeddings. ``None`` uses the gallery as queries and leaves
            each item out of its own neighbours.
        n_neighbors : int, default=None
            Number of neighbours; defaults to ``k``.
        return_distance : bool, default=True
            Whether to return the distances.

        Returns
        -------
        distances : ndarray of shape (n_queries, n_neighbors)
            Distances to the neighbours, ascending; only when
            ``return_distance`` is True.
        indices : ndarray of shape (n_queries, n_neighbors)
            Gallery rows of the neighbours; ties are ranked by row.
        """
        check_is_fitted(self)
        n_neighbors = self.k if n_neighbors is None else n_neighbors
        check_positive_int(n_neighbors, "n_neighbors")
        available = self._fit_X.shape[0] - (X is None)
        if n_neighbors > available:
            raise ValueError(
                f"n_neighbors={n_neighbors} is larger than the {available} "
                "gallery items available to each query."
            )
        index = self._gallery_index()
        if X is None:
            rows = np.arange(self._fit_X.shape[0])
            found = search_excluding(index, self._fit_X, n_neighbors, rows)
        else:
            query = validate_data(self, X, reset=False, dtype=_FLOAT_DTYPES)
            found = index.search(query, n_neighbors)
        return found if return_distance else found[1]

    def predict(self, X):
        """Majority label of the ``k`` nearest gallery items.

        Ties between labels go to the first one in ``classes_``.

        Parameters
        ----------
        X : array-like of shape (n_queries, n_features)
            Query embeddings.

        Returns
        -------
        y_pred : ndarray of shape (n_queries,)
            Predicted labels.
        """
        indices = self.kneighbors(X, n_neighbors=self.k, return_distance=False)
        codes = self._fit_codes[indices]
        votes = np.zeros((codes.shape[0], len(self.classes_)), dtype=np.int64)
        rows = np.arange(codes.shape[0])
        for column in codes.T:
            votes[rows, column] += 1
        return self.classes_[np.argmax(votes, axis=1)]


class _RetrievalScorer:
    """Score ``estimator.transform(X)`` by leave-one-out retrieval within X."""

    def __init__(self, scoring, k, metric, backend, chunk_size):
        self.scoring = scoring
        self.k = k
        self.metric = metric
        self.backend = backend
        self.chunk_size = chunk_size

    def __call__(self, estimator, X, y):
        embeddings = check_embeddings(estimator.transform(X), "embeddings")
        labels = check_labels(y, embeddings.shape[0], "y")
        index = make_index(self.backend, metric=self.metric).fit(embeddings)
        return retrieval_report_from_index(
            embeddings,
            labels,
            index,
            labels,
            k=self.k,
            include=self.scoring,
            leave_one_out=True,
            chunk_size=self.chunk_size,
        )[self.scoring]

    def __repr__(self):
        return (
            f"make_retrieval_scorer({self.scoring!r}, k={self.k}, "
            f"metric={self.metric!r})"
        )


def make_retrieval_scorer(
    scoring="map_at_r", *, k=5, metric="euclidean", backend="auto", chunk_size=None
):
    """Make a scorer that rates a transformer by retrieval quality.

    The scorer embeds the evaluation set with ``estimator.transform(X)`` and
    computes the retrieval metric ``scoring`` leave-one-out within it: every
    sample is a query and all other samples form the gallery. The parameters
    have the names and meanings of :class:`RetrievalEvaluator`'s:
    ``scoring`` is the retrieval metric, ``metric`` the distance.

    Parameters
    ----------
    scoring : {"map_at_r", "precision_at_1", "precision_at_k", \
"recall_at_k", "hit_rate_at_k", "r_precision"}, default="map_at_r"
        Retrieval metric (greater is better).
    k : int, default=5
        Cut-off of the ``*_at_k`` metrics.
    metric : {"euclidean", "cosine"}, default="euclidean"
        Distance between embeddings.
    backend : {"auto", "brute", "exact", "faiss", "ivf", "hnsw"} or index \
object, default="auto"
        Index of the embeddings; see :func:`sksiamese.neighbors.make_index`.
    chunk_size : int, default=None
        Queries whose distances are computed at once.

    Returns
    -------
    scorer : callable
        ``scorer(estimator, X, y) -> float``, usable as ``scoring`` in
        :class:`~sklearn.model_selection.GridSearchCV` and
        :func:`~sklearn.model_selection.cross_val_score`.

    Examples
    --------
    >>> from sklearn.datasets import make_blobs
    >>> from sklearn.decomposition import PCA
    >>> from sksiamese.evaluation import make_retrieval_scorer
    >>> X, y = make_blobs(n_samples=60, centers=3, cluster_std=0.5, random_state=0)
    >>> scorer = make_retrieval_scorer("precision_at_1")
    >>> scorer(PCA(n_components=2).fit(X), X, y)
    1.0
    """
    if scoring not in RETRIEVAL_METRICS:
        raise ValueError(
            f"scoring must be one of {RETRIEVAL_METRICS}, got {scoring!r}."
        )
    if metric not in ("euclidean", "cosine"):
        raise ValueError(f"metric must be 'euclidean' or 'cosine', got {metric!r}.")
    check_positive_int(k, "k")
    check_positive_int(chunk_size, "chunk_size", allow_none=True)
    if isinstance(backend, str) and backend not in INDEX_NAMES:
        raise ValueError(f"backend must be one of {INDEX_NAMES}, got {backend!r}.")
    return _RetrievalScorer(scoring, k, metric, backend, chunk_size)


# --------------------------------------------------------------------------
# N-way K-shot episodes
# --------------------------------------------------------------------------


def _make_rng(random_state):
    """A ``numpy.random.Generator`` from a seed; never the global state."""
    if isinstance(random_state, np.random.RandomState):
        return np.random.default_rng(random_state.randint(np.iinfo(np.int32).max))
    return np.random.default_rng(random_state)


def _group_by_class(y):
    """Classes, their sizes and the sample indices of each class."""
    classes, codes, counts = np.unique(y, return_inverse=True, return_counts=True)
    order = np.argsort(codes.ravel(), kind="stable")
    return classes, counts, np.split(order, np.cumsum(counts)[:-1])


def _check_episode_args(n_way, k_shot, n_queries, n_episodes):
    check_positive_int(n_way, "n_way")
    check_positive_int(k_shot, "k_shot")
    check_positive_int(n_queries, "n_queries", allow_none=True)
    check_positive_int(n_episodes, "n_episodes")


def sample_episodes(
    y, n_way=20, k_shot=1, n_queries=1, n_episodes=100, random_state=None
):
    """Draw N-way K-shot tasks as index arrays into ``y``.

    Each episode picks ``n_way`` distinct classes, then for each of them
    ``k_shot`` support samples and ``n_queries`` other samples as queries.
    Only indices are returned; the data are never copied.

    Parameters
    ----------
    y : array-like of shape (n_samples,)
        Class labels.
    n_way : int, default=20
        Classes per episode.
    k_shot : int, default=1
        Support samples per class.
    n_queries : int or None, default=1
        Query samples per class; ``None`` uses all samples of the class that
        are not supports.
    n_episodes : int, default=100
        Number of episodes.
    random_state : int, numpy.random.Generator, RandomState or None, \
default=None
        Seed of the sampler. ``None`` draws fresh entropy; the global numpy
        state is never used.

    Returns
    -------
    episodes : list of (ndarray, ndarray)
        ``(support_indices, query_indices)`` per episode; supports are
        grouped by class, in the order the classes were drawn.

    Raises
    ------
    ValueError
        If a class has fewer than ``k_shot + n_queries`` samples (``k_shot +
        1`` when ``n_queries`` is None), or there are fewer than ``n_way``
        classes.

    Examples
    --------
    >>> from sksiamese.evaluation import sample_episodes
    >>> y = [0, 0, 1, 1, 2, 2]
    >>> support, query = sample_episodes(y, n_way=2, n_episodes=1,
    ...                                  random_state=0)[0]
    >>> len(support), len(query)
    (2, 2)
    """
    _check_episode_args(n_way, k_shot, n_queries, n_episodes)
    y = check_labels(y, name="y")
    classes, counts, members = _group_by_class(y)
    per_class = k_shot + (1 if n_queries is None else n_queries)
    small = classes[counts < per_class]
    if len(small):
        raise ValueError(
            f"{len(small)} class(es) have fewer than {per_class} samples "
            f"(k_shot + n_queries), e.g. {small[:5].tolist()}; remove them "
            "or lower k_shot/n_queries."
        )
    if len(classes) < n_way:
        raise ValueError(
            f"n_way={n_way} but y has only {len(classes)} classes with enough "
            f"samples; lower n_way to at most {len(classes)}, or add classes."
        )
    rng = _make_rng(random_state)
    return [
        _one_episode(rng, members, n_way, k_shot, n_queries) for _ in range(n_episodes)
    ]


def _one_episode(rng, members, n_way, k_shot, n_queries):
    supports, queries = [], []
    for c in rng.choice(len(members), size=n_way, replace=False):
        drawn = rng.permutation(members[c])
        supports.append(drawn[:k_shot])
        stop = None if n_queries is None else k_shot + n_queries
        queries.append(drawn[k_shot:stop])
    return np.concatenate(supports), np.concatenate(queries)


def _embed(X, transform):
    if transform is None:
        return X
    if hasattr(transform, "transform"):
        return transform.transform(X)
    if not callable(transform):
        raise ValueError(
            "transform must be a fitted transformer (an object with a "
            "transform method, such as a fitted SiameseEmbedder), a callable "
            f"returning embeddings, or None for X that are embeddings; got "
            f"{transform!r}."
        )
    return transform(X)


def one_shot_evaluate(
    X,
    y,
    *,
    transform=None,
    n_way=20,
    k_shot=1,
    n_queries=1,
    n_episodes=100,
    metric="euclidean",
    random_state=None,
):
    """Mean nearest-support accuracy over N-way K-shot episodes.

    Episodes come from :func:`~sksiamese.evaluation.sample_episodes`; in
    each one every query gets the label of its nearest support sample
    (nearest neighbour over all ``n_way * k_shot`` supports, ties to the
    first support), as in the Omniglot 20-way one-shot protocol. ``X`` is embedded once.

    Parameters
    ----------
    X : array-like of shape (n_samples, n_features) or any input of transform
        Embeddings, or raw inputs when ``transform`` is given.
    y : array-like of shape (n_samples,)
        Class labels.
    transform : object with ``transform``, callable or None, default=None
        Maps ``X`` to embeddings (e.g. a fitted embedder); ``None`` means
        ``X`` already holds embeddings.
    n_way : int, default=20
        Classes per episode.
    k_shot : int, default=1
        Support samples per class.
    n_queries : int or None, default=1
        Queries per class; ``None`` uses all non-support samples.
    n_episodes : int, default=100
        Number of episodes.
    metric : {"euclidean", "cosine"}, default="euclidean"
        Distance between embeddings.
    random_state : int, numpy.random.Generator, RandomState or None, \
default=None
        Seed of the episode sampler.

    Returns
    -------
    result : dict
        ``accuracy`` (mean over episodes), ``std`` (standard deviation over
        episodes), ``ci95`` (half-width of the normal 95% confidence interval
        of the mean), ``n_episodes``, ``n_way`` and ``k_shot``.

    Examples
    --------
    >>> import numpy as np
    >>> from sksiamese.evaluation import one_shot_evaluate
    >>> X = np.repeat(np.arange(5.0), 3)[:, None]  # 5 classes, 3 samples
    >>> y = np.repeat(np.arange(5), 3)
    >>> one_shot_evaluate(X, y, n_way=5, n_episodes=10, random_state=0)["accuracy"]
    1.0
    """
    _check_episode_args(n_way, k_shot, n_queries, n_episodes)
    embeddings = check_embeddings(_embed(X, transform), "embeddings")
    y = check_labels(y, embeddings.shape[0], "y")
    codes = np.unique(y, return_inverse=True)[1].ravel()
    episodes = sample_episodes(y, n_way, k_shot, n_queries, n_episodes, random_state)
    accuracies = np.array(
        [_episode_accuracy(embeddings, codes, s, q, metric) for s, q in episodes]
    )
    std = float(accuracies.std(ddof=1)) if n_episodes > 1 else 0.0
    return {
        "accuracy": float(accuracies.mean()),
        "std": std,
        "ci95": 1.96 * std / np.sqrt(n_episodes),
        "n_episodes": n_episodes,
        "n_way": n_way,
        "k_shot": k_shot,
    }


def _episode_accuracy(embeddings, codes, support, query, metric):
    """Fraction of ``query`` rows whose nearest ``support`` row shares the code.

    Every query is compared with every support, with the same exact
    distances and tie rule as the retrieval metrics.
    """
    return one_shot_accuracy(
        embeddings[support],
        codes[support],
        embeddings[query],
        codes[query],
        metric=metric,
    )
