"""What every sksiamese estimator shares: parameters, fitting and embedding."""

import copy
import numbers

import numpy as np
import torch
from sklearn.base import BaseEstimator, clone
from sklearn.decomposition import PCA
from sklearn.discriminant_analysis import LinearDiscriminantAnalysis
from sklearn.pipeline import make_pipeline
from sklearn.utils import check_random_state
from sklearn.utils._param_validation import HasMethods, Interval, StrOptions
from sklearn.utils.validation import check_consistent_length, check_is_fitted
from skorch.callbacks import EarlyStopping, ProgressBar
from torch import nn

from ._data import encode_labels, network_input_shape, to_batch, validate_samples
from ._training import (
    Encoder,
    EnsembleEncoder,
    EpochLoader,
    MirrorAveraged,
    PresetSplit,
    SampleSet,
    SiameseNet,
)
from .augment import AUGMENTATIONS, make_augment
from .features import GaborFeatures
from .losses import LOSSES, MultiSimilarityLoss, TripletLoss, make_loss
from .metrics import _unit_rows
from .mining import MINERS
from .networks import NETWORKS, build_network
from .verification import balanced_pairs

__all__ = ["SiameseBase"]

OPTIMIZERS = {
    "adam": torch.optim.Adam,
    "adamw": torch.optim.AdamW,
    "sgd": torch.optim.SGD,
    "rmsprop": torch.optim.RMSprop,
}


def resolve_device(device):
    """Turn ``"auto"`` into ``"cuda"`` when a GPU is available, else ``"cpu"``."""
    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if str(device).startswith("cuda") and not torch.cuda.is_available():
        raise ValueError(
            f"device={device!r} was requested but CUDA is not available; use "
            "device='auto' or 'cpu'."
        )
    return device


def resolve_optimizer(optimizer):
    if isinstance(optimizer, str):
        return OPTIMIZERS[optimizer]
    return optimizer


def stratified_holdout(codes, fraction, rng):
    """Split sample positions into train and validation, class by class.

    Every class keeps at least two training samples; a class contributes
    validation samples only when it can spare two or more, so that the
    validation set holds positive pairs.
    """
    train, valid = [], []
    for c in range(codes.max() + 1):
        members = rng.permutation(np.flatnonzero(codes == c))
        n_valid = min(int(round(fraction * len(members))), len(members) - 2)
        n_valid = n_valid if n_valid >= 2 else 0
        valid.append(members[:n_valid])
        train.append(members[n_valid:])
    train, valid = np.sort(np.concatenate(train)), np.sort(np.concatenate(valid))
    if len(np.unique(codes[valid])) < 2:
        raise ValueError(
            f"validation_fraction={fraction} leaves fewer than 2 classes with "
            "2 or more validation samples; raise it, or set it to None when "
            "classes are this small."
        )
    return train, valid


_FISHER_BATCH = 4096  # samples flattened at a time for the discriminant


def _flatten(X):
    """Samples as float32 rows of their values, for the linear discriminant."""
    X = np.asarray(X)
    return X.reshape(len(X), -1).astype(np.float32, copy=False)


class SiameseBase(BaseEstimator):
    """Parameters and machinery shared by the embedder and the verifier.

    Not meant to be used directly. Subclasses define ``fit`` and call
    :meth:`_fit_network` and :meth:`_embed`.
    """

    _parameter_constraints = {
        "network": [StrOptions({"auto", *NETWORKS}), nn.Module, callable],
        "network_params": [dict, None],
        "embedding_dim": [Interval(numbers.Integral, 1, None, closed="left")],
        "normalize": ["boolean"],
        "input_shape": [tuple, list, None],
        "loss": [StrOptions(set(LOSSES)), nn.Module, type],
        "margin": [
            StrOptions({"auto"}),
            Interval(numbers.Real, 0, None, closed="left"),
        ],
        "miner": [StrOptions({"auto", "random", *MINERS}), callable],
        "m_per_class": [Interval(numbers.Integral, 2, None, closed="left")],
        "tuples": [StrOptions({"auto", "pairs", "triplets"})],
        "augment": [StrOptions({"auto", *AUGMENTATIONS}), callable, None],
        "max_epochs": [Interval(numbers.Integral, 0, None, closed="left")],
        "batch_size": [Interval(numbers.Integral, 1, None, closed="left")],
        "optimizer": [StrOptions(set(OPTIMIZERS)), type],
        "lr": [Interval(numbers.Real, 0, None, closed="neither")],
        "weight_decay": [Interval(numbers.Real, 0, None, closed="left")],
        "validation_fraction": [Interval(numbers.Real, 0, 1, closed="neither"), None],
        "early_stopping": ["boolean"],
        "n_iter_no_change": [Interval(numbers.Integral, 1, None, closed="left")],
        "callbacks": [list, None],
        "device": [StrOptions({"auto", "cpu", "cuda"}), str, torch.device],
        "verbose": ["verbose"],
        "random_state": ["random_state"],
        "n_networks": [Interval(numbers.Integral, 1, None, closed="left")],
        "fisher_weight": [Interval(numbers.Real, 0, 1, closed="left")],
        "fisher_features": [
            StrOptions({"pixels", "gabor"}),
            HasMethods(["fit", "transform"]),
        ],
        "fisher_components": [Interval(numbers.Integral, 1, None, closed="left")],
        "fisher_mirror": ["boolean"],
        "fisher_augment": [StrOptions(set(AUGMENTATIONS)), callable, None],
        "fisher_copies": [Interval(numbers.Integral, 1, None, closed="left")],
        "test_time_augment": [StrOptions({"flip"}), None],
    }

    # ---- fitting -----------------------------------------------------------

    def _warm(self):
        """Whether this fit continues the fitted network (``warm_start``)."""
        return bool(getattr(self, "warm_start", False)) and hasattr(self, "net_")

    def _validate_fit_data(self, X, y, warm=False):
        if warm:
            try:
                X = validate_samples(self, X, reset=False)
            except ValueError as exc:
                raise ValueError(
                    f"{exc} With warm_start=True, fit continues training the "
                    "fitted network, which needs samples of the shape it was "
                    "built for; set warm_start=False to train a new network."
                ) from exc
        else:
            X = validate_samples(self, X, reset=True)
        if y is None:
            raise ValueError(
                f"{type(self).__name__}.fit needs class labels y: pairs and "
                "triplets are drawn from them."
            )
        check_consistent_length(X, y)
        classes, codes, _ = encode_labels(y)
        self.classes_ = classes
        return X, codes

    def _loss_mines_itself(self):
        """Whether the loss chooses its pairs among all those of a batch."""
        loss = self.loss
        if isinstance(loss, str):
            return loss == "multi_similarity"
        if isinstance(loss, type):
            return issubclass(loss, MultiSimilarityLoss)
        return isinstance(loss, MultiSimilarityLoss)

    def _loss_needs_classes(self):
        """Whether ``loss`` learns a proxy per class (``"cosface"``)."""
        loss = LOSSES[self.loss][0] if isinstance(self.loss, str) else self.loss
        return bool(getattr(loss, "needs_classes", False))

    def _miner_name(self):
        """``miner`` with ``"auto"`` resolved: every pair for a loss that
        mines itself, semi-hard triplets otherwise."""
        if self.miner != "auto":
            return self.miner
        return "all" if self._loss_mines_itself() else "semi_hard"

    def _tuples_kind(self):
        if self._miner_name() != "random":
            return "batches"
        if self.tuples != "auto":
            return self.tuples
        return "pairs" if self.loss == "contrastive" else "triplets"

    def _make_miner(self):
        miner = self._miner_name()
        if miner == "random" or self._loss_needs_classes():
            return None  # class proxies need no tuples
        if miner == "all" and self._loss_mines_itself():
            return None  # the loss takes every pair of the batch by itself
        if isinstance(miner, str):
            return MINERS[miner]()
        return copy.deepcopy(miner)

    def _make_loss(self, n_classes=None, width=None):
        loss = make_loss(self.loss, self.margin, n_classes, width)
        if self._miner_name() == "all" and isinstance(loss, TripletLoss):
            loss.reduction = "nonzero"
        return loss

    def _make_augment(self, net_shape):
        """The training augmentation, or None; images only."""
        images = len(net_shape) == 3
        if self.augment == "auto":
            return make_augment("affine") if images else None
        if self.augment is not None and not images:
            raise ValueError(
                f"augment={self.augment!r} distorts images, but the samples "
                f"are feature rows of shape {tuple(net_shape)}. Pass images, "
                "set input_shape=(height, width) for rows that are images, or "
                "set augment=None."
            )
        return make_augment(self.augment)

    def _build_module(self, rng_seed):
        net_shape = network_input_shape(self.sample_shape_, self.input_shape)
        with _seeded(rng_seed):
            backbone = build_network(
                self.network, net_shape, self.embedding_dim, self.network_params
            )
        return net_shape, Encoder(backbone, normalize=self.normalize)

    def _callbacks(self):
        callbacks = list(self.callbacks or [])
        if self.early_stopping:
            callbacks.append(
                (
                    "early_stopping",
                    EarlyStopping(
                        monitor="valid_loss",
                        patience=self.n_iter_no_change,
                        load_best=True,
                        sink=_silent,
                    ),
                )
            )
        if self.verbose:
            callbacks.append(("progress_bar", ProgressBar()))
        return callbacks

    def _validation_fraction(self):
        if self.early_stopping and self.validation_fraction is None:
            return 0.1
        return self.validation_fraction

    def _sample_sets(self, X, codes, indices, net_shape, seeds):
        """The training and validation sets (or None) of one fit.

        ``indices`` are the positions of ``X`` to learn from; the validation
        set, when one is asked for, is held out of them class by class.
        Subclasses that learn from other targets than class codes override
        this.
        """
        kind, m = self._tuples_kind(), self.m_per_class
        train_idx, valid = indices, None
        fraction = self._validation_fraction()
        if fraction is not None:
            split_rng = np.random.default_rng(int(seeds[1]))
            _, local = np.unique(codes[indices], return_inverse=True)
            tr, va = stratified_holdout(local.ravel(), fraction, split_rng)
            train_idx, valid_idx = indices[tr], indices[va]
            valid = SampleSet(
                X, codes, valid_idx, net_shape, kind, int(seeds[2]), True, m
            )
        train = SampleSet(X, codes, train_idx, net_shape, kind, int(seeds[3]), False, m)
        return train, valid

    def _fit_network(self, X, codes, indices=None, warm=False):
        """Train the encoder on ``X`` with labels ``codes``; set ``net_``.

        Only the samples at positions ``indices`` (all by default) are
        learned from; ``X`` is never copied. With ``warm``, the fitted
        network and its optimiser state go on learning for ``max_epochs``
        more epochs. With ``n_networks`` above 1, as many networks are
        trained, each from its own initialisation, tuples and distortions;
        ``nets_`` holds them all and ``net_`` the first.
        """
        rs = check_random_state(self.random_state)
        seeds = rs.randint(0, np.iinfo(np.int32).max, size=5)
        if indices is None:
            indices = np.arange(len(X))
        if warm:
            nets = self.nets_
        else:
            self.device_ = resolve_device(self.device)
            nets = [None] * self.n_networks
        trained = []
        for member, net in enumerate(nets):
            member_seeds = seeds
            if member:
                member_rng = np.random.default_rng([*seeds.tolist(), member])
                member_seeds = member_rng.integers(0, np.iinfo(np.int32).max, size=5)
            trained.append(self._fit_member(X, codes, indices, net, member_seeds))
        self.nets_ = trained
        self.net_ = trained[0]
        self._join_networks()
        self.history_ = self.net_.history
        self.n_iter_ = len(self.net_.history)
        # checked before each network trained (_fit_member)
        self._flip = self.test_time_augment is not None
        fisher_seed = np.random.default_rng([*seeds.tolist(), 1 << 20]).integers(2**31)
        self._fit_fisher(X, codes, indices, int(fisher_seed))
        return self

    def _check_test_time_augment(self, net_shape):
        """``test_time_augment="flip"`` mirrors images: refuse feature rows."""
        if self.test_time_augment is not None and len(net_shape) != 3:
            raise ValueError(
                f"test_time_augment={self.test_time_augment!r} mirrors images, "
                f"but the samples are feature rows of shape {tuple(net_shape)}. "
                "Pass images, set input_shape=(height, width) for rows that "
                "are images, or set test_time_augment=None."
            )

    def _fit_fisher(self, X, codes, indices, seed=0):
        """Fit the Fisher discriminant beside the networks (``fisher_weight``).

        The features of ``fisher_features``, PCA whitening to at most
        ``fisher_components`` dimensions, then linear discriminant
        analysis, all on the flattened samples at ``indices`` (and, with
        ``fisher_mirror``, their mirror images; with ``fisher_augment``,
        ``fisher_copies`` distorted copies of each, drawn with ``seed``).
        Each part of the embedding is divided by its median distance
        between samples of different classes among those samples (not
        their mirror images nor copies), so that ``fisher_weight`` is the
        discriminant's share of a squared distance whatever the scale of
        either part.
        """
        self.fisher_ = None
        if not self.fisher_weight:
            self.embedding_dim_ = self._output_width()
            return
        sub = codes[indices]
        n_classes = len(np.unique(sub))
        flat = _flatten(X[indices])
        views = [flat]
        if self.fisher_mirror:  # images: _check_fisher_features
            c, h, w = self.network_input_shape_
            mirrored = flat.reshape(len(flat), h, w, c)[:, :, ::-1]
            views.append(mirrored.reshape(len(flat), -1))
        if self.fisher_augment is not None:
            views.extend(self._fisher_copies(flat, seed))
        flat = np.concatenate(views) if len(views) > 1 else flat
        labels = np.tile(sub, len(views))
        features = self._fisher_feature_step()
        if features != "passthrough":
            flat = features.fit_transform(flat, labels)
        k = min(self.fisher_components, len(flat) - n_classes, flat.shape[1])
        if k < 1:
            raise ValueError(
                f"fisher_weight={self.fisher_weight} fits a linear discriminant "
                f"on the training samples, which needs more samples than "
                f"classes; got {len(indices)} samples of {n_classes} classes. "
                "Add samples per class or set fisher_weight=0."
            )
        pca = PCA(k, whiten=True, random_state=0)
        lda = LinearDiscriminantAnalysis().fit(pca.fit_transform(flat), labels)
        self.fisher_ = make_pipeline(features, pca, lda)
        pairs, same = balanced_pairs(sub, max_pairs=4000, random_state=0)
        pairs = pairs[same == 0]
        net = self._embed_networks(X[indices])
        fisher = self._embed_fisher(X[indices])
        self.fisher_scales_ = tuple(
            float(np.median(np.linalg.norm(z[pairs[:, 0]] - z[pairs[:, 1]], axis=1)))
            or 1.0
            for z in (net, fisher)
        )
        self.embedding_dim_ = net.shape[1] + fisher.shape[1]
        # the weight of this fit, not whatever set_params says later
        w, (s_net, s_fisher) = self.fisher_weight, self.fisher_scales_
        self._fisher_factors = (np.sqrt(1.0 - w) / s_net, np.sqrt(w) / s_fisher)

    def _fisher_copies(self, flat, seed, copies=None):
        """``copies`` (default ``fisher_copies``) copies of the flattened
        images ``flat``, each distorted by ``fisher_augment`` with a
        generator seeded by ``seed``."""
        c, h, w = self.network_input_shape_
        augment = make_augment(self.fisher_augment)
        generator = torch.Generator().manual_seed(seed)
        images = torch.from_numpy(
            np.ascontiguousarray(flat.reshape(len(flat), h, w, c).transpose(0, 3, 1, 2))
        )
        distorted = []
        for _ in range(self.fisher_copies if copies is None else copies):
            out = augment(images, generator)
            if not isinstance(out, torch.Tensor) or out.shape != images.shape:
                raise ValueError(
                    f"fisher_augment={self.fisher_augment!r} must return a "
                    f"tensor of the shape it was given, {tuple(images.shape)}; "
                    f"got {getattr(out, 'shape', type(out).__name__)}."
                )
            out = out.detach().cpu().numpy().transpose(0, 2, 3, 1)
            distorted.append(out.reshape(len(flat), -1).astype(flat.dtype, copy=False))
        return distorted

    def _check_fisher_features(self, net_shape):
        """``fisher_features="gabor"`` filters images, ``fisher_mirror``
        mirrors them and ``fisher_augment`` distorts them: refuse feature
        rows."""
        if not self.fisher_weight or len(net_shape) == 3:
            return
        if self.fisher_augment is not None:
            raise ValueError(
                f"fisher_augment={self.fisher_augment!r} distorts the "
                "discriminant's training images, but the samples are feature "
                f"rows of shape {tuple(net_shape)}. Pass images, set "
                "input_shape=(height, width) for rows that are images, or set "
                "fisher_augment=None."
            )
        if self.fisher_mirror:
            raise ValueError(
                "fisher_mirror=True adds mirror images to the discriminant's "
                f"training samples, but the samples are feature rows of shape "
                f"{tuple(net_shape)}. Pass images, set input_shape=(height, "
                "width) for rows that are images, or set fisher_mirror=False."
            )
        if isinstance(self.fisher_features, str) and self.fisher_features == "gabor":
            raise ValueError(
                'fisher_features="gabor" filters images, but the samples are '
                f"feature rows of shape {tuple(net_shape)}. Pass images, set "
                "input_shape=(height, width) for rows that are images, or set "
                'fisher_features="pixels".'
            )

    def _fisher_feature_step(self):
        """The unfitted first step of the discriminant (``fisher_features``)."""
        if isinstance(self.fisher_features, str):
            if self.fisher_features == "pixels":
                return "passthrough"
            features = GaborFeatures()  # images: _check_fisher_features
        else:
            features = clone(self.fisher_features)
        shape = self.network_input_shape_
        if isinstance(features, GaborFeatures) and features.input_shape is None:
            if len(shape) == 3:  # it gets flattened rows: say which images
                c, h, w = shape
                features.set_params(input_shape=(h, w, c))
        return features

    def _fit_member(self, X, codes, indices, net, seeds):
        """Train one network, a new one or (``warm_start``) the fitted
        ``net``, and return it."""
        if net is not None:
            # other tuples and distortions than the epochs before, reproducibly
            mixed = np.random.default_rng([*seeds.tolist(), len(net.history)])
            seeds = mixed.integers(0, np.iinfo(np.int32).max, size=5)
            net_shape = self.network_input_shape_
        else:
            net_shape, module = self._build_module(int(seeds[0]))
            self.network_input_shape_ = net_shape
        augment = self._make_augment(net_shape)
        self._check_test_time_augment(net_shape)  # before any training
        self._check_fisher_features(net_shape)
        if self.fisher_weight and self.fisher_augment is not None:
            # distort two images now, so that a bad augmentation fails before
            # the networks train rather than after
            self._fisher_copies(_flatten(X[indices[:2]]), 0, copies=1)
        train, valid = self._sample_sets(X, codes, indices, net_shape, seeds)
        if augment is not None:
            train.set_augment(augment, int(seeds[4]))
        for part in (train, valid):
            if part is not None:
                part.channels_last = self._channels_last(self.device_)
        n_classes = int(np.max(codes)) + 1 if isinstance(codes, np.ndarray) else None
        if net is not None:
            self._check_proxies(net.criterion_, n_classes)
            return self._continue_fit(net, train, valid, int(seeds[0]))
        width = _width(module, net_shape) if self._loss_needs_classes() else None
        with _seeded(int(seeds[3])):  # proxies of losses that learn them
            criterion = self._make_loss(n_classes, width)
        net = SiameseNet(
            module=module,
            criterion=criterion,
            miner=self._make_miner(),
            optimizer=resolve_optimizer(self.optimizer),
            lr=self.lr,
            optimizer__weight_decay=self.weight_decay,
            max_epochs=self.max_epochs,
            batch_size=self.batch_size,
            iterator_train=EpochLoader,
            iterator_valid=EpochLoader,
            train_split=PresetSplit(valid) if valid is not None else None,
            callbacks=self._callbacks(),
            device=self.device_,
            verbose=int(self.verbose),
        )
        with _seeded(int(seeds[0]), self.device_):
            net.initialize()
            net.partial_fit(train, None)
        net.train_split = None  # hold no reference to the data
        return net

    @staticmethod
    def _check_proxies(criterion, n_classes):
        """A warm start cannot give new classes to a loss's class proxies."""
        proxies = getattr(criterion, "n_classes", None)
        if proxies is not None and n_classes is not None and n_classes > proxies:
            raise ValueError(
                f"warm_start continues a loss with {proxies} class proxies, but "
                f"y now has {n_classes} classes. Fit anew (warm_start=False) "
                "to learn proxies for every class."
            )

    def _continue_fit(self, net, train, valid, seed):
        """Train the fitted ``net`` for ``max_epochs`` more epochs."""
        net.set_params(
            lr=self.lr,
            optimizer__weight_decay=self.weight_decay,
            max_epochs=self.max_epochs,
        )
        net.train_split = PresetSplit(valid) if valid is not None else None
        with _seeded(seed, self.device_):
            net.partial_fit(train, None)
        net.train_split = None
        return net

    def _channels_last(self, device):
        """Whether to hand the network channels-last image batches.

        They make CPU convolutions of colour images faster (a user's module
        may reshape its input with ``view``, which needs channels-first
        storage, so only the named networks get them).
        """
        return isinstance(self.network, str) and str(device) == "cpu"

    def _output_width(self):
        return _width(self.module_, self.network_input_shape_, self.device_)

    # ---- using the fitted network -----------------------------------------

    @property
    def module_(self):
        """The trained ``Encoder`` (``torch.nn.Module``); with ``n_networks``
        above 1, an :class:`EnsembleEncoder` of them all."""
        check_is_fitted(self, "net_")
        if len(self.nets_) == 1:
            return self.net_.module_
        return self._ensemble

    def _join_networks(self):
        """The ensemble of ``nets_``' modules that ``module_`` returns."""
        if len(self.nets_) > 1:
            self._ensemble = EnsembleEncoder([n.module_ for n in self.nets_])

    def _embed(self, X, batch_size=None):
        """Embeddings of validated ``X``, batched, in eval mode, float32:
        the networks', and with ``fisher_weight`` the discriminant's beside
        them, each part scaled to its share."""
        net = self._embed_networks(X, batch_size)
        if self.__dict__.get("fisher_") is None:
            return net
        net_factor, fisher_factor = self._fisher_factors
        fisher = self._embed_fisher(X)
        net *= np.float32(net_factor)
        fisher *= np.float32(fisher_factor)
        return np.hstack([net, fisher])

    def _embed_fisher(self, X):
        """The discriminant's projection of validated ``X``, unit length;
        with ``test_time_augment="flip"``, the mean of those of each sample
        and of its mirror image, which is shorter the more they disagree."""
        flip = self.__dict__.get("_flip", False)
        project = lambda rows: _unit_rows(  # noqa: E731
            self.fisher_.transform(_flatten(rows)).astype(np.float32)
        )
        c, h, w = self.network_input_shape_ if flip else (0, 0, 0)
        out = None
        for start in range(0, len(X), _FISHER_BATCH):  # bounded memory
            rows = X[start : start + _FISHER_BATCH]
            z = project(rows)
            if flip:
                z += project(np.asarray(rows).reshape(len(rows), h, w, c)[:, :, ::-1])
                z /= 2
            if out is None:
                out = np.empty((len(X), z.shape[1]), dtype=np.float32)
            out[start : start + len(z)] = z
        if out is None:
            pca, lda = self.fisher_[-2], self.fisher_[-1]
            width = min(len(lda.classes_) - 1, pca.n_components_)
            out = np.empty((0, width), dtype=np.float32)
        return out

    def _embed_networks(self, X, batch_size=None):
        """The networks' embeddings of validated ``X``."""
        module = self.module_
        if self.__dict__.get("_flip", False):
            members = [MirrorAveraged(net.module_) for net in self.nets_]
            module = members[0] if len(members) == 1 else EnsembleEncoder(members)
        device = self.net_.device
        batch_size = batch_size or max(self.batch_size, 256)
        channels_last = self._channels_last(device)
        out = None
        was_training = module.training
        module.eval()
        try:
            with torch.inference_mode():
                for start in range(0, len(X), batch_size):
                    sl = slice(start, start + batch_size)
                    xb = to_batch(
                        X, sl, self.network_input_shape_, device, channels_last
                    )
                    z = module(xb).float().cpu().numpy()
                    if out is None:
                        out = np.empty((len(X), z.shape[1]), dtype=np.float32)
                    out[sl] = z
        finally:
            module.train(was_training)
        if out is None:
            out = np.empty((0, self._output_width()), dtype=np.float32)
        return out

    def __getstate__(self):
        state = dict(super().__getstate__())  # a copy: the estimator keeps its own
        # the ensemble holds the networks' modules, which their skorch nets
        # pickle (device handled); it is rebuilt from them on load
        state.pop("_ensemble", None)
        return state

    def __setstate__(self, state):
        super().__setstate__(state)
        net = self.__dict__.get("net_")
        if net is not None:
            self.device_ = str(net.device)  # a GPU fit loaded on a CPU host
            self.__dict__.setdefault("nets_", [net])  # pickled before n_networks
            self.__dict__.setdefault("fisher_", None)
            self._join_networks()

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.three_d_array = True
        tags.non_deterministic = False
        return tags


def _width(module, net_shape, device="cpu"):
    """Width of the embeddings of an encoder, probed in eval mode."""
    was_training = module.training
    module.eval()
    try:
        with torch.inference_mode():
            return int(module(torch.zeros((2, *net_shape), device=device)).shape[1])
    finally:
        module.train(was_training)


def _silent(*args, **kwargs):
    """A picklable sink for callback messages."""


class _seeded:
    """Run a block under a private torch RNG state seeded with ``seed``.

    The global RNG state is saved and restored, so fitting never changes
    the random numbers that the caller's own code sees.
    """

    def __init__(self, seed, device="cpu"):
        self.seed = seed
        cuda = str(device).startswith("cuda")
        self.devices = [torch.device(device).index or 0] if cuda else []

    def __enter__(self):
        self._fork = torch.random.fork_rng(devices=self.devices)
        self._fork.__enter__()
        torch.manual_seed(self.seed)
        return self

    def __exit__(self, *exc):
        return self._fork.__exit__(*exc)
