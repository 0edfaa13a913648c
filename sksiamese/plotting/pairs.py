"""Pairs of images with their ``P(same)`` and the verdict."""

import math

import numpy as np

from .._utils import check_same
from ..images import as_path_pairs
from ._base import (
    _RIGHT,
    _WRONG,
    _as_images,
    _cells,
    _check_1d,
    _check_fractions,
    _check_threshold,
    _Display,
    _fill_doc,
    _image_shape_of,
    _ImageScale,
)

__all__ = ["PairsDisplay"]

# Where the two images of a pair lie in its cell.
_SIDES = ((0.0, 0.0, 0.48, 1.0), (0.52, 0.0, 0.48, 1.0))


def _format_proba(p):
    """``= 0.42``, or ``< 0.01`` / ``> 0.99`` rather than a rounded 0 or 1."""
    if p < 0.005:
        return "< 0.01"
    if p > 0.995:
        return "> 0.99"
    return f"= {p:.2f}"


@_fill_doc
class PairsDisplay(_Display):
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
        ``P(same)`` of each pair, in [0, 1].
    threshold : float, default=None
        A probability in [0, 1]: pairs with ``proba >= threshold`` are
        judged "same".
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
    {figure_attr}

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

    @_fill_doc
    def plot(self, ax=None, *, n_cols=None, cmap="gray", title=None):
        """Draw the pairs.

        Parameters
        ----------
        {panel_ax}
        n_cols : int, default=None
            Pairs per row; None puts up to 4 in a row.
        {cmap}
        {panel_title}

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
        proba, threshold = self._checked_proba(n), self._checked_threshold()
        same = None if self.same is None else check_same(self.same, n, both=False)
        n_cols = min(n, 4) if n_cols is None else int(n_cols)
        n_rows = math.ceil(n / n_cols)
        ax = self._use_panel(ax, (3.2 * n_cols + 0.2, 2.3 * n_rows + 0.6))
        scale = _ImageScale(pairs)
        cells = _cells(ax, n_rows, n_cols, title_space=0.34, gap=0.1)
        self.axes_ = np.empty((n, 2), dtype=object)
        self.images_ = np.empty((n, 2), dtype=object)
        self.titles_ = []
        for i, cell in enumerate(cells.ravel()):
            cell.set_axis_off()
            if i >= n:
                continue
            for side, bounds in enumerate(_SIDES):
                sub = cell.inset_axes(bounds)
                self.axes_[i, side] = sub
                self.images_[i, side] = scale.show(sub, pairs[i, side], cmap)
            text, color = self._pair_title(
                proba[i], threshold, None if same is None else same[i]
            )
            cell.set_title(text, fontsize=10, color=color)
            self.titles_.append(text)
        if title is None:
            title = "Pairs with their probability of showing the same class"
            if threshold is not None:
                title += f" (threshold {threshold:.2f})"
        ax.set_title(title, fontsize=11)
        return self

    def _checked_proba(self, n):
        """``proba`` as ``n`` floats, each a probability."""
        return _check_fractions(
            _check_1d(self.proba, "proba", n, dtype=np.float64),
            "proba",
            "the probability that each pair shows the same class",
            " Pass predict_proba(pairs)[:, 1]; for scores or distances, use "
            "DistanceHistogramDisplay or VerificationCurveDisplay.",
        )

    def _checked_threshold(self):
        """``threshold`` as a float in [0, 1], or None."""
        if self.threshold is None:
            return None
        return _check_threshold(
            self.threshold,
            'a probability in [0, 1] (pairs with proba >= threshold are judged "same")',
            0.0,
            1.0,
            " For a threshold on distances or scores, use DistanceHistogramDisplay "
            "or VerificationCurveDisplay.",
        )

    @staticmethod
    def _pair_title(proba, threshold, same):
        """Title of a pair and its colour: green for a right verdict, red for
        a wrong one, black when either the verdict or the truth is unknown."""
        text, color = f"P(same) {_format_proba(proba)}", "black"
        if threshold is not None:
            verdict = proba >= threshold
            text += "\n" + ("same" if verdict else "different")
            if same is not None:
                right = verdict == same
                color = _RIGHT if right else _WRONG
                truth = "same" if same else "different"
                text += " ✓" if right else f" ✗ (truly {truth})"
        elif same is not None:
            text += "\ntruly " + ("same" if same else "different")
        return text, color

    @classmethod
    @_fill_doc
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
            The two samples of each pair, as images, as flat rows with
            ``image_shape``, or as two image file paths each (read as
            ``image_shape`` says).
        proba : array-like of shape (n_pairs,)
            ``P(same)`` of each pair (column 1 of ``predict_proba``), in
            [0, 1].
        threshold : float, default=None
            Threshold on ``proba`` for the verdict, in [0, 1].
        same : array-like of shape (n_pairs,), default=None
            The truth: 1 for pairs of the same class, 0 otherwise.
        {image_shape}
        ax, n_cols, cmap, title
            Passed to :meth:`plot`.

        Returns
        -------
        display : PairsDisplay
        """
        paths = as_path_pairs(pairs)
        if paths is not None:  # both images of a pair at one size
            n = len(paths)
            images = _as_images(list(paths.ravel()), image_shape, "pairs")
        else:
            pairs = np.asarray(pairs)
            if pairs.ndim < 3 or pairs.shape[1] != 2:
                raise ValueError(
                    "pairs must have shape (n_pairs, 2, ...) or be pairs of "
                    f"image file paths; got {pairs.shape}."
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
    @_fill_doc
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
        {pairs}
        same : array-like of shape (n_pairs,), default=None
            The truth, when known.
        {estimator_image_shape}
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
