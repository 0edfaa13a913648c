"""Nearest-neighbour search over a gallery of embeddings.

An *index* holds a gallery of embeddings and answers, for each query, which
gallery rows are nearest. It is built once (``fit``), can grow (``add``) and
is queried many times (``search``):

>>> import numpy as np
>>> from sksiamese.neighbors import ExactIndex
>>> index = ExactIndex().fit([[0.0, 0.0], [1.0, 0.0], [5.0, 5.0]])
>>> distances, indices = index.search([[0.9, 0.0]], 2)
>>> indices.tolist(), distances.round(3).tolist()
([[1, 0]], [[0.1, 0.9]])

:class:`ExactIndex` is exact and needs nothing beyond numpy (torch, when
installed, speeds up its selection step). :class:`FaissIndex` uses faiss
(``pip install faiss-cpu``): a flat index (exact up to float32 rounding),
IVF or HNSW, approximate indexes that answer a million-row gallery in
milliseconds. :func:`make_index` builds either from a name, and
:func:`kneighbors` is a one-call search of a gallery given as an array.

Conventions shared by every index:

* **Storage.** Embeddings are held once, in float32; for the cosine
  distance the rows are scaled to unit length first. Queries are rounded
  the same way, so a query equal to a gallery row is at distance 0 from it.
* **Distances.** Euclidean distances (not squared) or cosine distances
  (``1 - cosine similarity``; an all-zero row is at distance 1 from
  everything), as float64, ascending.
* **Exact ranking.** Exact distances are computed pair by pair in float64
  from the stored rows (from differences, so duplicates are at distance 0)
  and compared after rounding to float32: rows at equal distance to float32
  precision are ranked by gallery position, lower first. :class:`ExactIndex`
  ranks the whole gallery this way; :class:`FaissIndex` with ``rerank=True``
  ranks the candidates that faiss returns.
* **Short galleries.** When the gallery holds fewer than ``n_neighbors``
  rows, the missing slots hold distance ``inf`` and position ``-1``.
"""

import warnings
from numbers import Integral

import numpy as np
from sklearn.base import BaseEstimator, _fit_context, clone
from sklearn.utils import check_random_state
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.validation import check_is_fitted, validate_data

from . import _knn
from ._utils import check_embeddings, check_positive_int, fill_doc

__all__ = [
    "INDEX_NAMES",
    "ExactIndex",
    "FaissIndex",
    "kneighbors",
    "make_index",
    "search_excluding",
]

#: Names accepted by :func:`make_index`: ``"exact"`` (with its aliases
#: ``"auto"`` and ``"brute"``, the names of the retrieval metrics'
#: ``backend`` parameter), ``"faiss"`` (a flat faiss index), ``"ivf"`` and
#: ``"hnsw"``.
INDEX_NAMES = ("auto", "brute", "exact", "faiss", "ivf", "hnsw")
_FLOAT_DTYPES = (np.float32, np.float64)
# Rows converted to float32 at a time by fit and add.
_ROW_BLOCK = 65_536
# IVF: faiss's k-means wants at least this many training rows per list, and
# uses at most _MAX_TRAIN_PER_LIST of them.
_MIN_TRAIN_PER_LIST = 39
_MAX_TRAIN_PER_LIST = 256
# Extra candidates fetched from faiss when they are re-ranked exactly.
_RERANK_EXTRA = 8

_METRIC_DOC = """metric : {"euclidean", "cosine"}, default="euclidean"
        Distance between embeddings. Cosine distance is
        ``1 - cosine similarity``; all-zero rows are at distance 1 from
        everything."""
_INTERFACE_DOC = """Methods ``fit(X)`` (build), ``add(X)`` (append rows) and
    ``search(queries, n_neighbors)`` (distances and positions of the nearest
    rows, see :mod:`sksiamese.neighbors` for the conventions); ``len(index)``
    is the number of rows held."""
_ATTRIBUTES_DOC = """n_features_in_ : int
        Width of the embeddings.
    feature_names_in_ : ndarray of shape (n_features_in_,)
        Names of the features, when ``fit`` was given a DataFrame with
        string column names."""
_doc = fill_doc(
    metric=_METRIC_DOC, interface=_INTERFACE_DOC, attributes=_ATTRIBUTES_DOC
)


def _import_faiss():
    try:
        import faiss
    except ImportError as exc:
        raise ImportError(
            "FaissIndex (and backend='faiss') requires the faiss package; "
            "install it with `pip install faiss-cpu` (or `pip install "
            "sksiamese[faiss]`), or use the exact index."
        ) from exc
    return faiss


class _Index(BaseEstimator):
    """Validation, ``fit``/``add``/``search`` and padding shared by indexes.

    Subclasses implement ``_build(X)`` (empty storage for the width of
    ``X``, trained on ``X`` when the index needs training), ``_append(rows)``
    (rows already in stored float32 form), ``_size()`` and
    ``_search(queries, n_neighbors)``, which returns float64 distances and
    int64 positions for at most ``len(self)`` neighbours.
    """

    def _validate(self, X, reset):
        return validate_data(self, X, reset=reset, dtype=_FLOAT_DTYPES)

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y=None):
        """Build the index on a gallery of embeddings.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Gallery embeddings; row ``i`` is found at position ``i``.
        y : None
            Ignored.

        Returns
        -------
        self : object
            The fitted index.
        """
        X = self._validate(X, reset=True)
        self._build(X)
        self._add_rows(X)
        return self

    def add(self, X):
        """Append rows to the gallery of a fitted index.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features_in_)
            New gallery embeddings, found at positions ``len(self)`` on.

        Returns
        -------
        self : object
            The index.
        """
        check_is_fitted(self)
        self._add_rows(self._validate(X, reset=False))
        return self

    def _add_rows(self, X):
        for start in range(0, X.shape[0], _ROW_BLOCK):
            block = X[start : start + _ROW_BLOCK]
            self._append(_knn.stored_rows(block, self.metric))

    def search(self, queries, n_neighbors):
        """Nearest gallery rows of each query.

        Parameters
        ----------
        queries : array-like of shape (n_queries, n_features_in_)
            Query embeddings.
        n_neighbors : int
            Number of neighbours per query.

        Returns
        -------
        distances : ndarray of float64 of shape (n_queries, n_neighbors)
            Distances to the neighbours, ascending; ``inf`` in slots beyond
            the size of the gallery.
        indices : ndarray of int64 of shape (n_queries, n_neighbors)
            Gallery positions of the neighbours; ``-1`` in slots beyond the
            size of the gallery.
        """
        check_is_fitted(self)
        check_positive_int(n_neighbors, "n_neighbors")
        queries = self._validate(queries, reset=False)
        n_found = min(n_neighbors, self._size())
        distances, indices = self._search(queries, n_found)
        return _knn.pad(distances, indices, n_neighbors)

    def reconstruct(self, positions=None):
        """The stored float32 rows at ``positions`` (all rows by default).

        Rows are stored as given for the Euclidean metric and scaled to unit
        length for the cosine metric.

        Parameters
        ----------
        positions : array-like of int, default=None
            Gallery positions.

        Returns
        -------
        rows : ndarray of float32 of shape (n_positions, n_features_in_)
        """
        check_is_fitted(self)
        if positions is None:
            positions = np.arange(self._size())
        positions = np.asarray(positions, dtype=np.int64)
        if positions.size and (positions.min() < 0 or positions.max() >= len(self)):
            raise ValueError(
                f"positions must lie in [0, {len(self)}), the rows of the index; "
                f"got values from {positions.min()} to {positions.max()}."
            )
        return self._rows(positions)

    def __len__(self):
        return self._size() if hasattr(self, "n_features_in_") else 0


@_doc
class ExactIndex(_Index):
    """Exact nearest-neighbour search, built once and queried many times.

    The gallery is stored once, as float32. For each chunk of queries one
    float32 matrix product gives approximate distances to every row; every
    row that may be among the ``n_neighbors`` nearest despite float32
    rounding (by a worst-case error bound) is then ranked by its exact
    float64 distance, ties going to the lower gallery position. Results do
    not depend on chunking, threads or BLAS.

    {interface}

    Parameters
    ----------
    {metric}
    chunk_size : int, default=None
        Queries compared with the gallery at once. ``None`` keeps the
        float32 distances of one chunk within a third of the size of the
        stored gallery (at least 8 MiB, at most 256 MiB), so that the index
        and its search take about 1.4 times the float32 gallery.

    Attributes
    ----------
    {attributes}

    See Also
    --------
    FaissIndex : Flat, IVF and HNSW indexes of faiss.
    make_index : An index from its name.

    Examples
    --------
    >>> from sksiamese.neighbors import ExactIndex
    >>> index = ExactIndex().fit([[0.0], [1.0], [3.0]])
    >>> distances, indices = index.search([[1.0]], 3)
    >>> indices.tolist(), distances.tolist()
    ([[1, 0, 2]], [[0.0, 1.0, 2.0]])
    >>> len(index.add([[1.0]])), index.search([[1.0]], 2)[1].tolist()
    (4, [[1, 3]])
    """

    _parameter_constraints = {
        "metric": [StrOptions({"euclidean", "cosine"})],
        "chunk_size": [Interval(Integral, 1, None, closed="left"), None],
    }

    def __init__(self, metric="euclidean", chunk_size=None):
        self.metric = metric
        self.chunk_size = chunk_size

    def _build(self, X):
        self._store = _knn.RowStore(X.shape[1], self.metric, X.shape[0])

    def _append(self, rows):
        self._store.append(rows)

    def _size(self):
        return len(self._store)

    def _search(self, queries, n_neighbors):
        return self._store.search(queries, n_neighbors, self.chunk_size)

    def _rows(self, positions):
        return self._store._rows[positions]


@_doc
class FaissIndex(_Index):
    """Nearest-neighbour search with a faiss index: flat, IVF or HNSW.

    faiss is an optional dependency: ``pip install faiss-cpu`` (or the
    ``faiss`` extra of this package). The index is built once in ``fit``
    (IVF trains its coarse quantizer there) and pickles (faiss indexes are
    serialized with ``faiss.serialize_index``).

    {interface}

    Parameters
    ----------
    kind : {"flat", "ivf", "hnsw"}, default="flat"
        ``"flat"``: every row compared with every query (``IndexFlatL2``,
        or inner products of unit rows for the cosine distance), exact up to
        float32 rounding. ``"ivf"``: ``IndexIVFFlat``, the rows split into
        ``nlist`` lists by k-means and ``nprobe`` lists searched per query.
        ``"hnsw"``: ``IndexHNSWFlat``, a navigable small-world graph with
        ``M`` links per row, searched with a beam of ``ef_search``. IVF and
        HNSW are approximate: a true neighbour may be missed.
    {metric}
    nlist : int, default=1024
        Lists of the IVF index. faiss needs 39 training rows per list: with
        fewer rows, ``nlist`` is lowered to what they support, with a
        warning (see ``nlist_``).
    nprobe : int, default=8
        Lists of the IVF index searched per query; more is slower and
        finds more true neighbours. Read at every search, so it can be
        changed with ``set_params`` on a fitted index.
    M : int, default=32
        Links per row of the HNSW graph.
    ef_search : int, default=64
        Beam width of the HNSW search; read at every search.
    rerank : bool, default=True
        Whether faiss is asked for ``n_neighbors + 8`` candidates, which
        are then ranked by their exact float64 distance (ties by gallery
        position) and the nearest ``n_neighbors`` kept, so that the
        distances returned are exact. Which rows are candidates is decided
        by faiss's float32 distances: with more than 8 rows tied (to
        float32 precision) at the cut-off, the flat index may keep other
        tied rows than :class:`ExactIndex`. ``False`` returns faiss's own
        float32 distances and order.
    random_state : int, RandomState instance or None, default=0
        Seed of the IVF training: the sample of at most ``256 * nlist``
        rows it uses and the k-means initialisation.

    Attributes
    ----------
    faiss_index_ : faiss.Index
        The faiss index.
    nlist_ : int
        Lists of the IVF index (``nlist``, or fewer when the gallery was
        too small to train them); only for ``kind="ivf"``.
    {attributes}

    See Also
    --------
    ExactIndex : Exact search without faiss.
    make_index : An index from its name.

    Examples
    --------
    >>> import numpy as np
    >>> from sksiamese.neighbors import FaissIndex
    >>> X = np.random.default_rng(0).normal(size=(2000, 8))
    >>> index = FaissIndex(kind="ivf", nlist=16, nprobe=4).fit(X)
    >>> distances, indices = index.search(X[:3], 1)
    >>> indices.ravel().tolist(), distances.ravel().tolist()
    ([0, 1, 2], [0.0, 0.0, 0.0])
    """

    _parameter_constraints = {
        "kind": [StrOptions({"flat", "ivf", "hnsw"})],
        "metric": [StrOptions({"euclidean", "cosine"})],
        "nlist": [Interval(Integral, 1, None, closed="left")],
        "nprobe": [Interval(Integral, 1, None, closed="left")],
        "M": [Interval(Integral, 2, None, closed="left")],
        "ef_search": [Interval(Integral, 1, None, closed="left")],
        "rerank": ["boolean"],
        "random_state": ["random_state"],
    }

    def __init__(
        self,
        kind="flat",
        metric="euclidean",
        nlist=1024,
        nprobe=8,
        M=32,
        ef_search=64,
        rerank=True,
        random_state=0,
    ):
        self.kind = kind
        self.metric = metric
        self.nlist = nlist
        self.nprobe = nprobe
        self.M = M
        self.ef_search = ef_search
        self.rerank = rerank
        self.random_state = random_state

    def _faiss_metric(self, faiss):
        if self.metric == "cosine":
            return faiss.METRIC_INNER_PRODUCT
        return faiss.METRIC_L2

    def _build(self, X):
        faiss = _import_faiss()
        d, metric = X.shape[1], self._faiss_metric(faiss)
        if self.kind == "flat":
            self.faiss_index_ = faiss.IndexFlat(d, metric)
        elif self.kind == "hnsw":
            self.faiss_index_ = faiss.IndexHNSWFlat(d, self.M, metric)
        else:
            self.faiss_index_ = self._trained_ivf(faiss, X, metric)

    def _trained_ivf(self, faiss, X, metric):
        """An empty IVF index trained on (a sample of) ``X``."""
        n, d = X.shape
        self.nlist_ = min(self.nlist, max(1, n // _MIN_TRAIN_PER_LIST))
        if self.nlist_ < self.nlist:
            warnings.warn(
                f"nlist={self.nlist} needs at least "
                f"{_MIN_TRAIN_PER_LIST * self.nlist} rows to train; got {n}, "
                f"so nlist is lowered to {self.nlist_}.",
                UserWarning,
                stacklevel=4,
            )
        rng = check_random_state(self.random_state)
        n_train = min(n, _MAX_TRAIN_PER_LIST * self.nlist_)
        sample = np.sort(rng.choice(n, size=n_train, replace=False))
        quantizer = faiss.IndexFlat(d, metric)
        index = faiss.IndexIVFFlat(quantizer, d, self.nlist_, metric)
        index.cp.seed = int(rng.randint(np.iinfo(np.int32).max))
        index.cp.spherical = self.metric == "cosine"
        index.train(_knn.stored_rows(X[sample], self.metric))
        # Positions -> vectors, for the exact re-ranking.
        index.set_direct_map_type(faiss.DirectMap.Array)
        return index

    def _append(self, rows):
        self.faiss_index_.add(rows)

    def _size(self):
        return int(self.faiss_index_.ntotal)

    def _search(self, queries, n_neighbors):
        index = self.faiss_index_
        if self.kind == "ivf":
            index.nprobe = min(self.nprobe, self.nlist_)
        elif self.kind == "hnsw":
            index.hnsw.efSearch = self.ef_search
        q = _knn.stored_rows(queries, self.metric)
        n_found = n_neighbors
        if self.rerank:
            n_found = min(n_neighbors + _RERANK_EXTRA, self._size())
        scores, indices = index.search(q, n_found)
        indices = indices.astype(np.int64)
        if self.rerank:
            return _knn.rerank(q, self._rows, indices, self.metric, n_neighbors)
        if self.metric == "cosine":
            distances = 1.0 - scores.astype(np.float64)
        else:
            distances = np.sqrt(np.maximum(scores.astype(np.float64), 0.0))
        distances[indices < 0] = np.inf
        return distances, indices

    def _rows(self, positions):
        """The stored float32 rows at ``positions`` (an int64 array)."""
        flat = np.ascontiguousarray(positions.ravel())
        rows = self.faiss_index_.reconstruct_batch(flat)
        return rows.reshape(*positions.shape, -1)

    def __getstate__(self):
        state = dict(super().__getstate__())
        if "faiss_index_" in state:
            faiss = _import_faiss()
            state["faiss_index_"] = faiss.serialize_index(state["faiss_index_"])
        return state

    def __setstate__(self, state):
        if "faiss_index_" in state:
            state = dict(state)
            faiss = _import_faiss()
            state["faiss_index_"] = faiss.deserialize_index(state["faiss_index_"])
        super().__setstate__(state)


_NAMED = {
    "auto": (ExactIndex, {}),
    "brute": (ExactIndex, {}),
    "exact": (ExactIndex, {}),
    "faiss": (FaissIndex, {"kind": "flat"}),
    "ivf": (FaissIndex, {"kind": "ivf"}),
    "hnsw": (FaissIndex, {"kind": "hnsw"}),
}


def make_index(index="exact", *, metric=None, **params):
    """An unfitted index from its name, or a fresh copy of an index object.

    Parameters
    ----------
    index : {"exact", "faiss", "ivf", "hnsw", "auto", "brute"} or index \
object, default="exact"
        ``"exact"`` (or ``"auto"``, ``"brute"``): :class:`ExactIndex`.
        ``"faiss"``, ``"ivf"``, ``"hnsw"``: :class:`FaissIndex` of kind
        ``"flat"``, ``"ivf"`` or ``"hnsw"``. An object with ``fit`` and
        ``search`` is copied unfitted (:func:`sklearn.base.clone`), so that
        the object passed in is never modified.
    metric : {"euclidean", "cosine"}, default=None
        Distance of the index. ``None``: ``"euclidean"`` for a name, the
        object's own for an object.
    **params
        Further parameters of the index, e.g. ``nlist=256`` for ``"ivf"``.

    Returns
    -------
    index : ExactIndex, FaissIndex or the type of the object given
        Unfitted.

    Examples
    --------
    >>> from sksiamese.neighbors import make_index
    >>> make_index("ivf", metric="cosine", nprobe=16)
    FaissIndex(kind='ivf', metric='cosine', nprobe=16)
    """
    if metric is not None:
        params["metric"] = metric
    if isinstance(index, str):
        if index not in _NAMED:
            raise ValueError(
                f"index must be one of {INDEX_NAMES} or an index object; got {index!r}."
            )
        cls, preset = _NAMED[index]
        unknown = sorted(set(params) - set(cls._get_param_names()))
        if unknown:
            raise ValueError(
                f"{cls.__name__} has no parameter(s) {unknown}; its parameters "
                f"are {cls._get_param_names()}."
            )
        return cls(**{**preset, **params})
    if not (hasattr(index, "fit") and hasattr(index, "search")):
        raise ValueError(
            f"index must be one of {INDEX_NAMES} or an object with fit and "
            f"search methods; got {index!r}."
        )
    fresh = clone(index, safe=False)
    return fresh.set_params(**params) if params else fresh


def search_excluding(index, queries, n_neighbors, exclude):
    """Search a fitted index, leaving one gallery row out for each query.

    Used for leave-one-out searches, where the queries are themselves
    gallery rows: query ``i`` never gets gallery row ``exclude[i]`` among
    its neighbours. The index is asked for one neighbour more and the
    excluded row (or, when it was not found, the last neighbour) is
    dropped.

    Parameters
    ----------
    index : fitted index
        Any object with ``search(queries, n_neighbors)``.
    queries : array-like of shape (n_queries, n_features)
        Query embeddings.
    n_neighbors : int
        Number of neighbours per query.
    exclude : array-like of int of shape (n_queries,)
        Gallery position to leave out for each query.

    Returns
    -------
    distances, indices : ndarray of shape (n_queries, n_neighbors)
        As returned by the index's ``search``.

    Examples
    --------
    >>> from sksiamese.neighbors import ExactIndex, search_excluding
    >>> X = [[0.0], [1.0], [3.0]]
    >>> index = ExactIndex().fit(X)
    >>> search_excluding(index, X, 1, [0, 1, 2])[1].ravel().tolist()
    [1, 0, 1]
    """
    check_positive_int(n_neighbors, "n_neighbors")
    exclude = np.asarray(exclude).reshape(-1, 1)
    distances, indices = index.search(queries, n_neighbors + 1)
    if exclude.shape[0] != indices.shape[0]:
        raise ValueError(
            f"exclude must hold one position per query ({indices.shape[0]}); "
            f"got {exclude.shape[0]}."
        )
    drop = indices == exclude
    drop[~drop.any(axis=1), -1] = True
    keep = ~drop
    shape = (indices.shape[0], n_neighbors)
    return distances[keep].reshape(shape), indices[keep].reshape(shape)


@_doc
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

    The gallery is indexed once (see :func:`make_index`) and searched in
    chunks of queries. When ``gallery_embeddings`` is None the queries are
    the gallery and each query's own entry is excluded. Ties are ranked by
    gallery index.

    Parameters
    ----------
    query_embeddings : array-like of shape (n_queries, n_features)
        Embeddings of the queries.
    gallery_embeddings : array-like of shape (n_gallery, n_features), \
default=None
        Embeddings to search; ``None`` searches the queries themselves,
        leave-one-out.
    n_neighbors : int, default=5
        Number of neighbours per query; at most the gallery items available
        to each query.
    {metric}
    backend : {"auto", "brute", "exact", "faiss", "ivf", "hnsw"} or index \
object, default="auto"
        Index searched, as named by :func:`make_index`: ``"auto"``,
        ``"brute"`` and ``"exact"`` are :class:`ExactIndex`, ``"faiss"`` a
        flat :class:`FaissIndex` re-ranked exactly.
    chunk_size : int, default=None
        Queries searched at once; ``None`` searches them all in one call,
        which the index splits to bound its memory.

    Returns
    -------
    distances : ndarray of shape (n_queries, n_neighbors)
        Distances to the neighbours, ascending.
    indices : ndarray of shape (n_queries, n_neighbors)
        Gallery row of each neighbour.

    Examples
    --------
    >>> from sksiamese.neighbors import kneighbors
    >>> X = [[0.0], [1.0], [3.0]]
    >>> distances, indices = kneighbors(X, n_neighbors=1)
    >>> indices.ravel().tolist(), distances.ravel().tolist()
    ([1, 0, 1], [1.0, 1.0, 2.0])
    """
    query = check_embeddings(query_embeddings, "query_embeddings")
    leave_one_out = gallery_embeddings is None
    gallery = query
    if not leave_one_out:
        gallery = check_embeddings(gallery_embeddings, "gallery_embeddings")
        if gallery.shape[1] != query.shape[1]:
            raise ValueError(
                f"query_embeddings have {query.shape[1]} features but "
                f"gallery_embeddings have {gallery.shape[1]}."
            )
    check_positive_int(n_neighbors, "n_neighbors")
    check_positive_int(chunk_size, "chunk_size", allow_none=True)
    available = gallery.shape[0] - leave_one_out
    if n_neighbors > available:
        raise ValueError(
            f"n_neighbors={n_neighbors} is larger than the {available} gallery "
            "items available to each query."
        )
    if isinstance(backend, str) and backend not in INDEX_NAMES:
        raise ValueError(f"backend must be one of {INDEX_NAMES}, got {backend!r}.")
    index = make_index(backend, metric=metric).fit(gallery)
    distances = np.empty((query.shape[0], n_neighbors))
    indices = np.empty((query.shape[0], n_neighbors), dtype=np.int64)
    step = chunk_size or max(1, query.shape[0])
    for start in range(0, query.shape[0], step):
        rows = np.arange(start, min(start + step, query.shape[0]))
        if leave_one_out:
            found = search_excluding(index, query[rows], n_neighbors, rows)
        else:
            found = index.search(query[rows], n_neighbors)
        distances[rows], indices[rows] = found
    return distances, indices
