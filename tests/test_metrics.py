"""Tests of the retrieval, one-shot and verification metrics."""

import json
import subprocess
import sys
import warnings
from pathlib import Path

import numpy as np
import pytest
from sklearn.linear_model import LogisticRegression
from sklearn.neighbors import NearestNeighbors

import sksiamese
from sksiamese.metrics import (
    RETRIEVAL_METRICS,
    equal_error_rate,
    equal_error_rate_score,
    hit_rate_at_k,
    kneighbors,
    mean_average_precision_at_r,
    neg_equal_error_rate_scorer,
    one_shot_accuracy,
    precision_at_1,
    precision_at_k,
    r_precision,
    recall_at_k,
    retrieval_report,
)

# Five points on a line; leave-one-out rankings (relevant = same label):
#   q0 (0, a): 1 a, 3 b, 4 a, 10 b   R=2  rel 1 0 1 0
#   q1 (1, a): 0 a, 3 b, 4 a, 10 b   R=2  rel 1 0 1 0
#   q2 (3, b): 4 a, 1 a, 0 a, 10 b   R=1  rel 0 0 0 1
#   q3 (4, a): 3 b, 1 a, 0 a, 10 b   R=2  rel 0 1 1 0
#   q4 (10, b): 4 a, 3 b, 1 a, 0 a   R=1  rel 0 1 0 0
LINE_X = np.array([[0.0], [1.0], [3.0], [4.0], [10.0]])
LINE_Y = np.array(["a", "a", "b", "a", "b"])
LINE_EXPECTED = {
    "precision_at_1": 2 / 5,
    "precision_at_k": 4 / 10,  # k = 2
    "recall_at_k": (1 / 2 + 1 / 2 + 0 + 1 / 2 + 1) / 5,
    "hit_rate_at_k": 4 / 5,
    "r_precision": (1 / 2 + 1 / 2 + 0 + 1 / 2 + 0) / 5,
    "map_at_r": (1 / 2 + 1 / 2 + 0 + 1 / 4 + 0) / 5,
}
# Separate gallery:
#   query (1.1, a): 2 b, 0 a, 10 a   R=2  rel 0 1 1
#   query (9, b):   10 a, 2 b, 0 a   R=1  rel 0 1 0
SPLIT = ([[1.1], [9.0]], ["a", "b"], [[0.0], [2.0], [10.0]], ["a", "b", "a"])
SPLIT_EXPECTED = {
    "precision_at_1": 0.0,
    "precision_at_k": 2 / 4,
    "recall_at_k": (1 / 2 + 1) / 2,
    "hit_rate_at_k": 1.0,
    "r_precision": (1 / 2 + 0) / 2,
    "map_at_r": (1 / 4 + 0) / 2,
}
FUNCTIONS = {
    "precision_at_1": precision_at_1,
    "precision_at_k": precision_at_k,
    "recall_at_k": recall_at_k,
    "hit_rate_at_k": hit_rate_at_k,
    "r_precision": r_precision,
    "map_at_r": mean_average_precision_at_r,
}
K_METRICS = {"precision_at_k", "recall_at_k", "hit_rate_at_k"}


def _call(name, *args, **kwargs):
    if name in K_METRICS:
        kwargs.setdefault("k", 2)
    return FUNCTIONS[name](*args, **kwargs)


def grid_data(n=120, n_labels=5, seed=0):
    """Integer points on a 4 x 4 grid: many duplicates and exact ties."""
    rng = np.random.default_rng(seed)
    X = rng.integers(0, 4, size=(n, 2)).astype(np.float32)
    y = rng.integers(0, n_labels, size=n)
    return X, y


def duplicated_data(seed=24):
    """Random points, most repeated with the same label.

    Exact ties occur only between copies of one point (same label); labels
    98 and 99 have a single sample. The seed is one for which
    ``test_duplicated_data_ties_only_within_labels`` holds.
    """
    rng = np.random.default_rng(seed)
    points = rng.normal(size=(30, 8)).astype(np.float32)
    labels = rng.integers(0, 6, size=30)
    repeats = rng.integers(1, 4, size=30)
    labels[:2], repeats[:2] = [98, 99], 1
    X = np.repeat(points, repeats, axis=0)
    y = np.repeat(labels, repeats)
    order = rng.permutation(len(X))
    return X[order], y[order]


@pytest.mark.parametrize("metric", ["euclidean", "cosine"])
def test_duplicated_data_ties_only_within_labels(metric):
    """Distances are equal only within a label, and otherwise far from equal.

    Consecutive distances from a query to items of different labels differ
    by more than 1e-4, 100 times the float32 error of pytorch-metric-learning's
    distances, so rounding cannot reorder items of different labels.
    """
    X, y = duplicated_data()
    X = X.astype(np.float64)
    if metric == "cosine":
        X = X / np.linalg.norm(X, axis=1, keepdims=True)
    d = np.sqrt(((X[:, None, :] - X[None, :, :]) ** 2).sum(-1))
    for i in range(len(X)):
        order = np.argsort(d[i], kind="stable")
        gaps = np.diff(d[i][order])
        different = y[order][1:] != y[order][:-1]
        assert np.all(gaps[different] > 1e-4)
    assert len(np.unique(X, axis=0)) < len(X) - 20  # many duplicates
    assert {98, 99} <= set(y.tolist())


# ---------------------------------------------------------------- known answers


@pytest.mark.parametrize("name", RETRIEVAL_METRICS)
def test_known_answer_leave_one_out(name):
    assert _call(name, LINE_X, LINE_Y) == pytest.approx(LINE_EXPECTED[name])


@pytest.mark.parametrize("name", RETRIEVAL_METRICS)
def test_known_answer_separate_gallery(name):
    assert _call(name, *SPLIT) == pytest.approx(SPLIT_EXPECTED[name])


def test_report_matches_functions():
    assert retrieval_report(LINE_X, LINE_Y, k=2) == pytest.approx(LINE_EXPECTED)
    assert retrieval_report(*SPLIT, k=2) == pytest.approx(SPLIT_EXPECTED)
    assert set(retrieval_report(LINE_X, LINE_Y, k=3)) == set(RETRIEVAL_METRICS)


def test_gallery_includes_query_equals_leave_one_out():
    extra_X, extra_y = [[2.9], [6.0]], ["b", "a"]
    gallery = np.vstack([LINE_X, extra_X])
    labels = np.concatenate([LINE_Y, extra_y])
    got = retrieval_report(LINE_X, LINE_Y, gallery, labels, gallery_includes_query=True)
    # Same as leave-one-out over the whole gallery, restricted to the queries.
    full = retrieval_report(gallery[:5], labels[:5], gallery, labels, k=2)
    assert got != full  # without the flag each query retrieves itself first
    assert full["precision_at_1"] == 1.0
    # q2 (3, b) now finds gallery item 2.9 (b) first.
    assert got["precision_at_1"] == pytest.approx(3 / 5)


def test_cosine_differs_from_euclidean():
    X = [[1.0, 0.0], [10.0, 1.0], [0.0, 1.0], [1.0, 10.0]]
    y = ["a", "b", "a", "b"]
    assert precision_at_1(X, y) == 0.5
    assert precision_at_1(X, y, metric="cosine") == 0.0
    # Cosine ignores the scale of each embedding.
    scaled = np.array(X) * np.array([[3.0], [0.1], [7.0], [2.0]])
    assert mean_average_precision_at_r(scaled, y, metric="cosine") == 0.0


def test_queries_without_relevant_items_are_left_out():
    X, y = [[0.0], [1.0], [5.0]], ["a", "a", "c"]
    assert precision_at_1(X, y) == 1.0
    assert recall_at_k(X, y, k=2) == 1.0
    with pytest.warns(UserWarning, match="No query has a relevant"):
        score = precision_at_1([[0.0], [1.0]], ["a", "b"])
    assert np.isnan(score)


def test_ties_are_ranked_by_gallery_index():
    # q0 is at distance 1 from items 1 (b) and 2 (a): item 1 comes first.
    X, y = [[0.0], [1.0], [-1.0], [20.0]], ["a", "b", "a", "b"]
    assert precision_at_1(X, y) == pytest.approx((0 + 0 + 1 + 1) / 4)
    distances, indices = kneighbors(np.zeros((1, 2)), np.zeros((20, 2)), n_neighbors=5)
    np.testing.assert_array_equal(indices, [[0, 1, 2, 3, 4]])
    np.testing.assert_array_equal(distances, np.zeros((1, 5)))
    _, loo = kneighbors(np.zeros((20, 2)), n_neighbors=3, chunk_size=6)
    expected = [[j for j in range(20) if j != i][:3] for i in range(20)]
    np.testing.assert_array_equal(loo, expected)


def test_kneighbors_matches_sklearn():
    rng = np.random.default_rng(0)
    X, Q = rng.normal(size=(50, 4)), rng.normal(size=(7, 4))
    nn = NearestNeighbors(n_neighbors=4, algorithm="brute").fit(X)
    for query in (None, Q):
        distances, indices = kneighbors(
            Q if query is not None else X, query, n_neighbors=4
        )
        ref_d, ref_i = nn.kneighbors(None if query is None else query)
        if query is not None:
            distances, indices = kneighbors(Q, X, n_neighbors=4)
        np.testing.assert_array_equal(indices, ref_i)
        np.testing.assert_allclose(distances, ref_d, rtol=1e-6, atol=1e-6)


def _exact_ranking(Q, G, n_neighbors):
    """Reference: float64 distances rounded to float32, ties by index."""
    d2 = ((Q[:, None, :] - G[None, :, :]) ** 2).sum(-1).astype(np.float32)
    index = np.broadcast_to(np.arange(G.shape[0]), d2.shape)
    return np.lexsort((index, d2), axis=1)[:, :n_neighbors]


def test_rankings_are_exact_despite_float32_cancellation():
    """Neighbours 1e-3 away from the query, outliers 1e3 away.

    The outliers move the gallery mean and in float32 the matrix-product
    distances of the near points are noise. The error bound must widen the
    candidate set so that the exact second stage finds the true order, for
    every chunk size; ties (copies of one point) go to the lower index.
    """
    rng = np.random.default_rng(0)
    directions = rng.normal(size=(190, 16))
    directions /= np.linalg.norm(directions, axis=1, keepdims=True)
    near = directions * 1e-3 * np.sqrt(1 + 1e-3 * rng.permutation(190))[:, None]
    outliers = 1e3 * rng.normal(size=(10, 16))
    G = np.vstack([near, outliers, near[:5]])
    Q = np.vstack([np.zeros((1, 16)), near[:2] * 0.5])
    expected = _exact_ranking(Q, G, 60)
    # From the origin: nearest first, each copy right after its original.
    order = np.argsort((near**2).sum(axis=1), kind="stable")[:55]
    copies = {i: 200 + i for i in range(5)}
    assert [j for j in expected[0] if j < 190][:50] == order[:50].tolist()
    for i, copy in copies.items():
        if i in expected[0]:
            assert list(expected[0]).index(copy) == list(expected[0]).index(i) + 1
    for chunk_size in (1, 2, None):
        _, indices = kneighbors(Q, G, n_neighbors=60, chunk_size=chunk_size)
        np.testing.assert_array_equal(indices, expected)


def test_kneighbors_cosine_distances():
    X = np.array([[1.0, 0.0], [0.0, 2.0], [3.0, 3.0]])
    distances, indices = kneighbors(X, n_neighbors=2, metric="cosine")
    np.testing.assert_array_equal(indices, [[2, 1], [2, 0], [0, 1]])
    np.testing.assert_allclose(distances[:, 0], 1 - np.sqrt(0.5))
    np.testing.assert_allclose(distances[:, 1], [1.0, 1.0, 1 - np.sqrt(0.5)])


def test_mixed_dtypes():
    q = np.array([[1.1], [9.0]], dtype=np.float32)
    got = retrieval_report(q, SPLIT[1], SPLIT[2], SPLIT[3], k=2)
    assert got == pytest.approx(SPLIT_EXPECTED)


# ---------------------------------------------------------------- chunking


@pytest.mark.parametrize("metric", ["euclidean", "cosine"])
def test_chunk_size_does_not_change_results(metric):
    X, y = grid_data(n=90)
    reports = [
        retrieval_report(X, y, k=4, metric=metric, chunk_size=c) for c in (1, 7, None)
    ]
    assert reports[0] == reports[1] == reports[2]
    neighbours = [
        kneighbors(X, n_neighbors=6, metric=metric, chunk_size=c) for c in (1, 7, None)
    ]
    for distances, indices in neighbours[1:]:
        np.testing.assert_array_equal(indices, neighbours[0][1])
        np.testing.assert_allclose(distances, neighbours[0][0], rtol=0, atol=1e-12)


def test_faiss_backend_matches_brute():
    pytest.importorskip("faiss", reason="faiss is an optional backend")
    # Exact ties (grid) in Euclidean distance; cosine on duplicated points.
    for metric, (X, y) in [("euclidean", grid_data()), ("cosine", duplicated_data())]:
        brute = retrieval_report(X, y, k=3, metric=metric, backend="brute")
        faiss = retrieval_report(X, y, k=3, metric=metric, backend="faiss")
        assert faiss == pytest.approx(brute, abs=1e-12)
    rng = np.random.default_rng(1)
    Q, G = rng.normal(size=(9, 5)), rng.normal(size=(40, 5))
    d_b, i_b = kneighbors(Q, G, n_neighbors=5, backend="brute")
    d_f, i_f = kneighbors(Q, G, n_neighbors=5, backend="faiss")
    np.testing.assert_array_equal(i_f, i_b)
    np.testing.assert_allclose(d_f, d_b, rtol=1e-5)


def test_faiss_missing_gives_clear_import_error(monkeypatch):
    monkeypatch.setitem(sys.modules, "faiss", None)
    with pytest.raises(ImportError, match="pip install faiss-cpu"):
        precision_at_1(LINE_X, LINE_Y, backend="faiss")


# ---------------------------------------------------------------- oracle


def _pml_calculator(knn_func=None):
    torch = pytest.importorskip("torch")
    module = pytest.importorskip(
        "pytorch_metric_learning.utils.accuracy_calculator",
        reason="pytorch-metric-learning is the reference implementation of MAP@R",
    )
    return module.AccuracyCalculator(
        include=("precision_at_1", "r_precision", "mean_average_precision_at_r"),
        device=torch.device("cpu"),
        knn_func=knn_func,
    )


def _assert_same_as_pml(ours, theirs):
    assert ours["precision_at_1"] == pytest.approx(theirs["precision_at_1"], abs=1e-6)
    assert ours["r_precision"] == pytest.approx(theirs["r_precision"], abs=1e-6)
    assert ours["map_at_r"] == pytest.approx(
        theirs["mean_average_precision_at_r"], abs=1e-6
    )


def test_oracle_pml_faiss_with_cross_label_ties():
    """Grid data: duplicates and ties between labels; faiss ranks ties by index."""
    pytest.importorskip("faiss", reason="AccuracyCalculator's default k-NN uses faiss")
    calculator = _pml_calculator()
    X, y = grid_data(n=150)
    y[0] = 99  # a query with no relevant item
    _assert_same_as_pml(retrieval_report(X, y), calculator.get_accuracy(X, y))
    Q, yq, G, yg = X[:50], y[:50], X[50:], y[50:]
    _assert_same_as_pml(
        retrieval_report(Q, yq, G, yg), calculator.get_accuracy(Q, yq, G, yg)
    )
    _assert_same_as_pml(
        retrieval_report(Q, yq, X, y, gallery_includes_query=True),
        calculator.get_accuracy(Q, yq, X, y, ref_includes_query=True),
    )


@pytest.mark.parametrize("metric", ["euclidean", "cosine"])
def test_oracle_pml_torch_knn(metric):
    """Torch k-NN: ties only between duplicates of one point (same label)."""
    pytest.importorskip("pytorch_metric_learning")
    from pytorch_metric_learning.distances import CosineSimilarity, LpDistance
    from pytorch_metric_learning.utils.inference import CustomKNN

    distance = (
        CosineSimilarity()
        if metric == "cosine"
        else LpDistance(normalize_embeddings=False)
    )
    calculator = _pml_calculator(CustomKNN(distance))
    X, y = duplicated_data()  # labels 98 and 99: queries with no relevant item
    ours = retrieval_report(X, y, metric=metric)
    _assert_same_as_pml(ours, calculator.get_accuracy(X, y))
    assert 0.05 < ours["map_at_r"] < 0.95  # neither trivial nor hopeless
    Q, yq, G, yg = X[:40], y[:40], X[40:], y[40:]
    _assert_same_as_pml(
        retrieval_report(Q, yq, G, yg, metric=metric),
        calculator.get_accuracy(Q, yq, G, yg),
    )


# ---------------------------------------------------------------- validation


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"query_labels": ["a"] * 4}, "same length"),
        ({"query_embeddings": [[0.0], [np.nan], [1.0], [2.0], [3.0]]}, "NaN"),
        ({"query_labels": [0.0, np.nan, 1.0, 1.0, 0.0]}, "NaN"),
        ({"k": 5}, "k=5 is larger than the 4"),
        ({"k": 0}, "positive integer"),
        ({"metric": "manhattan"}, "metric must be one of"),
        ({"backend": "annoy"}, "backend must be one of"),
        ({"chunk_size": 0}, "chunk_size"),
        ({"gallery_embeddings": [[0.0, 1.0]], "gallery_labels": ["a"]}, "features"),
        ({"gallery_embeddings": [[0.0]]}, "gallery_labels is required"),
        ({"gallery_labels": ["a"]}, "without gallery_embeddings"),
    ],
)
def test_invalid_input_raises_value_error(kwargs, match):
    params = {"query_embeddings": LINE_X, "query_labels": LINE_Y, "k": 2, **kwargs}
    with pytest.raises(ValueError, match=match):
        precision_at_k(**params)


def test_gallery_includes_query_is_checked():
    with pytest.raises(ValueError, match="first n_queries rows"):
        retrieval_report(
            LINE_X[:2], LINE_Y[:2], LINE_X[1:], LINE_Y[1:], gallery_includes_query=True
        )


# ---------------------------------------------------------------- one-shot


def test_one_shot_accuracy_nearest_support_not_prototype():
    support = [[0.0], [10.0], [6.0]]
    labels = ["a", "a", "b"]
    # Query 9 is nearest to support 10 (a); the mean of class a (5) would
    # be farther than b's 6.
    assert one_shot_accuracy(support, labels, [[9.0]], ["a"]) == 1.0
    queries, truth = [[9.0], [5.5], [0.5], [6.1]], ["a", "a", "a", "a"]
    assert one_shot_accuracy(support, labels, queries, truth) == 0.5
    # Equidistant from supports 0 (a) and 2 (b): the first support wins.
    assert one_shot_accuracy([[0.0], [5.0], [2.0]], [1, 2, 1], [[1.0]], [2]) == 0.0


def test_one_shot_accuracy_validates():
    with pytest.raises(ValueError, match="features"):
        one_shot_accuracy([[0.0]], [1], [[0.0, 1.0]], [1])
    with pytest.raises(ValueError, match="same length"):
        one_shot_accuracy([[0.0]], [1, 2], [[0.0]], [1])


# ---------------------------------------------------------------- verification


@pytest.mark.parametrize(
    ("y", "scores", "expected"),
    [
        ([0, 0, 1, 1], [0.1, 0.2, 0.8, 0.9], (0.0, 0.8)),
        ([1, 1, 0, 0], [0.9, 0.4, 0.6, 0.1], (0.5, 0.6)),
        ([1, 1, 0, 0], [0.1, 0.2, 0.8, 0.9], (1.0, 0.8)),
        # FAR stays 1/2 while FRR drops from 2/3 to 1/3: EER 1/2.
        ([1, 1, 1, 0, 0], [0.9, 0.6, 0.1, 0.7, 0.2], (0.5, 0.6)),
        # A tied score moves FAR 0 -> 1/2 and FRR 1/2 -> 0 at once: they
        # cross halfway, at 1/4.
        ([1, 0, 1, 0], [0.5, 0.5, 0.9, 0.1], (0.25, 0.5)),
        ([True, False, True, False], [3.0, -1.0, 2.0, -2.0], (0.0, 2.0)),
    ],
)
def test_equal_error_rate_known_answers(y, scores, expected):
    eer, threshold = equal_error_rate(y, scores)
    assert eer == pytest.approx(expected[0])
    assert threshold == pytest.approx(expected[1])
    assert equal_error_rate_score(y, scores) == pytest.approx(expected[0])


def test_equal_error_rate_is_where_far_meets_frr():
    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, size=2000)
    scores = rng.normal(size=2000) + 1.5 * y
    eer, threshold = equal_error_rate(y, scores)
    far = np.mean(scores[y == 0] >= threshold)
    frr = np.mean(scores[y == 1] < threshold)
    assert abs(far - frr) < 0.01
    assert eer == pytest.approx((far + frr) / 2, abs=0.01)
    assert 0.2 < eer < 0.3  # two unit normals 1.5 apart: EER = Phi(-0.75) = 0.23


@pytest.mark.parametrize(
    ("y", "match"),
    [
        ([0, 1, 2, 1], r"same must hold 1 \(or True\)"),
        ([1, 1, 1, 1], r"both same \(1\) and different \(0\)"),
        ([0, 1, np.nan, 1], r"got values"),
    ],
)
def test_equal_error_rate_validates(y, match):
    with pytest.raises(ValueError, match=match):
        equal_error_rate(y, [0.1, 0.2, 0.3, 0.4])
    with pytest.raises(ValueError, match="scores must be"):
        equal_error_rate([0, 1], [0.1, 0.2, 0.3])


def test_neg_equal_error_rate_scorer():
    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, size=300)
    X = (rng.normal(size=300) + 2.0 * y)[:, None]
    model = LogisticRegression().fit(X, y)
    expected = equal_error_rate(y, model.decision_function(X))[0]
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        score = neg_equal_error_rate_scorer(model, X, y)
    assert score == pytest.approx(-expected)
    assert -0.3 < score < -0.05


# ---------------------------------------------------------------- without torch

_WITHOUT_TORCH = """
import importlib.abc, json, sys, types

class BlockTorch(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name == "torch" or name.startswith("torch."):
            raise ImportError(name + " is blocked")

sys.meta_path.insert(0, BlockTorch())
# The package's __init__ imports the estimators, hence torch: stand in for
# it with an empty package of the same directory, so that only the metrics
# and what they import are loaded.
package = types.ModuleType("sksiamese")
package.__path__ = [sys.argv[1]]
sys.modules["sksiamese"] = package
import numpy as np
from sksiamese.metrics import equal_error_rate, kneighbors, retrieval_report
X = np.array(json.loads(sys.argv[2]))
y = np.arange(len(X)) % 3
print(json.dumps({
    "torch": "torch" in sys.modules,
    "eer": equal_error_rate([1, 1, 0, 0], [0.9, 0.4, 0.6, 0.1]),
    **{
        metric: [
            retrieval_report(X, y, k=3, metric=metric),
            kneighbors(X, n_neighbors=4, metric=metric)[1].tolist(),
        ]
        for metric in ("euclidean", "cosine")
    },
}))
"""


def test_metrics_work_without_torch():
    """The metrics neither import torch nor need it: in a process where
    torch cannot be imported, they give the same values as here."""
    X = np.vstack([grid_data(n=60)[0], np.random.default_rng(0).normal(size=(30, 2))])
    package_dir = str(Path(sksiamese.__file__).parent)
    done = subprocess.run(
        [
            sys.executable,
            "-c",
            _WITHOUT_TORCH,
            package_dir,
            json.dumps(X.tolist()),
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    result = json.loads(done.stdout)
    y = np.arange(len(X)) % 3
    assert result["torch"] is False
    assert result["eer"] == [0.5, 0.6]
    for metric in ("euclidean", "cosine"):
        report, indices = result[metric]
        assert report == retrieval_report(X, y, k=3, metric=metric)
        assert indices == kneighbors(X, n_neighbors=4, metric=metric)[1].tolist()
