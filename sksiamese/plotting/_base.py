"""What several displays share: where they draw, image grids, input checks
and the documentation of the parameters they have in common."""

import math

import numpy as np

from .._utils import fill_doc
from ..images import ImageReader, as_paths, reader_of

# Colours for right and wrong answers.
_RIGHT, _WRONG = "tab:green", "tab:red"

# Parameters and attributes that several displays document in the same words;
# ``_fill_doc`` writes them where a docstring says ``{name}``. Those of
# methods are indented for a method's docstring, ``figure_attr`` for a
# class's.
_fill_doc = fill_doc(
    ax="""ax : matplotlib.axes.Axes, default=None
            Axes to draw into; None creates a figure.""",
    panel_ax="""ax : matplotlib.axes.Axes, default=None
            Axes whose area receives the images (its axis is turned off);
            None creates a figure.""",
    panel_title="""title : str, default=None
            Title of the picture; None describes it.""",
    cmap="""cmap : str or matplotlib colormap, default="gray"
            Colormap of grayscale images; all images share one intensity
            scale. Colour images are drawn as they are.""",
    image_shape="""image_shape : tuple of int or ImageReader, default=None
            Shape of one image, for flat rows; None reshapes rows of a
            square length to square images. Samples given as image file
            paths are read to this size (an
            :class:`~sksiamese.images.ImageReader` reads them its way);
            None reads them at the first drawn file's size and mode.""",
    estimator_image_shape="""image_shape : tuple of int or ImageReader, default=None
            Shape of one image for flat rows, or the reader of image file
            paths; None uses the estimator's ``input_shape`` when it has
            one, else square images (files: the first drawn file's size).""",
    transformer="""estimator : object with ``transform``
            A fitted :class:`~sksiamese.SiameseEmbedder`, or any fitted
            transformer (a pipeline ending in one included).""",
    pairs="""pairs : array-like of shape (n_pairs, 2, ...)
            The two samples of each pair, laid out as in ``fit``.""",
    same="""same : array-like of shape (n_pairs,)
            1 (or True) for pairs of the same class, 0 (or False) otherwise;
            both must occur.""",
    figure_attr="""figure_ : matplotlib.figure.Figure
        Figure holding ``ax_``.""",
)


class _Display:
    """Where a display draws.

    Every display's ``plot`` draws into the axes it is given, or into a new
    figure when None, and keeps them as ``ax_`` and ``figure_``; it calls
    :meth:`_use_axes`, or :meth:`_use_panel` for a grid of images.
    """

    def _use_axes(self, ax, figsize):
        """``ax``, or the one axes of a new figure of ``figsize`` inches;
        kept as ``ax_``, its figure as ``figure_``."""
        if ax is None:
            _, ax = _pyplot().subplots(figsize=figsize, layout="constrained")
        self.ax_, self.figure_ = ax, ax.figure
        return ax

    def _use_panel(self, ax, figsize):
        """Like :meth:`_use_axes`, for an axes whose area receives a grid of
        images: its axis is turned off, and a new figure keeps room for a
        title at the top."""
        if ax is None:
            fig = _pyplot().figure(figsize=figsize)
            top = 1.0 - 0.5 / figsize[1]
            ax = fig.add_axes((0.01, 0.01, 0.98, top - 0.01))
        ax.set_axis_off()
        self.ax_, self.figure_ = ax, ax.figure
        return ax


def _pyplot():
    import matplotlib.pyplot as plt

    return plt


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


def _count(count, noun):
    """``"1 value"``, ``"2 values"``."""
    return f"{count} {noun}" if count == 1 else f"{count} {noun}s"


def _check_finite(values, name, need):
    """``values``, or a ValueError that says how many of them are NaN or
    infinite, where the first one is and, in ``need``, what they must be."""
    bad = ~np.isfinite(values)
    if bad.any():
        first = np.argwhere(bad)[0].tolist()
        where = first[0] if len(first) == 1 else tuple(first)
        raise ValueError(
            f"{name} holds {_count(int(bad.sum()), 'NaN or infinite value')}, "
            f"the first at position {where}; {need}"
        )
    return values


def _check_fractions(values, name, meaning, advice=""):
    """``values`` (1-D floats), or a ValueError when some are NaN or lie
    outside [0, 1]: how many, the first of them and where, what they mean,
    and ``advice`` on what to pass instead."""
    bad = ~((values >= 0.0) & (values <= 1.0))  # NaN fails both
    if bad.any():
        first = int(np.flatnonzero(bad)[0])
        raise ValueError(
            f"{name} must hold {meaning}, finite and within [0, 1]; not so at "
            f"{int(bad.sum())} of its {_count(len(values), 'position')}, the first "
            f"being {values[first]:g} at position {first}.{advice}"
        )
    return values


def _check_threshold(threshold, what, low=-np.inf, high=np.inf, advice=""):
    """``threshold`` as a float, or a ValueError saying it must be ``what``,
    a finite number between ``low`` and ``high``, and giving ``advice``."""
    try:
        value = float(threshold)
    except (TypeError, ValueError):
        value = np.nan
    if not (np.isfinite(value) and low <= value <= high):
        raise ValueError(f"threshold must be {what}; got {threshold!r}.{advice}")
    return value


def _as_images(X, image_shape=None, name="X", reader=None):
    """Samples as images: (n, height, width) or (n, height, width, 3 or 4).

    A sequence of image file paths is read with ``reader`` (see
    :func:`_reader_for`). 2-D rows are reshaped to ``image_shape``, or to a
    square when their length is a square number. A trailing channel axis of
    size 1 is dropped.
    """
    paths = as_paths(X, name)
    if paths is not None:
        reader = _reader_for(paths, image_shape) if reader is None else reader
        return np.stack([reader.read(path) for path in paths])
    if isinstance(image_shape, ImageReader):
        image_shape = None  # arrays carry their own shape
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


def _reader_for(paths, image_shape):
    """The reader that draws image files as the network reads them: the
    estimator's :class:`~sksiamese.images.ImageReader` or image shape, its
    unset size and mode taken from the first file, so that every image of a
    display has one size."""
    if image_shape is not None and not isinstance(image_shape, ImageReader):
        shape = tuple(image_shape)
        if len(shape) not in (2, 3):  # flat rows: the files' own size
            image_shape = None
    return reader_of(image_shape).resolve(paths[0])


def _samples(X, name):
    """``(rows, are_paths)``: ``X`` as rows that can be counted and indexed
    before they are read, the paths of image files as one object array (a
    display decodes only the files it draws), or else the array."""
    paths = as_paths(X, name)
    if paths is not None:
        return paths, True
    return np.asarray(X), False


def _embedder_of(estimator):
    """The SiameseEmbedder behind an estimator, or the estimator itself:
    the last step of a Pipeline, the (fitted) embedder of a verifier."""
    from .._verifier import final_embedder

    if hasattr(estimator, "steps"):
        estimator = estimator.steps[-1][1]
    inner = getattr(estimator, "embedder_", getattr(estimator, "embedder", None))
    if inner is not None:
        estimator = inner
    return final_embedder(estimator) or estimator


def _image_shape_of(estimator, image_shape):
    if image_shape is not None:
        return image_shape
    return getattr(_embedder_of(estimator), "input_shape", None)


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


def _label_text(label):
    if isinstance(label, np.generic):
        label = label.item()
    return str(label)
