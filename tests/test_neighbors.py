"""Tests of the nearest-neighbour indexes of sksiamese.neighbors."""

import importlib.util
import pickle
import sys
import warnings

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.exceptions import NotFittedError
from sklearn.utils.estimator_checks import parametrize_with_checks

from sksiamese import _knn
from sksiamese.metrics import retrieval_report
from sksiamese.neighbors import (
    INDEX_NAMES,
    ExactIndex,
    FaissIndex,
    kneighbors,
    make_index,
    search_excluding,
)


def _unit(A):
    return A / np.maximum(np.linalg.norm(A, axis=1, keepdims=True), 1e-300)


def reference(Q, G, k, metric="euclidean", exclude=None):
    """Brute force in numpy: the rows rounded to float32 as an index stores
    them, exact float64 distances, ranked by their float32 rounding and then
    by position; missing slots are inf / -1."""
    Q = np.asarray(Q, dtype=np.float64)
    G = np.asarray(G, dtype=np.float64)
    if metric == "cosine":
        Q = _unit(_unit(Q).astype(np.float32).astype(np.float64))
        G = _unit(_unit(G).astype(np.float32).astype(np.float64))
        exact = np.clip(1.0 - (Q[:, None, :] * G[None, :, :]).sum(-1), 0.0, 2.0)
    else:
        Q = Q.astype(np.float32).astype(np.float64)
        G = G.astype(np.float32).astype(np.float64)
        exact = ((Q[:, None, :] - G[None, :, :]) ** 2).sum(-1)
    key = exact.astype(np.float32)
    if exclude is not None:
        key[np.arange(len(Q)), exclude] = np.inf
    position = np.broadcast_to(np.arange(len(G)), key.shape)
    order = np.lexsort((position, key), axis=1)[:, :k]
    indices = order.astype(np.int64)
    distances = np.take_along_axis(exact, order, 1)
    if metric == "euclidean":
        distances = np.sqrt(distances)
    found = np.take_along_axis(key, order, 1) < np.inf
    distances[~found], indices[~found] = np.inf, -1
    if k > indices.shape[1]:
        missing = k - indices.shape[1]
        distances = np.hstack([distances, np.full((len(Q), missing), np.inf)])
        indices = np.hstack([indices, np.full((len(Q), missing), -1)])
    return distances, indices


def grid_data(n=150, seed=0):
    """Integer points on a 4 x 4 grid: duplicates and exact ties."""
    return np.random.default_rng(seed).integers(0, 4, size=(n, 2)).astype(np.float64)


def clustered(n, d, n_clusters, spread, seed=0):
    """Gaussian clusters around standard normal centres, float32."""
    rng = np.random.default_rng(seed)
    centers = rng.standard_normal((n_clusters, d), dtype=np.float32)
    labels = rng.integers(0, n_clusters, size=n)
    X = rng.standard_normal((n, d), dtype=np.float32) * np.float32(spread)
    return X + centers[labels]


def recall(found, exact):
    """Mean fraction of each row of ``exact`` found in the same row of
    ``found``."""
    k = exact.shape[1]
    return np.mean(
        [len(set(a) & set(b)) / k for a, b in zip(found, exact, strict=True)]
    )


def assert_same_search(got, expected, atol=0.0):
    np.testing.assert_array_equal(got[1], expected[1])
    np.testing.assert_allclose(got[0], expected[0], rtol=0, atol=atol)


# ---------------------------------------------------------------- estimators

_HAS_FAISS = importlib.util.find_spec("faiss") is not None


@parametrize_with_checks([ExactIndex()] + [FaissIndex()] * _HAS_FAISS)
def test_sklearn_estimator_checks(estimator, check):
    check(estimator)


# ---------------------------------------------------------------- exact index


def test_known_answers_ties_duplicates_and_short_gallery():
    G = [[0.0], [3.0], [1.0], [-1.0], [1.0]]
    distances, indices = ExactIndex().fit(G).search([[0.0], [1.0]], 7)
    # Query 0: itself, then 1 and -1 and the duplicate 1 (all at distance 1,
    # by position), then 3. Query 1: both copies of 1, then 0, then ...
    np.testing.assert_array_equal(
        indices, [[0, 2, 3, 4, 1, -1, -1], [2, 4, 0, 1, 3, -1, -1]]
    )
    np.testing.assert_array_equal(
        distances,
        [[0, 1, 1, 1, 3, np.inf, np.inf], [0, 0, 1, 2, 2, np.inf, np.inf]],
    )
    assert distances.dtype == np.float64 and indices.dtype == np.int64


@pytest.mark.parametrize("metric", ["euclidean", "cosine"])
@pytest.mark.parametrize("chunk_size", [1, 7, None])
def test_exact_index_matches_reference(metric, chunk_size):
    rng = np.random.default_rng(0)
    G = np.vstack([grid_data(), rng.normal(size=(60, 2))])
    Q = np.vstack([G[:20], rng.normal(size=(10, 2)), [[0.0, 0.0]]])
    index = ExactIndex(metric=metric, chunk_size=chunk_size).fit(G)
    for k in (1, 5, 40):
        assert_same_search(index.search(Q, k), reference(Q, G, k, metric), 1e-12)


def test_cosine_known_answers():
    X = np.array([[1.0, 0.0], [0.0, 2.0], [3.0, 3.0], [0.0, 0.0], [-4.0, 0.0]])
    distances, indices = ExactIndex(metric="cosine").fit(X).search(X[:4], 5)
    np.testing.assert_array_equal(indices[0], [0, 2, 1, 3, 4])
    np.testing.assert_allclose(
        distances[0], [0, 1 - np.sqrt(0.5), 1, 1, 2], rtol=0, atol=1e-7
    )
    # An all-zero row is at distance 1 from everything, ties by position.
    np.testing.assert_array_equal(indices[3], [0, 1, 2, 3, 4])
    np.testing.assert_array_equal(distances[3], np.ones(5))


def test_rankings_are_exact_despite_float32_cancellation():
    """Rows 1e-3 from the query and outliers 1e3 away: float32 products are
    noise at the scale of the near rows, and the error bound must widen the
    candidates enough for the exact stage to find the true order."""
    rng = np.random.default_rng(0)
    directions = rng.normal(size=(190, 16))
    directions /= np.linalg.norm(directions, axis=1, keepdims=True)
    near = directions * 1e-3 * np.sqrt(1 + 1e-3 * rng.permutation(190))[:, None]
    G = np.vstack([near, 1e3 * rng.normal(size=(10, 16)), near[:5]])
    Q = np.vstack([np.zeros((1, 16)), near[:2] * 0.5])
    for chunk_size in (1, None):
        index = ExactIndex(chunk_size=chunk_size).fit(G)
        assert_same_search(index.search(Q, 60), reference(Q, G, 60), 1e-15)


def test_numpy_selection_equals_torch_selection(monkeypatch):
    pytest.importorskip("torch")
    rng = np.random.default_rng(3)
    G, Q = np.vstack([grid_data(), rng.normal(size=(80, 2))]), grid_data(30, 1)
    with_torch = ExactIndex().fit(G).search(Q, 12)
    monkeypatch.setattr(_knn, "_torch", lambda: None)
    without = ExactIndex().fit(G).search(Q, 12)
    assert_same_search(without, with_torch)
    assert_same_search(without, reference(Q, G, 12), 1e-12)


def test_add_after_fit_equals_fit_on_everything():
    rng = np.random.default_rng(1)
    G, Q = rng.normal(size=(300, 5)), rng.normal(size=(20, 5))
    index = ExactIndex().fit(G[:10])
    for start, stop in [(10, 11), (11, 100), (100, 300)]:
        assert index.add(G[start:stop]) is index
    assert len(index) == 300
    assert_same_search(index.search(Q, 9), ExactIndex().fit(G).search(Q, 9))
    assert_same_search(index.search(Q, 9), reference(Q, G, 9), 1e-12)


def test_fit_resets_the_gallery():
    index = ExactIndex().fit([[0.0], [1.0]]).add([[2.0]])
    index.fit([[5.0]])
    assert len(index) == 1
    np.testing.assert_array_equal(index.search([[0.0]], 2)[1], [[0, -1]])


@pytest.mark.parametrize("metric", ["euclidean", "cosine"])
def test_pickle_round_trip(metric):
    rng = np.random.default_rng(2)
    G, Q = rng.normal(size=(50, 4)), rng.normal(size=(6, 4))
    index = ExactIndex(metric=metric).fit(G[:20]).add(G[20:])
    restored = pickle.loads(pickle.dumps(index))
    assert_same_search(restored.search(Q, 5), index.search(Q, 5))
    restored.add(Q)
    assert len(restored) == 56 and len(index) == 50
    np.testing.assert_array_equal(restored.search(Q, 1)[1].ravel(), np.arange(50, 56))


def test_estimator_parameters_and_clone():
    index = ExactIndex(metric="cosine", chunk_size=3)
    assert index.get_params() == {"metric": "cosine", "chunk_size": 3}
    fitted = index.fit([[1.0, 0.0], [0.0, 1.0]])
    copy = clone(fitted)
    assert copy.get_params() == fitted.get_params()
    assert len(copy) == 0 and not hasattr(copy, "n_features_in_")
    with pytest.raises(NotFittedError):
        copy.search([[1.0, 0.0]], 1)
    assert fitted.n_features_in_ == 2 and len(fitted) == 2
    assert fitted.set_params(metric="euclidean").metric == "euclidean"


@pytest.mark.parametrize(
    ("call", "error", "match"),
    [
        (lambda i: i.search([[0.0, 1.0, 2.0]], 1), ValueError, "3 features"),
        (lambda i: i.add([[0.0]]), ValueError, "1 features"),
        (lambda i: i.search([[np.nan, 0.0]], 1), ValueError, "NaN"),
        (lambda i: i.add([[np.inf, 0.0]]), ValueError, "infinity"),
        (lambda i: i.search([[0.0, 0.0]], 0), ValueError, "positive integer"),
        (lambda i: i.search([[0.0, 0.0]], 1.5), ValueError, "positive integer"),
        (lambda i: i.fit([[np.nan, 1.0]]), ValueError, "NaN"),
        (lambda i: i.fit(np.zeros((0, 2))), ValueError, "0 sample"),
        (lambda i: i.set_params(metric="l1").fit([[0.0]]), ValueError, "metric"),
        (lambda i: i.set_params(chunk_size=0).fit([[0.0]]), ValueError, "chunk_size"),
    ],
)
def test_invalid_input(call, error, match):
    index = ExactIndex().fit([[0.0, 0.0], [1.0, 1.0]])
    with pytest.raises(error, match=match):
        call(index)


def test_unfitted_index_refuses_search_and_add():
    for index in (ExactIndex(), FaissIndex()):
        with pytest.raises(NotFittedError):
            index.search([[0.0]], 1)
        with pytest.raises(NotFittedError):
            index.add([[0.0]])
        assert len(index) == 0


# ---------------------------------------------------------------- helpers


def test_search_excluding_is_leave_one_out():
    X = grid_data(80, 2)
    index = ExactIndex().fit(X)
    rows = np.arange(len(X))
    got = search_excluding(index, X, 6, rows)
    assert_same_search(got, reference(X, X, 6, exclude=rows), 1e-12)
    assert not np.any(got[1] == rows[:, None])
    with pytest.raises(ValueError, match="one position per query"):
        search_excluding(index, X, 2, rows[:3])


def test_kneighbors_leave_one_out_and_gallery():
    rng = np.random.default_rng(4)
    X, Q = rng.normal(size=(40, 3)), rng.normal(size=(7, 3))
    for chunk_size in (2, None):
        assert_same_search(
            kneighbors(X, n_neighbors=4, chunk_size=chunk_size),
            reference(X, X, 4, exclude=np.arange(40)),
            1e-12,
        )
        assert_same_search(
            kneighbors(Q, X, n_neighbors=4, metric="cosine", chunk_size=chunk_size),
            reference(Q, X, 4, "cosine"),
            1e-12,
        )
    with pytest.raises(ValueError, match="larger than the 39"):
        kneighbors(X, n_neighbors=40)
    with pytest.raises(ValueError, match="backend must be one of"):
        kneighbors(X, backend="annoy")


def test_make_index():
    assert make_index().get_params() == ExactIndex().get_params()
    for name in ("auto", "brute", "exact"):
        assert type(make_index(name)) is ExactIndex
    assert make_index("faiss").kind == "flat"
    ivf = make_index("ivf", metric="cosine", nlist=64)
    assert (ivf.kind, ivf.metric, ivf.nlist) == ("ivf", "cosine", 64)
    assert make_index("hnsw", M=8).get_params()["M"] == 8
    assert set(INDEX_NAMES) == {"auto", "brute", "exact", "faiss", "ivf", "hnsw"}
    with pytest.raises(ValueError, match="index must be one of"):
        make_index("annoy")
    with pytest.raises(ValueError, match="no parameter"):
        make_index("exact", nlist=3)
    with pytest.raises(ValueError, match="fit and search"):
        make_index(object())


def test_make_index_copies_an_object_unfitted():
    fitted = ExactIndex(chunk_size=4).fit([[0.0], [1.0]])
    fresh = make_index(fitted, metric="cosine")
    assert fresh is not fitted and len(fresh) == 0
    assert fresh.get_params() == {"metric": "cosine", "chunk_size": 4}
    assert fitted.metric == "euclidean" and len(fitted) == 2
    assert make_index(fitted).metric == "euclidean"


def test_read_only_memmap_gives_no_warning(tmp_path):
    rng = np.random.default_rng(5)
    path = tmp_path / "gallery.npy"
    np.save(path, rng.normal(size=(300, 8)).astype(np.float32))
    gallery = np.load(path, mmap_mode="r")
    assert not gallery.flags.writeable
    labels = np.arange(300) % 7
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        found = ExactIndex().fit(gallery).search(gallery[:5], 3)
        loo = kneighbors(gallery, n_neighbors=3)
        report = retrieval_report(gallery, labels, k=3)
    np.testing.assert_array_equal(found[1][:, 0], np.arange(5))
    assert_same_search(loo, reference(gallery, gallery, 3, exclude=np.arange(300)))
    assert report == retrieval_report(np.array(gallery), labels, k=3)


# ---------------------------------------------------------------- faiss


def test_missing_faiss_gives_the_install_command(monkeypatch):
    monkeypatch.setitem(sys.modules, "faiss", None)
    with pytest.raises(ImportError, match="pip install faiss-cpu"):
        FaissIndex().fit([[0.0]])


@pytest.mark.parametrize("metric", ["euclidean", "cosine"])
def test_faiss_flat_equals_exact(metric):
    pytest.importorskip("faiss")
    rng = np.random.default_rng(6)
    points = rng.normal(size=(100, 16))
    data = [
        (rng.normal(size=(400, 16)), rng.normal(size=(30, 16))),
        # duplicates: exact ties, a few per point
        (np.repeat(points, rng.integers(1, 4, size=100), axis=0), points[:20]),
    ]
    if metric == "euclidean":
        # grid: many exact ties at every distance, which faiss's L2 search
        # (like the exact index) ranks by position
        data.append((grid_data(), grid_data(20, 1)))
    for G, Q in data:
        expected = ExactIndex(metric=metric).fit(G).search(Q, 10)
        assert_same_search(FaissIndex(metric=metric).fit(G).search(Q, 10), expected)
        plain = FaissIndex(metric=metric, rerank=False).fit(G).search(Q, 10)
        np.testing.assert_allclose(plain[0], expected[0], rtol=1e-4, atol=1e-5)


def test_faiss_short_gallery_and_add():
    pytest.importorskip("faiss")
    for rerank in (True, False):
        index = FaissIndex(rerank=rerank).fit([[0.0], [2.0]])
        distances, indices = index.search([[0.5]], 4)
        np.testing.assert_array_equal(indices, [[0, 1, -1, -1]])
        np.testing.assert_allclose(distances, [[0.5, 1.5, np.inf, np.inf]])
        index.add([[0.4], [9.0]])
        assert len(index) == 4
        np.testing.assert_array_equal(index.search([[0.5]], 4)[1], [[2, 0, 1, 3]])


def test_ivf_recall_on_clustered_embeddings():
    pytest.importorskip("faiss")
    X = clustered(50_500, 64, n_clusters=100, spread=0.5)
    G, Q = X[:50_000], X[50_000:]
    _, exact = ExactIndex().fit(G).search(Q, 10)
    index = FaissIndex(kind="ivf", nlist=1024, nprobe=8).fit(G)
    assert index.nlist_ == 1024
    distances, found = index.search(Q, 10)
    assert recall(found, exact) >= 0.95
    # Re-ranked: exact distances of the rows returned, ascending.
    np.testing.assert_allclose(
        distances, np.linalg.norm(Q[:, None, :] - G[found], axis=2), rtol=1e-6
    )
    assert np.all(np.diff(distances, axis=1) >= 0)
    # More lists searched, more true neighbours found.
    index.set_params(nprobe=1)
    assert recall(index.search(Q, 10)[1], exact) < recall(found, exact)


def test_rerank_gives_exact_distances():
    pytest.importorskip("faiss")
    X = clustered(4_100, 32, n_clusters=20, spread=0.5, seed=1)
    G, Q = X[:4_000], X[4_000:]
    expected = reference(Q, G, 10)
    for kind in ("ivf", "hnsw"):
        params = {"kind": kind, "nlist": 64, "nprobe": 64, "ef_search": 200}
        reranked = FaissIndex(**params).fit(G).search(Q, 10)
        plain = FaissIndex(**params, rerank=False).fit(G).search(Q, 10)
        # Every list searched / a wide beam: the true neighbours are found,
        # and re-ranked they come in the exact order with exact distances.
        assert_same_search(reranked, expected, 1e-12)
        assert recall(plain[1], expected[1]) == 1.0
        assert not np.array_equal(plain[0], expected[0])  # float32 distances
        np.testing.assert_allclose(plain[0], expected[0], rtol=1e-4, atol=1e-4)


def test_hnsw_recall():
    pytest.importorskip("faiss")
    X = clustered(5_200, 32, n_clusters=50, spread=0.5, seed=2)
    G, Q = X[:5_000], X[5_000:]
    _, exact = ExactIndex().fit(G).search(Q, 10)
    index = FaissIndex(kind="hnsw", M=16, ef_search=64).fit(G)
    assert recall(index.search(Q, 10)[1], exact) >= 0.95
    narrow = recall(index.set_params(ef_search=1, rerank=False).search(Q, 10)[1], exact)
    assert narrow < 0.95


def test_ivf_lowers_nlist_for_small_galleries():
    pytest.importorskip("faiss")
    X = clustered(400, 8, n_clusters=5, spread=0.5)
    with pytest.warns(UserWarning, match="nlist is lowered to 10"):
        index = FaissIndex(kind="ivf", nlist=64, nprobe=64).fit(X)
    assert index.nlist_ == 10 and index.nlist == 64
    assert_same_search(index.search(X[:20], 5), reference(X[:20], X, 5), 1e-12)


@pytest.mark.parametrize("kind", ["flat", "ivf", "hnsw"])
def test_faiss_pickle_round_trip_and_clone(kind):
    pytest.importorskip("faiss")
    X = clustered(3_000, 16, n_clusters=10, spread=0.5, seed=3)
    index = FaissIndex(kind=kind, metric="cosine", nlist=32).fit(X[:2_000])
    restored = pickle.loads(pickle.dumps(index))
    assert_same_search(restored.search(X[:50], 5), index.search(X[:50], 5))
    restored.add(X[2_000:])
    assert len(restored) == 3_000 and len(index) == 2_000
    np.testing.assert_array_equal(
        restored.search(X[2_500:2_510], 1)[1].ravel(), np.arange(2_500, 2_510)
    )
    fresh = clone(index)
    assert fresh.get_params() == index.get_params() and len(fresh) == 0
