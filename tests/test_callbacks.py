"""WarmupCosineLR: the learning rate of each epoch."""

import math
import pickle

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.datasets import load_digits

from sksiamese import SiameseEmbedder
from sksiamese.callbacks import WarmupCosineLR


@pytest.fixture(scope="module")
def digits():
    X, y = load_digits(return_X_y=True)
    return X[:120], y[:120]


def fitted(digits, callback, **params):
    params = {
        "max_epochs": 6,
        "embedding_dim": 4,
        "random_state": 0,
        "lr_schedule": "constant",
        **params,
    }
    return SiameseEmbedder(callbacks=[("lr_schedule", callback)], **params).fit(*digits)


def test_the_rate_of_each_epoch(digits):
    emb = fitted(digits, WarmupCosineLR(warmup_epochs=2), lr=0.01)
    expected = [0.01 / 3, 0.02 / 3] + [
        0.005 * (1 + math.cos(math.pi * k / 4)) for k in range(4)
    ]
    np.testing.assert_allclose(emb.history_[:, "lr"], expected, rtol=1e-12)
    # the optimiser gets the rate back when training ends
    assert emb.net_.optimizer_.param_groups[0]["lr"] == pytest.approx(0.01)


def test_final_fraction_and_no_warmup(digits):
    emb = fitted(digits, WarmupCosineLR(warmup_epochs=0, final_fraction=0.5), lr=0.01)
    lrs = emb.history_[:, "lr"]
    assert lrs[0] == pytest.approx(0.01)
    assert all(a > b for a, b in zip(lrs, lrs[1:], strict=False))
    assert lrs[-1] > 0.005
    assert lrs[-1] == pytest.approx(
        0.01 * (0.5 + 0.25 * (1 + math.cos(math.pi * 5 / 6)))
    )


def test_the_schedule_changes_what_is_learned(digits):
    plain = SiameseEmbedder(
        max_epochs=3, embedding_dim=4, random_state=0, lr_schedule="constant"
    ).fit(*digits)
    assert "lr" not in plain.history_[-1]
    scheduled = fitted(digits, WarmupCosineLR(), max_epochs=3)
    assert not np.allclose(plain.transform(digits[0]), scheduled.transform(digits[0]))


def test_the_embedders_default_schedule(digits):
    emb = SiameseEmbedder(max_epochs=20, embedding_dim=4, lr=0.01, random_state=0)
    emb.fit(*digits)
    schedule = WarmupCosineLR(warmup_epochs=2)
    np.testing.assert_allclose(
        emb.history_[:, "lr"], [0.01 * schedule.factor(e, 20) for e in range(20)]
    )
    # below 10 epochs: no warm-up, the cosine alone
    short = SiameseEmbedder(max_epochs=4, embedding_dim=4, random_state=0).fit(*digits)
    assert short.history_[0, "lr"] == pytest.approx(short.lr)
    # a warm start runs a schedule of its own length
    emb.set_params(warm_start=True, max_epochs=10).fit(*digits)
    np.testing.assert_allclose(
        emb.history_[20:, "lr"],
        [0.01 * WarmupCosineLR(warmup_epochs=1).factor(e, 10) for e in range(10)],
    )


def test_a_schedule_of_ones_own_needs_lr_schedule_constant(digits):
    from skorch.callbacks import LRScheduler

    for callback in (("mine", LRScheduler()), WarmupCosineLR()):
        emb = SiameseEmbedder(max_epochs=2, callbacks=[callback])
        with pytest.raises(ValueError, match='lr_schedule="constant"'):
            emb.fit(*digits)


def test_a_warm_start_starts_its_own_schedule(digits):
    emb = fitted(
        digits, WarmupCosineLR(warmup_epochs=1), max_epochs=3, lr=0.01, warm_start=True
    )
    emb.fit(*digits)
    lrs = emb.history_[:, "lr"]
    assert len(lrs) == 6
    np.testing.assert_allclose(lrs[:3], lrs[3:])


def test_every_parameter_group_is_scaled(digits):
    emb = fitted(
        digits, WarmupCosineLR(warmup_epochs=1), loss="cosface", lr=0.01, max_epochs=2
    )
    groups = [
        g
        for name in emb.net_._optimizers
        for g in getattr(emb.net_, name + "_").param_groups
    ]
    assert len(groups) >= 1
    assert all(g["lr"] == pytest.approx(0.01) for g in groups)
    assert emb.history_[:, "lr"] == pytest.approx([0.005, 0.01])


def test_it_clones_and_pickles_with_the_estimator(digits):
    emb = fitted(digits, WarmupCosineLR(warmup_epochs=1), max_epochs=2)
    again = pickle.loads(pickle.dumps(emb))
    np.testing.assert_allclose(
        again.transform(digits[0]), emb.transform(digits[0]), rtol=1e-5
    )
    copy = clone(emb)
    assert (
        copy.callbacks[0][1].warmup_epochs == 1
        and copy.callbacks[0][1] is not emb.callbacks[0][1]
    )


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"warmup_epochs": -1}, "warmup_epochs, an int >= 0"),
        ({"warmup_epochs": 1.5}, "warmup_epochs, an int >= 0"),
        ({"final_fraction": 2}, "final_fraction, a number in \\[0, 1\\]"),
    ],
)
def test_bad_settings_are_refused_before_training(digits, kwargs, match):
    with pytest.raises(ValueError, match=match):
        fitted(digits, WarmupCosineLR(**kwargs))


def test_factor_alone():
    schedule = WarmupCosineLR(warmup_epochs=1)
    assert schedule.factor(0, 3) == 0.5
    assert schedule.factor(1, 3) == 1.0
    assert schedule.factor(2, 3) == pytest.approx(0.5)
