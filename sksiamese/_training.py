"""The training engine: index-tuple batches fed to a skorch ``NeuralNet``.

A training set is a view (an index array) into the user's ``X``; each
epoch its loader draws fresh index tuples from the labels, and each batch
gathers only the distinct samples those tuples name. Nothing copies ``X``.
"""

import numpy as np
import torch
from skorch import NeuralNet
from torch import nn

from ._data import to_batch
from .sampling import (
    ClassIndex,
    balanced_batches,
    pair_components,
    sample_pairs,
    sample_triplets,
    split_pairs,
    stratified_holdout,
)

__all__ = [
    "Encoder",
    "EpochLoader",
    "OPTIMIZERS",
    "PairSet",
    "PresetSplit",
    "SampleSet",
    "SiameseNet",
    "class_sets",
    "embed",
    "output_width",
    "pair_sets",
    "resolve_device",
    "seeded",
]

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


class seeded:
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


def silent(*args, **kwargs):
    """A picklable sink for callback messages."""


class Encoder(nn.Module):
    """The trained network: a backbone, optionally L2-normalised.

    Parameters
    ----------
    backbone : torch.nn.Module
        Maps a batch of samples to a batch of embeddings.
    normalize : bool
        Whether to scale each embedding to unit Euclidean norm.
    """

    def __init__(self, backbone, normalize=True):
        super().__init__()
        self.backbone = backbone
        self.normalize = normalize

    def forward(self, x):
        z = self.backbone(x)
        if z.ndim != 2:
            z = z.flatten(1)
        if self.normalize:
            z = nn.functional.normalize(z, dim=1)
        return z


def _as_channels_last(batch):
    """A copy of ``batch`` (n, c, h, w) stored channels-last.

    Unlike ``contiguous(memory_format=torch.channels_last)``, this also
    re-strides single-channel batches, for which both layouts count as
    contiguous but oneDNN picks its faster kernels only from the strides.
    """
    n, c, h, w = batch.shape
    out = batch.new_empty((n, h, w, c)).permute(0, 3, 1, 2)
    return out.copy_(batch)


class SampleSet(torch.utils.data.Dataset):
    """A subset of ``(X, y)`` and the rule that turns it into batches.

    Parameters
    ----------
    X : ndarray
        The validated data, never copied.
    codes : ndarray of int64
        Class codes of all of ``X``.
    indices : ndarray of int64
        Positions of this subset in ``X``.
    net_shape : tuple of int
        Shape of one sample as the network sees it.
    tuples : {"triplets", "pairs", "batches"}
        What the loader draws from the labels: offline pairs or triplets,
        or class-balanced batches for an in-batch miner.
    seed : int
        Seed of the sampling.
    fixed : bool
        Whether every pass draws the same tuples (validation) or fresh ones.
    """

    #: Called as ``augment(batch, generator)`` on fetched batches; see
    #: :meth:`set_augment`.
    augment = None
    #: Whether fetched colour batches are stored channels-last.
    channels_last = False

    def __init__(
        self, X, codes, indices, net_shape, tuples, seed, fixed=False, m_per_class=4
    ):
        self.X = X
        self.indices = np.asarray(indices, dtype=np.int64)
        self.net_shape = net_shape
        self.tuples = tuples
        self.seed = seed
        self.fixed = fixed
        self.m_per_class = m_per_class
        _, local = np.unique(codes[self.indices], return_inverse=True)
        self.codes = local.astype(np.int64)
        self.class_index = ClassIndex(self.codes)
        self._rng = np.random.default_rng(seed)

    def __len__(self):
        return len(self.indices)

    def __getitem__(self, i):
        return self.fetch(np.atleast_1d(i))[0][0]

    def rng(self):
        """The generator for one pass: fresh each time unless ``fixed``."""
        return np.random.default_rng(self.seed) if self.fixed else self._rng

    def batches(self, batch_size):
        """Iterate over the batches of one pass."""
        rng = self.rng()
        if self.tuples == "batches":
            for local in balanced_batches(
                self.class_index, rng, self.m_per_class, batch_size
            ):
                xb, labels = self.fetch(local)
                yield xb, (labels, None)
            return
        if self.tuples == "pairs":
            tuples, same = sample_pairs(self.class_index, rng)
        else:
            tuples, same = sample_triplets(self.class_index, rng), None
        for start in range(0, len(tuples), batch_size):
            stop = start + batch_size
            part = None if same is None else same[start:stop]
            yield self.batch(tuples[start:stop], part)

    def fetch(self, local):
        """Images and labels of subset positions ``local``, augmented if set."""
        rows = self.indices[local]
        xb = to_batch(self.X, rows, self.net_shape, channels_last=self.channels_last)
        if self.augment is not None:
            # keep the channels-last layout of the fetched images: the
            # resampled output is channels-first, and CPU convolutions run
            # about a third slower on it
            channels_last = xb.ndim == 4 and xb.is_contiguous(
                memory_format=torch.channels_last
            )
            xb = self.augment(xb, self._augment_rng)
            if channels_last:
                xb = _as_channels_last(xb)
        return xb, torch.from_numpy(self.codes[local])

    def set_augment(self, augment, seed):
        """Distort every batch with ``augment(batch, generator)``.

        The generator is a ``torch.Generator`` seeded with ``seed``; it runs
        on through the epochs, so each epoch sees new distortions.
        """
        self.augment = augment
        self._augment_rng = torch.Generator().manual_seed(int(seed))

    def batch(self, tuples, same):
        """One batch: distinct samples, their labels and local index tuples."""
        uniq, inv = np.unique(tuples, return_inverse=True)
        inv = torch.from_numpy(inv.reshape(tuples.shape))
        xb, labels = self.fetch(uniq)
        if same is None:
            idx = (inv[:, 0], inv[:, 1], inv[:, 2])
        else:
            same = torch.from_numpy(same).bool()
            pos, neg = inv[same], inv[~same]
            idx = (pos[:, 0], pos[:, 1], neg[:, 0], neg[:, 1])
        return xb, (labels, idx)


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


class EpochLoader:
    """Iterates over the batches of one epoch of a :class:`SampleSet`.

    Parameters
    ----------
    dataset : SampleSet
    batch_size : int
        Pairs or triplets per batch, or samples per balanced batch.
    """

    def __init__(self, dataset, batch_size):
        self.dataset = dataset
        self.batch_size = batch_size

    def __iter__(self):
        return self.dataset.batches(self.batch_size)


def class_sets(X, codes, net_shape, seeds, kind, m_per_class, fraction=None):
    """The training set, and the validation set or None, of a fit on class
    codes: ``fraction`` of each class held out for validation.

    ``seeds[1]`` draws the hold-out, ``seeds[2]`` the (fixed) validation
    tuples and ``seeds[3]`` the training tuples of every epoch.
    """
    train_idx, valid = np.arange(len(X)), None
    if fraction is not None:
        split_rng = np.random.default_rng(int(seeds[1]))
        try:
            train_idx, valid_idx = stratified_holdout(codes, fraction, split_rng)
        except ValueError:
            raise ValueError(
                "leaves fewer than 2 classes with 2 or more validation samples."
            ) from None
        valid = SampleSet(
            X, codes, valid_idx, net_shape, kind, int(seeds[2]), True, m_per_class
        )
    train = SampleSet(
        X, codes, train_idx, net_shape, kind, int(seeds[3]), False, m_per_class
    )
    return train, valid


def pair_sets(X, index, same, net_shape, seeds, fraction=None):
    """The training set, and the validation set or None, of a fit on
    labelled pairs ``index`` (positions in ``X``) and their ``same`` flags."""
    labels = pair_components(len(X), index, same)
    rows, valid = np.arange(len(index)), None
    if fraction is not None:
        split_rng = np.random.default_rng(int(seeds[1]))
        rows, held = split_pairs(same, fraction, split_rng, "validation_fraction")
        valid = PairSet(
            X, labels, index[held], same[held], net_shape, int(seeds[2]), True
        )
    train = PairSet(X, labels, index[rows], same[rows], net_shape, int(seeds[3]))
    return train, valid


class PresetSplit:
    """A skorch ``train_split`` that returns a validation set made in advance."""

    def __init__(self, valid):
        self.valid = valid

    def __call__(self, dataset, y=None, **kwargs):
        return dataset, self.valid


class _Initialized:
    """Stands in a pickle for an init parameter that is its fitted twin."""

    def __init__(self, name):
        self.name = name


class SiameseNet(NeuralNet):
    """A skorch net whose targets are ``(labels, index_tuples)``.

    ``get_loss`` calls the criterion as ``criterion(embeddings, labels,
    indices_tuple)``; when a batch carries no tuples and a ``miner`` is set,
    the miner chooses them from the batch's embeddings.
    """

    def __init__(self, *args, miner=None, **kwargs):
        # set first: skorch refuses torch modules (pytorch-metric-learning's
        # miners are) as attributes once the net exists
        self.miner = miner
        super().__init__(*args, **kwargs)

    def get_loss(self, y_pred, y_true, X=None, training=False):
        labels, tuples = y_true
        labels = labels.to(y_pred.device)
        if tuples is None and self.miner is not None:
            tuples = self.miner(y_pred, labels)
        elif tuples is not None:
            tuples = tuple(t.to(y_pred.device) for t in tuples)
        return self.criterion_(y_pred, labels, tuples)

    # The module and criterion are passed as instances, which skorch makes
    # ``module_`` and ``criterion_`` themselves. skorch pickles those with
    # their device handled (a GPU fit loads on a CPU-only host) but the
    # init parameters as plain objects: the weights would be pickled twice,
    # once as CUDA tensors that such a host cannot load. Each is pickled
    # once, as its fitted twin.
    _TWINS = ("module", "criterion")

    def __getstate__(self):
        state = super().__getstate__()
        for name in self._TWINS:
            value = self.__dict__.get(name)
            if value is not None and value is self.__dict__.get(name + "_"):
                state[name] = _Initialized(name + "_")
        return state

    def __setstate__(self, state):
        super().__setstate__(state)
        for name in self._TWINS:
            value = self.__dict__.get(name)
            if isinstance(value, _Initialized):
                self.__dict__[name] = self.__dict__[value.name]


def output_width(module, net_shape, device="cpu"):
    """Width of the embeddings of an encoder, probed in eval mode."""
    was_training = module.training
    module.eval()
    try:
        with torch.inference_mode():
            return int(module(torch.zeros((2, *net_shape), device=device)).shape[1])
    finally:
        module.train(was_training)


def embed(module, X, net_shape, device, batch_size, channels_last=False):
    """Embeddings of validated ``X`` by ``module``: batched, in eval mode,
    without gradients, as float32 numpy rows."""
    out = None
    was_training = module.training
    module.eval()
    try:
        with torch.inference_mode():
            for start in range(0, len(X), batch_size):
                sl = slice(start, start + batch_size)
                xb = to_batch(X, sl, net_shape, device, channels_last)
                z = module(xb).float().cpu().numpy()
                if out is None:
                    out = np.empty((len(X), z.shape[1]), dtype=np.float32)
                out[sl] = z
    finally:
        module.train(was_training)
    if out is None:
        out = np.empty((0, output_width(module, net_shape, device)), dtype=np.float32)
    return out
