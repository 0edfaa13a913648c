"""Histograms of the distances of same and different pairs."""

import numpy as np

from .._utils import check_same
from ._base import _check_1d, _check_finite, _check_threshold, _Display, _fill_doc

__all__ = ["DistanceHistogramDisplay"]

# Colours of "same" and "different" pairs.
_SAME_COLOR, _DIFFERENT_COLOR = "tab:blue", "tab:orange"


def _check_distances(distances):
    """Distances of pairs as 1-D floats, none of them NaN or infinite."""
    return _check_finite(
        _check_1d(distances, "distances", dtype=np.float64),
        "distances",
        "every pair needs a finite distance.",
    )


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


@_fill_doc
class DistanceHistogramDisplay(_Display):
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
    {figure_attr}

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

    @_fill_doc
    def plot(self, ax=None, *, bins=30, density=False, title=None):
        """Draw the histograms.

        Parameters
        ----------
        {ax}
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
        d = _check_distances(self.distances)
        same = check_same(self.same, len(d))
        if self.threshold is not None:
            _check_threshold(
                self.threshold,
                "a finite distance (pairs with distance <= threshold are "
                'declared "same")',
            )
        ax = self._use_axes(ax, (7.0, 4.4))
        self._draw_histograms(ax, d, same, bins, density)
        ax.set_xlabel("distance between the embeddings of a pair")
        ax.set_ylabel("density" if density else "number of pairs")
        self._draw_threshold(ax, d, same)
        handles, labels = ax.get_legend_handles_labels()
        self.proba_line_ = self.ax_proba_ = None
        if self.proba_curve is not None:
            handles.append(self._draw_proba(ax))
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
        return self

    def _draw_histograms(self, ax, d, same, bins, density):
        """Filled bars with an outline, on shared bins, for each group."""
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

    def _draw_threshold(self, ax, d, same):
        """The threshold line, labelled with the share of pairs it gets right."""
        self.threshold_line_ = self.accuracy_ = None
        if self.threshold is None:
            return
        t = float(self.threshold)
        self.accuracy_ = float(np.mean((d <= t) == same))
        label = f"threshold: distance {t:.3g}"
        if self.proba_threshold is not None:
            label += f" (P(same) = {self.proba_threshold:.2f})"
        label += f"; {self.accuracy_:.1%} of pairs right"
        self.threshold_line_ = ax.axvline(
            t, color="black", linestyle="--", linewidth=1.5, label=label
        )

    def _draw_proba(self, ax):
        """The calibrated ``P(same)`` against a right-hand axis; its line."""
        grid, proba = (np.asarray(a, dtype=np.float64) for a in self.proba_curve)
        self.ax_proba_ = ax.twinx()
        (self.proba_line_,) = self.ax_proba_.plot(
            grid, proba, color="dimgray", linewidth=1.5, label="calibrated P(same)"
        )
        self.ax_proba_.set_ylim(0.0, 1.05)
        self.ax_proba_.set_ylabel("calibrated P(same)")
        return self.proba_line_

    @classmethod
    @_fill_doc
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
        {same}
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
    @_fill_doc
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
        {pairs}
        {same}
        show_proba : bool, default=True
            Draw the calibrated ``P(same)`` against a right-hand axis.
        ax, bins, density, title
            Passed to :meth:`plot`.

        Returns
        -------
        display : DistanceHistogramDisplay
        """
        distances = _check_distances(-np.asarray(estimator.decision_function(pairs)))
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
