"""Recognise new classes from one example each: embed, 1-NN on the
support set, enrolment, and N-way K-shot evaluation."""

import os
from pathlib import Path

import numpy as np
from sklearn.neighbors import KNeighborsClassifier

from sksiamese import Gallery, SiameseEmbedder, SiameseVerifier, one_shot_evaluate
from sksiamese.datasets import load_omniglot

# 1. Classes to learn from, and classes that arrive later: handwritten
#    characters of five Omniglot alphabets (20 drawings of each character).
#    The network learns the characters of three alphabets and never sees a
#    character of the other two.
data = Path(os.environ.get("SKSIAMESE_DATA", "../shared/data")) / "omniglot"
omniglot = load_omniglot(data / "images_background_small1.zip", image_size=28)
X, y = omniglot.images, omniglot.target  # (2720, 28, 28) uint8 images
seen = omniglot.alphabet < 3
X_new, y_new = X[~seen], y[~seen]

verifier = SiameseVerifier(
    SiameseEmbedder(max_epochs=6, random_state=0), random_state=0
).fit(X[seen], y[seen])
embedder = verifier.embedder_  # the fitted embedder

# 2. The support set: one drawing of each of 20 new characters
rng = np.random.default_rng(0)
characters = rng.choice(np.unique(y_new), 20, replace=False)
support = np.array([rng.choice(np.flatnonzero(y_new == c)) for c in characters])
rest = np.setdiff1d(np.flatnonzero(np.isin(y_new, characters)), support)

# 3. Embed, then 1-NN on the support set's embeddings
knn = KNeighborsClassifier(n_neighbors=1)
knn.fit(embedder.transform(X_new[support]), y_new[support])
accuracy = knn.score(embedder.transform(X_new[rest]), y_new[rest])
print(f"1-NN among 20 new characters, one drawing each: {accuracy:.2f}")

# 4. Or enrol the drawings in a gallery, which also answers "unknown"
#    (-1) when even the nearest drawing is too far to be the same character
gallery = Gallery(verifier).fit(X_new[support], y_new[support])
answers = gallery.identify(X_new[rest])
print(
    f"gallery: {(answers == y_new[rest]).mean():.2f} named right, "
    f"{(answers == -1).mean():.2f} unknown"
)

# 5. Evaluate: mean accuracy over random 20-way 1-shot and 5-way 5-shot
#    episodes of the new characters, against raw pixels
for n_way, k_shot in ((20, 1), (5, 5)):
    learned = one_shot_evaluate(
        X_new,
        y_new,
        transform=embedder,
        n_way=n_way,
        k_shot=k_shot,
        n_episodes=200,
        random_state=0,
    )
    pixels = one_shot_evaluate(
        X_new.reshape(len(X_new), -1) / 255,
        y_new,
        n_way=n_way,
        k_shot=k_shot,
        n_episodes=200,
        random_state=0,
    )
    print(
        f"{n_way}-way {k_shot}-shot: {learned['accuracy']:.2f} "
        f"(± {learned['ci95']:.2f}), raw pixels {pixels['accuracy']:.2f}"
    )
