"""Saving fitted estimators without pickle, and loading them safely."""

import io
import json
import pickle
import zipfile

import numpy as np
import pytest
import torch
from sklearn.discriminant_analysis import LinearDiscriminantAnalysis
from sklearn.frozen import FrozenEstimator
from sklearn.pipeline import FeatureUnion, make_pipeline
from sklearn.preprocessing import StandardScaler

from sksiamese import SiameseEmbedder, SiameseVerifier
from sksiamese.networks import MLP
from sksiamese.persistence import load_model, save_model
from sksiamese.preprocessing import DistanceScaler, Flatten


def fast(**kw):
    params = dict(max_epochs=2, embedding_dim=8, device="cpu", random_state=0)
    params.update(kw)
    return SiameseEmbedder(**params)


@pytest.fixture(scope="module")
def rows(small_digits):
    X, y = small_digits
    return X.reshape(len(X), -1) / 16.0, y


def _round_trip(est, tmp_path, name="model.zip"):
    path = tmp_path / name
    save_model(est, path)
    return load_model(path)


@pytest.mark.parametrize(
    "params",
    [{}, {"network": "mlp", "validation_fraction": 0.2}, {"loss": "cosface"}],
    ids=["conv", "mlp-valid", "cosface"],
)
def test_embedder_round_trip_gives_identical_embeddings(small_digits, tmp_path, params):
    X, y = small_digits
    emb = fast(**params).fit(X, y)
    back = _round_trip(emb, tmp_path)
    np.testing.assert_array_equal(back.transform(X), emb.transform(X))
    assert back.get_params() == emb.get_params()
    assert back.classes_.tolist() == emb.classes_.tolist()
    assert back.sample_shape_ == emb.sample_shape_ == (8, 8)
    assert back.n_iter_ == emb.n_iter_ == len(back.history_)
    np.testing.assert_allclose(
        back.history_[:, "train_loss"], emb.history_[:, "train_loss"]
    )


def test_labels_keep_their_types(small_digits, tmp_path):
    X, _ = small_digits
    labels = [7, "bob", 2.5, 7, "bob", 2.5]
    emb = fast(max_epochs=1, m_per_class=2, batch_size=8).fit(X[:6], labels)
    back = _round_trip(emb, tmp_path)
    assert back.classes_.tolist() == [7, "bob", 2.5]
    assert [type(c) for c in back.classes_.tolist()] == [int, str, float]


def test_unfitted_estimators_round_trip(tmp_path):
    emb = fast(network="mlp", network_params={"hidden": (32,)})
    back = _round_trip(emb, tmp_path)
    assert back.get_params() == emb.get_params()
    assert not hasattr(back, "net_")
    ver = _round_trip(SiameseVerifier(emb, threshold=0.4), tmp_path, "v.zip")
    assert ver.threshold == 0.4 and ver.embedder.get_params() == emb.get_params()


@pytest.mark.parametrize("calibration", ["sigmoid", "isotonic", "head"])
def test_verifier_round_trip_gives_identical_answers(rows, tmp_path, calibration):
    X, y = rows
    loss = "binary" if calibration == "head" else "multi_similarity"
    ver = SiameseVerifier(
        fast(network="mlp", loss=loss), calibration=calibration, random_state=0
    ).fit(X, y)
    pairs = np.stack([X[:50], X[50:100]], axis=1)
    back = _round_trip(ver, tmp_path)
    np.testing.assert_array_equal(back.predict_proba(pairs), ver.predict_proba(pairs))
    np.testing.assert_array_equal(back.predict(pairs), ver.predict(pairs))
    assert back.threshold_ == ver.threshold_ and back.calibration_ == calibration
    assert back.score(X, y) == ver.score(X, y)


def test_composed_embedders_round_trip(rows, tmp_path):
    X, y = rows
    union = FeatureUnion(
        [
            ("net", make_pipeline(fast(network="mlp"), DistanceScaler())),
            ("lda", make_pipeline(LinearDiscriminantAnalysis(), DistanceScaler())),
        ],
        transformer_weights={"net": 0.8, "lda": 0.6},
    )
    pairs = np.stack([X[:50], X[50:100]], axis=1)
    for embedder in (
        union,
        make_pipeline(StandardScaler(), Flatten(), fast(network="mlp")),
        FrozenEstimator(fast(network="mlp").fit(X, y)),
    ):
        ver = SiameseVerifier(embedder, random_state=0).fit(X, y)
        back = _round_trip(ver, tmp_path)
        np.testing.assert_allclose(
            back.predict_proba(pairs), ver.predict_proba(pairs), rtol=0, atol=1e-12
        )


def test_what_is_not_plain_data_is_refused_at_save(small_digits, tmp_path):
    X, y = small_digits
    with pytest.raises(ValueError, match="parameter network is .*not plain data"):
        save_model(fast(network=MLP).fit(X.reshape(len(X), -1), y), tmp_path / "m")
    with pytest.raises(ValueError, match="callbacks"):
        save_model(fast(callbacks=[object()]), tmp_path / "m")
    with pytest.raises(ValueError, match="cannot be saved without pickle"):
        save_model(make_pipeline(_Unknown(), fast()), tmp_path / "m")


class _Unknown:
    def fit(self, X, y=None):
        return self

    def transform(self, X):
        return X

    def get_params(self, deep=True):
        return {}


def test_loader_refuses_pickles_and_tampered_files(small_digits, tmp_path):
    X, y = small_digits
    emb = fast(max_epochs=1).fit(X, y)
    pickled = tmp_path / "model.pkl"
    pickled.write_bytes(pickle.dumps(emb))
    with pytest.raises(ValueError, match="not a model file .* pickles above all"):
        load_model(pickled)
    good = tmp_path / "model.zip"
    save_model(emb, good)
    with zipfile.ZipFile(good) as archive:
        tree = json.loads(archive.read("model.json"))
        blob = archive.read("tensors.pt")

    def write(name, tree=tree, blob=blob, extra=None):
        path = tmp_path / name
        with zipfile.ZipFile(path, "w") as archive:
            archive.writestr("model.json", json.dumps(tree))
            archive.writestr("tensors.pt", blob)
            if extra:
                archive.writestr(extra, b"")
        return path

    with pytest.raises(ValueError, match="it holds"):
        load_model(write("extra.zip", extra="payload.pkl"))
    evil = json.loads(json.dumps(tree))
    evil["estimator"]["class"] = "posix.system"
    with pytest.raises(ValueError, match="class 'posix.system'"):
        load_model(write("class.zip", tree=evil))
    buffer = io.BytesIO()
    torch.save({"t0": _Unknown()}, buffer)  # an object, not a tensor
    with pytest.raises(ValueError, match="holds more than tensors"):
        load_model(write("object.zip", blob=buffer.getvalue()))
    old = dict(tree, version=99)
    with pytest.raises(ValueError, match="format version 99"):
        load_model(write("version.zip", tree=old))


def test_a_gpu_fit_loads_on_the_cpu(small_digits, tmp_path):
    X, y = small_digits
    emb = fast(max_epochs=1).fit(X, y)
    path = tmp_path / "model.zip"
    save_model(emb, path)
    with zipfile.ZipFile(path) as archive:
        tree = json.loads(archive.read("model.json"))
        blob = archive.read("tensors.pt")
    tree["estimator"]["fitted"]["device_"] = "cuda"  # as a GPU fit writes it
    moved = tmp_path / "gpu.zip"
    with zipfile.ZipFile(moved, "w") as archive:
        archive.writestr("model.json", json.dumps(tree))
        archive.writestr("tensors.pt", blob)
    if torch.cuda.is_available():
        pytest.skip("a GPU is here: the CPU-only path is not taken")
    back = load_model(moved)
    assert back.device_ == "cpu"
    np.testing.assert_array_equal(back.transform(X), emb.transform(X))
    assert load_model(path, device="cpu").device_ == "cpu"


def test_gallery_round_trip_identifies_the_same(rows, tmp_path):
    from sksiamese import Gallery

    X, y = rows
    names = np.array(["zero", 1, 2.5, "three", 4, 5, 6, 7, 8, 9], dtype=object)
    ver = SiameseVerifier(fast(network="mlp"), random_state=0).fit(X, y)
    gallery = Gallery(ver, unknown_label="?").fit(X[:60], names[y[:60]])
    gallery.enroll(X[60:80], names[y[60:80]])
    back = _round_trip(gallery, tmp_path)
    np.testing.assert_array_equal(back.identify(X[80:]), gallery.identify(X[80:]))
    np.testing.assert_array_equal(
        back.identity_proba(X[80:]), gallery.identity_proba(X[80:])
    )
    assert back.classes_.tolist() == gallery.classes_.tolist()
    assert [type(c) for c in back.classes_] == [type(c) for c in gallery.classes_]


def test_a_loaded_embedder_trains_on_with_warm_start(small_digits, tmp_path):
    X, y = small_digits
    emb = fast(network="mlp", warm_start=True).fit(X, y)
    back = _round_trip(emb, tmp_path)
    before = back.transform(X)
    back.fit(X, y)  # goes on from the saved weights, with a fresh optimiser
    assert back.n_iter_ == 4
    assert not np.allclose(back.transform(X), before, atol=1e-4)


def test_weights_of_another_default_network_are_refused_clearly(small_digits, tmp_path):
    # a file saved when ConvNet's defaults were two stages and a dense layer:
    # its parameters name no network_params, its weights are of that network
    X, y = small_digits
    old = fast(max_epochs=1, network_params={"channels": (32, 64), "hidden": 128})
    path = tmp_path / "old.zip"
    save_model(old.fit(X, y), path)
    with zipfile.ZipFile(path) as archive:
        tree = json.loads(archive.read("model.json"))
        blob = archive.read("tensors.pt")
    tree["estimator"]["params"]["network_params"] = None
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("model.json", json.dumps(tree))
        archive.writestr("tensors.pt", blob)
    with pytest.raises(
        ValueError, match="do not fit the network.*channels=\\(32, 64\\)"
    ):
        load_model(path)
    # naming them in full loads across the change
    np.testing.assert_array_equal(
        _round_trip(old, tmp_path).transform(X), old.transform(X)
    )


def test_rotation_classes_round_trip(small_digits, tmp_path):
    from sksiamese.classes import RotationClasses

    X, y = small_digits
    model = RotationClasses(fast(max_epochs=1), angles=(180,)).fit(X, y)
    back = _round_trip(model, tmp_path)
    assert type(back) is RotationClasses and back.angles == (180,)
    np.testing.assert_array_equal(back.transform(X), model.transform(X))
    np.testing.assert_array_equal(back.classes_, model.classes_)
    assert back.get_params()["embedder__max_epochs"] == 1
    unfitted = _round_trip(RotationClasses(), tmp_path, "unfitted.zip")
    assert unfitted.embedder is None and not hasattr(unfitted, "embedder_")
