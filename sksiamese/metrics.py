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
* **Ties and precision.** The final ranking uses distances computed pair
  by pair in float64 (from differences, so duplicates are at distance 0)
  and compared after rounding to float32: items at equal distance, to
  float32 precision, are ranked by gallery index, lower first. This is the
  order faiss's flat indexes give exact ties. Rankings do not depend on
  chunking, threads or BLAS.
* **Memory.** Distances are computed for chunks of queries and only the
  top ``k`` (or top R, for R-based metrics) neighbours of each query are
  kept, so memory grows with ``chunk_size * n_gallery``, never with
  ``n_queries * n_gallery``.
"""

import warnings
from numbers import Integral

import numpy as np
import torch
from sklearn.metrics import make_scorer, roc_curve
from sklearn.utils import check_array

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
]

#: Names of the retrieval metrics, as used by :func:`retrieval_report`.
RETRIEVAL_METRICS = (
    "precision_at_1",
    "precision_at_k",
    "recall_at_k",
    "hit_rate_at_k",
    "r_precision",
    "map_at_r",
)
_K_METRICS = frozenset({"precision_at_k", "recall_at_k", "hit_rate_at_k"})
_R_METRICS = frozenset({"r_precision", "map_at_r"})
_DISTANCES = ("euclidean", "cosine")
_BACKENDS = ("auto", "brute", "faiss")
# Distance block kept in memory per chunk of queries when chunk_size is None.
_CHUNK_BYTES = 256 * 2**20

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
    backend : {"auto", "brute", "faiss"}, default="auto"
        Nearest-neighbour search. ``"brute"``: float32 matrix products with
        torch select candidates, widened by a rigorous rounding-error bound,
        which are then ranked exactly. ``"faiss"``: faiss's flat index
        selects the neighbours in float32, which are then ranked exactly; a
        near-tie at the cut-off may go either way. ``"auto"`` is brute
        force, which on CPU is as fast as faiss's flat index (see
        ``benchmarks/bench_retrieval.py``) and exact.
    chunk_size : int, default=None
        Number of queries searched at once. ``None`` picks it so that a
        chunk takes about 256 MiB of working memory."""


def _fill_doc(func):
    """Insert the shared parameter descriptions into a docstring."""
    func.__doc__ = func.__doc__.replace("{common_parameters}", _COMMON_PARAMETERS)
    return func


# --------------------------------------------------------------------------
# Validation
# --------------------------------------------------------------------------


def _check_embeddings(X, name):
    """Validate a 2-D finite float array."""
    return check_array(X, dtype=(np.float64, np.float32), input_name=name)


def _check_labels(y, n_samples, name):
    """Validate a 1-D label array of length ``n_samples``."""
    if y is None:
        raise ValueError(f"{name} is required.")
    y = np.asarray(y)
    if y.ndim == 2 and y.shape[1] == 1:
        y = y.ravel()
    if y.ndim != 1:
        raise ValueError(f"{name} must be 1-dimensional, got shape {y.shape}.")
    if y.shape[0] != n_samples:
        raise ValueError(
            f"{name} has {y.shape[0]} entries but the embeddings have "
            f"{n_samples} rows; they must have the same length."
        )
    if y.dtype.kind == "f" and np.isnan(y).any():
        raise ValueError(f"{name} contains NaN.")
    return y


def _check_choice(value, options, name):
    if value not in options:
        raise ValueError(f"{name} must be one of {options}, got {value!r}.")


def _check_positive_int(value, name, allow_none=False):
    if value is None and allow_none:
        return
    if not isinstance(value, Integral) or isinstance(value, bool) or value < 1:
        raise ValueError(f"{name} must be a positive integer, got {value!r}.")


def _encode(query_labels, gallery_labels):
    """Map both label arrays to integer codes of one shared vocabulary."""
    try:
        _, codes = np.unique(
            np.concatenate([gallery_labels, query_labels]), return_inverse=True
        )
    except TypeError as exc:
        raise ValueError("Labels must be mutually comparable.") from exc
    codes = codes.ravel()
    return codes[len(gallery_labels) :], codes[: len(gallery_labels)]


def _prepare(
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
    query = _check_embeddings(query_embeddings, "query_embeddings")
    q_labels = _check_labels(query_labels, query.shape[0], "query_labels")
    if gallery_embeddings is None:
        if gallery_labels is not None:
            raise ValueError("gallery_labels given without gallery_embeddings.")
        codes = _encode(q_labels, q_labels[:0])[0]
        return query, query, codes, codes, np.arange(query.shape[0])
    gallery = _check_embeddings(gallery_embeddings, "gallery_embeddings")
    g_labels = _check_labels(gallery_labels, gallery.shape[0], "gallery_labels")
    if gallery.shape[1] != query.shape[1]:
        raise ValueError(
            f"query_embeddings have {query.shape[1]} features but "
            f"gallery_embeddings have {gallery.shape[1]}."
        )
    q_codes, g_codes = _encode(q_labels, g_labels)
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


# --------------------------------------------------------------------------
# Nearest-neighbour search
# --------------------------------------------------------------------------


def _import_faiss():
    try:
        import faiss
    except ImportError as exc:
        raise ImportError(
            "backend='faiss' requires the faiss package; install it with "
            "`pip install faiss-cpu` (or `pip install sksiamese[faiss]`), or use "
            "backend='brute'."
        ) from exc
    return faiss


def _resolve_backend(backend):
    _check_choice(backend, _BACKENDS, "backend")
    return "brute" if backend == "auto" else backend


def _exact_distances(query, gallery, indices, metric):
    """Distances from each query row to the gallery rows in ``indices``.

    Computed pair by pair in float64 from differences (not by expanding the
    square), so a duplicate of a query is at distance exactly 0 and each
    value depends only on its two vectors. Euclidean distances are returned
    squared.
    """
    query = np.asarray(query, dtype=np.float64)
    if metric == "cosine":
        query = _unit_rows(query)
    distances = np.empty(indices.shape, dtype=np.float64)
    for j in range(indices.shape[1]):
        neighbours = np.asarray(gallery[indices[:, j]], dtype=np.float64)
        if metric == "cosine":
            similarity = np.sum(query * _unit_rows(neighbours), axis=1)
            distances[:, j] = np.clip(1.0 - similarity, 0.0, 2.0)
        else:
            distances[:, j] = np.sum((query - neighbours) ** 2, axis=1)
    return distances


def _unit_rows(matrix):
    """Rows of a float matrix scaled to unit L2 norm, in its own dtype;
    all-zero rows stay zero."""
    norms = np.linalg.norm(matrix, axis=1, keepdims=True)
    return matrix / np.maximum(norms, np.finfo(matrix.dtype).tiny)


def _rank_candidates(query, gallery, indices, valid, metric, n_neighbors):
    """Keep the ``n_neighbors`` best candidates of each row, exactly ranked.

    Candidates are ranked by their exact distance rounded to float32, then
    by gallery index; ``valid`` masks out candidates that must not be kept.
    Returns ``(indices, exact_distances)``.
    """
    exact = _exact_distances(query, gallery, indices, metric)
    rank = np.where(valid, exact.astype(np.float32), np.float32(np.inf))
    order = np.lexsort((indices, rank), axis=1)[:, :n_neighbors]
    return np.take_along_axis(indices, order, 1), np.take_along_axis(exact, order, 1)


class _BruteSearcher:
    """Exact search with torch: float32 candidates, float64 ranking.

    Distances are first computed for the whole chunk in float32 with one
    matrix product. Every gallery item that may be among the
    ``n_neighbors`` nearest despite float32 rounding (by a worst-case error
    bound) is then ranked by its exact distance (:func:`_exact_distances`)
    rounded to float32, ties going to the lower gallery index. Results
    therefore do not depend on chunking, threads or BLAS.
    """

    def __init__(self, gallery, metric):
        self.metric = metric
        self.gallery = gallery
        g = np.asarray(gallery, dtype=np.float64)
        if metric == "cosine":
            self._shift = None
            g = _unit_rows(g)
        else:
            # Distances do not change by translation; centring reduces the
            # norms, hence the float32 error.
            self._shift = g.mean(axis=0)
            g = g - self._shift
        self._g_max = float(np.linalg.norm(g, axis=1).max(initial=0.0))
        g32 = torch.from_numpy(g.astype(np.float32))
        if metric == "cosine":
            self._offset = torch.zeros((1, g.shape[0]), dtype=torch.float32)
        else:
            self._offset = 0.5 * (g32 * g32).sum(dim=1)[None, :]
        self._gt = g32.T
        # Worst-case relative error of a float32 dot product of length d,
        # plus the rounding of inputs and sums, with a safety factor of 2.
        self._error_factor = 2.0 * (g.shape[1] + 8) * 2.0**-24
        self._buffer = torch.empty(0)

    def chunk_rows(self, n_gallery, n_neighbors):
        """Queries per chunk keeping one chunk's working memory near 256 MiB."""
        return max(1, _CHUNK_BYTES // (5 * n_gallery + 64 * n_neighbors))

    def _approximate(self, query):
        """Float32 ranking keys, offsets to distances and error bounds.

        For row ``i``, ``2 * keys[i] + offset[i]`` approximates the squared
        Euclidean distance (or ``keys[i] + offset[i]`` the cosine distance)
        within ``error[i]``.
        """
        q = np.asarray(query, dtype=np.float64)
        q = _unit_rows(q) if self.metric == "cosine" else q - self._shift
        q_norm = np.linalg.norm(q, axis=1)
        error = self._error_factor * (q_norm + self._g_max) ** 2
        n_rows, n_gallery = q.shape[0], self._gt.shape[1]
        if self._buffer.numel() < n_rows * n_gallery:
            self._buffer = torch.empty(n_rows * n_gallery, dtype=torch.float32)
        keys = self._buffer[: n_rows * n_gallery].view(n_rows, n_gallery)
        q32 = torch.from_numpy(q.astype(np.float32))
        # keys = |g|^2 / 2 - q.g: half the squared distance minus |q|^2 / 2,
        # or minus the cosine similarity.
        torch.addmm(self._offset, q32, self._gt, beta=1, alpha=-1, out=keys)
        if self.metric == "cosine":
            return keys, np.ones(n_rows), 1.0, error
        return keys, q_norm**2, 2.0, error

    def search(self, query, n_neighbors, self_cols):
        keys, offset, scale, error = self._approximate(query)
        n_rows, n_gallery = keys.shape
        if self_cols is not None:
            keys[torch.arange(n_rows), torch.from_numpy(self_cols)] = torch.inf
        n_avail = n_gallery - (self_cols is not None)
        n_top = min(n_neighbors + 8, n_avail)
        vals, idx = torch.topk(keys, n_top, dim=1, largest=False, sorted=True)
        # Items past `limit` are farther than the n_neighbors-th nearest by
        # more than float32 resolution, whatever the rounding.
        kth = scale * vals[:, n_neighbors - 1].numpy().astype(np.float64) + offset
        slack = 2.0 * error
        limit = kth + slack + 2.0**-20 * (np.abs(kth) + slack)
        limit = (limit - offset) / scale
        limit = torch.from_numpy(np.nextafter(limit.astype(np.float32), np.inf))
        while n_top < n_avail and bool((vals[:, -1] <= limit).any()):
            n_top = min(2 * n_top, n_avail)
            vals, idx = torch.topk(keys, n_top, dim=1, largest=False, sorted=True)
        valid = (vals <= limit[:, None]).numpy()
        return _rank_candidates(
            query, self.gallery, idx.numpy(), valid, self.metric, n_neighbors
        )


class _FaissSearcher:
    """Search with a faiss flat index (float32 distances).

    The neighbours faiss returns are re-ranked by exact distance like the
    brute-force ones, but which items make the cut is decided by faiss's
    float32 distances.
    """

    def __init__(self, gallery, metric):
        faiss = _import_faiss()
        self.metric = metric
        self.gallery = gallery
        g = np.asarray(gallery, dtype=np.float64)
        if metric == "cosine":
            g = _unit_rows(g)
            self._index = faiss.IndexFlatIP(g.shape[1])
        else:
            self._index = faiss.IndexFlatL2(g.shape[1])
        self._index.add(np.ascontiguousarray(g, dtype=np.float32))

    def chunk_rows(self, n_gallery, n_neighbors):
        """Queries per faiss call (faiss is slow on small batches)."""
        return max(1, _CHUNK_BYTES // (64 * n_neighbors))

    def search(self, query, n_neighbors, self_cols):
        q = np.asarray(query, dtype=np.float64)
        if self.metric == "cosine":
            q = _unit_rows(q)
        n_search = n_neighbors + (self_cols is not None)
        _, idx = self._index.search(
            np.ascontiguousarray(q, dtype=np.float32),
            min(n_search, self._index.ntotal),
        )
        if self_cols is not None:
            idx = _drop_self(idx, self_cols)
        valid = np.ones(idx.shape, dtype=bool)
        return _rank_candidates(
            query, self.gallery, idx.astype(np.int64), valid, self.metric, n_neighbors
        )


def _drop_self(idx, self_cols):
    """Remove each row's own index, or its last column when absent."""
    is_self = idx == self_cols[:, None]
    is_self[~is_self.any(axis=1), -1] = True
    return idx[~is_self].reshape(idx.shape[0], idx.shape[1] - 1)


def _iter_knn(
    query,
    gallery,
    rows,
    n_neighbors,
    *,
    metric,
    self_index,
    backend,
    chunk_size,
):
    """Yield ``(chunk_rows, distances, indices)`` for chunks of query rows.

    Parameters
    ----------
    query, gallery : ndarray
        Validated embeddings.
    rows : ndarray of int
        Query rows to search for.
    n_neighbors : int or ndarray
        Neighbours needed, either for all rows or per entry of ``rows``
        (each chunk keeps the largest number among its rows).
    metric, backend : str
        Distance and search backend.
    self_index : ndarray or None
        Gallery row to skip for each query row.
    chunk_size : int or None
        Queries per chunk; None lets the backend choose.

    Yields
    ------
    chunk : ndarray of int
        The query rows of this chunk.
    distances : ndarray of shape (len(chunk), n)
        Distances to the neighbours, ascending.
    indices : ndarray of shape (len(chunk), n)
        Gallery rows of the neighbours.
    """
    _check_choice(metric, _DISTANCES, "metric")
    backend = _resolve_backend(backend)
    searcher_cls = _FaissSearcher if backend == "faiss" else _BruteSearcher
    searcher = searcher_cls(gallery, metric)
    per_row = np.broadcast_to(np.asarray(n_neighbors), rows.shape)
    if chunk_size is None:
        max_k = int(per_row.max()) if len(rows) else 1
        chunk_size = searcher.chunk_rows(gallery.shape[0], max_k)
    for start in range(0, len(rows), chunk_size):
        chunk = rows[start : start + chunk_size]
        self_cols = None if self_index is None else self_index[chunk]
        n_k = int(per_row[start : start + chunk_size].max())
        indices, exact = searcher.search(query[chunk], n_k, self_cols)
        distances = np.sqrt(exact) if metric == "euclidean" else exact
        yield chunk, distances, indices


@_fill_doc
def kneighbors(
    query_embeddings,
    gallery_embeddings=None,
    *,
    n_neighbors=5,
    metric="euclidean",
    backend="auto",
    chunk_size=None,
):
    """Find the nearest gallery items of each query, memory-bounded.

    Ties are ranked by gallery index. When ``gallery_embeddings`` is None the
    queries are the gallery and each query's own entry is excluded.

    Parameters
    ----------
    query_embeddings : array-like of shape (n_queries, n_features)
        Embeddings of the queries.
    gallery_embeddings : array-like of shape (n_gallery, n_features), \
default=None
        Embeddings to search; ``None`` searches the queries themselves,
        leave-one-out.
    n_neighbors : int, default=5
        Number of neighbours per query.
    metric : {"euclidean", "cosine"}, default="euclidean"
        Distance; cosine distance is ``1 - cosine similarity``.
    backend : {"auto", "brute", "faiss"}, default="auto"
        Search backend, see :func:`retrieval_report`.
    chunk_size : int, default=None
        Queries per chunk; ``None`` keeps one chunk of distances near 256 MiB.

    Returns
    -------
    distances : ndarray of shape (n_queries, n_neighbors)
        Distances to the neighbours, ascending.
    indices : ndarray of shape (n_queries, n_neighbors)
        Gallery row of each neighbour.

    Examples
    --------
    >>> from sksiamese.metrics import kneighbors
    >>> X = [[0.0], [1.0], [3.0]]
    >>> distances, indices = kneighbors(X, n_neighbors=1)
    >>> indices.ravel().tolist(), distances.ravel().tolist()
    ([1, 0, 1], [1.0, 1.0, 2.0])
    """
    query = _check_embeddings(query_embeddings, "query_embeddings")
    if gallery_embeddings is None:
        gallery, self_index = query, np.arange(query.shape[0])
    else:
        gallery = _check_embeddings(gallery_embeddings, "gallery_embeddings")
        self_index = None
        if gallery.shape[1] != query.shape[1]:
            raise ValueError(
                f"query_embeddings have {query.shape[1]} features but "
                f"gallery_embeddings have {gallery.shape[1]}."
            )
    return _knn_arrays(
        query,
        gallery,
        n_neighbors,
        self_index=self_index,
        metric=metric,
        backend=backend,
        chunk_size=chunk_size,
    )


def _knn_arrays(
    query, gallery, n_neighbors, *, self_index, metric, backend, chunk_size
):
    """Distances and indices of the neighbours of every query (validated input)."""
    _check_positive_int(n_neighbors, "n_neighbors")
    _check_positive_int(chunk_size, "chunk_size", allow_none=True)
    available = gallery.shape[0] - (self_index is not None)
    if n_neighbors > available:
        raise ValueError(
            f"n_neighbors={n_neighbors} is larger than the {available} gallery "
            "items available to each query."
        )
    distances = np.empty((query.shape[0], n_neighbors), dtype=np.float64)
    indices = np.empty((query.shape[0], n_neighbors), dtype=np.int64)
    rows = np.arange(query.shape[0])
    for chunk, dist, idx in _iter_knn(
        query,
        gallery,
        rows,
        n_neighbors,
        metric=metric,
        self_index=self_index,
        backend=backend,
        chunk_size=chunk_size,
    ):
        distances[chunk], indices[chunk] = dist, idx
    return distances, indices


# --------------------------------------------------------------------------
# Retrieval metrics
# --------------------------------------------------------------------------


def _chunk_scores(relevant, n_relevant, k, metrics):
    """Per-query metric values from a boolean relevance matrix."""
    out = {}
    top_k = relevant[:, :k] if _K_METRICS.intersection(metrics) else None
    if "precision_at_1" in metrics:
        out["precision_at_1"] = relevant[:, 0].astype(np.float64)
    if "precision_at_k" in metrics:
        out["precision_at_k"] = top_k.sum(axis=1) / k
    if "recall_at_k" in metrics:
        out["recall_at_k"] = top_k.sum(axis=1) / n_relevant
    if "hit_rate_at_k" in metrics:
        out["hit_rate_at_k"] = top_k.any(axis=1).astype(np.float64)
    if _R_METRICS.intersection(metrics):
        ranks = np.arange(1, relevant.shape[1] + 1)
        hits = relevant & (ranks <= n_relevant[:, None])
        if "r_precision" in metrics:
            out["r_precision"] = hits.sum(axis=1) / n_relevant
        if "map_at_r" in metrics:
            precision = np.cumsum(hits, axis=1) / ranks
            out["map_at_r"] = (precision * hits).sum(axis=1) / n_relevant
    return out


def _neighbors_needed(metrics, k, n_relevant):
    """Neighbours each query needs for the requested metrics."""
    needed = np.ones_like(n_relevant)
    if _K_METRICS.intersection(metrics):
        needed = np.maximum(needed, k)
    if _R_METRICS.intersection(metrics):
        needed = np.maximum(needed, n_relevant)
    return needed


def _check_metric_args(metrics, k, metric, backend, chunk_size, available):
    for name in metrics:
        _check_choice(name, RETRIEVAL_METRICS, "metric name")
    _check_choice(metric, _DISTANCES, "metric")
    _check_choice(backend, _BACKENDS, "backend")
    _check_positive_int(k, "k")
    _check_positive_int(chunk_size, "chunk_size", allow_none=True)
    if _K_METRICS.intersection(metrics) and k > available:
        raise ValueError(
            f"k={k} is larger than the {available} gallery items available "
            "to each query."
        )


def _scores(
    query,
    gallery,
    q_codes,
    g_codes,
    self_index,
    *,
    metrics,
    k,
    metric,
    backend,
    chunk_size,
):
    """Mean of each requested metric over the queries that have R >= 1.

    This is the engine behind every retrieval metric; inputs are validated
    arrays and integer label codes, ``self_index`` gives for each query the
    gallery row to skip (or is None).
    """
    available = gallery.shape[0] - (self_index is not None)
    _check_metric_args(metrics, k, metric, backend, chunk_size, available)
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
    needed = _neighbors_needed(metrics, k, n_relevant[rows])
    # Per-query values, averaged at the end so that the result does not
    # depend on the chunking.
    per_query = {name: np.empty(len(rows)) for name in metrics}
    done = 0
    for chunk, _, idx in _iter_knn(
        query,
        gallery,
        rows,
        needed,
        metric=metric,
        self_index=self_index,
        backend=backend,
        chunk_size=chunk_size,
    ):
        relevant = g_codes[idx] == q_codes[chunk][:, None]
        values = _chunk_scores(relevant, n_relevant[chunk], k, metrics)
        for name, value in values.items():
            per_query[name][done : done + len(chunk)] = value
        done += len(chunk)
    return {name: float(np.mean(values)) for name, values in per_query.items()}


def _metric_from_arrays(
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
    prepared = _prepare(
        query_embeddings,
        query_labels,
        gallery_embeddings,
        gallery_labels,
        gallery_includes_query,
    )
    return _scores(
        *prepared,
        metrics=names,
        k=k,
        metric=metric,
        backend=backend,
        chunk_size=chunk_size,
    )


@_fill_doc
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
    return _metric_from_arrays(
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
    return _metric_from_arrays((name,), *args, **kwargs)[name]


@_fill_doc
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


@_fill_doc
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


@_fill_doc
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


@_fill_doc
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


@_fill_doc
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


@_fill_doc
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
    support = _check_embeddings(support_embeddings, "support_embeddings")
    s_labels = _check_labels(support_labels, support.shape[0], "support_labels")
    query = _check_embeddings(query_embeddings, "query_embeddings")
    q_labels = _check_labels(query_labels, query.shape[0], "query_labels")
    if support.shape[1] != query.shape[1]:
        raise ValueError(
            f"support_embeddings have {support.shape[1]} features but "
            f"query_embeddings have {query.shape[1]}."
        )
    q_codes, s_codes = _encode(q_labels, s_labels)
    correct = 0
    for chunk, _, idx in _iter_knn(
        query,
        support,
        np.arange(query.shape[0]),
        1,
        metric=metric,
        self_index=None,
        backend="brute",
        chunk_size=None,
    ):
        correct += int((s_codes[idx[:, 0]] == q_codes[chunk]).sum())
    return correct / query.shape[0]


# --------------------------------------------------------------------------
# Verification
# --------------------------------------------------------------------------


def _check_pair_targets(y_true_same, scores):
    y = _check_labels(y_true_same, len(np.asarray(y_true_same)), "y_true_same")
    s = check_array(np.asarray(scores, dtype=np.float64), ensure_2d=False)
    if s.ndim != 1 or s.shape[0] != y.shape[0]:
        raise ValueError(
            f"scores must be 1-dimensional with {y.shape[0]} entries, got shape "
            f"{s.shape}."
        )
    values = set(np.unique(y).tolist())
    if not values <= {0, 1}:
        raise ValueError(
            "y_true_same must be binary (1 or True for same, 0 or False for "
            f"different), got values {sorted(values)}."
        )
    if len(values) < 2:
        raise ValueError("y_true_same must contain both same and different pairs.")
    return y.astype(bool), s


def equal_error_rate(y_true_same, scores):
    """Equal error rate of a verification score and the threshold reaching it.

    The EER is where the false acceptance rate (different pairs scored at or
    above the threshold) equals the false rejection rate (same pairs scored
    below it), linearly interpolated between the two ROC points that bracket
    the crossing.

    Parameters
    ----------
    y_true_same : array-like of shape (n_pairs,)
        1 (or True) for pairs of the same class, 0 (or False) otherwise.
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
    y, s = _check_pair_targets(y_true_same, scores)
    fpr, tpr, thresholds = roc_curve(y, s, drop_intermediate=False)
    gap = (1.0 - tpr) - fpr
    i = int(np.argmax(gap <= 0))
    if i == 0:
        return float(fpr[0]), float(thresholds[0])
    t = gap[i - 1] / (gap[i - 1] - gap[i])
    eer = fpr[i - 1] + t * (fpr[i] - fpr[i - 1])
    return float(eer), float(thresholds[i])


def equal_error_rate_score(y_true_same, scores):
    """Equal error rate alone (lower is better).

    Parameters
    ----------
    y_true_same : array-like of shape (n_pairs,)
        1 (or True) for pairs of the same class, 0 (or False) otherwise.
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
    return equal_error_rate(y_true_same, scores)[0]


#: Scorer for pair classifiers: ``-EER`` of ``decision_function`` (or of the
#: positive-class ``predict_proba``), so that greater is better as
#: scikit-learn's model selection expects.
neg_equal_error_rate_scorer = make_scorer(
    equal_error_rate_score,
    greater_is_better=False,
    response_method=("decision_function", "predict_proba"),
)
