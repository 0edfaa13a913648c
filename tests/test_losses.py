import numpy as np
import pytest
import torch

from sksiamese.losses import (
    ContrastiveLoss,
    CosFaceLoss,
    MultiSimilarityLoss,
    TripletLoss,
    make_loss,
)
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


# ---- multi-similarity --------------------------------------------------------


def _ms_loop(emb, labels, margin=0.1, alpha=2.0, beta=50.0, base=0.5):
    """The multi-similarity loss as the authors wrote it, anchor by anchor."""
    z = emb / emb.norm(dim=1, keepdim=True)
    sim = (z @ z.T).tolist()
    labels = labels.tolist()
    total = 0.0
    for i in range(len(labels)):
        pos = [
            sim[i][j] for j in range(len(labels)) if j != i and labels[j] == labels[i]
        ]
        neg = [sim[i][k] for k in range(len(labels)) if labels[k] != labels[i]]
        if not pos or not neg:
            continue
        kept_neg = [s for s in neg if s + margin > min(pos)]
        kept_pos = [s for s in pos if s - margin < max(neg)]
        if not kept_neg or not kept_pos:
            continue
        total += np.log1p(sum(np.exp(-alpha * (s - base)) for s in kept_pos)) / alpha
        total += np.log1p(sum(np.exp(beta * (s - base)) for s in kept_neg)) / beta
    return total / len(labels)


def test_multi_similarity_matches_explicit_loop(batch):
    emb, labels = batch
    for params in [{}, dict(margin=0.3, alpha=1.0, beta=10.0, base=0.2)]:
        got = MultiSimilarityLoss(**params)(emb, labels).item()
        assert got == pytest.approx(_ms_loop(emb, labels, **params), rel=1e-10)


def test_multi_similarity_known_points():
    # two tight clusters far apart: every pair is easy, nothing is mined
    emb = torch.tensor([[1.0, 0.0], [1.0, 0.1], [0.0, 1.0], [0.1, 1.0]])
    assert MultiSimilarityLoss()(emb, torch.tensor([0, 0, 1, 1])).item() == 0.0
    # anchor 0 = (1, 0): positive (0, 1) has S = 0, negatives S = 0.995, 0.0995
    mixed = torch.tensor([0, 1, 0, 1])
    s1, s3 = 1 / np.sqrt(1.01), 0.1 / np.sqrt(1.01)
    s13 = 0.2 / 1.01  # (1, 0.1) with (0.1, 1)
    pos0 = np.log1p(np.exp(-2 * (0 - 0.5))) / 2
    neg0 = np.log1p(np.exp(50 * (s1 - 0.5)) + np.exp(50 * (s3 - 0.5))) / 50
    pos1 = np.log1p(np.exp(-2 * (s13 - 0.5))) / 2
    neg1 = np.log1p(np.exp(50 * (s1 - 0.5)) + np.exp(50 * (s3 - 0.5))) / 50
    expected = (pos0 + neg0 + pos1 + neg1) / 2  # anchors 2, 3 mirror 0, 1
    got = MultiSimilarityLoss()(emb, mixed).item()
    assert got == pytest.approx(expected, rel=1e-5)
    assert got == pytest.approx(_ms_loop(emb, mixed), rel=1e-6)


def test_multi_similarity_mining_drops_easy_pairs():
    # anchors 0 and 1 (class 0, S = 0.8 to each other); point 2 is a hard
    # negative for anchor 1 (S = 0.96) and too easy for anchor 0 (S = 0.6,
    # more than the margin below 0.8), which so keeps no negative and drops
    # out; point 3 (S <= -0.8) is too easy for both: moving it changes
    # nothing. Points 2 and 3 have no positives, so they are no anchors.
    emb = torch.tensor([[1.0, 0.0], [0.8, 0.6], [0.6, 0.8], [-1.0, 0.0]])
    labels = torch.tensor([0, 0, 1, 2])
    loss = MultiSimilarityLoss()
    moved = emb.clone()
    moved[3] = torch.tensor([-0.8, -0.6])
    assert loss(emb, labels).item() == pytest.approx(loss(moved, labels).item())
    unmined = MultiSimilarityLoss(margin=10.0)  # keeps every pair
    assert unmined(emb, labels).item() > loss(emb, labels).item()  # anchor 0


def test_multi_similarity_index_tuples_restrict_the_pairs(batch):
    emb, labels = batch
    triplets = all_triplets(labels)
    loss = MultiSimilarityLoss()
    # every triplet together holds every pair: the same as no tuples
    assert loss(emb, labels, triplets).item() == pytest.approx(loss(emb, labels).item())
    few = tuple(t[:5] for t in triplets)
    assert loss(emb, labels, few).item() != pytest.approx(loss(emb, labels).item())


def test_multi_similarity_gradients(batch):
    emb, labels = batch
    emb = emb.clone().requires_grad_(True)
    loss = MultiSimilarityLoss()
    assert torch.autograd.gradcheck(lambda e: loss(e, labels), (emb,))


def test_multi_similarity_by_name():
    loss = make_loss("multi_similarity")
    assert isinstance(loss, MultiSimilarityLoss) and loss.margin == 0.1
    assert make_loss("multi_similarity", 0.25).margin == 0.25


# ---- pytorch-metric-learning objects as they are ------------------------------


def pml_or_skip():
    pytest.importorskip(
        "pytorch_metric_learning", reason="pytorch-metric-learning is not installed"
    )
    from pytorch_metric_learning import losses, miners

    return losses, miners


def test_multi_similarity_equals_pytorch_metric_learning(batch):
    pml_losses, pml_miners = pml_or_skip()
    emb, labels = batch
    miner = pml_miners.MultiSimilarityMiner(epsilon=0.1)
    theirs = pml_losses.MultiSimilarityLoss(alpha=2, beta=50, base=0.5)
    ours = MultiSimilarityLoss(margin=0.1, alpha=2, beta=50, base=0.5)
    # equal whenever every anchor keeps a positive and a negative, as here
    assert ours(emb, labels).item() == pytest.approx(
        theirs(emb, labels, miner(emb, labels)).item(), rel=1e-10
    )


@pytest.mark.parametrize("which", ["triplet", "multi_similarity"])
def test_pytorch_metric_learning_loss_and_miner_objects(small_digits, which):
    pml_losses, pml_miners = pml_or_skip()
    from sksiamese import SiameseEmbedder

    if which == "triplet":
        loss = pml_losses.TripletMarginLoss(margin=0.2)
        miner = pml_miners.TripletMarginMiner(margin=0.2, type_of_triplets="semihard")
    else:
        loss = pml_losses.MultiSimilarityLoss()
        miner = pml_miners.MultiSimilarityMiner()
    X, y = small_digits
    emb = SiameseEmbedder(
        loss=loss, miner=miner, max_epochs=3, embedding_dim=8, device="cpu",
        random_state=0,
    ).fit(X, y)  # fmt: skip
    losses = emb.history_[:, "train_loss"]
    assert len(losses) == 3 and np.all(np.isfinite(losses)) and min(losses) > 0
    assert emb.get_params()["loss"] is loss  # used as given, never replaced
    assert emb.transform(X).shape == (len(X), 8)


class _ProxyLoss(torch.nn.Module):
    """Softmax over learnable class proxies: a loss that learns."""

    def __init__(self, n_classes, dim):
        super().__init__()
        g = torch.Generator().manual_seed(0)
        self.proxies = torch.nn.Parameter(torch.randn(n_classes, dim, generator=g))

    def forward(self, emb, labels, tuples=None):
        proxies = torch.nn.functional.normalize(self.proxies, dim=1)
        return torch.nn.functional.cross_entropy(10 * emb @ proxies.T, labels)


def test_losses_that_learn_train_a_fresh_copy_per_fit(small_digits):
    from sksiamese import SiameseEmbedder

    X, y = small_digits
    loss = _ProxyLoss(10, 8)
    initial = loss.proxies.detach().clone()

    def fit():
        return SiameseEmbedder(
            loss=loss, miner="random", max_epochs=3, embedding_dim=8,
            device="cpu", random_state=0,
        ).fit(X, y)  # fmt: skip

    emb = fit()
    assert emb.get_params()["loss"] is loss
    torch.testing.assert_close(loss.proxies.detach(), initial)  # left as given
    learned = emb.net_.criterion_
    assert learned is not loss
    assert not torch.allclose(learned.proxies.detach(), initial)  # it learned
    # a second fit starts from the given proxies, not from the first fit's
    again = fit().net_.criterion_
    assert again is not learned
    torch.testing.assert_close(again.proxies, learned.proxies)


def test_cosface_loss_matches_explicit_softmax(batch):
    emb, labels = batch
    loss = CosFaceLoss(4, 5, margin=0.3, scale=10.0).double()
    W = loss.proxies.detach().numpy()
    e = emb.numpy() / np.linalg.norm(emb.numpy(), axis=1, keepdims=True)
    cos = e @ (W / np.linalg.norm(W, axis=1, keepdims=True)).T
    logits = 10.0 * (cos - 0.3 * np.eye(4)[labels.numpy()])
    logits -= logits.max(axis=1, keepdims=True)
    own = logits[np.arange(len(labels)), labels.numpy()]
    expected = np.mean(np.log(np.exp(logits).sum(axis=1)) - own)
    assert loss(emb, labels).item() == pytest.approx(expected, rel=1e-10)
    # the tuples of a miner change nothing: every sample counts
    tuples = all_triplets(labels)
    assert loss(emb, labels, tuples).item() == pytest.approx(expected, rel=1e-10)
    # a larger margin asks more of the same embeddings and proxies
    wider = CosFaceLoss(4, 5, margin=0.5, scale=10.0).double()
    wider.load_state_dict(loss.state_dict())
    assert wider(emb, labels).item() > expected


def test_cosface_loss_learns_its_proxies(batch):
    emb, labels = batch
    emb = emb.clone().requires_grad_(True)
    loss = CosFaceLoss(4, 5).double()
    loss(emb, labels).backward()
    assert emb.grad.abs().sum() > 0 and loss.proxies.grad.abs().sum() > 0
    with pytest.raises(ValueError, match="4 class proxies, but a label is 4"):
        loss(emb, torch.tensor([0, 1, 2, 3, 4, 0, 1, 2, 3, 0, 1, 2]))
    with pytest.raises(ValueError, match="n_classes >= 2"):
        CosFaceLoss(1, 5)


def test_make_loss_sizes_class_proxies():
    with pytest.raises(ValueError, match="needs n_classes and embedding_dim"):
        make_loss("cosface")
    loss = make_loss("cosface", n_classes=3, embedding_dim=7)
    assert isinstance(loss, CosFaceLoss) and loss.proxies.shape == (3, 7)
    assert loss.margin == 0.35
    assert make_loss(CosFaceLoss, 0.2, n_classes=3, embedding_dim=7).margin == 0.2
