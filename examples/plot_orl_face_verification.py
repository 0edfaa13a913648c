"""
======================================================================
Face verification: new people, a calibrated threshold, and enrolment
======================================================================

Is this the same person? A face verifier must answer for people it has
never seen, from a handful of photos each. This example trains a
:class:`~sksiamese.SiameseVerifier` on the photos of 30 people of the ORL
(AT&T) face database, 10 photos each, and judges it on the other 10 people:

* pairs of photos of the unseen people, with the calibrated probability
  ``P(same)`` and the verdict at a threshold tuned on held-out *people*;
* the distances of all their pairs, the threshold and the ROC/DET curves;
* enrolment: one photo of each new person is registered with
  :meth:`~sksiamese.SiameseVerifier.enroll`, without retraining, and the
  other photos are recognised with
  :meth:`~sksiamese.SiameseVerifier.identify`, including people who were
  never enrolled and must be answered "unknown".

**Data.** The ORL faces are not shipped with this package (sksiamese never
needs them). The example reads ``orl_faces.npz`` (arrays ``images``, 400 x
112 x 92 uint8, and ``target``, the person 0-39) from the folder named by
the environment variable ``SKSIAMESE_DATA``, or else from ``../shared/data``
as seen from the project's root folder. Without the file it runs the same
steps on scikit-learn's handwritten digits, with digits 0-6 as the known
"people" and 7-9 as the new ones, so that it always runs.
"""

# %%
# Data
# ----
# The faces are averaged over 2x2 blocks (56 x 46 pixels), which keeps what
# tells people apart and quarters the cost.
import os
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
from sklearn.datasets import load_digits
from sklearn.metrics import brier_score_loss

from sksiamese import SiameseVerifier
from sksiamese.plotting import (
    DistanceHistogramDisplay,
    PairsDisplay,
    VerificationCurveDisplay,
)
from sksiamese.verification import balanced_pairs


def find_orl():
    # this file's folder; the working directory where __file__ is not set
    here = Path(__file__).resolve().parent if "__file__" in globals() else Path.cwd()
    folder = os.environ.get("SKSIAMESE_DATA", here.parent.parent / "shared" / "data")
    path = Path(folder) / "orl_faces.npz"
    return path if path.is_file() else None


path = find_orl()
if path is not None:
    data = np.load(path)
    images, person = data["images"], data["target"]
    n, h, w = images.shape
    X = images.reshape(n, h // 2, 2, w // 2, 2).mean(axis=(2, 4)) / 255.0
    X = X.astype(np.float32)
    known = person < 30
    source = f"ORL faces from {path}"
else:
    digits = load_digits()
    X, person = (digits.images / 16.0).astype(np.float32), digits.target
    known = person < 7
    source = "scikit-learn's digits (ORL faces not found)"

X_known, y_known = X[known], person[known]
X_new, y_new = X[~known], person[~known]
print(source)
print(f"known: {len(np.unique(y_known))} people, {len(X_known)} images")
print(f"new:   {len(np.unique(y_new))} people, {len(X_new)} images")

# %%
# Training on the known people
# ----------------------------
# Triplet loss with semi-hard mining over batches of 4 photos per person.
# ``calibration_holdout="classes"`` keeps whole people out of training: the
# map from distance to ``P(same)`` and the threshold (tuned for accuracy)
# are fitted on pairs of people the network never saw, which is the
# situation the verifier will face.
verifier = SiameseVerifier(
    embedding_dim=32,
    max_epochs=30,
    batch_size=64,
    calibration_holdout="classes",
    device="cpu",
    random_state=0,
)
verifier.fit(X_known, y_known)
print(f"threshold_ on P(same): {verifier.threshold_:.3f} ({verifier.calibration_})")

# %%
# Pairs of new people
# -------------------
# All "same" pairs of the new people (450 for ten people with ten photos;
# at most 2,000) and as many "different" pairs. A few
# of each, with ``P(same)``, the verdict at ``threshold_`` and whether it
# is right.
idx, same = balanced_pairs(y_new, max_pairs=4000, random_state=0)
pairs = np.stack([X_new[idx[:, 0]], X_new[idx[:, 1]]], axis=1)
rng = np.random.default_rng(1)
shown = np.concatenate(
    [
        rng.choice(np.flatnonzero(same == 1), 4, replace=False),
        rng.choice(np.flatnonzero(same == 0), 4, replace=False),
    ]
)
PairsDisplay.from_estimator(verifier, pairs[shown], same[shown])
plt.show()

# %%
# How well are new people told apart?
# -----------------------------------
# Distances of all pairs of new people, the threshold the verifier chose on
# held-out known people, and its calibrated ``P(same)``. Accuracy at that
# threshold, and the Brier score of ``P(same)`` (the mean squared error of
# the probability; 0.25 for a constant 0.5).
p_same = verifier.predict_proba(pairs)[:, 1]
print(f"{int(same.sum())} same and {int((1 - same).sum())} different pairs")
print(f"accuracy at threshold_: {np.mean(verifier.predict(pairs) == same):.3f}")
print(f"Brier score of P(same): {brier_score_loss(same, p_same):.3f}")
DistanceHistogramDisplay.from_estimator(verifier, pairs, same, bins=40)
plt.show()

# %%
# The ROC curve (left) and the DET curve (right) show every other
# threshold: the star is the verifier's, the circle the equal error rate.
fig, (ax_roc, ax_det) = plt.subplots(1, 2, figsize=(11, 5.2), layout="constrained")
VerificationCurveDisplay.from_estimator(verifier, pairs, same, ax=ax_roc)
VerificationCurveDisplay.from_estimator(verifier, pairs, same, kind="det", ax=ax_det)
plt.show()

# %%
# Enrolling new people
# --------------------
# One photo of each new person is enrolled; every other photo of them is a
# query. ``identify`` names the enrolled person with the highest
# ``P(same)`` when it reaches ``threshold_``, and answers ``-1``
# ("unknown") otherwise. Nothing is retrained.
first = np.array([np.flatnonzero(y_new == p)[0] for p in np.unique(y_new)])
queries = np.setdiff1d(np.arange(len(y_new)), first)
verifier.enroll(X_new[first], y_new[first], append=False)
answer = verifier.identify(X_new[queries])
print(f"{len(first)} people enrolled with one photo each, {len(queries)} queries")
print(f"named correctly: {np.mean(answer == y_new[queries]):.3f}")
print(f"answered 'unknown': {np.mean(answer == -1):.3f}")

# %%
# Each query next to the enrolled photo it resembles most, with that
# ``P(same)``: "same" means the query was given that person's name, and the
# mark says whether it is truly that person.
proba = verifier.identity_proba(X_new[queries])
best = proba.argmax(axis=1)
best_photo = first[best]  # enrolled photos are in the order of the identities
some = rng.choice(len(queries), 8, replace=False)
PairsDisplay.from_predictions(
    np.stack([X_new[queries[some]], X_new[best_photo[some]]], axis=1),
    proba[some, best[some]],
    threshold=verifier.threshold_,
    same=y_new[best_photo[some]] == y_new[queries[some]],
    title="Queries (left of each pair) and their best enrolled match",
)
plt.show()

# %%
# People who were never enrolled
# ------------------------------
# Now only half of the new people are enrolled. Queries of the other half
# have no right name: the verifier must answer "unknown" for them. The
# threshold decides the trade: ``threshold_`` was tuned for accuracy on
# balanced pairs, and a stricter one turns away more strangers at the cost
# of failing to name more enrolled people. ``identify`` uses
# ``threshold_``; the other rows apply its rule (the best enrolled person
# if its ``P(same)`` reaches the threshold, else "unknown") at stricter
# thresholds. For a verifier meant to turn strangers away, fit with
# ``threshold_strategy="far"`` and a ``target_far``.
half = first[: len(first) // 2]
verifier.enroll(X_new[half], y_new[half], append=False)
answer = verifier.identify(X_new[queries])
proba = verifier.identity_proba(X_new[queries])
named = verifier.enrolled_identities_[proba.argmax(axis=1)]
truth = y_new[queries]
enrolled = np.isin(truth, y_new[half])
print(f"{'threshold':>10}  {'enrolled: named right':>22}  {'others: unknown':>16}")
for t in [verifier.threshold_, 0.6, 0.8, 0.95]:
    accepted = proba.max(axis=1) >= t
    if t == verifier.threshold_:
        assert np.array_equal(np.where(accepted, named, -1), answer)
    right = np.mean(accepted[enrolled] & (named[enrolled] == truth[enrolled]))
    print(f"{t:>10.3f}  {right:>22.3f}  {np.mean(~accepted[~enrolled]):>16.3f}")

# %%
# Starting from a pretrained face network
# ---------------------------------------
# Thirty people are few to learn faces from. dlib's face network, trained on
# about three million photos of other people, describes each face by 128
# numbers (:class:`~sksiamese.features.FaceDescriptors`, ``pip install
# 'sksiamese[faces]'``). The descriptors need no training, so they are
# computed once; the verifier then learns on those rows from the same 30
# people as above, and pairs are pairs of rows. Its network is a linear map
# that starts as the identity (:class:`~sksiamese.networks.LinearMap`), so
# training refines the descriptors' distances instead of starting from a
# random projection. Its calibration, threshold and enrolment work as
# before. (Skipped without dlib or without the ORL
# faces: the network describes faces, not digits.)
try:
    from sksiamese.features import FaceDescriptors

    FaceDescriptors().fit(np.zeros((1, 8, 8), dtype=np.uint8))
    has_dlib = True
except ImportError:
    has_dlib = False

if path is not None and has_dlib:
    import warnings

    from sklearn.metrics import roc_auc_score

    with warnings.catch_warnings():
        # dlib's detector misses a few of the small photos; the whole photo
        # is then taken as the face, which works for these cropped faces
        warnings.simplefilter("ignore", UserWarning)
        D = FaceDescriptors().fit_transform(images)
    on_faces = SiameseVerifier(
        network="linear",  # a linear map that starts as the identity
        embedding_dim=128,  # the width of the descriptors
        calibration_cv=5,
        device="cpu",
        random_state=0,
    ).fit(D[known], person[known])
    D_new = D[~known]
    face_pairs = np.stack([D_new[idx[:, 0]], D_new[idx[:, 1]]], axis=1)
    print("ROC AUC on pairs of new people:")
    print(f"  verifier on photos:           {roc_auc_score(same, p_same):.4f}")
    print(
        "  verifier on face descriptors: "
        f"{roc_auc_score(same, on_faces.decision_function(face_pairs)):.4f}"
    )
    print(
        "accuracy at threshold_:        "
        f"{np.mean(on_faces.predict(face_pairs) == same):.4f}"
    )
    fig, (ax_roc, ax_hist) = plt.subplots(1, 2, figsize=(11, 5.2), layout="constrained")
    VerificationCurveDisplay.from_estimator(
        verifier, pairs, same, ax=ax_roc, name="photos"
    )
    VerificationCurveDisplay.from_estimator(
        on_faces, face_pairs, same, ax=ax_roc, name="face descriptors"
    )
    DistanceHistogramDisplay.from_estimator(
        on_faces, face_pairs, same, bins=40, ax=ax_hist
    )
    plt.show()
