"""Face verification on ORL: people never seen in training.

A :class:`~sksiamese.SiameseVerifier` is fitted on the photos of 30 people
of the ORL (AT&T) face database and judged on the other 10, whom it never
saw: every "same" pair of their photos (450) and as many "different" pairs
(:func:`~sksiamese.verification.balanced_pairs`, ``random_state=0``).

Printed:

* ROC AUC of ``decision_function`` on those pairs, beside raw pixels and
  Fisherfaces (whitened PCA and LDA fitted on the training people) alone;
  and, from the same fit, of the distances of its two parts alone: the
  networks' embeddings, and (with ``fisher_weight``) the discriminant's;
* accuracy of ``predict`` at the threshold the verifier chose itself
  (``threshold="auto"``, tuned on pairs of training people that the
  networks which embed them did not learn from), with the
  threshold; at the threshold that each of the strategies "accuracy" and
  "eer" picks on the same calibration pairs (``acc_accuracy``,
  ``acc_eer``); and at ``P(same) >= 0.5``, the decision of the calibrated
  probability itself;
* the best distance threshold on the test pairs themselves, which no
  threshold tuned without them can beat, with its errors: the "same"
  pairs it rejects, by person, and the "different" pairs it accepts, by
  pair of people;
* Brier score and log loss of ``predict_proba``, and a reliability table:
  for each bin of predicted ``P(same)``, how many pairs fell in it, their
  mean predicted probability and the observed share of "same" pairs;
* ``fit`` time (wall clock and process CPU time);
* one-shot identification of the 10 unseen people: one photo of each is
  enrolled with ``enroll``, the other nine are queries; repeated with each
  of the 10 photos as the enrolled one (900 queries). Closed set: the best
  enrolled identity (``identity_proba``); open set: half the people
  enrolled, ``identify`` must name the enrolled ones and answer "unknown"
  for the others. Next to the nearest neighbour on raw pixels.

The default configuration: the 112x92 photos averaged over 8x8 blocks
(14x11), a two-layer MLP (256, 256) with batch norm, contrastive loss over
batches of 10 people x 10 photos, random affine distortions, left-right
flips and random erasing, 80 epochs with a cosine learning-rate schedule
(the best of a seed-averaged search on the training people); three such
networks side by side (``n_networks=3``), which make different mistakes on
new people; a Fisher discriminant beside them (``fisher_weight=0.5``:
whitened PCA to 50 dimensions and LDA on the same photos, half of the
squared distance), which makes other mistakes again; and the calibration
cross-fitted over five folds of the training people (``calibration_cv=5``),
so that the final networks learn from all 30. ``--cv 0`` calibrates on a
hold-out of 6 training people instead, ``--fisher-weight 0`` leaves the
networks alone; the choice of both defaults is the mean over the four
choices of unseen people (``--unseen``), see ``docs/benchmarks.rst``.
At 14x11 the networks generalise to new people better than at
28x23 or 56x46: a convolutional net (``--network conv``) reached a ROC AUC
of 0.95-0.97 at 28x23 and 56x46, and about the MLP's at 14x11 or 12x10,
for two to four times the fit time.

``--fisher-features gabor`` fits the discriminant on the magnitudes of
Gabor filter responses (:class:`~sksiamese.features.GaborFeatures`)
rather than on the pixels. With ``--downsample 4 --network-pool 2
--gabor-pool 2`` the verifier is given 28x23 photos: the Gabor features
are computed on them (maps averaged over 2x2 blocks), while the MLP
averages them to 14x11 itself (``network_params={"pool": 2}``), so the
networks see what they see by default, distorted at the finer scale.

``--fisher-augment flip+lighting`` fits the discriminant on three copies
of each photo as well (``--fisher-copies``), each mirrored at random and
relit (``fisher_augment=Compose([RandomFlip(), RandomLighting()])``).

``--features dlib`` gives the verifier, instead of photos, the 128-D
descriptors of dlib's face network (:class:`~sksiamese.features.FaceDescriptors`,
pretrained on about three million photos of other people), computed from
the full 112x92 photos; the time to describe the 300 training photos is
counted in the ``fit`` time. The verifier then learns on these rows from
the 30 training people as on photos, without distortions (rows cannot be
mirrored or relit); ``--network linear`` makes its network a linear map
that starts as the identity (:class:`~sksiamese.networks.LinearMap`).
The ROC AUC of the plain Euclidean distance between descriptors is
printed beside the others. Needs ``pip install 'sksiamese[faces]'``.

Which 10 people are unseen is ``--unseen``: 3 (people 31-40, the default
and the judged split), or 0, 1 or 2 for people 1-10, 11-20 or 21-30; the
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
        --fisher-features gabor --gabor-pool 2 --test-time-augment flip \
        --fisher-augment flip+lighting --fisher-components 100
    python benchmarks/bench_verifier_orl.py --features dlib --network linear \
        --n-networks 1 --embedding-dim 128 --fisher-weight 0 --loss triplet \
        --epochs 20 --lr 1e-3 --m-per-class 4 --batch-size 128 --no-cosine
    python benchmarks/bench_verifier_orl.py --data path/to/orl_faces.npz

The data file is the one described in ``../shared/data/README.md``.
"""

import argparse
import os
import time
import warnings
from pathlib import Path

import numpy as np
import torch
from sklearn.decomposition import PCA
from sklearn.discriminant_analysis import LinearDiscriminantAnalysis
from sklearn.metrics import brier_score_loss, log_loss, roc_auc_score
from sklearn.pipeline import make_pipeline
from skorch.callbacks import LRScheduler
from torch.optim.lr_scheduler import CosineAnnealingLR

from sksiamese import SiameseVerifier
from sksiamese._data import validate_samples
from sksiamese.augment import (
    Compose,
    RandomAffine,
    RandomErasing,
    RandomFlip,
    RandomLighting,
)
from sksiamese.features import FaceDescriptors, GaborFeatures
from sksiamese.verification import balanced_pairs, choose_threshold

DEFAULT_DATA = Path(__file__).resolve().parents[1] / ".." / "shared" / "data"
# thresholds compared on the same fit: "acc_<strategy>" in the results
STRATEGIES = ("accuracy", "eer")


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


def quietly(describe, photos):
    """Face descriptors of ``photos``; the warning that dlib's detector
    found no face in a few of them (the whole photo is then the face
    box) is printed once, shortened."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", UserWarning)
        rows = describe(photos)
    for w in caught:
        print(f"note: {str(w.message).split(';')[0]}; the whole photo was used")
    return rows


def make_fisher_augment(name):
    """The distortions of the discriminant's extra copies of the photos."""
    if name == "none":
        return None
    if name == "flip+lighting":
        return Compose([RandomFlip(), RandomLighting()])
    return name


def make_loss(args, n_classes=30):
    """A loss name for the verifier, or for ``arcface`` the
    pytorch-metric-learning loss with a learned proxy per training person
    (each network trains its own copy of the proxies)."""
    if args.loss != "arcface":
        return args.loss
    from pytorch_metric_learning import losses

    return losses.ArcFaceLoss(num_classes=n_classes, embedding_size=args.embedding_dim)


def make_verifier(args):
    callbacks = None
    if args.cosine and args.epochs > 1:
        callbacks = [
            (
                "cosine_lr",
                LRScheduler(policy=CosineAnnealingLR, T_max=args.epochs),
            )
        ]
    if args.network == "mlp":
        network_params = {
            "hidden": tuple(args.hidden),
            "dropout": args.dropout,
            "batch_norm": args.batch_norm,
            "pool": args.network_pool,
        }
    elif args.network == "linear":
        network_params = None
    else:
        network_params = {
            "channels": tuple(args.channels),
            "hidden": args.hidden[0],
            "dropout": args.dropout,
        }
    return SiameseVerifier(
        network=args.network,
        network_params=network_params,
        n_networks=args.n_networks,
        fisher_weight=args.fisher_weight,
        fisher_features=GaborFeatures(pool=args.gabor_pool)
        if args.fisher_features == "gabor"
        else args.fisher_features,
        fisher_components=args.fisher_components,
        fisher_mirror=args.fisher_mirror,
        fisher_augment=make_fisher_augment(args.fisher_augment),
        fisher_copies=args.fisher_copies,
        test_time_augment=None
        if args.test_time_augment == "none"
        else args.test_time_augment,
        embedding_dim=args.embedding_dim,
        loss=make_loss(args),
        margin=args.margin,
        miner=args.miner,
        m_per_class=args.m_per_class,
        augment=make_augment(args.augment),
        max_epochs=args.epochs,
        batch_size=args.batch_size,
        lr=args.lr,
        weight_decay=args.weight_decay,
        calibration=args.calibration,
        calibration_holdout=args.holdout,
        calibration_cv=args.cv or None,
        **({} if args.strategy is None else {"threshold_strategy": args.strategy}),
        callbacks=callbacks,
        device="cpu",
        random_state=args.seed,
    )


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
    return np.linalg.norm(z[idx[:, 0]] - z[idx[:, 1]], axis=1)


def raw_nearest(support, support_y, queries):
    s, q = flat(support), flat(queries)
    d = (q**2).sum(1)[:, None] - 2 * q @ s.T + (s**2).sum(1)[None, :]
    return support_y[d.argmin(axis=1)]


def fisher_projection(train_rows, y_train, test_rows, n_components):
    """Fisherfaces projection of ``test_rows``: whitened PCA and linear
    discriminant analysis fitted on ``train_rows`` (flattened photos)."""
    fisher = make_pipeline(
        PCA(n_components, whiten=True, random_state=0), LinearDiscriminantAnalysis()
    ).fit(train_rows, y_train)
    return fisher.transform(test_rows)


def fisherfaces(X_train, y_train, X_test, idx, n_components):
    """Distances of the test pairs ``idx`` between unit-length Fisherfaces
    projections fitted on the training people (the same photos as the
    networks')."""
    rows = lambda a: a.reshape(len(a), -1)  # noqa: E731
    z = fisher_projection(rows(X_train), y_train, rows(X_test), n_components)
    z /= np.linalg.norm(z, axis=1, keepdims=True)
    return pair_distances(z, idx)


def part_aucs(verifier, X_test, idx, same):
    """ROC AUC of the distances between the networks' embeddings alone and
    between the discriminant's alone (None without one), as the fitted
    verifier embeds the test photos (mirror images averaged when it
    does)."""
    X = validate_samples(verifier, X_test, reset=False)
    parts = [verifier._embed_networks(X)]
    if verifier.fisher_ is not None:
        parts.append(verifier._embed_fisher(X))
    aucs = [roc_auc_score(same, -pair_distances(z.astype(float), idx)) for z in parts]
    return aucs[0], aucs[1] if len(aucs) > 1 else None


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
    """Closed- and open-set one-shot identification over 10 rounds; the open
    set at ``threshold_`` and at a 1% false-accept threshold."""
    people = np.unique(y)
    strict = strategy_threshold(verifier, "far")  # 1% false accepts
    closed, closed_raw, open_set, open_strict = [], [], [], []
    for k in range(10):
        photo = np.array([np.flatnonzero(y == p)[k] for p in people])
        query = np.setdiff1d(np.arange(len(y)), photo)
        verifier.enroll(X[photo], y[photo], append=False)
        best = verifier.enrolled_identities_[
            verifier.identity_proba(X[query]).argmax(axis=1)
        ]
        closed.append(best == y[query])
        closed_raw.append(raw_nearest(X_raw[photo], y[photo], X_raw[query]) == y[query])
        # open set: the first (k-rotated) half of the people enrolled
        enrolled = np.roll(people, k)[: len(people) // 2]
        shown = photo[np.isin(y[photo], enrolled)]
        verifier.enroll(X[shown], y[shown], append=False)
        answer = verifier.identify(X[query], unknown_label=-1)
        truth = np.where(np.isin(y[query], enrolled), y[query], -1)
        open_set.append(answer == truth)
        answer = verifier.identify(X[query], unknown_label=-1, threshold=strict)
        open_strict.append(answer == truth)
    return (
        np.mean(np.concatenate(closed)),
        np.mean(np.concatenate(closed_raw)),
        np.mean(np.concatenate(open_set)),
        np.mean(np.concatenate(open_strict)),
    )


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
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
        help="what the verifier is given: the photos (averaged over "
        "--downsample blocks), or dlib's pretrained face descriptors of the "
        "full photos (FaceDescriptors)",
    )
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
        "--n-networks",
        type=int,
        default=3,
        help="networks trained and concatenated (n_networks)",
    )
    parser.add_argument(
        "--fisher-weight",
        type=float,
        default=0.5,
        help="share of the Fisher discriminant in the distance (fisher_weight); "
        "0 for the networks alone",
    )
    parser.add_argument(
        "--fisher-features",
        choices=["pixels", "gabor"],
        default="pixels",
        help="what the discriminant is fitted on (fisher_features)",
    )
    parser.add_argument(
        "--gabor-pool",
        type=int,
        default=1,
        help="with --fisher-features gabor: blocks averaged in each Gabor "
        "magnitude map (GaborFeatures(pool=...))",
    )
    parser.add_argument(
        "--network-pool",
        type=int,
        default=1,
        help="MLP only: the network reads the photos averaged over blocks of "
        "this side (MLP pool), e.g. --downsample 4 --network-pool 2 gives it "
        "14x11 while the Gabor features see 28x23",
    )
    parser.add_argument("--fisher-components", type=int, default=50)
    parser.add_argument(
        "--fisher-mirror",
        action="store_true",
        help="fit the discriminant on the photos and their mirror images "
        "(fisher_mirror)",
    )
    parser.add_argument(
        "--fisher-augment",
        choices=["flip+lighting", "lighting", "affine", "none"],
        default="none",
        help="fit the discriminant on --fisher-copies distorted copies of "
        "the photos too (fisher_augment); flip+lighting: mirrored at random "
        "and relit (RandomLighting)",
    )
    parser.add_argument(
        "--fisher-copies",
        type=int,
        default=3,
        help="with --fisher-augment: copies of each photo (fisher_copies)",
    )
    parser.add_argument(
        "--test-time-augment",
        choices=["flip", "none"],
        default="none",
        help="'flip': embed each photo and its mirror image, averaged "
        "(test_time_augment)",
    )
    parser.add_argument("--dropout", type=float, default=0.1)
    parser.add_argument("--embedding-dim", type=int, default=64)
    parser.add_argument(
        "--loss",
        default="contrastive",
        help="a loss name of the verifier (cosface: class proxies), or "
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
    parser.add_argument(
        "--unseen",
        choices=["0", "1", "2", "3", "random"],
        default="3",
        help="which 10 people are unseen: 0 for people 1-10, ..., "
        "3 (the default) for people 31-40; 'random': 10 people drawn "
        "with each seed, a different split per seed",
    )
    args = parser.parse_args(argv)
    if args.features == "dlib":
        image_only = {
            "--augment": args.augment not in (None, "none"),
            "--network conv": args.network == "conv",
            "--network-pool": args.network_pool != 1,
            "--fisher-features gabor": args.fisher_features != "pixels",
            "--fisher-augment": args.fisher_augment != "none",
            "--test-time-augment": args.test_time_augment != "none",
            "--fisher-mirror": args.fisher_mirror,
        }
        given = [name for name, on in image_only.items() if on]
        if given:
            parser.error(
                f"{', '.join(given)} work on photos, but --features dlib gives "
                "the verifier rows of face descriptors; leave them out."
            )
        args.augment = "none"
    elif args.augment is None:
        args.augment = "affine+flip+erase"
    args.seed = args.seeds[0]  # evaluate() fits with args.seed
    if args.unseen != "random":
        args.unseen = int(args.unseen)
    if args.margin != "auto":
        args.margin = float(args.margin)
    return args


def evaluate(args):
    """Fit on 30 people, judge on the 10 ``--unseen`` ones; return the numbers."""
    if args.threads:
        torch.set_num_threads(args.threads)
    path = Path(args.data) if args.data else DEFAULT_DATA / "orl_faces.npz"
    if not path.is_file():
        raise SystemExit(f"ORL data not found at {path}; pass --data.")
    images, target = load_orl(path)
    X = downsample(images, args.downsample) if args.downsample > 1 else images
    train, test = split_people(target, args.unseen, args.seed)
    X_train, y_train, X_test, y_test = X[train], target[train], X[test], target[test]
    pixels_train, pixels_test = X_train, X_test  # for the Fisherfaces baseline

    verifier = make_verifier(args)
    cpu0, wall0 = time.process_time(), time.perf_counter()
    if args.features == "dlib":
        # describing the training photos is part of fitting on them
        describe = FaceDescriptors().fit(images[train])
        X_train = quietly(describe.transform, images[train])
    verifier.fit(X_train, y_train)
    wall, cpu = time.perf_counter() - wall0, time.process_time() - cpu0
    if args.features == "dlib":
        X_test = quietly(describe.transform, images[test])

    idx, same = balanced_pairs(y_test, max_pairs=None, random_state=0)
    pairs = np.stack([X_test[idx[:, 0]], X_test[idx[:, 1]]], axis=1)
    proba = verifier.predict_proba(pairs)[:, 1]
    distances = -verifier.decision_function(pairs)
    cal_d, cal_same = verifier.calibration_distances_, verifier.calibration_same_
    by_strategy = {
        name: float(np.mean((proba >= strategy_threshold(verifier, name)) == same))
        for name in STRATEGIES
    }
    raw = images[test].reshape(int(test.sum()), -1) / 255.0
    raw_d = pair_distances(raw, idx)
    fisher_d = fisherfaces(
        pixels_train, y_train, pixels_test, idx, args.fisher_components
    )
    roc_auc_descriptors = (
        roc_auc_score(same, -pair_distances(X_test, idx))
        if args.features == "dlib"
        else None
    )
    auc_networks, auc_discriminant = part_aucs(verifier, X_test, idx, same)
    closed, closed_raw, open_set, open_strict = one_shot(
        verifier, X_test, y_test, images[test]
    )
    return {
        "verifier": verifier,
        "same": same,
        "proba": proba,
        "fit_wall": wall,
        "fit_cpu": cpu,
        "roc_auc": roc_auc_score(same, verifier.decision_function(pairs)),
        "roc_auc_raw": roc_auc_score(same, -raw_d),
        "roc_auc_fisher": roc_auc_score(same, -fisher_d),
        "roc_auc_descriptors": roc_auc_descriptors,
        "roc_auc_networks": auc_networks,
        "roc_auc_discriminant": auc_discriminant,
        "accuracy": float(np.mean(verifier.predict(pairs) == same)),
        "accuracy_half": float(np.mean((proba >= 0.5) == same)),
        **{f"acc_{name}": acc for name, acc in by_strategy.items()},
        "people": unseen_people(target, test),
        "brier": brier_score_loss(same, proba),
        "log_loss": log_loss(same, np.clip(proba, 1e-15, 1 - 1e-15)),
        "same_median": float(np.median(distances[same == 1])),
        "cal_same_median": float(np.median(cal_d[cal_same == 1])),
        "best_distance": best_distance(distances, same),
        "errors": errors_by_person(
            distances, same, idx, y_test, best_distance(distances, same)[0]
        ),
        "cal_best_distance": best_distance(cal_d, cal_same),
        "one_shot": closed,
        "one_shot_raw": closed_raw,
        "open_set": open_set,
        "open_set_far": open_strict,
    }


def report(r, args):
    v = r["verifier"]
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
        f"{v.n_iter_} epochs each)"
    )
    print(
        f"ROC AUC:                         {r['roc_auc']:.4f}   "
        f"(raw pixels {r['roc_auc_raw']:.4f}, Fisherfaces "
        f"{r['roc_auc_fisher']:.4f}"
        + (
            ""
            if r["roc_auc_descriptors"] is None
            else f", face descriptors {r['roc_auc_descriptors']:.4f}"
        )
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


SUMMARY = (
    "roc_auc",
    "roc_auc_networks",
    "roc_auc_discriminant",
    "accuracy",
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
        short = {"roc_auc_networks": "auc_nets", "roc_auc_discriminant": "auc_discrim"}
        print(f"{'':>10}" + "".join(f"{short.get(k, k):>14}" for k in keys))
        for name, fn in (("mean", np.mean), ("min", np.min), ("max", np.max)):
            row = "".join(f"{fn([r[k] for r in results]):>14.4f}" for k in keys)
            print(f"{name:>10}{row}")


if __name__ == "__main__":
    main()
