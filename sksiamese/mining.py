"""In-batch miners: which pairs or triplets of a batch the loss looks at.

A miner takes the embeddings and labels of a batch and returns index tuples
into the batch, in the format of pytorch-metric-learning: ``(a, p, n)`` for
triplets, ``(a1, p, a2, n)`` for pairs (positive pairs ``(a1, p)``, negative
pairs ``(a2, n)``). Miners work under ``torch.no_grad``; the loss then
computes differentiable distances for the chosen tuples.

Examples
--------
>>> import torch
>>> from sksiamese.mining import all_triplets
>>> a, p, n = all_triplets(torch.tensor([0, 0, 1]))
>>> a.tolist(), p.tolist(), n.tolist()
([0, 1], [1, 0], [2, 2])
"""

import torch

__all__ = [
    "all_pairs",
    "all_triplets",
    "BatchHardMiner",
    "SemiHardMiner",
    "AllTripletsMiner",
    "squared_distances",
    "MINERS",
]


def squared_distances(embeddings):
    """Pairwise squared Euclidean distances, clamped at zero."""
    sq = (embeddings * embeddings).sum(1)
    d = sq[:, None] + sq[None, :] - 2.0 * embeddings @ embeddings.T
    return d.clamp_min_(0.0)


def _check_batch(embeddings, labels, owner):
    """Embeddings ``(n, d)`` and, unless None, ``n`` labels; shapes only, so
    that nothing waits for the device."""
    if not isinstance(embeddings, torch.Tensor) or embeddings.ndim != 2:
        raise ValueError(
            f"{owner} takes embeddings of shape (batch_size, embedding_dim); "
            f"got {getattr(embeddings, 'shape', type(embeddings).__name__)}."
        )
    if labels is not None and (labels.ndim != 1 or len(labels) != len(embeddings)):
        raise ValueError(
            f"{owner} takes one label per embedding; got labels of shape "
            f"{tuple(labels.shape)} for {len(embeddings)} embeddings."
        )


def _masks(labels):
    same = labels[:, None] == labels[None, :]
    eye = torch.eye(len(labels), dtype=torch.bool, device=labels.device)
    return same & ~eye, ~same


def all_pairs(labels):
    """Every positive and every negative pair ``i < j`` of a batch."""
    pos, neg = _masks(labels)
    pos, neg = torch.triu(pos, 1), torch.triu(neg, 1)
    a1, p = torch.nonzero(pos, as_tuple=True)
    a2, n = torch.nonzero(neg, as_tuple=True)
    return a1, p, a2, n


def all_triplets(labels):
    """Every valid ``(anchor, positive, negative)`` triplet of a batch."""
    pos, neg = _masks(labels)
    valid = pos[:, :, None] & neg[:, None, :]
    a, p, n = torch.nonzero(valid, as_tuple=True)
    return a, p, n


class AllTripletsMiner:
    """Return every valid triplet of the batch (batch-all)."""

    def __call__(self, embeddings, labels):
        _check_batch(embeddings, labels, "AllTripletsMiner")
        return all_triplets(labels)


class BatchHardMiner:
    """For each anchor, its farthest positive and its closest negative.

    Hermans, Beyer and Leibe (2017), "In Defense of the Triplet Loss for
    Person Re-Identification".
    """

    @torch.no_grad()
    def __call__(self, embeddings, labels):
        _check_batch(embeddings, labels, "BatchHardMiner")
        d = squared_distances(embeddings)
        pos, neg = _masks(labels)
        has = pos.any(1) & neg.any(1)
        anchors = torch.nonzero(has, as_tuple=True)[0]
        hardest_pos = d.masked_fill(~pos, -1.0).argmax(1)
        hardest_neg = d.masked_fill(~neg, float("inf")).argmin(1)
        return anchors, hardest_pos[anchors], hardest_neg[anchors]


class SemiHardMiner:
    """For each positive pair, the closest negative farther than the positive.

    Schroff, Kalenichenko and Philbin (2015), "FaceNet". Where no negative
    is farther than the positive, the farthest negative is used, as in the
    semi-hard triplet loss of TensorFlow Addons.
    """

    @torch.no_grad()
    def __call__(self, embeddings, labels):
        _check_batch(embeddings, labels, "SemiHardMiner")
        d = squared_distances(embeddings)
        pos, neg = _masks(labels)
        a, p = torch.nonzero(pos & neg.any(1, keepdim=True), as_tuple=True)
        d_ap = d[a, p][:, None]
        d_an = d[a]
        negs = neg[a]
        outside = negs & (d_an > d_ap)
        semi = d_an.masked_fill(~outside, float("inf")).argmin(1)
        easiest = d_an.masked_fill(~negs, -1.0).argmax(1)
        n = torch.where(outside.any(1), semi, easiest)
        return a, p, n


#: In-batch miners available by name.
MINERS = {
    "all": AllTripletsMiner,
    "semi_hard": SemiHardMiner,
    "batch_hard": BatchHardMiner,
}
