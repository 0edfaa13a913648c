"""Image files and memmaps as samples: read a batch at a time, results as
with the decoded array, whatever the number of workers."""

import pickle

import numpy as np
import pytest
from PIL import Image
from sklearn.base import clone
from sklearn.datasets import load_digits
from sklearn.model_selection import GridSearchCV, cross_val_score
from sklearn.neighbors import KNeighborsClassifier
from sklearn.pipeline import make_pipeline

import sksiamese._data
from sksiamese import ImageReader, SiameseEmbedder, SiameseVerifier
from sksiamese.evaluation import one_shot_evaluate
from sksiamese.images import ImageFiles
from sksiamese.persistence import load_model, save_model

# ---- data: digits as PNG files --------------------------------------------


@pytest.fixture(scope="module")
def digit_images():
    """120 digits as uint8 8x8 images, 12 per class (read-only)."""
    d = load_digits()
    idx = np.concatenate([np.flatnonzero(d.target == c)[:12] for c in range(10)])
    X = (d.images[idx] * 15).astype(np.uint8)
    y = d.target[idx]
    X.setflags(write=False)
    y.setflags(write=False)
    return X, y


@pytest.fixture(scope="module")
def digit_files(digit_images, tmp_path_factory):
    """The same digits written as grayscale PNG files."""
    X, _ = digit_images
    root = tmp_path_factory.mktemp("digits")
    paths = []
    for i, img in enumerate(X):
        path = root / f"{i:03d}.png"
        Image.fromarray(img).save(path)
        paths.append(path)
    return paths


def fast(**kw):
    params = dict(embedding_dim=8, max_epochs=2, device="cpu", random_state=0)
    return SiameseEmbedder(**{**params, **kw})


def save(path, pixels, **kw):
    Image.fromarray(pixels).save(path, **kw)
    return path


# ---- fitting from files is fitting from the decoded array ------------------


@pytest.mark.parametrize("num_workers", [0, 2])
def test_fit_on_paths_equals_fit_on_array(digit_images, digit_files, num_workers):
    X, y = digit_images
    expected = fast().fit(X, y).transform(X)
    emb = fast(num_workers=num_workers).fit(digit_files, y)
    assert emb.sample_shape_ == (8, 8) and emb.n_features_in_ == 64
    np.testing.assert_array_equal(emb.transform(X), expected)
    np.testing.assert_array_equal(emb.transform(digit_files), expected)


def test_paths_as_str_array_and_list_of_str(digit_images, digit_files):
    X, y = digit_images
    emb = fast(max_epochs=1).fit(X, y)
    as_str = [str(p) for p in digit_files]
    expected = emb.transform(X)
    np.testing.assert_array_equal(emb.transform(as_str), expected)
    np.testing.assert_array_equal(emb.transform(np.array(as_str)), expected)
    np.testing.assert_array_equal(emb.transform(np.array(as_str, object)), expected)


def test_workers_do_not_change_colour_augmented_training(tmp_path):
    rng = np.random.default_rng(0)
    X = rng.integers(0, 256, (24, 12, 12, 3), dtype=np.uint8)
    y = np.repeat(np.arange(4), 6)
    paths = [save(tmp_path / f"{i}.png", x) for i, x in enumerate(X)]
    kw = dict(augment="crop", batch_size=12, validation_fraction=0.25)
    a = fast(**kw).fit(X, y)
    b = fast(num_workers=2, **kw).fit(paths, y)
    np.testing.assert_array_equal(a.transform(X), b.transform(paths))
    np.testing.assert_array_equal(
        a.history_[:, "valid_loss"], b.history_[:, "valid_loss"]
    )


def test_fit_pairs_on_path_pairs_equals_array_pairs(digit_images, digit_files):
    X, y = digit_images
    index = np.arange(len(X)).reshape(-1, 2)
    same = (y[index[:, 0]] == y[index[:, 1]]).astype(int)
    same[:5] = 1 - same[:5]  # both kinds of pair
    file_pairs = np.array(digit_files, dtype=object)[index]
    kw = dict(loss="contrastive")
    a = fast(**kw).fit_pairs(X[index], same)
    b = fast(num_workers=2, **kw).fit_pairs(file_pairs, same)
    np.testing.assert_array_equal(a.transform(X), b.transform(digit_files))


# ---- memmaps: read a batch at a time ---------------------------------------


class SpyMemmap(np.memmap):
    """A memmap that records how many rows each read takes."""

    reads = []

    def __getitem__(self, key):
        out = super().__getitem__(key)
        if np.ndim(out) >= 2:
            SpyMemmap.reads.append(len(out))
        return out


def test_memmap_fits_and_transforms_a_batch_at_a_time(
    digit_images, tmp_path, monkeypatch
):
    X, y = digit_images
    path = tmp_path / "digits.u8"
    X.tofile(path)
    mm = SpyMemmap(path, dtype=np.uint8, mode="r", shape=X.shape)
    checked = []

    def no_whole_memmap(array, *args, **kwargs):
        checked.append(isinstance(array, np.memmap))
        return check_array(array, *args, **kwargs)

    check_array = sksiamese._data.check_array
    monkeypatch.setattr(sksiamese._data, "check_array", no_whole_memmap)
    SpyMemmap.reads = []
    emb = fast(batch_size=16, m_per_class=4).fit(mm, y)
    Z = emb.transform(mm)
    assert not any(checked)  # never validated (read) as a whole
    assert SpyMemmap.reads and max(SpyMemmap.reads) <= 256 < len(X) * 3
    expected = fast(batch_size=16, m_per_class=4).fit(X, y)
    np.testing.assert_array_equal(Z, expected.transform(X))


def test_float_memmap_with_nan_is_refused_when_read(tmp_path):
    X = np.random.default_rng(0).random((20, 8, 8), dtype=np.float32)
    X[7, 3, 3] = np.nan
    mm = np.memmap(tmp_path / "x.f4", dtype=np.float32, mode="w+", shape=X.shape)
    mm[:] = X
    y = np.repeat(np.arange(4), 5)
    with pytest.raises(ValueError, match="NaN or infinite"):
        fast(max_epochs=1).fit(mm, y)


def test_memmap_with_workers_and_verifier_holdout(digit_images, tmp_path):
    X, y = digit_images
    path = tmp_path / "digits.u8"
    X.tofile(path)
    mm = np.memmap(path, dtype=np.uint8, mode="r", shape=X.shape)
    ver = SiameseVerifier(fast(num_workers=2, max_epochs=1), random_state=0)
    ref = SiameseVerifier(fast(max_epochs=1), random_state=0).fit(X, y)
    ver.fit(mm, y)
    pairs = np.stack([X[:10], X[10:20]], axis=1)
    np.testing.assert_array_equal(ver.predict_proba(pairs), ref.predict_proba(pairs))


def test_sample_sets_pickle_a_memmap_by_its_file(digit_images, tmp_path):
    from sksiamese._training import SampleSet

    X, y = digit_images
    path = tmp_path / "digits.u8"
    X.tofile(path)
    mm = np.memmap(path, dtype=np.uint8, mode="r", shape=X.shape)
    train = SampleSet(mm, y, np.arange(len(y)), (1, 8, 8), "batches", 0)
    blob = pickle.dumps(train)
    assert len(blob) < X.nbytes  # the file's name, not its data
    back = pickle.loads(blob)
    np.testing.assert_array_equal(np.asarray(back.X), X)


# ---- the decoding rule -----------------------------------------------------


def test_reader_sizes_by_crop_pad_and_stretch(tmp_path):
    wide = np.zeros((20, 40), np.uint8)
    wide[:, 10:30] = 255  # a white centre band, half the width
    path = save(tmp_path / "wide.png", wide)
    crop = ImageReader(size=10, fit="crop").read(path)
    pad = ImageReader(size=10, fit="pad").read(path)
    stretch = ImageReader(size=10, fit="stretch").read(path)
    assert crop.shape == pad.shape == stretch.shape == (10, 10)
    assert crop[:, 1:-1].min() == 255 and crop.min() > 200  # the centre band
    assert (pad[:2] == 0).all() and (pad[-2:] == 0).all()  # black bars
    assert 100 < pad[5].mean() < 155 and 100 < stretch.mean() < 155
    same = ImageReader(size=(20, 40)).read(path)
    np.testing.assert_array_equal(same, wide)  # the right size: untouched


def test_reader_applies_exif_orientation(tmp_path):
    pixels = np.zeros((10, 30, 3), np.uint8)
    exif = Image.Exif()
    exif[0x0112] = 6  # taken rotated: display turned 90 degrees
    path = tmp_path / "photo.jpg"
    Image.fromarray(pixels).save(path, exif=exif)
    assert ImageReader().read(path).shape == (30, 10, 3)


def test_mixed_gray_and_colour_files_take_one_mode(tmp_path):
    gray = np.tile(np.arange(0, 240, 20, dtype=np.uint8), (12, 1))
    colour = np.zeros((12, 12, 3), np.uint8)
    colour[..., 0] = 200  # red
    paths = [save(tmp_path / "g.png", gray), save(tmp_path / "c.png", colour)]
    rgb = ImageFiles(np.array(paths, object), ImageReader(12, mode="RGB"))[:]
    assert rgb.shape == (2, 12, 12, 3)
    np.testing.assert_array_equal(rgb[0], np.repeat(gray[..., None], 3, axis=2))
    luma = ImageFiles(np.array(paths, object), ImageReader(12, mode="L"))[:]
    assert luma.shape == (2, 12, 12)
    assert luma[1, 0, 0] == np.asarray(Image.fromarray(colour).convert("L"))[0, 0]
    # an unset mode is that of the first training file
    y = [0, 1] * 4
    emb = fast(max_epochs=1, batch_size=8, m_per_class=2)
    assert emb.fit([paths[0], paths[1]] * 4, y).sample_shape_ == (12, 12)
    assert emb.fit([paths[1], paths[0]] * 4, y).sample_shape_ == (12, 12, 3)


def test_transparent_and_16_bit_images(tmp_path):
    rgba = np.zeros((4, 4, 4), np.uint8)
    rgba[..., :3] = 255
    rgba[:2, :, 3] = 255  # top half opaque white, bottom half transparent
    read = ImageReader(mode="L").read(save(tmp_path / "a.png", rgba))
    assert (read[:2] == 255).all() and (read[2:] == 0).all()  # over black
    deep = np.full((4, 4), 65535, np.uint16)
    deep[0] = 0
    read = ImageReader().read(save(tmp_path / "deep.png", deep))
    assert read.dtype == np.uint8 and read.max() == 255 and read[0].max() == 0


def test_files_of_any_size_are_read_to_the_reader_size(tmp_path):
    rng = np.random.default_rng(0)
    sizes = [(20, 30), (31, 17), (16, 16), (50, 40)] * 4
    paths = [
        save(tmp_path / f"{i}.png", rng.integers(0, 256, (*s, 3), dtype=np.uint8))
        for i, s in enumerate(sizes)
    ]
    y = np.repeat(np.arange(4), 4)
    emb = fast(max_epochs=1, input_shape=ImageReader(size=(16, 24)), batch_size=8)
    emb.fit(paths, y)
    assert emb.sample_shape_ == (16, 24, 3)
    assert emb.transform(paths[:3]).shape == (3, 8)


def test_reader_parameters_are_checked():
    with pytest.raises(ValueError, match="size"):
        ImageReader(size=(0, 3))
    with pytest.raises(ValueError, match="mode"):
        ImageReader(mode="CMYK")
    with pytest.raises(ValueError, match="fit"):
        ImageReader(fit="zoom")
    with pytest.raises(ValueError, match="no parameter"):
        ImageReader().set_params(sizes=3)


# ---- bad files: errors that name them --------------------------------------


@pytest.mark.parametrize("num_workers", [0, 2])
def test_unreadable_file_is_named(digit_images, digit_files, tmp_path, num_workers):
    X, y = digit_images
    bad = tmp_path / "broken.png"
    bad.write_bytes(b"not an image at all")
    paths = [*digit_files[:-1], bad]
    with pytest.raises(ValueError, match=r"broken\.png.*PIL cannot identify"):
        fast(max_epochs=1, num_workers=num_workers).fit(paths, y)


def test_truncated_file_is_named(digit_images, digit_files, tmp_path):
    X, y = digit_images
    data = digit_files[5].read_bytes()
    cut = tmp_path / "cut.png"
    cut.write_bytes(data[: len(data) // 2])
    emb = fast(max_epochs=1).fit(X, y)
    with pytest.raises(ValueError, match=r"cut\.png.*damaged, truncated"):
        emb.transform([digit_files[0], cut])


def test_missing_files_are_listed_before_training(digit_images, digit_files):
    _, y = digit_images
    paths = [*digit_files[:-2], "nowhere/a.png", "nowhere/b.png"]
    with pytest.raises(ValueError, match="2 file.*'nowhere/a.png'"):
        fast().fit(paths, y)


def test_paths_mixed_with_other_values_are_refused(digit_files):
    with pytest.raises(ValueError, match=r"mixes file paths.*X\[1\]"):
        fast().fit([digit_files[0], 3.0], [0, 1])


def test_files_and_arrays_of_other_shapes(digit_images, digit_files):
    X, y = digit_images
    emb = fast(max_epochs=1).fit(digit_files, y)
    with pytest.raises(ValueError, match=r"had shape \(8, 8\) in fit"):
        emb.transform(X[:, :4, :4])
    rows = fast(max_epochs=1, input_shape=(8, 8)).fit(X.reshape(len(X), -1), y)
    np.testing.assert_array_equal(
        rows.transform(digit_files), rows.transform(X.reshape(len(X), -1))
    )


def test_a_shape_as_input_shape_reads_files_to_it(digit_images, digit_files):
    X, y = digit_images
    emb = fast(max_epochs=1, input_shape=(12, 12, 3)).fit(digit_files, y)
    assert emb.sample_shape_ == (12, 12, 3)
    emb = fast(max_epochs=1, input_shape=(8, 8)).fit(digit_files, y)
    np.testing.assert_array_equal(emb.transform(digit_files), emb.transform(X))
    with pytest.raises(ValueError, match=r"input_shape=\(8, 8, 4\) cannot be"):
        fast(input_shape=(8, 8, 4)).fit(digit_files, y)


# ---- scikit-learn's tools split paths as they split arrays -----------------


def test_pipeline_cross_validation_and_grid_search_on_paths(digit_images, digit_files):
    _, y = digit_images
    paths = [str(p) for p in digit_files]
    pipe = make_pipeline(fast(max_epochs=1), KNeighborsClassifier(1))
    scores = cross_val_score(pipe, paths, y, cv=2)
    assert scores.shape == (2,) and np.all(scores > 0.1)
    grid = {"siameseembedder__input_shape": [None, ImageReader(size=12)]}
    search = GridSearchCV(pipe, grid, cv=2).fit(np.array(paths, object), y)
    assert search.best_estimator_[0].sample_shape_ in [(8, 8), (12, 12)]


def test_reader_is_a_parameter_like_any_other(digit_images, digit_files, tmp_path):
    X, y = digit_images
    emb = fast(max_epochs=1, input_shape=ImageReader(size=8, mode="L"))
    copy = clone(emb)
    assert copy.input_shape == emb.input_shape
    assert copy.input_shape is not emb.input_shape
    copy.set_params(input_shape__size=10)
    assert copy.input_shape.size == 10 and emb.input_shape.size == 8
    emb.fit(digit_files, y)
    back = pickle.loads(pickle.dumps(emb))
    np.testing.assert_array_equal(back.transform(digit_files), emb.transform(X))
    save_model(emb, tmp_path / "model.zip")
    loaded = load_model(tmp_path / "model.zip")
    assert loaded.input_shape == emb.input_shape
    np.testing.assert_array_equal(
        loaded.transform(digit_files), emb.transform(digit_files)
    )


# ---- the verifier, the gallery and the evaluation on paths -----------------


def test_verifier_on_paths_and_pairs_of_paths(digit_images, digit_files):
    X, y = digit_images
    files = np.array([str(p) for p in digit_files], dtype=object)
    kw = dict(random_state=0, calibration_holdout="samples")
    on_array = SiameseVerifier(fast(max_epochs=1), **kw).fit(X, y)
    on_files = SiameseVerifier(fast(max_epochs=1, num_workers=2), **kw).fit(files, y)
    assert on_files.sample_shape_ == ()
    index = np.arange(40).reshape(20, 2)
    np.testing.assert_allclose(
        on_files.predict_proba(files[index]), on_array.predict_proba(X[index])
    )
    as_lists = [[digit_files[i], digit_files[j]] for i, j in index]
    np.testing.assert_array_equal(
        on_files.predict(as_lists), on_array.predict(X[index])
    )
    assert 0 <= on_files.score(files, y) <= 1
    with pytest.raises(ValueError, match="fitted on file paths"):
        on_files.predict_proba(X[index])


def test_gallery_enrols_and_identifies_paths(digit_images, digit_files):
    from sksiamese import Gallery

    X, y = digit_images
    files = np.array([str(p) for p in digit_files], dtype=object)
    ver = SiameseVerifier(fast(max_epochs=1), random_state=0).fit(files, y)
    gallery = Gallery(ver).fit(files[::2], y[::2])
    assert gallery.identify(files[1::2]).shape == (len(files) // 2,)
    gallery.enroll(files[1:4], y[1:4])
    assert len(gallery.enrolled_labels_) == len(files) // 2 + 3


def test_one_shot_evaluation_on_paths(digit_images, digit_files):
    X, y = digit_images
    emb = fast(max_epochs=1).fit(X, y)
    kw = dict(n_way=5, n_episodes=4, random_state=0, transform=emb)
    files = one_shot_evaluate(digit_files, y, **kw)
    array = one_shot_evaluate(X, y, **kw)
    assert files["accuracy"] == array["accuracy"]


# ---- displays draw image files as the network reads them --------------------


def test_neighbors_display_on_paths_draws_what_the_arrays_draw(
    digit_images, digit_files
):
    pytest.importorskip("matplotlib")
    import matplotlib.pyplot as plt

    from sksiamese.plotting import NeighborsDisplay

    X, y = digit_images
    paths = [str(p) for p in digit_files]
    model = fast().fit(paths, y)
    kw = dict(n_neighbors=3)
    on_files = NeighborsDisplay.from_estimator(
        model, paths[:4], paths[4:], y[:4], y[4:], **kw
    )
    on_arrays = NeighborsDisplay.from_estimator(model, X[:4], X[4:], y[:4], y[4:], **kw)
    np.testing.assert_array_equal(on_files.neighbor_images, on_arrays.neighbor_images)
    np.testing.assert_array_equal(on_files.query_images, X[:4])
    np.testing.assert_allclose(on_files.distances, on_arrays.distances, atol=1e-5)
    np.testing.assert_array_equal(on_files.neighbor_labels, on_arrays.neighbor_labels)
    plt.close("all")


def test_neighbors_display_reads_only_the_files_it_draws(tmp_path):
    pytest.importorskip("matplotlib")
    import matplotlib.pyplot as plt

    from sksiamese.plotting import NeighborsDisplay

    rng = np.random.default_rng(0)
    # colour photos of two sizes: all are drawn at the first query's size
    query = save(tmp_path / "q.png", rng.integers(0, 255, (20, 30, 3), np.uint8))
    near = save(tmp_path / "near.jpg", rng.integers(0, 255, (40, 60, 3), np.uint8))
    gallery = [near, tmp_path / "missing.png", tmp_path / "gone.png"]
    display = NeighborsDisplay.from_embeddings(
        [[0.0]], [[0.1], [5.0], [9.0]], [query], gallery, n_neighbors=1
    )
    assert display.query_images.shape == (1, 20, 30, 3)
    assert display.neighbor_images.shape == (1, 1, 20, 30, 3)
    # a file that would be drawn is read, and named when it cannot be
    with pytest.raises(ValueError, match="missing.png"):
        NeighborsDisplay.from_embeddings(
            [[0.0]], [[0.1], [5.0], [9.0]], [query], gallery, n_neighbors=2
        )
    plt.close("all")


def test_pairs_display_on_path_pairs_draws_the_decoded_pairs(
    digit_images, digit_files
):
    pytest.importorskip("matplotlib")
    import matplotlib.pyplot as plt

    from sksiamese.plotting import PairsDisplay

    X, _ = digit_images
    pairs = [(str(digit_files[i]), str(digit_files[i + 1])) for i in range(0, 6, 2)]
    display = PairsDisplay.from_predictions(pairs, [0.1, 0.5, 0.9], threshold=0.5)
    np.testing.assert_array_equal(display.pairs, X[:6].reshape(3, 2, 8, 8))
    plt.close("all")
