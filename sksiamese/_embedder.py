"""SiameseEmbedder: learn an embedding from class labels."""

from sklearn.base import ClassNamePrefixFeaturesOutMixin, TransformerMixin, _fit_context
from sklearn.utils.validation import check_is_fitted

from ._base import SiameseBase
from ._data import validate_samples

__all__ = ["SiameseEmbedder"]


class SiameseEmbedder(ClassNamePrefixFeaturesOutMixin, TransformerMixin, SiameseBase):
    """Learn an embedding in which samples of the same class are close.

    ``fit(X, y)`` trains a Siamese encoder on pairs or triplets that it draws
    from the class labels, afresh every epoch, as indices into ``X``;
    ``transform(X)`` returns the embeddings. The embeddings suit
    :class:`~sklearn.neighbors.KNeighborsClassifier`, retrieval and
    verification.

    Parameters
    ----------
    network : {"auto", "mlp", "mlp3", "conv", "small_conv", "conv_bn", \
            "face_conv", "resnet50"}, torch.nn.Module class, callable or \
            instance, default="auto"
        The encoder. ``"auto"`` picks :class:`~sksiamese.networks.MLP` for
        feature rows and :class:`~sksiamese.networks.ConvNet` for images.
        Classes and factories receive ``input_shape`` (``(n_features,)`` or
        ``(channels, height, width)``) and ``embedding_dim`` when their
        signature accepts them; instances are deep-copied before training.
        The other names are the networks of classic Keras Siamese examples
        and a ResNet-50 backbone (which needs torchvision), described in
        :mod:`sksiamese.networks`.
    network_params : dict, default=None
        Extra keyword arguments for the network constructor, for example
        ``{"hidden": (512, 512), "dropout": 0.2}``.
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
        Scale embeddings to unit Euclidean norm, so that distances lie in
        ``[0, 2]`` and margins have a fixed meaning.
    input_shape : tuple of int, default=None
        For 2-D ``X`` only: the image shape of each row, ``(height, width)``
        or ``(height, width, channels)``, so that the convolutional network
        applies. ``None`` treats rows as feature vectors.
    loss : {"multi_similarity", "triplet", "contrastive", "binary", \
            "cosface"} or torch.nn.Module, default="multi_similarity"
        ``"multi_similarity"``: :class:`~sksiamese.losses.MultiSimilarityLoss`
        (Wang et al., 2019), which mines and weighs the pairs of each
        balanced batch itself; ``"triplet"``: ``max(d²(a, p) - d²(a, n) +
        margin, 0)`` over anchor/positive/negative triplets;
        ``"contrastive"``: ``d²`` for positive pairs and ``max(margin - d,
        0)²`` for negative pairs; ``"binary"``: cross-entropy of a sigmoid
        head on the pair distance (:class:`~sksiamese.losses.BinaryPairLoss`);
        ``"cosface"``: :class:`~sksiamese.losses.CosFaceLoss`, a softmax over
        a learned proxy per class with a cosine ``margin``, as face
        recognition models train (no pairs: ``miner="auto"`` mines none;
        the proxies are sized from ``y`` and learned with the network).
        A module called as ``loss(embeddings, labels, indices_tuple)``, such
        as a pytorch-metric-learning loss, is copied for each network and
        used as is.
    margin : float or "auto", default="auto"
        Margin of the loss; ``"auto"`` is 0.2 for triplet, 1.0 for
        contrastive and binary, 0.1 (the mining margin) for
        multi-similarity loss and 0.35 (on the cosine) for CosFace.
    miner : {"auto", "random", "all", "semi_hard", "batch_hard"} or \
            callable, default="auto"
        How tuples are chosen. ``"random"`` draws pairs or triplets from the
        labels before each epoch (offline). The others embed class-balanced
        batches (``m_per_class`` samples per class) and choose tuples among
        them (online): every valid triplet (every pair for
        multi-similarity loss), FaceNet's semi-hard triplets, or each
        anchor's hardest positive and negative. ``"auto"`` is ``"all"`` for
        multi-similarity loss, which mines by itself, and ``"semi_hard"``
        otherwise. ``loss="cosface"`` mines nothing, whatever the miner:
        every sample of its class-balanced batches counts. A callable
        ``miner(embeddings, labels) -> indices_tuple`` (for example a
        pytorch-metric-learning miner) is used online as is.
    m_per_class : int, default=4
        Samples per class in each balanced batch (online miners only).
    tuples : {"auto", "pairs", "triplets"}, default="auto"
        What ``miner="random"`` draws: pairs for contrastive loss and
        triplets otherwise under ``"auto"``.
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
    max_epochs : int, default=20
        Number of passes over the data; each pass draws new tuples in which
        every training sample is an anchor once.
    batch_size : int, default=128
        Pairs or triplets per optimisation step with ``miner="random"``;
        samples per balanced batch with online miners.
    optimizer : {"adam", "adamw", "sgd", "rmsprop"} or torch optimizer \
            class, default="adam"
        The optimiser.
    lr : float, default=3e-3
        Learning rate.
    weight_decay : float, default=0.0
        L2 penalty passed to the optimiser.
    validation_fraction : float, default=None
        Fraction of each class held out to report ``valid_loss`` per epoch
        (on tuples drawn once, so epochs compare). ``None``: no hold-out.
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
    verbose : int, default=0
        0 is silent; 1 prints a table per epoch and a progress bar.
    random_state : int, RandomState instance or None, default=None
        Seeds weight initialisation, tuple sampling, dropout and the
        validation split. With an int, CPU fits are reproducible. The global
        random state of numpy and torch is left untouched.
    warm_start : bool, default=False
        When True, a further call to :meth:`fit` goes on training the fitted
        network (with its optimiser state) for ``max_epochs`` more epochs,
        on the data it is given, instead of starting from new weights: to
        resume after an interrupted fit, train longer, or fine-tune on new
        classes. The samples must keep their shape; ``lr``,
        ``weight_decay`` and ``max_epochs`` take their current values,
        while the network, loss and device stay those of the first fit.
        ``history_`` holds the epochs of every call. The tuples and
        distortions differ from the earlier calls' and stay reproducible
        with an int ``random_state``.

    Attributes
    ----------
    classes_ : ndarray of shape (n_classes,)
        Class labels seen in ``fit``.
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

    Notes
    -----
    Input layout: 2-D arrays are feature rows, 3-D arrays ``(n, height,
    width)`` grayscale images, 4-D arrays ``(n, height, width, channels)``
    colour images, channels last. ``uint8`` values are scaled to [0, 1].

    Interrupting ``fit`` with Ctrl-C stops training after the current batch
    and leaves a fitted estimator with what it has learned.

    The defaults were chosen by measurement: multi-similarity loss on
    class-balanced batches, mild random affine distortions of images and
    Adam at ``lr=3e-3`` gave the lowest one-shot error on Omniglot
    alphabets unseen in training, ahead of semi-hard and batch-hard
    triplet mining and of random triplets, at the same number of epochs
    (``benchmarks/bench_omniglot.py``), and keep 1-NN accuracy on digits
    and MNIST at or above that of the triplet defaults.

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
        **SiameseBase._parameter_constraints,
        "warm_start": ["boolean"],
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
        loss="multi_similarity",
        margin="auto",
        miner="auto",
        m_per_class=4,
        tuples="auto",
        augment="auto",
        max_epochs=20,
        batch_size=128,
        optimizer="adam",
        lr=3e-3,
        weight_decay=0.0,
        validation_fraction=None,
        early_stopping=False,
        n_iter_no_change=5,
        callbacks=None,
        device="auto",
        verbose=0,
        random_state=None,
        warm_start=False,
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
        self.warm_start = warm_start

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y):
        """Train the encoder on pairs or triplets drawn from ``y``.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features), (n_samples, height, \
                width) or (n_samples, height, width, channels)
            Training samples.
        y : array-like of shape (n_samples,)
            Class labels (ints or strings); at least two classes, each with
            at least two samples.

        Returns
        -------
        self : SiameseEmbedder
        """
        warm = self._warm()
        X, codes = self._validate_fit_data(X, y, warm=warm)
        return self._fit_network(X, codes, warm=warm)

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
        X = validate_samples(self, X, reset=False)
        return self._embed(X)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.transformer_tags.preserves_dtype = ["float32"]
        return tags

    @property
    def _n_features_out(self):
        return self.embedding_dim_
