"""Verify faces from a folder of photos: load, describe, verify, enrol,
identify, with a threshold chosen for a false-accept rate."""

import os
from pathlib import Path

import numpy as np
from PIL import Image
from sklearn.metrics import roc_auc_score

from sksiamese import Gallery, SiameseEmbedder, SiameseVerifier
from sksiamese.datasets import load_image_folder
from sksiamese.features import FaceDescriptors
from sksiamese.images import ImageReader
from sksiamese.verification import balanced_pairs

# 0. A folder with one sub-folder of photos per person. Here: 16 people of
#    the ORL faces, 4 photos each, written as PNG files. With photos of
#    your own, set PHOTOS to their folder and skip this step.
PHOTOS = Path("photos")
data = Path(os.environ.get("SKSIAMESE_DATA", "../shared/data"))
orl = np.load(data / "orl_faces.npz")
for i, (image, person) in enumerate(zip(orl["images"], orl["target"], strict=True)):
    if person < 16 and i % 10 < 4:
        path = PHOTOS / f"person{person + 1:02d}" / f"photo{i % 10 + 1}.png"
        path.parent.mkdir(parents=True, exist_ok=True)
        Image.fromarray(image).save(path)

# 1. Load: list the files, read them to one size and colour mode
folder = load_image_folder(PHOTOS)
reader = ImageReader(size=(112, 92), mode="RGB", fit="pad")
photos = np.stack([reader.read(f) for f in folder.filenames])
people = np.array(folder.target_names)[folder.target]

# 2. Describe: 128 numbers per face from dlib's pretrained network, once.
#    detect=False: the photos are cropped to the face already; the default,
#    detect=True, finds the face first.
faces = FaceDescriptors(detect=False).fit_transform(photos)

# 3. Verify: learn from 10 people; tune the threshold so that at most 5% of
#    pairs of different people are accepted (the false-accept rate)
names = np.unique(people)
train = np.isin(people, names[:10])
verifier = SiameseVerifier(
    SiameseEmbedder(
        "linear",
        embedding_dim=128,
        loss="triplet",
        lr=1e-3,
        max_epochs=20,
        random_state=0,
    ),
    calibration_cv=5,
    threshold_strategy="far",
    target_far=0.05,
    random_state=0,
).fit(faces[train], people[train])

#    ... and judge it on pairs of the 6 people it never saw
new_faces, new_people = faces[~train], people[~train]
idx, same = balanced_pairs(new_people)
pairs = new_faces[idx]  # (n_pairs, 2, 128)
p_same = verifier.predict_proba(pairs)[:, 1]
accepted = verifier.predict(pairs)
print(f"ROC AUC on new people: {roc_auc_score(same, p_same):.3f}")
print(
    f"threshold {verifier.threshold_:.2f}: "
    f"{accepted[same == 0].mean():.1%} of different pairs accepted, "
    f"{accepted[same == 1].mean():.1%} of same pairs"
)

# 4. Enrol 4 new people, one photo each, without retraining ...
first = np.r_[True, new_people[1:] != new_people[:-1]]  # first photo of each
enrolled = first & np.isin(new_people, names[10:14])
gallery = Gallery(verifier, unknown_label="unknown")
gallery.fit(new_faces[enrolled], new_people[enrolled])

# 5. ... and identify the other photos: a name, or "unknown" for the two
#    people who did not enrol
queries = ~first
answers = gallery.identify(new_faces[queries])
known = np.isin(new_people[queries], gallery.classes_)
named_right = (answers[known] == new_people[queries][known]).mean()
strangers_out = (answers[~known] == "unknown").mean()
print(
    f"enrolled people named right: {named_right:.0%}, "
    f"strangers kept out: {strangers_out:.0%}"
)
