"""Pairs, calibration, thresholds and scorers for same/different verification.

A verifier answers "are these two samples of the same class?". This module
holds what that answer is built from, as pure functions and small objects:

* :func:`balanced_pairs` turns class labels into a deterministic, balanced
  set of index pairs: as many "same" pairs as "different" ones.
* :class:`SigmoidCalibrator` maps a distance to a calibrated ``P(same)``
  (Platt scaling); :class:`~sklearn.isotonic.IsotonicRegression` is the
  non-parametric alternative.
* :func:`choose_threshold` picks the ``P(same)`` (or any score) above which a
  pair is declared "same", by one of :data:`THRESHOLD_STRATEGIES`.
* :func:`make_verification_scorer` scores a verifier on class-labelled
  samples, so that :class:`~sklearn.model_selection.GridSearchCV` can rank
  verifiers by pair accuracy, ROC AUC, equal error rate, Brier score or log
  loss on ordinary ``(X, y)`` data.

Examples
--------
>>> import numpy as np
>>> from sksiamese.verification import balanced_pairs, choose_threshold
>>> pairs, same = balanced_pairs([0, 0, 1, 1, 2])
>>> pairs.tolist(), same.tolist()
([[0, 1], [2, 3], [1, 4], [3, 4]], [1, 1, 0, 0])
>>> choose_threshold([1, 1, 0, 0], [0.9, 0.7, 0.4, 0.1])
0.55
"""

import numbers

import numpy as np
from scipy.optimize import minimize
from scipy.special import expit
from sklearn.base import BaseEstimator
from sklearn.metrics import brier_score_loss, log_loss, roc_auc_score
from sklearn.utils.validation import check_array, check_is_fitted, column_or_1d

from ._utils import check_same, check_scores
from .evaluation import _make_rng
from .metrics import equal_error_rate

__all__ = [
    "THRESHOLD_STRATEGIES",
    "VERIFICATION_METRICS",
    "SigmoidCalibrator",
    "balanced_pairs",
    "choose_threshold",
    "make_verification_scorer",
]

#: How :func:`choose_threshold` picks a threshold.
THRESHOLD_STRATEGIES = ("accuracy", "f1", "eer", "far")

#: What :func:`make_verification_scorer` can score (greater is better for all:
#: error rates and losses are negated).
VERIFICATION_METRICS = ("accuracy", "roc_auc", "neg_eer", "neg_brier", "neg_log_loss")

# Above this many candidate pairs, pairs are sampled instead of enumerated.
_ENUMERATE_LIMIT = 2_000_000


# --------------------------------------------------------------------------
# Pairs from class labels
# --------------------------------------------------------------------------


def _enumerated(codes, positive):
    """All pairs ``i < j`` whose labels are equal (or differ)."""
    i, j = np.triu_indices(len(codes), 1)
    keep = (codes[i] == codes[j]) == positive
    return np.stack([i[keep], j[keep]], axis=1)


def _sampled(codes, positive, n_needed, rng):
    """``n_needed`` distinct pairs ``i < j`` drawn uniformly (large ``y``)."""
    n = len(codes)
    order = np.argsort(codes, kind="stable")
    counts = np.bincount(codes)
    starts = np.concatenate([[0], np.cumsum(counts)[:-1]])
    weights = counts * (counts - 1) / 2.0
    found = np.empty((0, 2), dtype=np.int64)
    while len(found) < n_needed:
        size = 2 * (n_needed - len(found)) + 16
        if positive:
            c = rng.choice(len(counts), size=size, p=weights / weights.sum())
            a = rng.integers(0, counts[c])
            b = rng.integers(0, counts[c] - 1)
            b = b + (b >= a)
            i, j = order[starts[c] + a], order[starts[c] + b]
        else:
            i, j = rng.integers(0, n, size=size), rng.integers(0, n, size=size)
            keep = codes[i] != codes[j]
            i, j = i[keep], j[keep]
        cand = np.stack([np.minimum(i, j), np.maximum(i, j)], axis=1)
        found = np.unique(np.concatenate([found, cand]), axis=0)
    return found[rng.permutation(len(found))[:n_needed]]


def _choose(codes, positive, total, n_needed, rng):
    if len(codes) * (len(codes) - 1) // 2 <= _ENUMERATE_LIMIT:
        pairs = _enumerated(codes, positive)
        if n_needed < len(pairs):
            pairs = pairs[rng.choice(len(pairs), size=n_needed, replace=False)]
    else:
        pairs = _sampled(codes, positive, n_needed, rng)
    return pairs[np.lexsort((pairs[:, 1], pairs[:, 0]))]


def balanced_pairs(y, max_pairs=10_000, random_state=0):
    """A deterministic, balanced set of "same" and "different" index pairs.

    Every pair ``(i, j)`` has ``i < j``. There are as many pairs of the same
    class as pairs of different classes: all the pairs of the rarer kind,
    or ``max_pairs // 2`` of each kind drawn uniformly without replacement
    when there are more. The same ``y`` and ``random_state`` always give the
    same pairs.

    Parameters
    ----------
    y : array-like of shape (n_samples,)
        Class labels.
    max_pairs : int or None, default=10_000
        Largest number of pairs returned; ``None`` for no limit.
    random_state : int, numpy.random.Generator, RandomState or None, \
default=0
        Seed of the draw; the global numpy state is never used.

    Returns
    -------
    pairs : ndarray of shape (n_pairs, 2), dtype int64
        Sample indices: first the "same" pairs, then the "different" ones,
        each sorted.
    same : ndarray of shape (n_pairs,), dtype int64
        1 for pairs of the same class, 0 otherwise.

    Raises
    ------
    ValueError
        When ``y`` has no two samples of one class, or a single class.

    Examples
    --------
    >>> from sksiamese.verification import balanced_pairs
    >>> pairs, same = balanced_pairs(["a", "a", "b", "b"])
    >>> pairs.tolist(), same.tolist()
    ([[0, 1], [2, 3], [1, 2], [1, 3]], [1, 1, 0, 0])
    """
    y = column_or_1d(np.asarray(y), warn=False)
    if max_pairs is not None and (
        not isinstance(max_pairs, numbers.Integral) or max_pairs < 2
    ):
        raise ValueError(
            f"max_pairs must be an integer >= 2 or None; got {max_pairs!r}."
        )
    _, codes, counts = np.unique(y, return_inverse=True, return_counts=True)
    codes = codes.ravel().astype(np.int64)
    n = len(codes)
    n_pos = int(np.sum(counts * (counts - 1) // 2))
    n_neg = n * (n - 1) // 2 - n_pos
    if n_pos == 0 or n_neg == 0:
        raise ValueError(
            "Cannot form both same and different pairs: the labels need at "
            f"least two classes and a class with two samples (got {n} samples "
            f"of {len(counts)} classes, largest class {counts.max(initial=0)})."
        )
    n_each = min(n_pos, n_neg)
    if max_pairs is not None:
        n_each = min(n_each, max_pairs // 2)
    rng = _make_rng(random_state)
    pos = _choose(codes, True, n_pos, n_each, rng)
    neg = _choose(codes, False, n_neg, n_each, rng)
    pairs = np.concatenate([pos, neg]).astype(np.int64)
    same = np.repeat(np.array([1, 0], dtype=np.int64), n_each)
    return pairs, same


# --------------------------------------------------------------------------
# Thresholds
# --------------------------------------------------------------------------


def _counts_above(sorted_scores, cuts):
    """Number of ``sorted_scores`` at or above each cut."""
    return len(sorted_scores) - np.searchsorted(sorted_scores, cuts, side="left")


def choose_threshold(same, scores, strategy="accuracy", target_far=0.01):
    """The score threshold that a verification strategy asks for.

    Pairs with ``score >= threshold`` are declared "same". Candidate
    thresholds lie halfway between consecutive distinct scores (plus one at
    the lowest score and one above the highest), so a threshold never sits
    on a score it was tuned with.

    Parameters
    ----------
    same : array-like of shape (n_pairs,)
        1 (or True) for pairs of the same class, 0 (or False) otherwise;
        both must occur.
    scores : array-like of shape (n_pairs,)
        Higher means more alike, for example ``P(same)``.
    strategy : {"accuracy", "f1", "eer", "far"}, default="accuracy"
        ``"accuracy"``: the most pairs right. ``"f1"``: the best F1 score of
        the "same" decision. ``"eer"``: the equal error rate point, where
        false acceptances (different pairs declared same) are as frequent
        among different pairs as false rejections among same pairs (see
        :func:`~sksiamese.metrics.equal_error_rate`). ``"far"``: the lowest
        threshold whose false acceptance rate is at most ``target_far``,
        i.e. the most same pairs accepted under that constraint. Among
        equally good candidates for accuracy and F1, the middle one is
        taken.
    target_far : float, default=0.01
        Largest false acceptance rate allowed by ``strategy="far"``.

    Returns
    -------
    threshold : float

    Examples
    --------
    >>> from sksiamese.verification import choose_threshold
    >>> y = [1, 1, 1, 0, 0, 0]
    >>> s = [0.9, 0.8, 0.3, 0.6, 0.2, 0.1]
    >>> choose_threshold(y, s, "accuracy")
    0.7
    >>> choose_threshold(y, s, "far", target_far=0.4)
    0.25
    """
    if strategy not in THRESHOLD_STRATEGIES:
        raise ValueError(
            f"strategy must be one of {THRESHOLD_STRATEGIES}; got {strategy!r}."
        )
    if not isinstance(target_far, numbers.Real) or not 0 <= target_far <= 1:
        raise ValueError(f"target_far must be a number in [0, 1]; got {target_far!r}.")
    same = check_same(same)
    s = check_scores(scores, len(same))
    if strategy == "eer":
        return float(equal_error_rate(same, s)[1])
    u = np.unique(s)
    above = np.nextafter(u[-1], np.inf)
    cuts = np.concatenate([u[:1], (u[:-1] + u[1:]) / 2.0, [above]])
    # a midpoint can round onto the lower score; keep it strictly above it
    cuts[1:-1] = np.maximum(cuts[1:-1], np.nextafter(u[:-1], np.inf))
    pos, neg = np.sort(s[same]), np.sort(s[~same])
    tp, fp = _counts_above(pos, cuts), _counts_above(neg, cuts)
    if strategy == "far":
        ok = np.flatnonzero(fp <= target_far * len(neg))
        return float(cuts[ok[0]])
    if strategy == "accuracy":
        value = tp + (len(neg) - fp)
    else:
        value = 2.0 * tp / np.maximum(tp + fp + len(pos), 1)
    best = np.flatnonzero(value == value.max())
    return float(cuts[best[len(best) // 2]])


# --------------------------------------------------------------------------
# Calibration
# --------------------------------------------------------------------------


class SigmoidCalibrator(BaseEstimator):
    """Platt scaling of a distance: ``P(same) = sigmoid(intercept + slope * d)``.

    Fitted by maximum likelihood on Platt's smoothed targets (``(N+ + 1) /
    (N+ + 2)`` for same pairs, ``1 / (N- + 2)`` for different ones), which
    keeps the slope finite when the calibration pairs are perfectly
    separated, so that probabilities stay off exactly 0 and 1.

    Attributes
    ----------
    intercept_ : float
        Log-odds of "same" at distance 0.
    slope_ : float
        Change of the log-odds per unit of distance (negative when larger
        distances mean "different", as they should).

    Examples
    --------
    >>> import numpy as np
    >>> from sksiamese.verification import SigmoidCalibrator
    >>> d = np.array([0.1, 0.2, 0.3, 0.9, 1.0, 1.1])
    >>> cal = SigmoidCalibrator().fit(d, [1, 1, 1, 0, 0, 0])
    >>> bool(cal.slope_ < 0), cal.predict([0.0, 2.0]).round(2).tolist()
    (True, [0.88, 0.01])
    """

    @classmethod
    def from_coefficients(cls, intercept, slope):
        """A calibrator with given coefficients, for example a trained head."""
        cal = cls()
        cal.intercept_, cal.slope_ = float(intercept), float(slope)
        return cal

    def fit(self, X, y):
        """Fit the map from distances ``X`` to ``P(same)``.

        Parameters
        ----------
        X : array-like of shape (n_pairs,)
            Distances of the calibration pairs.
        y : array-like of shape (n_pairs,)
            1 for same pairs, 0 for different pairs; both must occur.

        Returns
        -------
        self : SigmoidCalibrator
        """
        same = check_same(y, name="y")
        d = check_scores(column_or_1d(X), len(same), name="X")
        n_pos, n_neg = int(same.sum()), int((~same).sum())
        target = np.where(same, (n_pos + 1.0) / (n_pos + 2.0), 1.0 / (n_neg + 2.0))
        mu, sd = d.mean(), d.std()
        sd = sd if sd > 0 else 1.0
        z = (d - mu) / sd

        def loss(w):
            logit = w[0] + w[1] * z
            g = expit(logit) - target
            value = np.sum(np.logaddexp(0.0, logit) - target * logit)
            return value, np.array([g.sum(), (g * z).sum()])

        w = minimize(loss, np.array([0.0, -1.0]), jac=True, method="L-BFGS-B").x
        self.slope_ = float(w[1] / sd)
        self.intercept_ = float(w[0] - w[1] * mu / sd)
        return self

    def decision_function(self, X):
        """Log-odds of "same" at distances ``X``."""
        check_is_fitted(self, "slope_")
        d = check_array(column_or_1d(X)[:, None], dtype=np.float64).ravel()
        return self.intercept_ + self.slope_ * d

    def predict(self, X):
        """``P(same)`` at distances ``X``, shape (n_pairs,)."""
        return expit(self.decision_function(X))


# --------------------------------------------------------------------------
# Scorers on class-labelled samples
# --------------------------------------------------------------------------


def _pair_outputs(estimator, X, y, max_pairs):
    """``same``, ``P(same)`` and decision values of the balanced pairs of ``y``.

    A fitted :class:`~sksiamese.SiameseVerifier` embeds ``X`` once; any
    other estimator (a pipeline ending in one, say) receives the pairs as
    arrays of shape (n_pairs, 2, ...), a chunk at a time.
    """
    if hasattr(estimator, "_balanced_pair_distances"):
        same, distances = estimator._balanced_pair_distances(X, y, max_pairs)
        return same, estimator._proba_same(distances), -distances
    X = np.asarray(X)
    pairs, same = balanced_pairs(y, max_pairs=max_pairs, random_state=0)
    proba, decision = [], []
    for start in range(0, len(pairs), 1024):
        idx = pairs[start : start + 1024]
        chunk = np.stack([X[idx[:, 0]], X[idx[:, 1]]], axis=1)
        proba.append(estimator.predict_proba(chunk)[:, 1])
        decision.append(estimator.decision_function(chunk))
    return same, np.concatenate(proba), np.concatenate(decision)


def _threshold_of(estimator):
    if hasattr(estimator, "threshold_"):
        return estimator.threshold_
    return estimator[-1].threshold_  # a pipeline


class _VerificationScorer:
    """Scores a verifier on the balanced pairs of class-labelled samples."""

    def __init__(self, scoring, max_pairs):
        self.scoring = scoring
        self.max_pairs = max_pairs

    def __call__(self, estimator, X, y, sample_weight=None):
        if sample_weight is not None:
            raise ValueError("Verification scorers do not support sample_weight.")
        same, proba, decision = _pair_outputs(estimator, X, y, self.max_pairs)
        if self.scoring == "accuracy":
            return float(np.mean((proba >= _threshold_of(estimator)) == same))
        if self.scoring == "roc_auc":
            return float(roc_auc_score(same, decision))
        if self.scoring == "neg_eer":
            return -equal_error_rate(same, decision)[0]
        if self.scoring == "neg_brier":
            return -float(brier_score_loss(same, proba))
        return -float(log_loss(same, np.clip(proba, 1e-15, 1 - 1e-15)))

    def __repr__(self):
        return f"make_verification_scorer({self.scoring!r}, max_pairs={self.max_pairs})"


def make_verification_scorer(scoring="accuracy", max_pairs=10_000):
    """A scorer that judges a verifier on pairs built from class labels.

    The scorer is called as ``scorer(estimator, X, y)`` with class-labelled
    samples, like every scikit-learn scorer; it forms
    :func:`balanced_pairs` from ``y`` (with ``random_state=0``, so every
    call and every candidate of a search sees the same pairs) and scores the
    estimator's answers on them. Pass it as ``scoring`` to
    :class:`~sklearn.model_selection.GridSearchCV` or
    :func:`~sklearn.model_selection.cross_val_score`.

    For data that already are labelled pairs, scikit-learn's own scorers
    apply as they are: ``"roc_auc"``, ``"accuracy"``, ``"neg_brier_score"``
    and :data:`~sksiamese.metrics.neg_equal_error_rate_scorer`.

    Parameters
    ----------
    scoring : {"accuracy", "roc_auc", "neg_eer", "neg_brier", "neg_log_loss"}, \
default="accuracy"
        ``"accuracy"``: fraction of pairs right at the estimator's
        ``threshold_``. ``"roc_auc"``: area under the ROC curve of
        ``decision_function``. ``"neg_eer"``: minus the equal error rate.
        ``"neg_brier"``, ``"neg_log_loss"``: minus the Brier score and the
        log loss of ``predict_proba``, which judge its calibration.
    max_pairs : int, default=10_000
        Largest number of pairs formed from one call's samples.

    Returns
    -------
    scorer : callable

    Examples
    --------
    >>> from sksiamese.verification import make_verification_scorer
    >>> make_verification_scorer("roc_auc")
    make_verification_scorer('roc_auc', max_pairs=10000)
    """
    if scoring not in VERIFICATION_METRICS:
        raise ValueError(
            f"scoring must be one of {VERIFICATION_METRICS}; got {scoring!r}."
        )
    if not isinstance(max_pairs, numbers.Integral) or max_pairs < 2:
        raise ValueError(f"max_pairs must be an integer >= 2; got {max_pairs!r}.")
    return _VerificationScorer(scoring, int(max_pairs))
