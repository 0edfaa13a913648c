"""The engine behind the retrieval metrics of :mod:`sksiamese.metrics`.

Inputs are validated here, labels encoded, and the per-query values of the
metrics computed from the neighbours that an index returns, chunk by chunk
so that memory stays bounded.
"""

import warnings

import numpy as np
from sklearn.base import BaseEstimator
from sklearn.utils.validation import check_is_fitted

from ._utils import check_embeddings, check_labels, check_positive_int
from .neighbors import INDEX_NAMES, make_index, search_excluding

RETRIEVAL_METRICS = (
    "precision_at_1",
    "precision_at_k",
    "recall_at_k",
    "hit_rate_at_k",
    "r_precision",
    "map_at_r",
)
DISTANCES = ("euclidean", "cosine")
K_METRICS = frozenset({"precision_at_k", "recall_at_k", "hit_rate_at_k"})
R_METRICS = frozenset({"r_precision", "map_at_r"})
# Neighbour lists (positions, distances, relevance) of one chunk of queries
# when chunk_size is None.
_CHUNK_BYTES = 256 * 2**20


def check_choice(value, options, name):
    if not isinstance(value, str) or value not in options:
        raise ValueError(f"{name} must be one of {options}, got {value!r}.")


def encode(query_labels, gallery_labels):
    """Map both label arrays to integer codes of one shared vocabulary."""
    try:
        _, codes = np.unique(
            np.concatenate([gallery_labels, query_labels]), return_inverse=True
        )
    except TypeError as exc:
        raise ValueError("Labels must be mutually comparable.") from exc
    codes = codes.ravel()
    return codes[len(gallery_labels) :], codes[: len(gallery_labels)]


def prepare(
    query_embeddings,
    query_labels,
    gallery_embeddings,
    gallery_labels,
    gallery_includes_query,
):
    """Validate inputs and return ``(query, gallery, q_codes, g_codes, self_idx)``.

    ``self_idx[i]`` is the gallery row that query ``i`` must skip, or
    ``self_idx`` is None when no row is skipped.
    """
    query = check_embeddings(query_embeddings, "query_embeddings")
    q_labels = check_labels(query_labels, query.shape[0], "query_labels")
    if gallery_embeddings is None:
        if gallery_labels is not None:
            raise ValueError("gallery_labels given without gallery_embeddings.")
        codes = encode(q_labels, q_labels[:0])[0]
        return query, query, codes, codes, np.arange(query.shape[0])
    gallery = check_embeddings(gallery_embeddings, "gallery_embeddings")
    g_labels = check_labels(gallery_labels, gallery.shape[0], "gallery_labels")
    if gallery.shape[1] != query.shape[1]:
        raise ValueError(
            f"query_embeddings have {query.shape[1]} features but "
            f"gallery_embeddings have {gallery.shape[1]}."
        )
    q_codes, g_codes = encode(q_labels, g_labels)
    if not gallery_includes_query:
        return query, gallery, q_codes, g_codes, None
    n_q = query.shape[0]
    if (
        gallery.shape[0] < n_q
        or not np.array_equal(gallery[:n_q], query)
        or not np.array_equal(g_codes[:n_q], q_codes)
    ):
        raise ValueError(
            "gallery_includes_query=True requires the first n_queries rows of "
            "the gallery (embeddings and labels) to equal the queries."
        )
    return query, gallery, q_codes, g_codes, np.arange(n_q)


def chunk_scores(relevant, n_relevant, k, metrics):
    """Per-query metric values from a boolean relevance matrix."""
    out = {}
    top_k = relevant[:, :k] if K_METRICS.intersection(metrics) else None
    if "precision_at_1" in metrics:
        out["precision_at_1"] = relevant[:, 0].astype(np.float64)
    if "precision_at_k" in metrics:
        out["precision_at_k"] = top_k.sum(axis=1) / k
    if "recall_at_k" in metrics:
        out["recall_at_k"] = top_k.sum(axis=1) / n_relevant
    if "hit_rate_at_k" in metrics:
        out["hit_rate_at_k"] = top_k.any(axis=1).astype(np.float64)
    if R_METRICS.intersection(metrics):
        ranks = np.arange(1, relevant.shape[1] + 1)
        hits = relevant & (ranks <= n_relevant[:, None])
        if "r_precision" in metrics:
            out["r_precision"] = hits.sum(axis=1) / n_relevant
        if "map_at_r" in metrics:
            precision = np.cumsum(hits, axis=1) / ranks
            out["map_at_r"] = (precision * hits).sum(axis=1) / n_relevant
    return out


def neighbors_needed(metrics, k, n_relevant):
    """Neighbours each query needs for the requested metrics."""
    needed = np.ones_like(n_relevant)
    if K_METRICS.intersection(metrics):
        needed = np.maximum(needed, k)
    if R_METRICS.intersection(metrics):
        needed = np.maximum(needed, n_relevant)
    return needed


def scores(index, query, q_codes, g_codes, self_index, *, metrics, k, chunk_size):
    """Mean of each requested metric over the queries that have R >= 1.

    ``index`` is fitted on the gallery, ``query`` validated, the codes are
    integer labels and ``self_index`` gives for each query the gallery row
    to skip (or is None). Queries are searched in chunks, sorted by the
    number of neighbours they need so that each chunk asks for about what
    its queries need; per-query values are averaged in query order, so the
    result does not depend on the chunking.
    """
    available = len(index) - (self_index is not None)
    if K_METRICS.intersection(metrics) and k > available:
        raise ValueError(
            f"k={k} is larger than the {available} gallery items available "
            "to each query."
        )
    n_codes = max(q_codes.max(initial=-1), g_codes.max(initial=-1)) + 1
    n_relevant = np.bincount(g_codes, minlength=n_codes)[q_codes]
    if self_index is not None:
        n_relevant = n_relevant - (g_codes[self_index] == q_codes)
    rows = np.flatnonzero(n_relevant > 0)
    if len(rows) == 0:
        warnings.warn(
            "No query has a relevant gallery item; retrieval metrics are nan.",
            UserWarning,
            stacklevel=3,
        )
        return {name: float("nan") for name in metrics}
    needed = neighbors_needed(metrics, k, n_relevant[rows])
    order = np.argsort(needed, kind="stable")
    per_query = {name: np.empty(len(rows)) for name in metrics}
    step = chunk_size or max(1, _CHUNK_BYTES // (32 * int(needed.max())))
    for start in range(0, len(rows), step):
        place = order[start : start + step]
        chunk = rows[place]
        n_k = int(needed[place].max())
        if self_index is None:
            _, idx = index.search(query[chunk], n_k)
        else:
            _, idx = search_excluding(index, query[chunk], n_k, self_index[chunk])
        relevant = (g_codes[idx] == q_codes[chunk][:, None]) & (idx >= 0)
        values = chunk_scores(relevant, n_relevant[chunk], k, metrics)
        for name, value in values.items():
            per_query[name][place] = value
    return {name: float(np.mean(values)) for name, values in per_query.items()}


def check_include(include):
    """Names of retrieval metrics, as a tuple."""
    include = (include,) if isinstance(include, str) else tuple(include)
    if not include:
        raise ValueError("include must name at least one retrieval metric.")
    for name in include:
        check_choice(name, RETRIEVAL_METRICS, "metric name")
    return include


def from_arrays(
    names,
    query_embeddings,
    query_labels,
    gallery_embeddings,
    gallery_labels,
    *,
    k=1,
    metric="euclidean",
    gallery_includes_query=False,
    backend="auto",
    chunk_size=None,
):
    """The metrics ``names`` of the retrieval metric functions' arguments,
    the gallery indexed by the index that ``backend`` names."""
    check_choice(metric, DISTANCES, "metric")
    if isinstance(backend, str):
        check_choice(backend, INDEX_NAMES, "backend")
    check_positive_int(k, "k")
    check_positive_int(chunk_size, "chunk_size", allow_none=True)
    query, gallery, q_codes, g_codes, self_index = prepare(
        query_embeddings,
        query_labels,
        gallery_embeddings,
        gallery_labels,
        gallery_includes_query,
    )
    index = make_index(backend, metric=metric).fit(gallery)
    return scores(
        index,
        query,
        q_codes,
        g_codes,
        self_index,
        metrics=names,
        k=k,
        chunk_size=chunk_size,
    )


def from_index(
    query_embeddings,
    query_labels,
    index,
    gallery_labels,
    *,
    k,
    include,
    leave_one_out,
    chunk_size,
):
    """The work of :func:`sksiamese.metrics.retrieval_report_from_index`."""
    include = check_include(include)
    check_positive_int(k, "k")
    check_positive_int(chunk_size, "chunk_size", allow_none=True)
    if isinstance(index, BaseEstimator):
        check_is_fitted(index)
    query = check_embeddings(query_embeddings, "query_embeddings")
    q_labels = check_labels(query_labels, query.shape[0], "query_labels")
    g_labels = check_labels(gallery_labels, len(index), "gallery_labels")
    q_codes, g_codes = encode(q_labels, g_labels)
    self_index = None
    if leave_one_out:
        n_q = query.shape[0]
        if n_q > len(g_codes) or not np.array_equal(g_codes[:n_q], q_codes):
            raise ValueError(
                "leave_one_out=True requires the queries to be the first "
                "n_queries gallery rows, with the same labels."
            )
        self_index = np.arange(n_q)
    return scores(
        index,
        query,
        q_codes,
        g_codes,
        self_index,
        metrics=include,
        k=k,
        chunk_size=chunk_size,
    )
