"""
=================================================
Same digit or not? Pairs and the contrastive loss
=================================================

The classic Siamese network: two copies of one encoder embed two images,
and the contrastive loss pulls the embeddings of a "same" pair together
while pushing those of a "different" pair at least a margin apart. Once
trained, the distance between two embeddings says how alike the images
are, and a threshold on it turns that into a yes/no answer.

:class:`~sksiamese.SiameseEmbedder` learns the encoder: it draws fresh
random pairs from the class labels each epoch (as indices, without copying
images) and reports the loss on fixed validation pairs.
:class:`~sksiamese.SiameseVerifier`, built on it, is a scikit-learn
classifier on pairs: it replaces the threshold picked by eye with one tuned
on held-out pairs, together with a calibrated probability ``P(same)``.

The data are scikit-learn's handwritten digits (8x8 images).
"""

# %%
# Data
# ----
import matplotlib.pyplot as plt
import numpy as np
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split

from sksiamese import SiameseEmbedder, SiameseVerifier
from sksiamese.plotting import (
    DistanceHistogramDisplay,
    PairsDisplay,
    TrainingHistoryDisplay,
    VerificationCurveDisplay,
)
from sksiamese.verification import balanced_pairs

digits = load_digits()
X = (digits.images / 16.0).astype(np.float32)
y = digits.target
X_train, X_test, y_train, y_test = train_test_split(
    X, y, test_size=0.25, stratify=y, random_state=0
)

# %%
# Training on pairs
# -----------------
# ``loss="contrastive"`` with ``miner="random"`` trains on random pairs,
# half "same" and half "different", drawn anew every epoch. The margin is
# 1: different digits are pushed at least 1 apart (embeddings have unit
# length, so distances lie between 0 and 2); these are the embedder's
# parameters. The verifier holds a fifth of the training digits out of the
# embedder's training to calibrate ``P(same)`` and tune the threshold, and
# the embedder keeps a fifth of the rest for its validation loss. The test
# digits are the same ten digits, so samples of every digit are held out
# rather than whole digits (``calibration_holdout="samples"``).
embedder = SiameseEmbedder(
    loss="contrastive",
    miner="random",
    margin=1.0,
    max_epochs=20,
    validation_fraction=0.2,
    device="cpu",
    random_state=0,
)
verifier = SiameseVerifier(embedder, calibration_holdout="samples", random_state=0)
verifier.fit(X_train, y_train)

# %%
# Loss curves
# -----------
# Training and validation loss per epoch, from the history of the fitted
# embedder, ``verifier.embedder_.history_``. The validation pairs are drawn
# once, so their loss compares from epoch to epoch; the star marks its
# lowest point.
TrainingHistoryDisplay.from_estimator(verifier.embedder_)
plt.show()

# %%
# Pairs of test digits
# --------------------
# Balanced pairs of the test digits: every pair has a known answer. Four
# "same" and four "different" pairs, each titled with the verifier's
# ``P(same)``, its verdict at ``threshold_`` and whether that verdict is
# right.
idx, same = balanced_pairs(y_test, max_pairs=4000, random_state=0)
pairs = np.stack([X_test[idx[:, 0]], X_test[idx[:, 1]]], axis=1)
rng = np.random.default_rng(0)
shown = np.concatenate(
    [
        rng.choice(np.flatnonzero(same == 1), 4, replace=False),
        rng.choice(np.flatnonzero(same == 0), 4, replace=False),
    ]
)
PairsDisplay.from_estimator(verifier, pairs[shown], same[shown])
plt.show()
# sphinx_gallery_thumbnail_number = 2

# %%
# A threshold chosen on data, not by eye
# --------------------------------------
# The distances of all test pairs: "same" pairs bunch up near 0 and
# "different" pairs sit near the margin. The dashed line is the verifier's
# threshold, the distance at which the calibrated ``P(same)`` (grey, right
# axis) falls below ``threshold_``. It was tuned for accuracy on the
# held-out training pairs, without looking at the test pairs. A round
# number picked from a plot may land close to it (0.5 here) or not (0.3,
# 0.8), and must be picked again for every new model.
accuracy = np.mean(verifier.predict(pairs) == same)
distance = -verifier.decision_function(pairs)
print(f"threshold_ on P(same): {verifier.threshold_:.3f}")
print(f"accuracy on {len(pairs)} test pairs at threshold_: {accuracy:.3f}")
for by_eye in (0.3, 0.5, 0.8):
    print(
        f"accuracy at a distance of {by_eye} chosen by eye: "
        f"{np.mean((distance <= by_eye) == same):.3f}"
    )
DistanceHistogramDisplay.from_estimator(verifier, pairs, same)
plt.show()

# %%
# Every threshold at once
# -----------------------
# The ROC curve (left) shows what each possible threshold would trade:
# different pairs wrongly accepted against same pairs accepted. A good
# verifier hugs the top-left corner, where differences are hard to see; the
# DET curve (right) plots both error rates on normal-deviate scales, which
# spreads that corner out. The star is the verifier's own threshold, the
# circle the equal error rate, where both errors are equally frequent.
fig, (ax_roc, ax_det) = plt.subplots(1, 2, figsize=(11, 5.2), layout="constrained")
VerificationCurveDisplay.from_estimator(verifier, pairs, same, ax=ax_roc)
VerificationCurveDisplay.from_estimator(verifier, pairs, same, kind="det", ax=ax_det)
plt.show()

# %%
# The figures
# -----------
# The last run printed (two CPU cores, ``random_state=0``, 20 epochs on
# three quarters of the digits), on 4,000 balanced pairs of test digits:
#
# ========================================  ========
# threshold                                 accuracy
# ========================================  ========
# ``threshold_``, 0.455 on ``P(same)``      0.979
# distance 0.3, chosen by eye               0.941
# distance 0.5, chosen by eye               0.977
# distance 0.8, chosen by eye               0.922
# ========================================  ========
#
# ``threshold_`` was tuned on held-out training pairs. It is as good as
# the best round number, found without a look at the test pairs; another
# round number chosen by eye costs up to six points of accuracy.
