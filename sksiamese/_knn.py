"""Numerical kernels of the nearest-neighbour indexes.

:class:`RowStore` holds the float32 rows of an exact index and searches
them: a float32 matrix product selects candidates, widened by a rigorous
bound on its rounding error, and the candidates are ranked by exact float64
distances. The helpers below convert rows to their stored form, compute
exact distances and rank candidates; faiss's candidates are re-ranked with
the same ones, so every exact ranking of the package agrees.

torch is used for the selection step when it can be imported (its top-k is
several times faster than numpy's partition); numpy alone gives the same
results.
"""

import functools

import numpy as np

from ._utils import unit_rows

# Float32 distances of one chunk of queries when chunk_size is None: a third
# of the stored gallery, within these bounds.
_CHUNK_BYTES_MAX = 256 * 2**20
_CHUNK_BYTES_MIN = 8 * 2**20
# Float64 elements gathered at once for the exact distances.
_GATHER_ELEMENTS = 2**19


@functools.cache
def _torch():
    """torch, or None where it cannot be imported."""
    try:
        import torch
    except ImportError:
        return None
    return torch


def stored_rows(X, metric):
    """Rows as an index stores them: a new C-contiguous float32 array, each
    row scaled to unit length for the cosine distance."""
    if metric == "cosine":
        X = unit_rows(np.asarray(X, dtype=np.float64))
    return np.array(X, dtype=np.float32, order="C")


def exact_rows(rows, metric):
    """Stored float32 rows widened to float64, unit length again for the
    cosine distance: the vectors exact distances are computed from."""
    rows = np.asarray(rows, dtype=np.float64)
    return unit_rows(rows) if metric == "cosine" else rows


def exact_distances(queries, rows_of, positions, metric):
    """Exact distance from each query to the stored rows at ``positions``.

    Parameters
    ----------
    queries : ndarray of float64 of shape (n_queries, n_features)
        Queries as given by :func:`exact_rows`.
    rows_of : callable
        Maps an int64 array of positions to the stored float32 rows at
        those positions (one more axis, of length n_features).
    positions : ndarray of int64 of shape (n_queries, n_candidates)
        Valid gallery positions.
    metric : {"euclidean", "cosine"}

    Returns
    -------
    distances : ndarray of float64 of shape (n_queries, n_candidates)
        Squared Euclidean distances, computed from differences so that a
        duplicate is at distance exactly 0, or cosine distances. Each value
        depends only on its two vectors, not on the shapes around it.
    """
    n_queries, n_candidates = positions.shape
    d = queries.shape[1]
    out = np.empty(positions.shape, dtype=np.float64)
    step = max(1, _GATHER_ELEMENTS // max(1, n_candidates * d))
    for start in range(0, n_queries, step):
        block = slice(start, start + step)
        rows = exact_rows(rows_of(positions[block]).reshape(-1, d), metric)
        rows = rows.reshape(-1, n_candidates, d)
        q = queries[block, None, :]
        if metric == "cosine":
            out[block] = np.clip(1.0 - np.sum(rows * q, axis=2), 0.0, 2.0)
        else:
            rows -= q
            out[block] = np.sum(rows * rows, axis=2)
    return out


def rank(positions, exact, valid, n_neighbors, metric):
    """Keep the ``n_neighbors`` best candidates of each row, exactly ranked.

    Candidates are ranked by their exact distance rounded to float32, then
    by gallery position; ``valid`` masks out candidates that must not be
    kept. Returns the final ``(distances, positions)``: distances not
    squared, ``inf`` and ``-1`` where fewer valid candidates than
    ``n_neighbors`` remain.
    """
    key = np.where(valid, exact.astype(np.float32), np.float32(np.inf))
    order = np.lexsort((positions, key), axis=1)[:, :n_neighbors]
    positions = np.take_along_axis(positions, order, 1)
    distances = np.take_along_axis(exact, order, 1)
    kept = np.take_along_axis(valid, order, 1)
    if metric == "euclidean":
        distances = np.sqrt(distances)
    distances[~kept] = np.inf
    positions[~kept] = -1
    return distances, positions


def rerank(queries, rows_of, positions, metric, n_neighbors):
    """Rank the candidates of an approximate search by exact distance.

    ``queries`` are stored float32 rows, ``positions`` the candidates
    (``-1`` for none); returns the final ``(distances, positions)``.
    """
    valid = positions >= 0
    exact = exact_distances(
        exact_rows(queries, metric), rows_of, np.where(valid, positions, 0), metric
    )
    return rank(positions, exact, valid, n_neighbors, metric)


def pad(distances, indices, n_neighbors):
    """Widen results to ``n_neighbors`` columns with ``inf`` and ``-1``."""
    missing = n_neighbors - distances.shape[1]
    if missing == 0:
        return distances, indices
    n = distances.shape[0]
    return (
        np.hstack([distances, np.full((n, missing), np.inf)]),
        np.hstack([indices, np.full((n, missing), -1, dtype=np.int64)]),
    )


def smallest(keys, n_top):
    """The ``n_top`` smallest entries of each row, ascending, with their
    columns."""
    torch = _torch()
    if torch is not None:
        values, columns = torch.topk(
            torch.from_numpy(keys), n_top, dim=1, largest=False, sorted=True
        )
        return values.numpy(), columns.numpy()
    if n_top < keys.shape[1]:
        columns = np.argpartition(keys, n_top - 1, axis=1)[:, :n_top]
    else:
        columns = np.broadcast_to(np.arange(keys.shape[1]), keys.shape)
    values = np.take_along_axis(keys, columns, 1)
    order = np.argsort(values, axis=1, kind="stable")
    return np.take_along_axis(values, order, 1), np.take_along_axis(columns, order, 1)


def candidates(keys, n_neighbors, offset, scale, error):
    """Columns that may be among the ``n_neighbors`` nearest, and which of
    them are.

    For row ``i``, ``scale * keys[i] + offset[i]`` approximates the (squared
    Euclidean or cosine) distance within ``error[i]``. Columns past the
    returned limit are farther than the ``n_neighbors``-th nearest by more
    than float32 resolution, whatever the rounding; the top of each row is
    widened until every column within the limit is in it.

    Returns
    -------
    columns : ndarray of int64 of shape (n_rows, n_top)
    valid : ndarray of bool of shape (n_rows, n_top)
        Whether each column is within its row's limit.
    """
    n_columns = keys.shape[1]
    n_top = min(n_neighbors + 8, n_columns)
    values, columns = smallest(keys, n_top)
    kth = scale * values[:, n_neighbors - 1].astype(np.float64) + offset
    slack = 2.0 * error
    limit = kth + slack + 2.0**-20 * (np.abs(kth) + slack)
    limit = np.nextafter(((limit - offset) / scale).astype(np.float32), np.inf)
    while n_top < n_columns and bool((values[:, -1] <= limit).any()):
        n_top = min(2 * n_top, n_columns)
        values, columns = smallest(keys, n_top)
    return columns.astype(np.int64), values <= limit[:, None]


class RowStore:
    """The float32 rows of an exact index, appendable and searched exactly.

    Parameters
    ----------
    n_features : int
        Width of the rows.
    metric : {"euclidean", "cosine"}
        Distance; rows are given in stored form (:func:`stored_rows`).
    capacity : int
        Rows to allocate room for; ``append`` grows the room by doubling.
    """

    def __init__(self, n_features, metric, capacity):
        self.metric = metric
        self._rows = np.empty((capacity, n_features), dtype=np.float32)
        # Euclidean: float32 |g|^2 / 2 of each row, and the largest norm.
        self._half_sq = np.empty(capacity, dtype=np.float32)
        self._max_norm = 1.0 if metric == "cosine" else 0.0
        self._n = 0
        # Worst-case relative error of a float32 dot product of length d,
        # plus the rounding of inputs and sums, with a safety factor of 2.
        self._error_factor = 2.0 * (n_features + 8) * 2.0**-24

    def __len__(self):
        return self._n

    def __getstate__(self):
        state = self.__dict__.copy()
        state["_rows"] = self._rows[: self._n]
        state["_half_sq"] = self._half_sq[: self._n]
        return state

    def append(self, rows):
        """Store float32 rows after the ones already held."""
        end = self._n + rows.shape[0]
        if end > self._rows.shape[0]:
            self._grow(max(end, 2 * self._rows.shape[0]))
        self._rows[self._n : end] = rows
        if self.metric == "euclidean":
            wide = rows.astype(np.float64)
            squared = np.einsum("ij,ij->i", wide, wide)
            self._half_sq[self._n : end] = 0.5 * squared
            peak = float(np.sqrt(squared.max(initial=0.0)))
            self._max_norm = max(self._max_norm, peak)
        self._n = end

    def _grow(self, capacity):
        rows = np.empty((capacity, self._rows.shape[1]), dtype=np.float32)
        rows[: self._n] = self._rows[: self._n]
        half_sq = np.empty(capacity, dtype=np.float32)
        half_sq[: self._n] = self._half_sq[: self._n]
        self._rows, self._half_sq = rows, half_sq

    def chunk_rows(self):
        """Queries per chunk keeping their float32 distances within a third
        of the stored gallery (between 8 and 256 MiB)."""
        stored = self._n * self._rows.shape[1] * 4
        budget = min(_CHUNK_BYTES_MAX, max(_CHUNK_BYTES_MIN, stored // 3))
        return max(1, budget // (4 * self._n))

    def search(self, queries, n_neighbors, chunk_size=None):
        """Exact ``(distances, positions)`` of the ``n_neighbors`` (at most
        ``len(self)``) nearest rows of each query, chunk by chunk."""
        n_queries = queries.shape[0]
        step = min(chunk_size or self.chunk_rows(), n_queries)
        keys = np.empty((step, self._n), dtype=np.float32)
        distances = np.empty((n_queries, n_neighbors), dtype=np.float64)
        positions = np.empty((n_queries, n_neighbors), dtype=np.int64)
        for start in range(0, n_queries, step):
            chunk = slice(start, start + step)
            q = stored_rows(queries[chunk], self.metric)
            distances[chunk], positions[chunk] = self._search_chunk(
                q, n_neighbors, keys[: q.shape[0]]
            )
        return distances, positions

    def _search_chunk(self, q, n_neighbors, keys):
        """Search float32 queries ``q``, using ``keys`` as working memory."""
        gallery = self._rows[: self._n]
        exact_q = exact_rows(q, self.metric)
        # keys = |g|^2 / 2 - q.g: half the squared distance minus |q|^2 / 2,
        # or minus the cosine similarity.
        np.matmul(q, gallery.T, out=keys)
        if self.metric == "cosine":
            np.negative(keys, out=keys)
            offset, scale = np.ones(q.shape[0]), 1.0
        else:
            np.subtract(self._half_sq[: self._n], keys, out=keys)
            offset, scale = np.einsum("ij,ij->i", exact_q, exact_q), 2.0
        q_norm = np.sqrt(offset) if self.metric == "euclidean" else offset
        error = self._error_factor * (q_norm + self._max_norm) ** 2
        columns, valid = candidates(keys, n_neighbors, offset, scale, error)
        exact = exact_distances(exact_q, gallery.__getitem__, columns, self.metric)
        return rank(columns, exact, valid, n_neighbors, self.metric)
