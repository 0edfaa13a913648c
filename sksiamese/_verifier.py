"""SiameseVerifier: calibrated same/different answers for pairs of samples.

The verifier is built on an embedder, as scikit-learn's
:class:`~sklearn.calibration.CalibratedClassifierCV` is built on a
classifier: it clones and fits the embedder (:mod:`._embedder`) on part of
the data, measures the distances of balanced pairs of the rest
(:mod:`.sampling`, :mod:`.verification`), and fits the map from distance to
``P(same)`` and the threshold on them.
"""

import numbers
import warnings

import numpy as np
from sklearn.base import (
    BaseEstimator,
    ClassifierMixin,
    MetaEstimatorMixin,
    _fit_context,
    clone,
)
from sklearn.frozen import FrozenEstimator
from sklearn.isotonic import IsotonicRegression
from sklearn.pipeline import Pipeline
from sklearn.utils import check_random_state
from sklearn.utils._param_validation import HasMethods, Interval, StrOptions
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import check_consistent_length, check_is_fitted

from ._data import check_pairs, encode_labels, take_rows, validate_samples
from ._docstrings import DOCS
from ._embedder import SiameseEmbedder
from ._utils import check_labels, check_same, fill_doc
from .losses import BinaryPairLoss, is_loss
from .sampling import split_pairs, stratified_holdout
from .verification import (
    THRESHOLD_STRATEGIES,
    SigmoidCalibrator,
    balanced_pairs,
    choose_threshold,
    make_verification_scorer,
)

__all__ = ["SiameseVerifier"]

# Largest number of held-out pairs that calibration and threshold use.
_CALIBRATION_PAIRS = 20_000
# With "auto", whole classes are held out from this many classes on.
_MIN_CLASSES_FOR_CLASS_HOLDOUT = 10


def final_embedder(estimator):
    """The :class:`SiameseEmbedder` that makes ``estimator``'s embeddings
    (itself, the last step of a Pipeline, inside a FrozenEstimator), or None."""
    if isinstance(estimator, FrozenEstimator):
        estimator = estimator.estimator
    if isinstance(estimator, Pipeline):
        estimator = estimator.steps[-1][1]
    return estimator if isinstance(estimator, SiameseEmbedder) else None


def fit_on_pairs(embedder, pairs, same):
    """Fit ``embedder`` (in place) on labelled pairs and return it.

    A :class:`SiameseEmbedder` uses its ``fit_pairs``; in a Pipeline ending
    in one, the steps before it are fitted on the pairs' samples (without
    labels) and the embedder on the pairs they turn them into.
    """
    if hasattr(embedder, "fit_pairs"):
        return embedder.fit_pairs(pairs, same)
    if isinstance(embedder, Pipeline) and hasattr(embedder[-1], "fit_pairs"):
        flat = pairs.reshape(2 * len(pairs), *pairs.shape[2:])
        rows = embedder[:-1].fit_transform(flat)
        embedder[-1].fit_pairs(rows.reshape(len(pairs), 2, *rows.shape[1:]), same)
        return embedder
    raise ValueError(
        f"{type(embedder).__name__} cannot learn from labelled pairs: it has no "
        "fit_pairs method. Use a SiameseEmbedder, or a Pipeline ending in one, "
        "as the embedder; or fit on class labels with fit(X, y)."
    )


@fill_doc(**DOCS)
class SiameseVerifier(MetaEstimatorMixin, ClassifierMixin, BaseEstimator):
    """Decide whether two samples show the same class, with a probability.

    ``fit(X, y)`` fits a clone of ``embedder`` on part of the class-labelled
    samples, maps the distance between two embeddings to a calibrated
    probability that they are of the same class on balanced pairs of the
    rest, and picks the threshold on that probability. Predictions are made
    on **pairs**: arrays of shape ``(n_pairs, 2, ...)`` whose entries are
    samples laid out as in ``fit``. ``predict`` returns 1 for "same" and 0
    for "different".

    Users who have labelled pairs and no class labels train with
    :meth:`fit_pairs`. Identities never seen in training are enrolled and
    recognised by a :class:`~sksiamese.Gallery` built on a fitted verifier.

    Parameters
    ----------
    embedder : transformer, default=None
        What turns samples into embeddings: a
        :class:`~sksiamese.SiameseEmbedder` (``SiameseEmbedder()`` when
        None), a :class:`~sklearn.pipeline.Pipeline` ending in one (for
        example ``make_pipeline(FaceDescriptors(),
        SiameseEmbedder(network="linear", embedding_dim=128))``), or any
        transformer fitted on ``(X, y)``. It is cloned and fitted by
        :meth:`fit`; an embedder fitted already, wrapped in
        :class:`~sklearn.frozen.FrozenEstimator`, is used as it is, and
        every sample given to :meth:`fit` then calibrates.
    calibration : {"auto", "sigmoid", "isotonic", "head"}, default="auto"
        The map from distance to ``P(same)``. ``"sigmoid"``: Platt scaling
        (:class:`~sksiamese.verification.SigmoidCalibrator`) fitted on
        held-out pairs. ``"isotonic"``: a non-increasing step function
        (:class:`~sklearn.isotonic.IsotonicRegression`) fitted on held-out
        pairs; it needs more pairs and gives tied probabilities. ``"head"``:
        the sigmoid head that the embedder trained with ``loss="binary"``.
        ``"auto"``: ``"head"`` when the embedder is a SiameseEmbedder (or a
        Pipeline ending in one) with ``loss="binary"``, ``"sigmoid"``
        otherwise.
    calibration_fraction : float, default=0.2
        Fraction of the training data held out from the embedder, to
        calibrate the probabilities and tune ``threshold="auto"``. Nothing
        is held out when neither needs it (``calibration="head"`` with a
        float ``threshold``).
    calibration_holdout : {"auto", "classes", "samples"}, default="auto"
        What is held out. ``"classes"``: whole classes (at least 2), so the
        calibration sees classes the embedder never saw, as verification of
        new identities will. ``"samples"``: that fraction of each class,
        for verification among the training classes. ``"auto"``:
        ``"classes"`` from 10 classes on, ``"samples"`` below, and, when
        the classes are too small to spare samples, calibration on the
        training data itself, with a warning. The held-out pairs are
        :func:`~sksiamese.verification.balanced_pairs` of the held-out
        samples (at most 20,000), drawn from ``random_state``.
    calibration_cv : int, default=None
        Calibrate by cross-fitting over classes instead of holding data
        out, as :class:`~sklearn.calibration.CalibratedClassifierCV` does
        with ``ensemble=False``: the classes are dealt into
        ``calibration_cv`` folds, a clone of the embedder is fitted without
        each fold and measures the distances of balanced pairs of that
        fold's samples, and the final embedder is fitted on all the data.
        ``P(same)`` and the threshold are thus fitted on distances between
        samples of classes the embedder did not see, while the final
        embedder learns from every class; the price is ``calibration_cv``
        extra fits. Needs at least 2 classes per fold.
        ``calibration_holdout`` and ``calibration_fraction`` are then not
        used. :meth:`fit` only.
    threshold : float in [0, 1] or "auto", default="auto"
        Pairs with ``P(same) >= threshold`` are predicted "same". ``"auto"``
        tunes it on the calibration pairs by ``threshold_strategy``; the
        value in use is ``threshold_``. :meth:`calibrate_threshold` re-tunes
        it.
    threshold_strategy : {"accuracy", "f1", "eer", "far"}, \
            default="accuracy"
        How ``threshold="auto"`` is tuned, see
        :func:`~sksiamese.verification.choose_threshold`: the most pairs
        right, the best F1 of "same", the equal error rate point, or the
        most "same" pairs accepted at a false acceptance rate of at most
        ``target_far``.
    target_far : float, default=0.01
        Largest false acceptance rate (different pairs predicted "same")
        allowed by ``threshold_strategy="far"``.
    random_state : int, RandomState instance or None, default=None
        Seeds the calibration hold-out, the class folds and the
        calibration pairs. The embedder's training is seeded by its own
        ``random_state``.

    Attributes
    ----------
    embedder_ : transformer
        The fitted embedder (a fitted clone of ``embedder``).
    classes_ : ndarray of shape (2,)
        ``[0, 1]``: "different" and "same", the columns of
        :meth:`predict_proba`.
    threshold_ : float
        Threshold on ``P(same)`` in use.
    calibration_ : str
        The map in use: ``"sigmoid"``, ``"isotonic"`` or ``"head"``.
    calibrator_ : object
        The fitted map; its ``predict(distances)`` returns ``P(same)``.
    calibration_distances_ : ndarray of shape (n_calibration_pairs,)
        Distances of the calibration pairs (empty when none were needed).
    calibration_same_ : ndarray of shape (n_calibration_pairs,)
        1 for the calibration "same" pairs, 0 for the "different" ones.
    n_features_in_ : int
        Number of values per sample.
    feature_names_in_ : ndarray of str
        Column names, when ``X`` was a data frame with string column names.
    sample_shape_ : tuple of int
        Shape of one sample as given to ``fit``.

    See Also
    --------
    sksiamese.SiameseEmbedder : The embedding it is built on.
    sksiamese.Gallery : Enrolment and identification of identities.
    sksiamese.verification.make_verification_scorer : Scorers on
        class-labelled samples for model selection.

    Notes
    -----
    **Probabilities.** ``P(same)`` is calibrated for pairs like the held-out
    ones: balanced, half "same" and half "different". For another share
    ``pi`` of "same" pairs, add ``log(pi / (1 - pi))`` to its log-odds.

    **Scores.** ``decision_function`` is minus the distance between the two
    embeddings: it ranks pairs (for ROC curves) whatever the calibration.
    ``predict`` compares ``P(same)`` with ``threshold_``.

    **Model selection.** :meth:`score` takes class-labelled samples, forms
    balanced pairs from them and returns pair accuracy at ``threshold_``,
    so that ``GridSearchCV(SiameseVerifier(), {"embedder__margin": [...],
    "threshold": [...]})`` runs on ordinary ``(X, y)``.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.datasets import load_digits
    >>> from sksiamese import SiameseEmbedder, SiameseVerifier
    >>> X, y = load_digits(return_X_y=True)
    >>> embedder = SiameseEmbedder(embedding_dim=8, max_epochs=1, random_state=0)
    >>> ver = SiameseVerifier(embedder, random_state=0).fit(X[:300], y[:300])
    >>> pairs = np.stack([X[300:305], X[305:310]], axis=1)  # 5 pairs
    >>> proba = ver.predict_proba(pairs)
    >>> proba.shape, bool(np.allclose(proba.sum(axis=1), 1.0))
    ((5, 2), True)
    >>> ver.predict(pairs).shape
    (5,)
    """

    _parameter_constraints = {
        "embedder": [HasMethods(["fit", "transform"]), None],
        "calibration": [StrOptions({"auto", "sigmoid", "isotonic", "head"})],
        "calibration_fraction": [Interval(numbers.Real, 0, 1, closed="neither")],
        "calibration_holdout": [StrOptions({"auto", "classes", "samples"})],
        "calibration_cv": [Interval(numbers.Integral, 2, None, closed="left"), None],
        "threshold": [
            StrOptions({"auto"}),
            Interval(numbers.Real, 0, 1, closed="both"),
        ],
        "threshold_strategy": [StrOptions(set(THRESHOLD_STRATEGIES))],
        "target_far": [Interval(numbers.Real, 0, 1, closed="both")],
        "random_state": ["random_state"],
    }

    def __init__(
        self,
        embedder=None,
        *,
        calibration="auto",
        calibration_fraction=0.2,
        calibration_holdout="auto",
        calibration_cv=None,
        threshold="auto",
        threshold_strategy="accuracy",
        target_far=0.01,
        random_state=None,
    ):
        self.embedder = embedder
        self.calibration = calibration
        self.calibration_fraction = calibration_fraction
        self.calibration_holdout = calibration_holdout
        self.calibration_cv = calibration_cv
        self.threshold = threshold
        self.threshold_strategy = threshold_strategy
        self.target_far = target_far
        self.random_state = random_state

    # ---- parameters --------------------------------------------------------

    def get_params(self, deep=True):
        """Parameters of the verifier and, with ``deep``, of its embedder.

        With ``embedder=None`` the embedder's parameters are those of the
        default ``SiameseEmbedder()``, so that ``embedder__margin`` and the
        like can be searched over without naming an embedder.
        """
        params = super().get_params(deep=False)
        embedder = self._embedder()
        if deep and hasattr(embedder, "get_params") and not isinstance(embedder, type):
            nested = embedder.get_params(deep=True)
            params.update({f"embedder__{k}": v for k, v in nested.items()})
        return params

    def set_params(self, **params):
        """Set parameters; ``embedder__*`` ones with ``embedder=None`` set
        them on a default ``SiameseEmbedder()``, which becomes ``embedder``."""
        nested = any(k.startswith("embedder__") for k in params)
        if nested and params.get("embedder", self.embedder) is None:
            params = {"embedder": SiameseEmbedder(), **params}
        return super().set_params(**params)

    # ---- fitting -----------------------------------------------------------

    def _embedder(self):
        """The unfitted embedder: ``embedder``, or ``SiameseEmbedder()``."""
        return SiameseEmbedder() if self.embedder is None else self.embedder

    def _resolve_calibration(self, embedder):
        final = final_embedder(embedder)
        head = final is not None and is_loss(final.loss, BinaryPairLoss)
        if self.calibration == "auto":
            return "head" if head else "sigmoid"
        if self.calibration == "head" and not head:
            raise ValueError(
                "calibration='head' reads P(same) off the sigmoid head that a "
                "SiameseEmbedder with loss='binary' trains; the embedder "
                f"{_describe(embedder)} has none. Use calibration='sigmoid' or "
                "'isotonic', or an embedder with loss='binary'."
            )
        return self.calibration

    def _needs_calibration_pairs(self, calibration):
        return calibration != "head" or self.threshold == "auto"

    def _rng(self):
        seed = check_random_state(self.random_state).randint(np.iinfo(np.int32).max)
        return np.random.default_rng([int(seed), 1])

    @fill_doc(**DOCS)
    @_fit_context(prefer_skip_nested_validation=False)
    def fit(self, X, y):
        """Fit the embedder on part of ``(X, y)``, then calibrate on the rest.

        When calibration or ``threshold="auto"`` need it, part of the data
        (see ``calibration_holdout``, ``calibration_cv``) is kept from the
        embedder; balanced pairs of it calibrate ``P(same)`` and tune the
        threshold.

        Parameters
        ----------
        {X_fit}
        y : array-like of shape (n_samples,)
            Class labels; at least two classes, each with at least two
            samples. These are classes, not same/different flags: to learn
            from labelled pairs, use :meth:`fit_pairs`.

        Returns
        -------
        self : SiameseVerifier
        """
        if y is None:
            raise ValueError(
                f"{type(self).__name__} requires y to be passed, but the target "
                "y is None: fit learns from class labels. To learn from "
                "labelled pairs, use fit_pairs(pairs, same)."
            )
        y = check_labels(y)
        if y.dtype.kind != "O":
            check_classification_targets(y)
        X = validate_samples(self, X, reset=True)
        check_consistent_length(X, y)
        _, codes, _ = encode_labels(y)
        self.classes_ = np.array([0, 1])
        embedder = self._embedder()
        calibration = self._resolve_calibration(embedder)
        rng = self._rng()
        if isinstance(embedder, FrozenEstimator):
            self.embedder_ = embedder
            held = np.arange(len(X))
        elif not self._needs_calibration_pairs(calibration):
            self.embedder_ = clone(embedder).fit(X, y)
            return self._calibrate(calibration, np.empty(0), np.empty(0, np.int64))
        elif self.calibration_cv is not None:
            distances, same = self._cross_fit(embedder, X, y, codes, rng)
            self.embedder_ = clone(embedder).fit(X, y)
            return self._calibrate(calibration, distances, same)
        else:
            train, held = self._holdout(codes, rng)
            self.embedder_ = clone(embedder).fit(take_rows(X, train), y[train])
        pairs, same = balanced_pairs(codes[held], _CALIBRATION_PAIRS, rng)
        distances = _distances(self.embedder_.transform(take_rows(X, held)), pairs)
        return self._calibrate(calibration, distances, same)

    def _holdout(self, codes, rng):
        """Positions kept for the embedder and held out for calibration.

        Under ``calibration_holdout="auto"``, data too small for a hold-out
        are all used for training and calibration, with a warning.
        """
        n_classes = int(codes.max()) + 1
        mode = self.calibration_holdout
        if mode == "auto":
            by_class = n_classes >= _MIN_CLASSES_FOR_CLASS_HOLDOUT
            mode = "classes" if by_class else "samples"
        fraction = self.calibration_fraction
        if mode == "samples":
            try:
                return stratified_holdout(codes, fraction, rng)
            except ValueError:
                if self.calibration_holdout == "auto":
                    return self._no_holdout(len(codes))
                raise ValueError(
                    f"calibration_fraction={fraction} with calibration_holdout="
                    "'samples' leaves fewer than 2 classes with 2 or more "
                    "held-out samples, too few for calibration pairs. Raise "
                    "calibration_fraction, add samples, or use "
                    "calibration_holdout='auto' to calibrate on the training "
                    "data instead."
                ) from None
        n_held = max(2, int(round(fraction * n_classes)))
        if n_classes - n_held < 2:
            raise ValueError(
                f"calibration_holdout='classes' needs at least 4 classes (2 "
                f"to hold out, 2 to train on); y has {n_classes}. Use "
                "calibration_holdout='samples'."
            )
        held = np.isin(codes, rng.permutation(n_classes)[:n_held])
        return np.flatnonzero(~held), np.flatnonzero(held)

    def _no_holdout(self, n_samples):
        warnings.warn(
            f"{type(self).__name__}: too few samples per class to hold out "
            f"calibration_fraction={self.calibration_fraction} of them; "
            "P(same) and the threshold are fitted on pairs of the training "
            "data and will be overconfident. Add samples per class for a "
            "held-out calibration.",
            UserWarning,
            stacklevel=4,
        )
        everything = np.arange(n_samples)
        return everything, everything

    def _cross_fit(self, embedder, X, y, codes, rng):
        """Distances of unseen classes' pairs, from clones fitted without them.

        The classes are dealt into ``calibration_cv`` folds; for each fold a
        clone of the embedder is fitted on the other folds and embeds
        balanced pairs of the fold's samples.
        """
        k, n_classes = self.calibration_cv, int(codes.max()) + 1
        if n_classes < 2 * k:
            raise ValueError(
                f"calibration_cv={k} needs at least {2 * k} classes, 2 per "
                f"fold; y has {n_classes}. Lower calibration_cv or set it to "
                "None for a hold-out."
            )
        fold = (rng.permutation(n_classes) % k)[codes]
        distances, same = [], []
        for f in range(k):
            held, train = np.flatnonzero(fold == f), np.flatnonzero(fold != f)
            fitted = clone(embedder).fit(take_rows(X, train), y[train])
            pairs, s = balanced_pairs(codes[held], _CALIBRATION_PAIRS // k, rng)
            distances.append(_distances(fitted.transform(take_rows(X, held)), pairs))
            same.append(s)
        return np.concatenate(distances), np.concatenate(same)

    @fill_doc(**DOCS)
    @_fit_context(prefer_skip_nested_validation=False)
    def fit_pairs(self, pairs, same):
        """Fit the embedder on labelled pairs, without class labels.

        The embedder learns through its ``fit_pairs``
        (:meth:`SiameseEmbedder.fit_pairs`). When calibration or
        ``threshold="auto"`` need it, ``calibration_fraction`` of the same
        and of the different pairs is held out of training for them;
        ``P(same)`` is then calibrated for the share of same pairs that
        ``same`` has.

        Parameters
        ----------
        {pairs}
        {same}

        Returns
        -------
        self : SiameseVerifier
        """
        pairs = check_pairs(pairs)
        n_pairs = len(pairs)
        flat = pairs.reshape(2 * n_pairs, *pairs.shape[2:])
        flat = validate_samples(self, flat, reset=True, name="pairs")
        pairs = flat.reshape(n_pairs, 2, *flat.shape[1:])
        same = check_same(same, n_pairs).astype(np.int64)
        self.classes_ = np.array([0, 1])
        embedder = self._embedder()
        calibration = self._resolve_calibration(embedder)
        if isinstance(embedder, FrozenEstimator):
            self.embedder_, rows, held = embedder, None, np.arange(n_pairs)
        elif not self._needs_calibration_pairs(calibration):
            self.embedder_ = fit_on_pairs(clone(embedder), pairs, same)
            return self._calibrate(calibration, np.empty(0), np.empty(0, np.int64))
        else:
            rows, held = split_pairs(
                same, self.calibration_fraction, self._rng(), "calibration_fraction"
            )
            self.embedder_ = fit_on_pairs(clone(embedder), pairs[rows], same[rows])
        distances = self._pair_distances(pairs[held], validated=True)
        return self._calibrate(calibration, distances, same[held])

    def _calibrate(self, calibration, distances, same):
        """Fit the map to ``P(same)`` and the threshold; return self."""
        distances = _check_calibration_distances(distances, self.embedder_)
        self.calibration_ = calibration
        self.calibration_distances_ = distances
        self.calibration_same_ = np.asarray(same, dtype=np.int64)
        if calibration == "head":
            head = final_embedder(self.embedder_).net_.criterion_
            scale = head.log_scale.detach().exp().item()
            self.calibrator_ = SigmoidCalibrator.from_coefficients(
                scale * head.offset.detach().item(), -scale
            )
        elif calibration == "sigmoid":
            self.calibrator_ = SigmoidCalibrator().fit(distances, same)
        else:
            self.calibrator_ = IsotonicRegression(
                increasing=False, y_min=0.0, y_max=1.0, out_of_bounds="clip"
            ).fit(distances, same)
        if self.threshold == "auto":
            self.threshold_ = choose_threshold(
                same,
                self._proba_same(distances),
                self.threshold_strategy,
                self.target_far,
            )
        else:
            self.threshold_ = float(self.threshold)
        return self

    # ---- pairs -------------------------------------------------------------

    def _pair_distances(self, pairs, validated=False):
        """Embedding distance of each pair."""
        check_is_fitted(self, "embedder_")
        if not validated:
            pairs = check_pairs(pairs, self.sample_shape_, self)
            flat = pairs.reshape(2 * len(pairs), *pairs.shape[2:])
            flat = validate_samples(self, flat, reset=False, name="pairs")
        else:
            flat = pairs.reshape(2 * len(pairs), *pairs.shape[2:])
        embeddings = self.embedder_.transform(flat)
        return _distances(embeddings, np.arange(len(flat)).reshape(-1, 2))

    def _proba_same(self, distances):
        check_is_fitted(self, "calibrator_")
        if len(distances) == 0:
            return np.empty(0)
        return np.clip(self.calibrator_.predict(distances), 0.0, 1.0)

    @fill_doc(**DOCS)
    def decision_function(self, pairs):
        """Minus the embedding distance of each pair: higher is more alike.

        Parameters
        ----------
        {pairs}

        Returns
        -------
        scores : ndarray of shape (n_pairs,)
        """
        return -self._pair_distances(pairs)

    @fill_doc(**DOCS)
    def predict_proba(self, pairs):
        """Calibrated probabilities of "different" and "same".

        Parameters
        ----------
        {pairs}

        Returns
        -------
        proba : ndarray of shape (n_pairs, 2)
            ``P(different)`` and ``P(same)``, in the order of ``classes_``.
        """
        p = self._proba_same(self._pair_distances(pairs))
        return np.column_stack([1.0 - p, p])

    @fill_doc(**DOCS)
    def predict(self, pairs):
        """1 where ``P(same) >= threshold_``, 0 elsewhere.

        Parameters
        ----------
        {pairs}

        Returns
        -------
        same : ndarray of shape (n_pairs,), dtype int64
        """
        p = self._proba_same(self._pair_distances(pairs))
        return (p >= self.threshold_).astype(np.int64)

    @fill_doc(**DOCS)
    def calibrate_threshold(self, pairs, same, strategy=None, target_far=None):
        """Tune ``threshold_`` on labelled pairs.

        The probability map is kept; only the threshold changes. The
        ``threshold`` parameter is left as it was.

        Parameters
        ----------
        {pairs}
        {same}
        strategy : {"accuracy", "f1", "eer", "far"}, default=None
            See :func:`~sksiamese.verification.choose_threshold`; ``None``
            uses ``threshold_strategy``.
        target_far : float, default=None
            For ``strategy="far"``; ``None`` uses the ``target_far``
            parameter.

        Returns
        -------
        self : SiameseVerifier
        """
        proba = self.predict_proba(pairs)[:, 1]
        self.threshold_ = choose_threshold(
            same,
            proba,
            self.threshold_strategy if strategy is None else strategy,
            self.target_far if target_far is None else target_far,
        )
        return self

    # ---- class-labelled samples --------------------------------------------

    def _balanced_pair_distances(self, X, y, max_pairs):
        """``same`` and distances of the balanced pairs of ``(X, y)``."""
        check_is_fitted(self, "embedder_")
        if hasattr(X, "shape") and tuple(X.shape[1:]) == (2, *self.sample_shape_):
            raise ValueError(
                "X looks like pairs; score and the verification scorers take "
                "class-labelled samples. For labelled pairs use, e.g., "
                "accuracy_score(same, verifier.predict(pairs))."
            )
        X = validate_samples(self, X, reset=False)
        check_consistent_length(X, y)
        pairs, same = balanced_pairs(y, max_pairs=max_pairs, random_state=0)
        return same, _distances(self.embedder_.transform(X), pairs)

    def score(self, X, y):
        """Pair accuracy at ``threshold_`` on balanced pairs of ``(X, y)``.

        The pairs are :func:`~sksiamese.verification.balanced_pairs` of
        ``y`` (at most 10,000, drawn with ``random_state=0``): the same
        pairs for every call, so that model selection compares like with
        like.

        Parameters
        ----------
        X : array-like, laid out as in ``fit``
            Samples.
        y : array-like of shape (n_samples,)
            Their class labels.

        Returns
        -------
        accuracy : float
        """
        return make_verification_scorer("accuracy")(self, X, y)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.three_d_array = True
        tags.non_deterministic = False
        return tags


def _describe(embedder):
    final = final_embedder(embedder)
    if final is None:
        return type(embedder).__name__
    return f"{type(embedder).__name__} with loss={final.loss!r}"


def _distances(embeddings, pairs):
    diff = embeddings[pairs[:, 0]].astype(np.float64) - embeddings[pairs[:, 1]]
    return np.sqrt(np.einsum("ij,ij->i", diff, diff))


def _check_calibration_distances(distances, embedder):
    """Refuse to calibrate on the distances of a failed embedding."""
    distances = np.asarray(distances, dtype=np.float64)
    if not np.isfinite(distances).all():
        raise ValueError(
            f"The embeddings of {type(embedder).__name__} are not finite (NaN "
            "or inf) on the calibration pairs: its training failed. Lower the "
            "embedder's lr, check the inputs for NaN or extreme values, and "
            "check that the network returns finite outputs."
        )
    if len(distances) > 1 and np.ptp(distances) < 1e-6:
        raise ValueError(
            f"Every calibration pair is at the same distance ({distances[0]:.3g}) "
            f"in the embedding of {type(embedder).__name__}: the embedding has "
            "collapsed and tells no pairs apart, so there is nothing to "
            "calibrate. Lower the embedder's lr, train longer, or check the "
            "inputs."
        )
    return distances
