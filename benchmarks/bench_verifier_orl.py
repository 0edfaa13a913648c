"""Face verification on ORL: people never seen in training.

A :class:`~sksiamese.SiameseVerifier` is fitted on the photos of 30 people
of the ORL (AT&T) face database and judged on the other 10, whom it never
saw: every "same" pair of their photos (450) and as many "different" pairs
(:func:`~sksiamese.verification.balanced_pairs`, ``random_state=0``).

Printed:

* ROC AUC of ``decision_function`` on those pairs, beside raw pixels and
  Fisherfaces (whitened PCA and LDA fitted on the training people) alone;
  and, from the same fit, of the distances of the two parts of its
  embedder alone: the networks', and (with ``--fisher-weight``) the
  discriminant's;
* accuracy of ``predict`` at the threshold the verifier chose itself
  (``threshold="auto"``, tuned on pairs of training people that the
  networks which embed them did not learn from), with the threshold; at
  the threshold that each of the strategies "accuracy" and "eer" picks on
  the same calibration pairs (``acc_accuracy``, ``acc_eer``); and at
  ``P(same) >= 0.5``, the decision of the calibrated probability itself;
* the best distance threshold on the test pairs themselves, which no
  threshold tuned without them can beat, with its errors: the "same"
  pairs it rejects, by person, and the "different" pairs it accepts, by
  pair of people;
* Brier score and log loss of ``predict_proba``, and a reliability table:
  for each bin of predicted ``P(same)``, how many pairs fell in it, their
  mean predicted probability and the observed share of "same" pairs;
* ``fit`` time (wall clock and process CPU time);
* one-shot identification of the 10 unseen people through a
  :class:`~sksiamese.Gallery` on the fitted verifier: one photo of each is
  enrolled (``Gallery.fit``), the other nine are queries; repeated with
  each of the 10 photos as the enrolled one (900 queries). Closed set:
  the best enrolled identity (``identity_proba``, whose columns follow
  ``classes_``); open set: half the people enrolled, ``identify`` must
  name the enrolled ones and answer "unknown" (-1) for the others, at the
  verifier's ``threshold_`` and at a stricter one. Next to the nearest
  neighbour on raw pixels.

The verifier is built from composed pieces (:func:`make_embedder`): a
:class:`~sksiamese.SiameseEmbedder` per network, networks side by side in
a :class:`~sklearn.pipeline.FeatureUnion`, a Fisher discriminant beside
them in another, each part divided by its median distance between
different people (:class:`~sksiamese.preprocessing.DistanceScaler`) so
that the union's ``transformer_weights`` are the square roots of each
part's share of a squared distance. The default configuration: the
112x92 photos averaged over 8x8 blocks (14x11), a two-layer MLP (256, 256)
with batch norm, contrastive loss over batches of 10 people x 10 photos,
random affine distortions, left-right flips and random erasing, 80
epochs with a cosine learning-rate schedule (the best of a seed-averaged
search on the training people); three such networks side by side
(``--n-networks 3``: a union of three embedders seeded apart, each
weighted ``1/sqrt(3)``, so that the squared distance is the mean of
theirs), which make different mistakes on new people; a Fisher
discriminant beside them (``--fisher-weight 0.5``: ``Flatten``, whitened
PCA to 50 dimensions, LDA and unit length on the same photos, half of
the squared distance), which makes other mistakes again; and the
calibration cross-fitted over five folds of the training people
(``calibration_cv=5``), so that the final networks learn from all 30.
``--cv 0`` calibrates on a hold-out of 6 training people instead,
``--fisher-weight 0`` leaves the networks alone; the choice of both
defaults is the mean over the four choices of unseen people
(``--unseen``), see ``docs/benchmarks.rst``. At 14x11 the networks
generalise to new people better than at 28x23 or 56x46: a convolutional
net (``--network conv``) reached a ROC AUC of 0.95-0.97 at 28x23 and
56x46, and about the MLP's at 14x11 or 12x10, for two to four times the
fit time.

``--fisher-features gabor`` fits the discriminant on the magnitudes of
Gabor filter responses (:class:`~sksiamese.features.GaborFeatures`, which
takes the images itself) rather than on the pixels. With ``--downsample 4
--network-pool 2 --gabor-pool 2`` the verifier is given 28x23 photos: the
Gabor features are computed on them (maps averaged over 2x2 blocks),
while the MLP averages them to 14x11 itself (``network_params={"pool":
2}``), so the networks see what they see by default, distorted at the
finer scale.

The options of earlier versions for mirror images and relit copies in
the discriminant's training (``--fisher-mirror``, ``--fisher-augment``,
``--fisher-copies``) and for mirror images at test time
(``--test-time-augment flip``) are gone with the verifier parameters
they set, removed in 0.2 (they gained 0.001 to 0.005 ROC AUC on one
split).

``--features dlib`` gives the verifier the full 112x92 photos and puts
the 128-D descriptors of dlib's face network in front of the networks
(``make_pipeline(FaceDescriptors(), <networks>)``,
:class:`~sksiamese.features.FaceDescriptors`, pretrained on about three
million photos of other people). Describing a photo gives the same
descriptors every time, so the script describes each photo once per
process (:class:`DescribedOnce`) rather than in every fold of the
cross-fitting and for every query of the gallery; the cache is emptied
before each ``fit``, whose time thus counts the description of the 300
training photos once. The networks then learn on these rows from the 30
training people as on photos, without distortions (rows cannot be
mirrored or relit); ``--network linear`` makes the network a linear map
that starts as the identity (:class:`~sksiamese.networks.LinearMap`). The
ROC AUC of the plain Euclidean distance between descriptors is printed
beside the others. Needs ``pip install 'sksiamese[faces]'``.

Which 10 people are unseen is ``--unseen``: 3 (people 31-40, the default
split), or 0, 1 or 2 for people 1-10, 11-20 or 21-30; the
scores vary more between these splits than between seeds. ``--unseen
random`` draws the 10 people with each seed (a different split for each
of ``--seeds``), to see what a choice does on splits it was not tuned on.

Usage::

    python benchmarks/bench_verifier_orl.py [--seeds 0 1 2]
    python benchmarks/bench_verifier_orl.py --n-networks 1 --cv 0 --fisher-weight 0
    python benchmarks/bench_verifier_orl.py --network conv --downsample 4
    python benchmarks/bench_verifier_orl.py --unseen 1
    python benchmarks/bench_verifier_orl.py --unseen random --seeds 10 11 12
    python benchmarks/bench_verifier_orl.py --downsample 4 --network-pool 2 \
        --fisher-features gabor --gabor-pool 2 --fisher-components 100
    python benchmarks/bench_verifier_orl.py --features dlib --network linear \
        --n-networks 1 --embedding-dim 128 --fisher-weight 0 --loss triplet \
        --epochs 20 --lr 1e-3 --m-per-class 4 --batch-size 128 --no-cosine
    python benchmarks/bench_verifier_orl.py --data path/to/orl_faces.npz
    python benchmarks/bench_verifier_orl.py --seeds 0 1 --figure orl.png

``--figure PATH`` draws the ROC curves of each seed's verifier beside raw
pixels and Fisherfaces (and the face descriptors alone, with
``--features dlib``) on the same test pairs, and its scores seed by
seed; ``--results PATH`` writes them as JSON.

The data file is the one described in ``../shared/data/README.md``.
"""

import argparse
import hashlib
import os
import time
import warnings
from pathlib import Path

import numpy as np
import torch
from _common import add_output_options, roc_points, write_outputs
from sklearn.decomposition import PCA
from sklearn.discriminant_analysis import LinearDiscriminantAnalysis
from sklearn.metrics import brier_score_loss, log_loss, roc_auc_score
from sklearn.pipeline import FeatureUnion, Pipeline, make_pipeline
from sklearn.preprocessing import Normalizer
from sklearn.utils.validation import check_is_fitted
from skorch.callbacks import LRScheduler
from torch.optim.lr_scheduler import CosineAnnealingLR

from sksiamese import Gallery, SiameseEmbedder, SiameseVerifier
from sksiamese.augment import Compose, RandomAffine, RandomErasing, RandomFlip
from sksiamese.features import FaceDescriptors, GaborFeatures
from sksiamese.preprocessing import DistanceScaler, Flatten
from sksiamese.verification import balanced_pairs, choose_threshold

DEFAULT_DATA = Path(__file__).resolve().parents[1] / ".." / "shared" / "data"
# thresholds compared on the same fit: "acc_<strategy>" in the results
STRATEGIES = ("accuracy", "eer")
# the seeds of the networks of a union are this far apart, so that the
# networks of different --seeds are different networks
MEMBER_SEED_STEP = 1000


def load_orl(path):
    d = np.load(path)
    return d["images"], d["target"]


def downsample(images, factor):
    """Mean over ``factor x factor`` blocks, as float32 in [0, 1]."""
    n, h, w = images.shape
    h, w = h - h % factor, w - w % factor
    x = images[:, :h, :w].reshape(n, h // factor, factor, w // factor, factor)
    return (x.mean(axis=(2, 4)) / 255.0).astype(np.float32)


def split_people(target, unseen, seed=None):
    """Boolean masks (train, test): people ``10 * unseen`` to ``10 * unseen
    + 9`` (0-based labels) are the unseen test people, the others train.
    With ``unseen="random"``, 10 people drawn with ``seed`` are."""
    target = np.asarray(target)
    if unseen == "random":
        people = np.random.default_rng(seed).permutation(np.unique(target))[:10]
        test = np.isin(target, people)
    else:
        test = target // 10 == unseen
    return ~test, test


def unseen_people(target, test):
    """The 1-based numbers of the unseen people, for the report."""
    people = np.unique(np.asarray(target)[test]) + 1
    if np.array_equal(people, np.arange(people[0], people[0] + len(people))):
        return f"{people[0]}-{people[-1]}"
    return " ".join(map(str, people))


def make_augment(name):
    if name == "none":
        return None
    if name == "affine+flip":
        return Compose([RandomAffine(), RandomFlip()])
    if name == "affine+flip+erase":
        # a rectangle of 2-33% of the face, filled with its mean grey
        erase = RandomErasing(p=0.8, value="mean")
        return Compose([RandomAffine(), RandomFlip(), erase])
    return name


def quietly(step, *args):
    """``step(*args)``; the warnings that dlib's detector found no face in
    a few photos (the whole photo is then the face box) are printed
    shortened, one line each."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", UserWarning)
        out = step(*args)
    for w in caught:
        if "No face was found" in str(w.message):
            print(f"note: {str(w.message).split(' (')[0]}; the whole photo was used")
        else:
            warnings.warn_explicit(w.message, w.category, w.filename, w.lineno)
    return out


class DescribedOnce(FaceDescriptors):
    """:class:`~sksiamese.features.FaceDescriptors` that describe each
    distinct photo once per process.

    The descriptors of a photo depend on the photo and the parameters
    only, so those already computed are looked up (by the photo's bytes)
    instead of computed again: the verifier's cross-fitting and the
    gallery then cost one description per photo, as computing the
    descriptors once before fitting did. :meth:`forget` empties the
    cache, so that a timed ``fit`` describes its photos itself.
    """

    _cache = {}

    @classmethod
    def forget(cls):
        cls._cache.clear()

    def transform(self, X):
        check_is_fitted(self, "n_features_out_")
        X = np.asarray(X)
        params = repr(sorted(self.get_params().items()))
        keys = [
            (params, x.shape, x.dtype.str, hashlib.sha1(x.tobytes()).hexdigest())
            for x in X
        ]
        new = {k: i for i, k in enumerate(keys) if k not in self._cache}
        if new:
            rows = super().transform(X[list(new.values())])
            self._cache.update(zip(new, rows, strict=True))
        out = np.empty((len(X), self.n_features_out_), dtype=np.float32)
        for i, key in enumerate(keys):
            out[i] = self._cache[key]
        return out


def make_loss(args, n_classes=30):
    """A loss name for the embedders, or for ``arcface`` the
    pytorch-metric-learning loss with a learned proxy per training person
    (each network trains its own copy of the proxies)."""
    if args.loss != "arcface":
        return args.loss
    from pytorch_metric_learning import losses

    return losses.ArcFaceLoss(num_classes=n_classes, embedding_size=args.embedding_dim)


def network_params(args):
    if args.network == "mlp":
        return {
            "hidden": tuple(args.hidden),
            "dropout": args.dropout,
            "batch_norm": args.batch_norm,
            "pool": args.network_pool,
        }
    if args.network == "linear":
        return None
    return {
        "channels": tuple(args.channels),
        "hidden": args.hidden[0],
        "dropout": args.dropout,
    }


def make_network(args, seed):
    """One :class:`~sksiamese.SiameseEmbedder` with the script's training
    settings, given explicitly (the embedder's own defaults differ)."""
    callbacks = None
    if args.cosine and args.epochs > 1:
        schedule = LRScheduler(policy=CosineAnnealingLR, T_max=args.epochs)
        callbacks = [("cosine_lr", schedule)]
    return SiameseEmbedder(
        args.network,
        network_params=network_params(args),
        embedding_dim=args.embedding_dim,
        loss=make_loss(args),
        margin=args.margin,
        miner=args.miner,
        m_per_class=args.m_per_class,
        augment=make_augment(args.augment),
        max_epochs=args.epochs,
        batch_size=args.batch_size,
        lr=args.lr,
        lr_schedule="constant",  # its own: cosine, or none with --no-cosine
        weight_decay=args.weight_decay,
        callbacks=callbacks,
        device="cpu",
        random_state=seed,
    )


def make_networks(args):
    """``--n-networks`` embedders side by side, or the one alone: a union
    weighted ``1/sqrt(n)`` each, so that its squared distance is the mean
    of the networks'."""
    n = args.n_networks
    if n == 1:
        return make_network(args, args.seed)
    names = [f"net{i}" for i in range(n)]
    return FeatureUnion(
        [
            (name, make_network(args, args.seed + MEMBER_SEED_STEP * i))
            for i, name in enumerate(names)
        ],
        transformer_weights={name: 1 / np.sqrt(n) for name in names},
    )


def make_discriminant(features="pixels", n_components=50, gabor_pool=1, scaled=False):
    """Fisherfaces: the samples as rows (``features="pixels"``) or their
    Gabor features, whitened PCA, linear discriminant analysis, scaled to
    unit length; with ``scaled``, then divided by the median distance
    between different people (to sit in a union)."""
    if features == "gabor":
        first = GaborFeatures(pool=gabor_pool)
    else:
        first = Flatten()
    steps = [
        first,
        PCA(n_components, whiten=True, random_state=0),
        LinearDiscriminantAnalysis(),
        Normalizer(),
    ]
    return make_pipeline(*steps, *([DistanceScaler()] if scaled else []))


def make_embedder(args):
    """The verifier's embedder: the networks; with ``--fisher-weight`` w, a
    union of the networks (share 1 - w of a squared distance) and the
    discriminant (share w), each scaled by its median distance between
    different people; with ``--features dlib``, face descriptors first."""
    embedder = make_networks(args)
    w = args.fisher_weight
    if w:
        fisher = make_discriminant(
            args.fisher_features, args.fisher_components, args.gabor_pool, scaled=True
        )
        embedder = FeatureUnion(
            [
                ("networks", make_pipeline(embedder, DistanceScaler())),
                ("fisher", fisher),
            ],
            transformer_weights={"networks": np.sqrt(1 - w), "fisher": np.sqrt(w)},
        )
    if args.features == "dlib":
        embedder = make_pipeline(DescribedOnce(), embedder)
    return embedder


def make_verifier(args, embedder=None):
    """The verifier of ``args`` on ``embedder`` (None: :func:`make_embedder`'s)."""
    return SiameseVerifier(
        make_embedder(args) if embedder is None else embedder,
        calibration=args.calibration,
        calibration_holdout=args.holdout,
        calibration_cv=args.cv or None,
        **({} if args.strategy is None else {"threshold_strategy": args.strategy}),
        random_state=args.seed,
    )


def embedding_parts(embedder):
    """The steps of a fitted embedder of :func:`make_embedder`: the face
    descriptors (or None), the networks, the discriminant (or None)."""
    front = None
    if isinstance(embedder, Pipeline) and isinstance(embedder[0], FaceDescriptors):
        front, embedder = embedder[0], embedder[-1]
    if isinstance(embedder, FeatureUnion) and "fisher" in embedder.named_transformers:
        parts = embedder.named_transformers
        return front, parts["networks"], parts["fisher"]
    return front, embedder, None


def networks_of(embedder):
    """The fitted :class:`~sksiamese.SiameseEmbedder` objects in ``embedder``."""
    if isinstance(embedder, SiameseEmbedder):
        return [embedder]
    if isinstance(embedder, Pipeline):
        steps = [step for _, step in embedder.steps]
    elif isinstance(embedder, FeatureUnion):
        steps = [step for _, step in embedder.transformer_list]
    else:
        return []
    return [net for step in steps for net in networks_of(step)]


def reliability_table(same, proba, n_bins=10):
    edges = np.linspace(0.0, 1.0, n_bins + 1)
    which = np.clip(np.digitize(proba, edges[1:-1]), 0, n_bins - 1)
    print(f"{'P(same) bin':>13}  {'pairs':>5}  {'mean P':>6}  {'observed':>8}")
    for b in range(n_bins):
        inside = which == b
        if not inside.any():
            continue
        print(
            f"  [{edges[b]:.1f}, {edges[b + 1]:.1f}{']' if b == n_bins - 1 else ')'}"
            f"  {inside.sum():5d}  {proba[inside].mean():6.3f}"
            f"  {same[inside].mean():8.3f}"
        )


def flat(a):
    """Samples as float64 rows."""
    return a.reshape(len(a), -1).astype(np.float64)


def pair_distances(z, idx):
    """Euclidean distance of each pair ``idx`` of rows of ``z``."""
    z = np.asarray(z, dtype=np.float64)
    return np.linalg.norm(z[idx[:, 0]] - z[idx[:, 1]], axis=1)


def raw_nearest(support, support_y, queries):
    s, q = flat(support), flat(queries)
    d = (q**2).sum(1)[:, None] - 2 * q @ s.T + (s**2).sum(1)[None, :]
    return support_y[d.argmin(axis=1)]


def fisherfaces(X_train, y_train, X_test, idx, n_components):
    """Distances of the test pairs ``idx`` between unit-length Fisherfaces
    projections fitted on the training people (the same photos as the
    networks')."""
    fisher = make_discriminant("pixels", n_components).fit(X_train, y_train)
    return pair_distances(fisher.transform(X_test), idx)


def fisherfaces_verifiers(args, pixels, images, target, train, test, idx, same):
    """The two-line baseline as a verifier of its own: whitened PCA to
    ``--baseline-components`` and linear discriminant analysis
    (``Flatten``, ``PCA``, ``LinearDiscriminantAnalysis``), calibrated and
    thresholded exactly as the verifier is, on the verifier's photos and on
    the full 112x92 photos. ``{name: (ROC AUC, accuracy at its automatic
    threshold)}`` on the test pairs."""
    out = {}
    for name, X in (("fisherfaces", pixels), ("fisherfaces_full", images)):
        fisherfaces = make_pipeline(
            Flatten(),
            PCA(args.baseline_components, whiten=True, random_state=0),
            LinearDiscriminantAnalysis(),
        )
        baseline = make_verifier(args, fisherfaces).fit(X[train], target[train])
        pairs = as_pairs(X[test], idx)
        auc = roc_auc_score(same, baseline.decision_function(pairs))
        out[name] = (auc, float(np.mean(baseline.predict(pairs) == same)))
    return out


def part_aucs(verifier, X_test, idx, same):
    """ROC AUC of the distances between the networks' embeddings alone and
    between the discriminant's alone (None without one), as the fitted
    verifier's embedder makes them."""
    front, networks, fisher = embedding_parts(verifier.embedder_)
    X = X_test if front is None else front.transform(X_test)
    auc = lambda part: roc_auc_score(same, -pair_distances(part.transform(X), idx))  # noqa: E731
    return auc(networks), None if fisher is None else auc(fisher)


def best_distance(distances, same):
    """The distance threshold (pairs at or below it are "same") with the
    highest accuracy on these pairs, and that accuracy."""
    order = np.argsort(distances)
    s = same[order]
    correct = np.cumsum(s) + (len(s) - s.sum()) - np.cumsum(1 - s)
    best = int(np.argmax(correct))
    return float(distances[order][best]), float(correct[best] / len(s))


def errors_by_person(distances, same, idx, y, threshold):
    """At a distance ``threshold``: the "same" pairs rejected, counted by
    person, and the "different" pairs accepted, counted by pair of people
    (1-based numbers), most first."""
    wrong = (distances <= threshold) != same.astype(bool)
    a, b = np.asarray(y)[idx[:, 0]] + 1, np.asarray(y)[idx[:, 1]] + 1
    rejected, accepted = {}, {}
    for k in np.flatnonzero(wrong):
        if same[k]:
            rejected[int(a[k])] = rejected.get(int(a[k]), 0) + 1
        else:
            key = tuple(sorted((int(a[k]), int(b[k]))))
            accepted[key] = accepted.get(key, 0) + 1
    by_count = lambda d: sorted(d.items(), key=lambda kv: -kv[1])  # noqa: E731
    return by_count(rejected), by_count(accepted)


def strategy_threshold(verifier, strategy, target_far=0.01):
    """The P(same) threshold that ``strategy`` picks on the verifier's own
    held-out calibration pairs."""
    proba = np.clip(verifier.calibrator_.predict(verifier.calibration_distances_), 0, 1)
    return choose_threshold(verifier.calibration_same_, proba, strategy, target_far)


def one_shot(verifier, X, y, X_raw):
    """Closed- and open-set one-shot identification over 10 rounds, through
    a :class:`~sksiamese.Gallery`; the open set at ``threshold_`` and at a
    1% false-accept threshold."""
    people = np.unique(y)
    gallery = Gallery(verifier)
    strict = Gallery(verifier, threshold=strategy_threshold(verifier, "far"))
    closed, closed_raw, open_set, open_strict = [], [], [], []
    for k in range(10):
        photo = np.array([np.flatnonzero(y == p)[k] for p in people])
        query = np.setdiff1d(np.arange(len(y)), photo)
        gallery.fit(X[photo], y[photo])
        best = gallery.classes_[gallery.identity_proba(X[query]).argmax(axis=1)]
        closed.append(best == y[query])
        closed_raw.append(raw_nearest(X_raw[photo], y[photo], X_raw[query]) == y[query])
        # open set: the first (k-rotated) half of the people enrolled
        enrolled = np.roll(people, k)[: len(people) // 2]
        shown = photo[np.isin(y[photo], enrolled)]
        truth = np.where(np.isin(y[query], enrolled), y[query], -1)
        open_set.append(gallery.fit(X[shown], y[shown]).identify(X[query]) == truth)
        open_strict.append(strict.fit(X[shown], y[shown]).identify(X[query]) == truth)
    return tuple(
        float(np.mean(np.concatenate(r)))
        for r in (closed, closed_raw, open_set, open_strict)
    )


def add_data_options(parser):
    parser.add_argument("--data", default=None, help="path to orl_faces.npz")
    parser.add_argument(
        "--seeds",
        type=int,
        nargs="+",
        default=[0],
        help="random_state of each fit; with several, the means are printed too",
    )
    parser.add_argument(
        "--threads",
        type=int,
        default=None,
        help="torch CPU threads (default: torch's choice)",
    )
    parser.add_argument("--downsample", type=int, default=8)
    parser.add_argument(
        "--features",
        choices=["pixels", "dlib"],
        default="pixels",
        help="what the networks are given: the photos (averaged over "
        "--downsample blocks), or dlib's pretrained face descriptors of the "
        "full photos (FaceDescriptors in front of them)",
    )
    parser.add_argument(
        "--unseen",
        choices=["0", "1", "2", "3", "random"],
        default="3",
        help="which 10 people are unseen: 0 for people 1-10, ..., "
        "3 (the default) for people 31-40; 'random': 10 people drawn "
        "with each seed, a different split per seed",
    )
    add_output_options(parser)


def add_network_options(parser):
    parser.add_argument(
        "--network",
        choices=["mlp", "conv", "linear"],
        default="mlp",
        help="linear: a linear map that starts as the identity (LinearMap; "
        "needs --embedding-dim equal to the input width, 128 for --features "
        "dlib)",
    )
    parser.add_argument(
        "--hidden",
        type=int,
        nargs="*",
        default=[256, 256],
        help="MLP layer widths (none: a linear map); the conv net's dense "
        "layer takes the first",
    )
    parser.add_argument("--no-batch-norm", dest="batch_norm", action="store_false")
    parser.add_argument(
        "--channels", type=int, nargs="+", default=[32, 64, 128], help="conv only"
    )
    parser.add_argument(
        "--network-pool",
        type=int,
        default=1,
        help="MLP only: the network reads the photos averaged over blocks of "
        "this side (MLP pool), e.g. --downsample 4 --network-pool 2 gives it "
        "14x11 while the Gabor features see 28x23",
    )
    parser.add_argument(
        "--n-networks",
        type=int,
        default=3,
        help="networks side by side in a FeatureUnion, each weighted "
        "1/sqrt(n) (1: the network alone)",
    )
    parser.add_argument("--dropout", type=float, default=0.1)
    parser.add_argument("--embedding-dim", type=int, default=64)


def add_discriminant_options(parser):
    parser.add_argument(
        "--fisher-weight",
        type=float,
        default=0.5,
        help="share of the Fisher discriminant in a squared distance (the "
        "union's transformer_weights sqrt(1 - w) and sqrt(w)); 0 for the "
        "networks alone",
    )
    parser.add_argument(
        "--fisher-features",
        choices=["pixels", "gabor"],
        default="pixels",
        help="what the discriminant is fitted on: Flatten() or GaborFeatures()",
    )
    parser.add_argument(
        "--gabor-pool",
        type=int,
        default=1,
        help="with --fisher-features gabor: blocks averaged in each Gabor "
        "magnitude map (GaborFeatures(pool=...))",
    )
    parser.add_argument(
        "--baseline-components",
        type=int,
        default=100,
        help="whitened PCA components of the Fisherfaces verifier baseline",
    )
    parser.add_argument(
        "--fisher-components",
        type=int,
        default=50,
        help="whitened principal components before the discriminant",
    )


def add_training_options(parser):
    parser.add_argument(
        "--loss",
        default="contrastive",
        help="a loss name of the embedder (cosface: class proxies), or "
        "arcface (pytorch-metric-learning, with --miner random)",
    )
    parser.add_argument("--margin", default="auto")
    parser.add_argument("--miner", default="semi_hard")
    parser.add_argument("--m-per-class", type=int, default=10)
    parser.add_argument(
        "--augment",
        choices=["affine+flip+erase", "affine+flip", "affine", "flip", "none"],
        default=None,
        help="distortions of the networks' training photos (default: "
        "affine+flip+erase; none with --features dlib)",
    )
    parser.add_argument("--epochs", type=int, default=80)
    parser.add_argument("--batch-size", type=int, default=100)
    parser.add_argument("--lr", type=float, default=3e-3)
    parser.add_argument("--no-cosine", dest="cosine", action="store_false")
    parser.add_argument("--weight-decay", type=float, default=0.0)


def add_calibration_options(parser):
    parser.add_argument("--calibration", default="auto")
    parser.add_argument("--holdout", default="classes")
    parser.add_argument(
        "--cv",
        type=int,
        default=5,
        help="calibration_cv: folds of training people for the calibration; "
        "0 for a hold-out of 6 training people instead",
    )
    parser.add_argument(
        "--strategy",
        default=None,
        choices=["accuracy", "f1", "eer", "far"],
        help="threshold_strategy (default: the verifier's)",
    )


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    for add in (
        add_data_options,
        add_network_options,
        add_discriminant_options,
        add_training_options,
        add_calibration_options,
    ):
        add(parser)
    args = parser.parse_args(argv)
    if args.features == "dlib":
        image_only = {
            "--augment": args.augment not in (None, "none"),
            "--network conv": args.network == "conv",
            "--network-pool": args.network_pool != 1,
            "--fisher-features gabor": args.fisher_features != "pixels",
        }
        given = [name for name, on in image_only.items() if on]
        if given:
            parser.error(
                f"{', '.join(given)} work on photos, but --features dlib gives "
                "the networks rows of face descriptors; leave them out."
            )
        args.augment = "none"
    elif args.augment is None:
        args.augment = "affine+flip+erase"
    if args.n_networks < 1:
        parser.error("--n-networks must be at least 1.")
    if not 0 <= args.fisher_weight < 1:
        parser.error("--fisher-weight must lie in [0, 1).")
    args.seed = args.seeds[0]  # evaluate() fits with args.seed
    if args.unseen != "random":
        args.unseen = int(args.unseen)
    if args.margin != "auto":
        args.margin = float(args.margin)
    return args


def load_split(args):
    """The verifier's samples, the pixels of the baselines and the split."""
    path = Path(args.data) if args.data else DEFAULT_DATA / "orl_faces.npz"
    if not path.is_file():
        raise SystemExit(f"ORL data not found at {path}; pass --data.")
    images, target = load_orl(path)
    pixels = downsample(images, args.downsample) if args.downsample > 1 else images
    # face descriptors are computed from the full photos, in the pipeline
    X = images if args.features == "dlib" else pixels
    train, test = split_people(target, args.unseen, args.seed)
    return X, pixels, images, target, train, test


def timed_fit(verifier, X, y):
    """Fit ``verifier``; return its wall and process CPU seconds."""
    DescribedOnce.forget()  # the fit describes its own photos
    cpu0, wall0 = time.process_time(), time.perf_counter()
    quietly(verifier.fit, X, y)
    return time.perf_counter() - wall0, time.process_time() - cpu0


def as_pairs(X, idx):
    """The pairs of samples of ``X`` that the index pairs ``idx`` name."""
    return np.stack([X[idx[:, 0]], X[idx[:, 1]]], axis=1)


def pair_figures(verifier, X_test, y_test, idx, same):
    """Ranking, threshold and probability figures on the test pairs."""
    pairs = as_pairs(X_test, idx)
    distances = -quietly(verifier.decision_function, pairs)
    proba = verifier.predict_proba(pairs)[:, 1]
    cal_d, cal_same = verifier.calibration_distances_, verifier.calibration_same_
    best = best_distance(distances, same)
    by_strategy = {
        f"acc_{name}": float(
            np.mean((proba >= strategy_threshold(verifier, name)) == same)
        )
        for name in STRATEGIES
    }
    return {
        "proba": proba,
        "distances": distances,
        "roc_auc": roc_auc_score(same, -distances),
        "accuracy": float(np.mean(verifier.predict(pairs) == same)),
        "accuracy_half": float(np.mean((proba >= 0.5) == same)),
        **by_strategy,
        "brier": brier_score_loss(same, proba),
        "log_loss": log_loss(same, np.clip(proba, 1e-15, 1 - 1e-15)),
        "same_median": float(np.median(distances[same == 1])),
        "cal_same_median": float(np.median(cal_d[cal_same == 1])),
        "best_distance": best,
        "errors": errors_by_person(distances, same, idx, y_test, best[0]),
        "cal_best_distance": best_distance(cal_d, cal_same),
    }


def evaluate(args):
    """Fit on 30 people, judge on the 10 ``--unseen`` ones; return the numbers."""
    if args.threads:
        torch.set_num_threads(args.threads)
    X, pixels, images, target, train, test = load_split(args)
    X_test, y_train, y_test = X[test], target[train], target[test]
    verifier = make_verifier(args)
    wall, cpu = timed_fit(verifier, X[train], y_train)
    idx, same = balanced_pairs(y_test, max_pairs=None, random_state=0)
    figures = pair_figures(verifier, X_test, y_test, idx, same)
    raw = images[test].reshape(int(test.sum()), -1) / 255.0
    fisher_d = fisherfaces(
        pixels[train], y_train, pixels[test], idx, args.fisher_components
    )
    baselines = fisherfaces_verifiers(
        args, pixels, images, target, train, test, idx, same
    )
    front = embedding_parts(verifier.embedder_)[0]
    auc_networks, auc_discriminant = part_aucs(verifier, X_test, idx, same)
    closed, closed_raw, open_set, open_strict = one_shot(
        verifier, X_test, y_test, images[test]
    )
    descriptors = None if front is None else front.transform(X_test)
    curves = {
        "verifier": roc_points(same, -figures["distances"]),
        "raw pixels": roc_points(same, -pair_distances(raw, idx)),
        "Fisherfaces": roc_points(same, -fisher_d),
    }
    if descriptors is not None:
        curves["face descriptors alone"] = roc_points(
            same, -pair_distances(descriptors, idx)
        )
    return {
        "roc_curves": curves,
        "verifier": verifier,
        "same": same,
        "fit_wall": wall,
        "fit_cpu": cpu,
        **figures,
        "roc_auc_raw": roc_auc_score(same, -pair_distances(raw, idx)),
        "roc_auc_fisher": roc_auc_score(same, -fisher_d),
        "roc_auc_descriptors": None
        if descriptors is None
        else roc_auc_score(same, -pair_distances(descriptors, idx)),
        "roc_auc_networks": auc_networks,
        "roc_auc_discriminant": auc_discriminant,
        **{f"{k}_auc": v[0] for k, v in baselines.items()},
        **{f"{k}_acc": v[1] for k, v in baselines.items()},
        "people": unseen_people(target, test),
        "one_shot": closed,
        "one_shot_raw": closed_raw,
        "open_set": open_set,
        "open_set_far": open_strict,
    }


def report_setting(r, args):
    nets = networks_of(r["verifier"].embedder_)
    print(
        f"ORL faces: tested on people {r['people']} (unseen), trained on the other 30"
    )
    print(
        f"torch threads {torch.get_num_threads()}, CPUs {os.cpu_count()}, "
        f"load average {os.getloadavg()[0]:.1f} (other processes share the CPUs)"
    )
    print(
        f"test pairs: {int(r['same'].sum())} same, "
        f"{int((1 - r['same']).sum())} different"
    )
    fits = (args.cv + 1 if args.cv else 1) * args.n_networks
    print(
        f"fit: {r['fit_wall']:.1f} s wall, {r['fit_cpu']:.1f} s CPU "
        f"({fits} network training{'s' if fits > 1 else ''}, "
        f"{nets[0].n_iter_} epochs each)"
    )


def report_pairs(r, args):
    v = r["verifier"]
    descriptors = r["roc_auc_descriptors"]
    print(
        f"ROC AUC:                         {r['roc_auc']:.4f}   "
        f"(raw pixels {r['roc_auc_raw']:.4f}, Fisherfaces "
        f"{r['roc_auc_fisher']:.4f}"
        + ("" if descriptors is None else f", face descriptors {descriptors:.4f}")
        + ")"
    )
    parts = f"  its parts alone:               networks {r['roc_auc_networks']:.4f}"
    if r["roc_auc_discriminant"] is not None:
        parts += f", discriminant {r['roc_auc_discriminant']:.4f}"
    print(parts)
    print(
        f"accuracy at auto threshold:      {r['accuracy']:.4f}   "
        f"(threshold_ {v.threshold_:.3f} on P(same), strategy "
        f"{v.threshold_strategy!r}, calibration {v.calibration_!r})"
    )
    print(
        "  at each strategy's threshold:  "
        + ", ".join(f"{name} {r[f'acc_{name}']:.4f}" for name in STRATEGIES)
    )
    print(
        f"Fisherfaces verifier (PCA {args.baseline_components} + LDA): ROC AUC "
        f"{r['fisherfaces_auc']:.4f}, accuracy at its automatic threshold "
        f"{r['fisherfaces_acc']:.4f}; on the full photos "
        f"{r['fisherfaces_full_auc']:.4f} and {r['fisherfaces_full_acc']:.4f}"
    )
    print(
        f"accuracy at P(same) >= 0.5:      {r['accuracy_half']:.4f}   "
        "(the calibrated probability's own decision)"
    )
    (t, acc), (t_cal, _) = r["best_distance"], r["cal_best_distance"]
    print(
        f"best distance threshold:         {t:.3f} on the test pairs (accuracy "
        f"{acc:.4f}), {t_cal:.3f} on the calibration pairs"
    )
    rejected, accepted = r["errors"]
    print(
        "  its errors: same pairs rejected, by person: "
        + (", ".join(f"{p}: {n}" for p, n in rejected) or "none")
    )
    print(
        "  different pairs accepted, by people: "
        + (", ".join(f"{p}&{q}: {n}" for (p, q), n in accepted) or "none")
    )
    print(
        f"median distance of same pairs:   {r['same_median']:.3f} test, "
        f"{r['cal_same_median']:.3f} calibration"
    )


def report_probabilities_and_identities(r):
    print(f"Brier score:                     {r['brier']:.4f}")
    print(f"log loss:                        {r['log_loss']:.4f}")
    print("reliability of P(same) on the test pairs:")
    reliability_table(r["same"], r["proba"])
    print("one-shot identification of the 10 unseen people (900 queries):")
    print(
        f"  10-way, closed set:            {r['one_shot']:.4f}   "
        f"(raw pixels 1-NN {r['one_shot_raw']:.4f})"
    )
    print(
        f"  5 enrolled, others 'unknown':  {r['open_set']:.4f} at threshold_, "
        f"{r['open_set_far']:.4f} at a 1% false-accept threshold"
    )


def report(r, args):
    report_setting(r, args)
    report_pairs(r, args)
    report_probabilities_and_identities(r)


SUMMARY = (
    "roc_auc",
    "roc_auc_networks",
    "roc_auc_discriminant",
    "fisherfaces_auc",
    "fisherfaces_full_auc",
    "accuracy",
    "fisherfaces_acc",
    "fisherfaces_full_acc",
    "accuracy_half",
    "acc_accuracy",
    "acc_eer",
    "brier",
    "one_shot",
    "open_set",
    "open_set_far",
    "fit_cpu",
)


def main(argv=None):
    args = parse_args(argv)
    results = []
    for seed in args.seeds:
        args.seed = seed
        print(f"\n== random_state={seed}")
        results.append(evaluate(args))
        report(results[-1], args)
    if len(results) > 1:
        print(f"\nover random_state {args.seeds}:")
        keys = [k for k in SUMMARY if results[0][k] is not None]
        short = {
            "roc_auc_networks": "auc_nets",
            "roc_auc_discriminant": "auc_discrim",
            "fisherfaces_auc": "auc_fisherf",
            "fisherfaces_full_auc": "auc_ff_full",
            "fisherfaces_acc": "acc_fisherf",
            "fisherfaces_full_acc": "acc_ff_full",
        }
        print(f"{'':>10}" + "".join(f"{short.get(k, k):>14}" for k in keys))
        stats = (("mean", np.mean), ("sd", np.std), ("min", np.min), ("max", np.max))
        for name, fn in stats:
            row = "".join(f"{fn([r[k] for r in results]):>14.4f}" for k in keys)
            print(f"{name:>10}{row}")
    write_outputs(args, figure_record(results, args))


SCORES = {
    "roc_auc": "ROC AUC",
    "roc_auc_raw": "ROC AUC, raw pixels",
    "accuracy": "accuracy, automatic threshold",
    "accuracy_half": "accuracy at P(same) >= 0.5",
    "one_shot": "one-shot identification",
    "one_shot_raw": "one-shot, raw pixels 1-NN",
    "open_set": "open set, 5 of 10 enrolled",
}


def figure_record(results, args):
    """ROC curves and scores of every seed, from the figures printed."""
    names = list(results[0]["roc_curves"])
    colours = {"verifier": 2, "raw pixels": 5, "Fisherfaces": 0}
    curves = [
        {
            "label": name,
            "runs": [r["roc_curves"][name] for r in results],
            "colour": colours.get(name, 1),
        }
        for name in names
    ]
    scores = {key: [float(r[key]) for r in results] for key in SCORES}
    seeds = ", ".join(map(str, args.seeds))
    split = (
        "10 people drawn with each seed"
        if args.unseen == "random"
        else f"people {results[0]['people']}"
    )
    on = "on dlib's face descriptors" if args.features == "dlib" else "on the photos"
    return {
        "benchmark": "verifier_orl",
        "seeds": args.seeds,
        "people": [r["people"] for r in results],
        "scores": scores,
        "fit_cpu": [r["fit_cpu"] for r in results],
        "title": f"ORL: SiameseVerifier {on}, trained on 30 people, tested on "
        f"{split} (seed{'s' if len(args.seeds) > 1 else ''} {seeds})",
        "panel_size": (4.9, 3.6),
        "panels": [
            {
                "kind": "roc",
                "title": "450 same and 450 different pairs of unseen people",
                "curves": curves,
            },
            {
                "kind": "bars",
                "title": "scores (a dot per seed)",
                "xlim": (0.7, 1.0),
                "fmt": "{:.4f}",
                "xlabel": "higher is better",
                "items": [
                    {
                        "label": label,
                        "values": scores[key],
                        "colour": 5 if key.endswith("_raw") else 2,
                    }
                    for key, label in SCORES.items()
                ],
            },
        ],
    }


if __name__ == "__main__":
    main()
