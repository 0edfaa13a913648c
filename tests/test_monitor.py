import pickle
import re
import warnings

import numpy as np
import pytest
import torch
from skorch import NeuralNet
from torch import nn

from sksiamese._monitor import (
    CollapseWarning,
    NonFiniteGuard,
    TrainingDivergedError,
    check_collapse,
    check_network_output,
    collapse_sample,
)
from sksiamese._training import (
    Encoder,
    EpochLoader,
    PresetSplit,
    SampleSet,
    SiameseNet,
)
from sksiamese.losses import TripletLoss

# 60 samples of 6 classes: one triplet per sample and epoch, so 8 batches of
# (at most) 8 triplets per epoch
N_SAMPLES, N_FEATURES, BATCH = 60, 5, 8
BATCHES_PER_EPOCH = 8


@pytest.fixture
def data():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(N_SAMPLES, N_FEATURES)).astype(np.float32)
    codes = np.repeat(np.arange(6), 10)
    return X, codes


def siamese_net(data, module, *, lr=0.01, max_epochs=3, valid=False, X=None):
    """A SiameseNet on triplets of ``data``, as the estimators build it."""
    X0, codes = data
    X = X0 if X is None else X
    idx = np.arange(len(X))
    train_idx = idx[:48] if valid else idx
    train = SampleSet(X, codes, train_idx, (N_FEATURES,), "triplets", 0)
    valid_set = None
    if valid:
        valid_set = SampleSet(X, codes, idx[48:], (N_FEATURES,), "triplets", 1, True)
    net = SiameseNet(
        module=module,
        criterion=TripletLoss(),
        optimizer=torch.optim.SGD,
        lr=lr,
        max_epochs=max_epochs,
        batch_size=BATCH,
        iterator_train=EpochLoader,
        iterator_valid=EpochLoader,
        train_split=PresetSplit(valid_set) if valid_set is not None else None,
        callbacks=[("guard", NonFiniteGuard())],
        verbose=0,
    )
    return net, train


class PoisonedAt(nn.Module):
    """A linear map whose ``at``-th training forward pass returns NaN (and,
    with ``eval_nan``, whose every evaluation pass does)."""

    def __init__(self, at=None, eval_nan=False):
        super().__init__()
        self.linear = nn.Linear(N_FEATURES, 3)
        self.at = at
        self.eval_nan = eval_nan
        self.calls = 0

    def forward(self, x):
        z = self.linear(x)
        if self.training:
            self.calls += 1
            if self.calls == self.at:
                return z * float("nan")
        elif self.eval_nan:
            return z * float("nan")
        return z


def test_guard_is_silent_on_a_normal_fit(data):
    torch.manual_seed(0)
    net, train = siamese_net(data, Encoder(nn.Linear(N_FEATURES, 3)), valid=True)
    net.fit(train, None)
    assert len(net.history) == 3
    losses = net.history[:, "train_loss"] + net.history[:, "valid_loss"]
    assert np.all(np.isfinite(losses))
    # the counters count the batches of the last epoch
    guard = dict(net.callbacks_)["guard"]
    assert guard.train_batches_ == 6  # 48 training triplets
    assert guard.valid_batches_ == 2  # 12 validation triplets


def test_guard_names_the_epoch_and_the_batch(data):
    torch.manual_seed(0)
    at = BATCHES_PER_EPOCH + 3  # the third batch of the second epoch
    net, train = siamese_net(data, PoisonedAt(at))
    with pytest.raises(TrainingDivergedError) as info:
        net.fit(train, None)
    msg = str(info.value)
    assert "epoch 2, batch 3 of the epoch" in msg
    assert "the training loss is nan" in msg
    # every value of the batch's embeddings: 3 per sample
    n_rows = net.history[-1, "batches", -1, "train_batch_size"]
    assert f"embeddings hold NaN or inf ({3 * n_rows} of {3 * n_rows} values" in msg
    assert "Lower lr (now 0.01)" in msg
    assert "check the inputs for NaN or extreme values" in msg
    assert "check that the network returns finite outputs" in msg
    assert isinstance(info.value, ValueError)
    # training stopped at that batch
    assert len(net.history) == 2 and len(net.history[-1, "batches"]) == 3


def test_guard_stops_a_fit_with_a_huge_learning_rate(data):
    torch.manual_seed(0)
    net, train = siamese_net(data, Encoder(nn.Linear(N_FEATURES, 3), False), lr=1e20)
    with pytest.raises(TrainingDivergedError, match=r"Lower lr \(now 1e\+20\)") as info:
        net.fit(train, None)
    found = re.search(r"epoch (\d+), batch (\d+) of the epoch", str(info.value))
    assert found is not None
    epoch, batch = map(int, found.groups())
    # the message names the batch training stopped at
    assert epoch == len(net.history) == 1
    assert batch == len(net.history[-1, "batches"])
    assert batch > 1  # the first step is still finite, its update is not
    assert not np.isfinite(net.history[-1, "batches", -1, "train_loss"])


def test_guard_catches_nan_in_the_inputs(data):
    X = data[0].copy()
    X[17, 2] = np.nan
    torch.manual_seed(0)
    net, train = siamese_net(data, Encoder(nn.Linear(N_FEATURES, 3)), X=X)
    with pytest.raises(TrainingDivergedError, match="epoch 1, batch "):
        net.fit(train, None)


def test_guard_checks_the_validation_loss(data):
    torch.manual_seed(0)
    net, train = siamese_net(data, PoisonedAt(eval_nan=True), valid=True)
    with pytest.raises(TrainingDivergedError) as info:
        net.fit(train, None)
    msg = str(info.value)
    assert "epoch 1, validation batch 1 of the epoch" in msg
    assert "the validation loss is nan" in msg
    assert "training loss" not in msg


class NaNRow(nn.Module):
    """Sample 1 of every batch gets NaN embeddings."""

    def __init__(self):
        super().__init__()
        self.linear = nn.Linear(2, 2)

    def forward(self, x):
        z = self.linear(x)
        # a constant, not a product with z, so that gradients stay finite
        return torch.cat([z[:1], torch.full_like(z[1:2], float("nan")), z[2:]])


def first_row_loss(y_pred, y_true):
    """A loss that looks at the first sample only."""
    return ((y_pred[0] - y_true[0]) ** 2).sum()


def plain_net(check_embeddings=True):
    return NeuralNet(
        NaNRow,
        lambda: first_row_loss,
        max_epochs=2,
        batch_size=4,
        train_split=None,
        callbacks=[NonFiniteGuard(check_embeddings=check_embeddings)],
        verbose=0,
    )


def test_guard_checks_the_embeddings_when_the_loss_is_finite():
    X, y = torch.zeros(8, 2), torch.zeros(8, 2)
    torch.manual_seed(0)
    with pytest.raises(TrainingDivergedError) as info:
        plain_net().fit(X, y)
    msg = str(info.value)
    assert "epoch 1, batch 1 of the epoch" in msg
    assert "the training embeddings hold NaN or inf (2 of 8 values, in 1 of 4" in msg
    assert "loss is" not in msg
    # without the embedding check, the finite loss lets training go on
    torch.manual_seed(0)
    net = plain_net(check_embeddings=False).fit(X, y)
    assert len(net.history) == 2


def test_guard_is_a_plain_callback():
    guard = NonFiniteGuard(check_embeddings=False)
    assert guard.get_params() == {"check_embeddings": False}
    again = pickle.loads(pickle.dumps(guard.initialize()))
    assert again.check_embeddings is False and again.train_batches_ == 0


# ---- check_collapse --------------------------------------------------------


def unit(z):
    return z / np.linalg.norm(z, axis=1, keepdims=True)


@pytest.fixture
def spread():
    return unit(np.random.default_rng(0).normal(size=(500, 16)))


def test_collapse_is_silent_on_spread_embeddings(spread):
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        value = check_collapse(spread)
        # random directions: the centroid is near 0, each row 1 from it
        assert value == pytest.approx(1.0, abs=0.05)
        # the rule does not depend on the scale
        assert check_collapse(spread * 1e-6) == pytest.approx(value)
        assert check_collapse(spread * 1e6) == pytest.approx(value)
        # two tight clusters far apart have not collapsed: each row is
        # sqrt(2) / 2 from the centroid, midway between the two
        two = np.repeat(np.eye(16)[:2], 250, axis=0) + 1e-6 * spread
        assert check_collapse(two) == pytest.approx(np.sqrt(0.5), rel=1e-4)


def test_collapse_warns_on_constant_embeddings():
    z = np.tile(unit(np.arange(1.0, 9.0)[None]), (100, 1))
    with pytest.warns(CollapseWarning) as caught:
        assert check_collapse(z, lr=0.5) == pytest.approx(0.0, abs=1e-12)
    msg = str(caught[0].message)
    assert "collapsed" in msg and "100 training samples" in msg
    assert "Lower lr (now 0.5)" in msg
    assert "check the inputs for NaN or extreme values" in msg


def test_collapse_warns_on_nearly_constant_embeddings(spread):
    centre = np.ones(16) / 4.0
    near = unit(centre + 1e-4 * spread)  # unit length, 1e-4 apart
    with pytest.warns(CollapseWarning, match="below tol=0.001"):
        value = check_collapse(near)
    assert value == pytest.approx(1e-4, rel=0.1)
    # a large common offset: small spread relative to the norms
    with pytest.warns(CollapseWarning):
        check_collapse(1000.0 * centre + 0.01 * spread)
    # a looser tolerance is not met
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        check_collapse(near, tol=1e-5)


def test_collapse_all_zero_embeddings():
    with pytest.warns(CollapseWarning):
        assert check_collapse(np.zeros((10, 4))) == 0.0
    # half of them zero, half spread: the median norm is 0, not collapsed
    z = np.vstack([np.zeros((5, 4)), np.eye(4)])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert check_collapse(z) == np.inf


def test_collapse_with_labels():
    z = np.ones((20, 3))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        # one class may share a point
        assert check_collapse(z, np.zeros(20)) == 0.0
    with pytest.warns(CollapseWarning, match="20 training samples of 2 classes"):
        check_collapse(z, np.repeat(["a", "b"], 10))


def test_collapse_refuses_nonfinite_and_bad_shapes():
    z = np.ones((10, 3))
    z[[2, 5], 1] = [np.nan, np.inf]
    with pytest.raises(TrainingDivergedError, match="2 of 10 training samples"):
        check_collapse(z, lr=0.1)
    with pytest.raises(ValueError, match=r"\(n_samples, n_features\).*\(2, 3, 4\)"):
        check_collapse(np.ones((2, 3, 4)))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert np.isnan(check_collapse(np.ones((1, 3))))


def test_collapse_sample():
    assert collapse_sample(7).tolist() == list(range(7))
    rows = collapse_sample(10_000, max_samples=500, random_state=3)
    assert len(rows) == 500 == len(np.unique(rows))
    assert np.all(np.diff(rows) > 0) and rows.min() >= 0 and rows.max() < 10_000
    assert np.array_equal(rows, collapse_sample(10_000, 500, 3))
    # every part of the range is drawn from, not only its start
    assert rows.max() > 9_000 and rows.min() < 1_000


# ---- check_network_output --------------------------------------------------


class Lambda(nn.Module):
    """A network whose forward is ``fn``, with a linear layer of ``width``."""

    def __init__(self, fn, width=N_FEATURES):
        super().__init__()
        self.fn = fn
        self.linear = nn.Linear(width, 3)

    def forward(self, x):
        return self.fn(self, x)


BAD_NETWORKS = [
    pytest.param(
        Lambda(lambda m, x: m.linear(x).sum(1)),
        ["network Lambda", "returned shape (2,)", "expected (2, embedding_dim)"],
        id="1-D output",
    ),
    pytest.param(
        Lambda(lambda m, x: m.linear(x).mean(0, keepdim=True)),
        ["returned shape (1, 3) for a batch of 2 samples", "one embedding row per"],
        id="fewer rows",
    ),
    pytest.param(
        nn.Linear(4, 3),
        [
            "network Linear cannot take samples of shape (5,) (n_features,)",
            "mat1 and mat2 shapes cannot be multiplied",
            "Its first layer must take 5 features",
            "Linear(in_features=4, out_features=3",
            "set input_shape, or network_params",
        ],
        id="first layer width",
    ),
    pytest.param(
        Lambda(lambda m, x: m.linear(x) * float("inf")),
        ["network Lambda returned NaN or inf", "before any training"],
        id="non-finite",
    ),
    pytest.param(
        Lambda(lambda m, x: m.linear(x).argmax(1, keepdim=True)),
        ["dtype torch.int64 and shape (2, 1)", "must be floating point"],
        id="integer output",
    ),
    pytest.param(
        Lambda(lambda m, x: (m.linear(x), x)),
        ["network Lambda returned tuple", "expected a tensor of shape (2, "],
        id="tuple output",
    ),
    pytest.param(
        Lambda(lambda m, x: m.linear(x)[:, :0]),
        ["returned shape (2, 0)", "embedding_dim >= 1"],
        id="zero width",
    ),
]


@pytest.mark.parametrize("module, words", BAD_NETWORKS)
def test_check_network_output_refuses_bad_networks(module, words):
    with pytest.raises(ValueError) as info:
        check_network_output(module, (N_FEATURES,))
    msg = str(info.value)
    for word in words:
        assert word in msg
    assert "(5,) (n_features,)" in msg  # the shape the samples have


def test_check_network_output_images_and_names():
    conv = nn.Sequential(nn.Conv2d(3, 4, 3), nn.Flatten())
    with pytest.raises(ValueError) as info:
        check_network_output(conv, (1, 8, 8), name="my_net")
    msg = str(info.value)
    assert msg.startswith("network my_net cannot take samples of shape (1, 8, 8)")
    assert "Its first layer must take 1 channel of 8x8 images" in msg
    assert "Conv2d(3, 4" in msg
    assert isinstance(info.value.__cause__, RuntimeError)
    # a fitting network: (2, 4, 6, 6) flattened as the estimators do
    assert check_network_output(conv, (3, 8, 8)) == 144


class RecordsMode(nn.Module):
    def __init__(self):
        super().__init__()
        self.inner = nn.Sequential(nn.Linear(N_FEATURES, 4), nn.Dropout(0.5))
        self.seen = []

    def forward(self, x):
        self.seen.append((self.training, torch.is_grad_enabled()))
        return self.inner(x)


def test_check_network_output_runs_in_eval_mode_and_restores_it():
    net = RecordsMode()
    net.inner[1].eval()  # mixed modes must come back as they were
    before = torch.random.get_rng_state()
    assert check_network_output(net, (N_FEATURES,)) == 4
    assert net.seen == [(False, False)]
    assert net.training and net.inner[0].training and not net.inner[1].training
    assert torch.equal(torch.random.get_rng_state(), before)
    # a failing forward restores the modes too
    broken = nn.Sequential(nn.Linear(3, 2))
    with pytest.raises(ValueError):
        check_network_output(broken, (N_FEATURES,))
    assert broken.training and broken[0].training
