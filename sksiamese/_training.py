"""The training engine: index-tuple batches fed to a skorch ``NeuralNet``.

A training set is a view (an index array) into the user's ``X``; each
epoch its loader draws fresh index tuples from the labels, and each batch
gathers only the distinct samples those tuples name. Nothing copies ``X``.

Each epoch is planned in the main process: the index tuples of every batch
and the seed of its distortions. Loading a planned batch (reading a
memmap's rows, decoding image files, distorting) happens there too, or in
DataLoader worker processes with ``num_workers`` (:mod:`._loading`);
either way the batches are the same, so results do not depend on the
number of workers.
"""

import contextlib

import numpy as np
import torch
from skorch import NeuralNet
from skorch.callbacks import EarlyStopping, PrintLog, ProgressBar
from skorch.dataset import unpack_data
from skorch.utils import to_tensor
from torch import nn

from ._data import rows_to_batch, to_batch
from ._distributed import DistributedTrainingError, share_of
from ._loading import Reopened, Workers, iterate_rows, picklable, reopen
from ._monitor import NonFiniteGuard
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
    "check_balanced_batch",
    "class_sets",
    "embed",
    "loading",
    "output_width",
    "pair_sets",
    "resolve_device",
    "seeded",
    "torch_threads",
    "training_callbacks",
    "training_session",
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


class torch_threads:
    """Run a block with ``n`` torch threads (None: leave the setting as it
    is), restoring the number of threads afterwards.

    Float sums run in another order on another number of threads, so the
    weights a fit learns depend on it: a fixed number gives the same model
    in the main process, in joblib's workers (which run torch on one
    thread) and in dask's.
    """

    def __init__(self, n):
        self.n = n

    def __enter__(self):
        self._before = torch.get_num_threads()
        if self.n is not None:
            torch.set_num_threads(int(self.n))
        return self

    def __exit__(self, *exc):
        if self.n is not None:
            torch.set_num_threads(self._before)


def silent(*args, **kwargs):
    """A picklable sink for callback messages."""


def training_callbacks(callbacks, early_stopping, patience, verbose, schedule=None):
    """The skorch callbacks of a fit: the learning-rate ``schedule`` (a
    callback, or None), the user's, the guard against non-finite losses,
    early stopping on ``valid_loss`` (restoring the best weights) and, when
    verbose, a progress bar."""
    callbacks = list(callbacks or [])
    if schedule is not None:
        callbacks.insert(0, ("lr_schedule", schedule))
    callbacks.append(("nonfinite_guard", NonFiniteGuard()))
    if early_stopping:
        stopper = EarlyStopping(
            monitor="valid_loss", patience=patience, load_best=True, sink=silent
        )
        callbacks.append(("early_stopping", stopper))
    if verbose:
        callbacks.append(("progress_bar", ProgressBar()))
    return callbacks


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
    X : ndarray, memmap or ImageFiles
        The validated data, never copied; lazy samples are read a batch at
        a time.
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
    #: DataLoader worker processes that load the batches (0: none).
    num_workers = 0
    #: ``(rank, world, pad)`` in a data-parallel fit: the rank trains on
    #: its share of each pass's planned batches (see
    #: :func:`._distributed.share_of`); None: on all of them.
    share = None
    _workers = None

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

    def plan(self, batch_size):
        """The batches of one pass, as specs for :meth:`load`.

        Each spec is ``((local, tuples, same), seed)``: the subset
        positions of a class-balanced batch, or the index tuples (and
        same/different flags) of a batch of pairs or triplets, and the seed
        of the batch's distortions (None without augmentation).
        """
        rng = self.rng()
        if self.tuples == "batches":
            batches = balanced_batches(
                self.class_index, rng, self.m_per_class, batch_size
            )
            return self._seeded([(local, None, None) for local in batches])
        if self.tuples == "pairs":
            tuples, same = sample_pairs(self.class_index, rng)
        else:
            tuples, same = sample_triplets(self.class_index, rng), None
        return self._seeded(_cut(tuples, same, batch_size))

    def _seeded(self, parts):
        if self.augment is None:
            return [(part, None) for part in parts]
        seeds = self._augment_rng.integers(0, np.iinfo(np.int64).max, len(parts))
        return list(zip(parts, seeds.tolist(), strict=True))

    def load(self, spec):
        """The batch of a spec of :meth:`plan`: images, labels and tuples."""
        (local, tuples, same), seed = spec
        if tuples is None:
            xb, labels = self.fetch(local, seed)
            return xb, (labels, None)
        return self.batch(tuples, same, seed)

    def batches(self, batch_size):
        """Iterate over the batches of one pass, loaded by the workers when
        ``num_workers`` is set."""
        specs = self.plan(batch_size)
        if self.share is not None:
            specs = share_of(specs, *self.share)
        if not self.num_workers:
            return map(self.load, specs)
        if self._workers is None:
            self._workers = Workers(self.load, self.num_workers)
        return self._workers.run(specs)

    def close(self):
        """Stop the worker processes, if any."""
        if self._workers is not None:
            self._workers.close()
            self._workers = None

    def fetch(self, local, seed=None):
        """Images and labels of subset positions ``local``, augmented if set
        (with distortions drawn from ``seed``, or the next seed of the
        set's own generator)."""
        rows = self.indices[local]
        xb = to_batch(self.X, rows, self.net_shape, channels_last=self.channels_last)
        if self.augment is not None:
            if seed is None:
                seed = int(self._augment_rng.integers(np.iinfo(np.int64).max))
            # keep the channels-last layout of the fetched images: the
            # resampled output is channels-first, and CPU convolutions run
            # about a third slower on it
            channels_last = xb.ndim == 4 and xb.is_contiguous(
                memory_format=torch.channels_last
            )
            xb = self.augment(xb, torch.Generator().manual_seed(int(seed)))
            if channels_last:
                xb = _as_channels_last(xb)
        return xb, torch.from_numpy(self.codes[local])

    def set_augment(self, augment, seed):
        """Distort every batch with ``augment(batch, generator)``.

        Each batch's ``torch.Generator`` is seeded with a number drawn, when
        the pass is planned, from a generator seeded with ``seed``; it runs
        on through the epochs, so each epoch sees new distortions.
        """
        self.augment = augment
        self._augment_rng = np.random.default_rng(int(seed))

    def batch(self, tuples, same, seed=None):
        """One batch: distinct samples, their labels and local index tuples."""
        uniq, inv = np.unique(tuples, return_inverse=True)
        inv = torch.from_numpy(inv.reshape(tuples.shape))
        xb, labels = self.fetch(uniq, seed)
        if same is None:
            idx = (inv[:, 0], inv[:, 1], inv[:, 2])
        else:
            same = torch.from_numpy(same).bool()
            pos, neg = inv[same], inv[~same]
            idx = (pos[:, 0], pos[:, 1], neg[:, 0], neg[:, 1])
        return xb, (labels, idx)

    def __getstate__(self):
        state = self.__dict__.copy()
        state.pop("_workers", None)
        state["X"] = picklable(self.X)
        return state

    def __setstate__(self, state):
        if isinstance(state["X"], Reopened):
            state["X"] = reopen(*state["X"].args)
        self.__dict__.update(state)


def _cut(tuples, same, batch_size):
    """Consecutive batches of ``batch_size`` tuples, as plan parts."""
    parts = []
    for start in range(0, len(tuples), batch_size):
        stop = start + batch_size
        part = None if same is None else same[start:stop]
        parts.append((None, tuples[start:stop], part))
    return parts


class PairSet(SampleSet):
    """Labelled pairs of samples as batches of index tuples.

    Each pass shuffles the pairs (unless ``fixed``) and cuts them into
    batches of ``batch_size`` pairs; a batch carries the distinct samples
    its pairs name, once each, and the positive and negative pairs as
    ``(a1, p, a2, n)`` index tuples into them.

    Parameters
    ----------
    X : ndarray, memmap or ImageFiles
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

    def plan(self, batch_size):
        order = self.rng().permutation(len(self.pairs))
        return self._seeded(_cut(self.pairs[order], self.same[order], batch_size))


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
        return iter(self.dataset.batches(self.batch_size))


@contextlib.contextmanager
def loading(train, valid, augment, seed, channels_last, num_workers, ranks=None):
    """Give a fit's sample sets their loading rule (``augment`` of the
    training batches, seeded from ``seed``; the layout; ``num_workers``;
    with the ``ranks`` of a data-parallel fit, this rank's share of the
    batches), and stop their worker processes when the fit ends."""
    parts = [part for part in (train, valid) if part is not None]
    if augment is not None:
        train.set_augment(augment, int(seed))
    for part in parts:
        part.channels_last = channels_last
        part.num_workers = num_workers
        if ranks is not None:
            # every training pass takes the same number of steps on every rank
            part.share = (ranks.rank, ranks.world, part is train)
    try:
        yield
    finally:
        for part in parts:
            part.close()


def check_balanced_batch(batch_size, m_per_class):
    """A class-balanced batch holds at least two classes."""
    if batch_size < 2 * m_per_class:
        raise ValueError(
            f"batch_size={batch_size} cannot hold two classes of "
            f"m_per_class={m_per_class} samples, and a balanced batch "
            "needs two to form negative pairs. Set batch_size to at least "
            f"{2 * m_per_class}, or lower m_per_class."
        )


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
                f"validation_fraction={fraction} leaves fewer than 2 classes with "
                "2 or more validation samples. Raise it, or set it to None when "
                "classes are this small."
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

    #: The :class:`._distributed.Session` of a data-parallel or
    #: mixed-precision fit, set for its length by :func:`training_session`;
    #: None (a plain fit): skorch's own steps, untouched.
    _session = None

    def infer(self, x, **fit_params):
        session = self._session
        if (
            session is None
            or session.ddp is None
            or not (self.module_.training and torch.is_grad_enabled())
        ):
            return super().infer(x, **fit_params)
        # training steps go through the DDP wrapper, which averages the
        # gradients; validation and transform use the plain encoder
        return session.ddp(to_tensor(x, device=self.device), **fit_params)

    def train_step_single(self, batch, **fit_params):
        session = self._session
        if session is None:
            return super().train_step_single(batch, **fit_params)
        self._set_training(True)
        Xi, yi = unpack_data(batch)
        with session.autocast(self.device):
            y_pred = self.infer(Xi, **fit_params)
            loss = self.get_loss(y_pred, yi, X=Xi, training=True)
        session.backward(loss)
        return {"loss": loss, "y_pred": y_pred}

    def _step_optimizer(self, step_fn):
        session = self._session
        if session is None or session.scaler is None:
            return super()._step_optimizer(step_fn)
        # float16: the scaler steps (or skips a step whose gradients
        # overflowed), which takes no closure
        step_fn()
        for name in self._optimizers:
            session.step(getattr(self, name + "_"))

    def run_single_epoch(self, iterator, training, prefix, step_fn, **fit_params):
        session = self._session
        if not training and iterator is not None and session is not None:
            if session.ranks is not None:
                # validate rank 0's model on every rank's share
                session.sync_buffers(self)
        return super().run_single_epoch(
            iterator, training, prefix, step_fn, **fit_params
        )

    def on_epoch_end(self, net, **kwargs):
        super().on_epoch_end(net, **kwargs)
        session = self._session
        if session is not None and session.ranks is not None:
            session.merge_epoch(self.history)

    def fit_loop(self, *args, **kwargs):
        session = self._session
        if session is None or session.ranks is None:
            return super().fit_loop(*args, **kwargs)
        try:
            return super().fit_loop(*args, **kwargs)
        except KeyboardInterrupt:
            if session.stopped:
                raise  # all ranks agreed at the end of an epoch
            # the other ranks are in the middle of a step: this rank cannot
            # leave with a fitted net, nor they continue without it
            ranks = session.ranks
            raise DistributedTrainingError(
                f"Data-parallel training was interrupted on rank {ranks.rank} "
                f"of {ranks.world} in the middle of epoch {len(self.history)}. "
                "The ranks of a data-parallel fit can stop only together, at "
                "the end of an epoch: stop from a callback's on_epoch_end (as "
                "early stopping does), or let the job end."
            ) from None

    def notify(self, method_name, **cb_kwargs):
        session = self._session
        if session is None or session.ranks is None:
            return super().notify(method_name, **cb_kwargs)
        quiet = not session.ranks.main
        if method_name != "on_epoch_end":
            return self._notify(method_name, quiet, **cb_kwargs)
        # one decision for all ranks: the epoch's losses are the same on
        # all of them (merged in on_epoch_end), and a callback that stops
        # one rank (early stopping, KeyboardInterrupt) stops them all here
        try:
            self._notify(method_name, quiet, **cb_kwargs)
            stop = False
        except KeyboardInterrupt:
            stop = True
        if session.agree_to_stop(stop, self.history, self.device):
            session.stopped = True
            raise KeyboardInterrupt

    def _notify(self, method_name, quiet, **cb_kwargs):
        """skorch's ``notify``; ``quiet`` (ranks other than 0) skips the
        callbacks that print."""
        getattr(self, method_name)(self, **cb_kwargs)
        for _, cb in self.callbacks_:
            if quiet and isinstance(cb, PrintLog | ProgressBar):
                continue
            getattr(cb, method_name)(self, **cb_kwargs)

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
        state.pop("_session", None)
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


@contextlib.contextmanager
def training_session(net, session):
    """Train ``net`` within ``session`` (a :class:`._distributed.Session`, or
    None for a plain fit): its encoder wrapped for the length of the block,
    and never after, so that the fitted net pickles without a wrapper."""
    if session is None:
        yield net
        return
    net.__dict__["_session"] = session
    try:
        session.start(net)
        yield net
        session.finish(net)
    finally:
        net.__dict__.pop("_session", None)


def output_width(module, net_shape, device="cpu"):
    """Width of the embeddings of an encoder, probed in eval mode."""
    was_training = module.training
    module.eval()
    try:
        with torch.inference_mode():
            return int(module(torch.zeros((2, *net_shape), device=device)).shape[1])
    finally:
        module.train(was_training)


def embed(module, X, net_shape, device, batch_size, channels_last=False, num_workers=0):
    """Embeddings of validated ``X`` by ``module``: batched, in eval mode,
    without gradients, as float32 numpy rows; lazy samples are read by
    ``num_workers`` worker processes while the network runs."""
    out = None
    was_training = module.training
    module.eval()
    pin = str(device).startswith("cuda")
    try:
        with torch.inference_mode():
            for sl, rows in iterate_rows(X, batch_size, num_workers, pin):
                xb = rows_to_batch(rows, net_shape, device, channels_last)
                z = module(xb).float().cpu().numpy()
                if out is None:
                    out = np.empty((len(X), z.shape[1]), dtype=np.float32)
                out[sl] = z
    finally:
        module.train(was_training)
    if out is None:
        out = np.empty((0, output_width(module, net_shape, device)), dtype=np.float32)
    return out
