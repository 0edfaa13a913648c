"""Retrieval, one-shot and verification metrics over embeddings.

All retrieval metrics are pure functions of four arrays: query embeddings,
query labels, gallery embeddings and gallery labels. Each query ranks the
gallery by distance (Euclidean by default, or cosine distance) and a gallery
item is *relevant* to a query when it has the same label.

Conventions shared by every retrieval metric in this module:

* **Leave-one-out.** When ``gallery_embeddings`` is omitted the queries are
  the gallery itself and each query's own entry is removed from its ranking.
  With ``gallery_includes_query=True`` the first ``n_queries`` gallery rows
  must be the queries (same values, same labels) and query ``i`` skips
  gallery row ``i``. Exact duplicates of a query at other positions stay in
  the gallery and count as relevant when their label matches.
* **R.** For each query, R is its number of relevant gallery items (same
  label, its own entry excluded). Queries with R = 0 cannot be scored by
  recall, R-precision or MAP@R; they are left out of *every* metric, as in
  pytorch-metric-learning's ``AccuracyCalculator``. When no query has a
  relevant item, metrics are ``nan`` and a warning is raised.
* **Ties and precision.** The gallery is searched by an index of
  :mod:`sksiamese.neighbors` (exact by default), which holds embeddings as
  float32. The final ranking uses distances computed pair by pair in
  float64 (from differences, so duplicates are at distance 0) and compared
  after rounding to float32: items at equal distance, to float32 precision,
  are ranked by gallery index, lower first. This is the order faiss's flat
  indexes give exact ties. Rankings do not depend on chunking, threads or
  BLAS.
* **Memory.** Only the top ``k`` (or top R, for R-based metrics)
  neighbours of each query are kept, chunk by chunk, and the exact index
  bounds its own working memory, so memory never grows with
  ``n_queries * n_gallery``.

The functions here are pure functions of arrays; they import nothing of
torch (the exact index uses torch's top-k when torch is importable, and
numpy otherwise).
"""

import numpy as np
from sklearn.metrics import make_scorer, roc_curve

from . import _retrieval
from ._utils import (
    check_embeddings,
    check_labels,
    check_same,
    check_scores,
    fill_doc,
    unit_rows,
)
from .neighbors import ExactIndex, kneighbors

__all__ = [
    "RETRIEVAL_METRICS",
    "equal_error_rate",
    "equal_error_rate_score",
    "hit_rate_at_k",
    "kneighbors",
    "mean_average_precision_at_r",
    "neg_equal_error_rate_scorer",
    "one_shot_accuracy",
    "precision_at_1",
    "precision_at_k",
    "r_precision",
    "recall_at_k",
    "retrieval_report",
    "retrieval_report_from_index",
]

# Kept importable from here for the code that imported them from this module:
# kneighbors now lives in sksiamese.neighbors, unit_rows in sksiamese._utils.
_unit_rows = unit_rows

#: Names of the retrieval metrics, as used by :func:`retrieval_report`.
RETRIEVAL_METRICS = _retrieval.RETRIEVAL_METRICS

_COMMON_PARAMETERS = """\
query_embeddings : array-like of shape (n_queries, n_features)
        Embeddings of the queries.
    query_labels : array-like of shape (n_queries,)
        Labels of the queries.
    gallery_embeddings : array-like of shape (n_gallery, n_features), \
default=None
        Embeddings searched by each query. ``None`` means the queries are the
        gallery: each query is compared with all other queries
        (leave-one-out, its own entry excluded).
    gallery_labels : array-like of shape (n_gallery,), default=None
        Labels of the gallery; required when ``gallery_embeddings`` is given.
    metric : {"euclidean", "cosine"}, default="euclidean"
        Distance used to rank the gallery. Cosine distance is
        ``1 - cosine similarity``; all-zero vectors are at distance 1 from
        everything.
    gallery_includes_query : bool, default=False
        Whether the first ``n_queries`` gallery rows are the queries
        themselves (same embeddings, same labels); query ``i`` then skips
        gallery row ``i``. Ignored when ``gallery_embeddings`` is None.
    backend : {"auto", "brute", "exact", "faiss", "ivf", "hnsw"} or index \
object, default="auto"
        Index that searches the gallery (see
        :func:`sksiamese.neighbors.make_index`; an index object is copied
        unfitted, given ``metric`` and fitted on the gallery).
        ``"auto"``, ``"brute"``, ``"exact"``:
        :class:`~sksiamese.neighbors.ExactIndex`: float32 matrix products
        select candidates, widened by a rigorous rounding-error bound, which
        are then ranked exactly. ``"faiss"``: faiss's flat index selects the
        neighbours in float32, which are then ranked exactly; a near-tie at
        the cut-off may go either way. ``"ivf"``, ``"hnsw"``: approximate
        faiss indexes for large galleries, which may miss true neighbours.
    chunk_size : int, default=None
        Number of queries searched at once. ``None`` picks it so that the
        neighbour lists of a chunk take about 256 MiB; the exact index
        bounds the working memory of its own search."""

_common_doc = fill_doc(common_parameters=_COMMON_PARAMETERS)


# --------------------------------------------------------------------------
# Retrieval metrics
# --------------------------------------------------------------------------


def retrieval_report_from_index(
    query_embeddings,
    query_labels,
    index,
    gallery_labels,
    *,
    k=5,
    include=RETRIEVAL_METRICS,
    leave_one_out=False,
    chunk_size=None,
):
    """Retrieval metrics of queries against a gallery already indexed.

    The same metrics as :func:`retrieval_report`, for a gallery held by a
    fitted index of :mod:`sksiamese.neighbors`, so that one index serves
    many evaluations (and galleries too large to index on every call).

    Parameters
    ----------
    query_embeddings : array-like of shape (n_queries, n_features)
        Embeddings of the queries.
    query_labels : array-like of shape (n_queries,)
        Labels of the queries.
    index : fitted index
        Index of the gallery, such as a fitted
        :class:`~sksiamese.neighbors.ExactIndex`; its distance is the one
        the metrics rank by.
    gallery_labels : array-like of shape (len(index),)
        Labels of the gallery rows, in the index's order.
    k : int, default=5
        Cut-off of the ``*_at_k`` metrics.
    include : str or sequence of str, default=RETRIEVAL_METRICS
        Metrics to compute, among :data:`RETRIEVAL_METRICS`.
    leave_one_out : bool, default=False
        Whether the queries are the first ``n_queries`` gallery rows
        themselves: query ``i`` then skips gallery row ``i``. Their labels
        must match; their embeddings are not checked.
    chunk_size : int, default=None
        Number of queries searched at once; ``None`` keeps the neighbour
        lists of a chunk near 256 MiB.

    Returns
    -------
    report : dict of str to float
        Each metric of ``include``, averaged over the queries that have at
        least one relevant gallery item.

    Examples
    --------
    >>> from sksiamese.metrics import retrieval_report_from_index
    >>> from sksiamese.neighbors import ExactIndex
    >>> X, y = [[0.0], [0.1], [1.0], [1.2]], [0, 0, 1, 1]
    >>> index = ExactIndex().fit(X)
    >>> retrieval_report_from_index(X, y, index, y, leave_one_out=True,
    ...                             include="map_at_r")
    {'map_at_r': 1.0}
    """
    return _retrieval.from_index(
        query_embeddings,
        query_labels,
        index,
        gallery_labels,
        k=k,
        include=include,
        leave_one_out=leave_one_out,
        chunk_size=chunk_size,
    )


@_common_doc
def retrieval_report(
    query_embeddings,
    query_labels,
    gallery_embeddings=None,
    gallery_labels=None,
    *,
    k=5,
    metric="euclidean",
    gallery_includes_query=False,
    backend="auto",
    chunk_size=None,
):
    """Compute every retrieval metric in one pass over the gallery.

    Each query keeps its top ``max(k, R)`` neighbours, where R is its number
    of relevant gallery items. Queries with R = 0 are left out of all
    metrics; ties are ranked by gallery index.

    Parameters
    ----------
    {common_parameters}
    k : int, default=5
        Cut-off of the ``*_at_k`` metrics.

    Returns
    -------
    report : dict of str to float
        ``precision_at_1``, ``precision_at_k``, ``recall_at_k``,
        ``hit_rate_at_k``, ``r_precision`` and ``map_at_r`` (see the
        functions of the same names), each averaged over the queries that
        have at least one relevant gallery item.

    See Also
    --------
    mean_average_precision_at_r : MAP@R alone.

    Examples
    --------
    >>> from sksiamese.metrics import retrieval_report
    >>> X = [[0.0], [0.1], [1.0], [1.2]]
    >>> y = [0, 0, 1, 1]
    >>> report = retrieval_report(X, y, k=1)
    >>> report["map_at_r"], report["precision_at_1"]
    (1.0, 1.0)
    """
    return _retrieval.from_arrays(
        RETRIEVAL_METRICS,
        query_embeddings,
        query_labels,
        gallery_embeddings,
        gallery_labels,
        k=k,
        metric=metric,
        gallery_includes_query=gallery_includes_query,
        backend=backend,
        chunk_size=chunk_size,
    )


def _single(name, *args, **kwargs):
    return _retrieval.from_arrays((name,), *args, **kwargs)[name]


@_common_doc
def precision_at_1(
    query_embeddings,
    query_labels,
    gallery_embeddings=None,
    gallery_labels=None,
    *,
    metric="euclidean",
    gallery_includes_query=False,
    backend="auto",
    chunk_size=None,
):
    """Fraction of queries whose nearest gallery item has the same label.

    Queries with no relevant gallery item are left out; ties are ranked by
    gallery index.

    Parameters
    ----------
    {common_parameters}

    Returns
    -------
    score : float
        Precision at 1, in [0, 1].

    Examples
    --------
    >>> from sksiamese.metrics import precision_at_1
    >>> X = [[0.0], [2.0], [3.0], [5.0]]
    >>> precision_at_1(X, [0, 0, 1, 1])
    0.5
    """
    return _single(
        "precision_at_1",
        query_embeddings,
        query_labels,
        gallery_embeddings,
        gallery_labels,
        metric=metric,
        gallery_includes_query=gallery_includes_query,
        backend=backend,
        chunk_size=chunk_size,
    )


@_common_doc
def precision_at_k(
    query_embeddings,
    query_labels,
    gallery_embeddings=None,
    gallery_labels=None,
    *,
    k=5,
    metric="euclidean",
    gallery_includes_query=False,
    backend="auto",
    chunk_size=None,
):
    """Mean fraction of the top ``k`` gallery items that share the query's label.

    The denominator is always ``k``, even for queries with fewer than ``k``
    relevant items. Queries with no relevant item are left out.

    Parameters
    ----------
    {common_parameters}
    k : int, default=5
        Number of retrieved items; must not exceed the gallery items
        available to a query.

    Returns
    -------
    score : float
        Precision at k, in [0, 1].

    Examples
    --------
    >>> from sksiamese.metrics import precision_at_k
    >>> X = [[0.0], [2.0], [3.0], [5.0]]
    >>> precision_at_k(X, [0, 0, 1, 1], k=2)
    0.5
    """
    return _single(
        "precision_at_k",
        query_embeddings,
        query_labels,
        gallery_embeddings,
        gallery_labels,
        k=k,
        metric=metric,
        gallery_includes_query=gallery_includes_query,
        backend=backend,
        chunk_size=chunk_size,
    )


@_common_doc
def recall_at_k(
    query_embeddings,
    query_labels,
    gallery_embeddings=None,
    gallery_labels=None,
    *,
    k=5,
    metric="euclidean",
    gallery_includes_query=False,
    backend="auto",
    chunk_size=None,
):
    """Mean fraction of each query's relevant gallery items found in its top ``k``.

    For a query with R relevant items this is ``(relevant in top k) / R``.
    Many metric-learning papers call :func:`hit_rate_at_k` "Recall@k"; this
    function is the recall of information retrieval. Queries with R = 0 are
    left out.

    Parameters
    ----------
    {common_parameters}
    k : int, default=5
        Number of retrieved items.

    Returns
    -------
    score : float
        Recall at k, in [0, 1].

    Examples
    --------
    >>> from sksiamese.metrics import recall_at_k
    >>> X = [[0.0], [2.0], [3.0], [5.0]]
    >>> recall_at_k(X, [0, 0, 1, 1], k=2)
    1.0
    """
    return _single(
        "recall_at_k",
        query_embeddings,
        query_labels,
        gallery_embeddings,
        gallery_labels,
        k=k,
        metric=metric,
        gallery_includes_query=gallery_includes_query,
        backend=backend,
        chunk_size=chunk_size,
    )


@_common_doc
def hit_rate_at_k(
    query_embeddings,
    query_labels,
    gallery_embeddings=None,
    gallery_labels=None,
    *,
    k=5,
    metric="euclidean",
    gallery_includes_query=False,
    backend="auto",
    chunk_size=None,
):
    """Fraction of queries with at least one same-label item in their top ``k``.

    This is the top-k class hit rate (often reported as "Recall@k" in
    metric-learning papers). Queries with no relevant item are left out.

    Parameters
    ----------
    {common_parameters}
    k : int, default=5
        Number of retrieved items.

    Returns
    -------
    score : float
        Hit rate at k, in [0, 1].

    Examples
    --------
    >>> from sksiamese.metrics import hit_rate_at_k
    >>> X = [[0.0], [2.0], [3.0], [5.0]]
    >>> hit_rate_at_k(X, [0, 0, 1, 1], k=1)
    0.5
    """
    return _single(
        "hit_rate_at_k",
        query_embeddings,
        query_labels,
        gallery_embeddings,
        gallery_labels,
        k=k,
        metric=metric,
        gallery_includes_query=gallery_includes_query,
        backend=backend,
        chunk_size=chunk_size,
    )


@_common_doc
def r_precision(
    query_embeddings,
    query_labels,
    gallery_embeddings=None,
    gallery_labels=None,
    *,
    metric="euclidean",
    gallery_includes_query=False,
    backend="auto",
    chunk_size=None,
):
    """Mean precision in the top R, R being each query's number of relevant items.

    Queries with R = 0 are left out; ties are ranked by gallery index.

    Parameters
    ----------
    {common_parameters}

    Returns
    -------
    score : float
        R-precision, in [0, 1].

    Examples
    --------
    >>> from sksiamese.metrics import r_precision
    >>> X = [[0.0], [2.0], [3.0], [5.0]]
    >>> r_precision(X, [0, 0, 1, 1])
    0.5
    """
    return _single(
        "r_precision",
        query_embeddings,
        query_labels,
        gallery_embeddings,
        gallery_labels,
        metric=metric,
        gallery_includes_query=gallery_includes_query,
        backend=backend,
        chunk_size=chunk_size,
    )


@_common_doc
def mean_average_precision_at_r(
    query_embeddings,
    query_labels,
    gallery_embeddings=None,
    gallery_labels=None,
    *,
    metric="euclidean",
    gallery_includes_query=False,
    backend="auto",
    chunk_size=None,
):
    """MAP@R of Musgrave, Belongie and Lim, "A Metric Learning Reality Check".

    For a query with R relevant gallery items,
    ``AP@R = (1 / R) * sum_{i <= R} P(i) * rel(i)`` where ``rel(i)`` says
    whether the i-th nearest item is relevant and ``P(i)`` is the precision
    of the top ``i``. MAP@R is the mean of AP@R over queries with R >= 1.
    It matches ``mean_average_precision_at_r`` of pytorch-metric-learning's
    ``AccuracyCalculator``.

    Parameters
    ----------
    {common_parameters}

    Returns
    -------
    score : float
        MAP@R, in [0, 1].

    Examples
    --------
    >>> from sksiamese.metrics import mean_average_precision_at_r
    >>> X = [[0.0], [2.0], [3.0], [5.0]]
    >>> mean_average_precision_at_r(X, [0, 0, 1, 1])
    0.5
    """
    return _single(
        "map_at_r",
        query_embeddings,
        query_labels,
        gallery_embeddings,
        gallery_labels,
        metric=metric,
        gallery_includes_query=gallery_includes_query,
        backend=backend,
        chunk_size=chunk_size,
    )


# --------------------------------------------------------------------------
# One-shot classification
# --------------------------------------------------------------------------


def one_shot_accuracy(
    support_embeddings,
    support_labels,
    query_embeddings,
    query_labels,
    *,
    metric="euclidean",
):
    """Accuracy of labelling each query with its nearest support item's label.

    With K shots per class this is the nearest neighbour over all supports
    (not the nearest class mean). A query equidistant from several supports
    takes the label of the lowest-indexed one.

    Parameters
    ----------
    support_embeddings : array-like of shape (n_support, n_features)
        Embeddings of the labelled support items.
    support_labels : array-like of shape (n_support,)
        Labels of the support items.
    query_embeddings : array-like of shape (n_queries, n_features)
        Embeddings of the items to classify.
    query_labels : array-like of shape (n_queries,)
        True labels of the queries.
    metric : {"euclidean", "cosine"}, default="euclidean"
        Distance between embeddings.

    Returns
    -------
    accuracy : float
        Fraction of queries classified correctly.

    Examples
    --------
    >>> from sksiamese.metrics import one_shot_accuracy
    >>> support = [[0.0, 0.0], [5.0, 5.0]]
    >>> queries = [[0.5, 0.0], [4.0, 5.0], [2.0, 2.0]]
    >>> one_shot_accuracy(support, ["a", "b"], queries, ["a", "b", "b"])
    0.6666666666666666
    """
    _retrieval.check_choice(metric, _retrieval.DISTANCES, "metric")
    support = check_embeddings(support_embeddings, "support_embeddings")
    s_labels = check_labels(support_labels, support.shape[0], "support_labels")
    query = check_embeddings(query_embeddings, "query_embeddings")
    q_labels = check_labels(query_labels, query.shape[0], "query_labels")
    if support.shape[1] != query.shape[1]:
        raise ValueError(
            f"support_embeddings have {support.shape[1]} features but "
            f"query_embeddings have {query.shape[1]}."
        )
    q_codes, s_codes = _retrieval.encode(q_labels, s_labels)
    known = set(s_labels.tolist())
    missing = [c for c in dict.fromkeys(q_labels.tolist()) if c not in known]
    if missing:
        raise ValueError(
            f"query_labels holds classes with no support item "
            f"({', '.join(map(repr, missing[:5]))}), which no query can "
            "be labelled with; give each query class at least one support item."
        )
    _, nearest = ExactIndex(metric=metric).fit(support).search(query, 1)
    return int((s_codes[nearest[:, 0]] == q_codes).sum()) / query.shape[0]


# --------------------------------------------------------------------------
# Verification
# --------------------------------------------------------------------------

_SAME_DOC = """same : array-like of shape (n_pairs,)
        1 (or True) for pairs of the same class, 0 (or False) otherwise;
        both must occur."""


@fill_doc(same=_SAME_DOC)
def equal_error_rate(same, scores):
    """Equal error rate of a verification score and the threshold reaching it.

    The EER is where the false acceptance rate (different pairs scored at or
    above the threshold) equals the false rejection rate (same pairs scored
    below it), linearly interpolated between the two ROC points that bracket
    the crossing.

    Parameters
    ----------
    {same}
    scores : array-like of shape (n_pairs,)
        Similarity scores: higher means more alike. Negate distances before
        passing them.

    Returns
    -------
    eer : float
        Equal error rate, in [0, 1].
    threshold : float
        Score threshold of the first ROC point where the false acceptance
        rate reaches the false rejection rate; pairs with
        ``score >= threshold`` are declared "same".

    Examples
    --------
    >>> from sksiamese.metrics import equal_error_rate
    >>> equal_error_rate([1, 1, 0, 0], [0.9, 0.4, 0.6, 0.1])
    (0.5, 0.6)
    """
    same = check_same(same)
    s = check_scores(scores, len(same))
    fpr, tpr, thresholds = roc_curve(same, s, drop_intermediate=False)
    gap = (1.0 - tpr) - fpr
    i = int(np.argmax(gap <= 0))
    if i == 0:
        return float(fpr[0]), float(thresholds[0])
    t = gap[i - 1] / (gap[i - 1] - gap[i])
    eer = fpr[i - 1] + t * (fpr[i] - fpr[i - 1])
    return float(eer), float(thresholds[i])


@fill_doc(same=_SAME_DOC)
def equal_error_rate_score(same, scores):
    """Equal error rate alone (lower is better).

    Parameters
    ----------
    {same}
    scores : array-like of shape (n_pairs,)
        Similarity scores: higher means more alike.

    Returns
    -------
    eer : float
        See :func:`equal_error_rate`.

    Examples
    --------
    >>> from sksiamese.metrics import equal_error_rate_score
    >>> equal_error_rate_score([1, 0, 1, 0], [0.8, 0.3, 0.9, 0.1])
    0.0
    """
    return equal_error_rate(same, scores)[0]


#: Scorer for pair classifiers: ``-EER`` of ``decision_function`` (or of the
#: positive-class ``predict_proba``), so that greater is better as
#: scikit-learn's model selection expects.
neg_equal_error_rate_scorer = make_scorer(
    equal_error_rate_score,
    greater_is_better=False,
    response_method=("decision_function", "predict_proba"),
)
