"""Query images next to their nearest gallery images."""

import numpy as np

from .._utils import check_labels
from ._base import (
    _RIGHT,
    _WRONG,
    _as_images,
    _cells,
    _check_finite,
    _Display,
    _fill_doc,
    _image_shape_of,
    _ImageScale,
    _label_text,
    _reader_for,
    _samples,
)

__all__ = ["NeighborsDisplay"]


def _frame(ax, color, width=2.0):
    for spine in ax.spines.values():
        spine.set_edgecolor(color)
        spine.set_linewidth(width)


def _format_distance(d):
    """Three decimals, so that the distances of one picture line up."""
    return f"{d:.3f}" if abs(d) < 1000 else f"{d:.4g}"


@_fill_doc
class NeighborsDisplay(_Display):
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
    {figure_attr}

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

    @_fill_doc
    def plot(self, ax=None, *, cmap="gray", metric_name="d", title=None):
        """Draw the queries and their neighbours.

        Parameters
        ----------
        {panel_ax}
        {cmap}
        metric_name : str, default="d"
            Name written before each distance.
        {panel_title}

        Returns
        -------
        display : NeighborsDisplay
            This object, with ``ax_``, ``figure_``, ``axes_`` and
            ``images_`` set.
        """
        queries, neighbors, distances = self._checked_arrays()
        n_queries, k = distances.shape
        labels = self._checked_labels(n_queries, k)
        ax = self._use_panel(ax, (1.6 * (k + 1) + 0.2, 1.9 * n_queries + 0.6))
        scale = _ImageScale(queries, neighbors)
        self.axes_ = _cells(ax, n_queries, k + 1, title_space=0.32)
        self.images_ = np.empty((n_queries, k + 1), dtype=object)
        q_labels = None if labels is None else labels[0]
        for q in range(n_queries):
            cell = self.axes_[q, 0]
            self.images_[q, 0] = scale.show(cell, queries[q], cmap)
            text = "query"
            if q_labels is not None:
                text += f"\nlabel {_label_text(q_labels[q])}"
            cell.set_title(text, fontsize=9, fontweight="bold")
            _frame(cell, "black", 2.5)
            for j in range(k):
                cell = self.axes_[q, j + 1]
                self.images_[q, j + 1] = scale.show(cell, neighbors[q, j], cmap)
                self._title_neighbor(cell, q, j, distances, labels, metric_name)
        if title is None:
            title = f"Query and its {k} nearest neighbours in the embedding"
            if n_queries > 1:
                title = f"{n_queries} queries and their {k} nearest neighbours"
        ax.set_title(title, fontsize=11)
        return self

    def _checked_arrays(self):
        """Query images, neighbour images and distances, of agreeing shapes."""
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
        _check_finite(
            distances,
            "distances",
            "each neighbour needs a finite distance to its query.",
        )
        return queries, neighbors, distances

    def _checked_labels(self, n_queries, k):
        """``(query_labels, neighbor_labels)``, or None unless both are given."""
        if self.query_labels is None or self.neighbor_labels is None:
            return None
        q_labels = check_labels(self.query_labels, n_queries, "query_labels")
        n_labels = np.asarray(self.neighbor_labels)
        if n_labels.shape != (n_queries, k):
            raise ValueError(
                f"neighbor_labels must have shape {(n_queries, k)}; got "
                f"{n_labels.shape}."
            )
        # missing labels are named by their position in the flattened array
        check_labels(n_labels.ravel(), name="neighbor_labels")
        return q_labels, n_labels

    @staticmethod
    def _title_neighbor(cell, q, j, distances, labels, metric_name):
        """Rank and distance of neighbour ``j`` of query ``q``; with labels,
        green and ✓ when it has the query's label, red and ✗ when not."""
        text = f"#{j + 1}  {metric_name} = {_format_distance(distances[q, j])}"
        color = "black"
        if labels is not None:
            q_labels, n_labels = labels
            match = n_labels[q, j] == q_labels[q]
            color = _RIGHT if match else _WRONG
            mark = "✓" if match else "✗"
            text += f"\nlabel {_label_text(n_labels[q, j])} {mark}"
            _frame(cell, color)
        cell.set_title(text, fontsize=8, color=color)

    @classmethod
    @_fill_doc
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
        query_images : array-like of shape (n_queries, ...) or list of paths
            The queries as images: ``(height, width)`` or ``(height, width,
            channels)`` each, flat rows with ``image_shape``, or the paths
            of image files (read as ``image_shape`` says).
        gallery_images : array-like of shape (n_gallery, ...) or list of paths
            The gallery as images, or the paths of image files; only the
            neighbours drawn are read.
        query_labels : array-like of shape (n_queries,), default=None
            Labels of the queries.
        gallery_labels : array-like of shape (n_gallery,), default=None
            Labels of the gallery; with ``query_labels``, neighbours are
            marked right (same label) or wrong.
        n_neighbors : int, default=5
            Neighbours shown per query.
        metric : {"euclidean", "cosine"}, default="euclidean"
            Distance, as in :func:`sksiamese.neighbors.kneighbors`.
        {image_shape}
        {panel_ax}
        cmap, title
            Passed to :meth:`plot`.

        Returns
        -------
        display : NeighborsDisplay
        """
        from ..metrics import kneighbors

        distances, indices = kneighbors(
            query_embeddings, gallery_embeddings, n_neighbors=n_neighbors, metric=metric
        )
        queries, query_files = _samples(query_images, "query_images")
        gallery, _ = _samples(gallery_images, "gallery_images")
        n_gallery = len(np.asarray(gallery_embeddings))
        if len(queries) != len(distances):
            raise ValueError(
                f"query_images has {len(queries)} images but query_embeddings "
                f"has {len(distances)} rows."
            )
        if len(gallery) != n_gallery:
            raise ValueError(
                f"gallery_images has {len(gallery)} images but gallery_embeddings "
                f"has {n_gallery} rows."
            )
        # only the images drawn are read: a gallery of files stays on disk
        reader = _reader_for(queries, image_shape) if query_files else None
        queries = _as_images(queries, image_shape, "query_images", reader=reader)
        found = _as_images(
            gallery[indices.ravel()], image_shape, "gallery_images", reader=reader
        )
        neighbor_labels = None
        if query_labels is not None and gallery_labels is not None:
            gallery_labels = check_labels(gallery_labels, n_gallery, "gallery_labels")
            neighbor_labels = gallery_labels[indices]
        display = cls(
            queries,
            found.reshape(*indices.shape, *found.shape[1:]),
            distances,
            query_labels=query_labels,
            neighbor_labels=neighbor_labels,
        )
        return display.plot(ax, cmap=cmap, title=title)

    @classmethod
    @_fill_doc
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
        {transformer}
        X_query : array-like or list of paths
            Query samples, which are also the images drawn: arrays, or the
            paths of image files, read as the estimator reads them.
        X_gallery : array-like or list of paths
            Gallery samples, laid out like ``X_query``; of files, only the
            neighbours drawn are read.
        y_query : array-like of shape (n_queries,), default=None
            Labels of the queries.
        y_gallery : array-like of shape (n_gallery,), default=None
            Labels of the gallery.
        n_neighbors : int, default=5
            Neighbours shown per query.
        metric : {"euclidean", "cosine"}, default="euclidean"
            Distance between embeddings.
        {estimator_image_shape}
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
