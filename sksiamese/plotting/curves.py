"""ROC and DET curves of a verifier's same/different decisions."""

import numpy as np

from .._utils import check_same
from ._base import (
    _WRONG,
    _check_1d,
    _check_finite,
    _check_fractions,
    _check_threshold,
    _Display,
    _fill_doc,
)

__all__ = ["VerificationCurveDisplay"]

# Error rates marked on the axes of a DET curve.
_DET_TICKS = np.array([0.001, 0.01, 0.05, 0.2, 0.5, 0.8, 0.95, 0.99, 0.999])


def _operating_point(same, accepted):
    far = float(np.mean(accepted[~same]))
    frr = float(np.mean(~accepted[same]))
    return far, frr


def _normal_ppf(p):
    from scipy.stats import norm

    return norm.ppf(np.asarray(p, dtype=np.float64))


def _roc_xy(far, frr):
    """Where the rates ``(far, frr)`` lie on a ROC curve."""
    return far, 1.0 - frr


def _det_xy(far, frr):
    """Where the rates ``(far, frr)`` lie on a DET curve."""
    return _normal_ppf(far), _normal_ppf(frr)


@_fill_doc
class VerificationCurveDisplay(_Display):
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
        False acceptance rates, increasing, in [0, 1].
    frr : ndarray
        False rejection rates at the same thresholds, in [0, 1].
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
    {figure_attr}

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

    @_fill_doc
    def plot(self, ax=None, *, kind="roc", name=None):
        """Draw the curve.

        Parameters
        ----------
        {ax}
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
        _check_fractions(far, "far", "false acceptance rates")
        _check_fractions(frr, "frr", "false rejection rates")
        ax = self._use_axes(ax, (5.6, 5.4))
        label = self._legend_label(name or self.name)
        if kind == "roc":
            self._draw_roc(ax, far, frr, label)
        else:
            self._draw_det(ax, far, frr, label)
        ax.set_xlabel("false acceptance rate (different pairs accepted)")
        self._mark_points(ax, _roc_xy if kind == "roc" else _det_xy)
        ax.set_aspect("equal")
        ax.grid(alpha=0.3)
        ax.legend(
            loc="lower right" if kind == "roc" else "upper right", fontsize="small"
        )
        ax.set_title(
            "ROC curve of the pair decisions" if kind == "roc" else "DET curve"
        )
        self.kind_ = kind
        return self

    def _draw_roc(self, ax, far, frr, label):
        (self.line_,) = ax.plot(*_roc_xy(far, frr), label=label)
        ax.plot([0, 1], [0, 1], linestyle=":", color="gray", label="chance")
        ax.set_xlim(-0.01, 1.01)
        ax.set_ylim(-0.01, 1.01)
        ax.set_ylabel("true acceptance rate (same pairs accepted)")

    def _draw_det(self, ax, far, frr, label):
        with np.errstate(divide="ignore"):
            (self.line_,) = ax.plot(*_det_xy(far, frr), label=label)
        positions = _normal_ppf(_DET_TICKS)
        labels = [f"{t:.1%}".replace(".0%", "%") for t in _DET_TICKS]
        lim = (positions[0] - 0.2, positions[-1] + 0.2)
        ax.plot(lim, lim, linestyle=":", color="gray", label="FAR = FRR")
        ax.set_xticks(positions, labels)
        ax.set_yticks(positions, labels)
        ax.set_xlim(lim)
        ax.set_ylim(lim)
        ax.set_ylabel("false rejection rate (same pairs rejected)")

    def _mark_points(self, ax, to_xy):
        """Mark the equal error rate and the operating point, when known."""
        self.eer_point_ = self.operating_point_ = None
        if self.eer is not None:
            (self.eer_point_,) = ax.plot(
                *to_xy(self.eer, self.eer),
                marker="o",
                markersize=8,
                linestyle="none",
                markerfacecolor="white",
                markeredgecolor="black",
                label=f"equal error rate: {self.eer:.1%}",
            )
        if self.operating_point is not None:
            a, r, t = self.operating_point
            (self.operating_point_,) = ax.plot(
                *to_xy(a, r),
                marker="*",
                markersize=14,
                linestyle="none",
                color=_WRONG,
                markeredgecolor="black",
                label=f"threshold {t:.3g}: FAR {a:.1%}, FRR {r:.1%}",
            )

    @classmethod
    @_fill_doc
    def from_predictions(
        cls, same, scores, *, threshold=None, kind="roc", name=None, ax=None
    ):
        """Draw the curve of scores computed elsewhere.

        Parameters
        ----------
        {same}
        scores : array-like of shape (n_pairs,)
            Higher means more alike: ``P(same)``, ``decision_function`` or
            minus a distance; finite.
        threshold : float, default=None
            Pairs with ``score >= threshold`` are accepted; marks that
            operating point.
        kind : {"roc", "det"}, default="roc"
            Which curve.
        name : str, default=None
            Name of the curve in the legend.
        {ax}

        Returns
        -------
        display : VerificationCurveDisplay
        """
        scores = _check_1d(scores, "scores", dtype=np.float64)
        accepted = None
        if threshold is not None:
            threshold = _check_threshold(
                threshold,
                "a finite number on the scale of scores (pairs with "
                "score >= threshold are accepted)",
            )
            accepted = scores >= threshold
        display = cls._from_scores(same, scores, accepted, threshold, name)
        return display.plot(ax, kind=kind)

    @classmethod
    @_fill_doc
    def from_estimator(cls, estimator, pairs, same, *, kind="roc", name=None, ax=None):
        """Draw the curve of a fitted verifier on labelled pairs.

        The curve ranks pairs by ``decision_function`` (minus the embedding
        distance); the operating point is where ``predict`` puts them, at
        ``threshold_``.

        Parameters
        ----------
        estimator : SiameseVerifier
            A fitted verifier.
        {pairs}
        {same}
        kind : {"roc", "det"}, default="roc"
            Which curve.
        name : str, default=None
            Name of the curve in the legend; None uses the class name.
        {ax}

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

        from ..metrics import equal_error_rate

        scores = _check_finite(
            _check_1d(scores, "scores", dtype=np.float64),
            "scores",
            "every pair needs a finite score, higher meaning more alike.",
        )
        same = check_same(same, len(scores))
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
