"""Map of embeddings in two dimensions, one colour per class."""

import math

import numpy as np

from .._utils import check_labels
from ._base import _check_finite, _Display, _fill_doc, _label_text

__all__ = ["EmbeddingDisplay"]

# Markers that, with the 20 colours of "tab20", tell up to 160 classes apart.
_MARKERS = ("o", "s", "^", "D", "v", "P", "X", "*")


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


def _project(X, method, perplexity, random_state):
    """2-D coordinates of the rows of ``X`` and, for PCA, the share of the
    variance along each axis."""
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
        return coords, None
    if method == "pca":
        from sklearn.decomposition import PCA

        if X.shape[1] < 2:
            raise ValueError("method='pca' needs embeddings of 2 or more dimensions.")
        pca = PCA(n_components=2, random_state=random_state)
        return pca.fit_transform(X), pca.explained_variance_ratio_
    if method == "none":
        if X.shape[1] != 2:
            raise ValueError(
                f"method='none' needs 2-D embeddings; these have {X.shape[1]} "
                "dimensions. Use method='tsne' or 'pca'."
            )
        return X, None
    raise ValueError(f"method must be 'tsne', 'pca' or 'none'; got {method!r}.")


@_fill_doc
class EmbeddingDisplay(_Display):
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
    {figure_attr}

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

    @_fill_doc
    def plot(self, ax=None, *, legend="auto", marker_size=None, alpha=0.8, title=None):
        """Draw the map.

        Parameters
        ----------
        {ax}
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
        _check_finite(
            coords, "coordinates", "every point needs two finite coordinates."
        )
        n = len(coords)
        labels = None if self.labels is None else check_labels(self.labels, n, "labels")
        n_classes = 1 if labels is None else len(np.unique(labels))
        ncol = max(1, math.ceil(n_classes / 20))
        ax = self._use_axes(ax, (7.0 + 1.8 * (ncol - 1), 6.0))
        size = (
            marker_size
            if marker_size is not None
            else float(np.clip(4000 / max(n, 1), 6, 40))
        )
        self._scatter(ax, coords, labels, size, alpha)
        self._label_axes(ax, n, title)
        show_legend = labels is not None if legend == "auto" else bool(legend)
        self.legend_ = None
        if show_legend and labels is not None:
            self._draw_legend(ax, ncol, size)
        return self

    def _scatter(self, ax, coords, labels, size, alpha):
        """One scatter of the points of each class, kept in ``scatters_``."""
        self.scatters_ = {}
        if labels is None:
            self.scatters_[None] = ax.scatter(
                coords[:, 0], coords[:, 1], s=size, alpha=alpha, edgecolors="none"
            )
            return
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

    def _label_axes(self, ax, n, title):
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

    def _draw_legend(self, ax, ncol, size):
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

    @classmethod
    @_fill_doc
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
        {ax}
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
        _check_finite(X, "embeddings", "every sample needs a finite embedding.")
        coords, ratio = _project(X, method, perplexity, random_state)
        display = cls(coords, y, method=method, explained_variance_ratio=ratio)
        return display.plot(
            ax, legend=legend, marker_size=marker_size, alpha=alpha, title=title
        )

    @classmethod
    @_fill_doc
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
        {transformer}
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
