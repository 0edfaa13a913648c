"""Linear models of ORL faces on people never seen in training.

No network is trained: these are the closed-form models that can stand
beside the networks of ``bench_verifier_orl.py``, fitted on the 14x11
photos (8x8 block means) of 30 people and judged by the ROC AUC of all
"same" pairs of the other 10 people and as many "different" pairs
(:func:`~sksiamese.verification.balanced_pairs`, ``random_state=0``). The
ten unseen people are each block of ten (people 1-10, ..., 31-40, the
last one the default split of ``bench_verifier_orl.py``) and ``--random`` sets
of ten drawn with seeds 10, 11, ...

Printed, per split and as means over the blocks, over the random sets and
over all:

* ``raw``: Euclidean distance of the pixels;
* ``fisher``: the discriminant that ``bench_verifier_orl.py`` puts beside
  the networks (its ``make_discriminant``): ``Flatten()``, whitened
  ``PCA`` to ``--components`` dimensions, ``LinearDiscriminantAnalysis``
  and ``Normalizer()``, the projection at unit length, as that script
  prints it under "Fisherfaces";
* ``fisher own length``: the same projection left at its own length (the
  pipeline without its ``Normalizer``);
* ``gabor``: the same discriminant (unit length) on
  :class:`~sksiamese.features.GaborFeatures` of the 14x11 photos, as
  ``--fisher-features gabor`` fits it beside the networks;
* ``gabor 28x23``: on those of the 28x23 photos (4x4 block means), each
  magnitude map averaged over 2x2 blocks (``GaborFeatures(pool=2)``);
* ``PLDA``: the log-likelihood ratio of a two-covariance model (class means
  and within-class deviations, both Gaussian) in whitened PCA of
  ``--plda-components`` dimensions, fitted on the photos and their mirror
  images, each photo scored by the mean of its own and its mirror image's
  PCA coordinates.

The discriminant fitted on relit copies of the training photos as well
(the ``gabor lit`` column of earlier versions) went with the verifier's
``fisher_augment``, removed in 0.2.

Usage::

    python benchmarks/bench_orl_linear.py [--components 50] [--random 16]

``--figure PATH`` draws the ROC AUC of each model over the four blocks and
over the random sets (a dot per split), ``--results PATH`` writes the
values as JSON.
"""

import argparse
from pathlib import Path

import numpy as np
from _common import add_output_options, write_outputs
from bench_verifier_orl import (
    DEFAULT_DATA,
    downsample,
    flat,
    load_orl,
    make_discriminant,
    pair_distances,
    split_people,
)
from sklearn.decomposition import PCA
from sklearn.metrics import roc_auc_score

from sksiamese.features import GaborFeatures
from sksiamese.verification import balanced_pairs


def fisher_scores(X_train, y_train, X_test, idx, n_components):
    """Minus the pair distances of the unit-length and own-length projections."""
    fisher = make_discriminant("pixels", n_components).fit(X_train, y_train)
    unit, own = fisher.transform(X_test), fisher[:-1].transform(X_test)
    return -pair_distances(unit, idx), -pair_distances(own, idx)


def gabor_features(images, pool=1):
    """Gabor features of every photo: they are computed photo by photo and
    learn nothing, so once for all the splits."""
    return GaborFeatures(pool=pool).fit_transform(images)


def gabor_scores(G_train, y_train, G_test, idx, n_components):
    """Minus the pair distances of the unit-length discriminant of Gabor
    features ``G`` (the steps of ``make_discriminant("gabor")`` after the
    Gabor filters)."""
    fisher = make_discriminant("pixels", n_components).fit(G_train, y_train)
    return -pair_distances(fisher.transform(G_test), idx)


def plda_scores(X_train, y_train, X_test, idx, n_components, reg=1e-3):
    """Log-likelihood ratio "same" against "different" of each pair under a
    two-covariance model fitted in whitened PCA coordinates."""
    X_aug = np.concatenate([X_train, X_train[:, :, ::-1]])
    y_aug = np.concatenate([y_train, y_train])
    pca = PCA(n_components, whiten=True, random_state=0).fit(flat(X_aug))
    P = pca.transform(flat(X_aug))
    mean = P.mean(axis=0)
    P -= mean
    classes = np.unique(y_aug)
    centres = np.array([P[y_aug == c].mean(axis=0) for c in classes])
    within = sum(
        np.cov((P[y_aug == c] - centres[i]).T, bias=True) for i, c in enumerate(classes)
    ) / len(classes)
    within += reg * np.trace(within) / n_components * np.eye(n_components)
    between = np.cov(centres.T, bias=True)
    total = between + within
    joint = np.linalg.inv(np.block([[total, between], [between, total]]))
    A = np.linalg.inv(total) - joint[:n_components, :n_components]
    G = -joint[:n_components, n_components:]
    C = (pca.transform(flat(X_test)) + pca.transform(flat(X_test[:, :, ::-1]))) / 2
    C -= mean
    a, b = C[idx[:, 0]], C[idx[:, 1]]
    quad = lambda u, M, v: np.einsum("ij,jk,ik->i", u, M, v)  # noqa: E731
    return quad(a, A, a) + quad(b, A, b) + 2 * quad(a, G, b)


def splits(target, n_random):
    """(label, test mask) of the four blocks and of ``n_random`` random sets,
    the splits of ``bench_verifier_orl.py --unseen random --seeds 10 ...``."""
    for block in range(4):
        label = f"people {10 * block + 1}-{10 * block + 10}"
        yield label, split_people(target, block)[1]
    for seed in range(10, 10 + n_random):
        yield f"random {seed}", split_people(target, "random", seed)[1]


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default=None, help="path to orl_faces.npz")
    parser.add_argument("--components", type=int, default=50)
    parser.add_argument("--plda-components", type=int, default=40)
    parser.add_argument("--random", type=int, default=16)
    add_output_options(parser)
    args = parser.parse_args(argv)
    path = Path(args.data) if args.data else DEFAULT_DATA / "orl_faces.npz"
    if not path.is_file():
        raise SystemExit(f"ORL data not found at {path}; pass --data.")
    images, target = load_orl(path)
    X = downsample(images, 8)
    G14, G28 = gabor_features(X), gabor_features(downsample(images, 4), pool=2)
    names = (
        "raw",
        "fisher",
        "fisher own length",
        "gabor",
        "gabor 28x23",
        "PLDA",
    )
    rows, width = {}, max(13, max(map(len, names)) + 1)
    print(f"{'unseen':<16}" + "".join(f"{n:>{width}}" for n in names))
    for label, test in splits(target, args.random):
        train = ~test
        X_tr, y_tr, X_te = X[train], target[train], X[test]
        idx, same = balanced_pairs(target[test], max_pairs=None, random_state=0)
        unit, own = fisher_scores(X_tr, y_tr, X_te, idx, args.components)
        scores = (
            -pair_distances(flat(X_te), idx),
            unit,
            own,
            gabor_scores(G14[train], y_tr, G14[test], idx, args.components),
            gabor_scores(G28[train], y_tr, G28[test], idx, args.components),
            plda_scores(X_tr, y_tr, X_te, idx, args.plda_components),
        )
        rows[label] = [roc_auc_score(same, s) for s in scores]
        print(f"{label:<16}" + "".join(f"{v:>{width}.4f}" for v in rows[label]))
    values = np.array(list(rows.values()))
    print("ROC AUC means:")
    for label, sel in (
        ("four blocks", slice(0, 4)),
        (f"{args.random} random", slice(4, None)),
        ("all", slice(None)),
    ):
        if len(values[sel]):
            means = values[sel].mean(0)
            print(f"{label:<16}" + "".join(f"{v:>{width}.4f}" for v in means))
    write_outputs(args, figure_record(rows, names, args))


LONG_NAMES = {
    "raw": "raw pixels",
    "fisher": "Fisherfaces, 14x11",
    "fisher own length": "Fisherfaces, own length",
    "gabor": "Gabor + discriminant, 14x11",
    "gabor 28x23": "Gabor + discriminant, 28x23",
    "PLDA": "PLDA, 14x11",
}


def figure_record(rows, names, args):
    """ROC AUC per model and split, as printed."""
    labels = list(rows)
    groups = (
        ("four blocks of ten people", labels[:4]),
        (f"{args.random} random sets of ten people", labels[4:]),
    )
    panels = []
    for title, split_labels in groups:
        if not split_labels:
            continue
        items = [
            {
                "label": LONG_NAMES.get(name, name),
                "values": [rows[label][j] for label in split_labels],
                "colour": 5 if j == 0 else 0,
            }
            for j, name in enumerate(names)
        ]
        panels.append(
            {
                "kind": "bars",
                "title": title,
                "items": items,
                "xlabel": "ROC AUC on the unseen people's pairs",
                "xlim": (0.9, 1.0),
                "fmt": "{:.4f}",
            }
        )
    return {
        "benchmark": "orl_linear",
        "splits": rows,
        "models": names,
        "title": "ORL: linear models fitted on 30 people, tested on 10 others "
        "(no network)",
        "panels": panels,
        "panel_size": (5.0, 3.0),
    }


if __name__ == "__main__":
    main()
