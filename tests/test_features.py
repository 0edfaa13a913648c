"""GaborFeatures: fixed Gabor magnitude features of images."""

import pickle

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.decomposition import PCA
from sklearn.discriminant_analysis import LinearDiscriminantAnalysis
from sklearn.exceptions import NotFittedError
from sklearn.metrics import roc_auc_score
from sklearn.pipeline import make_pipeline

from sksiamese.features import GaborFeatures, gabor_kernel
from sksiamese.verification import balanced_pairs


def gratings(n_per_class, angles, size=16, frequency=0.2, seed=0):
    """Sinusoidal stripes, one orientation per class, random phase and
    contrast: the pixels of two images of one class barely correlate."""
    rng = np.random.default_rng(seed)
    y_, x_ = np.mgrid[0:size, 0:size]
    X, y = [], []
    for label, angle in enumerate(angles):
        for _ in range(n_per_class):
            phase = rng.uniform(0, 2 * np.pi)
            along = x_ * np.cos(angle) + y_ * np.sin(angle)
            img = 0.5 + rng.uniform(0.1, 0.4) * np.sin(
                2 * np.pi * frequency * along + phase
            )
            X.append(img + rng.normal(0, 0.02, img.shape))
            y.append(label)
    return np.asarray(X, dtype=np.float32), np.asarray(y)


def test_kernel_has_zero_mean_unit_norm_and_the_stated_frequency():
    k = gabor_kernel(0.25, 0.0)
    assert k.shape[0] == k.shape[1] and k.shape[0] % 2 == 1
    assert abs(k.sum()) < 1e-12
    assert np.abs(k).sum() == pytest.approx(1.0)
    # theta=0: the carrier runs along x, one cycle every 4 pixels
    spectrum = np.abs(np.fft.fft2(k, s=(64, 64)))
    fy, fx = np.unravel_index(np.argmax(spectrum), spectrum.shape)
    assert fy == 0 and fx == 64 * 0.25


def test_shapes_names_and_the_strongest_filter_match_the_stripes():
    X, _ = gratings(2, [0.0], size=24, frequency=0.25)
    gf = GaborFeatures(n_scales=3, n_orientations=4, pool=2, standardize=False)
    F = gf.fit_transform(X)
    assert F.shape == (2, 3 * 4 * 12 * 12) and F.dtype == np.float32
    assert gf.n_features_in_ == 24 * 24 and gf.image_shape_ == (24, 24)
    np.testing.assert_allclose(gf.frequencies_, 0.25 / np.sqrt(2) ** np.arange(3))
    names = gf.get_feature_names_out()
    assert len(names) == F.shape[1] and names[0] == "gabor0_0_0_0"
    # vertical stripes (varying along x) at 0.25 cycles per pixel excite the
    # first scale at orientation 0 most, away from the borders
    energy = F.reshape(2, 3, 4, 12, 12)[:, :, :, 3:9, 3:9].mean(axis=(0, 3, 4))
    assert np.unravel_index(np.argmax(energy), energy.shape) == (0, 0)


def test_standardized_features_ignore_contrast_and_brightness_inside():
    X, _ = gratings(3, [0.3, 1.2], size=32)
    gf = GaborFeatures(n_scales=2, n_orientations=4).fit(X)
    np.testing.assert_allclose(
        gf.transform(0.5 * X), gf.transform(X), rtol=1e-4, atol=1e-4
    )
    raw = GaborFeatures(n_scales=1, n_orientations=4, standardize=False).fit(X)
    np.testing.assert_allclose(
        raw.transform(0.5 * X), 0.5 * raw.transform(X), rtol=1e-4, atol=1e-6
    )
    # zero-mean kernels: a brighter image responds alike wherever the kernel
    # (radius 6 at 0.25 cycles per pixel) stays inside it, and differently
    # near the borders, where the zero padding meets the brightness
    r = gabor_kernel(0.25, 0.0).shape[0] // 2
    shifted = raw.transform(X + 0.3).reshape(len(X), 4, 32, 32)
    plain = raw.transform(X).reshape(len(X), 4, 32, 32)
    inner = (slice(None), slice(None), slice(r, 32 - r), slice(r, 32 - r))
    np.testing.assert_allclose(shifted[inner], plain[inner], atol=1e-5)
    assert np.abs(shifted - plain).max() > 0.01


def test_layouts_agree_rows_images_uint8_and_colour():
    rng = np.random.default_rng(0)
    X8 = rng.integers(0, 256, size=(5, 12, 10), dtype=np.uint8)
    Xf = X8.astype(np.float32) / 255
    gf = GaborFeatures(n_scales=2, n_orientations=3)
    F = gf.fit_transform(Xf)
    np.testing.assert_allclose(gf.fit_transform(X8), F, rtol=1e-4, atol=1e-4)
    rows = GaborFeatures(n_scales=2, n_orientations=3, input_shape=(12, 10))
    np.testing.assert_allclose(rows.fit_transform(Xf.reshape(5, -1)), F, atol=1e-5)
    # colour images: the mean of their channels is filtered
    colour = np.stack([Xf, Xf, Xf], axis=-1)
    np.testing.assert_allclose(gf.fit_transform(colour), F, atol=1e-5)


def test_large_inputs_are_filtered_in_batches(monkeypatch):
    import sksiamese.features as features

    X, _ = gratings(5, [0.0, 1.0])
    gf = GaborFeatures(n_scales=2, n_orientations=2).fit(X)
    whole = gf.transform(X)
    monkeypatch.setattr(features, "_BATCH", 3)
    np.testing.assert_array_equal(gf.transform(X), whole)


def test_gabor_discriminant_separates_unseen_stripe_orientations_pixels_cannot():
    angles = np.linspace(0, np.pi, 12, endpoint=False)
    X, y = gratings(8, angles, seed=1)
    train, test = y % 2 == 0, y % 2 == 1  # every other orientation unseen
    idx, same = balanced_pairs(y[test], max_pairs=None, random_state=0)

    def auc(first_step):
        steps = [first_step] if first_step is not None else []
        model = make_pipeline(
            *steps, PCA(20, whiten=True, random_state=0), LinearDiscriminantAnalysis()
        )
        flat = X.reshape(len(X), -1) if first_step is None else X
        model.fit(flat[train], y[train])
        Z = model.transform(flat[test])
        Z /= np.linalg.norm(Z, axis=1, keepdims=True)
        return roc_auc_score(same, -np.linalg.norm(Z[idx[:, 0]] - Z[idx[:, 1]], axis=1))

    gabor, pixels = auc(GaborFeatures(pool=2)), auc(None)
    assert gabor > 0.9
    assert pixels < 0.75


def test_clone_pickle_set_output_and_params():
    X, _ = gratings(2, [0.0, 1.0])
    gf = GaborFeatures(n_scales=2, n_orientations=2, pool=4).fit(X)
    restored = pickle.loads(pickle.dumps(gf))
    np.testing.assert_array_equal(restored.transform(X), gf.transform(X))
    fresh = clone(gf)
    assert fresh.get_params() == gf.get_params() and not hasattr(fresh, "kernels_")
    frame = GaborFeatures(n_scales=1, n_orientations=2, pool=8).set_output(
        transform="pandas"
    )
    pd = pytest.importorskip("pandas")
    out = frame.fit_transform(X)
    assert isinstance(out, pd.DataFrame)
    assert list(out.columns) == list(frame.get_feature_names_out())


def test_clear_errors():
    X, _ = gratings(2, [0.0])
    with pytest.raises(NotFittedError):
        GaborFeatures().transform(X)
    with pytest.raises(ValueError, match="input_shape"):
        GaborFeatures().fit(X.reshape(len(X), -1))
    with pytest.raises(ValueError, match="pool=20 is larger"):
        GaborFeatures(pool=20).fit(X)
    with pytest.raises(ValueError, match="max_frequency"):
        GaborFeatures(max_frequency=0.7).fit(X)
    with pytest.raises(ValueError, match="expecting 256 features"):
        GaborFeatures().fit(X).transform(X[:, :8])
    bad = X.copy()
    bad[0, 0, 0] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        GaborFeatures().fit(bad)
