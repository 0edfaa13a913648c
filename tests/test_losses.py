import numpy as np
import pytest
import torch

from sksiamese.losses import ContrastiveLoss, TripletLoss, make_loss
from sksiamese.mining import (
    BatchHardMiner,
    SemiHardMiner,
    all_pairs,
    all_triplets,
)


@pytest.fixture
def batch():
    g = torch.Generator().manual_seed(0)
    emb = torch.randn(12, 5, generator=g, dtype=torch.float64)
    labels = torch.tensor([0, 0, 0, 1, 1, 1, 2, 2, 2, 3, 3, 3])
    return emb, labels


def _d2(x, y):
    return float(((x - y) ** 2).sum())


def test_triplet_loss_matches_explicit_loop(batch):
    emb, labels = batch
    a, p, n = all_triplets(labels)
    margin = 0.5
    expected = np.mean(
        [
            max(_d2(emb[i], emb[j]) - _d2(emb[i], emb[k]) + margin, 0.0)
            for i, j, k in zip(a.tolist(), p.tolist(), n.tolist(), strict=True)
        ]
    )
    got = TripletLoss(margin=margin)(emb, labels, (a, p, n))
    assert got.item() == pytest.approx(expected, rel=1e-10)
    # None means every valid triplet
    assert TripletLoss(margin=margin)(emb, labels).item() == pytest.approx(expected)


def test_triplet_loss_known_points():
    emb = torch.tensor([[0.0, 0.0], [1.0, 0.0], [0.0, 2.0]])
    labels = torch.tensor([0, 0, 1])
    idx = (torch.tensor([0]), torch.tensor([1]), torch.tensor([2]))
    # d2(a,p)=1, d2(a,n)=4 -> max(1 - 4 + 3.5, 0) = 0.5
    assert TripletLoss(margin=3.5)(emb, labels, idx).item() == pytest.approx(0.5)
    assert TripletLoss(margin=2.0)(emb, labels, idx).item() == 0.0


def test_contrastive_loss_matches_explicit_loop(batch):
    emb, labels = batch
    a1, p, a2, n = all_pairs(labels)
    margin = 2.0
    pos = [_d2(emb[i], emb[j]) for i, j in zip(a1.tolist(), p.tolist(), strict=True)]
    neg = [
        max(margin - np.sqrt(_d2(emb[i], emb[j])), 0.0) ** 2
        for i, j in zip(a2.tolist(), n.tolist(), strict=True)
    ]
    expected = np.mean(pos + neg)
    got = ContrastiveLoss(margin=margin)(emb, labels, (a1, p, a2, n))
    assert got.item() == pytest.approx(expected, rel=1e-6)


def test_reduction_nonzero():
    emb = torch.tensor([[0.0, 0.0], [1.0, 0.0], [0.0, 2.0], [0.0, 0.1]])
    labels = torch.tensor([0, 0, 1, 1])
    idx = (torch.tensor([0, 0]), torch.tensor([1, 1]), torch.tensor([2, 3]))
    # losses: max(1-4+1,0)=0 and max(1-0.01+1,0)=1.99
    assert TripletLoss(1.0)(emb, labels, idx).item() == pytest.approx(1.99 / 2)
    nz = TripletLoss(1.0, reduction="nonzero")(emb, labels, idx).item()
    assert nz == pytest.approx(1.99)


@pytest.mark.parametrize("loss", [TripletLoss(0.3), ContrastiveLoss(1.5)])
def test_loss_gradients(batch, loss):
    emb, labels = batch
    emb = emb.clone().requires_grad_(True)
    a, p, n = all_triplets(labels)
    assert torch.autograd.gradcheck(lambda e: loss(e, labels, (a, p, n)), (emb,))


def test_bad_tuples_raise(batch):
    emb, labels = batch
    with pytest.raises(ValueError, match="anchor, positive, negative"):
        TripletLoss()(emb, labels, (torch.tensor([0]), torch.tensor([1])))


def test_make_loss():
    assert make_loss("triplet").margin == 0.2
    assert make_loss("contrastive").margin == 1.0
    assert make_loss("triplet", 0.7).margin == 0.7
    with pytest.raises(ValueError, match="Unknown loss"):
        make_loss("hinge")


def test_batch_hard_miner_known_answer():
    emb = torch.tensor([[0.0], [1.0], [3.0], [1.5], [10.0], [12.0]])
    labels = torch.tensor([0, 0, 0, 1, 1, 1])
    a, p, n = BatchHardMiner()(emb, labels)
    assert a.tolist() == [0, 1, 2, 3, 4, 5]
    assert p.tolist() == [2, 2, 0, 5, 3, 3]  # farthest same-class point
    assert n.tolist() == [3, 3, 3, 1, 2, 2]  # closest other-class point


def test_semi_hard_miner_picks_closest_farther_negative():
    emb = torch.tensor([[0.0], [1.0], [1.5], [3.0], [-0.5]])
    labels = torch.tensor([0, 0, 1, 1, 1])
    a, p, n = SemiHardMiner()(emb, labels)
    pairs = {
        (i, j): k for i, j, k in zip(a.tolist(), p.tolist(), n.tolist(), strict=True)
    }
    # anchor 0, positive 1 (d2=1): negatives d2: 2->2.25, 3->9, 4->0.25;
    # semi-hard = closest negative farther than the positive -> 2
    assert pairs[(0, 1)] == 2
    # anchor 1, positive 0 (d2=1): negatives d2: 2->0.25, 3->4, 4->2.25 -> 4
    assert pairs[(1, 0)] == 4
    # every mined triplet is valid
    assert torch.all(labels[a] == labels[p]) and torch.all(labels[a] != labels[n])
