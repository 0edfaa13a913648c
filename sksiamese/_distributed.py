"""Data-parallel training over the processes of a launched job.

A script started by ``torchrun`` or ``accelerate launch`` runs once per
process ("rank"); the launcher tells each one its place in the job through
the environment (``WORLD_SIZE``, ``RANK``, ``LOCAL_RANK``, ``MASTER_ADDR``,
``MASTER_PORT``). A fit that finds itself in such a job, or in a process
whose ``torch.distributed`` group is initialised already, trains
data-parallel with the other ranks (:class:`Session`); any other fit is a
plain one, exactly as before.

The work is handed to torch: :class:`~torch.nn.parallel.DistributedDataParallel`
averages the encoder's gradients (and broadcasts rank 0's weights when a fit
starts), ``torch.distributed`` collectives keep the rest in step, and
:func:`torch.autocast` with a :class:`torch.amp.GradScaler` trains in mixed
precision on a GPU. Every rank plans the same epoch from the same seeds and
trains on its share of the planned batches: the same number of steps on
every rank, so that no rank waits for another in the gradient exchange.
The fitted network is never wrapped: the DDP wrapper lives in the session,
which ends with the fit, so the estimator pickles as a plain one.
"""

import atexit
import datetime
import multiprocessing
import os
import warnings
import zlib
from contextlib import nullcontext

import numpy as np
import torch

__all__ = [
    "DEFAULT_TIMEOUT",
    "MIXED_PRECISION_ENV",
    "DistributedTrainingError",
    "Ranks",
    "Session",
    "collective_failure",
    "is_collective_failure",
    "join",
    "launched",
    "mixed_precision",
    "rank_device",
    "share_of",
]

#: How long a rank waits for the others in one collective operation of a
#: process group that sksiamese initialises, before it fails.
DEFAULT_TIMEOUT = datetime.timedelta(minutes=5)

#: The variable through which ``accelerate launch --mixed_precision`` (and
#: an ``accelerate config`` file) passes its choice to the processes.
MIXED_PRECISION_ENV = "ACCELERATE_MIXED_PRECISION"

_DTYPES = {"fp16": torch.float16, "bf16": torch.bfloat16}


class DistributedTrainingError(RuntimeError):
    """A data-parallel fit lost a rank.

    Raised by ``fit`` on the ranks that remain when an exchange with the
    others fails: another rank died (its connections closed) or did not
    answer within the process group's timeout. The message quotes the
    error of ``torch.distributed``; the first failure is in the log of the
    rank that died. See :ref:`distributed`.
    """


class Ranks:
    """This process's place in a launched job.

    Parameters
    ----------
    rank : int
        Position of this process, 0 to ``world - 1``.
    world : int
        Number of processes.
    local_rank : int
        Position of this process among those of its machine (which GPU it
        uses).
    """

    def __init__(self, rank, world, local_rank):
        self.rank = int(rank)
        self.world = int(world)
        self.local_rank = int(local_rank)

    @property
    def main(self):
        """Whether this is rank 0, the one that prints."""
        return self.rank == 0


def _env_int(name, default=None):
    value = os.environ.get(name)
    if value is None or value == "":
        return default
    try:
        return int(value)
    except ValueError:
        raise ValueError(
            f"the environment variable {name}={value!r} is not an integer; the "
            "launcher (torchrun, accelerate launch) sets it to one. Unset it, "
            "or launch the script with torchrun or accelerate launch."
        ) from None


def launched():
    """The :class:`Ranks` of a multi-process job this process is part of,
    or None for a plain process.

    A process is part of one when its ``torch.distributed`` group is
    initialised with two or more ranks, or when the launcher's variables
    say ``WORLD_SIZE`` of 2 or more. Worker processes that a rank starts
    through :mod:`multiprocessing` (joblib's, dask's, DataLoader workers)
    inherit those variables but are not ranks: they fit as plain processes.
    """
    dist = torch.distributed
    if dist.is_available() and dist.is_initialized():
        world = dist.get_world_size()
        if world < 2:
            return None
        return Ranks(dist.get_rank(), world, _env_int("LOCAL_RANK", 0))
    world = _env_int("WORLD_SIZE", 1)
    if world < 2 or multiprocessing.parent_process() is not None:
        return None
    rank = _env_int("RANK")
    if rank is None or not 0 <= rank < world:
        raise ValueError(
            f"WORLD_SIZE={world} is set but RANK is {os.environ.get('RANK')!r}: "
            "each process of a data-parallel fit needs its rank, 0 to "
            f"{world - 1}. Launch the script with torchrun or accelerate "
            "launch, which set both, or unset WORLD_SIZE for a plain fit."
        )
    missing = [
        name for name in ("MASTER_ADDR", "MASTER_PORT") if not os.environ.get(name)
    ]
    if missing:
        raise ValueError(
            f"WORLD_SIZE={world} is set but {' and '.join(missing)} "
            f"{'is' if len(missing) == 1 else 'are'} not: the ranks of a "
            "data-parallel fit meet at MASTER_ADDR:MASTER_PORT. Launch the "
            "script with torchrun or accelerate launch, which set them, or "
            "unset WORLD_SIZE for a plain fit."
        )
    if not dist.is_available():
        raise RuntimeError(
            f"WORLD_SIZE={world} asks for a data-parallel fit, but this build "
            "of torch has no torch.distributed. Install a build with it, or "
            "unset WORLD_SIZE for a plain fit."
        )
    return Ranks(rank, world, _env_int("LOCAL_RANK", 0))


def rank_device(device, ranks):
    """The device of this rank: ``"cuda"`` (no index) becomes the GPU of
    its local rank; any other device is used as given."""
    if ranks is not None and str(device) == "cuda":
        return f"cuda:{ranks.local_rank}"
    return device


def _join(ranks, device):
    """Initialise the process group, unless the script (or accelerate) did:
    NCCL for GPUs, gloo for CPUs, with :data:`DEFAULT_TIMEOUT`."""
    dist = torch.distributed
    cuda = str(device).startswith("cuda")
    if cuda:
        torch.cuda.set_device(torch.device(device))
    if dist.is_initialized():
        return
    backend = "nccl" if cuda and dist.is_nccl_available() else "gloo"
    dist.init_process_group(
        backend,
        rank=ranks.rank,
        world_size=ranks.world,
        timeout=DEFAULT_TIMEOUT,
    )
    atexit.register(_leave)


def _leave():
    dist = torch.distributed
    if dist.is_initialized():
        dist.destroy_process_group()


def mixed_precision(device):
    """The autocast dtype of a fit on ``device``: float16 or bfloat16 when
    ``ACCELERATE_MIXED_PRECISION`` (set by ``accelerate launch
    --mixed_precision``) asks for it and the device is a GPU, else None."""
    value = os.environ.get(MIXED_PRECISION_ENV, "no").strip().lower()
    if value in ("", "no"):
        return None
    if value not in _DTYPES:
        raise ValueError(
            f"{MIXED_PRECISION_ENV}={value!r}: sksiamese trains in mixed "
            "precision 'fp16' or 'bf16', or in float32 ('no'). Launch with "
            "accelerate launch --mixed_precision fp16 (or bf16, or no)."
        )
    if not str(device).startswith("cuda"):
        warnings.warn(
            f"{MIXED_PRECISION_ENV}={value} asks for mixed precision, which "
            f"sksiamese applies on a GPU only; this fit on {device} trains in "
            "float32.",
            UserWarning,
            stacklevel=4,
        )
        return None
    dtype = _DTYPES[value]
    if dtype is torch.bfloat16 and not torch.cuda.is_bf16_supported():
        raise ValueError(
            f"{MIXED_PRECISION_ENV}=bf16, but this GPU does not support "
            "bfloat16; use fp16."
        )
    return dtype


def share_of(specs, rank, world, pad):
    """The specs of rank ``rank`` of ``world``: planned batches ``rank``,
    ``rank + world``, ...

    With ``pad`` (training), the plan is first made a multiple of ``world``
    long by repeating its first batches, so that every rank takes the same
    number of steps; without (validation, where no rank waits for
    another), the last ranks may get one batch fewer.

    Examples
    --------
    >>> share_of(list("abcde"), 0, 2, pad=True)
    ['a', 'c', 'e']
    >>> share_of(list("abcde"), 1, 2, pad=True)
    ['b', 'd', 'a']
    >>> share_of(list("abcde"), 1, 2, pad=False)
    ['b', 'd']
    """
    specs = list(specs)
    if pad and specs and len(specs) % world:
        extra = world - len(specs) % world
        specs = specs + [specs[i % len(specs)] for i in range(extra)]
    return specs[rank::world]


def _interleave(parts):
    """Rank-ordered lists back into the order of the plan."""
    merged = []
    for i in range(max((len(p) for p in parts), default=0)):
        merged.extend(p[i] for p in parts if i < len(p))
    return merged


def collective_failure(ranks, exc):
    return DistributedTrainingError(
        f"Data-parallel training failed on rank {ranks.rank} of {ranks.world}: "
        "a collective operation with the other ranks did not complete, most "
        "often because another rank died (see its own error) or stopped "
        f"responding for longer than the process group's timeout. "
        f"{type(exc).__name__}: {exc}"
    )


def is_collective_failure(exc):
    """Whether ``exc`` is how torch.distributed reports a lost rank."""
    if isinstance(exc, getattr(torch.distributed, "DistError", ())):
        return True
    text = str(exc)
    return isinstance(exc, RuntimeError) and any(
        word in text
        for word in ("Connection closed by peer", "Connection reset", "Timed out")
    )


class Session:
    """The distributed (or mixed-precision) state of one fit of a
    :class:`~sksiamese._training.SiameseNet`, set on the net for the length
    of the fit by :func:`~sksiamese._training.training_session`.

    Parameters
    ----------
    ranks : Ranks or None
        The job, or None for a single-process fit in mixed precision.
    dtype : torch.dtype or None
        The autocast dtype, or None for float32.
    seed : int
        Seed of the training randomness (dropout); each rank other than 0
        draws from its own stream, mixed from it and the rank.
    """

    def __init__(self, ranks, dtype, seed=0):
        self.ranks = ranks
        self.dtype = dtype
        self.seed = int(seed)
        self.ddp = None
        self.criterion_params = []
        self.scaler = None
        #: Whether the ranks agreed to stop at the end of an epoch.
        self.stopped = False

    # ---- start and end ---------------------------------------------------

    def start(self, net):
        """Wrap the net's encoder for the fit (rank 0's weights to all)."""
        if self.dtype is torch.float16:
            kind = torch.device(net.device).type
            if hasattr(torch.amp, "GradScaler"):
                self.scaler = torch.amp.GradScaler(kind)
            else:  # torch < 2.3: CUDA only, as mixed_precision() allows
                self.scaler = torch.cuda.amp.GradScaler()
        if self.ranks is None:
            return
        if self.ranks.rank:
            mixed = np.random.default_rng([self.seed, self.ranks.rank])
            torch.manual_seed(int(mixed.integers(np.iinfo(np.int64).max)))
        module = net.module_
        cuda = str(net.device).startswith("cuda")
        device_ids = [torch.device(net.device)] if cuda else None
        if any(p.requires_grad for p in module.parameters()):
            # DDP broadcasts rank 0's parameters and buffers as it wraps
            self.ddp = torch.nn.parallel.DistributedDataParallel(
                module, device_ids=device_ids
            )
        else:  # a frozen encoder: only the loss learns, if anything
            self.broadcast(list(module.state_dict().values()))
        # a loss with parameters (class proxies, a sigmoid head) has its
        # gradients averaged by hand: DDP would need every one of them used
        # in every step, and most losses have none at all
        criterion = net.criterion_
        self.criterion_params = [p for p in criterion.parameters() if p.requires_grad]
        self.broadcast(list(criterion.state_dict().values()))

    def finish(self, net):
        """Give every rank rank 0's buffers (batch-norm statistics, which
        each rank updates on its own batches), so that all hold one model."""
        if self.ranks is None:
            return
        self.sync_buffers(net)
        torch.distributed.barrier()

    def sync_buffers(self, net):
        self.broadcast([b for m in (net.module_, net.criterion_) for b in m.buffers()])

    def broadcast(self, tensors):
        for tensor in tensors:
            torch.distributed.broadcast(tensor.data, 0)

    # ---- a training step -------------------------------------------------

    def autocast(self, device):
        if self.dtype is None:
            return nullcontext()
        return torch.autocast(torch.device(device).type, dtype=self.dtype)

    def backward(self, loss):
        (self.scaler.scale(loss) if self.scaler is not None else loss).backward()
        if self.criterion_params:
            self._average_gradients(self.criterion_params)

    def _average_gradients(self, params):
        grads = [p.grad if p.grad is not None else torch.zeros_like(p) for p in params]
        flat = torch.cat([g.reshape(-1) for g in grads])
        torch.distributed.all_reduce(flat)
        flat /= self.ranks.world
        start = 0
        for p, g in zip(params, grads, strict=True):
            n = g.numel()
            p.grad = flat[start : start + n].view_as(g).clone()
            start += n

    def step(self, optimizer):
        """One float16 optimiser step after :meth:`backward`: the scaler's."""
        self.scaler.step(optimizer)
        self.scaler.update()

    # ---- the epoch's record ----------------------------------------------

    def merge_epoch(self, history):
        """Make the epoch's batch records those of all ranks, in the order
        of the plan, so that the epoch's losses (which skorch averages
        from them) and the whole ``history_`` are the same on every rank."""
        row = history[-1]
        mine = row.get("batches", [])
        parts = [None] * self.ranks.world
        torch.distributed.all_gather_object(parts, mine)
        train = _interleave([[b for b in p if "train_loss" in b] for p in parts])
        valid = _interleave([[b for b in p if "valid_loss" in b] for p in parts])
        row["batches"] = train + valid
        if "train_batch_count" in row:
            row["train_batch_count"] = len(train)
        if "valid_batch_count" in row:
            row["valid_batch_count"] = len(valid)

    def agree_to_stop(self, stop, history, device):
        """Whether any rank stops after this epoch (then all do), and the
        epoch's duration on the slowest rank in every rank's history."""
        row = history[-1]
        dur = float(row.get("dur", 0.0))
        flags = torch.tensor([float(stop), dur], dtype=torch.float64, device=device)
        torch.distributed.all_reduce(flags, op=torch.distributed.ReduceOp.MAX)
        if "dur" in row:
            row["dur"] = float(flags[1])
        return bool(flags[0])

    def check_same_data(self, train, valid, device):
        """Refuse ranks that were given different training data: each plans
        the epoch from its own copy, and the plans must agree."""
        mine = [len(train), -1 if valid is None else len(valid)]
        for part in (train, valid):
            codes = getattr(part, "codes", None)
            mine.append(0 if codes is None else zlib.crc32(np.ascontiguousarray(codes)))
        here = torch.tensor(mine, dtype=torch.int64, device=device)
        first = here.clone()
        torch.distributed.broadcast(first, 0)
        agree = torch.tensor([int(torch.equal(here, first))], device=device)
        torch.distributed.all_reduce(agree, op=torch.distributed.ReduceOp.MIN)
        if not int(agree):
            raise ValueError(
                f"the ranks of this data-parallel fit were given different "
                f"data (rank {self.ranks.rank}: {len(train)} training samples "
                "or other labels than rank 0's). Every rank must call fit with "
                "the same X and y: each plans the epoch from its copy and "
                "trains on its share of the batches. (A SiameseVerifier holds "
                "out calibration samples drawn from its random_state: give it "
                "an int random_state.)"
            )


def join(ranks, device, seeds):
    """Join the job's process group (initialising it if need be) and return
    rank 0's ``seeds``, so that every rank builds the same network and plans
    the same epochs whatever ``random_state`` is."""
    _join(ranks, device)
    tensor = torch.as_tensor(np.asarray(seeds, dtype=np.int64), device=device)
    torch.distributed.broadcast(tensor, 0)
    return tensor.cpu().numpy().astype(seeds.dtype)
