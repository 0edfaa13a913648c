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

This example compares k-NN on raw pixels with k-NN on the embedding of
scikit-learn's handwritten digits, cross-validates the whole pipeline,
and looks at the embedding and at the digits it gets wrong.
"""

# %%
# The pipeline
# ------------
# The digits come as rows of 64 pixels (values 0-16); ``input_shape=(8, 8)``
# tells the embedder they are 8x8 images, so that it uses its
# convolutional network. ``MinMaxScaler`` brings the pixels to [0, 1].
import matplotlib.pyplot as plt
import numpy as np
from sklearn.datasets import load_digits
from sklearn.metrics import ConfusionMatrixDisplay
from sklearn.model_selection import StratifiedKFold, cross_val_score, train_test_split
from sklearn.neighbors import KNeighborsClassifier
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import MinMaxScaler

from sksiamese import SiameseEmbedder
from sksiamese.plotting import EmbeddingDisplay, NeighborsDisplay

X, y = load_digits(return_X_y=True)
X_train, X_test, y_train, y_test = train_test_split(
    X, y, test_size=0.25, stratify=y, random_state=0
)

pipe = Pipeline(
    [
        ("scale", MinMaxScaler()),
        (
            "embed",
            SiameseEmbedder(
                input_shape=(8, 8), max_epochs=10, device="cpu", random_state=0
            ),
        ),
        ("knn", KNeighborsClassifier(n_neighbors=5)),
    ]
)
raw = Pipeline(
    [("scale", MinMaxScaler()), ("knn", KNeighborsClassifier(n_neighbors=5))]
)

# %%
# Accuracy
# --------
# On the held-out quarter, and by 3-fold cross-validation on the training
# part: ``cross_val_score`` clones and refits the whole pipeline, embedder
# included, on each fold.
pipe.fit(X_train, y_train)
raw.fit(X_train, y_train)
print(f"test accuracy, 5-NN on raw pixels: {raw.score(X_test, y_test):.3f}")
print(f"test accuracy, 5-NN on embedding:  {pipe.score(X_test, y_test):.3f}")

cv = StratifiedKFold(3, shuffle=True, random_state=0)
for name, model in [("raw pixels", raw), ("embedding", pipe)]:
    scores = cross_val_score(model, X_train, y_train, cv=cv)
    print(f"3-fold accuracy, {name:<11} {scores.mean():.3f} +/- {scores.std():.3f}")

# %%
# Both are good on digits; the errors are what differs. The confusion
# matrices count, for each true digit (rows), the predicted digits
# (columns) of the test images.
fig, axes = plt.subplots(1, 2, figsize=(11, 4.8), layout="constrained")
models = [("raw pixels", raw), ("embedding", pipe)]
for ax, (name, model) in zip(axes, models, strict=True):
    ConfusionMatrixDisplay.from_estimator(model, X_test, y_test, ax=ax, colorbar=False)
    ax.set_title(f"5-NN on {name}")
plt.show()

# %%
# The embedding the classifier sees
# ---------------------------------
# ``pipe[:-1]`` is the pipeline up to the embedding: a transformer. Here its
# output is drawn by PCA, a linear projection whose axes carry the share of
# variance they explain, so that distances on the map are distances in the
# embedding, squashed to two dimensions.
EmbeddingDisplay.from_estimator(pipe[:-1], X_test, y_test, method="pca")
plt.show()

# %%
# Why a digit was misclassified
# -----------------------------
# The k-NN vote is the five nearest training images. For the test digits
# the pipeline gets wrong, those five show why.
wrong = np.flatnonzero(pipe.predict(X_test) != y_test)
print(f"{len(wrong)} of {len(y_test)} test digits misclassified")
show = wrong[:3] if len(wrong) else np.arange(3)
embed = pipe[:-1]
NeighborsDisplay.from_estimator(
    embed, X_test[show], X_train, y_test[show], y_train, n_neighbors=5
)
plt.show()
