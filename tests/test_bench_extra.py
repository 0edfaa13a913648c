"""The ``--extra`` rows of the benchmark scripts: JSON values that build
objects, and the estimator a row describes."""

import pytest
from _benchmarks import load_benchmark

from sksiamese import SiameseEmbedder
from sksiamese.augment import Compose, RandomAffine, RandomErasing
from sksiamese.classes import RotationClasses
from sksiamese.losses import MultiSimilarityLoss


@pytest.fixture(scope="module")
def common():
    return load_benchmark("_common")


def test_objects_are_built_at_any_depth(common):
    value = {
        "augment": {
            "@": "sksiamese.augment.Compose",
            "transforms": [
                {"@": "sksiamese.augment.RandomAffine", "degrees": 5},
                {"@": "sksiamese.augment.RandomErasing", "p": 0.25},
            ],
        },
        "network_params": {"dropout": 0.1},
        "max_epochs": 3,
    }
    built = common.build_objects(value)
    assert isinstance(built["augment"], Compose)
    first, second = built["augment"].transforms
    assert isinstance(first, RandomAffine) and first.degrees == 5
    assert isinstance(second, RandomErasing) and second.p == 0.25
    assert built["network_params"] == {"dropout": 0.1}
    assert built["max_epochs"] == 3
    assert "@" in value["augment"]  # the row itself is left as it was


@pytest.mark.parametrize(
    "path", ["sksiamese.losses.NoSuchLoss", "no_such_module.Loss", "Loss"]
)
def test_an_unknown_object_stops_the_script_with_its_name(common, path):
    with pytest.raises(SystemExit, match=path):
        common.build_objects({"loss": {"@": path}})


def test_a_row_gives_its_estimator(common):
    est = common.extra_embedder(
        {
            "loss": {"@": "sksiamese.losses.MultiSimilarityLoss", "beta": 10},
            "affine": {"degrees": 15, "shear": 10},
            "rotation_classes": True,
        },
        random_state=3,
        max_epochs=2,
    )
    assert isinstance(est, RotationClasses)
    inner = est.embedder
    assert isinstance(inner, SiameseEmbedder)
    assert isinstance(inner.loss, MultiSimilarityLoss) and inner.loss.beta == 10
    assert isinstance(inner.augment, RandomAffine)
    assert (inner.augment.degrees, inner.augment.shear) == (15, 10)
    assert (inner.random_state, inner.max_epochs) == (3, 2)
    # the row's own values win over the defaults it is given
    assert common.extra_embedder({"max_epochs": 7}, max_epochs=2).max_epochs == 7
