"""RotationClasses: each rotation of each class as a class of its own."""

import pickle

import numpy as np
import pytest
from sklearn.base import BaseEstimator, TransformerMixin, clone
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import make_pipeline

from sksiamese import SiameseEmbedder
from sksiamese.classes import RotationClasses


class Recorder(TransformerMixin, BaseEstimator):
    """An embedder that keeps what it was fitted on, to check the copies."""

    def __init__(self, input_shape=None):
        self.input_shape = input_shape

    def fit(self, X, y):
        self.X_, self.y_ = np.asarray(X), np.asarray(y)
        return self

    def transform(self, X):
        X = np.asarray(X)
        return X.reshape(len(X), -1)[:, :3].astype(float)


def images(n=12, size=5, seed=0):
    rng = np.random.default_rng(seed)
    return rng.integers(0, 256, (n, size, size), dtype=np.uint8)


def test_every_rotation_of_every_class_is_a_class_of_its_own():
    X = images()
    y = np.repeat(["b", "a", "c"], 4)
    model = RotationClasses(Recorder()).fit(X, y)
    inner = model.embedder_
    assert inner.X_.shape == (48, 5, 5)
    for k in range(4):
        np.testing.assert_array_equal(
            inner.X_[12 * k : 12 * (k + 1)], np.rot90(X, k, axes=(1, 2))
        )
    # codes of the classes as given (sorted: a=0, b=1, c=2), times 4, plus the turn
    codes = np.array([1, 1, 1, 1, 0, 0, 0, 0, 2, 2, 2, 2])
    for k in range(4):
        np.testing.assert_array_equal(inner.y_[12 * k : 12 * (k + 1)], codes * 4 + k)
    assert len(np.unique(inner.y_)) == 12
    assert model.classes_.tolist() == ["a", "b", "c"]
    assert model.n_features_in_ == 25
    # transform embeds the images as given, not rotated
    np.testing.assert_array_equal(model.transform(X), inner.transform(X))


def test_angles_choose_the_rotations():
    X = images()
    y = np.repeat([0, 1, 2], 4)
    inner = RotationClasses(Recorder(), angles=(180,)).fit(X, y).embedder_
    assert inner.X_.shape == (24, 5, 5)
    np.testing.assert_array_equal(inner.X_[12:], X[:, ::-1, ::-1])
    np.testing.assert_array_equal(inner.y_[12:], y * 2 + 1)


def test_rows_with_the_embedders_image_shape_and_colour_images():
    X = images(size=4)
    y = np.repeat([0, 1, 2], 4)
    inner = (
        RotationClasses(Recorder(input_shape=(4, 4)))
        .fit(X.reshape(12, 16), y)
        .embedder_
    )
    assert inner.X_.shape == (48, 16)
    np.testing.assert_array_equal(
        inner.X_[12:24], np.rot90(X, 1, axes=(1, 2)).reshape(12, 16)
    )
    colour = np.stack([X, X // 2, X // 3], axis=-1)
    inner = RotationClasses(Recorder(), angles=(90,)).fit(colour, y).embedder_
    np.testing.assert_array_equal(inner.X_[12:], np.rot90(colour, 1, axes=(1, 2)))


@pytest.mark.parametrize(
    "X, kwargs, match",
    [
        (np.zeros((12, 5, 4)), {}, "square images or angles=\\(180,\\)"),
        (np.zeros((12, 25)), {}, "needs images"),
        (["a.png"] * 12, {}, "file paths"),
        (np.zeros((12, 5, 5)), {"angles": (45,)}, "among 90, 180 and 270"),
        (np.zeros((12, 5, 5)), {"angles": (90, 90)}, "distinct"),
        (np.zeros((12, 5, 5)), {"angles": ()}, "angles"),
    ],
)
def test_bad_input_is_refused_clearly(X, kwargs, match):
    with pytest.raises(ValueError, match=match):
        RotationClasses(Recorder(), **kwargs).fit(X, np.repeat([0, 1, 2], 4))


def test_rows_that_do_not_match_the_image_shape_are_refused():
    with pytest.raises(ValueError, match="16 features per row.*input_shape=\\(5, 5\\)"):
        RotationClasses(Recorder(input_shape=(5, 5))).fit(
            np.zeros((12, 16)), np.repeat([0, 1, 2], 4)
        )


def test_labels_are_checked_as_the_embedder_checks_them():
    with pytest.raises(ValueError, match="only 1 sample"):
        RotationClasses(Recorder()).fit(images(3), [0, 1, 1])
    with pytest.raises(ValueError, match="3 samples but y has 2"):
        RotationClasses(Recorder()).fit(images(3), [0, 1])


def test_an_unfitted_model_says_so():
    from sklearn.exceptions import NotFittedError

    with pytest.raises(NotFittedError):
        RotationClasses(Recorder()).transform(images())


def test_with_a_siamese_embedder_it_clones_pickles_and_searches():
    X = images(24, size=8)
    y = np.repeat(np.arange(6), 4)
    emb = SiameseEmbedder(max_epochs=1, batch_size=16, embedding_dim=4, random_state=0)
    model = RotationClasses(emb)
    assert clone(model).get_params()["embedder__max_epochs"] == 1
    model.fit(X, y)
    assert model.embedder_ is not emb and not hasattr(emb, "net_")
    assert len(model.embedder_.classes_) == 24
    Z = model.transform(X)
    assert Z.shape == (24, 4)
    again = pickle.loads(pickle.dumps(model))
    np.testing.assert_allclose(again.transform(X), Z, rtol=1e-5, atol=1e-6)
    np.testing.assert_array_equal(
        model.get_feature_names_out(), model.embedder_.get_feature_names_out()
    )


def test_the_default_embedder_is_a_siamese_embedder():
    model = RotationClasses(angles=(180,)).fit(
        images(12, size=8), np.repeat([0, 1, 2], 4)
    )
    assert type(model.embedder_) is SiameseEmbedder
    assert model.embedder_.get_params() == SiameseEmbedder().get_params()
    assert len(model.embedder_.classes_) == 6


def test_in_a_search_over_the_embedders_parameters():
    from sklearn.neighbors import KNeighborsClassifier

    X = images(36, size=8)
    y = np.repeat(np.arange(6), 6)
    emb = SiameseEmbedder(max_epochs=1, batch_size=16, embedding_dim=4, random_state=0)
    pipe = make_pipeline(RotationClasses(emb), KNeighborsClassifier(1))
    search = GridSearchCV(
        pipe, {"rotationclasses__embedder__embedding_dim": [2, 4]}, cv=2
    )
    search.fit(X, y)
    assert search.best_estimator_[0].embedder_.embedding_dim_ in (2, 4)
