import pickle

import joblib
import numpy as np
import pytest
import torch
from sklearn.base import clone
from sklearn.decomposition import PCA
from sklearn.discriminant_analysis import LinearDiscriminantAnalysis
from sklearn.exceptions import NotFittedError
from sklearn.model_selection import GridSearchCV, StratifiedKFold, train_test_split
from sklearn.neighbors import KNeighborsClassifier
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import StandardScaler, normalize
from skorch.callbacks import Callback
from torch import nn

from sksiamese import SiameseEmbedder
from sksiamese.augment import Compose, RandomFlip, RandomLighting
from sksiamese.features import GaborFeatures
from sksiamese.networks import MLP, ConvNet
from sksiamese.verification import balanced_pairs


def fast(**kw):
    params = dict(max_epochs=2, embedding_dim=8, device="cpu", random_state=0)
    params.update(kw)
    return SiameseEmbedder(**params)


# ---- what it learns -------------------------------------------------------


def test_learns_better_neighbours_than_raw_pixels(digits):
    X, y = digits
    Xtr, Xte, ytr, yte = train_test_split(
        X, y, test_size=0.25, stratify=y, random_state=0
    )
    emb = SiameseEmbedder(random_state=0).fit(Xtr, ytr)
    knn = KNeighborsClassifier(1).fit(emb.transform(Xtr), ytr)
    raw = KNeighborsClassifier(1).fit(Xtr.reshape(len(Xtr), -1), ytr)
    acc = knn.score(emb.transform(Xte), yte)
    raw_acc = raw.score(Xte.reshape(len(Xte), -1), yte)
    assert raw_acc == pytest.approx(0.982, abs=0.001)
    assert acc >= 0.99
    assert isinstance(emb.network_input_shape_, tuple)
    assert isinstance(emb.module_.backbone, ConvNet)


@pytest.mark.parametrize(
    "params",
    [
        dict(loss="contrastive", miner="random"),
        dict(loss="triplet", miner="random"),
        dict(miner="all"),
        dict(miner="batch_hard"),
        dict(loss="contrastive", miner="semi_hard"),
    ],
)
def test_every_training_mode_reduces_the_loss(small_digits, params):
    X, y = small_digits
    emb = fast(max_epochs=6, **params).fit(X.reshape(len(X), -1), y)
    losses = emb.history_[:, "train_loss"]
    assert len(losses) == 6
    assert np.all(np.isfinite(losses))
    assert losses[-1] < losses[0]
    assert isinstance(emb.module_.backbone, MLP)


def test_string_labels(small_digits):
    X, y = small_digits
    names = np.array(list("abcdefghij"))[y]
    emb = fast().fit(X, names)
    assert list(emb.classes_) == list("abcdefghij")
    assert emb.transform(X).shape == (len(X), 8)


# ---- input layouts ----------------------------------------------------------


def test_input_shape_turns_rows_into_images(small_digits):
    X, y = small_digits
    rows = X.reshape(len(X), -1)
    a = fast(input_shape=(8, 8)).fit(rows, y)
    b = fast().fit(X, y)
    assert a.network_input_shape_ == b.network_input_shape_ == (1, 8, 8)
    np.testing.assert_allclose(a.transform(rows), b.transform(X), atol=1e-5)


def test_uint8_is_scaled_like_floats(small_digits):
    X, y = small_digits
    img = np.round(X * 15).astype(np.uint8)  # 0..240
    a = fast().fit(img, y)
    b = fast().fit(img.astype(np.float32) / 255.0, y)
    np.testing.assert_allclose(a.transform(img), b.transform(img / 255.0), atol=1e-5)


def test_colour_images_channels_last(small_digits):
    X, y = small_digits
    rgb = np.stack([X, X / 2, X / 4], axis=-1)  # (n, 8, 8, 3)
    emb = fast().fit(rgb, y)
    assert emb.network_input_shape_ == (3, 8, 8)
    assert emb.transform(rgb).shape == (len(X), 8)
    with pytest.raises(ValueError, match="channels-first"):
        fast().fit(np.moveaxis(np.repeat(rgb, 3, axis=1), -1, 1), y)


class ViewNet(nn.Module):
    """A user network that flattens with ``view``, which needs
    channels-first storage, and records the strides it is given."""

    def __init__(self, input_shape, embedding_dim):
        super().__init__()
        self.fc = nn.Linear(int(np.prod(input_shape)), embedding_dim)
        self.strides = set()

    def forward(self, x):
        self.strides.add(x.stride()[1:])
        return self.fc(x.view(len(x), -1))


def test_colour_batches_channels_last_for_named_networks_only(small_digits):
    X, y = small_digits
    rgb = np.stack([X, X / 2, X / 4], axis=-1)  # (n, 8, 8, 3)
    seen = []
    emb = fast(network="small_conv")
    emb.fit(rgb, y)
    hook = emb.module_.register_forward_pre_hook(lambda m, a: seen.append(a[0]))
    Z = emb.transform(rgb)
    hook.remove()
    assert seen[0].is_contiguous(memory_format=torch.channels_last)
    assert not seen[0].is_contiguous()
    # the layout changes the speed, not the embedding
    emb._channels_last = lambda device: False
    np.testing.assert_allclose(emb.transform(rgb), Z, atol=1e-5)
    # a user's module gets channels-first batches, augmented or not, and
    # can flatten them with view
    user = fast(network=ViewNet, augment="affine").fit(rgb, y)
    user.transform(rgb)
    assert user.module_.backbone.strides == {(64, 8, 1)}


def test_user_module_class_and_instance(small_digits):
    X, y = small_digits

    class Tiny(nn.Module):
        def __init__(self, input_shape, embedding_dim):
            super().__init__()
            self.fc = nn.Linear(int(np.prod(input_shape)), embedding_dim)

        def forward(self, x):
            return self.fc(x.flatten(1))

    emb = fast(network=Tiny, embedding_dim=5).fit(X, y)
    assert emb.transform(X).shape == (len(X), 5)
    instance = nn.Sequential(nn.Flatten(), nn.Linear(64, 3))
    before = instance[1].weight.detach().clone()
    emb = fast(network=instance).fit(X, y)
    assert emb.embedding_dim_ == 3
    # the parameter itself is never trained in place
    torch.testing.assert_close(instance[1].weight, before)


def test_network_params_reach_the_network(small_digits):
    X, y = small_digits
    emb = fast(network="mlp", network_params={"hidden": (16,)}).fit(X, y)
    linears = [m for m in emb.module_.modules() if isinstance(m, nn.Linear)]
    assert [m.out_features for m in linears] == [16, 8]


# ---- transform ----------------------------------------------------------------


def test_transform_is_batch_size_independent_and_float32(small_digits):
    X, y = small_digits
    emb = fast(network_params={"dropout": 0.5}).fit(X, y)
    a = emb._embed(np.asarray(X), batch_size=7)
    b = emb._embed(np.asarray(X), batch_size=1000)
    assert a.dtype == np.float32
    np.testing.assert_allclose(a, b, atol=1e-5)
    # eval mode: dropout off, so repeated calls agree, and training mode is
    # restored afterwards
    emb.module_.train()
    np.testing.assert_array_equal(emb.transform(X), emb.transform(X))
    assert emb.module_.training


def test_normalized_embeddings_have_unit_norm(small_digits):
    X, y = small_digits
    Z = fast().fit_transform(X, y)
    np.testing.assert_allclose(np.linalg.norm(Z, axis=1), 1.0, atol=1e-5)
    Z = fast(normalize=False).fit_transform(X, y)
    assert not np.allclose(np.linalg.norm(Z, axis=1), 1.0)


def test_feature_names_and_set_output(small_digits):
    pd = pytest.importorskip("pandas")
    X, y = small_digits
    rows = X.reshape(len(X), -1)
    emb = fast().fit(rows, y)
    names = emb.get_feature_names_out()
    assert list(names) == [f"siameseembedder{i}" for i in range(8)]
    emb.set_output(transform="pandas")
    out = emb.transform(rows)
    assert isinstance(out, pd.DataFrame)
    assert list(out.columns) == list(names)
    df = pd.DataFrame(rows, columns=[f"px{i}" for i in range(64)])
    emb = fast().fit(df, y)
    assert list(emb.feature_names_in_) == list(df.columns)


# ---- determinism, persistence -----------------------------------------------


def test_same_random_state_same_embeddings(small_digits):
    X, y = small_digits
    a = fast(network_params={"dropout": 0.3}).fit_transform(X, y)
    b = fast(network_params={"dropout": 0.3}).fit_transform(X, y)
    c = fast(network_params={"dropout": 0.3}, random_state=1).fit_transform(X, y)
    np.testing.assert_array_equal(a, b)
    assert not np.allclose(a, c)


def test_fit_leaves_global_rng_alone(small_digits):
    X, y = small_digits
    torch.manual_seed(123)
    np.random.seed(123)
    expected_t, expected_np = torch.rand(3), np.random.rand(3)
    torch.manual_seed(123)
    np.random.seed(123)
    fast().fit(X, y)
    torch.testing.assert_close(torch.rand(3), expected_t)
    np.testing.assert_array_equal(np.random.rand(3), expected_np)


@pytest.mark.parametrize("how", ["pickle", "joblib"])
def test_pickle_round_trip(small_digits, tmp_path, how):
    X, y = small_digits
    emb = fast().fit(X, y)
    if how == "joblib":
        joblib.dump(emb, tmp_path / "m.joblib")
        back = joblib.load(tmp_path / "m.joblib")
    else:
        back = pickle.loads(pickle.dumps(emb))
    np.testing.assert_array_equal(back.transform(X), emb.transform(X))
    assert back.device_ == "cpu"
    # the pickle holds the model, not the training data
    assert len(pickle.dumps(emb)) < 20 * X.nbytes


def test_clone_gives_unfitted_copy_with_same_params(small_digits):
    X, y = small_digits
    emb = fast(margin=0.4).fit(X, y)
    c = clone(emb)
    assert c.get_params() == emb.get_params()
    assert not hasattr(c, "net_")
    with pytest.raises(NotFittedError):
        c.transform(X)


# ---- training loop ------------------------------------------------------------


class _Interrupt(Callback):
    def __init__(self, after):
        self.after = after

    def on_epoch_end(self, net, **kwargs):
        if len(net.history) == self.after:
            raise KeyboardInterrupt


def test_interrupted_fit_keeps_what_it_learned(small_digits):
    X, y = small_digits
    emb = fast(max_epochs=50, callbacks=[_Interrupt(after=2)]).fit(X, y)
    assert emb.n_iter_ == 2
    Z = emb.transform(X)
    assert Z.shape == (len(X), 8) and np.all(np.isfinite(Z))


def test_validation_fraction_and_early_stopping(small_digits):
    X, y = small_digits
    emb = fast(max_epochs=3, validation_fraction=0.2).fit(X, y)
    assert np.all(np.isfinite(emb.history_[:, "valid_loss"]))
    n_train = emb.history_[0, "train_batch_count"]
    assert n_train >= 1
    emb = fast(max_epochs=200, early_stopping=True, n_iter_no_change=2, lr=0.05)
    emb.fit(X, y)
    assert emb.n_iter_ < 200
    # the best epoch's weights are restored, and the model still pickles
    best = int(np.argmin(emb.history_[:, "valid_loss"]))
    assert emb.history_[best, "valid_loss_best"]
    assert pickle.loads(pickle.dumps(emb)).transform(X).shape == (len(X), 8)


def test_verbose_prints_progress(small_digits, capsys):
    X, y = small_digits
    fast(max_epochs=1, verbose=1).fit(X, y)
    out = capsys.readouterr()
    assert "train_loss" in out.out


def test_optimizer_and_lr_are_used(small_digits):
    X, y = small_digits
    emb = fast(optimizer="sgd", lr=0.123).fit(X, y)
    opt = emb.net_.optimizer_
    assert isinstance(opt, torch.optim.SGD)
    assert opt.param_groups[0]["lr"] == 0.123


# ---- errors -------------------------------------------------------------------


@pytest.mark.parametrize(
    "make, match",
    [
        (
            lambda X, y: (
                np.where(np.arange(X.size).reshape(X.shape) == 5, np.nan, X),
                y,
            ),
            "NaN",
        ),
        (
            lambda X, y: (
                np.where(np.arange(X.size).reshape(X.shape) == 5, np.inf, X),
                y,
            ),
            "infinity",
        ),
        (lambda X, y: (X[..., None, None], y), "must be 2-D"),
        (lambda X, y: (X, np.zeros_like(y)), "one class"),
        (lambda X, y: (X[:-1], y), "inconsistent numbers of samples"),
        (lambda X, y: (X, np.append(y[:-1], 99)), "99.*only 1 sample"),
        (lambda X, y: (X, None), "needs class labels"),
    ],
)
def test_bad_input_raises_clear_errors(small_digits, make, match):
    X, y = make(*small_digits)
    with pytest.raises(ValueError, match=match):
        fast().fit(X, y)


def test_transform_errors(small_digits):
    X, y = small_digits
    with pytest.raises(NotFittedError):
        fast().transform(X)
    emb = fast().fit(X, y)
    with pytest.raises(ValueError, match="expecting 64 features"):
        emb.transform(X[:, :7, :7])
    with pytest.raises(ValueError, match="NaN"):
        emb.transform(np.full_like(X, np.nan))


def test_bad_parameters_name_the_parameter(small_digits):
    X, y = small_digits
    with pytest.raises(ValueError, match="margin"):
        fast(margin=-1.0).fit(X, y)
    with pytest.raises(ValueError, match="Unknown network"):
        from sksiamese.networks import build_network

        build_network("resnet9000", (1, 8, 8), 4)
    with pytest.raises(ValueError, match="needs images"):
        fast(network="conv").fit(X.reshape(len(X), -1), y)


# ---- scikit-learn composition -------------------------------------------------


def test_pipeline_in_grid_search_over_margin(small_digits):
    X, y = small_digits
    pipe = Pipeline([("embed", fast(max_epochs=2)), ("knn", KNeighborsClassifier(1))])
    search = GridSearchCV(
        pipe,
        {"embed__margin": [0.1, 0.5]},
        cv=StratifiedKFold(2, shuffle=True, random_state=0),
    )
    search.fit(X, y)
    assert search.best_params_["embed__margin"] in (0.1, 0.5)
    scores = search.cv_results_["mean_test_score"]
    assert np.all((scores > 0.5) & (scores <= 1.0))
    assert (
        search.best_estimator_.named_steps["embed"].margin
        == search.best_params_["embed__margin"]
    )


# ---- warm start ------------------------------------------------------------


def test_warm_start_continues_from_the_fitted_network(small_digits):
    X, y = small_digits
    emb = fast(network="mlp").fit(X, y)  # no batch norm: no running statistics
    fitted = emb.transform(X)
    # a learning rate too small to move the weights: a warm fit keeps the
    # fitted embedding, a cold one goes back to the initial weights
    emb.set_params(warm_start=True, lr=1e-12, max_epochs=3)
    emb.fit(X, y)
    np.testing.assert_allclose(emb.transform(X), fitted, atol=1e-5)
    assert emb.n_iter_ == len(emb.history_) == 5
    cold = fast(network="mlp", lr=1e-12).fit(X, y).transform(X)
    assert not np.allclose(cold, fitted, atol=1e-3)


def test_warm_start_trains_on_and_is_reproducible(small_digits):
    X, y = small_digits

    def two_calls():
        emb = fast().fit(X, y)
        before = emb.transform(X)
        emb.set_params(warm_start=True, max_epochs=2).fit(X, y)
        return before, emb

    before, a = two_calls()
    _, b = two_calls()
    np.testing.assert_array_equal(a.transform(X), b.transform(X))
    assert not np.allclose(a.transform(X), before, atol=1e-3)  # it learned
    losses = a.history_[:, "train_loss"]
    assert len(losses) == 4 and losses[3] < losses[0]


def test_warm_start_fine_tunes_on_new_classes(small_digits):
    X, y = small_digits
    old, new = y < 5, y >= 5
    emb = fast().fit(X[old], y[old])
    emb.set_params(warm_start=True).fit(X[new], y[new])
    assert emb.n_iter_ == 4
    assert emb.transform(X).shape == (len(X), 8)


def test_warm_start_refuses_another_sample_shape(small_digits):
    X, y = small_digits
    emb = fast(warm_start=True).fit(X, y)  # the first fit is a normal one
    assert emb.n_iter_ == 2
    with pytest.raises(ValueError, match="set warm_start=False"):
        emb.fit(X[:, :4, :4], y)
    emb.set_params(warm_start=False).fit(X[:, :4, :4], y)  # a new network
    assert emb.n_features_in_ == 16


# ---- several networks ------------------------------------------------------


def test_n_networks_concatenates_independent_networks(small_digits):
    X, y = small_digits
    one = fast().fit(X, y)
    three = fast(n_networks=3).fit(X, y)
    assert len(three.nets_) == 3 and three.net_ is three.nets_[0]
    assert three.embedding_dim_ == 24
    assert three.get_feature_names_out().shape == (24,)
    Z = three.transform(X)
    assert Z.shape == (len(X), 24)
    # unit-norm members, scaled by 1/sqrt(3): unit-norm embeddings
    np.testing.assert_allclose(np.linalg.norm(Z, axis=1), 1.0, atol=1e-5)
    parts = [Z[:, 8 * k : 8 * (k + 1)] * np.sqrt(3) for k in range(3)]
    # the first network is the one a single-network fit trains
    np.testing.assert_allclose(parts[0], one.transform(X), atol=1e-5)
    # the others start and sample differently
    assert not np.allclose(parts[1], parts[0], atol=1e-2)
    assert not np.allclose(parts[2], parts[1], atol=1e-2)
    # a squared distance is the mean of the members' squared distances
    d2 = ((Z[0] - Z[1:]) ** 2).sum(axis=1)
    members = np.mean([((p[0] - p[1:]) ** 2).sum(axis=1) for p in parts], axis=0)
    np.testing.assert_allclose(d2, members, rtol=1e-4, atol=1e-6)


def test_n_networks_is_reproducible_and_pickles(small_digits):
    X, y = small_digits
    a = fast(n_networks=2).fit(X, y)
    b = fast(n_networks=2).fit(X, y)
    np.testing.assert_array_equal(a.transform(X), b.transform(X))
    restored = pickle.loads(pickle.dumps(a))
    np.testing.assert_array_equal(restored.transform(X), a.transform(X))
    assert len(restored.nets_) == 2


def test_pickle_holds_each_network_once_through_its_fitted_module(small_digits):
    # The weights go into the pickle once, through the skorch nets' own
    # device-aware pickling of module_ and criterion_ (which lets a GPU fit
    # load on a CPU-only host), not again as plain init parameters or as
    # the ensemble that wraps them.
    X, y = small_digits
    emb = fast(network="mlp", n_networks=2, loss="cosface").fit(X, y)
    weights = sum(
        p.numel() * p.element_size()
        for net in emb.nets_
        for p in [*net.module_.parameters(), *net.criterion_.parameters()]
    )
    blob = pickle.dumps(emb)
    alone = [pickle.dumps(net.optimizer_.state_dict()) for net in emb.nets_]
    # the weights once, beside the optimiser states (Adam: two per weight)
    assert len(blob) < 1.5 * weights + sum(map(len, alone))
    back = pickle.loads(blob)
    for net in back.nets_:
        assert net.module is net.module_ and net.criterion is net.criterion_
    assert list(back.module_.members) == [n.module_ for n in back.nets_]
    np.testing.assert_array_equal(back.transform(X), emb.transform(X))
    # a warm start after loading trains the modules the ensemble embeds with
    back.set_params(warm_start=True, max_epochs=1).fit(X, y)
    assert not np.allclose(back.transform(X), emb.transform(X))


def test_n_networks_warm_start_continues_every_network(small_digits):
    X, y = small_digits
    emb = fast(network="mlp", n_networks=2).fit(X, y)
    fitted = emb.transform(X)
    emb.set_params(warm_start=True, lr=1e-12, max_epochs=3).fit(X, y)
    np.testing.assert_allclose(emb.transform(X), fitted, atol=1e-5)
    assert [len(n.history) for n in emb.nets_] == [5, 5]
    assert emb.n_iter_ == 5


def test_n_networks_must_be_positive(small_digits):
    X, y = small_digits
    with pytest.raises(ValueError, match="n_networks"):
        fast(n_networks=0).fit(X, y)


# ---- the Fisher discriminant beside the networks -------------------------


def _pair_d2(Z, pairs):
    return ((Z[pairs[:, 0]] - Z[pairs[:, 1]]) ** 2).sum(axis=1)


def test_fisher_weight_appends_a_scaled_discriminant(small_digits):
    X, y = small_digits
    alone = fast().fit(X, y)
    both = fast(fisher_weight=0.25).fit(X, y)
    assert alone.fisher_ is None and alone.embedding_dim_ == 8
    # nine discriminant directions for ten classes, after the network's 8
    assert both.embedding_dim_ == 17
    Z = both.transform(X)
    assert Z.shape == (len(X), 17) and Z.dtype == np.float32
    assert both.get_feature_names_out().shape == (17,)
    # the networks train as without it
    s_net, s_fisher = both.fisher_scales_
    np.testing.assert_allclose(
        Z[:, :8] * s_net / np.sqrt(0.75), alone.transform(X), atol=1e-5
    )
    # the other part is the PCA + LDA projection, at unit length
    F = both.fisher_.transform(X.reshape(len(X), -1))
    F /= np.linalg.norm(F, axis=1, keepdims=True)
    np.testing.assert_allclose(Z[:, 8:] * s_fisher / np.sqrt(0.25), F, atol=1e-4)
    # a squared distance: 3/4 of the network's, 1/4 of the discriminant's,
    # each relative to its median distance between different classes
    pairs, same = balanced_pairs(y, max_pairs=None, random_state=0)
    d2 = _pair_d2(Z, pairs)
    expected = 0.75 * _pair_d2(alone.transform(X), pairs) / s_net**2
    expected += 0.25 * _pair_d2(F, pairs) / s_fisher**2
    np.testing.assert_allclose(d2, expected, rtol=1e-4, atol=1e-6)
    differ = np.sqrt(d2[same == 0])
    assert np.median(differ) == pytest.approx(1.0, abs=0.1)


def test_fisher_weight_near_one_ranks_as_the_discriminant(digits):
    X, y = digits
    Xtr, Xte, ytr, yte = train_test_split(
        X, y, test_size=0.5, stratify=y, random_state=0
    )
    emb = fast(max_epochs=1, fisher_weight=0.999, fisher_components=30).fit(Xtr, ytr)
    lda = make_pipeline(
        PCA(30, whiten=True, random_state=0), LinearDiscriminantAnalysis()
    ).fit(Xtr.reshape(len(Xtr), -1), ytr)
    flat = lambda a: a.reshape(len(a), -1)  # noqa: E731
    pred = (
        KNeighborsClassifier(1).fit(emb.transform(Xtr), ytr).predict(emb.transform(Xte))
    )
    F = lambda a: normalize(lda.transform(flat(a)))  # noqa: E731
    ref = KNeighborsClassifier(1).fit(F(Xtr), ytr).predict(F(Xte))
    # one epoch of training barely moves the network: the discriminant decides
    assert np.mean(pred == ref) > 0.97
    assert np.mean(pred == yte) > 0.9


def test_fisher_weight_is_reproducible_pickles_and_warm_starts(small_digits):
    X, y = small_digits
    a = fast(network="mlp", fisher_weight=0.5).fit(X, y)
    b = fast(network="mlp", fisher_weight=0.5).fit(X, y)
    np.testing.assert_array_equal(a.transform(X), b.transform(X))
    restored = pickle.loads(pickle.dumps(a))
    np.testing.assert_array_equal(restored.transform(X), a.transform(X))
    fitted = a.transform(X)
    a.set_params(warm_start=True, lr=1e-12, max_epochs=2).fit(X, y)
    np.testing.assert_allclose(a.transform(X), fitted, atol=1e-5)
    # a new weight takes effect at the next fit, not before
    a.set_params(warm_start=False, fisher_weight=0.2)
    np.testing.assert_allclose(a.transform(X), fitted, atol=1e-5)
    # switched off again, the next fit leaves no discriminant behind
    a.set_params(warm_start=False, fisher_weight=0.0).fit(X, y)
    assert a.fisher_ is None and a.transform(X).shape == (len(X), 8)


def test_fisher_weight_errors(small_digits):
    X, y = small_digits
    with pytest.raises(ValueError, match="fisher_weight"):
        fast(fisher_weight=1.0).fit(X, y)
    with pytest.raises(ValueError, match="fisher_components"):
        fast(fisher_weight=0.5, fisher_components=0).fit(X, y)
    # two photos of each of ten classes: PCA keeps at most 20 - 10 components
    two = np.concatenate([np.flatnonzero(y == c)[:2] for c in range(10)])
    emb = fast(fisher_weight=0.5).fit(X[two], y[two])
    assert emb.fisher_[-2].n_components_ == 10
    assert emb.transform(X).shape == (len(X), 17)


def test_fisher_features_gabor_and_a_transformer_of_ones_own(small_digits):
    X, y = small_digits
    flat = X.reshape(len(X), -1)
    gabor = fast(network="mlp", fisher_weight=0.999, fisher_features="gabor").fit(X, y)
    step = gabor.fisher_[0]
    assert isinstance(step, GaborFeatures) and step.input_shape == (8, 8, 1)
    # the discriminant's part is PCA + LDA of the Gabor features
    ref = make_pipeline(
        GaborFeatures(input_shape=(8, 8)),
        PCA(50, whiten=True, random_state=0),
        LinearDiscriminantAnalysis(),
    ).fit(flat, y)
    F = normalize(ref.transform(flat))
    s_fisher = gabor.fisher_scales_[1]
    Z = gabor.transform(X)
    np.testing.assert_allclose(Z[:, 8:] * s_fisher / np.sqrt(0.999), F, atol=1e-4)
    pixels = fast(network="mlp", fisher_weight=0.999).fit(X, y)
    assert not np.allclose(pixels.transform(X)[:, 8:], Z[:, 8:], atol=1e-2)
    # rows that are images (input_shape) get Gabor features too
    rows = fast(
        network="mlp", input_shape=(8, 8), fisher_weight=0.999, fisher_features="gabor"
    ).fit(flat, y)
    np.testing.assert_allclose(rows.transform(flat)[:, 8:], Z[:, 8:], atol=1e-5)
    # a transformer of one's own is cloned, fitted and used before the PCA
    scaler = StandardScaler()
    own = fast(fisher_weight=0.5, fisher_features=scaler).fit(X, y)
    assert not hasattr(scaler, "mean_")
    assert own.fisher_[0] is not scaler and own.fisher_[0].mean_.shape == (64,)
    # a GaborFeatures of one's own learns the images' shape as "gabor" does
    coarse = fast(
        network="mlp", fisher_weight=0.999, fisher_features=GaborFeatures(pool=2)
    ).fit(X, y)
    assert coarse.fisher_[0].input_shape == (8, 8, 1) and coarse.fisher_[0].pool == 2
    assert coarse.fisher_[0].n_features_out_ == 40 * 4 * 4
    restored = pickle.loads(pickle.dumps(gabor))
    np.testing.assert_allclose(restored.transform(X), Z, atol=1e-6)


def test_fisher_mirror_fits_the_discriminant_on_both_views(small_digits):
    X, y = small_digits
    flat = lambda a: a.reshape(len(a), -1)  # noqa: E731
    emb = fast(
        network="mlp", fisher_weight=0.999, fisher_mirror=True, fisher_components=60
    ).fit(X, y)
    both = np.concatenate([X, X[:, :, ::-1]])
    ref = make_pipeline(
        PCA(60, whiten=True, random_state=0), LinearDiscriminantAnalysis()
    ).fit(flat(both), np.concatenate([y, y]))
    F = normalize(ref.transform(flat(X)))
    Z = emb.transform(X)
    np.testing.assert_allclose(
        Z[:, 8:] * emb.fisher_scales_[1] / np.sqrt(0.999), F, atol=1e-4
    )
    # four samples of each of ten classes: one view allows 40 - 10
    # components, both views 80 - 10
    few = np.concatenate([np.flatnonzero(y == c)[:4] for c in range(10)])
    alone = fast(network="mlp", fisher_weight=0.5, fisher_components=60)
    assert alone.fit(X[few], y[few]).fisher_[-2].n_components_ == 30
    mirror = clone(alone).set_params(fisher_mirror=True).fit(X[few], y[few])
    assert mirror.fisher_[-2].n_components_ == 60
    with pytest.raises(ValueError, match="fisher_mirror=True adds mirror images"):
        fast(fisher_weight=0.5, fisher_mirror=True).fit(flat(X), y)


class Brighter:
    """A deterministic distortion: every image 10% brighter, up to 1."""

    def __init__(self):
        self.sizes = []

    def __call__(self, batch, generator):
        self.sizes.append(len(batch))
        return (batch * 1.1).clamp(max=1.0)


def test_fisher_augment_fits_the_discriminant_on_distorted_copies(small_digits):
    X, y = small_digits
    X = X / 16.0  # intensities in [0, 1]
    flat = lambda a: a.reshape(len(a), -1)  # noqa: E731
    emb = fast(
        network="mlp", fisher_weight=0.999, fisher_augment=Brighter(), fisher_copies=2
    ).fit(X, y)
    # two images tried before training, then all images once per copy
    assert emb.fisher_augment.sizes == [2, len(X), len(X)]
    copy = np.minimum(X * 1.1, 1.0)
    ref = make_pipeline(
        PCA(50, whiten=True, random_state=0), LinearDiscriminantAnalysis()
    ).fit(flat(np.concatenate([X, copy, copy])), np.tile(y, 3))
    F = normalize(ref.transform(flat(X)))
    Z = emb.transform(X)
    np.testing.assert_allclose(
        Z[:, 8:] * emb.fisher_scales_[1] / np.sqrt(0.999), F, atol=1e-4
    )
    assert emb.fisher_[-2].n_samples_ == 3 * len(X)
    # with mirror images too: the samples, their mirror images, the copies
    both = fast(
        network="mlp", fisher_weight=0.5, fisher_mirror=True, fisher_augment=Brighter()
    ).fit(X, y)
    assert both.fisher_[-2].n_samples_ == 5 * len(X)
    # a random distortion by name, drawn from random_state
    light = fast(
        network="mlp",
        fisher_weight=0.5,
        fisher_augment=Compose([RandomFlip(), RandomLighting()]),
    )
    a, b = light.fit(X, y).transform(X), clone(light).fit(X, y).transform(X)
    np.testing.assert_array_equal(a, b)
    restored = pickle.loads(pickle.dumps(light))
    np.testing.assert_allclose(restored.transform(X), a, atol=1e-6)
    assert restored.fisher_augment.transforms[1].gamma == 0.4
    c = clone(light).set_params(random_state=1).fit(X, y)
    plain = fast(network="mlp", fisher_weight=0.5).fit(X, y)
    assert not np.allclose(a[:, 8:], plain.transform(X)[:, 8:], atol=1e-3)
    assert not np.allclose(c.fisher_[-1].scalings_, light.fisher_[-1].scalings_)
    # the networks train as without it
    for p, q in zip(
        plain.module_.parameters(), light.module_.parameters(), strict=True
    ):
        torch.testing.assert_close(p, q)


def test_fisher_augment_errors(small_digits):
    X, y = small_digits
    with pytest.raises(ValueError, match="fisher_augment=.*Brighter.* distorts"):
        fast(fisher_weight=0.5, fisher_augment=Brighter()).fit(X.reshape(len(X), -1), y)
    # a bad augmentation fails before any network trains
    with pytest.raises(ValueError, match="must return a tensor of the shape"):
        fast(
            fisher_weight=0.5, fisher_augment=lambda b, g: b[:, :, :4], max_epochs=1000
        ).fit(X, y)
    with pytest.raises(ValueError, match=r"intensities in \[0, 1\]"):
        fast(fisher_weight=0.5, fisher_augment="lighting", max_epochs=1000).fit(X, y)
    with pytest.raises(ValueError, match="fisher_augment"):
        fast(fisher_weight=0.5, fisher_augment="jitter").fit(X, y)
    with pytest.raises(ValueError, match="fisher_copies"):
        fast(fisher_weight=0.5, fisher_augment="flip", fisher_copies=0).fit(X, y)
    # without a discriminant the setting is not used, rows or not
    emb = fast(fisher_augment="lighting").fit(X.reshape(len(X), -1), y)
    assert emb.fisher_ is None


def test_fisher_features_errors(small_digits):
    X, y = small_digits
    # Gabor filters need images, checked before any network trains
    with pytest.raises(ValueError, match='fisher_features="gabor" filters images'):
        fast(fisher_weight=0.5, fisher_features="gabor").fit(X.reshape(len(X), -1), y)
    with pytest.raises(ValueError, match="fisher_features"):
        fast(fisher_weight=0.5, fisher_features="hog").fit(X, y)
    # without a discriminant the setting is not used, rows or not
    emb = fast(fisher_features="gabor").fit(X.reshape(len(X), -1), y)
    assert emb.fisher_ is None


def test_test_time_flip_averages_each_image_with_its_mirror(small_digits):
    X, y = small_digits
    mirror = X[:, :, ::-1]
    plain = fast(n_networks=2).fit(X, y)
    flip = fast(n_networks=2, test_time_augment="flip").fit(X, y)
    # the same networks: test-time augmentation does not change training
    for a, b in zip(plain.nets_, flip.nets_, strict=True):
        for p, q in zip(a.module_.parameters(), b.module_.parameters(), strict=True):
            torch.testing.assert_close(p, q)
    Z = flip.transform(X)
    np.testing.assert_allclose(flip.transform(mirror), Z, atol=1e-6)
    assert not np.allclose(plain.transform(mirror), plain.transform(X), atol=1e-3)
    # per network: the unit-length mean of the two views' embeddings
    d = plain.embedding_dim
    for m, net in enumerate(plain.nets_):
        with torch.inference_mode():
            net.module_.eval()
            views = [
                torch.from_numpy(np.ascontiguousarray(v)).float()[:, None]
                for v in (X, mirror)
            ]
            z = sum(net.module_(v) for v in views)
        expected = normalize(z.numpy()) / np.sqrt(2)
        np.testing.assert_allclose(Z[:, m * d : (m + 1) * d], expected, atol=1e-5)


def test_test_time_flip_with_the_discriminant(small_digits):
    X, y = small_digits
    emb = fast(fisher_weight=0.5, test_time_augment="flip").fit(X, y)
    Z = emb.transform(X)
    np.testing.assert_allclose(emb.transform(X[:, :, ::-1]), Z, atol=1e-6)
    s_net, s_fisher = emb.fisher_scales_
    F = lambda a: normalize(emb.fisher_.transform(a.reshape(len(a), -1)))  # noqa: E731
    # the mean of the two views: shorter where they disagree
    expected = (F(X) + F(X[:, :, ::-1])) / 2
    np.testing.assert_allclose(Z[:, 8:] * s_fisher / np.sqrt(0.5), expected, atol=1e-4)
    # fixed at fit time, like fisher_weight; pickles with it
    emb.set_params(test_time_augment=None)
    np.testing.assert_array_equal(emb.transform(X), Z)
    np.testing.assert_array_equal(pickle.loads(pickle.dumps(emb)).transform(X), Z)
    emb.fit(X, y)
    assert not np.allclose(emb.transform(X[:, :, ::-1]), emb.transform(X), atol=1e-3)


def test_test_time_flip_needs_images(small_digits):
    X, y = small_digits
    rows = X.reshape(len(X), -1)
    with pytest.raises(ValueError, match="test_time_augment='flip' mirrors images"):
        fast(test_time_augment="flip").fit(rows, y)
    emb = fast(test_time_augment="flip", input_shape=(8, 8)).fit(rows, y)
    mirror = X[:, :, ::-1].reshape(len(X), -1)
    np.testing.assert_allclose(emb.transform(mirror), emb.transform(rows), atol=1e-6)
    with pytest.raises(ValueError, match="test_time_augment"):
        fast(test_time_augment="rotate").fit(X, y)


def test_discriminant_embeds_in_bounded_batches(small_digits, monkeypatch):
    import sksiamese._base as base

    X, y = small_digits
    emb = fast(fisher_weight=0.5, test_time_augment="flip").fit(X, y)
    whole = emb.transform(X)
    monkeypatch.setattr(base, "_FISHER_BATCH", 7)  # 200 samples: 29 batches
    np.testing.assert_allclose(emb.transform(X), whole, atol=1e-6)
    assert emb._embed(X[:0]).shape == (0, whole.shape[1])


def test_test_time_flip_refuses_feature_rows_before_training(small_digits):
    X, y = small_digits
    epochs = []

    class Count(Callback):
        def on_epoch_end(self, net, **kwargs):
            epochs.append(1)

    with pytest.raises(ValueError, match="mirrors images"):
        fast(test_time_augment="flip", callbacks=[Count()]).fit(
            X.reshape(len(X), -1), y
        )
    assert epochs == []


def test_test_time_flip_mirrors_colour_images_along_their_width():
    rng = np.random.default_rng(0)
    X = rng.random((60, 8, 6, 3)).astype(np.float32)  # channels last
    y = np.repeat(np.arange(6), 10)
    emb = fast(network="conv", fisher_weight=0.5, test_time_augment="flip").fit(X, y)
    Z = emb.transform(X)
    np.testing.assert_allclose(emb.transform(X[:, :, ::-1]), Z, atol=1e-5)
    assert not np.allclose(emb.transform(X[:, ::-1]), Z, atol=1e-3)  # not upside down


def test_cosface_learns_a_proxy_per_class(small_digits):
    X, y = small_digits
    state = torch.random.get_rng_state()
    emb = fast(loss="cosface", n_networks=2, max_epochs=6).fit(X, y)
    assert torch.equal(torch.random.get_rng_state(), state)
    proxies = [net.criterion_.proxies.detach() for net in emb.nets_]
    assert all(p.shape == (10, 8) for p in proxies)
    assert not torch.allclose(proxies[0], proxies[1])  # a copy per network
    assert all(net.miner is None for net in emb.nets_)  # no tuples to mine
    losses = emb.history_[:, "train_loss"]
    assert losses[-1] < 0.7 * losses[0]
    again = fast(loss="cosface", n_networks=2, max_epochs=6).fit(X, y)
    np.testing.assert_array_equal(again.transform(X), emb.transform(X))
    # the embeddings gather each class around its proxy (0.95 measured)
    Z = emb.transform(X)
    knn = KNeighborsClassifier(1).fit(Z[::2], y[::2])
    assert knn.score(Z[1::2], y[1::2]) >= 0.9


def test_cosface_warm_start_keeps_its_proxies(small_digits):
    X, y = small_digits
    emb = fast(loss="cosface", warm_start=True).fit(X[y < 5], y[y < 5])
    criterion = emb.net_.criterion_
    emb.fit(X[y < 5], y[y < 5])
    assert emb.net_.criterion_ is criterion and len(emb.history_) == 4
    with pytest.raises(ValueError, match="5 class proxies, but y now has 10"):
        emb.fit(X, y)
