"""
======================================================================
Face verification: new people, a calibrated threshold, and enrolment
======================================================================

Is this the same person? A face verifier must answer for people it has
never seen, from a handful of photos each. This example trains a
:class:`~sksiamese.SiameseVerifier`, built on a
:class:`~sksiamese.SiameseEmbedder`, on the photos of 30 people of the ORL
(AT&T) face database, 10 photos each, and judges it on the other 10 people:

* pairs of photos of the unseen people, with the calibrated probability
  ``P(same)`` and the verdict at a threshold tuned on held-out *people*;
* the distances of all their pairs, the threshold and the ROC/DET curves;
* enrolment: one photo of each new person is registered in a
  :class:`~sksiamese.Gallery` on the fitted verifier, without retraining,
  and the other photos are recognised with
  :meth:`~sksiamese.Gallery.identify`, including people who were never
  enrolled and must be answered "unknown".

**Data.** The ORL faces are not shipped with this package (sksiamese never
needs them). The example reads ``orl_faces.npz`` (arrays ``images``, 400 x
112 x 92 uint8, and ``target``, the person 0-39) from the folder named by
the environment variable ``SKSIAMESE_DATA``, or else from ``../shared/data``
as seen from the project's root folder, and stops with an error without
it. Its last section needs dlib's face models (``pip install
'sksiamese[faces]'``).
"""

# %%
# Data
# ----
# The faces are averaged over 2x2 blocks (56 x 46 pixels), which keeps what
# tells people apart and quarters the cost.
import os
import warnings
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
from sklearn.metrics import brier_score_loss, roc_auc_score

from sksiamese import Gallery, SiameseEmbedder, SiameseVerifier
from sksiamese.features import FaceDescriptors
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
    if not path.is_file():
        raise FileNotFoundError(
            f"This example needs the ORL (AT&T) faces as {path}: a numpy .npz "
            "file with 'images' (400 x 112 x 92 uint8, the photos of the AT&T "
            "database of faces, person by person) and 'target' (the person, "
            "0-39). Save them there with numpy.savez, or set SKSIAMESE_DATA "
            "to the folder that holds the file."
        )
    return path


data = np.load(find_orl())
images, person = data["images"], data["target"]
n, h, w = images.shape
X = images.reshape(n, h // 2, 2, w // 2, 2).mean(axis=(2, 4)) / 255.0
X = X.astype(np.float32)
known = person < 30
X_known, y_known = X[known], person[known]
X_new, y_new = X[~known], person[~known]
print(f"ORL faces, {h // 2} x {w // 2} pixels")
print(f"known: {len(np.unique(y_known))} people, {len(X_known)} images")
print(f"new:   {len(np.unique(y_new))} people, {len(X_new)} images")

# %%
# Training on the known people
# ----------------------------
# The embedder learns the network with its defaults: multi-similarity loss
# over batches of 4 photos per person, each photo slightly and randomly
# rotated, scaled and shifted. The verifier fits it and calibrates it:
# ``calibration_holdout="classes"`` keeps whole people out of the
# embedder's training, so that the map from distance to ``P(same)`` and the
# threshold (tuned for accuracy) are fitted on pairs of people the network
# never saw, which is the situation the verifier will face.
embedder = SiameseEmbedder(
    embedding_dim=32, max_epochs=30, batch_size=64, device="cpu", random_state=0
)
verifier = SiameseVerifier(embedder, calibration_holdout="classes", random_state=0)
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
# One photo of each new person is enrolled in a :class:`~sksiamese.Gallery`
# on the fitted verifier; every other photo of them is a query.
# ``identify`` names the enrolled person whose photo is nearest when
# ``P(same)`` at that distance reaches the threshold (the verifier's
# ``threshold_`` unless the gallery is given one), and answers ``-1``
# ("unknown") otherwise. Nothing is retrained.
first = np.array([np.flatnonzero(y_new == p)[0] for p in np.unique(y_new)])
queries = np.setdiff1d(np.arange(len(y_new)), first)
truth = y_new[queries]
gallery = Gallery(verifier).fit(X_new[first], y_new[first])
answer = gallery.identify(X_new[queries])
print(f"{len(first)} people enrolled with one photo each, {len(queries)} queries")
print(f"named correctly: {np.mean(answer == truth):.3f}")
print(f"answered 'unknown': {np.mean(answer == -1):.3f}")


# %%
# Each query (left of a pair) next to the enrolled photo nearest to it
# (right), each titled with its person, and the gallery's answer above
# them: the name when ``P(same)`` of that photo reaches the threshold,
# "unknown" when it does not. Every query's person is enrolled here, so an
# answer is right (green, ✓) only when it names the query's person; a
# wrong name and "unknown" are both misses (red, ✗). The first three pairs
# are misses of three people, when there are that many.
def show_answers(queries, nearest, p_same, answers, threshold, title):
    fig = plt.figure(figsize=(12.8, 5.4), layout="constrained")
    cells = fig.subfigures(2, 4).ravel()
    for cell, q, m, p, answer in zip(
        cells, queries, nearest, p_same, answers, strict=True
    ):
        right = answer == y_new[q]
        said = "unknown" if answer == -1 else f"named {answer}"
        sign = ">=" if p >= threshold else "<"
        cell.suptitle(
            f"P(same) {p:.2f} {sign} {threshold:.2f}: {said} {'✓' if right else '✗'}",
            color="tab:green" if right else "tab:red",
            fontsize=10,
        )
        for ax, i, who in zip(
            cell.subplots(1, 2), (q, m), ("query", "enrolled"), strict=True
        ):
            ax.imshow(X_new[i], cmap="gray", vmin=0, vmax=1)
            ax.set_title(f"{who}: person {y_new[i]}", fontsize=9)
            ax.set_axis_off()
    fig.suptitle(title)
    return fig


_, nearest = gallery.kneighbors(X_new[queries], n_neighbors=1)
match = first[nearest[:, 0]]  # the nearest enrolled photo of each query
p_best = gallery.identity_proba(X_new[queries]).max(axis=1)
missed = np.flatnonzero(answer != truth)
missed = missed[np.unique(truth[missed], return_index=True)[1]]  # one a person
named_right = rng.permutation(np.flatnonzero(answer == truth))
some = np.concatenate([missed[:3], named_right])[:8]
show_answers(
    queries[some],
    match[some],
    p_best[some],
    answer[some],
    gallery.threshold_,
    "Queries and the enrolled photo nearest to each",
)
plt.show()

# %%
# People who were never enrolled
# ------------------------------
# Now only half of the new people are enrolled. Queries of the other half
# have no right name: the gallery must answer "unknown" for them. The
# threshold decides the trade: the verifier's ``threshold_`` was tuned for
# accuracy on balanced pairs, and a stricter one, given to the gallery as
# ``Gallery(verifier, threshold=...)``, turns away more strangers at the
# cost of failing to name more enrolled people. A threshold for a target
# false-accept rate comes from labelled pairs:
# ``verifier.calibrate_threshold(pairs, same, strategy="far",
# target_far=0.01)``.
half = first[: len(first) // 2]
enrolled = np.isin(truth, y_new[half])
print(f"{'threshold':>10}  {'enrolled: named right':>22}  {'others: unknown':>16}")
for t in [verifier.threshold_, 0.6, 0.8, 0.95]:
    gallery = Gallery(verifier, threshold=t).fit(X_new[half], y_new[half])
    answer = gallery.identify(X_new[queries])
    right = np.mean(answer[enrolled] == truth[enrolled])
    print(f"{t:>10.3f}  {right:>22.3f}  {np.mean(answer[~enrolled] == -1):>16.3f}")

# %%
# Starting from a pretrained face network
# ---------------------------------------
# Thirty people are few to learn faces from. dlib's face network, trained on
# about three million photos of other people, describes each face by 128
# numbers (:class:`~sksiamese.features.FaceDescriptors`, ``pip install
# 'sksiamese[faces]'``). The descriptors need no training, so they are
# computed once, and the verifier learns on those rows of the same 30
# people as above; pairs are pairs of rows. Its embedder is a linear map
# that starts as the identity (``SiameseEmbedder("linear")``,
# :class:`~sksiamese.networks.LinearMap`), so training refines the
# descriptors' distances instead of starting from a random projection.
# Triplet loss at ``lr=1e-3`` refines them gently; the embedder's defaults
# (multi-similarity loss at ``lr=3e-3``) moved them away from what tells
# these people apart, to a ROC AUC below that of the descriptors alone.
# ``calibration_cv=5`` calibrates on five embedders fitted without a fifth
# of the people each, and fits the final one on all 30. Its calibration,
# threshold and gallery work as before. With
# ``make_pipeline(FaceDescriptors(), SiameseEmbedder("linear",
# embedding_dim=128))`` as the embedder, the verifier and its gallery take
# the photos themselves, and describe them at every call. dlib's network
# takes about a second per photo on two CPU cores, so the verifier learns
# here from three photos of each of the 30 people, and all ten photos of
# the new people are described to judge it.
described = ~known | (np.arange(len(person)) % 10 < 3)
with warnings.catch_warnings():
    # dlib's detector misses a few of the small photos; the whole photo
    # is then taken as the face, which works for these cropped faces
    warnings.simplefilter("ignore", UserWarning)
    D = FaceDescriptors().fit_transform(images[described])
linear = SiameseEmbedder(
    "linear",  # a linear map that starts as the identity
    embedding_dim=128,  # the width of the descriptors
    loss="triplet",
    lr=1e-3,
    device="cpu",
    random_state=0,
)
on_faces = SiameseVerifier(linear, calibration_cv=5, random_state=0)
known_d, person_d = known[described], person[described]
on_faces.fit(D[known_d], person_d[known_d])
D_new = D[~known_d]  # all photos of the new people, as in X_new
face_pairs = np.stack([D_new[idx[:, 0]], D_new[idx[:, 1]]], axis=1)
distance = np.linalg.norm(face_pairs[:, 0] - face_pairs[:, 1], axis=1)
print("ROC AUC on pairs of new people:")
print(f"  verifier on photos:           {roc_auc_score(same, p_same):.4f}")
print(f"  face descriptors alone:       {roc_auc_score(same, -distance):.4f}")
print(
    "  verifier on face descriptors: "
    f"{roc_auc_score(same, on_faces.decision_function(face_pairs)):.4f}"
)
print(
    "accuracy at threshold_:        "
    f"{np.mean(on_faces.predict(face_pairs) == same):.4f}"
)
fig, (ax_roc, ax_hist) = plt.subplots(1, 2, figsize=(11, 5.2), layout="constrained")
VerificationCurveDisplay.from_estimator(verifier, pairs, same, ax=ax_roc, name="photos")
VerificationCurveDisplay.from_estimator(
    on_faces, face_pairs, same, ax=ax_roc, name="face descriptors"
)
DistanceHistogramDisplay.from_estimator(on_faces, face_pairs, same, bins=40, ax=ax_hist)
plt.show()

# %%
# The figures
# -----------
# The last run printed (two CPU cores, ``random_state=0``; 30 known and 10
# new people):
#
# ====================================================  ==============
# verifier trained on the photos of the known people
# ====================================================  ==============
# ``threshold_`` on ``P(same)`` (sigmoid calibration)   0.678
# accuracy on 900 pairs of new people at it             0.912
# Brier score of ``P(same)`` on those pairs             0.057
# ROC AUC on those pairs                                0.9657
# one photo of each new person enrolled: named right    0.800
# ... answered "unknown"                                0.189
# ====================================================  ==============
#
# With half of the new people enrolled:
#
# =========  ===================  ===============
# threshold  enrolled: named      others: unknown
# =========  ===================  ===============
# 0.678      0.844                0.867
# 0.600      0.844                0.822
# 0.800      0.844                0.889
# 0.950      0.711                1.000
# =========  ===================  ===============
#
# On dlib's face descriptors, the ROC AUC on the same pairs is 0.9985
# without any training and 0.9996 for the verifier fitted on three
# descriptors of each known person, whose accuracy at its ``threshold_``
# is 0.9722. Thirty people are enough to learn a verifier for ten others
# (ROC AUC 0.966 from pixels alone), and a face network trained on
# millions of photos of other people makes it nearly perfect.
