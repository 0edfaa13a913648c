"""Loading planned batches: in this process or in DataLoader workers.

A pass over a sample set is planned in the main process (the index tuples
of every batch and the seed of its distortions) and its batches are loaded
from the specs of the plan, here or by worker processes (:class:`Workers`),
which return them in the order of the plan. Lazy samples (a memmap, image
files) travel to the workers as a file name, never as their data.
"""

import mmap

import numpy as np
import torch

from ._data import gather_rows, is_lazy

__all__ = ["Reopened", "Workers", "iterate_rows", "picklable", "reopen"]


def _as_is(batch):
    """The collate function of planned batches: they are batches already."""
    return batch


class _Planned(torch.utils.data.Sampler):
    """The specs of the batches of one pass, set before each pass."""

    def __init__(self):
        self.specs = []

    def __iter__(self):
        return iter(self.specs)

    def __len__(self):
        return len(self.specs)


class _Loading(torch.utils.data.Dataset):
    """What DataLoader workers call: ``load(spec)`` of a planned batch."""

    def __init__(self, load):
        self.load = load

    def __getitem__(self, spec):
        return self.load(spec)


class Workers:
    """DataLoader worker processes that load planned batches.

    The workers start on the first pass and stay for the next ones; each
    pass hands them its specs, in order, and they return the batches in
    that order. Their own random state is seeded from a private generator,
    so starting them leaves torch's global random state alone.

    Parameters
    ----------
    load : callable
        ``load(spec) -> batch``, run in the workers.
    num_workers : int
        Number of worker processes.
    pin_memory : bool, default=False
        Return batches in page-locked memory, for fast copies to a GPU.
    """

    def __init__(self, load, num_workers, pin_memory=False):
        self.planned = _Planned()
        self.loader = torch.utils.data.DataLoader(
            _Loading(load),
            batch_size=None,
            sampler=self.planned,
            num_workers=num_workers,
            collate_fn=_as_is,
            pin_memory=pin_memory,
            persistent_workers=True,
            generator=torch.Generator().manual_seed(0),
        )

    def run(self, specs):
        """The batches of ``specs``, loaded by the workers."""
        self.planned.specs = list(specs)
        return iter(self.loader)

    def close(self):
        """Stop the worker processes."""
        iterator = self.loader.__dict__.pop("_iterator", None)
        self.loader._iterator = None
        shutdown = getattr(iterator, "_shutdown_workers", None)
        if shutdown is not None:
            shutdown()


def reopen(filename, dtype, shape, offset, order):
    return np.memmap(
        filename, dtype=dtype, mode="r", shape=shape, offset=offset, order=order
    )


def picklable(X):
    """What stands in for ``X`` in a pickle: a whole-file memmap is reopened
    from its file in the process that unpickles it, instead of copied."""
    if isinstance(X, np.memmap) and isinstance(X.base, mmap.mmap) and X.filename:
        order = "F" if X.flags.f_contiguous and not X.flags.c_contiguous else "C"
        args = (X.filename, X.dtype, X.shape, X.offset, order)
        return Reopened(args)
    return X


class Reopened:
    """What stands in for a memmap in a pickle: the arguments to reopen it."""

    def __init__(self, args):
        self.args = args


class _Rows:
    """Gathers row blocks of samples, in DataLoader workers."""

    def __init__(self, X):
        self.X = X

    def __call__(self, sl):
        return torch.from_numpy(gather_rows(self.X, sl))

    def __getstate__(self):
        return {"X": picklable(self.X)}

    def __setstate__(self, state):
        X = state["X"]
        self.X = reopen(*X.args) if isinstance(X, Reopened) else X


def iterate_rows(X, batch_size, num_workers=0, pin_memory=False):
    """``(slice, rows)`` for consecutive blocks of ``batch_size`` samples of
    ``X``, gathered (read, decoded) by ``num_workers`` worker processes when
    ``X`` is lazy and there is more than one block."""
    slices = [slice(s, s + batch_size) for s in range(0, len(X), batch_size)]
    if not num_workers or len(slices) < 2 or not is_lazy(X):
        for sl in slices:
            yield sl, gather_rows(X, sl)
        return
    workers = Workers(_Rows(X), num_workers, pin_memory)
    try:
        yield from zip(slices, workers.run(slices), strict=True)
    finally:
        workers.close()
