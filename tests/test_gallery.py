"""Gallery: enrolment and identification of identities, without retraining."""

import pickle

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.exceptions import NotFittedError
from sklearn.frozen import FrozenEstimator
from sklearn.neighbors import KNeighborsClassifier

from sksiamese import Gallery, SiameseEmbedder, SiameseVerifier


def _verifier(**kw):
    embedder = SiameseEmbedder(
        max_epochs=4,
        embedding_dim=8,
        network_params={"hidden": (64,)},
        batch_size=64,
        device="cpu",
        random_state=0,
    )
    return SiameseVerifier(embedder, random_state=0, **kw)


@pytest.fixture(scope="module")
def rows(digits):
    X, y = digits
    return X.reshape(len(X), -1) / 16.0, y


@pytest.fixture(scope="module")
def verifier(rows):
    """A verifier fitted on the digits 0-6 of the first 400 samples."""
    X, y = rows
    seen = y[:400] < 7
    return _verifier(calibration_holdout="samples").fit(X[:400][seen], y[:400][seen])


@pytest.fixture(scope="module")
def unseen(rows):
    """400 other digits, named by letters; 3 enrolment samples per digit."""
    X, y = rows
    Xd, yd = X[1000:1400], y[1000:1400]
    names = np.array(list("abcdefghij"))[yd]
    enrol = np.concatenate([np.flatnonzero(yd == c)[:3] for c in range(10)])
    queries = np.setdiff1d(np.arange(400), enrol)
    return Xd, names, enrol, queries


def test_enrol_and_identify_unseen_identities(verifier, unseen):
    Xd, names, enrol, queries = unseen
    gallery = Gallery(verifier).fit(Xd[enrol[:15]], names[enrol[:15]])
    assert gallery.verifier_ is verifier  # fitted: used as it is, not retrained
    gallery.enroll(Xd[enrol[15:]], names[enrol[15:]])  # appended
    assert gallery.classes_.tolist() == list("abcdefghij")
    assert len(gallery.enrolled_labels_) == 30
    proba = gallery.identity_proba(Xd[queries])
    assert proba.shape == (len(queries), 10)
    assert np.all((proba >= 0) & (proba <= 1))
    best = gallery.classes_[proba.argmax(axis=1)]
    assert np.mean(best == names[queries]) > 0.5  # 10-way, chance is 0.1
    # identify names the nearest enrolled sample's identity: the best column
    everyone = Gallery(verifier, threshold=0.0, unknown_label="?")
    everyone.fit(Xd[enrol], names[enrol])
    answer = everyone.identify(Xd[queries])
    np.testing.assert_array_equal(answer, best)
    assert answer.dtype.kind == "U"
    assert everyone.predict(Xd[queries]).tolist() == answer.tolist()
    assert everyone.score(Xd[queries], names[queries]) == np.mean(
        answer == names[queries]
    )
    nobody = Gallery(verifier, threshold=1.0, unknown_label="?")
    nobody.fit(Xd[enrol], names[enrol])
    assert np.all(nobody.identify(Xd[queries]) == "?")
    # a threshold between the best probabilities: unknown below it
    cut = float(np.median(proba.max(axis=1)))
    some = Gallery(verifier, threshold=cut, unknown_label="?")
    answer = some.fit(Xd[enrol], names[enrol]).identify(Xd[queries])
    np.testing.assert_array_equal(answer == "?", proba.max(axis=1) < cut)
    assert gallery.threshold_ == verifier.threshold_


def test_distances_are_those_of_the_verifier(verifier, unseen):
    Xd, names, enrol, queries = unseen
    gallery = Gallery(verifier).fit(Xd[enrol], names[enrol])
    d, idx = gallery.kneighbors(Xd[queries[:5]], n_neighbors=3)
    assert d.shape == idx.shape == (5, 3)
    assert np.all(np.diff(d, axis=1) >= 0)
    pairs = np.stack([Xd[queries[:5]], Xd[enrol][idx[:, 0]]], axis=1)
    np.testing.assert_allclose(-verifier.decision_function(pairs), d[:, 0], atol=1e-5)


@pytest.mark.parametrize(
    "first, second",
    [
        ([7, "bob", 2.5], None),
        ([1, 2, 3], ["x", "y", "z"]),
        (np.array([1.5, 2.5, 3.5]), None),
    ],
    ids=["mixed", "ints-then-strings", "floats"],
)
def test_identities_come_back_as_given(verifier, unseen, first, second):
    Xd, _, enrol, _ = unseen
    gallery = Gallery(verifier, threshold=0.0).fit(Xd[enrol[:3]], first)
    expected = first.tolist() if isinstance(first, np.ndarray) else list(first)
    if second is not None:
        gallery.enroll(Xd[enrol[3:6]], second)
        expected += list(second)
    samples = Xd[enrol[: len(expected)]]
    answer = gallery.identify(samples)  # each enrolled sample finds itself
    assert answer.tolist() == expected
    assert [type(a) for a in answer.tolist()] == [type(e) for e in expected]
    back = pickle.loads(pickle.dumps(gallery))
    assert back.identify(samples).tolist() == expected


@pytest.mark.parametrize("labels", [[0, np.nan, 1], [0, None, 1], ["a", None, "b"]])
def test_missing_identities_are_refused(verifier, unseen, labels):
    Xd, _, enrol, _ = unseen
    with pytest.raises(ValueError, match="missing labels .NaN or None."):
        Gallery(verifier).fit(Xd[enrol[:3]], labels)


def test_unknown_label_and_its_dtype(verifier, unseen):
    Xd, names, enrol, queries = unseen
    ints = Gallery(verifier, threshold=1.0).fit(Xd[enrol[:3]], [4, 5, 6])
    assert ints.identify(Xd[queries[:4]]).tolist() == [-1] * 4
    assert ints.identify(Xd[queries[:4]]).dtype.kind == "i"
    none = ints.set_params(unknown_label=None)
    assert none.identify(Xd[queries[:2]]).tolist() == [None] * 2


def test_errors_say_what_to_do(verifier, unseen):
    Xd, names, enrol, queries = unseen
    with pytest.raises(NotFittedError, match="no enrolled samples yet"):
        Gallery(verifier).identify(Xd[:2])
    with pytest.raises(NotFittedError, match="no enrolled samples yet"):
        Gallery(verifier).identity_proba(Xd[:2])
    gallery = Gallery(verifier).fit(Xd[enrol], names[enrol])
    with pytest.raises(ValueError, match="expecting 64 features"):
        gallery.identify(Xd[:2, :10])
    with pytest.raises(ValueError, match="inconsistent numbers of samples"):
        gallery.enroll(Xd[:3], ["a", "b"])
    with pytest.raises(ValueError, match="threshold"):
        Gallery(verifier, threshold=1.5).fit(Xd[enrol], names[enrol])


def test_an_unfitted_verifier_is_fitted_on_the_enrolment_data(rows):
    X, y = rows
    gallery = Gallery(_verifier(), threshold=0.0).fit(X[:300], y[:300])
    assert hasattr(gallery.verifier_, "embedder_")
    assert not hasattr(gallery.verifier, "embedder_")  # a clone was fitted
    # with no threshold, identification is 1-NN in the verifier's embedding
    embed = gallery.verifier_.embedder_.transform
    knn = KNeighborsClassifier(1).fit(embed(X[:300]), y[:300])
    expected = knn.predict(embed(X[300:500]))
    np.testing.assert_array_equal(gallery.identify(X[300:500]), expected)
    assert gallery.score(X[300:500], y[300:500]) == np.mean(expected == y[300:500])
    assert gallery.score(X[300:500], y[300:500]) > 0.5  # 10 classes
    frozen = Gallery(FrozenEstimator(gallery.verifier_)).fit(X[:50], y[:50])
    assert frozen.verifier_.estimator is gallery.verifier_
    # clone (as model selection does) keeps a frozen verifier as it is
    again = clone(frozen).fit(X[:50], y[:50])
    assert again.verifier_.estimator is gallery.verifier_
    np.testing.assert_array_equal(again.identify(X[50:80]), frozen.identify(X[50:80]))
