"""Linear models of ORL faces on people never seen in training.

No network is trained: these are the closed-form models that can stand
beside the networks of ``bench_verifier_orl.py``, fitted on the 14x11
photos (8x8 block means) of 30 people and judged by the ROC AUC of all
"same" pairs of the other 10 people and as many "different" pairs
(:func:`~sksiamese.verification.balanced_pairs`, ``random_state=0``). The
ten unseen people are each block of ten (people 1-10, ..., 31-40, the
last one the judged split of the verifier's issue) and ``--random`` sets
of ten drawn with seeds 10, 11, ...

Printed, per split and as means over the blocks, over the random sets and
over all:

* ``raw``: Euclidean distance of the pixels;
* ``fisher``: whitened PCA to ``--components`` dimensions, then LDA, the
  projection scaled to unit length (as ``fisher_weight`` puts it beside
  the networks, and as ``bench_verifier_orl.py`` prints it);
* ``fisher own length``: the same projection left at its own length;
* ``gabor``: the same discriminant (unit length) on
  :class:`~sksiamese.features.GaborFeatures` of the 14x11 photos, as
  ``fisher_features="gabor"`` fits it beside the networks;
* ``gabor 28x23``: on those of the 28x23 photos (4x4 block means), each
  magnitude map averaged over 2x2 blocks (``GaborFeatures(pool=2)``);
* ``gabor lit``: as ``gabor 28x23``, the discriminant fitted on three
  copies of each training photo as well, each mirrored at random and
  relit (``RandomFlip`` and ``RandomLighting``, seeded), as
  ``fisher_augment=Compose([RandomFlip(), RandomLighting()])`` fits it
  beside the networks;
* ``PLDA``: the log-likelihood ratio of a two-covariance model (class means
  and within-class deviations, both Gaussian) in whitened PCA of
  ``--plda-components`` dimensions, fitted on the photos and their mirror
  images, each photo scored by the mean of its own and its mirror image's
  PCA coordinates.

Usage::

    python benchmarks/bench_orl_linear.py [--components 50] [--random 16]
"""

import argparse
from pathlib import Path

import numpy as np
import torch
from bench_verifier_orl import (
    DEFAULT_DATA,
    downsample,
    fisher_projection,
    flat,
    load_orl,
    make_fisher_augment,
    pair_distances,
    split_people,
)
from sklearn.decomposition import PCA
from sklearn.metrics import roc_auc_score

from sksiamese.features import GaborFeatures
from sksiamese.verification import balanced_pairs


def fisher_scores(X_train, y_train, X_test, idx, n_components):
    """Minus the pair distances of the unit-length and own-length projections."""
    z = fisher_projection(flat(X_train), y_train, flat(X_test), n_components)
    unit = z / np.linalg.norm(z, axis=1, keepdims=True)
    return -pair_distances(unit, idx), -pair_distances(z, idx)


def relit_copies(X, y, copies=3, seed=0):
    """``X`` and ``copies`` mirrored-at-random, relit copies of it, with
    their labels."""
    augment = make_fisher_augment("flip+lighting")
    generator = torch.Generator().manual_seed(seed)
    images = torch.from_numpy(np.ascontiguousarray(X[:, None]))
    out = [X] + [augment(images, generator)[:, 0].numpy() for _ in range(copies)]
    return np.concatenate(out), np.tile(y, copies + 1)


def gabor_scores(X_train, y_train, X_test, idx, n_components, pool):
    """Minus the pair distances of the unit-length discriminant of Gabor
    features."""
    gabor = GaborFeatures(pool=pool).fit(X_train)
    G_train, G_test = gabor.transform(X_train), gabor.transform(X_test)
    return fisher_scores(G_train, y_train, G_test, idx, n_components)[0]


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
    args = parser.parse_args(argv)
    path = Path(args.data) if args.data else DEFAULT_DATA / "orl_faces.npz"
    if not path.is_file():
        raise SystemExit(f"ORL data not found at {path}; pass --data.")
    images, target = load_orl(path)
    X = downsample(images, 8)
    X28 = downsample(images, 4)
    names = (
        "raw",
        "fisher",
        "fisher own length",
        "gabor",
        "gabor 28x23",
        "gabor lit",
        "PLDA",
    )
    rows = {}
    print(f"{'unseen':<16}" + "".join(f"{n:>13}" for n in names))
    for label, test in splits(target, args.random):
        train = ~test
        X_tr, y_tr, X_te = X[train], target[train], X[test]
        idx, same = balanced_pairs(target[test], max_pairs=None, random_state=0)
        unit, own = fisher_scores(X_tr, y_tr, X_te, idx, args.components)
        scores = (
            -pair_distances(flat(X_te), idx),
            unit,
            own,
            gabor_scores(X_tr, y_tr, X_te, idx, args.components, 1),
            gabor_scores(X28[train], y_tr, X28[test], idx, args.components, 2),
            gabor_scores(
                *relit_copies(X28[train], y_tr), X28[test], idx, args.components, 2
            ),
            plda_scores(X_tr, y_tr, X_te, idx, args.plda_components),
        )
        rows[label] = [roc_auc_score(same, s) for s in scores]
        print(f"{label:<16}" + "".join(f"{v:>13.4f}" for v in rows[label]))
    values = np.array(list(rows.values()))
    print("ROC AUC means:")
    for label, sel in (
        ("four blocks", slice(0, 4)),
        (f"{args.random} random", slice(4, None)),
        ("all", slice(None)),
    ):
        if len(values[sel]):
            print(f"{label:<16}" + "".join(f"{v:>13.4f}" for v in values[sel].mean(0)))


if __name__ == "__main__":
    main()
