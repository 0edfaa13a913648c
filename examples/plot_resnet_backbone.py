"""
==========================================
A ResNet-50 backbone for the embedding
==========================================

Large pretrained networks are the usual starting point for image
similarity: a ResNet-50 trained on ImageNet, its last residual block
fine-tuned, and a few dense layers on top that produce the embedding.
``network="resnet50"`` (:class:`~sksiamese.networks.ResNet50`) is that
network; with it, :class:`~sksiamese.SiameseEmbedder` trains exactly as
with its small default network.

This example embeds photos of faces, 6 photos per person for training and
the other 4 as queries, and labels each query by its nearest training
photo, next to the small default network and to raw pixels.

**Weights.** ResNet-50 needs torchvision (``pip install
"sksiamese[vision]"``). Pretrained weights are read from a file when one is
there: ``resnet50.pth`` (saved with ``torch.save(model.state_dict(),
path)``) in the data folder below. Without it the ResNet starts from random
weights and all its layers train, which is far from what pretraining gives
on so few images. Without torchvision, the example runs with the default
network only.

**Data.** The ORL (AT&T) faces are not shipped with this package (sksiamese
never needs them). The example reads ``orl_faces.npz`` (arrays ``images``,
400 x 112 x 92 uint8, and ``target``, the person 0-39) from the folder
named by the environment variable ``SKSIAMESE_DATA``, or else from
``../shared/data`` as seen from the project's root folder. Without the file
it uses scikit-learn's handwritten digits, 60 training images and 40
queries per digit.
"""

# %%
# Data
# ----
import os
import time
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
from sklearn.datasets import load_digits
from sklearn.neighbors import KNeighborsClassifier

from sksiamese import SiameseEmbedder
from sksiamese.plotting import NeighborsDisplay


def data_folder():
    # this file's folder; the working directory where __file__ is not set
    here = Path(__file__).resolve().parent if "__file__" in globals() else Path.cwd()
    return Path(
        os.environ.get("SKSIAMESE_DATA", here.parent.parent / "shared" / "data")
    )


folder = data_folder()
if (folder / "orl_faces.npz").is_file():
    data = np.load(folder / "orl_faces.npz")
    images, y = data["images"], data["target"]
    n, h, w = images.shape
    X = images.reshape(n, h // 2, 2, w // 2, 2).mean(axis=(2, 4)) / 255.0
    X, per_class_train = X.astype(np.float32), 6
    print("ORL faces, 56 x 46 pixels")
else:
    digits = load_digits()
    X, y = (digits.images / 16.0).astype(np.float32), digits.target
    keep = np.concatenate([np.flatnonzero(y == c)[:100] for c in range(10)])
    X, y, per_class_train = X[keep], y[keep], 60
    print("scikit-learn's digits (ORL faces not found), 8 x 8 pixels")

rank = np.array([np.sum(y[:i] == y[i]) for i in range(len(y))])
train, query = rank < per_class_train, rank >= per_class_train
X_train, y_train, X_query, y_query = X[train], y[train], X[query], y[query]
n_classes = len(np.unique(y))
print(f"{n_classes} classes: {len(X_train)} training images, {len(X_query)} queries")

# %%
# The networks
# ------------
# ResNet-50 when torchvision can be imported, with the pretrained weights
# of ``resnet50.pth`` when that file exists; the default small
# convolutional network in any case.
try:
    import torchvision  # noqa: F401

    have_torchvision = True
except Exception as exc:  # missing, or built for another torch
    have_torchvision = False
    print(f"torchvision cannot be imported ({type(exc).__name__}); no ResNet-50")

weights = folder / "resnet50.pth"
weights = weights if weights.is_file() else None
networks = {"default network": dict(network="auto")}
if have_torchvision:
    name = "ResNet-50, " + ("pretrained" if weights else "random weights")
    networks[name] = dict(
        network="resnet50", network_params={"weights": weights}, embedding_dim=128
    )

# %%
# Training and 1-NN accuracy
# --------------------------
# Each query takes the label of its nearest training image in the
# embedding; raw pixels are the baseline.
flat = lambda a: a.reshape(len(a), -1)  # noqa: E731
knn = KNeighborsClassifier(n_neighbors=1)
raw = knn.fit(flat(X_train), y_train).score(flat(X_query), y_query)
print(f"{'':<32}{'1-NN accuracy':>14}{'fit s':>8}")
print(f"{'raw pixels':<32}{raw:>14.3f}{0:>8.1f}")
fitted = {}
for name, params in networks.items():
    embedder = SiameseEmbedder(max_epochs=5, device="cpu", random_state=0, **params)
    start = time.perf_counter()
    embedder.fit(X_train, y_train)
    seconds = time.perf_counter() - start
    knn.fit(embedder.transform(X_train), y_train)
    accuracy = knn.score(embedder.transform(X_query), y_query)
    print(f"{name:<32}{accuracy:>14.3f}{seconds:>8.1f}")
    fitted[name] = embedder

# %%
# Queries and their nearest training images
# -----------------------------------------
# Under the last network trained: three queries and the three training
# images nearest to each, green where they show the query's class.
name, embedder = list(fitted.items())[-1]
shown = np.unique(y_query, return_index=True)[1][:3]  # one query of 3 classes
NeighborsDisplay.from_estimator(
    embedder,
    X_query[shown],
    X_train,
    y_query[shown],
    y_train,
    n_neighbors=3,
    title=f"Nearest training images ({name})",
)
plt.show()
