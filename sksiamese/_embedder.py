"""SiameseEmbedder: learn an embedding from class labels or labelled pairs.

The samples' way through ``fit``: :mod:`._data` validates them and records
their shape; :mod:`.networks` builds the encoder for that shape;
:mod:`.sampling` (through the sample sets of :mod:`._training`) turns the
labels into index tuples, afresh every epoch; :mod:`._training` gathers the
batches those tuples name (decoding image files with :mod:`.images`, in
worker processes with ``num_workers``) and trains the encoder with
:mod:`.losses` and :mod:`.mining`. ``transform`` validates the samples the
same way and embeds them batch by batch (:func:`._training.embed`).
"""

import numbers
import warnings

import numpy as np
import torch
from sklearn.base import (
    BaseEstimator,
    ClassNamePrefixFeaturesOutMixin,
    TransformerMixin,
    _fit_context,
)
from sklearn.utils import check_random_state
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.validation import check_consistent_length, check_is_fitted
from skorch.callbacks import LRScheduler
from torch import nn

from ._data import (
    check_pairs,
    encode_labels,
    network_input_shape,
    take_rows,
    validate_samples,
)
from ._distributed import (
    Session,
    collective_failure,
    is_collective_failure,
    join,
    launched,
    mixed_precision,
    rank_device,
)
from ._docstrings import DOCS
from ._monitor import check_collapse, check_network_output, collapse_sample
from ._training import (
    OPTIMIZERS,
    Encoder,
    EpochLoader,
    PresetSplit,
    SiameseNet,
    check_balanced_batch,
    class_sets,
    embed,
    loading,
    output_width,
    pair_sets,
    resolve_device,
    seeded,
    torch_threads,
    training_callbacks,
    training_session,
)
from ._utils import check_same, fill_doc
from .augment import AUGMENTATIONS, training_augment
from .callbacks import WarmupCosineLR
from .images import ImageReader, files_as_samples
from .losses import (
    LOSSES,
    TripletLoss,
    check_pair_loss,
    check_proxies,
    learns_proxies,
    make_loss,
    make_miner,
    resolve_miner,
)
from .mining import MINERS
from .networks import NETWORKS, build_network, network_image_defaults

__all__ = ["SiameseEmbedder"]

_NETWORK_NAMES = ", ".join(f'"{name}"' for name in ["auto", *NETWORKS])


@fill_doc(network_names=_NETWORK_NAMES)
class SiameseEmbedder(ClassNamePrefixFeaturesOutMixin, TransformerMixin, BaseEstimator):
    """Learn an embedding in which samples of the same class are close.

    ``fit(X, y)`` trains a Siamese encoder on pairs or triplets that it draws
    from the class labels, afresh every epoch, as indices into ``X``;
    :meth:`fit_pairs` trains it on labelled pairs instead, for data without
    class labels. ``transform(X)`` returns the embeddings. They suit
    :class:`~sklearn.neighbors.KNeighborsClassifier`, retrieval, and
    :class:`~sksiamese.SiameseVerifier`, which calibrates same/different
    answers on top of an embedder.

    The embedder learns the network and nothing else: features computed
    beside it (a Fisher discriminant, pretrained descriptors), several
    networks side by side, or steps before it are scikit-learn pieces that
    compose with it in a :class:`~sklearn.pipeline.Pipeline` or
    :class:`~sklearn.pipeline.FeatureUnion` (see the user guide).

    Parameters
    ----------
    network : {{network_names}}, torch.nn.Module class, callable or \
            instance, default="auto"
        The encoder. ``"auto"`` picks :class:`~sksiamese.networks.MLP` for
        feature rows and :class:`~sksiamese.networks.ConvNet` for images;
        the other names are those of :data:`sksiamese.networks.NETWORKS`,
        described in :mod:`sksiamese.networks`. Classes and factories
        receive ``input_shape`` (``(n_features,)`` or ``(channels, height,
        width)``) and ``embedding_dim`` when their signature accepts them;
        instances are deep-copied before training.
    network_params : dict, default=None
        Extra keyword arguments for the network constructor, for example
        ``{"hidden": (512, 512), "dropout": 0.2}``.
    embedding_dim : int, default=64
        Width of the embedding.
    normalize : bool, default=True
        Scale embeddings to unit Euclidean norm, so that distances lie in
        ``[0, 2]`` and margins have a fixed meaning.
    input_shape : tuple of int, ImageReader or None, default=None
        The image each sample becomes. For 2-D ``X``: the image shape of
        each row, ``(height, width)`` or ``(height, width, channels)``, so
        that the convolutional network applies; ``None`` treats rows as
        feature vectors. For image files (``X`` a sequence of paths): how
        they are read, an :class:`~sksiamese.images.ImageReader` (their
        size, colour mode and how each is brought to that size, by the rule
        of :mod:`sksiamese.images`), or such a shape, which reads them in
        mode ``"L"`` (no channel axis, or 1 channel) or ``"RGB"`` (3)
        centre-cropped to it. ``None`` is ``ImageReader()``, whose unset
        size and mode are the network's (224x224 RGB for the pretrained
        backbones) or else those of the first training file.
        ``sample_shape_`` is the shape in use, which ``transform`` reads
        files to. 3-D and 4-D arrays are images already.
    loss : {"multi_similarity", "triplet", "contrastive", "binary", \
            "cosface"} or torch.nn.Module, default="multi_similarity"
        ``"multi_similarity"``: :class:`~sksiamese.losses.MultiSimilarityLoss`
        (Wang et al., 2019), which weighs the pairs of each balanced batch
        by how hard they are and mines them itself; ``"triplet"``:
        ``max(d²(a, p) - d²(a, n) + margin, 0)`` over anchor, positive and
        negative triplets; ``"contrastive"``: ``d²`` for positive pairs and
        ``max(margin - d, 0)²`` for negative pairs; ``"binary"``:
        cross-entropy of a sigmoid head ``P(same) = sigmoid(scale * (offset
        - d))`` on the pair distance, learned with the encoder
        (:class:`~sksiamese.losses.BinaryPairLoss`; the verifier can read
        its probabilities off that head); ``"cosface"``:
        :class:`~sksiamese.losses.CosFaceLoss`, a softmax over a learned
        proxy per class with a cosine ``margin``, as face recognition
        models train (no pairs; the proxies are sized from ``y``). A module
        called as ``loss(embeddings, labels, indices_tuple)``, such as a
        pytorch-metric-learning loss, is copied and used as is.
    margin : float or "auto", default="auto"
        Margin of the loss; ``"auto"`` is 0.2 for triplet, 1.0 for
        contrastive, 0.1 (the mining margin) for multi-similarity loss and
        0.35 (on the cosine) for CosFace. For ``"binary"``, the distance at
        which the head starts at ``P(same) = 0.5`` (1.0 under ``"auto"``).
    miner : {"auto", "random", "all", "semi_hard", "batch_hard"} or \
            callable, default="auto"
        How tuples are chosen. ``"random"`` draws them from the labels
        before each epoch (offline): pairs for contrastive loss, triplets
        otherwise. The others embed class-balanced batches (``m_per_class``
        samples per class) and choose tuples among them (online): every
        valid triplet (every pair for multi-similarity loss), FaceNet's
        semi-hard triplets, or each anchor's hardest positive and negative.
        ``"auto"`` is ``"all"`` for multi-similarity loss, which mines by
        itself, and ``"semi_hard"`` otherwise. ``loss="cosface"`` mines
        nothing: every sample of its class-balanced batches counts. A
        callable ``miner(embeddings, labels) -> indices_tuple`` (for
        example a pytorch-metric-learning miner) is used online as is. Not
        used by :meth:`fit_pairs`, which trains on the pairs it is given.
    m_per_class : int, default=4
        Samples per class in each balanced batch (online miners only).
    augment : {"auto", "affine", "flip", "crop", "erase", "lighting"}, \
            callable or None, default="auto"
        Random distortions of the training images, drawn afresh for every
        batch from ``random_state``: ``"affine"`` rotates, shifts and zooms
        each image a little (:class:`~sksiamese.augment.RandomAffine`),
        ``"flip"`` mirrors it left-right, ``"crop"`` stretches a random
        crop to full size, ``"erase"`` blanks out a random rectangle
        (:class:`~sksiamese.augment.RandomErasing`), ``"lighting"`` changes
        its brightness (:class:`~sksiamese.augment.RandomLighting`);
        combine them with :class:`~sksiamese.augment.Compose`. A callable
        ``augment(batch, generator)`` (see :mod:`sksiamese.augment`) is
        used as is. ``"auto"`` is ``"affine"`` for images and nothing for
        feature rows; the other values raise a ``ValueError`` for feature
        rows. Validation batches and ``transform`` never see augmentation.
    max_epochs : int, default=60
        Number of passes over the data; each pass draws new tuples in which
        every training sample is an anchor once. 0 leaves the network as
        initialised (with a warning), an untrained baseline. 60 rather
        than 20 lowered the one-shot error on new classes by a tenth and
        kept or raised 1-NN accuracy on digits and MNIST, for three times
        the fit time (the benchmarks page, "Choosing the defaults").
    batch_size : int, default=128
        Pairs or triplets per optimisation step with ``miner="random"`` and
        in :meth:`fit_pairs`; samples per balanced batch with online
        miners, at least ``2 * m_per_class``.
    num_workers : int, default=0
        Worker processes (PyTorch DataLoader workers) that read, decode
        and distort the next batches while the network trains on the
        current one, and that read the samples ``transform`` embeds; 0
        does it all in this process. It pays for image files and memmaps.
        Results do not depend on it: the batches and the seeds of their
        distortions are drawn in this process.
    optimizer : {"adam", "adamw", "sgd", "rmsprop"} or torch optimizer \
            class, default="adam"
        The optimiser.
    lr : float, default=3e-3
        Learning rate.
    lr_schedule : {"warmup_cosine", "constant"}, default="warmup_cosine"
        How the learning rate moves over the epochs of a fit:
        ``"warmup_cosine"`` rises linearly over the first tenth of them
        (``max_epochs // 10`` epochs, none below 10) and then falls along
        a half cosine towards 0 at the last
        (:class:`~sksiamese.callbacks.WarmupCosineLR`); ``"constant"``
        keeps ``lr`` throughout, for a schedule of one's own in
        ``callbacks``. A ``warm_start`` fit runs its own schedule.
    weight_decay : float, default=0.0
        L2 penalty passed to the optimiser.
    validation_fraction : float, default=None
        Fraction of each class (of the pairs, in :meth:`fit_pairs`) held
        out to report ``valid_loss`` per epoch, on tuples drawn once so
        that epochs compare. ``None``: no hold-out.
    early_stopping : bool, default=False
        Stop when ``valid_loss`` has not improved for ``n_iter_no_change``
        epochs and restore the best weights. Holds out 10% when
        ``validation_fraction`` is None.
    n_iter_no_change : int, default=5
        Patience of early stopping.
    callbacks : list, default=None
        skorch callbacks (or ``(name, callback)`` tuples) added to training.
    device : {"auto", "cpu", "cuda"} or str, default="auto"
        Where to train; ``"auto"`` uses a GPU when one is available.
    n_threads : int, default=None
        Torch threads that ``fit`` and ``transform`` use on the CPU (the
        process's setting is restored afterwards). ``None`` leaves torch's
        setting as it is, which differs from process to process: joblib's
        and dask's workers run torch on one thread, a main process on
        every core. Float sums add up in another order on another number
        of threads, so the same ``random_state`` then gives other weights:
        set an int for a model that does not depend on where it is fitted,
        for example for ``GridSearchCV(n_jobs=...)`` and dask to choose the
        same parameters as ``n_jobs=1``.
    verbose : int, default=0
        0 is silent; 1 prints a table per epoch and a progress bar.
    random_state : int, RandomState instance or None, default=None
        Seeds weight initialisation, tuple sampling, augmentation, dropout
        and the validation split. With an int, CPU fits are reproducible.
        The global random state of numpy and torch is left untouched.
    warm_start : bool, default=False
        When True, a further call to :meth:`fit` or :meth:`fit_pairs` goes
        on training the fitted network (with its optimiser state) for
        ``max_epochs`` more epochs, on the data it is given, instead of
        starting from new weights: to resume after an interrupted fit,
        train longer, or fine-tune on new classes. The samples must keep
        their shape; ``lr``, ``weight_decay`` and ``max_epochs`` take their
        current values, while the network, loss and device stay those of
        the first fit. ``history_`` holds the epochs of every call. The
        tuples and distortions differ from the earlier calls' and stay
        reproducible with an int ``random_state``.

    Attributes
    ----------
    classes_ : ndarray of shape (n_classes,)
        Class labels seen in :meth:`fit`, as given (sorted when they can be
        compared, else in order of first appearance). Not set by
        :meth:`fit_pairs`.
    n_features_in_ : int
        Number of values per sample (the product of the sample shape).
    feature_names_in_ : ndarray of str
        Column names, when ``X`` was a data frame with string column names.
    sample_shape_ : tuple of int
        Shape of one sample of ``X`` as given to ``fit``.
    network_input_shape_ : tuple of int
        Shape of one sample as the network sees it.
    embedding_dim_ : int
        Width of the embeddings ``transform`` returns.
    device_ : str
        Device the network lives on.
    net_ : skorch.NeuralNet
        The trained skorch net; ``net_.criterion_`` is the trained loss
        (with the sigmoid head of ``loss="binary"``).
    module_ : torch.nn.Module
        The trained encoder (``net_.module_``).
    history_ : skorch.History
        Per-epoch ``train_loss`` (and ``valid_loss``), durations and
        batches.
    n_iter_ : int
        Number of epochs run.

    See Also
    --------
    sksiamese.SiameseVerifier : Calibrated same/different answers for
        pairs, built on an embedder.
    sklearn.neighbors.NeighborhoodComponentsAnalysis : A linear metric
        learned from class labels.

    Notes
    -----
    Input layout: 2-D arrays are feature rows, 3-D arrays ``(n, height,
    width)`` grayscale images, 4-D arrays ``(n, height, width, channels)``
    colour images, channels last. ``uint8`` values are scaled to [0, 1].
    An :class:`numpy.memmap` is read a batch at a time; so is a sequence
    of image file paths, decoded as ``uint8`` images by ``input_shape`` (see
    :mod:`sksiamese.images`), so that a model fitted on files transforms
    an array of the same images alike.

    Interrupting ``fit`` with Ctrl-C stops training after the current batch
    and leaves a fitted estimator with what it has learned.

    In a script started by ``torchrun`` or ``accelerate launch`` on several
    processes, ``fit`` trains data-parallel: each process trains on its
    share of every epoch's batches of ``batch_size`` samples, and all hold
    the same network (see :ref:`distributed`).

    The defaults were chosen by measurement on digits, MNIST, Omniglot
    and ORL together (the benchmarks page): multi-similarity loss on
    class-balanced batches, mild random affine distortions of images and
    Adam at ``lr=3e-3`` gave the lowest one-shot error on Omniglot
    alphabets unseen in training, ahead of semi-hard and batch-hard
    triplet mining and of random triplets, at the same number of epochs
    (``benchmarks/bench_omniglot.py``); the four-stage ConvNet of 64
    channels and the warm-up and cosine schedule lowered it further and
    raised 1-NN accuracy on digits and MNIST
    (``benchmarks/bench_quality.py``). For few training classes of
    handwritten symbols, :class:`~sksiamese.classes.RotationClasses` goes
    further still.

    Examples
    --------
    >>> from sklearn.datasets import load_digits
    >>> from sksiamese import SiameseEmbedder
    >>> X, y = load_digits(return_X_y=True)
    >>> emb = SiameseEmbedder(embedding_dim=8, max_epochs=1, random_state=0)
    >>> emb.fit_transform(X[:200], y[:200]).shape
    (200, 8)
    """

    _parameter_constraints = {
        "network": [StrOptions({"auto", *NETWORKS}), nn.Module, callable],
        "network_params": [dict, None],
        "embedding_dim": [Interval(numbers.Integral, 1, None, closed="left")],
        "normalize": ["boolean"],
        "input_shape": [tuple, list, ImageReader, None],
        "loss": [StrOptions(set(LOSSES)), nn.Module, type],
        "margin": [
            StrOptions({"auto"}),
            Interval(numbers.Real, 0, None, closed="left"),
        ],
        "miner": [StrOptions({"auto", "random", *MINERS}), callable],
        "m_per_class": [Interval(numbers.Integral, 2, None, closed="left")],
        "augment": [StrOptions({"auto", *AUGMENTATIONS}), callable, None],
        "max_epochs": [Interval(numbers.Integral, 0, None, closed="left")],
        "batch_size": [Interval(numbers.Integral, 1, None, closed="left")],
        "num_workers": [Interval(numbers.Integral, 0, None, closed="left")],
        "optimizer": [StrOptions(set(OPTIMIZERS)), type],
        "lr": [Interval(numbers.Real, 0, None, closed="neither")],
        "lr_schedule": [StrOptions({"warmup_cosine", "constant"})],
        "weight_decay": [Interval(numbers.Real, 0, None, closed="left")],
        "validation_fraction": [Interval(numbers.Real, 0, 1, closed="neither"), None],
        "early_stopping": ["boolean"],
        "n_iter_no_change": [Interval(numbers.Integral, 1, None, closed="left")],
        "callbacks": [list, None],
        "device": [StrOptions({"auto", "cpu", "cuda"}), str, torch.device],
        "n_threads": [Interval(numbers.Integral, 1, None, closed="left"), None],
        "verbose": ["verbose"],
        "random_state": ["random_state"],
        "warm_start": ["boolean"],
    }

    def __init__(
        self,
        network="auto",
        *,
        network_params=None,
        embedding_dim=64,
        normalize=True,
        input_shape=None,
        loss="multi_similarity",
        margin="auto",
        miner="auto",
        m_per_class=4,
        augment="auto",
        max_epochs=60,
        batch_size=128,
        num_workers=0,
        optimizer="adam",
        lr=3e-3,
        lr_schedule="warmup_cosine",
        weight_decay=0.0,
        validation_fraction=None,
        early_stopping=False,
        n_iter_no_change=5,
        callbacks=None,
        device="auto",
        n_threads=None,
        verbose=0,
        random_state=None,
        warm_start=False,
    ):
        self.network = network
        self.network_params = network_params
        self.embedding_dim = embedding_dim
        self.normalize = normalize
        self.input_shape = input_shape
        self.loss = loss
        self.margin = margin
        self.miner = miner
        self.m_per_class = m_per_class
        self.augment = augment
        self.max_epochs = max_epochs
        self.batch_size = batch_size
        self.num_workers = num_workers
        self.optimizer = optimizer
        self.lr = lr
        self.lr_schedule = lr_schedule
        self.weight_decay = weight_decay
        self.validation_fraction = validation_fraction
        self.early_stopping = early_stopping
        self.n_iter_no_change = n_iter_no_change
        self.callbacks = callbacks
        self.device = device
        self.n_threads = n_threads
        self.verbose = verbose
        self.random_state = random_state
        self.warm_start = warm_start

    # ---- the public API ----------------------------------------------------

    @fill_doc(**DOCS)
    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y):
        """Train the encoder on pairs or triplets drawn from ``y``.

        Parameters
        ----------
        {X_fit}
        y : array-like of shape (n_samples,)
            Class labels, of any type (ints, strings, mixed); at least two
            classes, each with at least two samples; no NaN or None.

        Returns
        -------
        self : SiameseEmbedder
        """
        X = self._validate_training_samples(X)
        if y is None:
            raise ValueError(
                f"{type(self).__name__}.fit needs class labels y: pairs and "
                "triplets are drawn from them. To learn from labelled pairs, "
                "use fit_pairs(pairs, same)."
            )
        check_consistent_length(X, y)
        classes, codes, _ = encode_labels(y)
        self._check_batch_size()
        self.classes_ = classes
        sets = lambda shape, seeds: self._class_sets(X, codes, shape, seeds)  # noqa: E731
        return self._train(sets, n_classes=len(classes))

    @fill_doc(**DOCS)
    @_fit_context(prefer_skip_nested_validation=True)
    def fit_pairs(self, pairs, same):
        """Train the encoder on labelled pairs, without class labels.

        Each epoch shuffles the pairs and feeds them to the loss as they
        are: "same" pairs as positives, "different" pairs as negatives.
        ``miner`` and ``m_per_class`` do not apply. The loss must learn
        from pairs: ``"contrastive"``, ``"binary"`` or a pair-based module
        (not the default, multi-similarity loss, which needs each sample's
        positive and negative pairs together).

        Parameters
        ----------
        {pairs}
        {same}

        Returns
        -------
        self : SiameseEmbedder
        """
        check_pair_loss(self.loss)
        pairs = check_pairs(pairs)
        n_pairs = len(pairs)
        X = self._validate_training_samples(
            pairs.reshape(2 * n_pairs, *pairs.shape[2:]), name="pairs"
        )
        same = check_same(same, n_pairs).astype(np.int64)
        self.__dict__.pop("classes_", None)
        index = np.arange(2 * n_pairs).reshape(n_pairs, 2)
        sets = lambda shape, seeds: self._pair_sets(X, index, same, shape, seeds)  # noqa: E731
        return self._train(sets, n_classes=None)

    def transform(self, X):
        """Embed ``X``.

        Parameters
        ----------
        X : array-like, laid out as in ``fit``
            Samples to embed.

        Returns
        -------
        embeddings : ndarray of shape (n_samples, embedding_dim_), float32
        """
        check_is_fitted(self, "net_")
        X = validate_samples(self, X, reset=False, read_files=self._files(False))
        return self._embed(X)

    def _embed(self, X):
        device = self.net_.device
        with torch_threads(self.n_threads):
            return embed(
                self.module_,
                X,
                self.network_input_shape_,
                device,
                max(self.batch_size, 256),
                self._channels_last(device),
                self.num_workers,
            )

    @property
    def module_(self):
        """The trained encoder (``torch.nn.Module``)."""
        check_is_fitted(self, "net_")
        return self.net_.module_

    # ---- training ----------------------------------------------------------

    def _warm(self):
        """Whether this fit continues the fitted network (``warm_start``)."""
        return bool(self.warm_start) and hasattr(self, "net_")

    def _files(self, fitting):
        """How file paths become samples: read by ``input_shape`` (unset size
        and mode from the network or the first file), to the fitted shape later."""
        shape = None if fitting else self.sample_shape_
        default = network_image_defaults(self.network)
        return lambda paths: files_as_samples(paths, self.input_shape, shape, default)

    def _row_shape(self):
        """The image shape of rows, or None (an ImageReader reads files only)."""
        return None if isinstance(self.input_shape, ImageReader) else self.input_shape

    def _validate_training_samples(self, X, name="X"):
        if not self._warm():
            read = self._files(True)
            return validate_samples(self, X, reset=True, name=name, read_files=read)
        try:
            read = self._files(False)
            return validate_samples(self, X, reset=False, name=name, read_files=read)
        except ValueError as exc:
            raise ValueError(
                f"{exc} With warm_start=True, fit continues training the "
                "fitted network, which needs samples of the shape it was "
                "built for; set warm_start=False to train a new network."
            ) from exc

    def _train(self, make_sets, n_classes):
        """Build (or, warm, continue) the network and train it on the sample
        sets that ``make_sets(net_shape, seeds)`` returns; set ``net_``.

        In a launched multi-process job (:func:`._distributed.launched`),
        every rank trains the one network on its share of the batches."""
        ranks = launched()
        with torch_threads(self.n_threads):
            if ranks is None:
                return self._train_here(make_sets, n_classes)
            try:
                return self._train_here(make_sets, n_classes, ranks)
            except Exception as exc:
                if is_collective_failure(exc):
                    raise collective_failure(ranks, exc) from exc
                raise

    def _train_here(self, make_sets, n_classes, ranks=None):
        seeds = check_random_state(self.random_state).randint(
            0, np.iinfo(np.int32).max, size=5
        )
        warm = self._warm()
        if not warm:
            self.device_ = rank_device(resolve_device(self.device), ranks)
        if ranks is not None:
            seeds = join(ranks, self.device_, seeds)
        if warm:
            # other tuples and distortions than the epochs before, reproducibly
            mixed = np.random.default_rng([*seeds.tolist(), len(self.net_.history)])
            seeds = mixed.integers(0, np.iinfo(np.int32).max, size=5)
            net_shape = self.network_input_shape_
        else:
            net_shape = network_input_shape(self.sample_shape_, self._row_shape())
        augment = training_augment(self.augment, net_shape)
        train, valid = make_sets(net_shape, seeds)
        dtype = mixed_precision(self.device_)
        session = None
        if ranks is not None or dtype is not None:
            session = Session(ranks, dtype, int(seeds[0]))
        if ranks is not None:
            session.check_same_data(train, valid, self.device_)
        if self.max_epochs == 0:
            warnings.warn(
                f"{type(self).__name__}(max_epochs=0) does not train: transform "
                "returns the embeddings of the network as initialised. Set "
                "max_epochs to 1 or more to learn.",
                UserWarning,
                stacklevel=3,
            )
        channels_last = self._channels_last(self.device_)
        with loading(
            train, valid, augment, seeds[4], channels_last, self.num_workers, ranks
        ):
            if warm:
                check_proxies(self.net_.criterion_, n_classes)
                net = self._continue(train, valid, int(seeds[0]), session)
            else:
                net = self._new_net(net_shape, n_classes, train, valid, seeds, session)
                self.network_input_shape_ = net_shape
        self.net_ = net
        self.history_ = net.history
        self.n_iter_ = len(net.history)
        self.embedding_dim_ = output_width(net.module_, net_shape, net.device)
        if self.max_epochs:
            self._check_collapse(train)
        return self

    def _check_collapse(self, train):
        """Warn when the trained network maps the training samples (a sample
        of at most 2,000 of them) to nearly one point."""
        local = collapse_sample(len(train.indices))
        embeddings = self._embed(take_rows(train.X, train.indices[local]))
        check_collapse(embeddings, train.codes[local], lr=self.lr, stacklevel=5)

    def _build_net(self, net_shape, n_classes, seeds, valid=None):
        """A new, unfitted skorch net: the encoder initialised from
        ``seeds[0]``, the loss (and its class proxies) from ``seeds[3]``."""
        with seeded(int(seeds[0])):
            backbone = build_network(
                self.network, net_shape, self.embedding_dim, self.network_params
            )
        name = self.network if isinstance(self.network, str) else None
        check_network_output(backbone, net_shape, name=name)  # before training
        module = Encoder(backbone, normalize=self.normalize)
        width = output_width(module, net_shape) if self._loss_needs_classes() else None
        with seeded(int(seeds[3])):  # proxies of losses that learn them
            criterion = self._make_loss(n_classes, width)
        return SiameseNet(
            module=module,
            criterion=criterion,
            miner=make_miner(self.miner, self.loss),
            optimizer=_optimizer(self.optimizer),
            lr=self.lr,
            optimizer__weight_decay=self.weight_decay,
            max_epochs=self.max_epochs,
            batch_size=self.batch_size,
            iterator_train=EpochLoader,
            iterator_valid=EpochLoader,
            train_split=PresetSplit(valid) if valid is not None else None,
            callbacks=training_callbacks(
                self.callbacks,
                self.early_stopping,
                self.n_iter_no_change,
                self.verbose,
                schedule=self._schedule(),
            ),
            device=self.device_,
            verbose=int(self.verbose),
        )

    def _new_net(self, net_shape, n_classes, train, valid, seeds, session=None):
        """A new skorch net, initialised from ``seeds`` and trained (within
        the data-parallel or mixed-precision ``session``, if any)."""
        net = self._build_net(net_shape, n_classes, seeds, valid)
        with seeded(int(seeds[0]), self.device_):
            net.initialize()
            with training_session(net, session):
                net.partial_fit(train, None)
        net.train_split = None  # hold no reference to the data
        return net

    def _rebuild_net(self, n_classes):
        """The initialised, untrained net of this fitted estimator's shape,
        for weights saved without pickle (:mod:`sksiamese.persistence`)."""
        net = self._build_net(self.network_input_shape_, n_classes, [0] * 5)
        with seeded(0, self.device_):
            net.initialize()
        return net

    def _schedule(self):
        """The learning-rate callback of ``lr_schedule`` (None: constant);
        a schedule among ``callbacks`` as well is refused, since the two
        would multiply."""
        if self.lr_schedule == "constant":
            return None
        for item in self.callbacks or []:
            name, callback = item if isinstance(item, tuple) else (None, item)
            if isinstance(callback, (LRScheduler, WarmupCosineLR)):
                shown = type(callback).__name__ + (f" {name!r}" if name else "")
                raise ValueError(
                    f"callbacks hold a learning-rate schedule ({shown}) and "
                    f"lr_schedule={self.lr_schedule!r} sets one too; pass "
                    'lr_schedule="constant" to train with yours alone.'
                )
        return WarmupCosineLR(warmup_epochs=self._warmup_epochs())

    def _warmup_epochs(self):
        """Warm-up of ``lr_schedule="warmup_cosine"``: a tenth of the epochs."""
        return self.max_epochs // 10

    def _continue(self, train, valid, seed, session=None):
        """Train the fitted net for ``max_epochs`` more epochs."""
        net = self.net_
        verbose = net.verbose
        if session is not None and session.ranks is not None:
            # skorch says it re-initialises the optimiser: on rank 0 only
            net.verbose = verbose if session.ranks.main else 0
        try:
            net.set_params(
                lr=self.lr,
                optimizer__weight_decay=self.weight_decay,
                max_epochs=self.max_epochs,
            )
            if self.lr_schedule != "constant" and "lr_schedule" in dict(
                net.callbacks_
            ):
                net.set_params(
                    callbacks__lr_schedule__warmup_epochs=self._warmup_epochs()
                )
        finally:
            net.verbose = verbose
        net.train_split = PresetSplit(valid) if valid is not None else None
        with seeded(seed, self.device_), training_session(net, session):
            net.partial_fit(train, None)
        net.train_split = None
        return net

    # ---- what the training tuples are --------------------------------------

    def _validation_fraction(self):
        if self.early_stopping and self.validation_fraction is None:
            return 0.1
        return self.validation_fraction

    def _class_sets(self, X, codes, net_shape, seeds):
        kind, fraction = self._tuples_kind(), self._validation_fraction()
        return class_sets(X, codes, net_shape, seeds, kind, self.m_per_class, fraction)

    def _pair_sets(self, X, index, same, net_shape, seeds):
        return pair_sets(X, index, same, net_shape, seeds, self._validation_fraction())

    def _check_batch_size(self):
        if self._tuples_kind() == "batches":
            check_balanced_batch(self.batch_size, self.m_per_class)

    def _loss_needs_classes(self):
        return learns_proxies(self.loss)

    def _tuples_kind(self):
        if resolve_miner(self.miner, self.loss) != "random":
            return "batches"
        return "pairs" if self.loss == "contrastive" else "triplets"

    def _make_loss(self, n_classes=None, width=None):
        loss = make_loss(self.loss, self.margin, n_classes, width)
        if resolve_miner(self.miner, self.loss) == "all" and isinstance(
            loss, TripletLoss
        ):
            loss.reduction = "nonzero"
        return loss

    def _channels_last(self, device):
        """Whether to hand the network channels-last image batches, which
        make CPU convolutions faster (only to the named networks: a user's
        module may ``view`` its input, which needs channels-first storage)."""
        return isinstance(self.network, str) and str(device) == "cpu"

    # ---- persistence and tags ----------------------------------------------

    def __setstate__(self, state):
        super().__setstate__(state)
        net = self.__dict__.get("net_")
        if net is not None:
            self.device_ = str(net.device)  # a GPU fit loaded on a CPU host

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.three_d_array = True
        tags.non_deterministic = False
        tags.transformer_tags.preserves_dtype = ["float32"]
        return tags

    @property
    def _n_features_out(self):
        return self.embedding_dim_


def _optimizer(optimizer):
    return OPTIMIZERS[optimizer] if isinstance(optimizer, str) else optimizer
