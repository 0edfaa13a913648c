"""FaceDescriptors: dlib's pretrained face descriptors as feature rows.

dlib and the face_recognition_models weights come with the ``test`` extra.
The photo of Grace Hopper ships with matplotlib; the ORL faces come from
the shared data directory.
"""

import pickle
import sys
import warnings

import matplotlib.cbook as cbook
import matplotlib.pyplot as plt
import numpy as np
import pytest
from sklearn.base import clone
from sklearn.exceptions import NotFittedError
from sklearn.metrics import roc_auc_score

from sksiamese import SiameseVerifier
from sksiamese import features as features_module
from sksiamese.features import FaceDescriptors
from sksiamese.verification import balanced_pairs

pytest.importorskip("dlib", reason="dlib is installed by the test extra")


@pytest.fixture(scope="module")
def hopper():
    """A 600x512 RGB photo of one face, from matplotlib's sample data."""
    with cbook.get_sample_data("grace_hopper.jpg") as f:
        image = plt.imread(f)
    assert image.dtype == np.uint8 and image.shape == (600, 512, 3)
    return image


def _distance(a, b):
    return float(np.linalg.norm(a - b))


def test_one_face_described_alike_under_small_changes(hopper):
    fd = FaceDescriptors().fit(hopper[None])
    assert fd.n_features_in_ == 600 * 512 * 3 and fd.image_shape_ == (600, 512)
    assert fd.n_features_out_ == 128
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a face is found: nothing to warn about
        d = fd.transform(hopper[None])
    assert d.shape == (1, 128) and d.dtype == np.float32 and np.isfinite(d).all()
    assert 0.5 < np.linalg.norm(d) < 2.0
    # the same face mirrored, or darker, stays well inside dlib's 0.6
    mirrored = fd.transform(hopper[None, :, ::-1])
    darker = fd.transform((hopper[None] * 0.6).astype(np.uint8))
    assert _distance(d, mirrored) < 0.35
    assert _distance(d, darker) < 0.35
    # a crop that cuts the face off the eyes down is described differently
    top = np.ascontiguousarray(np.repeat(hopper[None, :150], 4, axis=1))
    with pytest.warns(UserWarning, match="No face was found in 1 of 1"):
        other = fd.transform(top)
    assert _distance(d, other) > 0.6


def test_layouts_and_dtypes_give_the_same_descriptors(hopper):
    gray = hopper.mean(axis=2).astype(np.uint8)
    rgb_gray = np.repeat(gray[:, :, None], 3, axis=2)
    d_gray = FaceDescriptors().fit_transform(gray[None])
    np.testing.assert_array_equal(
        d_gray, FaceDescriptors().fit_transform(rgb_gray[None])
    )
    np.testing.assert_array_equal(
        d_gray, FaceDescriptors().fit_transform(gray[None, :, :, None])
    )
    # floats in [0, 1] are the same pixels as uint8 in [0, 255]
    np.testing.assert_array_equal(
        d_gray, FaceDescriptors().fit_transform(gray[None] / 255.0)
    )
    # a flattened row with input_shape too
    rows = gray.reshape(1, -1)
    np.testing.assert_array_equal(
        d_gray, FaceDescriptors(input_shape=(600, 512)).fit_transform(rows)
    )
    # and the colour photo differs from its gray version, but not by much
    d_rgb = FaceDescriptors().fit_transform(hopper[None])
    assert 0 < _distance(d_rgb, d_gray) < 0.35


def test_no_face_is_warned_raised_or_not_searched_for(hopper):
    blank = np.full((2, 150, 128), 128, dtype=np.uint8)
    small = hopper[::4, ::4]  # 150x128, the face about 60 pixels across
    X = np.stack([small.mean(axis=2).astype(np.uint8), blank[0], blank[1]])
    fd = FaceDescriptors().fit(X)
    with pytest.warns(UserWarning, match=r"2 of 3 images \(positions 1, 2\)"):
        d = fd.transform(X)
    assert np.isfinite(d).all()
    with pytest.raises(ValueError, match=r"No face was found in 2 of 3.*1, 2"):
        FaceDescriptors(no_face="error").fit(X).transform(X)
    # without detection, the whole image is the box, as in the fallback
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        whole = FaceDescriptors(detect=False).fit(X).transform(X)
    np.testing.assert_array_equal(whole[1:], d[1:])
    # at 0 the detector misses the 60-pixel face it finds at 1
    with pytest.warns(UserWarning, match="3 of 3"):
        FaceDescriptors(upsample=0).fit(X).transform(X)


def test_jitters_average_more_views(hopper):
    X = hopper[None, ::2, ::2]
    plain = FaceDescriptors().fit_transform(X)
    jittered = FaceDescriptors(n_jitters=3).fit_transform(X)
    assert 0 < _distance(plain, jittered) < 0.2


def test_clone_pickle_and_names(hopper):
    X = hopper[None, ::2, ::2]
    fd = FaceDescriptors(n_jitters=0).fit(X)
    expected = fd.transform(X)
    restored = pickle.loads(pickle.dumps(fd))
    np.testing.assert_array_equal(restored.transform(X), expected)
    np.testing.assert_array_equal(clone(fd).fit_transform(X), expected)
    names = fd.get_feature_names_out()
    assert len(names) == 128 and names[0] == "face0" and names[-1] == "face127"


def test_bad_input_gets_clear_errors(hopper, tmp_path):
    X = hopper[None, ::2, ::2]
    with pytest.raises(NotFittedError):
        FaceDescriptors().transform(X)
    with pytest.raises(ValueError, match="feature rows"):
        FaceDescriptors().fit(np.zeros((3, 128)))
    with pytest.raises(ValueError, match="4 channels"):
        FaceDescriptors().fit(np.zeros((1, 30, 30, 4), dtype=np.uint8))
    with pytest.raises(ValueError, match="divide pixels in \\[0, 255\\] by 255"):
        FaceDescriptors().fit(X.astype(np.float32)).transform(X.astype(np.float32))
    fd = FaceDescriptors().fit(X)
    with pytest.raises(ValueError, match="shape"):
        fd.transform(hopper[None])
    with pytest.raises(ValueError, match="NaN"):
        FaceDescriptors().fit(np.full((1, 30, 30), np.nan))
    with pytest.raises(ValueError, match="is not a file"):
        FaceDescriptors(model_path=tmp_path / "missing.dat").fit(X)
    with pytest.raises(ValueError, match="no_face"):
        FaceDescriptors(no_face="skip").fit(X)


def test_missing_dlib_says_how_to_install(hopper, monkeypatch):
    monkeypatch.setitem(sys.modules, "dlib", None)  # import dlib now fails
    features_module._face_models.cache_clear()
    try:
        with pytest.raises(ImportError, match=r"pip install 'sksiamese\[faces\]'"):
            FaceDescriptors().fit(hopper[None, ::4, ::4])
    finally:
        features_module._face_models.cache_clear()


def test_unseen_orl_people_verified_on_descriptors(shared_data):
    """20 ORL people: a verifier fitted on the descriptors of 14 tells
    the other 6 apart almost perfectly, at its own threshold."""
    path = shared_data / "orl_faces.npz"
    if not path.is_file():
        pytest.skip(f"{path} is not present")
    data = np.load(path)
    keep = data["target"] < 20
    images, y = data["images"][keep], data["target"][keep]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # a few faces not found
        D = FaceDescriptors().fit_transform(images)
    train = y < 14
    from sksiamese import SiameseEmbedder

    embedder = SiameseEmbedder(
        "linear",  # starts as the identity: the descriptors' distances
        embedding_dim=128,
        loss="triplet",
        miner="semi_hard",
        lr=1e-3,
        device="cpu",
        random_state=0,
    )
    verifier = SiameseVerifier(embedder, calibration_cv=4, random_state=0)
    verifier.fit(D[train], y[train])
    idx, same = balanced_pairs(y[~train], max_pairs=None, random_state=0)
    pairs = np.stack([D[~train][idx[:, 0]], D[~train][idx[:, 1]]], axis=1)
    raw = -np.linalg.norm(pairs[:, 0] - pairs[:, 1], axis=1)
    assert roc_auc_score(same, raw) > 0.99  # the descriptors alone
    assert roc_auc_score(same, verifier.decision_function(pairs)) > 0.99
    assert np.mean(verifier.predict(pairs) == same) > 0.95
    proba = verifier.predict_proba(pairs)[:, 1]
    assert proba[same == 1].mean() > 0.8 > 0.2 > proba[same == 0].mean()


def test_pipeline_from_photos_to_a_classifier(shared_data):
    """Photos in, names out: descriptors, an embedder and 1-NN in a
    Pipeline, cross-validated on the photos of 6 ORL people."""
    path = shared_data / "orl_faces.npz"
    if not path.is_file():
        pytest.skip(f"{path} is not present")
    from sklearn.model_selection import StratifiedKFold, cross_val_score
    from sklearn.neighbors import KNeighborsClassifier
    from sklearn.pipeline import make_pipeline

    from sksiamese import SiameseEmbedder

    data = np.load(path)
    keep = np.isin(data["target"], [0, 5, 12, 21, 30, 33])
    X, y = data["images"][keep], data["target"][keep]
    pipe = make_pipeline(
        FaceDescriptors(detect=False),
        SiameseEmbedder(
            network="linear",
            embedding_dim=128,
            max_epochs=5,
            device="cpu",
            random_state=0,
        ),
        KNeighborsClassifier(n_neighbors=1),
    )
    scores = cross_val_score(
        pipe, X, y, cv=StratifiedKFold(2, shuffle=True, random_state=0)
    )
    assert scores.min() >= 0.9
