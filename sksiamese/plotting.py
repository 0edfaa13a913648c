"""Pictures of embeddings, neighbours, pairs, training and verification.

Each picture is a *display* in the style of scikit-learn's
:class:`~sklearn.metrics.DetCurveDisplay`: a ``from_estimator`` class method
that computes what is drawn from a fitted estimator, a second class method
(``from_embeddings``, ``from_predictions`` or ``from_history``) that starts
from arrays already at hand, and ``plot(ax=None)``, which draws into ``ax``
(a new figure when None) and sets ``ax_`` and ``figure_``.

* :class:`EmbeddingDisplay`: a 2-D map of the embeddings (t-SNE or PCA),
  one colour per class, with a legend.
* :class:`NeighborsDisplay`: query images next to their nearest gallery
  images, with the distances.
* :class:`PairsDisplay`: pairs of images with their ``P(same)`` and the
  verdict at the threshold.
* :class:`TrainingHistoryDisplay`: training and validation loss per epoch.
* :class:`VerificationCurveDisplay`: ROC or DET curve of a verifier, with
  its equal error rate and its operating point.
* :class:`DistanceHistogramDisplay`: histograms of the distances of "same"
  and "different" pairs, with the threshold and the calibrated ``P(same)``.

matplotlib is imported when something is drawn, never when this module is
imported.
"""

import math

import numpy as np

__all__ = [
    "DistanceHistogramDisplay",
    "EmbeddingDisplay",
    "NeighborsDisplay",
    "PairsDisplay",
    "TrainingHistoryDisplay",
    "VerificationCurveDisplay",
]

# Colours for right and wrong answers, and for "same" and "different" pairs.
_RIGHT, _WRONG = "tab:green", "tab:red"
_SAME_COLOR, _DIFFERENT_COLOR = "tab:blue", "tab:orange"
# Markers that, with the 20 colours of "tab20", tell up to 160 classes apart.
_MARKERS = ("o", "s", "^", "D", "v", "P", "X", "*")
_HISTORY_NAMES = {"train_loss": "training loss", "valid_loss": "validation loss"}


# --------------------------------------------------------------------------
# Helpers
# --------------------------------------------------------------------------


def _pyplot():
    import matplotlib.pyplot as plt

    return plt


def _axes(ax, figsize):
    """``ax`` and its figure, or a new figure with one axes."""
    if ax is None:
        _, ax = _pyplot().subplots(figsize=figsize, layout="constrained")
    return ax, ax.figure


def _panel_axes(ax, figsize):
    """An axes whose area holds a grid of images, with its axis turned off."""
    if ax is None:
        fig = _pyplot().figure(figsize=figsize)
        top = 1.0 - 0.5 / figsize[1]
        ax = fig.add_axes((0.01, 0.01, 0.98, top - 0.01))
    ax.set_axis_off()
    return ax, ax.figure


def _cells(ax, n_rows, n_cols, title_space=0.3, gap=0.06):
    """A grid of inset axes filling ``ax``; each keeps room for a title."""
    width, height = 1.0 / n_cols, 1.0 / n_rows
    cells = np.empty((n_rows, n_cols), dtype=object)
    for r in range(n_rows):
        for c in range(n_cols):
            bounds = (
                c * width + width * gap / 2,
                1.0 - (r + 1) * height,
                width * (1 - gap),
                height * (1 - title_space),
            )
            cells[r, c] = ax.inset_axes(bounds)
    return cells


def _check_1d(values, name, n=None, dtype=None):
    values = np.asarray(values, dtype=dtype)
    if values.ndim != 1:
        raise ValueError(f"{name} must be 1-D; got an array of shape {values.shape}.")
    if n is not None and len(values) != n:
        raise ValueError(f"{name} must have {n} entries; got {len(values)}.")
    return values


def _check_same(same, n, name="same"):
    """``same`` as a boolean array of ``n`` entries, holding 0/1 values."""
    same = _check_1d(same, name, n)
    values = set(np.unique(same).tolist())
    if not values <= {0, 1}:
        raise ValueError(
            f"{name} must hold 1 (or True) for same pairs and 0 (or False) for "
            f"different pairs; got values {sorted(values)[:5]}."
        )
    return same.astype(bool)


def _check_binary_both(same, n, name="same"):
    same = _check_same(same, n, name)
    if same.all() or not same.any():
        raise ValueError(f"{name} must contain both same (1) and different (0) pairs.")
    return same


def _as_images(X, image_shape=None, name="X"):
    """Samples as images: (n, height, width) or (n, height, width, 3 or 4).

    2-D rows are reshaped to ``image_shape``, or to a square when their
    length is a square number. A trailing channel axis of size 1 is dropped.
    """
    X = np.asarray(X)
    if X.ndim < 2:
        raise ValueError(
            f"{name} must hold one image per row; got an array of shape {X.shape}."
        )
    if image_shape is not None:
        shape = tuple(int(s) for s in image_shape)
        if math.prod(shape) != math.prod(X.shape[1:]):
            raise ValueError(
                f"image_shape={shape} does not fit samples of shape "
                f"{X.shape[1:]} in {name}."
            )
        X = X.reshape(len(X), *shape)
    elif X.ndim == 2:
        side = math.isqrt(X.shape[1])
        if side * side != X.shape[1]:
            raise ValueError(
                f"{name} holds rows of {X.shape[1]} values, which are not "
                "square images; pass image_shape=(height, width) or "
                "(height, width, channels)."
            )
        X = X.reshape(len(X), side, side)
    if X.ndim == 4 and X.shape[-1] == 1:
        X = X[..., 0]
    if X.ndim == 3 or (X.ndim == 4 and X.shape[-1] in (3, 4)):
        return X
    raise ValueError(
        f"{name} must hold grayscale images (n, height, width) or colour images "
        f"(n, height, width, channels) with 1, 3 or 4 channels last; got shape "
        f"{X.shape}."
    )


def _image_shape_of(estimator, image_shape):
    if image_shape is not None:
        return image_shape
    return getattr(estimator, "input_shape", None)


class _ImageScale:
    """One intensity scale for every image of a display, so they compare."""

    def __init__(self, *images):
        values = [np.asarray(im) for im in images]
        self.uint8 = all(v.dtype == np.uint8 for v in values)
        if self.uint8:
            self.vmin, self.vmax = 0.0, 255.0
        else:
            finite = [v[np.isfinite(v)] for v in values if v.size]
            finite = np.concatenate([f.ravel() for f in finite])
            lo = float(finite.min()) if finite.size else 0.0
            hi = float(finite.max()) if finite.size else 1.0
            self.vmin, self.vmax = lo, hi if hi > lo else lo + 1.0

    def show(self, ax, image, cmap):
        """Draw ``image`` on ``ax`` without ticks; return the AxesImage."""
        image = np.asarray(image)
        if image.ndim == 3:  # colour: imshow takes floats in [0, 1] or uint8
            if not self.uint8:
                image = (image.astype(np.float64) - self.vmin) / (self.vmax - self.vmin)
                image = np.clip(image, 0.0, 1.0)
            shown = ax.imshow(image, interpolation="nearest")
        else:
            shown = ax.imshow(
                image,
                cmap=cmap,
                vmin=self.vmin,
                vmax=self.vmax,
                interpolation="nearest",
            )
        ax.set_xticks([])
        ax.set_yticks([])
        return shown


def _frame(ax, color, width=2.0):
    for spine in ax.spines.values():
        spine.set_edgecolor(color)
        spine.set_linewidth(width)


def _class_styles(n_classes):
    """A (colour, marker) per class: distinct colours, then distinct markers."""
    import matplotlib as mpl

    if n_classes <= 10:
        colors = mpl.colormaps["tab10"].colors
        return [(colors[i], "o") for i in range(n_classes)]
    colors = mpl.colormaps["tab20"].colors
    return [
        (colors[i % 20], _MARKERS[(i // 20) % len(_MARKERS)]) for i in range(n_classes)
    ]


def _format_proba(p):
    """``= 0.42``, or ``< 0.01`` / ``> 0.99`` rather than a rounded 0 or 1."""
    if p < 0.005:
        return "< 0.01"
    if p > 0.995:
        return "> 0.99"
    return f"= {p:.2f}"


def _format_distance(d):
    """Three decimals, so that the distances of one picture line up."""
    return f"{d:.3f}" if abs(d) < 1000 else f"{d:.4g}"


def _label_text(label):
    if isinstance(label, np.generic):
        label = label.item()
    return str(label)


# --------------------------------------------------------------------------
# Embedding map
# --------------------------------------------------------------------------


class EmbeddingDisplay:
    """Map of embeddings in two dimensions, one colour per class.

    Embeddings are projected to 2-D by t-SNE (which keeps neighbourhoods:
    distances between far-apart clusters and cluster sizes mean little) or
    by PCA (a linear projection, whose axes carry the share of variance they
    explain). Create it with :meth:`from_estimator` or
    :meth:`from_embeddings`; ``plot`` draws it.

    Parameters
    ----------
    coordinates : ndarray of shape (n_samples, 2)
        Points to draw.
    labels : array-like of shape (n_samples,), default=None
        Class of each point; None draws every point in one colour.
    method : {"tsne", "pca", "none"}, default="none"
        How ``coordinates`` were obtained; it names the axes.
    explained_variance_ratio : ndarray of shape (2,), default=None
        For ``method="pca"``: share of the variance along each axis.

    Attributes
    ----------
    scatters_ : dict
        One :class:`~matplotlib.collections.PathCollection` per class (key
        None when there are no labels).
    legend_ : matplotlib.legend.Legend or None
        The legend, when one is drawn.
    ax_ : matplotlib.axes.Axes
        Axes with the map.
    figure_ : matplotlib.figure.Figure
        Figure holding ``ax_``.

    See Also
    --------
    sklearn.manifold.TSNE : The default projection.
    sklearn.decomposition.PCA : The linear projection.

    Examples
    --------
    >>> import numpy as np
    >>> from sksiamese.plotting import EmbeddingDisplay
    >>> rng = np.random.default_rng(0)
    >>> embeddings = np.vstack([rng.normal(0, 1, (20, 8)), rng.normal(4, 1, (20, 8))])
    >>> labels = np.repeat(["cat", "dog"], 20)
    >>> display = EmbeddingDisplay.from_embeddings(embeddings, labels, method="pca")
    >>> sorted(display.scatters_), display.ax_.get_xlabel()[:4]
    (['cat', 'dog'], 'PC 1')
    """

    def __init__(
        self, coordinates, labels=None, *, method="none", explained_variance_ratio=None
    ):
        self.coordinates = coordinates
        self.labels = labels
        self.method = method
        self.explained_variance_ratio = explained_variance_ratio

    def _axis_labels(self):
        if self.method == "tsne":
            return "t-SNE 1", "t-SNE 2"
        if self.method == "pca":
            ratio = self.explained_variance_ratio
            if ratio is None:
                return "PC 1", "PC 2"
            return (
                f"PC 1 ({ratio[0]:.0%} of variance)",
                f"PC 2 ({ratio[1]:.0%} of variance)",
            )
        return "embedding dimension 1", "embedding dimension 2"

    def plot(self, ax=None, *, legend="auto", marker_size=None, alpha=0.8, title=None):
        """Draw the map.

        Parameters
        ----------
        ax : matplotlib.axes.Axes, default=None
            Axes to draw into; None creates a figure.
        legend : bool or "auto", default="auto"
            Whether to draw a legend of the classes; ``"auto"`` draws one
            when there are labels. Beyond 20 classes, classes differ by
            marker as well as by colour and the legend has several columns.
        marker_size : float, default=None
            Marker area in points²; None picks one from the number of
            points.
        alpha : float, default=0.8
            Opacity of the markers.
        title : str, default=None
            Axes title; None describes the points and the projection.

        Returns
        -------
        display : EmbeddingDisplay
            This object, with ``ax_``, ``figure_``, ``scatters_`` and
            ``legend_`` set.
        """
        coords = np.asarray(self.coordinates, dtype=np.float64)
        if coords.ndim != 2 or coords.shape[1] != 2:
            raise ValueError(
                f"coordinates must have shape (n_samples, 2); got {coords.shape}."
            )
        n = len(coords)
        n_classes = 1 if self.labels is None else len(np.unique(self.labels))
        ncol = max(1, math.ceil(n_classes / 20))
        ax, fig = _axes(ax, (7.0 + 1.8 * (ncol - 1), 6.0))
        size = (
            marker_size
            if marker_size is not None
            else float(np.clip(4000 / max(n, 1), 6, 40))
        )
        self.scatters_ = {}
        if self.labels is None:
            self.scatters_[None] = ax.scatter(
                coords[:, 0], coords[:, 1], s=size, alpha=alpha, edgecolors="none"
            )
        else:
            labels = _check_1d(self.labels, "labels", n)
            classes = np.unique(labels)
            for label, (color, marker) in zip(
                classes, _class_styles(len(classes)), strict=True
            ):
                mask = labels == label
                self.scatters_[label.item() if hasattr(label, "item") else label] = (
                    ax.scatter(
                        coords[mask, 0],
                        coords[mask, 1],
                        s=size,
                        color=color,
                        marker=marker,
                        alpha=alpha,
                        edgecolors="none",
                        label=_label_text(label),
                    )
                )
        xlabel, ylabel = self._axis_labels()
        ax.set_xlabel(xlabel)
        ax.set_ylabel(ylabel)
        if self.method == "tsne":  # t-SNE coordinates have no unit
            ax.tick_params(labelbottom=False, labelleft=False)
        if title is None:
            name = {"tsne": "t-SNE", "pca": "PCA"}.get(self.method)
            title = f"{n} embeddings" + (f" ({name})" if name else "")
            if self.labels is not None:
                title += f", {len(self.scatters_)} classes"
        ax.set_title(title)
        show_legend = self.labels is not None if legend == "auto" else bool(legend)
        self.legend_ = None
        if show_legend and self.labels is not None:
            self.legend_ = ax.legend(
                title="class",
                loc="upper left",
                bbox_to_anchor=(1.01, 1.0),
                ncol=ncol,
                fontsize="small",
                markerscale=max(1.0, 30.0 / size) ** 0.5,
                frameon=False,
            )
            for handle in self.legend_.legend_handles:
                handle.set_alpha(1.0)
        self.ax_, self.figure_ = ax, fig
        return self

    @classmethod
    def from_embeddings(
        cls,
        embeddings,
        y=None,
        *,
        method="tsne",
        perplexity=30.0,
        random_state=None,
        ax=None,
        legend="auto",
        marker_size=None,
        alpha=0.8,
        title=None,
    ):
        """Project embeddings to 2-D and draw them.

        Parameters
        ----------
        embeddings : array-like of shape (n_samples, n_features)
            Embeddings, for example the output of
            :meth:`SiameseEmbedder.transform <sksiamese.SiameseEmbedder.transform>`.
        y : array-like of shape (n_samples,), default=None
            Class labels, which set the colours.
        method : {"tsne", "pca", "none"}, default="tsne"
            Projection: t-SNE, PCA, or none for embeddings that are 2-D
            already.
        perplexity : float, default=30.0
            t-SNE perplexity, lowered to ``(n_samples - 1) / 3`` for small
            sets.
        random_state : int, RandomState instance or None, default=None
            Seed of t-SNE and PCA.
        ax : matplotlib.axes.Axes, default=None
            Axes to draw into; None creates a figure.
        legend, marker_size, alpha, title
            Passed to :meth:`plot`.

        Returns
        -------
        display : EmbeddingDisplay
        """
        X = np.asarray(embeddings, dtype=np.float64)
        if X.ndim != 2 or len(X) < 2:
            raise ValueError(
                "embeddings must have shape (n_samples, n_features) with at "
                f"least 2 samples; got {X.shape}."
            )
        if not np.all(np.isfinite(X)):
            raise ValueError("embeddings contain NaN or infinite values.")
        ratio = None
        if method == "tsne":
            from sklearn.manifold import TSNE

            perplexity = min(float(perplexity), max(1.0, (len(X) - 1) / 3.0))
            coords = TSNE(
                n_components=2,
                perplexity=perplexity,
                init="pca" if X.shape[1] >= 2 else "random",
                learning_rate="auto",
                random_state=random_state,
            ).fit_transform(X)
        elif method == "pca":
            from sklearn.decomposition import PCA

            if X.shape[1] < 2:
                raise ValueError(
                    "method='pca' needs embeddings of 2 or more dimensions."
                )
            pca = PCA(n_components=2, random_state=random_state)
            coords = pca.fit_transform(X)
            ratio = pca.explained_variance_ratio_
        elif method == "none":
            if X.shape[1] != 2:
                raise ValueError(
                    f"method='none' needs 2-D embeddings; these have {X.shape[1]} "
                    "dimensions. Use method='tsne' or 'pca'."
                )
            coords = X
        else:
            raise ValueError(f"method must be 'tsne', 'pca' or 'none'; got {method!r}.")
        display = cls(coords, y, method=method, explained_variance_ratio=ratio)
        return display.plot(
            ax, legend=legend, marker_size=marker_size, alpha=alpha, title=title
        )

    @classmethod
    def from_estimator(
        cls,
        estimator,
        X,
        y=None,
        *,
        method="tsne",
        perplexity=30.0,
        random_state=None,
        ax=None,
        legend="auto",
        marker_size=None,
        alpha=0.8,
        title=None,
    ):
        """Embed ``X`` with a fitted transformer, project to 2-D and draw.

        Parameters
        ----------
        estimator : object with ``transform``
            A fitted :class:`~sksiamese.SiameseEmbedder`, or any fitted
            transformer (a pipeline ending in one included).
        X : array-like
            Samples, laid out as the estimator expects.
        y : array-like of shape (n_samples,), default=None
            Class labels, which set the colours.
        method, perplexity, random_state, ax, legend, marker_size, alpha, title
            See :meth:`from_embeddings`.

        Returns
        -------
        display : EmbeddingDisplay
        """
        return cls.from_embeddings(
            estimator.transform(X),
            y,
            method=method,
            perplexity=perplexity,
            random_state=random_state,
            ax=ax,
            legend=legend,
            marker_size=marker_size,
            alpha=alpha,
            title=title,
        )


# --------------------------------------------------------------------------
# Query and nearest neighbours
# --------------------------------------------------------------------------


class NeighborsDisplay:
    """Query images, each followed by its nearest gallery images.

    Each row shows one query and its ``k`` nearest neighbours in the order
    of their distance, which is written above each neighbour. With labels,
    each neighbour is framed and titled in green with a ✓ when it has the
    query's label, and in red with a ✗ when it does not.

    Create it with :meth:`from_estimator` or :meth:`from_embeddings`.

    Parameters
    ----------
    query_images : ndarray of shape (n_queries, height, width[, channels])
        Query images.
    neighbor_images : ndarray of shape (n_queries, k, height, width[, channels])
        The neighbours of each query, nearest first.
    distances : ndarray of shape (n_queries, k)
        Their distances to the query.
    query_labels : array-like of shape (n_queries,), default=None
        Labels of the queries.
    neighbor_labels : array-like of shape (n_queries, k), default=None
        Labels of the neighbours.

    Attributes
    ----------
    axes_ : ndarray of matplotlib.axes.Axes, shape (n_queries, k + 1)
        One axes per image; column 0 holds the queries.
    images_ : ndarray of matplotlib.image.AxesImage, shape (n_queries, k + 1)
        The images drawn.
    ax_ : matplotlib.axes.Axes
        Axes (axis turned off) whose area holds the grid and whose title is
        the picture's title.
    figure_ : matplotlib.figure.Figure
        Figure holding ``ax_``.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.datasets import load_digits
    >>> from sksiamese.plotting import NeighborsDisplay
    >>> digits = load_digits()
    >>> X, y = digits.data, digits.target  # rows of 8x8 = 64 pixels
    >>> display = NeighborsDisplay.from_embeddings(
    ...     X[:2], X[2:], X[:2], X[2:], query_labels=y[:2], gallery_labels=y[2:],
    ...     n_neighbors=5)
    >>> display.axes_.shape, display.images_[0, 0].get_array().shape
    ((2, 6), (8, 8))
    """

    def __init__(
        self,
        query_images,
        neighbor_images,
        distances,
        *,
        query_labels=None,
        neighbor_labels=None,
    ):
        self.query_images = query_images
        self.neighbor_images = neighbor_images
        self.distances = distances
        self.query_labels = query_labels
        self.neighbor_labels = neighbor_labels

    def plot(self, ax=None, *, cmap="gray", metric_name="d", title=None):
        """Draw the queries and their neighbours.

        Parameters
        ----------
        ax : matplotlib.axes.Axes, default=None
            Axes whose area receives the grid (its axis is turned off); None
            creates a figure.
        cmap : str or matplotlib colormap, default="gray"
            Colormap of grayscale images; all images share one intensity
            scale. Colour images are drawn as they are.
        metric_name : str, default="d"
            Name written before each distance.
        title : str, default=None
            Title of the picture; None describes it.

        Returns
        -------
        display : NeighborsDisplay
            This object, with ``ax_``, ``figure_``, ``axes_`` and
            ``images_`` set.
        """
        queries = np.asarray(self.query_images)
        neighbors = np.asarray(self.neighbor_images)
        distances = np.asarray(self.distances, dtype=np.float64)
        if distances.ndim != 2:
            raise ValueError(
                f"distances must have shape (n_queries, k); got {distances.shape}."
            )
        n_queries, k = distances.shape
        if len(queries) != n_queries or neighbors.shape[:2] != (n_queries, k):
            raise ValueError(
                f"query_images ({queries.shape}), neighbor_images "
                f"({neighbors.shape}) and distances ({distances.shape}) disagree "
                "on the number of queries and neighbours."
            )
        labelled = self.query_labels is not None and self.neighbor_labels is not None
        if labelled:
            q_labels = _check_1d(self.query_labels, "query_labels", n_queries)
            n_labels = np.asarray(self.neighbor_labels)
            if n_labels.shape != (n_queries, k):
                raise ValueError(
                    f"neighbor_labels must have shape {(n_queries, k)}; got "
                    f"{n_labels.shape}."
                )
        figsize = (1.6 * (k + 1) + 0.2, 1.9 * n_queries + 0.6)
        ax, fig = _panel_axes(ax, figsize)
        scale = _ImageScale(queries, neighbors)
        self.axes_ = _cells(ax, n_queries, k + 1, title_space=0.32)
        self.images_ = np.empty((n_queries, k + 1), dtype=object)
        for q in range(n_queries):
            cell = self.axes_[q, 0]
            self.images_[q, 0] = scale.show(cell, queries[q], cmap)
            text = "query"
            if labelled:
                text += f"\nlabel {_label_text(q_labels[q])}"
            cell.set_title(text, fontsize=9, fontweight="bold")
            _frame(cell, "black", 2.5)
            for j in range(k):
                cell = self.axes_[q, j + 1]
                self.images_[q, j + 1] = scale.show(cell, neighbors[q, j], cmap)
                text = f"#{j + 1}  {metric_name} = {_format_distance(distances[q, j])}"
                color = "black"
                if labelled:
                    match = n_labels[q, j] == q_labels[q]
                    color = _RIGHT if match else _WRONG
                    mark = "✓" if match else "✗"
                    text += f"\nlabel {_label_text(n_labels[q, j])} {mark}"
                    _frame(cell, color)
                cell.set_title(text, fontsize=8, color=color)
        if title is None:
            title = f"Query and its {k} nearest neighbours in the embedding"
            if n_queries > 1:
                title = f"{n_queries} queries and their {k} nearest neighbours"
        ax.set_title(title, fontsize=11)
        self.ax_, self.figure_ = ax, fig
        return self

    @classmethod
    def from_embeddings(
        cls,
        query_embeddings,
        gallery_embeddings,
        query_images,
        gallery_images,
        *,
        query_labels=None,
        gallery_labels=None,
        n_neighbors=5,
        metric="euclidean",
        image_shape=None,
        ax=None,
        cmap="gray",
        title=None,
    ):
        """Find each query's nearest gallery items and draw them.

        Parameters
        ----------
        query_embeddings : array-like of shape (n_queries, n_features)
            Embeddings of the queries.
        gallery_embeddings : array-like of shape (n_gallery, n_features)
            Embeddings searched. To search a collection for one of its own
            items, leave the item out of the gallery.
        query_images : array-like of shape (n_queries, ...)
            The queries as images: ``(height, width)`` or ``(height, width,
            channels)`` each, or flat rows with ``image_shape``.
        gallery_images : array-like of shape (n_gallery, ...)
            The gallery as images, laid out like ``query_images``.
        query_labels : array-like of shape (n_queries,), default=None
            Labels of the queries.
        gallery_labels : array-like of shape (n_gallery,), default=None
            Labels of the gallery; with ``query_labels``, neighbours are
            marked right (same label) or wrong.
        n_neighbors : int, default=5
            Neighbours shown per query.
        metric : {"euclidean", "cosine"}, default="euclidean"
            Distance, as in :func:`sksiamese.metrics.kneighbors`.
        image_shape : tuple of int, default=None
            Shape of one image, for flat rows; None reshapes rows of a
            square length to square images.
        ax : matplotlib.axes.Axes, default=None
            Axes whose area receives the grid; None creates a figure.
        cmap, title
            Passed to :meth:`plot`.

        Returns
        -------
        display : NeighborsDisplay
        """
        from .metrics import kneighbors

        distances, indices = kneighbors(
            query_embeddings, gallery_embeddings, n_neighbors=n_neighbors, metric=metric
        )
        queries = _as_images(query_images, image_shape, "query_images")
        gallery = _as_images(gallery_images, image_shape, "gallery_images")
        if len(queries) != len(distances):
            raise ValueError(
                f"query_images has {len(queries)} images but query_embeddings "
                f"has {len(distances)} rows."
            )
        if len(gallery) != len(np.asarray(gallery_embeddings)):
            raise ValueError(
                f"gallery_images has {len(gallery)} images but gallery_embeddings "
                f"has {len(np.asarray(gallery_embeddings))} rows."
            )
        neighbor_labels = None
        if query_labels is not None and gallery_labels is not None:
            gallery_labels = _check_1d(gallery_labels, "gallery_labels", len(gallery))
            neighbor_labels = gallery_labels[indices]
        display = cls(
            queries,
            gallery[indices],
            distances,
            query_labels=query_labels,
            neighbor_labels=neighbor_labels,
        )
        return display.plot(ax, cmap=cmap, title=title)

    @classmethod
    def from_estimator(
        cls,
        estimator,
        X_query,
        X_gallery,
        y_query=None,
        y_gallery=None,
        *,
        n_neighbors=5,
        metric="euclidean",
        image_shape=None,
        ax=None,
        cmap="gray",
        title=None,
    ):
        """Embed queries and gallery with a fitted transformer; draw neighbours.

        Parameters
        ----------
        estimator : object with ``transform``
            A fitted :class:`~sksiamese.SiameseEmbedder` or any transformer.
        X_query : array-like
            Query samples, which are also the images drawn.
        X_gallery : array-like
            Gallery samples, laid out like ``X_query``.
        y_query : array-like of shape (n_queries,), default=None
            Labels of the queries.
        y_gallery : array-like of shape (n_gallery,), default=None
            Labels of the gallery.
        n_neighbors : int, default=5
            Neighbours shown per query.
        metric : {"euclidean", "cosine"}, default="euclidean"
            Distance between embeddings.
        image_shape : tuple of int, default=None
            Shape of one image for flat rows; None uses the estimator's
            ``input_shape`` when it has one, else square images.
        ax, cmap, title
            See :meth:`from_embeddings`.

        Returns
        -------
        display : NeighborsDisplay
        """
        return cls.from_embeddings(
            estimator.transform(X_query),
            estimator.transform(X_gallery),
            X_query,
            X_gallery,
            query_labels=y_query,
            gallery_labels=y_gallery,
            n_neighbors=n_neighbors,
            metric=metric,
            image_shape=_image_shape_of(estimator, image_shape),
            ax=ax,
            cmap=cmap,
            title=title,
        )


# --------------------------------------------------------------------------
# Pairs with P(same)
# --------------------------------------------------------------------------


class PairsDisplay:
    """Pairs of images with their ``P(same)`` and the verdict.

    Each pair is titled with its probability of showing the same class and,
    when a threshold is known, the verdict ("same" when ``P(same) >=
    threshold``). When the truth is known too, the title is green with a ✓
    for a right verdict and red with a ✗ for a wrong one.

    Create it with :meth:`from_estimator` or :meth:`from_predictions`.

    Parameters
    ----------
    pairs : ndarray of shape (n_pairs, 2, height, width[, channels])
        The two images of each pair.
    proba : ndarray of shape (n_pairs,)
        ``P(same)`` of each pair.
    threshold : float, default=None
        Pairs with ``proba >= threshold`` are judged "same".
    same : array-like of shape (n_pairs,), default=None
        The truth: 1 for pairs of the same class, 0 otherwise.

    Attributes
    ----------
    axes_ : ndarray of matplotlib.axes.Axes, shape (n_pairs, 2)
        The two image axes of each pair.
    images_ : ndarray of matplotlib.image.AxesImage, shape (n_pairs, 2)
        The images drawn.
    titles_ : list of str
        The title of each pair.
    ax_ : matplotlib.axes.Axes
        Axes (axis turned off) whose area holds the pairs.
    figure_ : matplotlib.figure.Figure
        Figure holding ``ax_``.

    Examples
    --------
    >>> import numpy as np
    >>> from sksiamese.plotting import PairsDisplay
    >>> rng = np.random.default_rng(0)
    >>> pairs = rng.random((3, 2, 8, 8))
    >>> display = PairsDisplay.from_predictions(
    ...     pairs, [0.9, 0.2, 0.6], threshold=0.5, same=[1, 0, 0])
    >>> display.titles_[2].splitlines()
    ['P(same) = 0.60', 'same ✗ (truly different)']
    """

    def __init__(self, pairs, proba, *, threshold=None, same=None):
        self.pairs = pairs
        self.proba = proba
        self.threshold = threshold
        self.same = same

    def plot(self, ax=None, *, n_cols=None, cmap="gray", title=None):
        """Draw the pairs.

        Parameters
        ----------
        ax : matplotlib.axes.Axes, default=None
            Axes whose area receives the pairs (its axis is turned off);
            None creates a figure.
        n_cols : int, default=None
            Pairs per row; None puts up to 4 in a row.
        cmap : str or matplotlib colormap, default="gray"
            Colormap of grayscale images; all images share one intensity
            scale.
        title : str, default=None
            Title of the picture; None describes it.

        Returns
        -------
        display : PairsDisplay
            This object, with ``ax_``, ``figure_``, ``axes_``, ``images_``
            and ``titles_`` set.
        """
        pairs = np.asarray(self.pairs)
        if pairs.ndim not in (4, 5) or pairs.shape[1] != 2:
            raise ValueError(
                "pairs must be images of shape (n_pairs, 2, height, width[, "
                f"channels]); got {pairs.shape}."
            )
        n = len(pairs)
        proba = _check_1d(self.proba, "proba", n, dtype=np.float64)
        same = None if self.same is None else _check_same(self.same, n)
        n_cols = min(n, 4) if n_cols is None else int(n_cols)
        n_rows = math.ceil(n / n_cols)
        figsize = (3.2 * n_cols + 0.2, 2.3 * n_rows + 0.6)
        ax, fig = _panel_axes(ax, figsize)
        scale = _ImageScale(pairs)
        cells = _cells(ax, n_rows, n_cols, title_space=0.34, gap=0.1)
        self.axes_ = np.empty((n, 2), dtype=object)
        self.images_ = np.empty((n, 2), dtype=object)
        self.titles_ = []
        for i, cell in enumerate(cells.ravel()):
            cell.set_axis_off()
            if i >= n:
                continue
            for side, bounds in enumerate(
                ((0.0, 0.0, 0.48, 1.0), (0.52, 0.0, 0.48, 1.0))
            ):
                sub = cell.inset_axes(bounds)
                self.axes_[i, side] = sub
                self.images_[i, side] = scale.show(sub, pairs[i, side], cmap)
            text, color = f"P(same) {_format_proba(proba[i])}", "black"
            if self.threshold is not None:
                verdict = proba[i] >= self.threshold
                text += "\n" + ("same" if verdict else "different")
                if same is not None:
                    right = verdict == same[i]
                    color = _RIGHT if right else _WRONG
                    truth = "same" if same[i] else "different"
                    text += " ✓" if right else f" ✗ (truly {truth})"
            elif same is not None:
                text += "\ntruly " + ("same" if same[i] else "different")
            cell.set_title(text, fontsize=10, color=color)
            self.titles_.append(text)
        if title is None:
            title = "Pairs with their probability of showing the same class"
            if self.threshold is not None:
                title += f" (threshold {self.threshold:.2f})"
        ax.set_title(title, fontsize=11)
        self.ax_, self.figure_ = ax, fig
        return self

    @classmethod
    def from_predictions(
        cls,
        pairs,
        proba,
        *,
        threshold=None,
        same=None,
        image_shape=None,
        ax=None,
        n_cols=None,
        cmap="gray",
        title=None,
    ):
        """Draw pairs with probabilities computed elsewhere.

        Parameters
        ----------
        pairs : array-like of shape (n_pairs, 2, ...)
            The two samples of each pair, as images or as flat rows with
            ``image_shape``.
        proba : array-like of shape (n_pairs,)
            ``P(same)`` of each pair (column 1 of ``predict_proba``).
        threshold : float, default=None
            Threshold on ``proba`` for the verdict.
        same : array-like of shape (n_pairs,), default=None
            The truth: 1 for pairs of the same class, 0 otherwise.
        image_shape : tuple of int, default=None
            Shape of one image, for flat rows.
        ax, n_cols, cmap, title
            Passed to :meth:`plot`.

        Returns
        -------
        display : PairsDisplay
        """
        pairs = np.asarray(pairs)
        if pairs.ndim < 3 or pairs.shape[1] != 2:
            raise ValueError(
                f"pairs must have shape (n_pairs, 2, ...); got {pairs.shape}."
            )
        n = len(pairs)
        images = _as_images(
            pairs.reshape(2 * n, *pairs.shape[2:]), image_shape, "pairs"
        )
        display = cls(
            images.reshape(n, 2, *images.shape[1:]),
            proba,
            threshold=threshold,
            same=same,
        )
        return display.plot(ax, n_cols=n_cols, cmap=cmap, title=title)

    @classmethod
    def from_estimator(
        cls,
        estimator,
        pairs,
        same=None,
        *,
        image_shape=None,
        ax=None,
        n_cols=None,
        cmap="gray",
        title=None,
    ):
        """Draw pairs with the ``P(same)`` and verdict of a fitted verifier.

        Parameters
        ----------
        estimator : SiameseVerifier
            A fitted verifier: its ``predict_proba(pairs)[:, 1]`` is
            ``P(same)`` and its ``threshold_`` gives the verdict.
        pairs : array-like of shape (n_pairs, 2, ...)
            The two samples of each pair, laid out as in ``fit``.
        same : array-like of shape (n_pairs,), default=None
            The truth, when known.
        image_shape : tuple of int, default=None
            Shape of one image for flat rows; None uses the estimator's
            ``input_shape`` when it has one, else square images.
        ax, n_cols, cmap, title
            Passed to :meth:`plot`.

        Returns
        -------
        display : PairsDisplay
        """
        proba = estimator.predict_proba(pairs)[:, 1]
        return cls.from_predictions(
            pairs,
            proba,
            threshold=getattr(estimator, "threshold_", None),
            same=same,
            image_shape=_image_shape_of(estimator, image_shape),
            ax=ax,
            n_cols=n_cols,
            cmap=cmap,
            title=title,
        )


# --------------------------------------------------------------------------
# Training history
# --------------------------------------------------------------------------


def _history_rows(history):
    rows = list(history)
    if not rows or not all(isinstance(r, dict) for r in rows):
        raise ValueError(
            "history must be a non-empty skorch History or list of dicts, one "
            "per epoch; got " + (f"{type(history).__name__}" if rows else "none")
        )
    return rows


class TrainingHistoryDisplay:
    """Loss (or any per-epoch value) against the epoch, one line per key.

    Create it with :meth:`from_estimator` or :meth:`from_history`. When the
    validation loss is drawn, its lowest point is marked: with
    ``early_stopping=True`` that is the epoch whose weights were kept.

    Parameters
    ----------
    curves : dict of str to array-like of shape (n_epochs,)
        Values per epoch, by history key; NaN where a key is missing.
    epochs : array-like of shape (n_epochs,), default=None
        Epoch numbers; None numbers them from 1.

    Attributes
    ----------
    lines_ : dict of str to matplotlib.lines.Line2D
        One line per key.
    best_epoch_ : int or None
        Epoch of the lowest validation loss, when it is drawn.
    ax_ : matplotlib.axes.Axes
        Axes with the curves.
    figure_ : matplotlib.figure.Figure
        Figure holding ``ax_``.

    Examples
    --------
    >>> from sksiamese.plotting import TrainingHistoryDisplay
    >>> history = [{"epoch": 1, "train_loss": 0.9, "valid_loss": 0.8},
    ...            {"epoch": 2, "train_loss": 0.5, "valid_loss": 0.6},
    ...            {"epoch": 3, "train_loss": 0.3, "valid_loss": 0.7}]
    >>> display = TrainingHistoryDisplay.from_history(history)
    >>> sorted(display.lines_), display.best_epoch_
    (['train_loss', 'valid_loss'], 2)
    """

    def __init__(self, curves, *, epochs=None):
        self.curves = curves
        self.epochs = epochs

    def plot(self, ax=None, *, log_scale=False, title=None):
        """Draw the curves.

        Parameters
        ----------
        ax : matplotlib.axes.Axes, default=None
            Axes to draw into; None creates a figure.
        log_scale : bool, default=False
            Logarithmic value axis.
        title : str, default=None
            Axes title; None describes the curves.

        Returns
        -------
        display : TrainingHistoryDisplay
            This object, with ``ax_``, ``figure_``, ``lines_`` and
            ``best_epoch_`` set.
        """
        from matplotlib.ticker import MaxNLocator

        if not self.curves:
            raise ValueError("curves is empty: there is nothing to draw.")
        curves = {k: np.asarray(v, dtype=np.float64) for k, v in self.curves.items()}
        n = len(next(iter(curves.values())))
        epochs = np.arange(1, n + 1) if self.epochs is None else np.asarray(self.epochs)
        ax, fig = _axes(ax, (6.4, 4.2))
        self.lines_ = {}
        for key, values in curves.items():
            if len(values) != len(epochs):
                raise ValueError(
                    f"curve {key!r} has {len(values)} values for {len(epochs)} epochs."
                )
            (self.lines_[key],) = ax.plot(
                epochs,
                values,
                marker="o",
                markersize=4,
                label=_HISTORY_NAMES.get(key, key),
            )
        self.best_epoch_ = None
        valid = curves.get("valid_loss")
        if valid is not None and np.isfinite(valid).any():
            best = int(np.nanargmin(valid))
            self.best_epoch_ = int(epochs[best])
            ax.plot(
                epochs[best],
                valid[best],
                marker="*",
                markersize=14,
                linestyle="none",
                color=self.lines_["valid_loss"].get_color(),
                markeredgecolor="black",
                label=f"lowest validation loss (epoch {self.best_epoch_})",
            )
        ax.set_xlabel("epoch")
        all_losses = all(key.endswith("loss") for key in curves)
        ax.set_ylabel("loss" if all_losses else "value")
        if log_scale:
            ax.set_yscale("log")
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.grid(alpha=0.3)
        ax.legend()
        if title is None:
            title = f"Training history ({len(epochs)} epochs)"
        ax.set_title(title)
        self.ax_, self.figure_ = ax, fig
        return self

    @classmethod
    def from_history(cls, history, *, keys=None, ax=None, log_scale=False, title=None):
        """Draw per-epoch values of a skorch ``History``.

        Parameters
        ----------
        history : skorch.History or list of dict
            One dict per epoch, as in an estimator's ``history_``.
        keys : list of str, default=None
            Keys to draw; None draws ``train_loss`` and, when recorded,
            ``valid_loss``.
        ax : matplotlib.axes.Axes, default=None
            Axes to draw into; None creates a figure.
        log_scale, title
            Passed to :meth:`plot`.

        Returns
        -------
        display : TrainingHistoryDisplay
        """
        rows = _history_rows(history)
        if keys is None:
            keys = [
                k for k in ("train_loss", "valid_loss") if any(k in r for r in rows)
            ]
            if not keys:
                raise ValueError("history records neither train_loss nor valid_loss.")
        else:
            keys = [keys] if isinstance(keys, str) else list(keys)
            missing = [k for k in keys if not any(k in r for r in rows)]
            if missing:
                raise ValueError(
                    f"history has no {missing}; it records {sorted(rows[-1])}."
                )
        curves = {k: [r.get(k, np.nan) for r in rows] for k in keys}
        epochs = [r.get("epoch", i + 1) for i, r in enumerate(rows)]
        return cls(curves, epochs=epochs).plot(ax, log_scale=log_scale, title=title)

    @classmethod
    def from_estimator(
        cls, estimator, *, keys=None, ax=None, log_scale=False, title=None
    ):
        """Draw the training history of a fitted estimator.

        Parameters
        ----------
        estimator : SiameseEmbedder or SiameseVerifier
            A fitted estimator with a ``history_`` attribute (or a pipeline
            whose last step has one).
        keys, ax, log_scale, title
            See :meth:`from_history`.

        Returns
        -------
        display : TrainingHistoryDisplay
        """
        from sklearn.utils.validation import check_is_fitted

        if hasattr(estimator, "steps"):
            estimator = estimator.steps[-1][1]
        check_is_fitted(estimator, "history_")
        return cls.from_history(
            estimator.history_, keys=keys, ax=ax, log_scale=log_scale, title=title
        )


# --------------------------------------------------------------------------
# Verification: ROC / DET curve
# --------------------------------------------------------------------------


def _operating_point(same, accepted):
    far = float(np.mean(accepted[~same]))
    frr = float(np.mean(~accepted[same]))
    return far, frr


class VerificationCurveDisplay:
    """ROC or DET curve of same/different decisions on pairs.

    Both curves trade the **false acceptance rate** (FAR: share of
    different pairs declared "same") against the **false rejection rate**
    (FRR: share of same pairs declared "different") as the threshold moves.
    The ROC curve plots the true acceptance rate ``1 - FRR`` against FAR;
    the DET curve plots FRR against FAR on normal-deviate scales, which
    straightens the curve and spreads out the low error rates. The equal
    error rate (FAR = FRR) is marked, and so is the verifier's own
    threshold when it is known.

    Create it with :meth:`from_estimator` or :meth:`from_predictions`.

    Parameters
    ----------
    far : ndarray
        False acceptance rates, increasing.
    frr : ndarray
        False rejection rates at the same thresholds.
    roc_auc : float, default=None
        Area under the ROC curve.
    eer : float, default=None
        Equal error rate.
    operating_point : tuple of (float, float, float), default=None
        ``(far, frr, threshold)`` of the verifier's decisions.
    name : str, default=None
        Name of the curve in the legend.

    Attributes
    ----------
    line_ : matplotlib.lines.Line2D
        The curve.
    eer_point_ : matplotlib.lines.Line2D or None
        Marker of the equal error rate.
    operating_point_ : matplotlib.lines.Line2D or None
        Marker of the threshold.
    kind_ : str
        ``"roc"`` or ``"det"``.
    ax_ : matplotlib.axes.Axes
        Axes with the curve.
    figure_ : matplotlib.figure.Figure
        Figure holding ``ax_``.

    See Also
    --------
    DistanceHistogramDisplay : The distances behind the curve.
    sksiamese.metrics.equal_error_rate : The equal error rate.

    Examples
    --------
    >>> import numpy as np
    >>> from sksiamese.plotting import VerificationCurveDisplay
    >>> rng = np.random.default_rng(0)
    >>> same = np.repeat([1, 0], 50)
    >>> scores = rng.normal(same * 2.0, 1.0)  # higher means more alike
    >>> display = VerificationCurveDisplay.from_predictions(same, scores, threshold=1.0)
    >>> display.ax_.get_xlabel()
    'false acceptance rate (different pairs accepted)'
    >>> 0.0 < display.eer < 0.5
    True
    """

    def __init__(
        self, far, frr, *, roc_auc=None, eer=None, operating_point=None, name=None
    ):
        self.far = far
        self.frr = frr
        self.roc_auc = roc_auc
        self.eer = eer
        self.operating_point = operating_point
        self.name = name

    def _legend_label(self, name):
        parts = []
        if self.roc_auc is not None:
            parts.append(f"AUC = {self.roc_auc:.3f}")
        if self.eer is not None:
            parts.append(f"EER = {self.eer:.1%}")
        label = name or "verifier"
        return label + (f" ({', '.join(parts)})" if parts else "")

    def plot(self, ax=None, *, kind="roc", name=None):
        """Draw the curve.

        Parameters
        ----------
        ax : matplotlib.axes.Axes, default=None
            Axes to draw into; None creates a figure.
        kind : {"roc", "det"}, default="roc"
            ROC curve (true acceptance rate against FAR, linear scales) or
            DET curve (FRR against FAR, normal-deviate scales).
        name : str, default=None
            Name of the curve in the legend; None uses ``name``.

        Returns
        -------
        display : VerificationCurveDisplay
            This object, with ``ax_``, ``figure_``, ``line_``,
            ``eer_point_``, ``operating_point_`` and ``kind_`` set.
        """
        if kind not in ("roc", "det"):
            raise ValueError(f"kind must be 'roc' or 'det'; got {kind!r}.")
        far = np.asarray(self.far, dtype=np.float64)
        frr = np.asarray(self.frr, dtype=np.float64)
        if far.shape != frr.shape or far.ndim != 1:
            raise ValueError(
                f"far and frr must be 1-D of one length; got {far.shape} and "
                f"{frr.shape}."
            )
        ax, fig = _axes(ax, (5.6, 5.4))
        label = self._legend_label(name or self.name)
        self.eer_point_ = self.operating_point_ = None
        if kind == "roc":
            (self.line_,) = ax.plot(far, 1.0 - frr, label=label)
            ax.plot([0, 1], [0, 1], linestyle=":", color="gray", label="chance")
            to_xy = lambda a, r: (a, 1.0 - r)  # noqa: E731
            ax.set_xlim(-0.01, 1.01)
            ax.set_ylim(-0.01, 1.01)
            ax.set_ylabel("true acceptance rate (same pairs accepted)")
        else:
            ppf = _normal_ppf
            with np.errstate(divide="ignore"):
                (self.line_,) = ax.plot(ppf(far), ppf(frr), label=label)
            to_xy = lambda a, r: (ppf(a), ppf(r))  # noqa: E731
            ticks = np.array([0.001, 0.01, 0.05, 0.2, 0.5, 0.8, 0.95, 0.99, 0.999])
            positions = ppf(ticks)
            labels = [f"{t:.1%}".replace(".0%", "%") for t in ticks]
            lim = (positions[0] - 0.2, positions[-1] + 0.2)
            ax.plot(lim, lim, linestyle=":", color="gray", label="FAR = FRR")
            ax.set_xticks(positions, labels)
            ax.set_yticks(positions, labels)
            ax.set_xlim(lim)
            ax.set_ylim(lim)
            ax.set_ylabel("false rejection rate (same pairs rejected)")
        ax.set_xlabel("false acceptance rate (different pairs accepted)")
        if self.eer is not None:
            x, y = to_xy(self.eer, self.eer)
            (self.eer_point_,) = ax.plot(
                x,
                y,
                marker="o",
                markersize=8,
                linestyle="none",
                markerfacecolor="white",
                markeredgecolor="black",
                label=f"equal error rate: {self.eer:.1%}",
            )
        if self.operating_point is not None:
            a, r, t = self.operating_point
            x, y = to_xy(a, r)
            (self.operating_point_,) = ax.plot(
                x,
                y,
                marker="*",
                markersize=14,
                linestyle="none",
                color=_WRONG,
                markeredgecolor="black",
                label=f"threshold {t:.3g}: FAR {a:.1%}, FRR {r:.1%}",
            )
        ax.set_aspect("equal")
        ax.grid(alpha=0.3)
        ax.legend(
            loc="lower right" if kind == "roc" else "upper right", fontsize="small"
        )
        ax.set_title(
            "ROC curve of the pair decisions" if kind == "roc" else "DET curve"
        )
        self.kind_, self.ax_, self.figure_ = kind, ax, fig
        return self

    @classmethod
    def from_predictions(
        cls, same, scores, *, threshold=None, kind="roc", name=None, ax=None
    ):
        """Draw the curve of scores computed elsewhere.

        Parameters
        ----------
        same : array-like of shape (n_pairs,)
            1 (or True) for pairs of the same class, 0 otherwise.
        scores : array-like of shape (n_pairs,)
            Higher means more alike: ``P(same)``, ``decision_function`` or
            minus a distance.
        threshold : float, default=None
            Pairs with ``score >= threshold`` are accepted; marks that
            operating point.
        kind : {"roc", "det"}, default="roc"
            Which curve.
        name : str, default=None
            Name of the curve in the legend.
        ax : matplotlib.axes.Axes, default=None
            Axes to draw into; None creates a figure.

        Returns
        -------
        display : VerificationCurveDisplay
        """
        scores = _check_1d(scores, "scores", dtype=np.float64)
        accepted = None if threshold is None else scores >= threshold
        display = cls._from_scores(same, scores, accepted, threshold, name)
        return display.plot(ax, kind=kind)

    @classmethod
    def from_estimator(cls, estimator, pairs, same, *, kind="roc", name=None, ax=None):
        """Draw the curve of a fitted verifier on labelled pairs.

        The curve ranks pairs by ``decision_function`` (minus the embedding
        distance); the operating point is where ``predict`` puts them, at
        ``threshold_``.

        Parameters
        ----------
        estimator : SiameseVerifier
            A fitted verifier.
        pairs : array-like of shape (n_pairs, 2, ...)
            The two samples of each pair, laid out as in ``fit``.
        same : array-like of shape (n_pairs,)
            1 for pairs of the same class, 0 otherwise; both must occur.
        kind : {"roc", "det"}, default="roc"
            Which curve.
        name : str, default=None
            Name of the curve in the legend; None uses the class name.
        ax : matplotlib.axes.Axes, default=None
            Axes to draw into; None creates a figure.

        Returns
        -------
        display : VerificationCurveDisplay
        """
        scores = np.asarray(estimator.decision_function(pairs), dtype=np.float64)
        accepted = np.asarray(estimator.predict(pairs)) == 1
        display = cls._from_scores(
            same,
            scores,
            accepted,
            getattr(estimator, "threshold_", None),
            name or type(estimator).__name__,
        )
        return display.plot(ax, kind=kind)

    @classmethod
    def _from_scores(cls, same, scores, accepted, threshold, name):
        from sklearn.metrics import roc_auc_score, roc_curve

        from .metrics import equal_error_rate

        scores = _check_1d(scores, "scores", dtype=np.float64)
        same = _check_binary_both(same, len(scores))
        fpr, tpr, _ = roc_curve(same, scores)
        point = None
        if threshold is not None and accepted is not None:
            point = (*_operating_point(same, accepted), float(threshold))
        return cls(
            fpr,
            1.0 - tpr,
            roc_auc=float(roc_auc_score(same, scores)),
            eer=equal_error_rate(same, scores)[0],
            operating_point=point,
            name=name,
        )


def _normal_ppf(p):
    from scipy.stats import norm

    return norm.ppf(np.asarray(p, dtype=np.float64))


# --------------------------------------------------------------------------
# Verification: distance histograms
# --------------------------------------------------------------------------


def _distance_threshold(calibrator, threshold, d_max):
    """Largest distance whose ``P(same)`` reaches ``threshold`` (bisection).

    ``P(same)`` does not increase with the distance. Returns 0 when no
    distance reaches the threshold and ``d_max`` when all do.
    """

    def accepted(d):
        return float(calibrator.predict(np.array([d]))[0]) >= threshold

    if not accepted(0.0):
        return 0.0
    if accepted(d_max):
        return float(d_max)
    lo, hi = 0.0, float(d_max)
    for _ in range(60):
        mid = (lo + hi) / 2.0
        lo, hi = (mid, hi) if accepted(mid) else (lo, mid)
    return (lo + hi) / 2.0


class DistanceHistogramDisplay:
    """Histograms of the embedding distances of same and different pairs.

    A good embedding puts same pairs at small distances and different pairs
    at large ones; the overlap of the two histograms is where a verifier
    errs. The threshold is drawn as a vertical line: pairs to its left are
    declared "same". When a calibration map is known, the calibrated
    ``P(same)`` is drawn against a second axis on the right.

    Create it with :meth:`from_estimator` or :meth:`from_predictions`.

    Parameters
    ----------
    distances : ndarray of shape (n_pairs,)
        Distance of each pair.
    same : ndarray of shape (n_pairs,)
        1 for pairs of the same class, 0 otherwise.
    threshold : float, default=None
        Distance threshold: pairs with ``distance <= threshold`` are
        declared "same".
    proba_threshold : float, default=None
        The threshold on ``P(same)`` that ``threshold`` corresponds to.
    proba_curve : tuple of two ndarrays, default=None
        ``(distances, P(same))`` of the calibration map.

    Attributes
    ----------
    same_patches_ : list of matplotlib.patches.Patch
        Bars of the same pairs.
    different_patches_ : list of matplotlib.patches.Patch
        Bars of the different pairs.
    threshold_line_ : matplotlib.lines.Line2D or None
        The threshold.
    proba_line_ : matplotlib.lines.Line2D or None
        The calibrated ``P(same)``.
    accuracy_ : float or None
        Share of pairs on the right side of the threshold.
    ax_ : matplotlib.axes.Axes
        Axes with the histograms.
    ax_proba_ : matplotlib.axes.Axes or None
        Right-hand axes of ``P(same)``.
    figure_ : matplotlib.figure.Figure
        Figure holding ``ax_``.

    Examples
    --------
    >>> import numpy as np
    >>> from sksiamese.plotting import DistanceHistogramDisplay
    >>> rng = np.random.default_rng(0)
    >>> same = np.repeat([1, 0], 100)
    >>> distances = np.abs(rng.normal(np.where(same, 0.5, 1.2), 0.2))
    >>> display = DistanceHistogramDisplay.from_predictions(
    ...     same, distances, threshold=0.85, bins=20)
    >>> len(display.same_patches_), display.ax_.get_xlabel()
    (20, 'distance between the embeddings of a pair')
    >>> round(display.accuracy_, 2)
    0.95
    """

    def __init__(
        self, distances, same, *, threshold=None, proba_threshold=None, proba_curve=None
    ):
        self.distances = distances
        self.same = same
        self.threshold = threshold
        self.proba_threshold = proba_threshold
        self.proba_curve = proba_curve

    def plot(self, ax=None, *, bins=30, density=False, title=None):
        """Draw the histograms.

        Parameters
        ----------
        ax : matplotlib.axes.Axes, default=None
            Axes to draw into; None creates a figure.
        bins : int or array-like, default=30
            Bins shared by both histograms.
        density : bool, default=False
            Draw each histogram as a density (each integrates to 1), which
            compares the shapes when the two groups differ in size; False
            counts pairs.
        title : str, default=None
            Axes title; None describes the pairs.

        Returns
        -------
        display : DistanceHistogramDisplay
            This object, with ``ax_``, ``figure_``, ``ax_proba_``, the
            patches, ``threshold_line_``, ``proba_line_`` and ``accuracy_``
            set.
        """
        d = _check_1d(self.distances, "distances", dtype=np.float64)
        same = _check_binary_both(self.same, len(d))
        ax, fig = _axes(ax, (7.0, 4.4))
        edges = np.histogram_bin_edges(d, bins=bins)
        common = dict(bins=edges, density=density, alpha=0.45, edgecolor="none")
        _, _, same_patches = ax.hist(
            d[same],
            color=_SAME_COLOR,
            label=f"same class ({int(same.sum())} pairs)",
            **common,
        )
        _, _, diff_patches = ax.hist(
            d[~same],
            color=_DIFFERENT_COLOR,
            label=f"different classes ({int((~same).sum())} pairs)",
            **common,
        )
        edge = dict(bins=edges, density=density, histtype="step", linewidth=1.5)
        ax.hist(d[same], color=_SAME_COLOR, **edge)
        ax.hist(d[~same], color=_DIFFERENT_COLOR, **edge)
        self.same_patches_ = list(same_patches)
        self.different_patches_ = list(diff_patches)
        ax.set_xlabel("distance between the embeddings of a pair")
        ax.set_ylabel("density" if density else "number of pairs")
        self.threshold_line_ = self.proba_line_ = self.ax_proba_ = None
        self.accuracy_ = None
        if self.threshold is not None:
            t = float(self.threshold)
            self.accuracy_ = float(np.mean((d <= t) == same))
            label = f"threshold: distance {t:.3g}"
            if self.proba_threshold is not None:
                label += f" (P(same) = {self.proba_threshold:.2f})"
            label += f"; {self.accuracy_:.1%} of pairs right"
            self.threshold_line_ = ax.axvline(
                t, color="black", linestyle="--", linewidth=1.5, label=label
            )
        handles, labels = ax.get_legend_handles_labels()
        if self.proba_curve is not None:
            grid, proba = (np.asarray(a, dtype=np.float64) for a in self.proba_curve)
            self.ax_proba_ = ax.twinx()
            (self.proba_line_,) = self.ax_proba_.plot(
                grid, proba, color="dimgray", linewidth=1.5, label="calibrated P(same)"
            )
            self.ax_proba_.set_ylim(0.0, 1.05)
            self.ax_proba_.set_ylabel("calibrated P(same)")
            handles.append(self.proba_line_)
            labels.append("calibrated P(same)")
        ax.legend(
            handles,
            labels,
            loc="upper center",
            bbox_to_anchor=(0.5, -0.15),
            ncol=2,
            fontsize="small",
            frameon=False,
        )
        if title is None:
            title = f"Distances of {len(d)} pairs"
        ax.set_title(title)
        self.ax_, self.figure_ = ax, fig
        return self

    @classmethod
    def from_predictions(
        cls,
        same,
        distances,
        *,
        threshold=None,
        proba_curve=None,
        ax=None,
        bins=30,
        density=False,
        title=None,
    ):
        """Draw the histograms of distances computed elsewhere.

        Parameters
        ----------
        same : array-like of shape (n_pairs,)
            1 (or True) for pairs of the same class, 0 otherwise.
        distances : array-like of shape (n_pairs,)
            Distance of each pair (minus ``decision_function``).
        threshold : float, default=None
            Distance threshold to mark.
        proba_curve : tuple of two array-likes, default=None
            ``(distances, P(same))`` of a calibration map to draw.
        ax, bins, density, title
            Passed to :meth:`plot`.

        Returns
        -------
        display : DistanceHistogramDisplay
        """
        display = cls(distances, same, threshold=threshold, proba_curve=proba_curve)
        return display.plot(ax, bins=bins, density=density, title=title)

    @classmethod
    def from_estimator(
        cls,
        estimator,
        pairs,
        same,
        *,
        show_proba=True,
        ax=None,
        bins=30,
        density=False,
        title=None,
    ):
        """Draw the distances of labelled pairs under a fitted verifier.

        The threshold drawn is the distance at which the verifier's
        calibrated ``P(same)`` falls below its ``threshold_``.

        Parameters
        ----------
        estimator : SiameseVerifier
            A fitted verifier.
        pairs : array-like of shape (n_pairs, 2, ...)
            The two samples of each pair, laid out as in ``fit``.
        same : array-like of shape (n_pairs,)
            1 for pairs of the same class, 0 otherwise; both must occur.
        show_proba : bool, default=True
            Draw the calibrated ``P(same)`` against a right-hand axis.
        ax, bins, density, title
            Passed to :meth:`plot`.

        Returns
        -------
        display : DistanceHistogramDisplay
        """
        distances = -np.asarray(estimator.decision_function(pairs), dtype=np.float64)
        d_max = max(float(distances.max()) * 1.05, 1e-12)
        calibrator = getattr(estimator, "calibrator_", None)
        threshold = proba_threshold = curve = None
        if calibrator is not None:
            proba_threshold = float(estimator.threshold_)
            threshold = _distance_threshold(calibrator, proba_threshold, d_max)
            if show_proba:
                grid = np.linspace(0.0, d_max, 400)
                curve = (grid, np.clip(calibrator.predict(grid), 0.0, 1.0))
        display = cls(
            distances,
            same,
            threshold=threshold,
            proba_threshold=proba_threshold,
            proba_curve=curve,
        )
        return display.plot(ax, bins=bins, density=density, title=title)
