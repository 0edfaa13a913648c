"""The ORL face benchmarks, run on the data of ``../shared/data`` when it is
there: the scripts' options and the quality they reach."""

import functools

import numpy as np
import pytest
from _benchmarks import load_benchmark
from sklearn.metrics import roc_auc_score

from sksiamese.verification import balanced_pairs

# ---- quality on real faces -----------------------------------------------------


def _orl_bench(name="bench_verifier_orl"):
    return load_benchmark(name)


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
    raw, fisher, own, gabor, gabor28, plda = map(float, table["four blocks"])
    # the linear models learn from 30 people what raw pixels cannot know
    assert min(fisher, own, gabor, gabor28, plda) > raw + 0.01
    # and rank new faces better on Gabor features than on pixels
    assert min(gabor, gabor28) > fisher
    assert "random 10" in table


@functools.cache
def _orl_cached(data, *options):
    bench = _orl_bench()
    return bench.evaluate(bench.parse_args(["--data", data, *options]))


def _orl_result(shared_data, *options):
    """The figures of one run of the benchmark; runs with the same options
    are fitted once per session."""
    return _orl_cached(str(shared_data / "orl_faces.npz"), *options)


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


def test_orl_benchmark_composes_the_verifier_from_pieces():
    from sklearn.pipeline import FeatureUnion

    from sksiamese import SiameseEmbedder
    from sksiamese.preprocessing import DistanceScaler, Flatten

    bench = _orl_bench()
    embedder = bench.make_verifier(bench.parse_args(["--seeds", "7"])).embedder
    # the default: three networks beside a Fisher discriminant, half each
    assert isinstance(embedder, FeatureUnion)
    parts = dict(embedder.transformer_list)
    assert set(parts) == {"networks", "fisher"}
    np.testing.assert_allclose(
        [embedder.transformer_weights[k] for k in ("networks", "fisher")],
        [0.5**0.5, 0.5**0.5],
    )
    networks, scaler = parts["networks"][0], parts["networks"][-1]
    assert isinstance(scaler, DistanceScaler)
    assert isinstance(parts["fisher"][-1], DistanceScaler)
    assert isinstance(parts["fisher"][0], Flatten)
    members = [net for _, net in networks.transformer_list]
    assert len(members) == 3
    assert all(isinstance(net, SiameseEmbedder) for net in members)
    np.testing.assert_allclose(list(networks.transformer_weights.values()), 3**-0.5)
    # the first network is the single network of the same seed, and no two
    # networks of nearby seeds share a seed
    seeds = [net.random_state for net in members]
    assert seeds[0] == 7 and len(set(seeds)) == 3
    nearby = bench.make_verifier(bench.parse_args(["--seeds", "8"])).embedder
    nearby_seeds = [
        net.random_state for _, net in nearby.transformer_list[0][1][0].transformer_list
    ]
    assert not set(seeds) & set(nearby_seeds)
    # the script's training settings are passed, not the embedder's defaults
    assert members[0].loss == "contrastive" and members[0].max_epochs == 80
    assert members[0].lr == 3e-3 and members[0].m_per_class == 10
    assert members[0].network_params["batch_norm"] is True


def test_orl_benchmark_options_set_the_pieces():
    from sklearn.pipeline import Pipeline

    from sksiamese import SiameseEmbedder
    from sksiamese.features import FaceDescriptors, GaborFeatures

    bench = _orl_bench()
    # one network alone, without the discriminant
    alone = bench.make_embedder(
        bench.parse_args(["--n-networks", "1", "--fisher-weight", "0"])
    )
    assert isinstance(alone, SiameseEmbedder)
    # a share of 0.3, on Gabor features of the images
    gabor = bench.make_embedder(
        bench.parse_args(
            "--fisher-weight 0.3 --fisher-features gabor --gabor-pool 2".split()
        )
    )
    np.testing.assert_allclose(
        [gabor.transformer_weights[k] for k in ("networks", "fisher")],
        [0.7**0.5, 0.3**0.5],
    )
    first = gabor.transformer_list[1][1][0]
    assert isinstance(first, GaborFeatures) and first.pool == 2
    # face descriptors in front of the networks
    dlib = bench.make_embedder(
        bench.parse_args(
            ["--features", "dlib", "--network", "linear", "--n-networks", "1"]
            + ["--embedding-dim", "128", "--fisher-weight", "0"]
        )
    )
    assert isinstance(dlib, Pipeline) and isinstance(dlib[0], FaceDescriptors)
    assert isinstance(dlib[-1], SiameseEmbedder) and dlib[-1].network == "linear"
    assert dlib[-1].augment is None
    # the options of the removed verifier parameters are gone
    for removed in (
        ["--test-time-augment", "flip"],
        ["--fisher-mirror"],
        ["--fisher-augment", "flip+lighting"],
        ["--fisher-copies", "3"],
    ):
        with pytest.raises(SystemExit):
            bench.parse_args(removed)
    for wrong in (["--n-networks", "0"], ["--fisher-weight", "1"]):
        with pytest.raises(SystemExit):
            bench.parse_args(wrong)


def test_orl_union_gives_each_part_its_share_of_the_distance(shared_data):
    # one epoch: the shares do not depend on how well the networks learned
    from sksiamese.verification import balanced_pairs

    bench = _orl_bench()
    args = bench.parse_args(
        ["--epochs", "1", "--n-networks", "2", "--fisher-weight", "0.3"]
    )
    images, target = bench.load_orl(shared_data / "orl_faces.npz")
    X = bench.downsample(images, 8)
    train, _ = bench.split_people(target, 3)
    embedder = bench.make_embedder(args).fit(X[train], target[train])
    front, networks, fisher = bench.embedding_parts(embedder)
    assert front is None
    idx, same = balanced_pairs(target[train], max_pairs=4000, random_state=0)
    different = idx[same == 0]
    shares = []
    for part, weight in ((networks, 0.7), (fisher, 0.3)):
        d = bench.pair_distances(weight**0.5 * part.transform(X[train]), different)
        shares.append(np.median(d**2))
    np.testing.assert_allclose(shares, [0.7, 0.3], rtol=0.02)
    # the union is the two parts side by side, as the verifier measures it
    whole = bench.pair_distances(embedder.transform(X[train]), different)
    parts = [
        bench.pair_distances(w**0.5 * p.transform(X[train]), different)
        for p, w in ((networks, 0.7), (fisher, 0.3))
    ]
    np.testing.assert_allclose(whole**2, parts[0] ** 2 + parts[1] ** 2, rtol=1e-4)
    assert len(bench.networks_of(embedder)) == 2


def test_described_once_describes_each_photo_once(shared_data, monkeypatch):
    pytest.importorskip("dlib", reason="dlib is installed by the test extra")
    from sklearn.base import clone

    from sksiamese.features import FaceDescriptors

    bench = _orl_bench()
    images, _ = bench.load_orl(shared_data / "orl_faces.npz")
    photos = images[[0, 10, 20]]
    expected = FaceDescriptors().fit(photos).transform(photos)
    bench.DescribedOnce.forget()
    once = bench.DescribedOnce().fit(photos)
    got = once.transform(photos[[0, 1, 0, 2]])
    np.testing.assert_allclose(got, expected[[0, 1, 0, 2]], atol=1e-6)
    assert len(bench.DescribedOnce._cache) == 3
    # a clone, as the verifier's cross-fitting makes, describes nothing again
    monkeypatch.setattr(FaceDescriptors, "transform", None)
    again = clone(once).fit(photos[:2]).transform(photos[[2, 1]])
    np.testing.assert_allclose(again, expected[[2, 1]], atol=1e-6)
    # other parameters are other descriptors
    with pytest.raises(TypeError):
        bench.DescribedOnce(n_jitters=2).fit(photos).transform(photos[:1])
    bench.DescribedOnce.forget()
    assert not bench.DescribedOnce._cache


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
def test_orl_gabor_discriminant_on_28x23_photos(shared_data):
    # the setting of "Gabor features for the discriminant" in the benchmarks
    result = _orl_result(
        shared_data,
        *("--downsample", "4", "--network-pool", "2", "--fisher-features"),
        *("gabor", "--gabor-pool", "2"),
    )
    assert result["roc_auc"] >= 0.985  # 0.9909 at seed 0
    assert result["accuracy"] >= 0.90  # 0.9311 at seed 0
    assert result["one_shot"] > result["one_shot_raw"] + 0.05


@pytest.mark.slow
def test_orl_face_descriptors_reach_the_target(shared_data):
    # "--features dlib" of the benchmarks: dlib's pretrained face
    # descriptors in front of a linear map started at the identity, which
    # learns from the photos of the 30 training people with triplet loss
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
    assert result["roc_auc"] >= result["roc_auc_descriptors"]
    assert result["one_shot"] > result["one_shot_raw"] + 0.1


@pytest.mark.slow
@pytest.mark.xfail(
    strict=True,
    reason="target not reached yet on people 31-40 from the photos alone (it "
    "is with pretrained face descriptors, see the test above): ROC AUC about "
    "0.987 and accuracy about 0.93 at the automatic threshold (with the "
    "discriminant on Gabor features of 28x23 photos, 0.991 and 0.931); "
    "reached when people 1-10 or 21-30 are the unseen ones, see "
    "docs/benchmarks.rst",
)
def test_orl_unseen_people_reach_the_target(shared_data):
    result = _orl_result(shared_data)
    assert result["roc_auc"] >= 0.99
    assert result["accuracy"] >= 0.95
