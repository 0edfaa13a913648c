"""Displays: each is rendered with Agg and what it drew is checked."""

import subprocess
import sys

import numpy as np
import pytest
from sklearn.metrics import roc_curve
from sklearn.preprocessing import FunctionTransformer
from threadpoolctl import threadpool_limits

from sksiamese import SiameseEmbedder, SiameseVerifier
from sksiamese.plotting import (
    DistanceHistogramDisplay,
    EmbeddingDisplay,
    NeighborsDisplay,
    PairsDisplay,
    TrainingHistoryDisplay,
    VerificationCurveDisplay,
)
from sksiamese.verification import SigmoidCalibrator, balanced_pairs

matplotlib = pytest.importorskip("matplotlib")
matplotlib.use("Agg")
plt = pytest.importorskip("matplotlib.pyplot")

GREEN = matplotlib.colors.to_rgba("tab:green")
RED = matplotlib.colors.to_rgba("tab:red")


def _blobs(n_per_class=10, n_classes=3, dim=5, seed=0):
    rng = np.random.default_rng(seed)
    centers = 6.0 * rng.normal(size=(n_classes, dim))
    y = np.repeat(np.arange(n_classes), n_per_class)
    return centers[y] + rng.normal(size=(len(y), dim)), y


class _StubVerifier:
    """A fitted verifier whose pair distance is ``|a.sum() - b.sum()|``."""

    def __init__(self, threshold=0.5):
        self.calibrator_ = SigmoidCalibrator.from_coefficients(4.0, -8.0)
        self.threshold_ = threshold

    def _distances(self, pairs):
        pairs = np.asarray(pairs, dtype=np.float64)
        sums = pairs.reshape(len(pairs), 2, -1).sum(axis=2)
        return np.abs(sums[:, 0] - sums[:, 1])

    def decision_function(self, pairs):
        return -self._distances(pairs)

    def predict_proba(self, pairs):
        p = self.calibrator_.predict(self._distances(pairs))
        return np.column_stack([1 - p, p])

    def predict(self, pairs):
        return (self.predict_proba(pairs)[:, 1] >= self.threshold_).astype(int)


def test_importing_the_package_does_not_import_matplotlib():
    code = (
        "import sys, sksiamese, sksiamese.plotting; "
        "assert sksiamese.EmbeddingDisplay is sksiamese.plotting.EmbeddingDisplay; "
        "assert 'matplotlib' not in sys.modules, 'matplotlib imported'"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


# ---- EmbeddingDisplay ------------------------------------------------------


def test_embedding_pca_draws_every_point_in_its_class_colour():
    X, y = _blobs()
    labels = np.array(["ant", "bee", "cow"])[y]
    display = EmbeddingDisplay.from_embeddings(X, labels, method="pca")
    assert list(display.scatters_) == ["ant", "bee", "cow"]
    counts = [len(s.get_offsets()) for s in display.scatters_.values()]
    assert counts == [10, 10, 10]
    colours = {tuple(s.get_facecolor()[0][:3]) for s in display.scatters_.values()}
    assert len(colours) == 3
    texts = [t.get_text() for t in display.legend_.get_texts()]
    assert texts == ["ant", "bee", "cow"]
    assert display.legend_.get_title().get_text() == "class"
    assert display.ax_.get_xlabel().startswith("PC 1 (")
    assert "of variance" in display.ax_.get_ylabel()
    assert display.ax_.get_title() == "30 embeddings (PCA), 3 classes"
    assert display.figure_ is display.ax_.figure
    # the points drawn are the PCA projection
    from sklearn.decomposition import PCA

    expected = PCA(2).fit_transform(X)
    drawn = np.vstack([s.get_offsets() for s in display.scatters_.values()])
    np.testing.assert_allclose(np.abs(drawn), np.abs(expected), atol=1e-8)


def test_embedding_draws_into_a_given_axes_and_without_labels():
    X = np.random.default_rng(0).normal(size=(12, 2))
    fig, (left, right) = plt.subplots(1, 2)
    display = EmbeddingDisplay.from_embeddings(X, method="none", ax=right)
    assert display.ax_ is right and display.figure_ is fig
    assert list(display.scatters_) == [None]
    np.testing.assert_allclose(display.scatters_[None].get_offsets(), X)
    assert display.legend_ is None
    assert right.get_xlabel() == "embedding dimension 1"
    assert not left.collections


def test_embedding_tsne_from_estimator_hides_meaningless_ticks():
    X, y = _blobs(n_per_class=8)
    identity = FunctionTransformer().fit(X)
    with threadpool_limits(1):
        display = EmbeddingDisplay.from_estimator(identity, X, y, random_state=0)
    assert sum(len(s.get_offsets()) for s in display.scatters_.values()) == 24
    assert (display.ax_.get_xlabel(), display.ax_.get_ylabel()) == (
        "t-SNE 1",
        "t-SNE 2",
    )
    assert not any(t.get_text() for t in display.ax_.get_xticklabels())


def test_embedding_many_classes_differ_by_marker_and_fill_columns():
    X, y = _blobs(n_per_class=2, n_classes=45, dim=3)
    display = EmbeddingDisplay.from_embeddings(X, y, method="pca")
    styles = {
        (tuple(s.get_facecolor()[0]), s.get_paths()[0].vertices.tobytes())
        for s in display.scatters_.values()
    }
    assert len(styles) == 45
    assert display.legend_._ncols == 3
    assert len(display.legend_.get_texts()) == 45


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"method": "umap"}, "method must be"),
        ({"method": "none"}, "needs 2-D embeddings"),
    ],
)
def test_embedding_rejects_bad_requests(kwargs, match):
    X, y = _blobs()
    with pytest.raises(ValueError, match=match):
        EmbeddingDisplay.from_embeddings(X, y, **kwargs)


def test_embedding_rejects_non_finite_values_and_wrong_label_count():
    X, y = _blobs()
    X[0, 0] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        EmbeddingDisplay.from_embeddings(X, y, method="pca")
    with pytest.raises(ValueError, match="labels has 5 entries but there are 30"):
        EmbeddingDisplay.from_embeddings(np.ones((30, 2)), y[:5], method="none")


def test_embedding_refuses_nan_coordinates_and_missing_labels():
    coords = np.random.default_rng(0).normal(size=(6, 2))
    coords[4, 1] = np.nan
    with pytest.raises(ValueError, match="coordinates holds 1 NaN or infinite value"):
        EmbeddingDisplay(coords).plot()
    # a point without a label would be left out of every class
    labels = np.array([0.0, 1.0, np.nan, 0.0, 1.0, 0.0])
    with pytest.raises(ValueError, match="missing labels \\(NaN or None\\) at pos"):
        EmbeddingDisplay.from_embeddings(np.ones((6, 2)), labels, method="none")
    with pytest.raises(ValueError, match="labels holds missing labels"):
        EmbeddingDisplay(np.ones((2, 2)), ["a", None]).plot()


# ---- NeighborsDisplay --------------------------------------------------------


def _gallery():
    """Five 2x2 images whose embedding is their mean; labels 0, 0, 1, 1, 2."""
    values = np.array([0.0, 1.0, 2.0, 3.0, 10.0])
    images = values[:, None, None] * np.ones((5, 2, 2))
    return images, values[:, None], np.array([0, 0, 1, 1, 2])


def test_neighbors_shows_the_known_neighbours_in_order():
    images, emb, labels = _gallery()
    query_images = np.full((1, 2, 2), 0.9)
    display = NeighborsDisplay.from_embeddings(
        [[0.9]],
        emb,
        query_images,
        images,
        query_labels=[0],
        gallery_labels=labels,
        n_neighbors=3,
    )
    assert display.axes_.shape == (1, 4)
    drawn = [im.get_array()[0, 0] for im in display.images_[0]]
    assert drawn == [0.9, 1.0, 0.0, 2.0]  # the query, then gallery rows 1, 0, 2
    titles = [ax.get_title() for ax in display.axes_[0]]
    assert titles[0] == "query\nlabel 0"
    assert titles[1] == "#1  d = 0.100\nlabel 0 ✓"
    assert titles[3] == "#3  d = 1.100\nlabel 1 ✗"
    colours = [ax.title.get_color() for ax in display.axes_[0, 1:]]
    assert [matplotlib.colors.to_rgba(c) for c in colours] == [GREEN, GREEN, RED]
    # the images shown share one intensity scale and the gray colormap
    assert {im.get_clim() for im in display.images_.ravel()} == {(0.0, 2.0)}
    assert display.images_[0, 0].get_cmap().name == "gray"
    assert not display.ax_.axison
    assert (
        display.ax_.get_title() == "Query and its 3 nearest neighbours in the embedding"
    )


def test_neighbors_from_estimator_reshapes_rows_and_draws_into_an_axes():
    images, _, labels = _gallery()
    rows = images.reshape(5, -1)
    fig, ax = plt.subplots()
    mean = FunctionTransformer(lambda X: X.mean(axis=1, keepdims=True)).fit(rows)
    display = NeighborsDisplay.from_estimator(
        mean, rows[[4]], rows[:4], n_neighbors=2, ax=ax
    )
    assert display.ax_ is ax and display.figure_ is fig
    assert display.images_[0, 1].get_array().shape == (2, 2)
    assert display.axes_[0, 2].get_title() == "#2  d = 8.000"  # no labels, no marks


def test_neighbors_colour_images_and_errors():
    rng = np.random.default_rng(0)
    colour = rng.integers(0, 256, size=(4, 3, 3, 3), dtype=np.uint8)
    emb = np.arange(4.0)[:, None]
    display = NeighborsDisplay.from_embeddings(
        emb[:1], emb[1:], colour[:1], colour[1:], n_neighbors=2
    )
    np.testing.assert_array_equal(display.images_[0, 1].get_array(), colour[1])
    with pytest.raises(ValueError, match="not square images"):
        NeighborsDisplay.from_embeddings(
            emb[:1], emb[1:], np.ones((1, 6)), np.ones((3, 6)), n_neighbors=1
        )
    with pytest.raises(ValueError, match="gallery_images has 2 images"):
        NeighborsDisplay.from_embeddings(
            emb[:1], emb[1:], colour[:1], colour[1:3], n_neighbors=1
        )


def test_neighbors_refuse_nan_distances_and_missing_labels():
    images, emb, labels = _gallery()
    distances = np.array([[0.1, np.nan, 0.3]])
    with pytest.raises(
        ValueError, match="distances holds 1 NaN or infinite value"
    ) as e:
        NeighborsDisplay(images[:1], images[None, 1:4], distances).plot()
    assert "the first at position (0, 1)" in str(e.value)
    with pytest.raises(ValueError, match="gallery_labels holds missing labels"):
        NeighborsDisplay.from_embeddings(
            [[0.9]],
            emb,
            images[:1],
            images,
            query_labels=[0],
            gallery_labels=[0, 0, np.nan, 1, 2],
        )
    with pytest.raises(ValueError, match="query_labels holds missing labels"):
        NeighborsDisplay.from_embeddings(
            [[0.9]], emb, images[:1], images, query_labels=[None], gallery_labels=labels
        )


# ---- PairsDisplay --------------------------------------------------------------


def test_pairs_titles_verdicts_and_truth():
    pairs = np.arange(4 * 2 * 9, dtype=float).reshape(4, 2, 9)  # rows of 3x3
    display = PairsDisplay.from_predictions(
        pairs, [0.97, 0.2, 0.6, 0.001], threshold=0.5, same=[1, 1, 0, 0]
    )
    assert display.axes_.shape == (4, 2)
    assert len([im for im in display.images_.ravel() if im is not None]) == 8
    np.testing.assert_array_equal(
        display.images_[2, 1].get_array(), pairs[2, 1].reshape(3, 3)
    )
    assert display.titles_ == [
        "P(same) = 0.97\nsame ✓",
        "P(same) = 0.20\ndifferent ✗ (truly same)",
        "P(same) = 0.60\nsame ✗ (truly different)",
        "P(same) < 0.01\ndifferent ✓",
    ]
    cells = [ax.axes for ax in display.axes_[:, 0]]
    colours = [matplotlib.colors.to_rgba(c.title.get_color()) for c in cells]
    assert colours == [GREEN, RED, RED, GREEN]
    assert display.ax_.get_title().endswith("(threshold 0.50)")


def test_pairs_without_threshold_and_layout():
    pairs = np.zeros((5, 2, 4, 4))
    display = PairsDisplay.from_predictions(pairs, np.full(5, 0.5), n_cols=2)
    assert display.titles_ == ["P(same) = 0.50"] * 5
    inner = display.axes_[0, 0].axes  # the cell holding pair 0
    assert inner in display.ax_.child_axes
    assert len(display.ax_.child_axes) == 6  # 3 rows of 2 cells, one empty
    with pytest.raises(ValueError, match=r"shape \(n_pairs, 2, ...\)"):
        PairsDisplay.from_predictions(np.zeros((5, 4, 4)), np.ones(5))
    with pytest.raises(ValueError, match="proba must have 5"):
        PairsDisplay.from_predictions(pairs, np.ones(4))


@pytest.mark.parametrize(
    "proba, n_bad, first",
    [
        ([0.1, np.nan, 0.2, np.nan, 0.3], 2, "nan at position 1"),
        ([0.1, 0.2, 1.5, 0.3, -0.2], 2, "1.5 at position 2"),
        ([0.1, 0.2, 0.3, 0.4, np.inf], 1, "inf at position 4"),
    ],
)
def test_pairs_refuse_proba_that_is_not_a_probability(proba, n_bad, first):
    pairs = np.zeros((5, 2, 3, 3))
    n_figures = len(plt.get_fignums())
    with pytest.raises(ValueError, match="finite and within \\[0, 1\\]") as error:
        PairsDisplay.from_predictions(pairs, proba, threshold=0.5)
    message = str(error.value)
    assert f"not so at {n_bad} of its 5 positions" in message
    assert f"the first being {first}" in message
    assert "pass predict_proba(pairs)[:, 1]" in message.lower()
    assert "DistanceHistogramDisplay or VerificationCurveDisplay" in message
    assert len(plt.get_fignums()) == n_figures  # refused before drawing
    # the ends of [0, 1] are probabilities
    display = PairsDisplay.from_predictions(pairs, [0.0, 1.0, 0.5, 0.2, 0.7])
    assert display.titles_[:2] == ["P(same) < 0.01", "P(same) > 0.99"]


@pytest.mark.parametrize("threshold", [1.5, -0.1, np.nan, "high"])
def test_pairs_refuse_a_threshold_outside_0_1(threshold):
    pairs = np.zeros((2, 2, 3, 3))
    with pytest.raises(ValueError, match="threshold must be a probability in"):
        PairsDisplay.from_predictions(pairs, [0.2, 0.8], threshold=threshold)
    display = PairsDisplay.from_predictions(pairs, [0.2, 0.8], threshold=1.0)
    assert [t.splitlines()[1] for t in display.titles_] == ["different"] * 2


def test_pairs_take_only_one_kind_of_pair_but_no_other_flags():
    pairs = np.zeros((2, 2, 3, 3))
    display = PairsDisplay.from_predictions(pairs, [0.2, 0.8], same=[1, 1])
    assert display.titles_ == [
        "P(same) = 0.20\ntruly same",
        "P(same) = 0.80\ntruly same",
    ]
    with pytest.raises(ValueError, match="must hold 1 \\(or True\\) for same"):
        PairsDisplay.from_predictions(pairs, [0.2, 0.8], same=[1, 2])
    with pytest.raises(ValueError, match="one flag per pair \\(2\\); got 3"):
        PairsDisplay.from_predictions(pairs, [0.2, 0.8], same=[1, 0, 1])


def test_pairs_from_estimator_uses_predict_proba_and_threshold():
    pairs = np.zeros((2, 2, 2, 2))
    pairs[1, 1] = 0.25  # distance 1 -> P(same) = sigmoid(4 - 8)
    stub = _StubVerifier(threshold=0.9)
    display = PairsDisplay.from_estimator(stub, pairs, same=[1, 0])
    p = stub.predict_proba(pairs)[:, 1]
    assert display.titles_ == [
        f"P(same) = {p[0]:.2f}\nsame ✓",
        f"P(same) = {p[1]:.2f}\ndifferent ✓",
    ]


# ---- TrainingHistoryDisplay ------------------------------------------------------


def test_history_lines_and_best_epoch():
    history = [
        {"epoch": 1, "train_loss": 3.0, "valid_loss": 2.0},
        {"epoch": 2, "train_loss": 2.0, "valid_loss": 1.0},
        {"epoch": 3, "train_loss": 1.0, "valid_loss": 1.5},
    ]
    display = TrainingHistoryDisplay.from_history(history)
    line = display.lines_["train_loss"]
    np.testing.assert_array_equal(line.get_xdata(), [1, 2, 3])
    np.testing.assert_array_equal(line.get_ydata(), [3.0, 2.0, 1.0])
    assert display.best_epoch_ == 2
    labels = [t.get_text() for t in display.ax_.get_legend().get_texts()]
    assert labels == [
        "training loss",
        "validation loss",
        "lowest validation loss (epoch 2)",
    ]
    assert (display.ax_.get_xlabel(), display.ax_.get_ylabel()) == ("epoch", "loss")


def test_history_keys_and_errors():
    history = [{"train_loss": 1.0, "lr": 0.1}, {"train_loss": 0.5, "lr": 0.05}]
    display = TrainingHistoryDisplay.from_history(history, keys=["lr"], log_scale=True)
    assert list(display.lines_) == ["lr"] and display.best_epoch_ is None
    assert display.ax_.get_ylabel() == "value"
    assert display.ax_.get_yscale() == "log"
    with pytest.raises(ValueError, match="no \\['valid_loss'\\]"):
        TrainingHistoryDisplay.from_history(history, keys="valid_loss")
    with pytest.raises(ValueError, match="non-empty"):
        TrainingHistoryDisplay.from_history([])


def test_history_from_a_fitted_embedder(small_digits):
    X, y = small_digits
    X = X.reshape(len(X), -1)  # rows of 64 pixels: the quicker MLP
    emb = SiameseEmbedder(
        embedding_dim=4, max_epochs=2, validation_fraction=0.3, random_state=0
    ).fit(X, y)
    display = TrainingHistoryDisplay.from_estimator(emb)
    assert sorted(display.lines_) == ["train_loss", "valid_loss"]
    np.testing.assert_allclose(
        display.lines_["valid_loss"].get_ydata(), emb.history_[:, "valid_loss"]
    )
    assert len(display.lines_["train_loss"].get_xdata()) == 2
    # and its embeddings on a map, through a pipeline-free from_estimator
    emb_display = EmbeddingDisplay.from_estimator(emb, X, y, method="pca")
    assert sum(len(s.get_offsets()) for s in emb_display.scatters_.values()) == 200
    assert len(emb_display.legend_.get_texts()) == 10


# ---- VerificationCurveDisplay ----------------------------------------------------


def test_roc_curve_matches_sklearn_and_marks_points():
    rng = np.random.default_rng(0)
    same = np.repeat([1, 0], 40)
    scores = rng.normal(1.5 * same, 1.0)
    display = VerificationCurveDisplay.from_predictions(
        same, scores, threshold=0.75, name="model"
    )
    fpr, tpr, _ = roc_curve(same, scores)
    np.testing.assert_allclose(display.line_.get_xdata(), fpr)
    np.testing.assert_allclose(display.line_.get_ydata(), tpr)
    far = np.mean(scores[same == 0] >= 0.75)
    frr = np.mean(scores[same == 1] < 0.75)
    np.testing.assert_allclose(display.operating_point_.get_xydata(), [[far, 1 - frr]])
    eer = display.eer
    np.testing.assert_allclose(display.eer_point_.get_xydata(), [[eer, 1 - eer]])
    legend = [t.get_text() for t in display.ax_.get_legend().get_texts()]
    assert legend[0] == f"model (AUC = {display.roc_auc:.3f}, EER = {eer:.1%})"
    assert legend[-1] == f"threshold 0.75: FAR {far:.1%}, FRR {frr:.1%}"
    assert display.ax_.get_ylabel() == "true acceptance rate (same pairs accepted)"


def test_det_curve_uses_normal_deviates():
    from scipy.stats import norm

    same = np.array([1, 1, 1, 0, 0, 0])
    scores = np.array([0.9, 0.8, 0.3, 0.6, 0.2, 0.1])
    display = VerificationCurveDisplay.from_predictions(same, scores, kind="det")
    assert display.kind_ == "det" and display.operating_point_ is None
    finite = np.isfinite(display.line_.get_xdata()) & np.isfinite(
        display.line_.get_ydata()
    )
    x = display.line_.get_xdata()[finite]
    np.testing.assert_allclose(norm.cdf(x), np.asarray(display.far)[finite])
    ticks = [t.get_text() for t in display.ax_.get_xticklabels()]
    assert ticks[:3] == ["0.1%", "1%", "5%"]
    assert display.ax_.get_ylabel() == "false rejection rate (same pairs rejected)"


def test_curve_errors():
    with pytest.raises(ValueError, match="both same"):
        VerificationCurveDisplay.from_predictions([1, 1], [0.1, 0.2])
    with pytest.raises(ValueError, match="kind must be"):
        VerificationCurveDisplay.from_predictions([1, 0], [0.9, 0.1], kind="pr")


def test_curve_refuses_nan_scores_and_threshold():
    same = [1, 0, 1, 0, 1]
    with pytest.raises(ValueError, match="scores holds 2 NaN or infinite values") as e:
        VerificationCurveDisplay.from_predictions(same, [0.9, np.nan, 0.8, 0.1, np.inf])
    assert "the first at position 1; every pair needs a finite score" in str(e.value)
    with pytest.raises(ValueError, match="threshold must be a finite number"):
        VerificationCurveDisplay.from_predictions(
            same, [0.9, 0.2, 0.8, 0.1, 0.7], threshold=np.nan
        )
    # a verifier whose network gives NaN for a pair is refused the same way
    pairs = np.zeros((4, 2, 1, 1))
    pairs[:, 1, 0, 0] = [0.0, 0.4, 0.6, 1.0]
    broken = _StubVerifier()
    broken.decision_function = lambda pairs: np.array([-0.1, np.nan, -0.3, -0.9])
    with pytest.raises(ValueError, match="scores holds 1 NaN or infinite value,"):
        VerificationCurveDisplay.from_estimator(broken, pairs, [1, 0, 1, 0])


def test_curve_refuses_rates_that_are_nan_or_outside_0_1():
    with pytest.raises(ValueError, match="far must hold false acceptance rates") as e:
        VerificationCurveDisplay([0.0, np.nan, 1.0], [1.0, 0.5, 0.0]).plot()
    assert "not so at 1 of its 3 positions, the first being nan at position 1" in str(
        e.value
    )
    with pytest.raises(ValueError, match="frr must hold false rejection rates"):
        VerificationCurveDisplay([0.0, 0.5, 1.0], [1.0, 1.2, 0.0]).plot(kind="det")
    display = VerificationCurveDisplay([0.0, 0.5, 1.0], [1.0, 0.2, 0.0]).plot()
    np.testing.assert_allclose(display.line_.get_ydata(), [0.0, 0.8, 1.0])


def test_curve_from_estimator_marks_predict_at_threshold():
    pairs = np.zeros((4, 2, 1, 1))
    pairs[:, 1, 0, 0] = [0.0, 0.4, 0.6, 1.0]
    stub = _StubVerifier(threshold=0.5)  # accepts distances up to 0.5
    display = VerificationCurveDisplay.from_estimator(stub, pairs, [1, 0, 1, 0])
    np.testing.assert_allclose(display.operating_point, (0.5, 0.5, 0.5))
    assert display.roc_auc == 0.75
    assert display.line_.get_label().startswith("_StubVerifier (AUC = 0.750")


# ---- DistanceHistogramDisplay ------------------------------------------------------


def test_histograms_count_every_pair_and_mark_the_threshold():
    same = np.array([1, 1, 1, 0, 0, 0, 0])
    distances = np.array([0.1, 0.2, 0.9, 0.8, 1.0, 1.1, 1.2])
    display = DistanceHistogramDisplay.from_predictions(
        same, distances, threshold=0.5, bins=4
    )
    edges = np.histogram_bin_edges(distances, bins=4)
    heights_same = [p.get_height() for p in display.same_patches_]
    heights_diff = [p.get_height() for p in display.different_patches_]
    assert heights_same == np.histogram(distances[:3], edges)[0].tolist()
    assert heights_diff == np.histogram(distances[3:], edges)[0].tolist()
    assert sum(heights_same) + sum(heights_diff) == 7
    assert display.threshold_line_.get_xdata()[0] == 0.5
    assert display.accuracy_ == pytest.approx(6 / 7)
    labels = [t.get_text() for t in display.ax_.get_legend().get_texts()]
    assert labels == [
        "same class (3 pairs)",
        "different classes (4 pairs)",
        "threshold: distance 0.5; 85.7% of pairs right",
    ]
    assert display.ax_proba_ is None
    assert display.ax_.get_xlabel() == "distance between the embeddings of a pair"
    assert display.ax_.get_ylabel() == "number of pairs"


def test_histograms_from_estimator_threshold_is_where_proba_crosses():
    pairs = np.zeros((6, 2, 1, 1))
    pairs[:, 1, 0, 0] = [0.1, 0.2, 0.3, 0.7, 0.8, 1.2]
    stub = _StubVerifier(threshold=0.5)  # P(same) = sigmoid(4 - 8 d): 0.5 at 0.5
    display = DistanceHistogramDisplay.from_estimator(
        stub, pairs, [1, 1, 1, 0, 0, 0], bins=6
    )
    assert display.threshold == pytest.approx(0.5, abs=1e-9)
    assert display.accuracy_ == 1.0
    grid, proba = display.proba_line_.get_data()
    np.testing.assert_allclose(proba, stub.calibrator_.predict(grid))
    assert display.ax_proba_.get_ylabel() == "calibrated P(same)"
    label = display.threshold_line_.get_label()
    assert label == "threshold: distance 0.5 (P(same) = 0.50); 100.0% of pairs right"
    assert sum(p.get_height() for p in display.same_patches_) == 3


def test_histograms_density_and_errors():
    same = np.array([1, 1, 0, 0, 0, 0])
    d = np.array([0.1, 0.2, 0.5, 0.6, 0.7, 0.8])
    display = DistanceHistogramDisplay.from_predictions(same, d, bins=3, density=True)
    widths = [p.get_width() for p in display.same_patches_]
    total = sum(
        p.get_height() * w for p, w in zip(display.same_patches_, widths, strict=True)
    )
    assert total == pytest.approx(1.0)
    assert display.ax_.get_ylabel() == "density" and display.threshold_line_ is None
    with pytest.raises(
        ValueError, match=r"same must hold one flag per pair \(6\); got 2"
    ):
        DistanceHistogramDisplay.from_predictions(same[:2], d)


def test_histograms_refuse_nan_distances_and_threshold():
    same = np.array([1, 1, 0, 0])
    n_figures = len(plt.get_fignums())
    with pytest.raises(
        ValueError, match="distances holds 1 NaN or infinite value"
    ) as e:
        DistanceHistogramDisplay.from_predictions(
            same, [0.1, 0.2, np.nan, 0.9], bins=[0.0, 0.5, 1.0]
        )
    assert "the first at position 2; every pair needs a finite distance" in str(e.value)
    with pytest.raises(ValueError, match="threshold must be a finite distance"):
        DistanceHistogramDisplay.from_predictions(
            same, [0.1, 0.2, 0.8, 0.9], threshold=np.nan
        )
    assert len(plt.get_fignums()) == n_figures  # refused before drawing
    # a verifier that gives NaN for a pair is refused before its calibration
    pairs = np.zeros((4, 2, 1, 1))
    broken = _StubVerifier()
    broken.decision_function = lambda pairs: np.array([-0.1, -0.2, np.nan, np.nan])
    with pytest.raises(ValueError, match="distances holds 2 NaN or infinite values"):
        DistanceHistogramDisplay.from_estimator(broken, pairs, same)


# ---- with a fitted SiameseVerifier -----------------------------------------------


def test_verifier_displays_end_to_end(small_digits):
    X, y = small_digits
    X = X.reshape(len(X), -1)  # rows of 64 pixels, drawn as 8x8 images
    embedder = SiameseEmbedder(embedding_dim=4, max_epochs=1, random_state=0)
    ver = SiameseVerifier(embedder, random_state=0).fit(X, y)
    idx, same = balanced_pairs(y, max_pairs=40)
    pairs = np.stack([X[idx[:, 0]], X[idx[:, 1]]], axis=1)

    shown = PairsDisplay.from_estimator(ver, pairs[[0, -1]], same[[0, -1]])
    assert len(shown.titles_) == 2
    assert all(t.startswith("P(same) ") for t in shown.titles_)
    assert shown.images_[0, 0].get_array().shape == (8, 8)
    assert f"threshold {ver.threshold_:.2f}" in shown.ax_.get_title()

    curve = VerificationCurveDisplay.from_estimator(ver, pairs, same, kind="det")
    far, frr, threshold = curve.operating_point
    predicted = ver.predict(pairs)
    assert far == np.mean(predicted[same == 0] == 1)
    assert frr == np.mean(predicted[same == 1] == 0)
    assert threshold == ver.threshold_

    hist = DistanceHistogramDisplay.from_estimator(ver, pairs, same)
    counts = [p.get_height() for p in hist.same_patches_ + hist.different_patches_]
    assert sum(counts) == len(pairs)
    # pairs left of the drawn threshold are exactly those predicted "same"
    d = -ver.decision_function(pairs)
    np.testing.assert_array_equal(d <= hist.threshold, predicted == 1)


def test_history_of_a_verifier_is_its_embedders(small_digits):
    X, y = small_digits
    embedder = SiameseEmbedder(
        max_epochs=2, validation_fraction=0.2, embedding_dim=4, random_state=0
    )
    ver = SiameseVerifier(embedder, random_state=0).fit(X, y)
    display = TrainingHistoryDisplay.from_estimator(ver)
    np.testing.assert_allclose(
        display.lines_["valid_loss"].get_ydata(),
        ver.embedder_.history_[:, "valid_loss"],
    )
