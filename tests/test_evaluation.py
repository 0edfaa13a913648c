"""Tests of RetrievalEvaluator, the retrieval scorer and few-shot episodes."""

import numpy as np
import pytest
from sklearn.decomposition import PCA
from sklearn.exceptions import NotFittedError
from sklearn.model_selection import GridSearchCV, cross_val_score
from sklearn.neighbors import KNeighborsClassifier, NearestNeighbors
from sklearn.pipeline import Pipeline
from sklearn.utils.estimator_checks import parametrize_with_checks

from sksiamese.evaluation import (
    RetrievalEvaluator,
    make_retrieval_scorer,
    one_shot_evaluate,
    sample_episodes,
)
from sksiamese.metrics import (
    RETRIEVAL_METRICS,
    mean_average_precision_at_r,
    one_shot_accuracy,
    retrieval_report,
)

# Leave-one-out answers for these five points are worked out in
# tests/test_metrics.py (LINE_EXPECTED, k = 2).
LINE_X = np.array([[0.0], [1.0], [3.0], [4.0], [10.0]])
LINE_Y = np.array(["a", "a", "b", "a", "b"])
LINE_EXPECTED = {
    "precision_at_1": 2 / 5,
    "precision_at_k": 4 / 10,
    "recall_at_k": 2.5 / 5,
    "hit_rate_at_k": 4 / 5,
    "r_precision": 1.5 / 5,
    "map_at_r": 1.25 / 5,
}


def blobs_with_noise(n=160, seed=0):
    """Four clusters in 2 high-variance dimensions plus 20 noise dimensions.

    PCA's first two components span the clusters; one component merges
    them, more components add noise. So 2 components retrieve best.
    """
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 4, size=n)
    corners = np.array([[5, 5], [5, -5], [-5, 5], [-5, -5]], dtype=float)
    informative = corners[y] + rng.normal(size=(n, 2))
    noise = 2.0 * rng.normal(size=(n, 20))
    return np.hstack([informative, noise]), y


@parametrize_with_checks([RetrievalEvaluator(), RetrievalEvaluator(metric="cosine")])
def test_sklearn_compatible(estimator, check):
    # No expected failures: every scikit-learn check passes.
    check(estimator)


# ---------------------------------------------------------------- evaluator


def test_evaluate_leave_one_out_known_answer():
    evaluator = RetrievalEvaluator(k=2).fit(LINE_X, LINE_Y)
    assert evaluator.evaluate() == pytest.approx(LINE_EXPECTED)
    # The fitted array, or an equal copy, also means leave-one-out.
    assert evaluator.evaluate(LINE_X, LINE_Y) == pytest.approx(LINE_EXPECTED)
    assert evaluator.evaluate(LINE_X.copy(), LINE_Y) == pytest.approx(LINE_EXPECTED)
    # Up to floating-point noise, as between fit_transform and transform.
    noisy = LINE_X * (1 + 1e-12)
    assert evaluator.evaluate(noisy, LINE_Y) == pytest.approx(LINE_EXPECTED)
    assert evaluator.n_features_in_ == 1
    np.testing.assert_array_equal(evaluator.classes_, ["a", "b"])


def test_evaluate_other_queries_search_whole_gallery():
    evaluator = RetrievalEvaluator(k=2).fit(LINE_X, LINE_Y)
    # Slightly moved queries find their own original first.
    report = evaluator.evaluate(LINE_X + 1e-3, LINE_Y)
    assert report["precision_at_1"] == 1.0
    expected = retrieval_report(LINE_X + 1e-3, LINE_Y, LINE_X, LINE_Y, k=2)
    assert report == expected
    queries = [[1.1], [9.0]]
    assert evaluator.evaluate(queries, ["a", "b"]) == retrieval_report(
        queries, ["a", "b"], LINE_X, LINE_Y, k=2
    )


@pytest.mark.parametrize("scoring", RETRIEVAL_METRICS)
def test_score_returns_chosen_metric(scoring):
    evaluator = RetrievalEvaluator(k=2, scoring=scoring).fit(LINE_X, LINE_Y)
    assert evaluator.score(LINE_X, LINE_Y) == pytest.approx(LINE_EXPECTED[scoring])


def test_predict_majority_vote():
    X = [[0.0], [1.0], [2.0], [10.0], [11.0]]
    y = ["x", "x", "y", "y", "y"]
    evaluator = RetrievalEvaluator(k=3).fit(X, y)
    # [0.5]: neighbours 0, 1, 2 -> x, x, y.  [9]: 3, 4, 2 -> y.
    np.testing.assert_array_equal(evaluator.predict([[0.5], [9.0]]), ["x", "y"])
    # k=2 with one vote each: the first class in classes_ wins.
    tie = RetrievalEvaluator(k=2).fit([[0.0], [2.0]], ["y", "x"])
    np.testing.assert_array_equal(tie.predict([[1.0]]), ["x"])


def test_predict_matches_kneighbors_classifier():
    rng = np.random.default_rng(0)
    X, y = rng.normal(size=(80, 3)), rng.integers(0, 3, size=80)
    Q = rng.normal(size=(30, 3))
    reference = KNeighborsClassifier(n_neighbors=5, algorithm="brute").fit(X, y)
    ours = RetrievalEvaluator(k=5).fit(X, y)
    np.testing.assert_array_equal(ours.predict(Q), reference.predict(Q))


def test_kneighbors_follows_sklearn():
    rng = np.random.default_rng(1)
    X, y = rng.normal(size=(40, 3)), rng.integers(0, 2, size=40)
    evaluator = RetrievalEvaluator(k=3).fit(X, y)
    # The gallery is held in float32: distances are exact for the rounded rows.
    nn = NearestNeighbors(n_neighbors=3).fit(X.astype(np.float32).astype(np.float64))
    for query in (None, X[:7]):
        distances, indices = evaluator.kneighbors(query)
        rounded = None if query is None else query.astype(np.float32)
        ref_distances, ref_indices = nn.kneighbors(rounded)
        np.testing.assert_array_equal(indices, ref_indices)
        np.testing.assert_allclose(distances, ref_distances, rtol=1e-9)
    # Without X each item is left out of its own neighbours; with X it is not.
    assert not np.any(evaluator.kneighbors()[1] == np.arange(40)[:, None])
    np.testing.assert_array_equal(
        evaluator.kneighbors(X[:7], return_distance=False)[:, 0], np.arange(7)
    )
    assert evaluator.kneighbors(n_neighbors=6)[1].shape == (40, 6)


def test_unfitted_raises_not_fitted_error():
    evaluator = RetrievalEvaluator()
    for method, args in [
        (evaluator.evaluate, ()),
        (evaluator.score, (LINE_X, LINE_Y)),
        (evaluator.predict, (LINE_X,)),
        (evaluator.kneighbors, ()),
    ]:
        with pytest.raises(NotFittedError):
            method(*args)


@pytest.mark.parametrize(
    ("call", "match"),
    [
        (lambda e: e.evaluate(LINE_X[:3], LINE_Y), "same length"),
        (lambda e: e.evaluate([[np.nan]], ["a"]), "NaN"),
        (lambda e: e.evaluate(None, LINE_Y), "y was given without X"),
        (lambda e: e.kneighbors(n_neighbors=5), "larger than the 4"),
        (lambda e: e.set_params(k=5).evaluate(), "k=5 is larger"),
        (lambda e: e.score([[0.0, 1.0]], ["a"]), "features"),
    ],
)
def test_invalid_input(call, match):
    evaluator = RetrievalEvaluator(k=2).fit(LINE_X, LINE_Y)
    with pytest.raises(ValueError, match=match):
        call(evaluator)


def test_chunk_size_does_not_change_evaluation():
    X, y = blobs_with_noise(n=60)
    reports = [
        RetrievalEvaluator(chunk_size=c).fit(X, y).evaluate() for c in (1, 7, None)
    ]
    assert reports[0] == reports[1] == reports[2]


# ---------------------------------------------------------------- model selection


def test_grid_search_pipeline_picks_informative_components():
    X, y = blobs_with_noise()
    pipe = Pipeline([("pca", PCA()), ("retrieve", RetrievalEvaluator())])
    grid = {"pca__n_components": [1, 2, 3, 22]}
    search = GridSearchCV(pipe, grid, cv=3).fit(X, y)
    assert search.best_params_ == {"pca__n_components": 2}
    scores = search.cv_results_["mean_test_score"]
    assert scores[1] > 0.95
    assert scores[0] < 0.8 and scores[3] < 0.9


def test_pipeline_score_is_map_at_r_against_training_gallery():
    X, y = blobs_with_noise(n=90)
    train, test = slice(0, 60), slice(60, 90)
    # One component merges clusters, so that scores are below 1.
    pipe = Pipeline([("pca", PCA(1)), ("retrieve", RetrievalEvaluator())])
    pipe.fit(X[train], y[train])
    pca = pipe.named_steps["pca"]
    expected = mean_average_precision_at_r(
        pca.transform(X[test]), y[test], pca.transform(X[train]), y[train]
    )
    assert pipe.score(X[test], y[test]) == pytest.approx(expected)
    # Scoring the training data re-embeds it: equal values, leave-one-out.
    Z = pca.transform(X[train])
    loo = mean_average_precision_at_r(Z, y[train])
    assert pipe.score(X[train], y[train]) == pytest.approx(loo)
    assert loo != pytest.approx(mean_average_precision_at_r(Z, y[train], Z, y[train]))
    assert expected < 0.9


def test_retrieval_scorer_with_grid_search():
    X, y = blobs_with_noise()
    scorer = make_retrieval_scorer("map_at_r")
    search = GridSearchCV(PCA(), {"n_components": [1, 2, 22]}, scoring=scorer, cv=3)
    search.fit(X, y)
    assert search.best_params_ == {"n_components": 2}
    pca = PCA(2).fit(X)
    assert scorer(pca, X, y) == pytest.approx(
        mean_average_precision_at_r(pca.transform(X), y)
    )
    hit_rate = make_retrieval_scorer("hit_rate_at_k", k=3, metric="cosine")
    scores = cross_val_score(PCA(2), X, y, scoring=hit_rate, cv=2)
    assert np.all(scores > 0.95)
    assert "hit_rate_at_k" in repr(hit_rate)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"scoring": "auc"}, "scoring must be"),
        ({"metric": "l1"}, "metric must be 'euclidean'"),
        ({"distance": "cosine"}, "unexpected keyword"),
    ],
)
def test_retrieval_scorer_validates(kwargs, match):
    with pytest.raises((ValueError, TypeError), match=match):
        make_retrieval_scorer(**kwargs)


# ---------------------------------------------------------------- episodes


def omniglot_like_labels(n_classes=30, per_class=4):
    return np.repeat(np.arange(n_classes), per_class)


@pytest.mark.parametrize(("k_shot", "n_queries"), [(1, 1), (2, 1), (1, None)])
def test_episode_structure(k_shot, n_queries):
    y = omniglot_like_labels()
    episodes = sample_episodes(
        y, n_way=5, k_shot=k_shot, n_queries=n_queries, n_episodes=20, random_state=0
    )
    assert len(episodes) == 20
    per_class_queries = 4 - k_shot if n_queries is None else n_queries
    for support, query in episodes:
        support_classes, counts = np.unique(y[support], return_counts=True)
        assert len(support_classes) == 5
        assert np.all(counts == k_shot)
        assert len(query) == 5 * per_class_queries
        assert set(y[query]) == set(support_classes)
        assert not set(support) & set(query)
        assert len(set(query)) == len(query)


def test_episodes_are_seeded_and_use_no_global_state():
    y = omniglot_like_labels()
    np.random.seed(123)  # noqa: NPY002
    state = np.random.get_state()[1].copy()  # noqa: NPY002
    first = sample_episodes(y, n_way=5, n_episodes=10, random_state=42)
    second = sample_episodes(y, n_way=5, n_episodes=10, random_state=42)
    other = sample_episodes(y, n_way=5, n_episodes=10, random_state=43)
    np.testing.assert_array_equal(np.random.get_state()[1], state)  # noqa: NPY002
    for (s1, q1), (s2, q2) in zip(first, second, strict=True):
        np.testing.assert_array_equal(s1, s2)
        np.testing.assert_array_equal(q1, q2)
    assert any(
        not np.array_equal(a[0], b[0]) for a, b in zip(first, other, strict=True)
    )
    rng_a = sample_episodes(
        y, n_way=5, n_episodes=3, random_state=np.random.RandomState(0)
    )
    rng_b = sample_episodes(
        y, n_way=5, n_episodes=3, random_state=np.random.RandomState(0)
    )
    np.testing.assert_array_equal(rng_a[2][0], rng_b[2][0])


def test_episodes_cover_classes_fairly():
    y = omniglot_like_labels(n_classes=10)
    episodes = sample_episodes(y, n_way=2, n_episodes=2000, random_state=0)
    counts = np.bincount(np.concatenate([y[s] for s, _ in episodes]), minlength=10)
    assert counts.min() > 300 and counts.max() < 500  # 400 expected each


@pytest.mark.parametrize(
    ("y", "kwargs", "match"),
    [
        (np.repeat(np.arange(5), 2), {"n_way": 6}, "only 5 classes"),
        (np.array([0, 0, 1, 1, 2]), {"n_way": 2}, r"fewer than 2 samples.*\[2\]"),
        (np.repeat(np.arange(5), 2), {"n_way": 2, "k_shot": 2}, "fewer than 3"),
        (np.repeat(np.arange(5), 2), {"n_way": 0}, "n_way must be a positive"),
        (np.repeat(np.arange(5), 2), {"n_queries": 0}, "n_queries"),
    ],
)
def test_episode_errors(y, kwargs, match):
    with pytest.raises(ValueError, match=match):
        sample_episodes(y, **{"n_episodes": 2, **kwargs})


def test_one_shot_evaluate_values():
    y = omniglot_like_labels()
    X = y[:, None].astype(float) * 10 + np.tile([0.0, 1.0, 2.0, 3.0], 30)[:, None]
    perfect = one_shot_evaluate(X, y, n_way=20, n_episodes=30, random_state=0)
    assert perfect["accuracy"] == 1.0 and perfect["std"] == 0.0
    assert perfect["n_episodes"] == 30 and perfect["n_way"] == 20
    rng = np.random.default_rng(0)
    noise = rng.normal(size=(120, 8))
    chance = one_shot_evaluate(noise, y, n_way=20, n_episodes=300, random_state=0)
    assert 0.02 < chance["accuracy"] < 0.09  # 1/20 expected
    assert chance["ci95"] == pytest.approx(1.96 * chance["std"] / np.sqrt(300))


def test_one_shot_evaluate_matches_manual_episodes():
    rng = np.random.default_rng(2)
    y = omniglot_like_labels()
    X = rng.normal(size=(120, 6)) + y[:, None] * 0.3
    kwargs = {"n_way": 10, "k_shot": 2, "n_queries": None, "n_episodes": 15}
    result = one_shot_evaluate(X, y, metric="cosine", random_state=7, **kwargs)
    episodes = sample_episodes(y, random_state=7, **kwargs)
    accuracies = [
        one_shot_accuracy(X[s], y[s], X[q], y[q], metric="cosine") for s, q in episodes
    ]
    assert result["accuracy"] == pytest.approx(np.mean(accuracies))
    assert result["std"] == pytest.approx(np.std(accuracies, ddof=1))
    assert result["k_shot"] == 2


def test_one_shot_evaluate_with_transform():
    rng = np.random.default_rng(3)
    y = omniglot_like_labels()
    X = rng.normal(size=(120, 5))
    pca = PCA(2).fit(X)
    kwargs = {"n_way": 5, "n_episodes": 20, "random_state": 1}
    expected = one_shot_evaluate(pca.transform(X), y, **kwargs)
    assert one_shot_evaluate(X, y, transform=pca, **kwargs) == expected
    assert one_shot_evaluate(X, y, transform=pca.transform, **kwargs) == expected
    with pytest.raises(ValueError, match="same length"):
        one_shot_evaluate(X[:10], y, **kwargs)
