import pickle

import joblib
import numpy as np
import pytest
import torch
from sklearn.base import clone
from sklearn.exceptions import NotFittedError
from sklearn.model_selection import GridSearchCV, StratifiedKFold, train_test_split
from sklearn.neighbors import KNeighborsClassifier
from sklearn.pipeline import Pipeline
from skorch.callbacks import Callback
from torch import nn

from sksiamese import SiameseEmbedder
from sksiamese._training import embed
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
    shape, device = emb.network_input_shape_, emb.net_.device
    a = embed(emb.module_, np.asarray(X), shape, device, batch_size=7)
    b = embed(emb.module_, np.asarray(X), shape, device, batch_size=1000)
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
    # the pickle holds the model, not the training data: no stretch of the
    # training images' bytes is in it, and it is about the size of the
    # weights and the optimiser's two moments of them
    blob = pickle.dumps(emb)
    for start in (0, X.nbytes // 2):
        assert X.tobytes()[start : start + 1024] not in blob
    weights = sum(p.numel() * p.element_size() for p in emb.module_.parameters())
    assert len(blob) < 3 * weights + 200_000


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


# ---- the constructor ---------------------------------------------------------


def test_parameters_are_keyword_only_after_the_network():
    assert SiameseEmbedder("mlp").network == "mlp"
    with pytest.raises(TypeError):
        SiameseEmbedder("mlp", None)
    # 26: reader and num_workers joined the 23 of the in-memory estimator,
    # then lr_schedule, measured on every benchmark
    assert len(SiameseEmbedder().get_params(deep=False)) <= 26


# ---- labels -----------------------------------------------------------------


@pytest.mark.parametrize(
    "labels, classes",
    [
        ([7, "bob", 2.5, 7, "bob", 2.5], [7, "bob", 2.5]),  # first appearance
        (np.array([True, False, True, False, True, False]), [False, True]),
        (np.array([2.5, 1.5, 2.5, 1.5, 2.5, 1.5]), [1.5, 2.5]),
        (["b", "a", "b", "a", "b", "a"], ["a", "b"]),
    ],
    ids=["mixed", "bool", "float", "str"],
)
def test_classes_are_the_labels_as_given(small_digits, labels, classes):
    X, _ = small_digits
    emb = fast(max_epochs=1, m_per_class=2, batch_size=8).fit(X[:6], labels)
    got = emb.classes_.tolist()
    assert got == classes
    assert [type(c) for c in got] == [type(c) for c in classes]
    back = pickle.loads(pickle.dumps(emb))
    assert back.classes_.tolist() == got


@pytest.mark.parametrize(
    "labels", [[0, 0, 1, 1, np.nan, 1], [0, 0, 1, 1, None, 1], ["a", "a", "b", None]]
)
def test_missing_labels_are_refused(small_digits, labels):
    X, _ = small_digits
    with pytest.raises(ValueError, match="missing labels .NaN or None. at positions"):
        fast().fit(X[: len(labels)], labels)


# ---- training that says what it does ----------------------------------------


def test_max_epochs_zero_warns_and_keeps_the_initial_network(small_digits):
    X, y = small_digits
    with pytest.warns(UserWarning, match="max_epochs=0. does not train"):
        emb = fast(max_epochs=0, network="mlp").fit(X, y)
    assert emb.n_iter_ == 0
    again = fast(max_epochs=0, network="mlp")
    with pytest.warns(UserWarning):
        again.fit(X, y)
    np.testing.assert_array_equal(emb.transform(X), again.transform(X))


def test_batch_too_small_for_two_classes_is_refused(small_digits):
    X, y = small_digits
    with pytest.raises(ValueError, match="batch_size=6 cannot hold two classes"):
        fast(batch_size=6, m_per_class=4).fit(X, y)
    fast(batch_size=8, m_per_class=4, max_epochs=1).fit(X, y)  # two classes fit
    fast(batch_size=6, miner="random", max_epochs=1).fit(X, y)  # no batches


# ---- labelled pairs ------------------------------------------------------------


def _pairs_of(X, y, n, seed=0):
    pairs, same = balanced_pairs(y, max_pairs=n, random_state=seed)
    return np.stack([X[pairs[:, 0]], X[pairs[:, 1]]], axis=1), same


def test_fit_pairs_learns_from_pairs_alone(digits):
    X, y = digits
    rows = X.reshape(len(X), -1) / 16.0
    pairs, same = _pairs_of(rows[:1000], y[:1000], 4000)
    emb = fast(max_epochs=8, embedding_dim=16, network="mlp", loss="contrastive")
    emb.fit_pairs(pairs, same)
    assert not hasattr(emb, "classes_")
    assert emb.sample_shape_ == (64,) and emb.n_features_in_ == 64
    losses = emb.history_[:, "train_loss"]
    assert losses[-1] < losses[0]
    Z = emb.transform(rows)
    knn = KNeighborsClassifier(1).fit(Z[:1000], y[:1000])
    raw = KNeighborsClassifier(1).fit(rows[:1000], y[:1000])
    assert knn.score(Z[1000:], y[1000:]) > 0.85
    assert raw.score(rows[1000:], y[1000:]) > 0.9  # the pairs are the only labels


@pytest.mark.parametrize(
    "params, make, match",
    [
        (dict(loss="triplet"), None, "triplet loss cannot use"),
        (dict(loss="cosface"), None, "learns a proxy per class"),
        ({}, None, "multi-similarity loss weighs"),
        ({}, lambda p, s: (p[:, 0], s), "pairs must be an array of shape"),
        ({}, lambda p, s: (p, s[:-1]), "one flag per pair"),
        ({}, lambda p, s: (p, np.ones_like(s)), "both same .1. and different"),
        ({}, lambda p, s: (p, s * 2), "must hold 1 .or True."),
    ],
)
def test_fit_pairs_errors(small_digits, params, make, match):
    X, y = small_digits
    pairs, same = _pairs_of(X, y, 40)
    if make is not None:
        pairs, same = make(pairs, same)
        params = dict(loss="contrastive")
    with pytest.raises(ValueError, match=match):
        fast(**params).fit_pairs(pairs, same)


def test_fit_pairs_with_validation_and_warm_start(small_digits):
    X, y = small_digits
    pairs, same = _pairs_of(X, y, 200)
    emb = fast(loss="binary", validation_fraction=0.2, warm_start=True)
    emb.fit_pairs(pairs, same)
    assert np.isfinite(emb.history_[:, "valid_loss"]).all()
    emb.fit_pairs(pairs, same)
    assert emb.n_iter_ == 4


def test_cosface_learns_a_proxy_per_class(small_digits):
    X, y = small_digits
    state = torch.random.get_rng_state()
    # a constant rate: six epochs of a decaying one are too few to judge by
    emb = fast(loss="cosface", max_epochs=6, lr_schedule="constant").fit(X, y)
    assert torch.equal(torch.random.get_rng_state(), state)
    assert emb.net_.criterion_.proxies.shape == (10, 8)
    assert emb.net_.miner is None  # no tuples to mine
    losses = emb.history_[:, "train_loss"]
    assert losses[-1] < 0.7 * losses[0]
    again = fast(loss="cosface", max_epochs=6, lr_schedule="constant").fit(X, y)
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


# ---- training that watches itself ----------------------------------------------


class _Nan(nn.Module):
    def __init__(self, input_shape, embedding_dim):
        super().__init__()
        self.linear = nn.Linear(int(np.prod(input_shape)), embedding_dim)
        self.calls = 0

    def forward(self, x):
        self.calls += 1
        z = self.linear(x.flatten(1))
        # fine for the check before training and the two batches of epoch 1
        return z * float("nan") if self.calls > 3 else z


def test_divergence_stops_fit_naming_epoch_and_batch(small_digits):
    from sksiamese._monitor import TrainingDivergedError

    X, y = small_digits
    match = r"epoch 2, batch 1 of the epoch: .*embeddings hold NaN.*Lower lr"
    with pytest.raises(TrainingDivergedError, match=match):
        fast(network=_Nan).fit(X, y)


def test_collapse_warns_with_the_same_advice(small_digits):
    from sksiamese._monitor import CollapseWarning

    X, y = small_digits
    rows = X.reshape(len(X), -1)
    with pytest.warns(CollapseWarning, match="collapsed.*Lower lr .now 1e.06."):
        fast(network="mlp", lr=1e6, max_epochs=3).fit(rows, y)


@pytest.mark.parametrize(
    "network, match",
    [
        (lambda input_shape, embedding_dim: nn.Linear(10, 4), "cannot take samples"),
        (lambda input_shape, embedding_dim: nn.Flatten(0), "dimension|shape"),
    ],
    ids=["wrong-width", "1-d"],
)
def test_a_wrong_network_is_named_before_training(small_digits, network, match):
    X, y = small_digits
    with pytest.raises(ValueError, match=match):
        fast(network=network).fit(X.reshape(len(X), -1), y)
