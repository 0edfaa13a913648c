"""SiameseVerifier: calibrated same/different answers for pairs of samples."""

import numbers
import warnings

import numpy as np
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components
from sklearn.base import ClassifierMixin, _fit_context
from sklearn.isotonic import IsotonicRegression
from sklearn.metrics import euclidean_distances
from sklearn.utils import check_random_state
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import check_consistent_length, check_is_fitted

from ._base import SiameseBase, stratified_holdout
from ._data import validate_samples
from ._training import SampleSet
from .losses import BinaryPairLoss, TripletLoss
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


class _LabelledPairs:
    """Targets of ``fit_pairs``: index pairs into ``X``, "same" flags, rows."""

    def __init__(self, pairs, same, rows):
        self.pairs, self.same, self.rows = pairs, same, rows


class PairSet(SampleSet):
    """Labelled pairs of samples as batches of index tuples.

    Each pass shuffles the pairs (unless ``fixed``) and cuts them into
    batches of ``batch_size`` pairs; a batch carries the distinct samples
    its pairs name, once each, and the positive and negative pairs as
    ``(a1, p, a2, n)`` index tuples into them.

    Parameters
    ----------
    X : ndarray
        All samples, never copied.
    labels : ndarray of int64
        A label per sample, reported to the loss with the tuples.
    pairs : ndarray of shape (n_pairs, 2)
        Positions in ``X``.
    same : ndarray of shape (n_pairs,)
        1 for "same", 0 for "different".
    net_shape : tuple of int
        Shape of one sample as the network sees it.
    seed : int
        Seed of the shuffling.
    fixed : bool, default=False
        Whether every pass uses the same order (validation).
    """

    def __init__(self, X, labels, pairs, same, net_shape, seed, fixed=False):
        super().__init__(X, labels, np.arange(len(X)), net_shape, "pairs", seed, fixed)
        self.pairs = pairs
        self.same = same

    def __len__(self):
        return len(self.pairs)

    def batches(self, batch_size):
        order = self.rng().permutation(len(self.pairs))
        for start in range(0, len(order), batch_size):
            sel = order[start : start + batch_size]
            yield self.batch(self.pairs[sel], self.same[sel])


def _components(n_samples, pairs, same):
    """Label samples linked by "same" pairs alike (connected components)."""
    pos = pairs[same == 1]
    graph = coo_matrix(
        (np.ones(len(pos)), (pos[:, 0], pos[:, 1])), shape=(n_samples, n_samples)
    )
    return connected_components(graph, directed=False)[1].astype(np.int64)


def _split_rows(same, fraction, rng, what):
    """Hold out ``fraction`` of the same and of the different pairs."""
    keep, held = [], []
    for value in (0, 1):
        rows = rng.permutation(np.flatnonzero(same == value))
        n_held = int(round(fraction * len(rows)))
        if n_held < 1 or n_held >= len(rows):
            raise ValueError(
                f"{what}={fraction} cannot hold out both same and different "
                "pairs while leaving some of each to train on: there are "
                f"{int(np.sum(same == 1))} same and {int(np.sum(same == 0))} "
                "different pairs."
            )
        held.append(rows[:n_held])
        keep.append(rows[n_held:])
    return np.sort(np.concatenate(keep)), np.sort(np.concatenate(held))


class SiameseVerifier(ClassifierMixin, SiameseBase):
    """Decide whether two samples show the same class, with a probability.

    ``fit(X, y)`` trains a Siamese encoder on pairs or triplets drawn from
    the class labels, exactly as :class:`~sksiamese.SiameseEmbedder` does,
    then maps the distance between two embeddings to a calibrated
    probability that they are of the same class, and picks the threshold
    on that probability. Predictions are made on **pairs**: arrays of shape
    ``(n_pairs, 2, ...)`` whose entries are samples laid out as in ``fit``.
    ``predict`` returns 1 for "same" and 0 for "different".

    Users who have labelled pairs and no class labels train with
    :meth:`fit_pairs`. Identities never seen in training can be enrolled
    with :meth:`enroll` and recognised with :meth:`identify`, without
    retraining.

    Parameters
    ----------
    network : {"auto", "mlp", "mlp3", "conv", "small_conv", "conv_bn", \
            "face_conv", "resnet50"}, torch.nn.Module class, callable or \
            instance, default="auto"
        The encoder; see :class:`~sksiamese.SiameseEmbedder`.
    network_params : dict, default=None
        Extra keyword arguments for the network constructor.
    n_networks : int, default=1
        Number of networks trained, each from its own initialisation,
        tuples and distortions, on the same data. Their embeddings are
        concatenated (scaled so that a squared distance is the mean of the
        networks' squared distances), which averages out their individual
        errors: on faces of people never seen in training, three networks
        raised the ROC AUC from 0.982 to 0.986. Fitting and embedding
        take ``n_networks`` times as long, and ``embedding_dim_`` is
        ``n_networks * embedding_dim``.
    fisher_weight : float in [0, 1), default=0.0
        Share of a Fisher linear discriminant in the embedding. Above 0, a
        whitened principal component analysis to ``fisher_components``
        dimensions and a linear discriminant analysis are fitted in closed
        form on the flattened training samples, and the discriminant's
        unit-length projection is appended to the networks' embedding.
        Each part is divided by its median distance between training
        samples of different classes, so that a squared distance is
        ``1 - fisher_weight`` times the networks' plus ``fisher_weight``
        times the discriminant's. On small sets of aligned images, faces
        above all (Fisherfaces), the discriminant errs on other pairs than
        the networks, and the two together generalise to new classes
        better than either (see the ORL benchmark). The networks train as
        without it; ``embedding_dim_`` grows by at most ``n_classes - 1``.
    fisher_features : {"pixels", "gabor"} or transformer, default="pixels"
        What the discriminant of ``fisher_weight`` is fitted on.
        ``"pixels"``: the flattened samples (Fisherfaces). ``"gabor"``: the
        magnitudes of the images' responses to a bank of Gabor filters
        (:class:`~sksiamese.features.GaborFeatures`, images only), which
        describe faces by the edges and textures around the eyes, nose and
        mouth rather than by brightness, and change less from one photo of
        a person to another: on faces of unseen people the discriminant
        alone ranks pairs better on Gabor features than on pixels (see the
        ORL benchmark). A scikit-learn transformer is cloned and fitted on
        the flattened training samples (a row per sample, images
        channels-last); its output takes the place of the pixels. A
        :class:`~sksiamese.features.GaborFeatures` without ``input_shape``
        is given the images' shape, so ``GaborFeatures(pool=2)`` is
        ``"gabor"`` with coarser maps, for larger images.
    fisher_components : int, default=50
        Principal components kept before the discriminant, at most the
        number of training samples minus the number of classes.
    fisher_mirror : bool, default=False
        Fit the discriminant on the training samples and their left-right
        mirror images (images only), twice the samples, for images whose
        class mirroring does not change; it suits
        ``test_time_augment="flip"``, which averages the two views at
        prediction, and more ``fisher_components``, which twice the
        samples support. On faces of unseen people, with Gabor features,
        ``fisher_components=100`` and flips at test time, it raised the
        ROC AUC from 0.979 to 0.983 and one-shot identification from 0.918
        to 0.931, and left the accuracy at the automatic threshold about
        level (0.939, against 0.941 without it; see the ORL benchmark).
    fisher_augment : str, callable or None, default=None
        Also fit the discriminant on ``fisher_copies`` distorted copies of
        each training image (images only): a name of
        :data:`~sksiamese.augment.AUGMENTATIONS` or a callable
        ``augment(batch, generator)``, as for ``augment``, drawn once at
        ``fit`` with a generator seeded from ``random_state``. The
        discriminant's within-class scatter then holds the distortions too,
        so its projection learns to ignore them: lighting above all, which
        a linear model cannot learn to ignore from a few photos per
        person. On faces of unseen people, ``Compose([RandomFlip(),
        RandomLighting()])`` with three copies raised the discriminant's
        ROC AUC from 0.983 to 0.987 and the whole verifier's from 0.979
        to 0.981 (see the ORL benchmark). The discriminant is fitted on
        ``1 + fisher_copies`` times the samples (``2 + fisher_copies``
        with ``fisher_mirror``), in memory.
    fisher_copies : int, default=3
        Distorted copies of each training image with ``fisher_augment``.
    test_time_augment : {"flip"} or None, default=None
        ``"flip"``: the embedding of an image is the mean of its
        embeddings and its left-right mirror image's, for images that
        mirroring leaves in their class, faces above all (networks trained
        with ``augment`` flips suit it). Each network's mean is scaled back
        to unit length when ``normalize``; the discriminant's
        (``fisher_weight``) is not, so it counts for less where the two
        views disagree, on turned faces for one: with ``fisher_weight=0.5``
        on faces of unseen people this raised the ROC AUC from 0.982 to
        0.983 on average over four splits, from 0.987 to 0.992 on one, and
        lowered the accuracy at the automatic threshold by 0.003 to 0.009
        (see the ORL benchmark). Fixed at ``fit``, like ``fisher_weight``, so
        the calibration sees the embeddings that prediction does; embedding
        takes twice as long.
    embedding_dim : int, default=64
        Width of the embedding.
    normalize : bool, default=True
        Scale embeddings to unit Euclidean norm, so that pair distances lie
        in ``[0, 2]``.
    input_shape : tuple of int, default=None
        For 2-D ``X`` only: the image shape of each row, ``(height, width)``
        or ``(height, width, channels)``.
    loss : {"triplet", "contrastive", "multi_similarity", "binary", \
            "cosface"} or torch.nn.Module, default="triplet"
        ``"triplet"``, ``"contrastive"``, ``"multi_similarity"`` and
        ``"cosface"`` as in :class:`~sksiamese.SiameseEmbedder` (not
        ``"cosface"`` with :meth:`fit_pairs`, which has no classes).
        ``"binary"``: :class:`~sksiamese.losses.BinaryPairLoss`, binary
        cross-entropy of a
        sigmoid head ``P(same) = sigmoid(scale * (offset - d))`` learned on
        the distance together with the encoder.
    margin : float or "auto", default="auto"
        Margin of the loss; ``"auto"`` is 0.2 for triplet, 1.0 for
        contrastive, 0.1 for multi-similarity loss and 0.35 (on the
        cosine) for CosFace. For ``"binary"``,
        the distance at which the head starts at ``P(same) = 0.5`` (1.0
        under ``"auto"``).
    miner : {"random", "all", "semi_hard", "batch_hard"} or callable, \
            default="semi_hard"
        How tuples are chosen from the class labels; see
        :class:`~sksiamese.SiameseEmbedder`. Not used by :meth:`fit_pairs`,
        nor by ``loss="cosface"``, which needs no tuples.
    m_per_class : int, default=4
        Samples per class in each balanced batch (online miners only).
    tuples : {"auto", "pairs", "triplets"}, default="auto"
        What ``miner="random"`` draws.
    augment : {"auto", "affine", "flip", "crop", "erase"}, callable or None, \
            default="auto"
        Random distortions of the training images, drawn afresh for every
        batch from ``random_state``: ``"affine"`` rotates, shifts and zooms
        each image a little (:class:`~sksiamese.augment.RandomAffine`),
        ``"flip"`` mirrors it left-right, ``"crop"`` stretches a random
        crop to full size, ``"erase"`` blanks out a random rectangle
        (:class:`~sksiamese.augment.RandomErasing`); combine them with
        :class:`~sksiamese.augment.Compose`. A callable
        ``augment(batch, generator)`` (see :mod:`sksiamese.augment`) is used
        as is. ``"auto"`` is ``"affine"``
        for images and nothing for feature rows; the other values raise a
        ``ValueError`` for feature rows. Validation batches and
        ``transform`` never see augmentation.
    threshold : float in [0, 1] or "auto", default="auto"
        Pairs with ``P(same) >= threshold`` are predicted "same". ``"auto"``
        tunes it on held-out pairs by ``threshold_strategy``; the value in
        use is ``threshold_``. :meth:`calibrate_threshold` re-tunes it.
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
    calibration : {"auto", "sigmoid", "isotonic", "head"}, default="auto"
        The map from distance to ``P(same)``. ``"sigmoid"``: Platt scaling
        (:class:`~sksiamese.verification.SigmoidCalibrator`) fitted on
        held-out pairs. ``"isotonic"``: a non-increasing step function
        (:class:`~sklearn.isotonic.IsotonicRegression`) fitted on held-out
        pairs; it needs more pairs and gives tied probabilities. ``"head"``:
        the sigmoid head trained by ``loss="binary"`` (one network, no
        Fisher discriminant, no test-time augmentation). ``"auto"``:
        ``"head"`` with ``loss="binary"``, ``n_networks=1``,
        ``fisher_weight=0`` and ``test_time_augment=None``, ``"sigmoid"``
        otherwise.
    calibration_fraction : float, default=0.2
        Fraction of the training data held out from training, to calibrate
        the probabilities and tune ``threshold="auto"``. Nothing is held out
        when neither needs it (``calibration="head"`` with a float
        ``threshold``).
    calibration_holdout : {"auto", "classes", "samples"}, default="auto"
        What is held out. ``"classes"``: whole classes (at least 2), so the
        calibration sees classes the network never saw, as verification of
        new identities will. ``"samples"``: that fraction of each class,
        for verification among the training classes. ``"auto"``:
        ``"classes"`` from 10 classes on, ``"samples"`` below, and, when
        the classes are too small to spare samples, calibration on the
        training data itself, with a warning. The held-out pairs are
        :func:`~sksiamese.verification.balanced_pairs` of the held-out
        samples (at most 20,000), all drawn from ``random_state``.
    calibration_cv : int, default=None
        Calibrate by cross-fitting over classes instead of holding data out,
        as :class:`~sklearn.calibration.CalibratedClassifierCV` does with
        ``ensemble=False``: the classes are dealt into ``calibration_cv``
        folds, a network is trained without each fold and measures the
        distances of balanced pairs of that fold's samples, and the final
        network is trained on all the data. ``P(same)`` and the threshold
        are thus fitted on distances between samples of classes the network
        did not see, while the final network learns from every class; the
        price is ``calibration_cv`` extra trainings. Needs at least 2
        classes per fold. ``calibration_holdout`` and
        ``calibration_fraction`` are then not used. :meth:`fit` only.
    max_epochs : int, default=20
        Number of passes over the training data.
    batch_size : int, default=128
        Pairs or triplets per optimisation step with ``miner="random"`` and
        in :meth:`fit_pairs`; samples per balanced batch with online miners.
    optimizer : {"adam", "adamw", "sgd", "rmsprop"} or torch optimizer \
            class, default="adam"
        The optimiser.
    lr : float, default=1e-3
        Learning rate.
    weight_decay : float, default=0.0
        L2 penalty passed to the optimiser.
    validation_fraction : float, default=None
        Fraction of the training data (after the calibration hold-out) held
        out to report ``valid_loss`` per epoch. ``None``: no hold-out.
    early_stopping : bool, default=False
        Stop when ``valid_loss`` has not improved for ``n_iter_no_change``
        epochs and restore the best weights.
    n_iter_no_change : int, default=5
        Patience of early stopping.
    callbacks : list, default=None
        skorch callbacks (or ``(name, callback)`` tuples) added to training.
    device : {"auto", "cpu", "cuda"} or str, default="auto"
        Where to train; ``"auto"`` uses a GPU when one is available.
    verbose : int, default=0
        0 is silent; 1 prints a table per epoch and a progress bar.
    random_state : int, RandomState instance or None, default=None
        Seeds the calibration hold-out, weight initialisation, sampling,
        dropout and the validation split. The global random state of numpy
        and torch is left untouched.

    Attributes
    ----------
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
        Distances of the held-out pairs (empty when none were held out).
    calibration_same_ : ndarray of shape (n_calibration_pairs,)
        1 for the held-out "same" pairs, 0 for the "different" ones.
    n_features_in_ : int
        Number of values per sample.
    feature_names_in_ : ndarray of str
        Column names, when ``X`` was a data frame with string column names.
    sample_shape_ : tuple of int
        Shape of one sample as given to ``fit``.
    network_input_shape_ : tuple of int
        Shape of one sample as the network sees it.
    embedding_dim_ : int
        Width of the embeddings.
    device_ : str
        Device the network lives on.
    net_ : skorch.NeuralNet
        The trained skorch net (the first of ``nets_``).
    nets_ : list of skorch.NeuralNet
        The ``n_networks`` trained skorch nets.
    module_ : torch.nn.Module
        The trained encoder (``net_.module_``), or with ``n_networks``
        above 1 an ``EnsembleEncoder`` of all of them.
    fisher_ : sklearn.pipeline.Pipeline or None
        With ``fisher_weight`` above 0, the fitted features of
        ``fisher_features`` (``"passthrough"`` for pixels), PCA and linear
        discriminant; else None.
    fisher_scales_ : tuple of float
        With ``fisher_``: the median distances between training samples of
        different classes of the networks' and of the discriminant's
        embeddings, by which each is divided.
    history_ : skorch.History
        Per-epoch ``train_loss`` (and ``valid_loss``), durations and
        batches of ``net_``.
    n_iter_ : int
        Number of epochs run.
    enrolled_embeddings_ : ndarray of shape (n_enrolled, embedding_dim_)
        Embeddings of the samples registered with :meth:`enroll`.
    enrolled_labels_ : ndarray of shape (n_enrolled,)
        Their identities.
    enrolled_identities_ : ndarray of shape (n_identities,)
        The distinct enrolled identities, sorted: the columns of
        :meth:`identity_proba`.

    See Also
    --------
    sksiamese.SiameseEmbedder : The embedding alone.
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
    so that ``GridSearchCV(SiameseVerifier(), {"margin": [...],
    "threshold": [...]})`` runs on ordinary ``(X, y)``.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.datasets import load_digits
    >>> from sksiamese import SiameseVerifier
    >>> X, y = load_digits(return_X_y=True)
    >>> ver = SiameseVerifier(embedding_dim=8, max_epochs=1, random_state=0)
    >>> ver = ver.fit(X[:300], y[:300])
    >>> pairs = np.stack([X[300:305], X[305:310]], axis=1)  # 5 pairs
    >>> proba = ver.predict_proba(pairs)
    >>> proba.shape, bool(np.allclose(proba.sum(axis=1), 1.0))
    ((5, 2), True)
    >>> ver.predict(pairs).shape
    (5,)
    """

    _parameter_constraints = {
        **SiameseBase._parameter_constraints,
        "threshold": [
            StrOptions({"auto"}),
            Interval(numbers.Real, 0, 1, closed="both"),
        ],
        "threshold_strategy": [StrOptions(set(THRESHOLD_STRATEGIES))],
        "target_far": [Interval(numbers.Real, 0, 1, closed="both")],
        "calibration": [StrOptions({"auto", "sigmoid", "isotonic", "head"})],
        "calibration_fraction": [Interval(numbers.Real, 0, 1, closed="neither")],
        "calibration_holdout": [StrOptions({"auto", "classes", "samples"})],
        "calibration_cv": [Interval(numbers.Integral, 2, None, closed="left"), None],
    }

    def __init__(
        self,
        network="auto",
        network_params=None,
        n_networks=1,
        fisher_weight=0.0,
        fisher_features="pixels",
        fisher_components=50,
        fisher_mirror=False,
        fisher_augment=None,
        fisher_copies=3,
        test_time_augment=None,
        embedding_dim=64,
        normalize=True,
        input_shape=None,
        loss="triplet",
        margin="auto",
        miner="semi_hard",
        m_per_class=4,
        tuples="auto",
        augment="auto",
        threshold="auto",
        threshold_strategy="accuracy",
        target_far=0.01,
        calibration="auto",
        calibration_fraction=0.2,
        calibration_holdout="auto",
        calibration_cv=None,
        max_epochs=20,
        batch_size=128,
        optimizer="adam",
        lr=1e-3,
        weight_decay=0.0,
        validation_fraction=None,
        early_stopping=False,
        n_iter_no_change=5,
        callbacks=None,
        device="auto",
        verbose=0,
        random_state=None,
    ):
        self.network = network
        self.network_params = network_params
        self.n_networks = n_networks
        self.fisher_weight = fisher_weight
        self.fisher_features = fisher_features
        self.fisher_components = fisher_components
        self.fisher_mirror = fisher_mirror
        self.fisher_augment = fisher_augment
        self.fisher_copies = fisher_copies
        self.test_time_augment = test_time_augment
        self.embedding_dim = embedding_dim
        self.normalize = normalize
        self.input_shape = input_shape
        self.loss = loss
        self.margin = margin
        self.miner = miner
        self.m_per_class = m_per_class
        self.tuples = tuples
        self.augment = augment
        self.threshold = threshold
        self.threshold_strategy = threshold_strategy
        self.target_far = target_far
        self.calibration = calibration
        self.calibration_fraction = calibration_fraction
        self.calibration_holdout = calibration_holdout
        self.calibration_cv = calibration_cv
        self.max_epochs = max_epochs
        self.batch_size = batch_size
        self.optimizer = optimizer
        self.lr = lr
        self.weight_decay = weight_decay
        self.validation_fraction = validation_fraction
        self.early_stopping = early_stopping
        self.n_iter_no_change = n_iter_no_change
        self.callbacks = callbacks
        self.device = device
        self.verbose = verbose
        self.random_state = random_state

    # ---- fitting -----------------------------------------------------------

    def _has_head(self):
        loss = self.loss
        if isinstance(loss, str):
            return loss == "binary"
        if isinstance(loss, type):
            return issubclass(loss, BinaryPairLoss)
        return isinstance(loss, BinaryPairLoss)

    def _resolve_calibration(self):
        if self.calibration == "auto":
            alone = (
                self.n_networks == 1
                and not self.fisher_weight
                and self.test_time_augment is None
            )
            return "head" if self._has_head() and alone else "sigmoid"
        if self.calibration == "head" and self.fisher_weight:
            raise ValueError(
                "calibration='head' reads P(same) off the sigmoid head of the "
                f"network; with fisher_weight={self.fisher_weight} the distance "
                "is partly the Fisher discriminant's. Use calibration='sigmoid' "
                "or 'isotonic', or fisher_weight=0."
            )
        if self.calibration == "head" and self.test_time_augment is not None:
            raise ValueError(
                "calibration='head' reads P(same) off the sigmoid head of the "
                "network, which learned the distances of single images; with "
                f"test_time_augment={self.test_time_augment!r} the distance is "
                "that of averaged views. Use calibration='sigmoid' or "
                "'isotonic', or test_time_augment=None."
            )
        if self.calibration == "head" and self.n_networks > 1:
            raise ValueError(
                f"calibration='head' reads P(same) off the sigmoid head of one "
                f"network; with n_networks={self.n_networks} the distance is "
                "that of several. Use calibration='sigmoid' or 'isotonic', or "
                "n_networks=1."
            )
        if self.calibration == "head" and not self._has_head():
            raise ValueError(
                f"calibration='head' needs the sigmoid head of loss='binary'; "
                f"got loss={self.loss!r}. Use calibration='sigmoid' or "
                "'isotonic', or loss='binary'."
            )
        return self.calibration

    def _needs_holdout(self, calibration):
        return calibration != "head" or self.threshold == "auto"

    def _holdout_seed(self):
        seed = check_random_state(self.random_state).randint(np.iinfo(np.int32).max)
        return np.random.default_rng([int(seed), 1])

    def _holdout(self, codes, rng):
        """Positions kept for training and held out for calibration.

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
        held_classes = rng.permutation(n_classes)[:n_held]
        held = np.isin(codes, held_classes)
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

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y):
        """Train the encoder on tuples drawn from ``y``, then calibrate.

        When calibration or ``threshold="auto"`` need it, part of the data
        (see ``calibration_holdout``) is held out of training; balanced
        pairs of it calibrate ``P(same)`` and tune the threshold.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features), (n_samples, height, \
                width) or (n_samples, height, width, channels)
            Training samples.
        y : array-like of shape (n_samples,)
            Class labels (ints or strings); at least two classes, each with
            at least two samples. These are classes, not same/different
            flags: to learn from labelled pairs, use :meth:`fit_pairs`.

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
        check_classification_targets(y)
        X, codes = self._validate_fit_data(X, y)
        self.classes_ = np.array([0, 1])
        self._forget_enrolled()
        calibration = self._resolve_calibration()
        if not self._needs_holdout(calibration):
            self._fit_network(X, codes)
            return self._calibrate(calibration, np.empty(0), np.empty(0, np.int64))
        rng = self._holdout_seed()
        if self.calibration_cv is not None:
            distances, same = self._cross_fit(X, codes, rng)
            self._fit_network(X, codes)
            return self._calibrate(calibration, distances, same)
        train_idx, held = self._holdout(codes, rng)
        self._fit_network(X, codes, train_idx)
        pairs, same = balanced_pairs(codes[held], _CALIBRATION_PAIRS, rng)
        distances = self._distances(self._embed(X[held]), pairs)
        return self._calibrate(calibration, distances, same)

    def _cross_fit(self, X, codes, rng):
        """Distances of unseen classes' pairs, from networks trained without them.

        The classes are dealt into ``calibration_cv`` folds; for each fold a
        network is trained on the other folds and embeds balanced pairs of
        the fold's samples.
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
            held = np.flatnonzero(fold == f)
            self._fit_network(X, codes, np.flatnonzero(fold != f))
            pairs, s = balanced_pairs(codes[held], _CALIBRATION_PAIRS // k, rng)
            distances.append(self._distances(self._embed(X[held]), pairs))
            same.append(s)
        return np.concatenate(distances), np.concatenate(same)

    @_fit_context(prefer_skip_nested_validation=True)
    def fit_pairs(self, pairs, same):
        """Train on labelled pairs, without class labels.

        Each epoch shuffles the pairs and feeds them to the loss as they
        are: "same" pairs as positives, "different" pairs as negatives.
        ``miner``, ``m_per_class`` and ``tuples`` do not apply. The loss
        must take pairs: ``"contrastive"``, ``"binary"`` or a pair-based
        module. When calibration or ``threshold="auto"`` need it,
        ``calibration_fraction`` of the same and of the different pairs is
        held out of training for them; ``P(same)`` is then calibrated for
        the share of same pairs that ``same`` has.

        Parameters
        ----------
        pairs : array-like of shape (n_pairs, 2, ...)
            Two samples per pair, each laid out as ``fit``'s ``X`` rows.
        same : array-like of shape (n_pairs,)
            1 (or True) where both samples show the same class, 0 (or
            False) where they do not; both must occur.

        Returns
        -------
        self : SiameseVerifier
        """
        if self.loss == "triplet" or isinstance(self.loss, TripletLoss):
            raise ValueError(
                "fit_pairs learns from labelled pairs, which triplet loss "
                "cannot use: set loss='contrastive' or loss='binary'."
            )
        if self._loss_needs_classes():
            raise ValueError(
                f"loss={self.loss!r} learns a proxy per class, which fit_pairs "
                "does not have: set loss='contrastive' or loss='binary', or "
                "call fit(X, y) with class labels."
            )
        if self.fisher_weight:
            raise ValueError(
                f"fisher_weight={self.fisher_weight} fits a linear discriminant "
                "to class labels, which fit_pairs does not have: set "
                "fisher_weight=0, or call fit(X, y) with class labels."
            )
        pairs = self._check_pair_array(pairs, fitted=False)
        n_pairs = len(pairs)
        X = validate_samples(
            self, pairs.reshape(2 * n_pairs, *pairs.shape[2:]), reset=True, name="pairs"
        )
        same = self._check_same(same, n_pairs)
        self.classes_ = np.array([0, 1])
        self._forget_enrolled()
        calibration = self._resolve_calibration()
        index = np.arange(2 * n_pairs).reshape(n_pairs, 2)
        rows, held = np.arange(n_pairs), None
        if self._needs_holdout(calibration):
            rows, held = _split_rows(
                same,
                self.calibration_fraction,
                self._holdout_seed(),
                "calibration_fraction",
            )
        targets = _LabelledPairs(index, same, rows)
        self._fit_network(X, targets)
        if held is None:
            return self._calibrate(calibration, np.empty(0), np.empty(0, np.int64))
        used = index[held].ravel()
        embeddings = self._embed(X[used])
        local = np.arange(len(used)).reshape(-1, 2)
        return self._calibrate(
            calibration, self._distances(embeddings, local), same[held]
        )

    def _sample_sets(self, X, codes, indices, net_shape, seeds):
        if not isinstance(codes, _LabelledPairs):
            return super()._sample_sets(X, codes, indices, net_shape, seeds)
        labels = _components(len(X), codes.pairs, codes.same)
        rows, valid = codes.rows, None
        fraction = self._validation_fraction()
        if fraction is not None:
            split_rng = np.random.default_rng(int(seeds[1]))
            keep, held = _split_rows(
                codes.same[rows], fraction, split_rng, "validation_fraction"
            )
            valid_rows, rows = rows[held], rows[keep]
            valid = PairSet(
                X,
                labels,
                codes.pairs[valid_rows],
                codes.same[valid_rows],
                net_shape,
                int(seeds[2]),
                fixed=True,
            )
        train = PairSet(
            X, labels, codes.pairs[rows], codes.same[rows], net_shape, int(seeds[3])
        )
        return train, valid

    def _calibrate(self, calibration, distances, same):
        """Fit the map to ``P(same)`` and the threshold; return self."""
        self.calibration_ = calibration
        self.calibration_distances_ = np.asarray(distances, dtype=np.float64)
        self.calibration_same_ = np.asarray(same, dtype=np.int64)
        if calibration == "head":
            head = self.net_.criterion_
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

    def _check_pair_array(self, pairs, fitted=True):
        """``pairs`` as an array of shape (n_pairs, 2, *sample_shape)."""
        if not hasattr(pairs, "shape") or not hasattr(pairs, "dtype"):
            pairs = np.asarray(pairs)
        shape = tuple(pairs.shape)
        expected = "(n_pairs, 2, ...)"
        if fitted:
            expected = "(n_pairs, 2, " + ", ".join(map(str, self.sample_shape_)) + ")"
        if len(shape) < 3 or shape[1] != 2:
            raise ValueError(
                f"pairs must be an array of shape {expected}: two samples per "
                f"pair, each laid out as in fit; got shape {shape}. To pair "
                "samples A[i] and B[i], pass np.stack([A, B], axis=1)."
            )
        if fitted and shape[2:] != tuple(self.sample_shape_):
            raise ValueError(
                f"pairs have samples of shape {shape[2:]}, but "
                f"{type(self).__name__} was fitted on samples of shape "
                f"{tuple(self.sample_shape_)}; pairs must have shape "
                f"{expected}."
            )
        return pairs

    def _check_same(self, same, n_pairs):
        same = np.asarray(same)
        if same.ndim != 1 or len(same) != n_pairs:
            raise ValueError(
                f"same must be 1-D with one flag per pair ({n_pairs}); got "
                f"shape {same.shape}."
            )
        values = set(np.unique(same).tolist())
        if not values <= {0, 1}:
            raise ValueError(
                "same must hold 1 (or True) for same pairs and 0 (or False) "
                f"for different pairs; got values {sorted(values)[:5]}. For "
                "class labels, use fit(X, y)."
            )
        if len(values) < 2:
            raise ValueError("same must contain both same (1) and different (0) pairs.")
        return same.astype(np.int64)

    def _validate_pairs(self, pairs):
        """Checked pairs, flattened to samples ``2 i`` and ``2 i + 1``."""
        check_is_fitted(self, "net_")
        pairs = self._check_pair_array(pairs)
        flat = pairs.reshape(2 * len(pairs), *pairs.shape[2:])
        return validate_samples(self, flat, reset=False, name="pairs")

    @staticmethod
    def _distances(embeddings, pairs):
        diff = embeddings[pairs[:, 0]].astype(np.float64) - embeddings[pairs[:, 1]]
        return np.sqrt(np.einsum("ij,ij->i", diff, diff))

    def _pair_distances(self, pairs):
        embeddings = self._embed(self._validate_pairs(pairs))
        return self._distances(embeddings, np.arange(len(embeddings)).reshape(-1, 2))

    def _proba_same(self, distances):
        check_is_fitted(self, "calibrator_")
        if len(distances) == 0:
            return np.empty(0)
        return np.clip(self.calibrator_.predict(distances), 0.0, 1.0)

    def decision_function(self, pairs):
        """Minus the embedding distance of each pair: higher is more alike.

        Parameters
        ----------
        pairs : array-like of shape (n_pairs, 2, ...)
            Two samples per pair, each laid out as in ``fit``.

        Returns
        -------
        scores : ndarray of shape (n_pairs,)
        """
        return -self._pair_distances(pairs)

    def predict_proba(self, pairs):
        """Calibrated probabilities of "different" and "same".

        Parameters
        ----------
        pairs : array-like of shape (n_pairs, 2, ...)
            Two samples per pair, each laid out as in ``fit``.

        Returns
        -------
        proba : ndarray of shape (n_pairs, 2)
            ``P(different)`` and ``P(same)``, in the order of ``classes_``.
        """
        p = self._proba_same(self._pair_distances(pairs))
        return np.column_stack([1.0 - p, p])

    def predict(self, pairs):
        """1 where ``P(same) >= threshold_``, 0 elsewhere.

        Parameters
        ----------
        pairs : array-like of shape (n_pairs, 2, ...)
            Two samples per pair, each laid out as in ``fit``.

        Returns
        -------
        same : ndarray of shape (n_pairs,), dtype int64
        """
        p = self._proba_same(self._pair_distances(pairs))
        return (p >= self.threshold_).astype(np.int64)

    def calibrate_threshold(self, pairs, y, strategy=None, target_far=None):
        """Tune ``threshold_`` on labelled pairs.

        The probability map is kept; only the threshold changes. The
        ``threshold`` parameter is left as it was.

        Parameters
        ----------
        pairs : array-like of shape (n_pairs, 2, ...)
            Two samples per pair, each laid out as in ``fit``.
        y : array-like of shape (n_pairs,)
            1 for same pairs, 0 for different pairs; both must occur.
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
            y,
            proba,
            self.threshold_strategy if strategy is None else strategy,
            self.target_far if target_far is None else target_far,
        )
        return self

    # ---- class-labelled samples --------------------------------------------

    def _balanced_pair_distances(self, X, y, max_pairs):
        """``same`` and distances of the balanced pairs of ``(X, y)``."""
        check_is_fitted(self, "net_")
        if hasattr(X, "shape") and tuple(X.shape[1:]) == (2, *self.sample_shape_):
            raise ValueError(
                "X looks like pairs; score and the verification scorers take "
                "class-labelled samples. For labelled pairs use, e.g., "
                "accuracy_score(same, verifier.predict(pairs))."
            )
        X = validate_samples(self, X, reset=False)
        check_consistent_length(X, y)
        pairs, same = balanced_pairs(y, max_pairs=max_pairs, random_state=0)
        return same, self._distances(self._embed(X), pairs)

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

    # ---- enrolment ---------------------------------------------------------

    def _forget_enrolled(self):
        for name in (
            "enrolled_embeddings_",
            "enrolled_labels_",
            "enrolled_identities_",
        ):
            self.__dict__.pop(name, None)

    def enroll(self, X, y, *, append=True):
        """Register samples of known identities, without retraining.

        The identities need not have been seen in training. :meth:`identify`
        and :meth:`identity_proba` then compare queries with them.

        Parameters
        ----------
        X : array-like, laid out as in ``fit``
            One or more samples of each identity.
        y : array-like of shape (n_samples,)
            Their identities.
        append : bool, default=True
            Add to the identities already enrolled; False replaces them.

        Returns
        -------
        self : SiameseVerifier
        """
        check_is_fitted(self, "net_")
        X = validate_samples(self, X, reset=False)
        y = np.asarray(y)
        if y.ndim != 1:
            raise ValueError(f"y must be 1-D, one identity per sample; got {y.shape}.")
        check_consistent_length(X, y)
        embeddings = self._embed(X)
        if append and hasattr(self, "enrolled_embeddings_"):
            embeddings = np.concatenate([self.enrolled_embeddings_, embeddings])
            y = np.concatenate([self.enrolled_labels_, y])
        self.enrolled_embeddings_ = embeddings
        self.enrolled_labels_ = y
        self.enrolled_identities_ = np.unique(y)
        return self

    def identity_proba(self, X):
        """``P(same)`` of each query and each enrolled identity.

        A query's probability for an identity is that of the identity's
        closest enrolled sample. Rows need not sum to 1: a query may match
        no identity, or several.

        Parameters
        ----------
        X : array-like, laid out as in ``fit``
            Queries.

        Returns
        -------
        proba : ndarray of shape (n_queries, n_identities)
            Columns follow ``enrolled_identities_``.
        """
        check_is_fitted(self, "enrolled_embeddings_")
        X = validate_samples(self, X, reset=False)
        queries = self._embed(X).astype(np.float64)
        gallery = self.enrolled_embeddings_.astype(np.float64)
        codes = np.searchsorted(self.enrolled_identities_, self.enrolled_labels_)
        order = np.argsort(codes, kind="stable")
        starts = np.searchsorted(
            codes[order], np.arange(len(self.enrolled_identities_))
        )
        proba = np.empty((len(queries), len(starts)))
        for start in range(0, len(queries), 1024):
            d = euclidean_distances(queries[start : start + 1024], gallery[order])
            nearest = np.minimum.reduceat(d, starts, axis=1)
            p = self._proba_same(nearest.ravel()).reshape(nearest.shape)
            proba[start : start + 1024] = p
        return proba

    def identify(self, X, unknown_label=-1, threshold=None):
        """The enrolled identity of each query, or ``unknown_label``.

        A query gets the identity with the highest ``P(same)`` when that
        probability reaches the threshold, and ``unknown_label`` when no
        enrolled identity does ("nobody known").

        Parameters
        ----------
        X : array-like, laid out as in ``fit``
            Queries.
        unknown_label : object, default=-1
            Answer for queries that match no enrolled identity.
        threshold : float in [0, 1], default=None
            ``P(same)`` a query's best identity must reach; ``None`` uses
            ``threshold_``. Each query is compared with every enrolled
            identity, so with many identities a stranger is more likely
            to pass a pairwise threshold somewhere: a stricter one, for
            instance the ``threshold_`` that
            ``calibrate_threshold(pairs, same, strategy="far")`` sets, keeps
            more strangers out.

        Returns
        -------
        identities : ndarray of shape (n_queries,)
            Enrolled identities and ``unknown_label``; of the identities'
            dtype when ``unknown_label`` fits it, of object dtype otherwise.
        """
        if threshold is None:
            check_is_fitted(self, "threshold_")
            threshold = self.threshold_
        elif not (isinstance(threshold, numbers.Real) and 0.0 <= threshold <= 1.0):
            raise ValueError(
                f"threshold must be a probability in [0, 1] or None; got {threshold!r}."
            )
        proba = self.identity_proba(X)
        best = proba.argmax(axis=1)
        known = proba[np.arange(len(proba)), best] >= threshold
        labels = self.enrolled_identities_[best]
        kind = labels.dtype.kind
        fits = (
            kind in "iuf"
            and isinstance(unknown_label, numbers.Number)
            and not isinstance(unknown_label, bool)
        ) or (kind in "US" and isinstance(unknown_label, str))
        if fits:
            return np.where(known, labels, np.asarray(unknown_label))
        out = labels.astype(object)
        out[~known] = unknown_label
        return out
