"""The Omniglot benchmark's protocols, on the archives of ``../shared/data``
when they are there (skipped otherwise)."""

import functools

import numpy as np
import pytest

from sksiamese.losses import MultiSimilarityLoss
from tests._benchmarks import load_benchmark


@pytest.fixture(scope="module")
def bench():
    module = load_benchmark("bench_omniglot")
    # each archive is read once for the whole module
    module.load_omniglot = functools.lru_cache(module.load_omniglot)
    return module


@pytest.fixture
def omniglot(shared_data):
    path = shared_data / "omniglot"
    if not (path / "images_background_small2.zip").is_file():
        pytest.skip(f"the Omniglot archives are not in {path}")
    return path


def test_the_two_archives_hold_eight_distinct_alphabets(bench, omniglot):
    pool = bench.load_alphabets(bench.read_archives(omniglot, 8))
    assert len(pool.alphabet_names) == 8
    assert {"Greek", "Latin", "Tagalog", "Korean"} <= set(pool.alphabet_names)
    assert len(pool.target_names) == 242
    assert pool.images.shape == (4840, 8, 8)
    # 20 drawings of each character, every character in one alphabet
    assert np.all(np.bincount(pool.target) == 20)
    for t in np.unique(pool.target):
        assert len(np.unique(pool.alphabet[pool.target == t])) == 1
    # Greek and Latin come once: as many drawings as characters allow
    greek = pool.alphabet == list(pool.alphabet_names).index("Greek")
    assert greek.sum() == 24 * 20


def test_leave_one_alphabet_out_holds_each_out_once(bench, omniglot):
    folds = list(bench.folds("lao", bench.read_archives(omniglot, 8)))
    assert [f[0] for f in folds] == sorted(f[0] for f in folds)
    assert len(folds) == 8
    for name, train, test in folds:
        names = set(test.alphabet_names[np.unique(test.alphabet)])
        assert names == {name}
        assert name not in set(train.alphabet_names[np.unique(train.alphabet)])
        assert not set(train.target) & set(test.target)
        assert len(train.images) + len(test.images) == 4840
    some = list(
        bench.folds(
            "lao", bench.read_archives(omniglot, 8), holdout=["Korean", "Tagalog"]
        )
    )
    assert [f[0] for f in some] == ["Korean", "Tagalog"]
    with pytest.raises(SystemExit, match="no such alphabet"):
        list(bench.folds("lao", bench.read_archives(omniglot, 8), holdout=["Klingon"]))


def test_the_current_protocol_tests_the_unseen_alphabets_of_small2(bench, omniglot):
    [(_, train, test)] = bench.folds("current", bench.read_archives(omniglot, 8))
    unseen = set(test.alphabet_names[np.unique(test.alphabet)])
    assert unseen == {"Japanese_(katakana)", "Sanskrit", "Tagalog"}
    assert len(train.images) == 2720


def test_errors_are_20_way_except_for_smaller_alphabets(bench, omniglot):
    [(_, train, test)] = bench.folds("current", bench.read_archives(omniglot, 8))
    Z = test.images.reshape(len(test.images), -1).astype(float)
    errors = bench.alphabet_errors(Z, test, seed=0)
    assert {a: n for a, (n, _) in errors.items()} == {
        "Japanese_(katakana)": 20,
        "Sanskrit": 20,
        "Tagalog": 17,
    }
    assert all(0.5 < e < 1 for _, e in errors.values())  # raw pixels are poor
    s = bench.summary([{"errors": errors, "epochs": "-", "wall": 0.0, "cpu": 0.0}])
    assert s["error"] == pytest.approx(
        (errors["Japanese_(katakana)"][1] + errors["Sanskrit"][1]) / 2
    )
    assert s["small"] == pytest.approx(errors["Tagalog"][1])


def test_a_row_on_another_rows_time_needs_that_row(bench):
    methods = {"raw pixels": None, "pml C4": bench.PML({}, same_time_as="defaults")}
    with pytest.raises(SystemExit, match="needs the row 'defaults'"):
        bench.run_order(methods)
    methods["defaults"] = {}
    assert bench.run_order(methods) == ["raw pixels", "defaults", "pml C4"]


def test_extra_rows_build_embedders_and_pml_rows_on_another_rows_time(bench):
    rows = bench.extra_rows(
        {
            "rot": {"max_epochs": 3, "rotation_classes": True},
            "pml": {"pml_same_time_as": "rot"},
        }
    )
    assert rows["pml"] == bench.PML(bench.CONV4, same_time_as="rot")
    assert bench.run_order({"pml": rows["pml"], "rot": rows["rot"]}) == ["rot", "pml"]
    est = bench.embedder("rot", rows["rot"], seed=2, epochs=9, device="cpu")
    assert isinstance(est, bench.RotationClasses)
    assert est.embedder.max_epochs == 3  # the row's own epochs win
    assert est.embedder.random_state == 2
    plain = bench.embedder(
        "x", {"affine": {"degrees": 5.0}}, seed=0, epochs=9, device="cpu"
    )
    assert plain.max_epochs == 9 and plain.augment.degrees == 5.0
    # the defaults' row keeps every default but the seed
    defaults = bench.embedder(bench.DEFAULTS, {}, seed=1, epochs=9, device="cpu")
    assert defaults.max_epochs == bench.DEFAULT_EPOCHS and defaults.device == "auto"


def test_rows_with_objects_are_fitted_once_only_when_they_are_equal(bench):
    def key(row):
        est = bench.embedder("row", row, seed=0, epochs=60, device="cpu")
        return bench.same_fit_key(est, "cpu")

    loss = {"@": "sksiamese.losses.MultiSimilarityLoss"}
    beta10 = {"loss": {**loss, "beta": 10}}
    # a torch module's repr does not show beta: the key must
    assert repr(MultiSimilarityLoss(beta=10)) == repr(MultiSimilarityLoss())
    assert key(beta10) != key({"loss": loss})
    assert key(beta10) == key({"loss": {**loss, "beta": 10}})
    # the miner is compared as it resolves for the loss ("auto" is "all")
    assert key({"loss": loss, "miner": "all"}) == key({"loss": loss})
