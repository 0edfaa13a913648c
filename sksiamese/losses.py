"""Losses over embeddings and index tuples.

Every loss is a ``torch.nn.Module`` called as ``loss(embeddings, labels,
indices_tuple=None)``, the convention of pytorch-metric-learning, whose loss
objects can therefore be used in their place. ``indices_tuple`` holds
``(a, p, n)`` triplets or ``(a1, p, a2, n)`` pairs of row indices into
``embeddings``; when it is ``None``, every valid tuple of the batch is used.

Examples
--------
>>> import torch
>>> from sksiamese.losses import TripletLoss
>>> emb = torch.tensor([[0.0, 0.0], [0.1, 0.0], [1.0, 0.0]])
>>> loss = TripletLoss(margin=0.2)
>>> float(loss(emb, torch.tensor([0, 0, 1]), (torch.tensor([0]), torch.tensor([1]),
...                                          torch.tensor([2]))))
0.0
"""

import copy
import math
import numbers

import torch
from torch import nn

from .mining import (
    MINERS,
    _check_batch,
    all_pairs,
    all_triplets,
    squared_distances,
)

__all__ = [
    "BinaryPairLoss",
    "ContrastiveLoss",
    "CosFaceLoss",
    "MultiSimilarityLoss",
    "TripletLoss",
    "make_loss",
    "LOSSES",
]


def _check_number(value, name, owner, *, positive=False):
    """A finite real ``value`` >= 0 (> 0 with ``positive``), as a float."""
    real = isinstance(value, numbers.Real) and not isinstance(value, bool)
    bound = value > 0 if positive else value >= 0
    if not (real and math.isfinite(value) and bound):
        relation = "> 0" if positive else ">= 0"
        raise ValueError(f"{owner} needs {name} {relation}; got {name}={value!r}.")
    return value


def _same_lengths(arrays, groups, owner, kind):
    """The index arrays of each group in ``groups`` are equally long."""
    for group in groups:
        lengths = [len(arrays[i]) for i in group]
        if len(set(lengths)) > 1:
            raise ValueError(
                f"{owner} got {kind} index tuples whose arrays have different "
                f"lengths {lengths}; each tuple needs one index per array."
            )


def _as_triplets(indices_tuple, labels):
    if indices_tuple is None:
        return all_triplets(labels)
    if len(indices_tuple) == 3:
        _same_lengths(indices_tuple, [(0, 1, 2)], "TripletLoss", "(a, p, n)")
        return indices_tuple
    raise ValueError(
        "TripletLoss needs (anchor, positive, negative) index tuples; got a "
        f"tuple of {len(indices_tuple)} arrays."
    )


def _as_pairs(indices_tuple, labels, owner="ContrastiveLoss"):
    if indices_tuple is None:
        return all_pairs(labels)
    if len(indices_tuple) == 4:
        _same_lengths(indices_tuple, [(0, 1), (2, 3)], owner, "(a1, p, a2, n)")
        return indices_tuple
    if len(indices_tuple) == 3:  # a triplet holds one positive and one negative
        _same_lengths(indices_tuple, [(0, 1, 2)], owner, "(a, p, n)")
        a, p, n = indices_tuple
        return a, p, a, n
    raise ValueError(
        f"{owner} needs (a1, p, a2, n) or (a, p, n) index tuples; got "
        f"a tuple of {len(indices_tuple)} arrays."
    )


def _sq_dist(x, i, j):
    """Squared distances of rows ``i`` and ``j`` of ``x``.

    Many tuples share rows, so the batch's distance matrix is computed once
    and gathered: cheaper, in time and in backward, than gathering rows.
    """
    if len(i) > len(x):
        return squared_distances(x)[i, j]
    diff = x[i] - x[j]
    return (diff * diff).sum(-1)


def _reduce(losses, reduction):
    if losses.numel() == 0:
        return losses.sum()
    if reduction == "nonzero":
        nonzero = losses > 0
        return losses[nonzero].mean() if nonzero.any() else losses.sum()
    return losses.mean()


class TripletLoss(nn.Module):
    """Triplet margin loss on squared Euclidean distances.

    ``mean(max(d2(a, p) - d2(a, n) + margin, 0))``, the loss of FaceNet and of
    the triplet tutorials this package replaces.

    Parameters
    ----------
    margin : float, default=0.2
        Required gap between negative and positive squared distances.
    reduction : {"mean", "nonzero"}, default="mean"
        Average over all triplets, or over those with a positive loss only
        (useful with many easy triplets, as from batch-all mining).
    """

    def __init__(self, margin=0.2, reduction="mean"):
        super().__init__()
        self.margin = _check_number(margin, "margin", "TripletLoss")
        self.reduction = reduction

    def forward(self, embeddings, labels, indices_tuple=None):
        if self.reduction not in ("mean", "nonzero"):
            raise ValueError(
                "TripletLoss needs reduction='mean' or 'nonzero'; got "
                f"reduction={self.reduction!r}."
            )
        _check_batch(embeddings, labels, "TripletLoss")
        a, p, n = _as_triplets(indices_tuple, labels)
        d_ap = _sq_dist(embeddings, a, p)
        d_an = _sq_dist(embeddings, a, n)
        return _reduce(torch.relu(d_ap - d_an + self.margin), self.reduction)


class ContrastiveLoss(nn.Module):
    """Contrastive loss of Hadsell, Chopra and LeCun (2006).

    ``d^2`` for positive pairs and ``max(margin - d, 0)^2`` for negative
    pairs, averaged over all pairs, where ``d`` is the Euclidean distance.

    Parameters
    ----------
    margin : float, default=1.0
        Distance beyond which negative pairs cost nothing.
    eps : float, default=1e-9
        Added under the square root so the gradient at ``d = 0`` is finite.
    """

    def __init__(self, margin=1.0, eps=1e-9):
        super().__init__()
        self.margin = _check_number(margin, "margin", "ContrastiveLoss")
        self.eps = _check_number(eps, "eps", "ContrastiveLoss")

    def forward(self, embeddings, labels, indices_tuple=None):
        _check_batch(embeddings, labels, "ContrastiveLoss")
        a1, p, a2, n = _as_pairs(indices_tuple, labels)
        pos = _sq_dist(embeddings, a1, p)
        d_neg = torch.sqrt(_sq_dist(embeddings, a2, n) + self.eps)
        neg = torch.relu(self.margin - d_neg) ** 2
        losses = torch.cat([pos, neg])
        return _reduce(losses, "mean")


class BinaryPairLoss(nn.Module):
    """Binary cross-entropy of a learned sigmoid head on the pair distance.

    ``P(same) = sigmoid(scale * (offset - d))``, where ``d`` is the Euclidean
    distance of the pair and ``scale > 0`` and ``offset`` are learned with
    the encoder: the head of the Keras face-verification tutorials, a dense
    unit with a sigmoid on the distance, constrained to decrease with it.
    Positive and negative pairs weigh equally, so the head estimates
    ``P(same)`` for balanced pairs.

    Parameters
    ----------
    margin : float, default=1.0
        Initial ``offset``: the distance at which the head starts at
        ``P(same) = 0.5``.
    scale : float, default=5.0
        Initial ``scale``.
    eps : float, default=1e-9
        Added under the square root so the gradient at ``d = 0`` is finite.

    Examples
    --------
    >>> import torch
    >>> loss = BinaryPairLoss(margin=1.0)
    >>> float(loss.probability(torch.tensor([1.0])))
    0.5
    """

    def __init__(self, margin=1.0, scale=5.0, eps=1e-9):
        super().__init__()
        self.margin = _check_number(margin, "margin", "BinaryPairLoss")
        self.eps = _check_number(eps, "eps", "BinaryPairLoss")
        _check_number(scale, "scale", "BinaryPairLoss", positive=True)
        self.log_scale = nn.Parameter(torch.tensor(float(scale)).log())
        self.offset = nn.Parameter(torch.tensor(float(margin)))

    def logits(self, distances):
        """Log-odds of ``P(same)`` at the given distances."""
        return self.log_scale.exp() * (self.offset - distances)

    def probability(self, distances):
        """``P(same)`` at the given distances."""
        return torch.sigmoid(self.logits(distances))

    def forward(self, embeddings, labels, indices_tuple=None):
        _check_batch(embeddings, labels, "BinaryPairLoss")
        a1, p, a2, n = _as_pairs(indices_tuple, labels, "BinaryPairLoss")
        bce = nn.functional.binary_cross_entropy_with_logits
        parts = []
        for i, j, target in ((a1, p, 1.0), (a2, n, 0.0)):
            if len(i):
                d = torch.sqrt(_sq_dist(embeddings, i, j) + self.eps)
                logits = self.logits(d)
                parts.append(bce(logits, torch.full_like(logits, target)))
        if not parts:
            return embeddings.sum() * 0.0
        return torch.stack(parts).mean()


def _pair_masks(indices_tuple, labels):
    """Boolean (n, n) masks of the positive and negative pairs to look at."""
    n = len(labels)
    if indices_tuple is None:
        same = labels[:, None] == labels[None, :]
        eye = torch.eye(n, dtype=torch.bool, device=labels.device)
        return same & ~eye, ~same
    a1, p, a2, neg = _as_pairs(indices_tuple, labels, "MultiSimilarityLoss")
    pos_mask = torch.zeros(n, n, dtype=torch.bool, device=labels.device)
    neg_mask = torch.zeros_like(pos_mask)
    pos_mask[a1, p] = True
    neg_mask[a2, neg] = True
    return pos_mask, neg_mask


def _soft_sum(x, mask, scale):
    """``log(1 + sum(exp(scale * x[mask]))) / scale`` per row, stably."""
    z = (scale * x).masked_fill(~mask, float("-inf"))
    z = torch.cat([torch.zeros_like(z[:, :1]), z], dim=1)
    return torch.logsumexp(z, dim=1) / scale


class MultiSimilarityLoss(nn.Module):
    """Multi-similarity loss of Wang et al. (2019), with its pair mining.

    On the cosine similarities ``S`` of the batch, each anchor ``i`` keeps
    the positives ``j`` with ``S_ij - margin < max_k S_ik`` over its
    negatives ``k``, and the negatives ``k`` with ``S_ik + margin > min_j
    S_ij`` over its positives: the pairs that violate the ranking by less
    than ``margin``. Its loss is ::

        1/alpha * log(1 + sum_pos exp(-alpha * (S_ij - base)))
        + 1/beta * log(1 + sum_neg exp(beta * (S_ik - base)))

    summed over the anchors that keep at least one pair of each kind and
    divided by the batch size, as in the authors' code. Hard pairs weigh
    more than easy ones, through both the exponentials and the mining.

    Parameters
    ----------
    margin : float, default=0.1
        The mining margin (``epsilon`` of the paper).
    alpha : float, default=2.0
        Scale of the positive term.
    beta : float, default=50.0
        Scale of the negative term.
    base : float, default=0.5
        The similarity around which pairs are pulled and pushed
        (``lambda`` of the paper).

    Notes
    -----
    With ``indices_tuple=None`` every pair of the batch is a candidate, as
    in the paper; pass ``miner="all"`` to the estimators for that. Index
    tuples from another miner restrict the candidates to their pairs
    (a triplet ``(a, p, n)`` gives the pairs ``(a, p)`` and ``(a, n)``).
    Embeddings are L2-normalised inside the loss.

    References
    ----------
    X. Wang, X. Han, W. Huang, D. Dong and M. R. Scott (2019), "Multi-Similarity
    Loss with General Pair Weighting for Deep Metric Learning", CVPR.

    Examples
    --------
    >>> import torch
    >>> emb = torch.tensor([[1.0, 0.0], [1.0, 0.1], [0.0, 1.0], [0.1, 1.0]])
    >>> loss = MultiSimilarityLoss()
    >>> round(float(loss(emb, torch.tensor([0, 0, 1, 1]))), 4)  # well separated
    0.0
    >>> round(float(loss(emb, torch.tensor([0, 1, 0, 1]))), 4)  # mixed up
    1.0834
    """

    def __init__(self, margin=0.1, alpha=2.0, beta=50.0, base=0.5):
        super().__init__()
        owner = "MultiSimilarityLoss"
        self.margin = _check_number(margin, "margin", owner)
        self.alpha = _check_number(alpha, "alpha", owner, positive=True)
        self.beta = _check_number(beta, "beta", owner, positive=True)
        if not (isinstance(base, numbers.Real) and math.isfinite(base)):
            raise ValueError(f"{owner} needs a finite base; got base={base!r}.")
        self.base = base

    def forward(self, embeddings, labels, indices_tuple=None):
        _check_batch(embeddings, labels, "MultiSimilarityLoss")
        z = nn.functional.normalize(embeddings, dim=1)
        sim = z @ z.T
        pos, neg = _pair_masks(indices_tuple, labels)
        with torch.no_grad():
            hardest_neg = sim.masked_fill(~neg, float("-inf")).amax(1, keepdim=True)
            hardest_pos = sim.masked_fill(~pos, float("inf")).amin(1, keepdim=True)
            pos = pos & (sim - self.margin < hardest_neg)
            neg = neg & (sim + self.margin > hardest_pos)
            anchors = pos.any(1) & neg.any(1)
        pos_term = _soft_sum(self.base - sim, pos, self.alpha)
        neg_term = _soft_sum(sim - self.base, neg, self.beta)
        return (pos_term + neg_term)[anchors].sum() / max(len(labels), 1)


#: Losses available by name, with their default margin.
class CosFaceLoss(nn.Module):
    """Large margin cosine loss (CosFace; Wang et al., 2018) over learned
    class proxies.

    Each class has a proxy, a learned direction of the embedding space; the
    loss is the cross-entropy of the scaled cosine similarities between each
    embedding and every proxy, with ``margin`` taken off the similarity to
    its own class's proxy ::

        -log(exp(s (cos_y - m)) / (exp(s (cos_y - m)) + sum_{c != y} exp(s cos_c)))

    so that an embedding must be closer to its own proxy by ``margin`` in
    cosine than to any other. The proxies are parameters of the loss and
    are learned with the network by the same optimiser. It needs no pairs
    or triplets (``indices_tuple`` is ignored): every sample of a batch
    counts. Face recognition models train with this family of losses.

    Parameters
    ----------
    n_classes : int
        Number of proxies; labels must lie in ``0..n_classes - 1``.
    embedding_dim : int
        Width of the embeddings.
    margin : float, default=0.35
        Cosine margin ``m``.
    scale : float, default=64.0
        Scale ``s`` of the cosines (the inverse of a softmax temperature).

    Attributes
    ----------
    proxies : torch.nn.Parameter of shape (n_classes, embedding_dim)
        Drawn from a standard normal distribution (the caller's torch
        random state) and learned.
    """

    needs_classes = True

    def __init__(self, n_classes, embedding_dim, margin=0.35, scale=64.0):
        super().__init__()
        if int(n_classes) < 2:
            raise ValueError(f"CosFaceLoss needs n_classes >= 2; got {n_classes}.")
        if int(embedding_dim) < 1:
            raise ValueError(
                f"CosFaceLoss needs embedding_dim >= 1; got {embedding_dim}."
            )
        self.n_classes = int(n_classes)
        self.embedding_dim = int(embedding_dim)
        self.margin = float(_check_number(margin, "margin", "CosFaceLoss"))
        self.scale = float(_check_number(scale, "scale", "CosFaceLoss", positive=True))
        self.proxies = nn.Parameter(torch.randn(self.n_classes, self.embedding_dim))

    def forward(self, embeddings, labels, indices_tuple=None):
        _check_batch(embeddings, labels, "CosFaceLoss")
        if embeddings.shape[1] != self.embedding_dim:
            raise ValueError(
                f"CosFaceLoss has class proxies of width {self.embedding_dim}, "
                f"but the embeddings have width {embeddings.shape[1]}: build it "
                f"with embedding_dim={embeddings.shape[1]}."
            )
        labels = labels.long()
        if len(labels) and int(labels.max()) >= self.n_classes:
            raise ValueError(
                f"CosFaceLoss has {self.n_classes} class proxies, but a label "
                f"is {int(labels.max())}: build it with more classes."
            )
        normalize = nn.functional.normalize
        cos = normalize(embeddings, dim=1) @ normalize(self.proxies, dim=1).T
        own = nn.functional.one_hot(labels, self.n_classes).to(cos.dtype)
        logits = self.scale * (cos - self.margin * own)
        return nn.functional.cross_entropy(logits, labels)


LOSSES = {
    "triplet": (TripletLoss, 0.2),
    "contrastive": (ContrastiveLoss, 1.0),
    "binary": (BinaryPairLoss, 1.0),
    "multi_similarity": (MultiSimilarityLoss, 0.1),
    "cosface": (CosFaceLoss, 0.35),
}


def is_loss(loss, cls):
    """Whether a ``loss`` parameter (a name of :data:`LOSSES`, a class or an
    instance) is, or makes, a loss of class ``cls``."""
    if isinstance(loss, str):
        loss = LOSSES[loss][0] if loss in LOSSES else None
    if isinstance(loss, type):
        return issubclass(loss, cls)
    return isinstance(loss, cls)


def learns_proxies(loss):
    """Whether a ``loss`` parameter learns a proxy per class (``"cosface"``)."""
    if isinstance(loss, str):
        loss = LOSSES[loss][0] if loss in LOSSES else None
    return bool(getattr(loss, "needs_classes", False))


def make_loss(loss, margin="auto", n_classes=None, embedding_dim=None):
    """Build the loss module described by a ``loss`` parameter.

    Parameters
    ----------
    loss : str, torch.nn.Module or type
        A name from :data:`LOSSES`, a loss instance (copied, so that every
        network starts from its initial state, class proxies included; for
        example a pytorch-metric-learning loss) or a loss class (built with
        ``margin`` when it is not ``"auto"``).
    margin : float or "auto", default="auto"
        Margin for named losses; ``"auto"`` takes the loss's default.
    n_classes, embedding_dim : int, default=None
        Number of classes and width of the embeddings, for the losses that
        learn a proxy per class (``"cosface"``).

    Returns
    -------
    loss : torch.nn.Module
    """
    if isinstance(loss, str):
        if loss not in LOSSES:
            raise ValueError(
                f"Unknown loss {loss!r}; choose one of {sorted(LOSSES)} or pass "
                "a loss module."
            )
        cls, default = LOSSES[loss]
        return _build(
            cls, default if margin == "auto" else margin, n_classes, embedding_dim
        )
    if isinstance(loss, nn.Module):
        # a fresh copy for each network: losses may learn (class proxies)
        return copy.deepcopy(loss)
    if isinstance(loss, type) and issubclass(loss, nn.Module):
        return _build(loss, margin, n_classes, embedding_dim)
    raise ValueError(f"loss must be a name or a torch.nn.Module; got {loss!r}.")


def _build(cls, margin, n_classes, embedding_dim):
    """An instance of the loss class ``cls``; sized for proxy losses."""
    kwargs = {} if margin == "auto" else {"margin": margin}
    if getattr(cls, "needs_classes", False):
        if n_classes is None or embedding_dim is None:
            raise ValueError(
                f"{cls.__name__} learns a proxy per class: it needs n_classes "
                "and embedding_dim (the estimators pass them at fit)."
            )
        return cls(n_classes, embedding_dim, **kwargs)
    return cls(**kwargs)


def resolve_miner(miner, loss):
    """A ``miner`` parameter with ``"auto"`` resolved for ``loss``: every
    pair of the batch for a loss that mines itself (multi-similarity),
    semi-hard triplets otherwise."""
    if not (isinstance(miner, str) and miner == "auto"):
        return miner
    return "all" if is_loss(loss, MultiSimilarityLoss) else "semi_hard"


def make_miner(miner, loss):
    """The in-batch miner of a ``miner`` parameter for ``loss``, or None
    when the batches need none (offline tuples, class proxies, a loss that
    takes every pair itself)."""
    miner = resolve_miner(miner, loss)
    if miner == "random" or learns_proxies(loss):
        return None
    if miner == "all" and is_loss(loss, MultiSimilarityLoss):
        return None
    if isinstance(miner, str):
        return MINERS[miner]()
    return copy.deepcopy(miner)


def check_pair_loss(loss):
    """Refuse a ``loss`` parameter that cannot learn from labelled pairs."""
    if is_loss(loss, TripletLoss):
        raise ValueError(
            "fit_pairs learns from labelled pairs, which triplet loss "
            "cannot use: set loss='contrastive' or 'binary'."
        )
    if is_loss(loss, MultiSimilarityLoss):
        raise ValueError(
            "fit_pairs learns from labelled pairs, but multi-similarity "
            "loss weighs each sample's positive pairs against its negative "
            "ones, and labelled pairs seldom give a sample both: set "
            "loss='contrastive' or 'binary'."
        )
    if learns_proxies(loss):
        raise ValueError(
            f"loss={loss!r} learns a proxy per class, which fit_pairs "
            "does not have: set loss='contrastive' or 'binary', or call "
            "fit(X, y) with class labels."
        )
