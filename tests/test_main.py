"""``python -m sksiamese FOLDER``: train on a folder of images and report."""

import numpy as np
import pytest
from PIL import Image

from sksiamese.__main__ import main
from sksiamese.persistence import load_model


@pytest.fixture
def photos(tmp_path):
    rng = np.random.default_rng(0)
    root = tmp_path / "photos"
    for c in range(4):
        (root / f"kind{c}").mkdir(parents=True)
        base = rng.integers(0, 256, (20, 24, 3), dtype=np.uint8)
        for i in range(5):
            noisy = np.clip(base + rng.normal(0, 20, base.shape), 0, 255)
            img = Image.fromarray(noisy.astype(np.uint8))
            img = img.convert("L") if i == 4 else img  # a grayscale photo too
            img.save(root / f"kind{c}" / f"{i}.png")
    return root


def test_main_on_a_folder(photos, tmp_path, capsys):
    out = tmp_path / "out"
    main([str(photos), "--network", "conv", "--image-size", "16", "--max-epochs",
          "1", "--num-workers", "0", "--verbose", "0", "--queries", "3",
          "--output", str(out)])  # fmt: skip
    text = capsys.readouterr().out
    assert "20 images in 4 classes" in text
    assert "16 training and 4 query images, read as 16x16 RGB" in text
    rows = [line.split() for line in text.splitlines()]
    assert ["1-NN", "acc", "P@1", "MAP@R", "hit@5", "fit", "s"] in rows
    assert {"untrained", "SiameseEmbedder"} <= {r[0] for r in rows if r}
    saved = np.load(out / "embeddings.npz")
    assert saved["embeddings"].shape == (20, 64)
    assert saved["held_out"].sum() == 4
    model = load_model(out / "model.zip")
    np.testing.assert_allclose(
        model.transform(saved["filenames"][:3]), saved["embeddings"][:3], atol=1e-6
    )
    assert (out / "neighbors.png").stat().st_size > 0


def test_main_refuses_a_folder_of_one_class(tmp_path):
    root = tmp_path / "one"
    (root / "cats").mkdir(parents=True)
    for i in range(3):
        Image.fromarray(np.zeros((8, 8), np.uint8)).save(root / "cats" / f"{i}.png")
    with pytest.raises(ValueError, match="one class only"):
        main([str(root)])
