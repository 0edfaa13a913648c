import copy
import pickle
import sys

import joblib
import numpy as np
import pytest
import torch
from scipy.special import expit
from scipy.stats import norm
from sklearn.base import clone
from sklearn.exceptions import NotFittedError
from sklearn.metrics import accuracy_score, roc_auc_score
from sklearn.model_selection import GridSearchCV, StratifiedKFold, cross_val_score
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import FunctionTransformer

import sksiamese.verification as verification
from sksiamese import SiameseVerifier
from sksiamese.losses import BinaryPairLoss
from sksiamese.mining import all_pairs
from sksiamese.verification import (
    SigmoidCalibrator,
    balanced_pairs,
    choose_threshold,
    make_verification_scorer,
)


def fast(**kw):
    params = dict(
        max_epochs=2,
        embedding_dim=8,
        network_params={"hidden": (64,)},
        batch_size=64,
        device="cpu",
        random_state=0,
    )
    params.update(kw)
    return SiameseVerifier(**params)


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
        lambda v: v.enroll(X, y),
        lambda v: v.identify(X),
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
    assert ver.history_[-1, "train_batch_count"] == int(np.ceil(200 / 64))
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
    head = ver.net_.criterion_
    assert ver.calibration_ == "head"
    assert len(ver.calibration_same_) == 0  # nothing held out
    offset, scale = float(head.offset.detach()), float(head.log_scale.exp().detach())
    assert offset != 1.0 or scale != 5.0
    d = -ver.decision_function(pairs)
    expected = head.probability(torch.as_tensor(d)).detach().numpy()
    np.testing.assert_allclose(ver.predict_proba(pairs)[:, 1], expected, rtol=1e-5)
    with pytest.raises(ValueError, match="calibration='head' needs"):
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
    assert np.all(np.isfinite(ver.history_[:, "valid_loss"]))


@pytest.mark.parametrize(
    "kw, make, match",
    [
        ({}, lambda p, s: (p, s), "triplet loss cannot"),
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


# ---- enrolment ---------------------------------------------------------------


def test_enroll_and_identify_unseen_identities(rows, digits):
    X, y = rows
    seen = y < 7
    ver = fast(max_epochs=4, calibration_holdout="samples").fit(X[seen], y[seen])
    Xd, yd = digits
    Xd = Xd[1000:1400].reshape(400, -1) / 16.0
    yd = yd[1000:1400]
    names = np.array(list("abcdefghij"))[yd]
    gallery = np.concatenate([np.flatnonzero(yd == c)[:3] for c in range(10)])
    queries = np.setdiff1d(np.arange(400), gallery)
    ver.enroll(Xd[gallery[:15]], names[gallery[:15]])
    ver.enroll(Xd[gallery[15:]], names[gallery[15:]])  # appended
    assert list(ver.enrolled_identities_) == list("abcdefghij")
    proba = ver.identity_proba(Xd[queries])
    assert proba.shape == (len(queries), 10)
    assert np.all((proba >= 0) & (proba <= 1))
    best = ver.enrolled_identities_[proba.argmax(axis=1)]
    assert np.mean(best == names[queries]) > 0.5  # 10-way, chance is 0.1
    ver.threshold_ = 1.0  # nobody is known
    assert np.all(ver.identify(Xd[queries], unknown_label="?") == "?")
    ver.threshold_ = 0.0  # everybody is someone
    answer = ver.identify(Xd[queries], unknown_label="?")
    np.testing.assert_array_equal(answer, best)
    assert answer.dtype.kind == "U"
    # a threshold for identification only, between the best probabilities
    top = proba.max(axis=1)
    cut = float(np.median(top))
    answer = ver.identify(Xd[queries], unknown_label="?", threshold=cut)
    np.testing.assert_array_equal(answer == "?", top < cut)
    assert ver.threshold_ == 0.0  # untouched
    with pytest.raises(ValueError, match="threshold must be a probability"):
        ver.identify(Xd[queries], threshold=1.5)
    ver.enroll(Xd[gallery[:3]], yd[gallery[:3]], append=False)
    assert list(ver.enrolled_identities_) == [0]
    ver.threshold_ = 1.0
    assert ver.identify(Xd[queries[:4]]).tolist() == [-1] * 4
    assert ver.identify(Xd[queries[:2]], unknown_label=None).tolist() == [None] * 2
    ver.fit(X[seen], y[seen])
    assert not hasattr(ver, "enrolled_embeddings_")


# ---- scikit-learn composition (as metric-learn checks its pair learners) ------------


def test_clone_and_params(fitted, rows, test_pairs):
    params = fitted.get_params()
    c = clone(fitted)
    assert c.get_params() == params
    assert not hasattr(c, "net_") and not hasattr(c, "threshold_")
    c.set_params(margin=0.4, threshold=0.3, threshold_strategy="eer")
    assert c.margin == 0.4 and c.threshold == 0.3
    with pytest.raises(NotFittedError):
        c.predict(test_pairs[0])
    with pytest.raises(ValueError, match="threshold"):
        clone(fitted).set_params(threshold=1.5).fit(*rows)
    with pytest.raises(ValueError, match="threshold_strategy"):
        clone(fitted).set_params(threshold_strategy="max").fit(*rows)


@pytest.mark.parametrize("how", ["pickle", "joblib"])
def test_pickle_round_trip(fitted, test_pairs, tmp_path, how, rows):
    pairs, _ = test_pairs
    ver = copy.deepcopy(fitted).enroll(rows[0][:20], rows[1][:20])
    if how == "joblib":
        joblib.dump(ver, tmp_path / "v.joblib")
        back = joblib.load(tmp_path / "v.joblib")
    else:
        back = pickle.loads(pickle.dumps(ver))
    np.testing.assert_array_equal(back.predict_proba(pairs), ver.predict_proba(pairs))
    assert back.threshold_ == ver.threshold_
    np.testing.assert_array_equal(
        back.identify(rows[0][20:40]), ver.identify(rows[0][20:40])
    )


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
        {"margin": [0.1, 0.5], "threshold": [0.2, "auto"]},
        cv=StratifiedKFold(2, shuffle=True, random_state=0),
        scoring={
            "accuracy": make_verification_scorer("accuracy"),
            "roc_auc": make_verification_scorer("roc_auc"),
            "eer": make_verification_scorer("neg_eer"),
        },
        refit="accuracy",
    )
    search.fit(X, y)
    assert search.best_params_["margin"] in (0.1, 0.5)
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
    assert best.margin == search.best_params_["margin"]


# ---- quality on real faces -----------------------------------------------------


def _orl_bench(name="bench_verifier_orl"):
    import importlib.util
    from pathlib import Path

    path = Path(__file__).parents[1] / "benchmarks" / f"{name}.py"
    if str(path.parent) not in sys.path:  # the scripts import one another
        sys.path.append(str(path.parent))
    spec = importlib.util.spec_from_file_location(name, path)
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    return bench


def test_plda_scores_rank_unseen_classes_of_mirror_symmetric_images():
    bench = _orl_bench("bench_orl_linear")
    rng = np.random.default_rng(0)
    half = rng.normal(size=(20, 6, 3))
    means = np.concatenate([half, half[:, :, ::-1]], axis=2)  # mirror symmetric
    y = np.repeat(np.arange(20), 10)
    # within-class noise along a few shared directions, larger than the classes
    basis = rng.normal(size=(3, 6, 6))
    X = means[y] + 0.2 * rng.normal(size=(200, 6, 6))
    X += np.einsum("nk,kij->nij", 1.5 * rng.normal(size=(200, 3)), basis)
    train = y < 14
    idx, same = balanced_pairs(y[~train], max_pairs=None, random_state=0)
    plda = bench.plda_scores(X[train], y[train], X[~train], idx, n_components=10)
    raw = -bench.pair_distances(bench.flat(X[~train]), idx)
    assert roc_auc_score(same, plda) > max(0.95, roc_auc_score(same, raw) + 0.1)
    # a log-likelihood ratio of the pair, whichever photo comes first
    swapped = bench.plda_scores(X[train], y[train], X[~train], idx[:, ::-1], 10)
    np.testing.assert_allclose(plda, swapped, rtol=1e-8, atol=1e-8)


def test_orl_linear_benchmark_prints_the_four_blocks(shared_data, capsys):
    bench = _orl_bench("bench_orl_linear")
    bench.main(["--data", str(shared_data / "orl_faces.npz"), "--random", "1"])
    lines = capsys.readouterr().out.splitlines()
    table = {line[:16].strip(): line[16:].split() for line in lines}
    assert all(f"people {10 * b + 1}-{10 * b + 10}" in table for b in range(4))
    raw, fisher, own, gabor, gabor28, lit, plda = map(float, table["four blocks"])
    # the linear models learn from 30 people what raw pixels cannot know
    assert min(fisher, own, gabor, gabor28, lit, plda) > raw + 0.01
    # and rank new faces better on Gabor features than on pixels
    assert min(gabor, gabor28) > fisher
    # and better again with relit copies of the training photos
    assert lit > gabor28 + 0.001  # 0.9883 against 0.9854
    assert "random 10" in table


def _orl_result(shared_data, *options):
    bench = _orl_bench()
    args = bench.parse_args(["--data", str(shared_data / "orl_faces.npz"), *options])
    return bench.evaluate(args)


def test_orl_benchmark_holds_out_the_chosen_ten_people():
    bench = _orl_bench()
    target = np.repeat(np.arange(40), 10)
    assert bench.parse_args([]).unseen == 3  # people 31-40 by default
    # cross-fitted calibration by default, a hold-out with --cv 0
    assert bench.make_verifier(bench.parse_args([])).calibration_cv == 5
    assert bench.make_verifier(bench.parse_args(["--cv", "0"])).calibration_cv is None
    for unseen in range(4):
        train, test = bench.split_people(target, unseen)
        assert np.array_equal(np.unique(target[test]), np.arange(10) + 10 * unseen)
        assert not np.isin(target[train], target[test]).any()
        assert train.sum() == 300 and test.sum() == 100
    with pytest.raises(SystemExit):
        bench.parse_args(["--unseen", "4"])
    # --unseen random: ten people drawn with each seed
    assert bench.parse_args(["--unseen", "random"]).unseen == "random"
    drawn = []
    for seed in (10, 10, 11):
        train, test = bench.split_people(target, "random", seed)
        assert len(np.unique(target[test])) == 10 and test.sum() == 100
        assert not np.isin(target[train], target[test]).any()
        drawn.append(set(np.unique(target[test])))
    assert drawn[0] == drawn[1] and drawn[0] != drawn[2]
    # face descriptors: rows, so no distortions of photos
    assert bench.parse_args([]).augment == "affine+flip+erase"
    assert bench.parse_args(["--features", "dlib"]).augment == "none"
    assert bench.parse_args(["--features", "dlib", "--hidden"]).hidden == []
    for photo_only in (["--augment", "flip"], ["--fisher-features", "gabor"]):
        with pytest.raises(SystemExit):
            bench.parse_args(["--features", "dlib", *photo_only])


@pytest.mark.slow
def test_orl_unseen_people_beat_raw_pixels(shared_data):
    result = _orl_result(shared_data)
    assert result["roc_auc"] >= result["roc_auc_raw"] + 0.03
    # the networks add to the Fisher discriminant beside them
    assert result["roc_auc"] >= result["roc_auc_fisher"] + 0.01
    assert result["roc_auc"] >= 0.98
    assert result["accuracy"] >= 0.85
    assert result["one_shot"] > result["one_shot_raw"] + 0.03
    assert result["brier"] < 0.1


@pytest.mark.slow
def test_orl_mirror_images_reach_the_roc_auc_target(shared_data):
    result = _orl_result(shared_data, "--test-time-augment", "flip")
    assert result["roc_auc"] >= 0.99  # 0.9915-0.9924 over eight seeds
    assert result["roc_auc"] >= result["roc_auc_fisher"] + 0.02
    assert result["accuracy"] >= 0.85
    assert result["one_shot"] > result["one_shot_raw"] + 0.05


@pytest.mark.slow
def test_orl_gabor_discriminant_on_28x23_photos(shared_data):
    # the setting of "Gabor features for the discriminant" in the benchmarks
    result = _orl_result(
        shared_data,
        *("--downsample", "4", "--network-pool", "2", "--fisher-features"),
        *("gabor", "--gabor-pool", "2", "--test-time-augment", "flip"),
    )
    assert result["roc_auc"] >= 0.99  # 0.9909-0.9929 over four seeds
    assert result["accuracy"] >= 0.93  # 0.9422 at seed 0, 0.9300 with pixels
    assert result["one_shot"] > result["one_shot_raw"] + 0.05


@pytest.mark.slow
def test_orl_relit_copies_make_the_discriminant_rank_new_people_better(shared_data):
    # "Gabor + lit copies, 100" of the benchmarks
    result = _orl_result(
        shared_data,
        *("--downsample", "4", "--network-pool", "2", "--fisher-features"),
        *("gabor", "--gabor-pool", "2", "--test-time-augment", "flip"),
        *("--fisher-augment", "flip+lighting", "--fisher-components", "100"),
    )
    # the discriminant alone: 0.9766 without copies (it does not depend on
    # the seed then), 0.9811-0.9864 with them over four seeds
    assert result["roc_auc_discriminant"] >= 0.979
    assert result["roc_auc"] >= 0.99  # 0.9928-0.9945 over four seeds
    assert result["accuracy"] >= 0.90  # 0.9289 at seed 0: see the xfail below
    assert result["one_shot"] > result["one_shot_raw"] + 0.08


@pytest.mark.slow
def test_orl_face_descriptors_reach_the_target(shared_data):
    # "--features dlib" of the benchmarks: the verifier learns on dlib's
    # pretrained face descriptors of the photos of the 30 training people,
    # with its own defaults but for the identity-started linear map
    pytest.importorskip("dlib", reason="dlib is installed by the test extra")
    result = _orl_result(
        shared_data,
        *("--features", "dlib", "--network", "linear", "--n-networks", "1"),
        *("--embedding-dim", "128", "--fisher-weight", "0", "--loss", "triplet"),
        *("--epochs", "20", "--lr", "1e-3", "--m-per-class", "4"),
        *("--batch-size", "128", "--no-cosine"),
    )
    assert result["roc_auc"] >= 0.99
    assert result["accuracy"] >= 0.95
    assert result["fit_cpu"] < 300
    assert result["roc_auc"] > result["roc_auc_fisher"] + 0.02
    # started at the identity, learning from 30 people costs no ranking
    assert result["roc_auc"] >= result["roc_auc_descriptors"]  # 0.9996, 0.9985
    assert result["one_shot"] > result["one_shot_raw"] + 0.1


@pytest.mark.slow
@pytest.mark.xfail(
    strict=True,
    reason="target not reached yet on people 31-40 from the photos alone (it "
    "is with pretrained face descriptors, see the test above): ROC AUC about 0.987 "
    "(0.992 with --test-time-augment flip, also with Gabor features; 0.994 "
    "with relit copies for the discriminant) and accuracy about 0.93 (0.92; "
    "0.936 with Gabor features; 0.927 with relit copies, whose best threshold "
    "on the test pairs would give 0.958); reached when people 1-10 or 21-30 "
    "are the unseen ones, see docs/benchmarks.rst",
)
def test_orl_unseen_people_reach_the_target(shared_data):
    result = _orl_result(shared_data)
    assert result["roc_auc"] >= 0.99
    assert result["accuracy"] >= 0.95


def test_n_networks_calibrates_the_ensemble_distance(rows, test_pairs):
    X, y = rows
    pairs, same = test_pairs
    ver = fast(n_networks=2, max_epochs=3).fit(X, y)
    assert len(ver.nets_) == 2 and ver.embedding_dim_ == 16
    # the calibration pairs were measured with both networks
    single = fast(max_epochs=3).fit(X, y)
    assert not np.allclose(ver.calibration_distances_, single.calibration_distances_)
    d = -ver.decision_function(pairs)
    members = []
    for net in ver.nets_:
        net.module_.eval()
        with torch.inference_mode():
            a = net.module_(torch.as_tensor(pairs[:, 0], dtype=torch.float32))
            b = net.module_(torch.as_tensor(pairs[:, 1], dtype=torch.float32))
        members.append(((a - b) ** 2).sum(1).numpy())
    np.testing.assert_allclose(d**2, np.mean(members, axis=0), rtol=1e-4, atol=1e-6)
    proba = ver.predict_proba(pairs)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0)
    assert np.mean(ver.predict(pairs) == same) > 0.6


def test_fisher_weight_calibrates_the_blended_distance(rows, test_pairs):
    X, y = rows
    pairs, same = test_pairs
    ver = fast(fisher_weight=0.4, max_epochs=3).fit(X, y)
    # one discriminant direction fewer than the classes it was fitted on
    assert ver.embedding_dim_ == 8 + len(ver.fisher_[-1].classes_) - 1
    # calibrated on the blended distance: the decision is minus that distance
    emb = ver._embed(pairs.reshape(-1, 64)).reshape(len(pairs), 2, -1)
    d = np.linalg.norm(emb[:, 0] - emb[:, 1], axis=1)
    np.testing.assert_allclose(-ver.decision_function(pairs), d, rtol=1e-5)
    net_only = fast(max_epochs=3).fit(X, y)
    assert not np.allclose(ver.calibration_distances_, net_only.calibration_distances_)
    proba = ver.predict_proba(pairs)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0)
    assert roc_auc_score(same, proba[:, 1]) > 0.9
    # the hold-out people are not in the final discriminant either
    assert len(ver.fisher_[-1].classes_) < 10


def test_fisher_weight_with_cross_fitting_and_its_errors(rows):
    X, y = rows
    ver = fast(fisher_weight=0.3, calibration_cv=2).fit(X, y)
    assert len(ver.fisher_[-1].classes_) == 10  # the final fit sees every class
    assert len(ver.calibration_distances_) > 0
    # the binary head cannot read a distance that is partly the discriminant's
    auto = fast(loss="binary", fisher_weight=0.3).fit(X, y)
    assert auto.calibration_ == "sigmoid"
    with pytest.raises(ValueError, match="fisher_weight=0.3"):
        fast(loss="binary", fisher_weight=0.3, calibration="head").fit(X, y)
    idx, flags = balanced_pairs(y, max_pairs=200)
    with pytest.raises(ValueError, match="fit_pairs does not have"):
        fast(loss="contrastive", fisher_weight=0.3).fit_pairs(as_pairs(X, idx), flags)


def test_gabor_discriminant_verifies_unseen_stripe_orientations():
    from test_features import gratings

    angles = np.linspace(0, np.pi, 12, endpoint=False)
    X, y = gratings(8, angles, seed=2)
    train, test = y % 2 == 0, y % 2 == 1  # every other orientation unseen
    idx, same = balanced_pairs(y[test], max_pairs=None, random_state=0)
    pairs = as_pairs(X[test], idx)
    aucs = {}
    for features in ("gabor", "pixels"):
        ver = fast(
            network="mlp",
            max_epochs=1,
            fisher_weight=0.9,
            fisher_features=features,
            fisher_components=20,
        ).fit(X[train], y[train])
        aucs[features] = roc_auc_score(same, ver.decision_function(pairs))
        proba = ver.predict_proba(pairs)
        np.testing.assert_allclose(proba.sum(axis=1), 1.0)
    # random phases: pixels of one orientation barely correlate, their
    # Gabor magnitudes do
    assert aucs["gabor"] > 0.95
    assert aucs["pixels"] < 0.8


def test_test_time_flip_calibrates_mirror_invariant_distances(rows, test_pairs):
    X, y = rows
    pairs, same = test_pairs
    ver = fast(network="mlp", test_time_augment="flip", input_shape=(8, 8)).fit(X, y)
    mirrored = pairs.reshape(len(pairs), 2, 8, 8)[..., ::-1].reshape(pairs.shape)
    np.testing.assert_allclose(
        ver.decision_function(mirrored), ver.decision_function(pairs), atol=1e-5
    )
    # the calibration pairs were embedded as the test pairs are
    plain = fast(network="mlp", input_shape=(8, 8)).fit(X, y)
    assert not np.allclose(ver.calibration_distances_, plain.calibration_distances_)
    proba = ver.predict_proba(pairs)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0)
    assert roc_auc_score(same, proba[:, 1]) > 0.8
    # the binary head learned single images' distances
    auto = fast(
        network="mlp", loss="binary", test_time_augment="flip", input_shape=(8, 8)
    ).fit(X, y)
    assert auto.calibration_ == "sigmoid"
    with pytest.raises(ValueError, match="test_time_augment='flip'"):
        fast(
            network="mlp",
            loss="binary",
            calibration="head",
            test_time_augment="flip",
            input_shape=(8, 8),
        ).fit(X, y)


def test_n_networks_with_the_binary_head(rows):
    X, y = rows
    ver = fast(loss="binary", n_networks=2, threshold=0.5).fit(X, y)
    assert ver.calibration_ == "sigmoid"  # one head cannot read a mean distance
    with pytest.raises(ValueError, match="n_networks=2"):
        fast(loss="binary", n_networks=2, calibration="head").fit(X, y)


def test_cosface_verifier_and_fit_pairs(rows, test_pairs):
    X, y = rows
    pairs, same = test_pairs
    ver = fast(loss="cosface", max_epochs=20).fit(X, y)
    assert ver.net_.miner is None and ver.calibration_ == "sigmoid"
    proba = ver.predict_proba(pairs)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0)
    assert roc_auc_score(same, proba[:, 1]) > 0.88  # 0.914 measured
    idx, flags = balanced_pairs(y, max_pairs=200)
    with pytest.raises(ValueError, match="learns a proxy per class"):
        fast(loss="cosface").fit_pairs(as_pairs(X, idx), flags)
