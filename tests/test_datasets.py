import io
import zipfile

import numpy as np
import pytest
from PIL import Image

from sksiamese.datasets import load_omniglot


def png(pixels):
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, "PNG")
    return buffer.getvalue()


def drawing(value, size=105):
    pixels = np.full((size, size), 255, np.uint8)  # white paper
    pixels[40:60, 40:60] = value  # a square of ink
    return pixels


LAYOUT = {
    "images_small/Latin/character01/0001_01.png": drawing(0),
    "images_small/Latin/character01/0001_02.png": drawing(10),
    "images_small/Latin/character02/0002_01.png": drawing(20),
    "images_small/Greek/character01/0003_07.png": drawing(30),
    "images_small/README.txt": None,
}


@pytest.fixture
def archive(tmp_path):
    path = tmp_path / "images_small.zip"
    with zipfile.ZipFile(path, "w") as z:
        for name, pixels in LAYOUT.items():
            z.writestr(name, b"text" if pixels is None else png(pixels))
    return path


@pytest.fixture
def folder(tmp_path):
    root = tmp_path / "unpacked"
    for name, pixels in LAYOUT.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"text" if pixels is None else png(pixels))
    return root


@pytest.mark.parametrize("where", ["archive", "folder"])
def test_reads_zip_and_folder_alike(where, request):
    data = load_omniglot(request.getfixturevalue(where))
    assert data.images.shape == (4, 105, 105) and data.images.dtype == np.uint8
    assert data.alphabet_names.tolist() == ["Greek", "Latin"]
    assert data.target_names.tolist() == [
        "Greek/character01",
        "Latin/character01",
        "Latin/character02",
    ]
    # files are read in sorted order: Greek first
    assert data.target.tolist() == [0, 1, 1, 2]
    assert data.alphabet.tolist() == [0, 1, 1, 1]
    assert data.drawer.tolist() == [7, 1, 2, 1]
    assert data.filenames[0].endswith("Greek/character01/0003_07.png")
    # inverted: paper 0, ink 255 - value
    assert data.images[:, 0, 0].tolist() == [0, 0, 0, 0]
    assert data.images[:, 50, 50].tolist() == [225, 255, 245, 235]


def test_resize_by_area_and_no_inversion(archive):
    data = load_omniglot(archive, image_size=(21, 35), invert=False)
    assert data.images.shape == (4, 21, 35)
    assert data.images[0, 0, 0] == 255
    small = load_omniglot(archive, image_size=5).images
    # box filter: the centre pixel (about rows and columns 42-62) averages
    # ink (245, rows and columns 40-59) and paper (0), about 245 * (18/21)**2
    assert small.shape == (4, 5, 5)
    assert 170 < small[1, 2, 2] < 200


def test_errors(tmp_path):
    with pytest.raises(ValueError, match="neither a directory nor a zip"):
        load_omniglot(tmp_path / "missing.zip")
    (tmp_path / "empty").mkdir()
    with pytest.raises(ValueError, match="No <alphabet>/<character>"):
        load_omniglot(tmp_path / "empty")


def test_real_minimal_split(shared_data):
    path = shared_data / "omniglot" / "images_background_small1.zip"
    if not path.is_file():
        pytest.skip(f"{path} is not present")
    data = load_omniglot(path, image_size=28)
    assert data.images.shape == (2720, 28, 28)
    assert len(data.target_names) == 136 and len(data.alphabet_names) == 5
    assert np.all(np.bincount(data.target) == 20)
    assert np.median(data.images) == 0  # mostly paper once inverted
