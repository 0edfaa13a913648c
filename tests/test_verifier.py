import copy
import pickle

import joblib
import numpy as np
import pytest
import torch
from scipy.special import expit
from scipy.stats import norm
from sklearn.base import clone
from sklearn.discriminant_analysis import LinearDiscriminantAnalysis
from sklearn.exceptions import NotFittedError
from sklearn.frozen import FrozenEstimator
from sklearn.metrics import accuracy_score, roc_auc_score
from sklearn.model_selection import GridSearchCV, StratifiedKFold, cross_val_score
from sklearn.pipeline import FeatureUnion, Pipeline, make_pipeline
from sklearn.preprocessing import FunctionTransformer, StandardScaler

import sksiamese.verification as verification
from sksiamese import SiameseEmbedder, SiameseVerifier
from sksiamese.losses import BinaryPairLoss
from sksiamese.mining import all_pairs
from sksiamese.preprocessing import DistanceScaler
from sksiamese.verification import (
    SigmoidCalibrator,
    balanced_pairs,
    choose_threshold,
    make_verification_scorer,
)

_VERIFIER_PARAMS = set(SiameseVerifier().get_params())


def fast_embedder(**kw):
    params = dict(
        max_epochs=2,
        embedding_dim=8,
        network_params={"hidden": (64,)},
        batch_size=64,
        device="cpu",
        random_state=0,
    )
    params.update(kw)
    return SiameseEmbedder(**params)


def fast(**kw):
    """A verifier on a fast embedder; training parameters go to the embedder."""
    own = {k: kw.pop(k) for k in list(kw) if k in _VERIFIER_PARAMS}
    own.setdefault("random_state", 0)
    return SiameseVerifier(fast_embedder(**kw), **own)


def as_pairs(X, idx):
    return np.stack([X[idx[:, 0]], X[idx[:, 1]]], axis=1)


@pytest.fixture(scope="module")
def rows(small_digits):
    """200 digits as 64-feature rows, 20 per class, read-only."""
    X, y = small_digits
    X = X.reshape(len(X), -1) / 16.0
    X.setflags(write=False)
    return X, y


@pytest.fixture(scope="module")
def fitted(rows):
    X, y = rows
    return fast(max_epochs=3).fit(X, y)


@pytest.fixture(scope="module")
def test_pairs(digits):
    X, y = digits
    X = X[1000:1200].reshape(200, -1) / 16.0
    idx, same = balanced_pairs(y[1000:1200], max_pairs=400)
    return as_pairs(X, idx), same


# ---- predictions on pairs ---------------------------------------------------


def test_probabilities_are_calibrated_columns(fitted, test_pairs):
    pairs, same = test_pairs
    proba = fitted.predict_proba(pairs)
    assert proba.shape == (len(pairs), 2)
    assert np.all((proba >= 0) & (proba <= 1))
    np.testing.assert_allclose(proba.sum(axis=1), 1.0)
    assert list(fitted.classes_) == [0, 1]
    # predict thresholds P(same), decision_function ranks by distance
    np.testing.assert_array_equal(
        fitted.predict(pairs), (proba[:, 1] >= fitted.threshold_).astype(int)
    )
    order = np.argsort(-fitted.decision_function(pairs), kind="stable")
    assert np.all(np.diff(proba[order, 1]) <= 1e-12)
    # better than chance after three epochs on 200 digits
    assert roc_auc_score(same, fitted.decision_function(pairs)) > 0.8
    assert fitted.calibration_ == "sigmoid"
    assert 0.0 <= fitted.threshold_ <= 1.0


def test_pair_of_identical_samples_is_most_alike(fitted, rows):
    X, _ = rows
    twins = np.stack([X[:5], X[:5]], axis=1)
    np.testing.assert_allclose(fitted.decision_function(twins), 0.0, atol=1e-5)
    assert np.all(fitted.predict(twins) == 1)


def test_predictions_are_batch_independent(fitted, test_pairs):
    pairs, _ = test_pairs
    whole = fitted.predict_proba(pairs)
    parts = np.concatenate(
        [fitted.predict_proba(pairs[i : i + 7]) for i in range(0, 49, 7)]
    )
    np.testing.assert_allclose(parts, whole[:49], rtol=1e-5, atol=1e-6)


def test_pair_predictions_follow_sklearn_conventions(fitted, rows, test_pairs):
    # scikit-learn's shared checks call predict on 2-D samples; these are
    # the same properties on pairs
    pairs, _ = test_pairs
    state = dict(fitted.__dict__)
    proba = fitted.predict_proba(pairs)
    assert fitted.__dict__.keys() == state.keys()
    assert all(fitted.__dict__[k] is v for k, v in state.items())
    perm = np.random.default_rng(0).permutation(len(pairs))
    np.testing.assert_allclose(
        fitted.predict_proba(pairs[perm]), proba[perm], rtol=1e-5
    )
    as_list = fitted.predict_proba(pairs[:3].tolist())
    np.testing.assert_allclose(as_list, proba[:3], rtol=1e-5)
    f32 = fitted.predict_proba(pairs.astype(np.float32))
    np.testing.assert_allclose(f32, proba, atol=1e-5)
    fortran = np.asfortranarray(pairs)
    np.testing.assert_allclose(fitted.predict_proba(fortran), proba, atol=1e-6)
    # fitting again with the same seed gives the same verifier
    again = clone(fitted).fit(*rows)
    np.testing.assert_allclose(again.predict_proba(pairs), proba, atol=1e-6)
    assert again.threshold_ == fitted.threshold_


@pytest.mark.parametrize(
    "make, match",
    [
        (lambda p: p[:, 0], r"shape \(n_pairs, 2, 64\)"),
        (lambda p: np.concatenate([p, p[:, :1]], axis=1), r"got shape \(\d+, 3, 64\)"),
        (lambda p: p[..., :10], "samples of shape \\(10,\\)"),
        (lambda p: np.where(np.arange(p.size).reshape(p.shape) == 3, np.nan, p), "NaN"),
        (lambda p: p[:0], "0 sample"),
        (lambda p: p.tolist()[0], "shape"),
    ],
)
def test_malformed_pairs_raise_clear_errors(fitted, test_pairs, make, match):
    pairs, _ = test_pairs
    bad = make(pairs)
    for method in ("predict", "predict_proba", "decision_function"):
        with pytest.raises(ValueError, match=match):
            getattr(fitted, method)(bad)


def test_unfitted_raises(rows, test_pairs):
    X, y = rows
    pairs, _ = test_pairs
    for call in (
        lambda v: v.predict(pairs),
        lambda v: v.predict_proba(pairs),
        lambda v: v.score(X, y),
        lambda v: v.decision_function(pairs),
        lambda v: v.calibrate_threshold(pairs, np.arange(len(pairs)) % 2),
    ):
        with pytest.raises(NotFittedError):
            call(fast())


# ---- thresholds ---------------------------------------------------------------


def test_threshold_strategies_on_separated_scores():
    y = np.array([1] * 4 + [0] * 4)
    s = np.array([0.9, 0.8, 0.7, 0.6, 0.4, 0.3, 0.2, 0.1])
    for strategy in ("accuracy", "f1"):
        assert choose_threshold(y, s, strategy) == pytest.approx(0.5)
    assert choose_threshold(y, s, "far", target_far=0.0) == pytest.approx(0.5)
    assert choose_threshold(y, s, "eer") == pytest.approx(0.6)


def test_threshold_strategies_on_gaussian_scores():
    rng = np.random.default_rng(0)
    n = 20_000
    s = np.concatenate([rng.normal(1, 1, n), rng.normal(-1, 1, n)])
    y = np.repeat([1, 0], n)
    # Bayes threshold for equal priors and variances, and the EER point
    assert choose_threshold(y, s, "accuracy") == pytest.approx(0.0, abs=0.1)
    assert choose_threshold(y, s, "eer") == pytest.approx(0.0, abs=0.05)
    t = choose_threshold(y, s, "far", target_far=0.05)
    assert t == pytest.approx(norm.ppf(0.95) - 1, abs=0.05)
    assert np.mean(s[y == 0] >= t) <= 0.05
    # F1 rewards recall of "same": its threshold is not above accuracy's
    assert choose_threshold(y, s, "f1") <= choose_threshold(y, s, "accuracy")


def test_threshold_never_sits_on_a_score():
    y = np.array([1, 1, 0, 1, 0, 0])
    s = np.array([0.5, 0.5, 0.5, 0.2, 0.2, 0.1])
    for strategy in ("accuracy", "f1", "far"):
        t = choose_threshold(y, s, strategy, target_far=0.5)
        assert t not in s


def test_threshold_errors():
    with pytest.raises(ValueError, match="strategy"):
        choose_threshold([1, 0], [0.6, 0.4], "youden")
    with pytest.raises(ValueError, match=r"both same \(1\) and different"):
        choose_threshold([1, 1], [0.6, 0.4])
    with pytest.raises(ValueError, match="target_far"):
        choose_threshold([1, 0], [0.6, 0.4], "far", target_far=2)


@pytest.mark.parametrize("strategy", ["accuracy", "f1", "eer", "far"])
def test_auto_threshold_follows_strategy(fitted, rows, strategy):
    ver = clone(fitted).set_params(threshold_strategy=strategy, target_far=0.05)
    ver.fit(*rows)
    proba = ver._proba_same(ver.calibration_distances_)
    expected = choose_threshold(ver.calibration_same_, proba, strategy, 0.05)
    assert ver.threshold_ == expected
    if strategy == "far":
        assert np.mean(proba[ver.calibration_same_ == 0] >= ver.threshold_) <= 0.05


def test_float_threshold_is_used_as_is(rows, test_pairs):
    X, y = rows
    pairs, _ = test_pairs
    ver = fast(threshold=0.9).fit(X, y)
    assert ver.threshold == 0.9 and ver.threshold_ == 0.9
    proba = ver.predict_proba(pairs)[:, 1]
    np.testing.assert_array_equal(ver.predict(pairs), proba >= 0.9)


def test_calibrate_threshold_retunes_only_the_threshold(fitted, test_pairs):
    pairs, same = test_pairs
    ver = copy.deepcopy(fitted)
    before = ver.predict_proba(pairs)
    ver.calibrate_threshold(pairs, same, strategy="far", target_far=0.02)
    assert ver.threshold == "auto"
    np.testing.assert_array_equal(ver.predict_proba(pairs), before)
    assert np.mean(ver.predict(pairs)[same == 0]) <= 0.02
    ver.calibrate_threshold(pairs, same)
    assert ver.threshold_ == choose_threshold(same, before[:, 1], "accuracy")


# ---- calibration ----------------------------------------------------------------


def test_sigmoid_calibrator_recovers_known_map():
    rng = np.random.default_rng(0)
    d = rng.uniform(0, 2, 20_000)
    same = rng.random(20_000) < expit(4.0 - 5.0 * d)
    cal = SigmoidCalibrator().fit(d, same)
    assert cal.intercept_ == pytest.approx(4.0, abs=0.2)
    assert cal.slope_ == pytest.approx(-5.0, abs=0.25)


def test_sigmoid_calibrator_stays_finite_when_separable():
    cal = SigmoidCalibrator().fit([0.1, 0.2, 1.0, 1.1], [1, 1, 0, 0])
    p = cal.predict([0.0, 0.6, 5.0])
    assert 0 < p[2] < p[1] < p[0] < 1


@pytest.mark.parametrize("calibration", ["sigmoid", "isotonic"])
def test_calibration_options(rows, test_pairs, calibration):
    X, y = rows
    pairs, _ = test_pairs
    ver = fast(calibration=calibration).fit(X, y)
    assert ver.calibration_ == calibration
    d = -ver.decision_function(pairs)
    p = ver.predict_proba(pairs)[:, 1]
    assert np.all(np.diff(p[np.argsort(d)]) <= 1e-12)


def test_calibration_pairs_are_balanced_held_out_classes(rows):
    X, y = rows  # 10 classes of 20
    ver = fast(calibration_holdout="classes").fit(X, y)
    n_pos = 2 * 20 * 19 // 2  # two held-out classes
    assert np.sum(ver.calibration_same_ == 1) == n_pos
    assert np.sum(ver.calibration_same_ == 0) == n_pos
    ver = fast(calibration_holdout="samples").fit(X, y)
    n_pos = 10 * 4 * 3 // 2  # 4 held-out samples per class
    assert np.sum(ver.calibration_same_ == 1) == n_pos
    assert np.sum(ver.calibration_same_ == 0) == n_pos
    # the same seed holds out the same data
    again = fast(calibration_holdout="samples").fit(X, y)
    np.testing.assert_array_equal(
        again.calibration_distances_, ver.calibration_distances_
    )


def test_cross_fitted_calibration(rows, test_pairs):
    X, y = rows  # 10 classes of 20: 5 folds of 2 classes
    ver = fast(calibration_cv=5).fit(X, y)
    n_pos = 5 * 2 * 20 * 19 // 2  # every fold's same pairs
    assert np.sum(ver.calibration_same_ == 1) == n_pos
    assert np.sum(ver.calibration_same_ == 0) == n_pos
    # the final network learns from every class: the training batches of
    # its last epoch hold all 200 samples
    assert ver.embedder_.history_[-1, "train_batch_count"] == int(np.ceil(200 / 64))
    proba = ver.predict_proba(test_pairs[0])
    assert np.all((proba >= 0) & (proba <= 1))
    with pytest.raises(ValueError, match="calibration_cv=6 needs at least 12"):
        fast(calibration_cv=6).fit(X, y)


def test_holdout_errors_name_the_parameter(rows):
    X, y = rows
    few = y < 3
    with pytest.raises(ValueError, match="calibration_holdout='classes' needs"):
        fast(calibration_holdout="classes").fit(X[few], y[few])
    small = np.concatenate([np.flatnonzero(y == c)[:3] for c in range(3)])
    with pytest.raises(ValueError, match="calibration_fraction"):
        fast(calibration_holdout="samples").fit(X[small], y[small])
    # "auto" falls back to the training data, and says so
    with pytest.warns(UserWarning, match="overconfident"):
        ver = fast().fit(X[small], y[small])
    assert len(ver.calibration_same_) == 2 * 3 * 3
    with pytest.raises(ValueError, match="requires y to be passed"):
        fast().fit(X, None)
    with pytest.raises(ValueError, match="Unknown label type"):
        fast().fit(X, np.linspace(0, 1, len(X)))


# ---- the binary loss and its head -------------------------------------------------


def test_binary_pair_loss_matches_explicit_formula():
    g = torch.Generator().manual_seed(0)
    emb = torch.randn(8, 3, generator=g, dtype=torch.float64)
    labels = torch.tensor([0, 0, 1, 1, 2, 2, 3, 3])
    loss = BinaryPairLoss(margin=1.5, scale=3.0, eps=0.0).double()
    a1, p, a2, n = all_pairs(labels)

    def bce(i, j, t):
        d = np.sqrt(((emb[i] - emb[j]) ** 2).sum().item())
        q = expit(3.0 * (1.5 - d))
        return -np.log(q) if t else -np.log(1 - q)

    pos = np.mean([bce(i, j, 1) for i, j in zip(a1.tolist(), p.tolist(), strict=True)])
    neg = np.mean([bce(i, j, 0) for i, j in zip(a2.tolist(), n.tolist(), strict=True)])
    # the head's parameters are float32 before .double(): agreement to 1e-6
    assert loss(emb, labels).item() == pytest.approx((pos + neg) / 2, rel=1e-6)
    assert loss(emb, labels, (a1, p, a2, n)).item() == pytest.approx((pos + neg) / 2)


def test_binary_head_is_trained_and_used(rows, test_pairs):
    X, y = rows
    pairs, _ = test_pairs
    ver = fast(loss="binary", max_epochs=3, threshold=0.5).fit(X, y)
    head = ver.embedder_.net_.criterion_
    assert ver.calibration_ == "head"
    assert len(ver.calibration_same_) == 0  # nothing held out
    offset, scale = float(head.offset.detach()), float(head.log_scale.exp().detach())
    assert offset != 1.0 or scale != 5.0
    d = -ver.decision_function(pairs)
    expected = head.probability(torch.as_tensor(d)).detach().numpy()
    np.testing.assert_allclose(ver.predict_proba(pairs)[:, 1], expected, rtol=1e-5)
    with pytest.raises(ValueError, match="calibration='head' reads .* has none"):
        fast(calibration="head").fit(X, y)


# ---- training on labelled pairs ----------------------------------------------------


def test_fit_pairs_learns_from_pairs_only(rows, test_pairs):
    X, y = rows
    idx, same = balanced_pairs(y, max_pairs=1000, random_state=1)
    ver = fast(loss="contrastive", max_epochs=4).fit_pairs(as_pairs(X, idx), same)
    assert ver.n_features_in_ == 64 and ver.sample_shape_ == (64,)
    assert list(ver.classes_) == [0, 1]
    pairs, test_same = test_pairs
    assert roc_auc_score(test_same, ver.decision_function(pairs)) > 0.75
    assert 0 < len(ver.calibration_same_) < len(same)
    # labelled pairs and validation pairs with a binary head
    ver = fast(loss="binary", validation_fraction=0.2).fit_pairs(as_pairs(X, idx), same)
    assert np.all(np.isfinite(ver.embedder_.history_[:, "valid_loss"]))


@pytest.mark.parametrize(
    "kw, make, match",
    [
        ({}, lambda p, s: (p, s), "multi-similarity loss weighs"),
        ({"loss": "triplet"}, lambda p, s: (p, s), "triplet loss cannot"),
        ({"loss": "contrastive"}, lambda p, s: (p, s * 3), "same must hold 1"),
        ({"loss": "contrastive"}, lambda p, s: (p, np.ones_like(s)), "both same"),
        ({"loss": "contrastive"}, lambda p, s: (p, s[:-1]), "one flag per pair"),
        ({"loss": "contrastive"}, lambda p, s: (p[:, 0], s), "n_pairs, 2"),
    ],
)
def test_fit_pairs_errors(rows, kw, make, match):
    X, y = rows
    idx, same = balanced_pairs(y, max_pairs=100)
    pairs, same = make(as_pairs(X, idx), same)
    with pytest.raises(ValueError, match=match):
        fast(**kw).fit_pairs(pairs, same)


# ---- scoring on class-labelled samples ---------------------------------------------


def test_score_is_deterministic_balanced_pair_accuracy(fitted, digits):
    X, y = digits
    X = X[1000:1200].reshape(200, -1) / 16.0
    y = y[1000:1200]
    idx, same = balanced_pairs(y, max_pairs=10_000, random_state=0)
    expected = accuracy_score(same, fitted.predict(as_pairs(X, idx)))
    assert fitted.score(X, y) == pytest.approx(expected)
    assert fitted.score(X, y) == fitted.score(X, y)
    with pytest.raises(ValueError, match="looks like pairs"):
        fitted.score(as_pairs(X, idx), same)


@pytest.mark.parametrize("metric", verification.VERIFICATION_METRICS)
def test_verification_scorers(fitted, rows, metric):
    X, y = rows
    scorer = make_verification_scorer(metric)
    value = scorer(fitted, X, y)
    assert np.isfinite(value)
    if metric in ("accuracy", "roc_auc"):
        assert 0.5 < value <= 1.0
    else:
        assert value <= 0.0
    # a pipeline gets the same pairs, as arrays
    pipe = Pipeline([("id", FunctionTransformer()), ("ver", fitted)])
    assert scorer(pipe, X, y) == pytest.approx(value, rel=1e-5)
    assert repr(scorer) == f"make_verification_scorer({metric!r}, max_pairs=10000)"


def test_verification_scorer_validates():
    with pytest.raises(ValueError, match="scoring must be one of"):
        make_verification_scorer("f1")
    with pytest.raises(ValueError, match="max_pairs must be an integer"):
        make_verification_scorer("accuracy", max_pairs=1)


def test_balanced_pairs_properties(monkeypatch):
    y = np.repeat(np.arange(5), [2, 3, 4, 10, 30])
    for limit in (None, 10):  # enumerated, then sampled
        if limit:
            monkeypatch.setattr(verification, "_ENUMERATE_LIMIT", limit)
        pairs, same = balanced_pairs(y, max_pairs=200, random_state=3)
        again, _ = balanced_pairs(y, max_pairs=200, random_state=3)
        np.testing.assert_array_equal(pairs, again)
        assert len(pairs) == 200 and same.sum() == 100
        assert np.all(pairs[:, 0] < pairs[:, 1])
        assert len(np.unique(pairs, axis=0)) == 200
        np.testing.assert_array_equal(y[pairs[:, 0]] == y[pairs[:, 1]], same == 1)
    with pytest.raises(ValueError, match="both same and different"):
        balanced_pairs([0, 1, 2])
    with pytest.raises(ValueError, match="both same and different"):
        balanced_pairs([4, 4, 4])


# ---- scikit-learn composition (as metric-learn checks its pair learners) ------------


def test_clone_and_params(fitted, rows, test_pairs):
    c = clone(fitted)
    own = {k: v for k, v in c.get_params(deep=False).items() if k != "embedder"}
    assert own == {
        k: v for k, v in fitted.get_params(deep=False).items() if k != "embedder"
    }
    assert c.embedder.get_params() == fitted.embedder.get_params()
    assert not hasattr(c, "embedder_") and not hasattr(c, "threshold_")
    assert not hasattr(c.embedder, "net_")
    c.set_params(embedder__margin=0.4, threshold=0.3, threshold_strategy="eer")
    assert c.embedder.margin == 0.4 and c.threshold == 0.3
    assert fitted.embedder.margin == "auto"  # the clone's own embedder
    with pytest.raises(NotFittedError):
        c.predict(test_pairs[0])
    with pytest.raises(ValueError, match="threshold"):
        clone(fitted).set_params(threshold=1.5).fit(*rows)
    with pytest.raises(ValueError, match="threshold_strategy"):
        clone(fitted).set_params(threshold_strategy="max").fit(*rows)


@pytest.mark.parametrize("how", ["pickle", "joblib"])
def test_pickle_round_trip(fitted, test_pairs, tmp_path, how, rows):
    pairs, _ = test_pairs
    ver = copy.deepcopy(fitted)
    if how == "joblib":
        joblib.dump(ver, tmp_path / "v.joblib")
        back = joblib.load(tmp_path / "v.joblib")
    else:
        back = pickle.loads(pickle.dumps(ver))
    np.testing.assert_array_equal(back.predict_proba(pairs), ver.predict_proba(pairs))
    assert back.threshold_ == ver.threshold_


def test_pipeline_fit_predict_score(rows, test_pairs):
    X, y = rows
    pairs, _ = test_pairs
    # an elementwise step applies to samples and to pairs alike
    pipe = Pipeline([("sqrt", FunctionTransformer(np.sqrt)), ("ver", fast())])
    pipe.fit(X, y)
    proba = pipe.predict_proba(pairs)
    np.testing.assert_allclose(proba, pipe[-1].predict_proba(np.sqrt(pairs)))
    assert pipe.predict(pairs).shape == (len(pairs),)
    assert 0.0 <= pipe.score(X, y) <= 1.0


def test_cross_val_score(rows):
    X, y = rows
    scores = cross_val_score(
        fast(), X, y, cv=StratifiedKFold(2, shuffle=True, random_state=0)
    )
    assert scores.shape == (2,) and np.all((scores > 0.5) & (scores <= 1.0))


def test_grid_search_over_margin_and_threshold(rows):
    X, y = rows
    search = GridSearchCV(
        fast(max_epochs=1),
        {"embedder__margin": [0.1, 0.5], "threshold": [0.2, "auto"]},
        cv=StratifiedKFold(2, shuffle=True, random_state=0),
        scoring={
            "accuracy": make_verification_scorer("accuracy"),
            "roc_auc": make_verification_scorer("roc_auc"),
            "eer": make_verification_scorer("neg_eer"),
        },
        refit="accuracy",
    )
    search.fit(X, y)
    assert search.best_params_["embedder__margin"] in (0.1, 0.5)
    assert search.best_params_["threshold"] in (0.2, "auto")
    results = search.cv_results_
    assert np.all(results["mean_test_accuracy"] > 0.5)
    assert np.all(results["mean_test_roc_auc"] > 0.5)
    assert np.all(results["mean_test_eer"] < 0)
    # the threshold does not change the ranking, only the accuracy
    np.testing.assert_allclose(
        results["mean_test_roc_auc"][::2], results["mean_test_roc_auc"][1::2]
    )
    best = search.best_estimator_
    assert best.embedder_.margin == search.best_params_["embedder__margin"]


def test_cosface_verifier_and_fit_pairs(rows, test_pairs):
    X, y = rows
    pairs, same = test_pairs
    ver = fast(loss="cosface", max_epochs=20).fit(X, y)
    assert ver.embedder_.net_.miner is None and ver.calibration_ == "sigmoid"
    proba = ver.predict_proba(pairs)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0)
    assert roc_auc_score(same, proba[:, 1]) > 0.88  # 0.914 measured
    idx, flags = balanced_pairs(y, max_pairs=200)
    with pytest.raises(ValueError, match="learns a proxy per class"):
        fast(loss="cosface").fit_pairs(as_pairs(X, idx), flags)


# ---- built on an embedder ------------------------------------------------------


def test_default_embedder_is_the_embedders_defaults(rows):
    ver = SiameseVerifier()
    assert ver.embedder is None
    X, y = rows
    fitted = SiameseVerifier(random_state=0).set_params(embedder=None)
    # the verifier trains with the embedder's defaults: no second set
    assert fitted._embedder().get_params() == SiameseEmbedder().get_params()
    with pytest.raises(TypeError):
        SiameseVerifier(None, "sigmoid")


def test_prefit_embedder_calibrates_on_every_sample(rows, test_pairs):
    X, y = rows
    pairs, same = test_pairs
    embedder = fast_embedder(max_epochs=3).fit(X[y < 7], y[y < 7])
    before = embedder.transform(X)
    ver = SiameseVerifier(FrozenEstimator(embedder)).fit(X[y >= 7], y[y >= 7])
    np.testing.assert_array_equal(embedder.transform(X), before)  # not refitted
    n_pos = 3 * 20 * 19 // 2  # every pair of the three classes given
    assert np.sum(ver.calibration_same_ == 1) == n_pos
    d = np.linalg.norm(
        embedder.transform(pairs[:, 0]) - embedder.transform(pairs[:, 1]), axis=1
    )
    np.testing.assert_allclose(-ver.decision_function(pairs), d, rtol=1e-5)
    assert roc_auc_score(same, ver.predict_proba(pairs)[:, 1]) > 0.8


def test_pipeline_and_feature_union_as_embedder(rows, test_pairs):
    X, y = rows
    pairs, same = test_pairs
    pipe = make_pipeline(FunctionTransformer(np.sqrt), fast_embedder())
    ver = SiameseVerifier(pipe, random_state=0).fit(X, y)
    alone = fast().fit(np.sqrt(X), y)
    np.testing.assert_allclose(
        ver.predict_proba(pairs), alone.predict_proba(np.sqrt(pairs)), atol=1e-6
    )
    # the binary head of an embedder at the end of a pipeline
    pipe = make_pipeline(FunctionTransformer(np.sqrt), fast_embedder(loss="binary"))
    assert SiameseVerifier(pipe).fit(X, y).calibration_ == "head"
    # a network beside a linear discriminant, each half of a squared distance
    union = FeatureUnion(
        [
            ("net", make_pipeline(fast_embedder(), DistanceScaler())),
            ("lda", make_pipeline(LinearDiscriminantAnalysis(), DistanceScaler())),
        ],
        transformer_weights={"net": 0.5**0.5, "lda": 0.5**0.5},
    )
    ver = SiameseVerifier(union, random_state=0).fit(X, y)
    assert ver.calibration_ == "sigmoid"
    assert roc_auc_score(same, ver.decision_function(pairs)) > 0.85
    with pytest.raises(ValueError, match="calibration='head' reads"):
        SiameseVerifier(union, calibration="head").fit(X, y)


def test_fit_pairs_through_a_pipeline(rows, test_pairs):
    X, y = rows
    idx, same = balanced_pairs(y, max_pairs=1000, random_state=1)
    pipe = make_pipeline(StandardScaler(), fast_embedder(loss="contrastive"))
    ver = SiameseVerifier(pipe, random_state=0).fit_pairs(as_pairs(X, idx), same)
    scaler = ver.embedder_[0]
    # the step before the embedder learned from the training pairs' samples
    n_train = len(idx) - len(ver.calibration_same_)
    assert 0 < n_train < len(idx)
    assert scaler.n_samples_seen_ == 2 * n_train
    pairs, test_same = test_pairs
    assert roc_auc_score(test_same, ver.decision_function(pairs)) > 0.7
    with pytest.raises(ValueError, match="no fit_pairs method"):
        SiameseVerifier(StandardScaler()).fit_pairs(as_pairs(X, idx), same)


def _nan_rows(X):
    return np.full((len(X), 4), np.nan)


class _Constant(torch.nn.Module):
    """A network whose output is ``value`` whatever the input."""

    def __init__(self, input_shape, embedding_dim, value=0.0):
        super().__init__()
        self.bias = torch.nn.Parameter(torch.zeros(embedding_dim))
        self.value = value

    def forward(self, x):
        return self.bias + self.value + 0 * x[:, :1]


def test_calibration_refuses_a_failed_embedding(rows):
    X, y = rows
    nan = fast(network=_Constant, network_params={"value": float("nan")})
    with pytest.raises(ValueError, match="returned NaN or inf"):  # before training
        nan.fit(X, y)
    # an embedder that fails only on new samples: no calibration on its output
    failing = FrozenEstimator(FunctionTransformer(_nan_rows).fit(X))
    with pytest.raises(ValueError, match="not finite .NaN or inf. .* training failed"):
        SiameseVerifier(failing).fit(X, y)
    flat = fast(network=_Constant, network_params={}, normalize=False, lr=1e-12)
    with pytest.raises(ValueError, match="collapsed"):
        flat.fit(X, y)


def test_grid_search_over_the_default_embedders_parameters(rows):
    X, y = rows
    ver = SiameseVerifier(random_state=0)
    assert ver.get_params()["embedder__margin"] == "auto"
    assert ver.embedder is None  # get_params does not set it
    search = GridSearchCV(
        ver,
        {
            "embedder__margin": [0.05, 0.2],
            "embedder__max_epochs": [1],
            "embedder__device": ["cpu"],
            "threshold": [0.5, "auto"],
        },
        cv=StratifiedKFold(2, shuffle=True, random_state=0),
    )
    search.fit(X, y)
    assert len(search.cv_results_["params"]) == 4
    best = search.best_estimator_
    assert isinstance(best.embedder_, SiameseEmbedder)
    assert best.embedder_.margin == search.best_params_["embedder__margin"]
    assert best.embedder_.max_epochs == 1
    assert ver.embedder is None  # the searched clones got their own
