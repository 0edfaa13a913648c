import io
import zipfile
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from sksiamese.datasets import load_image_csv, load_image_folder, load_omniglot


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
    with pytest.raises(ValueError, match="missing.zip' does not exist; pass the"):
        load_omniglot(tmp_path / "missing.zip")
    (tmp_path / "notes.txt").write_text("not an archive")
    with pytest.raises(ValueError, match="neither a directory nor a zip"):
        load_omniglot(tmp_path / "notes.txt")
    (tmp_path / "empty").mkdir()
    with pytest.raises(ValueError, match="No <alphabet>/<character>"):
        load_omniglot(tmp_path / "empty")


def truncated_png():
    """A real PNG cut in the middle of its pixel data."""
    data = png(np.random.default_rng(0).integers(0, 256, (105, 105), np.uint8))
    return data[: len(data) // 2]


BROKEN = {
    "truncated": (truncated_png(), "OSError: image file is truncated"),
    "text": (b"this is no image", "PIL cannot identify an image in it"),
    "header only": (png(drawing(0))[:40], "PIL cannot identify an image in it"),
}


@pytest.mark.parametrize("kind", sorted(BROKEN))
def test_unreadable_file_in_a_folder_is_named(folder, kind):
    data, why = BROKEN[kind]
    bad = folder / "images_small" / "Latin" / "character02" / "0002_05.png"
    bad.write_bytes(data)
    with pytest.raises(ValueError) as info:
        load_omniglot(folder, image_size=28)
    msg = str(info.value)
    assert f"Cannot read the image file {bad} ({why}" in msg
    assert "remove it or re-download the data set" in msg
    assert info.value.__cause__ is not None
    # the rest of the folder reads once the file is gone
    bad.unlink()
    assert len(load_omniglot(folder).images) == 4


def test_unreadable_file_in_an_archive_is_named(tmp_path):
    path = tmp_path / "broken.zip"
    with zipfile.ZipFile(path, "w") as z:
        z.writestr("images/Latin/character01/0001_01.png", png(drawing(0)))
        z.writestr("images/Latin/character01/0001_02.png", truncated_png())
    with pytest.raises(ValueError) as info:
        load_omniglot(path)
    msg = str(info.value)
    assert (
        f"Cannot read the image file 'images/Latin/character01/0001_02.png' in "
        f"{str(path)!r} (OSError: image file is truncated)" in msg
    )
    assert "remove it or re-download" in msg


def test_corrupted_archive_member_is_named(tmp_path):
    path = tmp_path / "corrupted.zip"
    image = png(drawing(0))
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_STORED) as z:
        z.writestr("images/Latin/character01/0001_01.png", image)
    raw = bytearray(path.read_bytes())
    at = raw.find(image[100:140]) + 10
    raw[at] ^= 0xFF  # one byte of the stored image changed: its CRC fails
    path.write_bytes(bytes(raw))
    with pytest.raises(ValueError) as info:
        load_omniglot(path)
    msg = str(info.value)
    assert "'images/Latin/character01/0001_01.png' in" in msg
    assert "BadZipFile: Bad CRC-32" in msg and "re-download" in msg


def test_images_of_different_sizes_are_named(folder):
    odd = folder / "images_small" / "Greek" / "character01" / "0003_08.png"
    odd.write_bytes(png(drawing(0, size=50)))
    with pytest.raises(ValueError) as info:
        load_omniglot(folder)
    msg = str(info.value)
    assert f"The image file {odd} is 50x50 pixels but " in msg
    assert "0003_07.png is 105x105" in msg
    assert "image_size=(height, width)" in msg
    # resized to one size, they load
    assert load_omniglot(folder, image_size=20).images.shape == (5, 20, 20)


@pytest.mark.parametrize(
    "image_size",
    [0, -3, 28.0, "28", True, (28,), (28, 28, 1), (28, 0), (28.5, 28), [28, "a"]],
)
def test_invalid_image_size(archive, image_size):
    with pytest.raises(ValueError) as info:
        load_omniglot(archive, image_size=image_size)
    msg = str(info.value)
    assert msg.startswith("image_size must be None (keep the original size), a")
    assert "positive int" in msg and "(height, width) pair" in msg
    assert msg.endswith(f"got {image_size!r}.")


def test_valid_image_sizes(archive):
    assert load_omniglot(archive, image_size=np.int64(7)).images.shape[1:] == (7, 7)
    assert load_omniglot(archive, image_size=[6, 9]).images.shape[1:] == (6, 9)


def test_real_minimal_split(shared_data):
    path = shared_data / "omniglot" / "images_background_small1.zip"
    if not path.is_file():
        pytest.skip(f"{path} is not present")
    data = load_omniglot(path, image_size=28)
    assert data.images.shape == (2720, 28, 28)
    assert len(data.target_names) == 136 and len(data.alphabet_names) == 5
    assert np.all(np.bincount(data.target) == 20)
    assert np.median(data.images) == 0  # mostly paper once inverted


# ---- folders and CSV files of images ---------------------------------------


def write(path, value=0, mode="L"):
    path.parent.mkdir(parents=True, exist_ok=True)
    shape = (6, 6) if mode == "L" else (6, 6, 3)
    Image.fromarray(np.full(shape, value, np.uint8)).save(path)
    return path


@pytest.fixture
def image_tree(tmp_path):
    root = tmp_path / "photos"
    write(root / "dogs" / "b.png")
    write(root / "dogs" / "a.JPG", mode="RGB")
    write(root / "dogs" / "nested" / "c.png")
    write(root / "cats" / "z.png")
    write(root / "cats" / "y.bmp")
    (root / "cats" / "notes.txt").write_text("not an image")
    write(root / "cats" / ".hidden.png")
    write(root / ".thumbnails" / "t.png")
    return root


def test_load_image_folder_reads_one_class_per_folder(image_tree):
    data = load_image_folder(image_tree)
    assert data.target_names == ["cats", "dogs"]
    names = [str(Path(f).relative_to(image_tree)) for f in data.filenames]
    assert names == ["cats/y.bmp", "cats/z.png", "dogs/a.JPG", "dogs/b.png",
                     "dogs/nested/c.png"]  # fmt: skip
    assert data.target.tolist() == [0, 0, 1, 1, 1] and data.target.dtype == np.int64
    assert "5 images in 2 classes" in data.DESCR
    assert load_image_folder(str(image_tree)).filenames.tolist() == (
        data.filenames.tolist()
    )  # deterministic
    only_png = load_image_folder(image_tree, extensions="png")
    assert len(only_png.filenames) == 3


def test_load_image_folder_feeds_the_embedder(image_tree):
    from sksiamese import ImageReader, SiameseEmbedder

    data = load_image_folder(image_tree)
    for i, f in enumerate(data.filenames):  # tell the images apart
        write(Path(f), value=50 * i, mode="RGB" if f.endswith("JPG") else "L")
    params = dict(embedding_dim=4, max_epochs=1, batch_size=8, m_per_class=2,
                  device="cpu", random_state=0)  # fmt: skip
    emb = SiameseEmbedder(**params).fit(data.filenames, data.target)
    assert emb.sample_shape_ == (6, 6)  # the first file, cats' y.bmp, is gray
    assert emb.transform(data.filenames).shape == (5, 4)
    emb = SiameseEmbedder(input_shape=ImageReader(mode="RGB"), **params)
    assert emb.fit(data.filenames, data.target).sample_shape_ == (6, 6, 3)


def test_load_image_folder_refuses_empty_and_one_class_trees(tmp_path):
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(ValueError, match="No image files were found"):
        load_image_folder(empty)
    loose = tmp_path / "loose"
    write(loose / "1.png")
    write(loose / "2.png")
    with pytest.raises(ValueError, match="holds 2 file.*sub-folder of their own"):
        load_image_folder(loose)
    single = tmp_path / "single"
    write(single / "cats" / "1.png")
    write(single / "cats" / "2.png")
    with pytest.raises(ValueError, match="one class only.*'cats'"):
        load_image_folder(single)
    with pytest.raises(ValueError, match="is not a folder"):
        load_image_folder(tmp_path / "nowhere")


def test_load_image_folder_leaves_out_empty_class_folders(image_tree):
    (image_tree / "birds").mkdir()
    with pytest.warns(UserWarning, match="birds"):
        data = load_image_folder(image_tree)
    assert data.target_names == ["cats", "dogs"]


def test_load_image_csv_reads_paths_relative_to_the_file(tmp_path):
    write(tmp_path / "img" / "a.png")
    write(tmp_path / "img" / "b.png")
    absolute = write(tmp_path / "elsewhere" / "c.png")
    table = tmp_path / "lists" / "labels.csv"
    table.parent.mkdir()
    write(table.parent / "d.png")
    table.write_text(
        f"label,path\nzebra,../img/a.png\napple,../img/b.png\nzebra,{absolute}\n"
        "apple,d.png\n"
    )
    data = load_image_csv(table)
    assert data.target_names == ["apple", "zebra"]
    assert data.target.tolist() == [1, 0, 1, 0]
    assert data.labels.tolist() == ["zebra", "apple", "zebra", "apple"]
    assert Path(data.filenames[0]).resolve() == (tmp_path / "img" / "a.png")
    assert data.filenames[2] == str(absolute)
    plain = tmp_path / "lists" / "plain.tsv"
    plain.write_text("d.png\tx\nd.png\ty\n")
    data = load_image_csv(plain, path_column=0, label_column=1, header=False,
                          delimiter="\t")  # fmt: skip
    assert data.target_names == ["x", "y"]


def test_load_image_csv_errors(tmp_path):
    write(tmp_path / "a.png")
    table = tmp_path / "t.csv"
    table.write_text("path,label\na.png,x\nmissing.png,y\n")
    with pytest.raises(ValueError, match="1 file.*missing.png"):
        load_image_csv(table)
    table.write_text("file,label\na.png,x\n")
    with pytest.raises(ValueError, match="path_column='path' names no column"):
        load_image_csv(table)
    table.write_text("path,label\na.png\n")
    with pytest.raises(ValueError, match="too few cells, e.g. row 2"):
        load_image_csv(table)
    table.write_text("")
    with pytest.raises(ValueError, match="is empty"):
        load_image_csv(table)
