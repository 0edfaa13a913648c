"""The ORL face benchmarks, run on the data of ``../shared/data`` when it is
there: the scripts' options and the quality they reach."""

import sys

import numpy as np
import pytest
from sklearn.metrics import roc_auc_score

from sksiamese.verification import balanced_pairs

# ---- quality on real faces -----------------------------------------------------


def _orl_bench(name="bench_verifier_orl"):
    import importlib.util
    from pathlib import Path

    path = Path(__file__).parents[1] / "benchmarks" / f"{name}.py"
    if str(path.parent) not in sys.path:  # the scripts import one another
        sys.path.append(str(path.parent))
    spec = importlib.util.spec_from_file_location(name, path)
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    return bench


def test_plda_scores_rank_unseen_classes_of_mirror_symmetric_images():
    bench = _orl_bench("bench_orl_linear")
    rng = np.random.default_rng(0)
    half = rng.normal(size=(20, 6, 3))
    means = np.concatenate([half, half[:, :, ::-1]], axis=2)  # mirror symmetric
    y = np.repeat(np.arange(20), 10)
    # within-class noise along a few shared directions, larger than the classes
    basis = rng.normal(size=(3, 6, 6))
    X = means[y] + 0.2 * rng.normal(size=(200, 6, 6))
    X += np.einsum("nk,kij->nij", 1.5 * rng.normal(size=(200, 3)), basis)
    train = y < 14
    idx, same = balanced_pairs(y[~train], max_pairs=None, random_state=0)
    plda = bench.plda_scores(X[train], y[train], X[~train], idx, n_components=10)
    raw = -bench.pair_distances(bench.flat(X[~train]), idx)
    assert roc_auc_score(same, plda) > max(0.95, roc_auc_score(same, raw) + 0.1)
    # a log-likelihood ratio of the pair, whichever photo comes first
    swapped = bench.plda_scores(X[train], y[train], X[~train], idx[:, ::-1], 10)
    np.testing.assert_allclose(plda, swapped, rtol=1e-8, atol=1e-8)


def test_orl_linear_benchmark_prints_the_four_blocks(shared_data, capsys):
    bench = _orl_bench("bench_orl_linear")
    bench.main(["--data", str(shared_data / "orl_faces.npz"), "--random", "1"])
    lines = capsys.readouterr().out.splitlines()
    table = {line[:16].strip(): line[16:].split() for line in lines}
    assert all(f"people {10 * b + 1}-{10 * b + 10}" in table for b in range(4))
    raw, fisher, own, gabor, gabor28, lit, plda = map(float, table["four blocks"])
    # the linear models learn from 30 people what raw pixels cannot know
    assert min(fisher, own, gabor, gabor28, lit, plda) > raw + 0.01
    # and rank new faces better on Gabor features than on pixels
    assert min(gabor, gabor28) > fisher
    # and better again with relit copies of the training photos
    assert lit > gabor28 + 0.001  # 0.9883 against 0.9854
    assert "random 10" in table


def _orl_result(shared_data, *options):
    bench = _orl_bench()
    args = bench.parse_args(["--data", str(shared_data / "orl_faces.npz"), *options])
    return bench.evaluate(args)


def test_orl_benchmark_holds_out_the_chosen_ten_people():
    bench = _orl_bench()
    target = np.repeat(np.arange(40), 10)
    assert bench.parse_args([]).unseen == 3  # people 31-40 by default
    # cross-fitted calibration by default, a hold-out with --cv 0
    assert bench.make_verifier(bench.parse_args([])).calibration_cv == 5
    assert bench.make_verifier(bench.parse_args(["--cv", "0"])).calibration_cv is None
    for unseen in range(4):
        train, test = bench.split_people(target, unseen)
        assert np.array_equal(np.unique(target[test]), np.arange(10) + 10 * unseen)
        assert not np.isin(target[train], target[test]).any()
        assert train.sum() == 300 and test.sum() == 100
    with pytest.raises(SystemExit):
        bench.parse_args(["--unseen", "4"])
    # --unseen random: ten people drawn with each seed
    assert bench.parse_args(["--unseen", "random"]).unseen == "random"
    drawn = []
    for seed in (10, 10, 11):
        train, test = bench.split_people(target, "random", seed)
        assert len(np.unique(target[test])) == 10 and test.sum() == 100
        assert not np.isin(target[train], target[test]).any()
        drawn.append(set(np.unique(target[test])))
    assert drawn[0] == drawn[1] and drawn[0] != drawn[2]
    # face descriptors: rows, so no distortions of photos
    assert bench.parse_args([]).augment == "affine+flip+erase"
    assert bench.parse_args(["--features", "dlib"]).augment == "none"
    assert bench.parse_args(["--features", "dlib", "--hidden"]).hidden == []
    for photo_only in (["--augment", "flip"], ["--fisher-features", "gabor"]):
        with pytest.raises(SystemExit):
            bench.parse_args(["--features", "dlib", *photo_only])


@pytest.mark.slow
def test_orl_unseen_people_beat_raw_pixels(shared_data):
    result = _orl_result(shared_data)
    assert result["roc_auc"] >= result["roc_auc_raw"] + 0.03
    # the networks add to the Fisher discriminant beside them
    assert result["roc_auc"] >= result["roc_auc_fisher"] + 0.01
    assert result["roc_auc"] >= 0.98
    assert result["accuracy"] >= 0.85
    assert result["one_shot"] > result["one_shot_raw"] + 0.03
    assert result["brier"] < 0.1


@pytest.mark.slow
def test_orl_mirror_images_reach_the_roc_auc_target(shared_data):
    result = _orl_result(shared_data, "--test-time-augment", "flip")
    assert result["roc_auc"] >= 0.99  # 0.9915-0.9924 over eight seeds
    assert result["roc_auc"] >= result["roc_auc_fisher"] + 0.02
    assert result["accuracy"] >= 0.85
    assert result["one_shot"] > result["one_shot_raw"] + 0.05


@pytest.mark.slow
def test_orl_gabor_discriminant_on_28x23_photos(shared_data):
    # the setting of "Gabor features for the discriminant" in the benchmarks
    result = _orl_result(
        shared_data,
        *("--downsample", "4", "--network-pool", "2", "--fisher-features"),
        *("gabor", "--gabor-pool", "2", "--test-time-augment", "flip"),
    )
    assert result["roc_auc"] >= 0.99  # 0.9909-0.9929 over four seeds
    assert result["accuracy"] >= 0.93  # 0.9422 at seed 0, 0.9300 with pixels
    assert result["one_shot"] > result["one_shot_raw"] + 0.05


@pytest.mark.slow
def test_orl_relit_copies_make_the_discriminant_rank_new_people_better(shared_data):
    # "Gabor + lit copies, 100" of the benchmarks
    result = _orl_result(
        shared_data,
        *("--downsample", "4", "--network-pool", "2", "--fisher-features"),
        *("gabor", "--gabor-pool", "2", "--test-time-augment", "flip"),
        *("--fisher-augment", "flip+lighting", "--fisher-components", "100"),
    )
    # the discriminant alone: 0.9766 without copies (it does not depend on
    # the seed then), 0.9811-0.9864 with them over four seeds
    assert result["roc_auc_discriminant"] >= 0.979
    assert result["roc_auc"] >= 0.99  # 0.9928-0.9945 over four seeds
    assert result["accuracy"] >= 0.90  # 0.9289 at seed 0: see the xfail below
    assert result["one_shot"] > result["one_shot_raw"] + 0.08


@pytest.mark.slow
def test_orl_face_descriptors_reach_the_target(shared_data):
    # "--features dlib" of the benchmarks: the verifier learns on dlib's
    # pretrained face descriptors of the photos of the 30 training people,
    # with its own defaults but for the identity-started linear map
    pytest.importorskip("dlib", reason="dlib is installed by the test extra")
    result = _orl_result(
        shared_data,
        *("--features", "dlib", "--network", "linear", "--n-networks", "1"),
        *("--embedding-dim", "128", "--fisher-weight", "0", "--loss", "triplet"),
        *("--epochs", "20", "--lr", "1e-3", "--m-per-class", "4"),
        *("--batch-size", "128", "--no-cosine"),
    )
    assert result["roc_auc"] >= 0.99
    assert result["accuracy"] >= 0.95
    assert result["fit_cpu"] < 300
    assert result["roc_auc"] > result["roc_auc_fisher"] + 0.02
    # started at the identity, learning from 30 people costs no ranking
    assert result["roc_auc"] >= result["roc_auc_descriptors"]  # 0.9996, 0.9985
    assert result["one_shot"] > result["one_shot_raw"] + 0.1


@pytest.mark.slow
@pytest.mark.xfail(
    strict=True,
    reason="target not reached yet on people 31-40 from the photos alone (it "
    "is with pretrained face descriptors, see the test above): ROC AUC about 0.987 "
    "(0.992 with --test-time-augment flip, also with Gabor features; 0.994 "
    "with relit copies for the discriminant) and accuracy about 0.93 (0.92; "
    "0.936 with Gabor features; 0.927 with relit copies, whose best threshold "
    "on the test pairs would give 0.958); reached when people 1-10 or 21-30 "
    "are the unseen ones, see docs/benchmarks.rst",
)
def test_orl_unseen_people_reach_the_target(shared_data):
    result = _orl_result(shared_data)
    assert result["roc_auc"] >= 0.99
    assert result["accuracy"] >= 0.95
