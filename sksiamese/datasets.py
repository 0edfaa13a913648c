"""Loaders for image data sets from files the user already has.

Nothing here downloads anything: each loader reads a path the caller gives.

* :func:`load_image_folder` lists the images of a folder with one
  sub-folder per class, and :func:`load_image_csv` those of a CSV file of
  paths and labels, as scikit-learn's :func:`~sklearn.datasets.load_files`
  lists text files: file names and targets, no pixels. The file names are
  samples for every estimator of the package, read a batch at a time (see
  :mod:`sksiamese.images`).
* :func:`load_omniglot` reads the Omniglot characters into an array.

Examples
--------
Build a two-character, Omniglot-shaped archive and read it back:

>>> import io, tempfile, zipfile
>>> from pathlib import Path
>>> import numpy as np
>>> from PIL import Image
>>> from sksiamese.datasets import load_omniglot
>>> def png(value):
...     buffer = io.BytesIO()
...     Image.fromarray(np.full((105, 105), value, np.uint8)).save(buffer, "PNG")
...     return buffer.getvalue()
>>> path = Path(tempfile.mkdtemp()) / "images_small.zip"
>>> with zipfile.ZipFile(path, "w") as archive:
...     for char in ("character01", "character02"):
...         for drawer in (1, 2):
...             name = f"images_small/Latin/{char}/0001_{drawer:02d}.png"
...             archive.writestr(name, png(255))
>>> data = load_omniglot(path, image_size=28)
>>> data.images.shape, data.images.dtype, data.target.tolist()
((4, 28, 28), dtype('uint8'), [0, 0, 1, 1])
>>> int(data.images.max())  # white paper, inverted to 0
0
>>> data.target_names.tolist()
['Latin/character01', 'Latin/character02']
"""

import csv
import io
import os
import warnings
import zipfile
import zlib
from pathlib import Path, PurePosixPath

import numpy as np
from sklearn.utils import Bunch

from ._utils import check_image_size, is_int, unreadable_reason
from .images import IMAGE_EXTENSIONS, check_files_exist

__all__ = ["load_image_csv", "load_image_folder", "load_omniglot"]


def _image_size(image_size):
    """``image_size`` as ``(height, width)``, or None; anything else refused."""
    return check_image_size(image_size, "image_size", "keep the original size")


def _omniglot_files(path):
    """Relative names, byte readers, printable locations and the open archive
    (or None) of every PNG under ``path``."""
    path = Path(path)
    if path.is_dir():
        names = sorted(p for p in path.rglob("*.png") if p.is_file())
        rel = [PurePosixPath(p.relative_to(path).as_posix()) for p in names]
        readers = [p.read_bytes for p in names]
        return rel, readers, [str(p) for p in names], None
    if zipfile.is_zipfile(path):
        archive = zipfile.ZipFile(path)
        names = sorted(n for n in archive.namelist() if n.lower().endswith(".png"))
        rel = [PurePosixPath(n) for n in names]
        readers = [lambda n=n: archive.read(n) for n in names]
        return rel, readers, [f"{n!r} in {str(path)!r}" for n in names], archive
    if not path.exists():
        raise ValueError(
            f"{str(path)!r} does not exist; pass the folder or the .zip file "
            "that holds <alphabet>/<character>/<image>.png."
        )
    raise ValueError(
        f"{str(path)!r} is neither a directory nor a zip archive of Omniglot "
        "images (a .zip file that is truncated or corrupted is not one either: "
        "re-download it); pass the folder or the .zip file that holds "
        "<alphabet>/<character>/<image>.png."
    )


# what reading a damaged file raises: PIL (OSError, its UnidentifiedImageError
# among them, SyntaxError, ValueError, EOFError), a corrupted archive member
# (BadZipFile) and the decompressor (zlib.error)
_UNREADABLE = (
    OSError,
    SyntaxError,
    ValueError,
    EOFError,
    zipfile.BadZipFile,
    zlib.error,
)


def _read_png(read, where, size, Image):
    """The pixels of one image, greyscale, resized to ``size`` if given."""
    try:
        data = read()
        with Image.open(io.BytesIO(data)) as img:
            img = img.convert("L")
            if size is not None and img.size != (size[1], size[0]):
                img = img.resize((size[1], size[0]), Image.Resampling.BOX)
            return np.asarray(img, dtype=np.uint8)
    except _UNREADABLE as exc:
        why = unreadable_reason(exc, Image)
        raise ValueError(
            f"Cannot read the image file {where} ({why}). The file is damaged, "
            "truncated or not an image: remove it or re-download the data set."
        ) from exc


def load_omniglot(path, *, image_size=None, invert=True):
    """Load Omniglot handwritten characters from a folder or zip file.

    Reads every PNG laid out as ``<alphabet>/<character>/<id>_<drawer>.png``
    (the layout of the ``images_background*`` and ``images_evaluation``
    archives of Lake et al., 2015), at any depth inside ``path``. Nothing is
    downloaded.

    Parameters
    ----------
    path : str or path-like
        A directory or a ``.zip`` archive.
    image_size : int, (height, width) or None, default=None
        Resize every image to this size by area averaging (``PIL``'s box
        filter), which keeps thin strokes as grey levels. ``None`` keeps the
        105x105 originals.
    invert : bool, default=True
        Make ink bright (255) on a dark (0) background, so that zero
        padding and border padding both mean "paper".

    Returns
    -------
    data : sklearn.utils.Bunch
        ``images``: uint8 array of shape (n_images, height, width);
        ``target``: int64 character index into ``target_names``;
        ``target_names``: ``"<alphabet>/<character>"`` strings, sorted;
        ``alphabet``: int64 alphabet index into ``alphabet_names``;
        ``alphabet_names``: alphabet folder names, sorted;
        ``drawer``: int64 drawer number from the file name (-1 if absent);
        ``filenames``: path of each image inside ``path``.

    Raises
    ------
    ValueError
        If ``path`` does not exist, is neither a folder nor a zip archive,
        or holds no PNG file inside an ``<alphabet>/<character>/`` folder;
        if a PNG file cannot be read (the message names it), or images
        differ in size while ``image_size`` is None; if ``image_size`` is
        not None, a positive int or a pair of them.
    """
    from PIL import Image

    size = _image_size(image_size)
    names, readers, places, archive = _omniglot_files(path)
    try:
        rows, images, first = [], [], None
        for name, read, where in zip(names, readers, places, strict=True):
            if len(name.parts) < 3:
                continue
            alphabet, character = name.parts[-3], name.parts[-2]
            drawer = name.stem.rsplit("_", 1)[-1]
            pixels = _read_png(read, where, size, Image)
            if first is None:
                first = where
            elif pixels.shape != images[0].shape:
                raise ValueError(
                    f"The image file {where} is {pixels.shape[0]}x"
                    f"{pixels.shape[1]} pixels but {first} is "
                    f"{images[0].shape[0]}x{images[0].shape[1]}; pass "
                    "image_size=(height, width) to resize them all to one size."
                )
            images.append(255 - pixels if invert else pixels)
            drawer = int(drawer) if drawer.isdigit() else -1
            rows.append((alphabet, f"{alphabet}/{character}", drawer, str(name)))
    finally:
        if archive is not None:
            archive.close()
    if not rows:
        raise ValueError(
            f"No <alphabet>/<character>/<image>.png files were found in {str(path)!r}."
        )
    columns = (np.array(c) for c in zip(*rows, strict=True))
    alphabets, characters, drawers, filenames = columns
    alphabet_names, alphabet = np.unique(alphabets, return_inverse=True)
    target_names, target = np.unique(characters, return_inverse=True)
    return Bunch(
        images=np.stack(images),
        target=target.astype(np.int64),
        target_names=target_names,
        alphabet=alphabet.astype(np.int64),
        alphabet_names=alphabet_names,
        drawer=drawers.astype(np.int64),
        filenames=filenames,
    )


def _extensions(extensions):
    if extensions is None:
        return IMAGE_EXTENSIONS
    if isinstance(extensions, str):
        extensions = (extensions,)
    return tuple(
        e.lower() if e.startswith(".") else "." + e.lower() for e in extensions
    )


def _class_files(folder, extensions, follow_links):
    """The image files under ``folder`` (at any depth, hidden entries left
    out), sorted by their path relative to it."""
    found = []
    for top, dirs, files in os.walk(folder, followlinks=follow_links):
        dirs[:] = [d for d in dirs if not d.startswith(".")]
        for name in files:
            if not name.startswith(".") and name.lower().endswith(extensions):
                found.append(Path(top) / name)
    return sorted(found, key=lambda p: p.relative_to(folder).as_posix())


def _check_classes(root, names, counts):
    """Refuse a tree without images, or with fewer than two classes."""
    if not counts or not any(counts.values()):
        loose = [p for p in root.iterdir() if p.is_file()] if root.is_dir() else []
        hint = (
            f" It holds {len(loose)} file(s) itself: put the images of each "
            "class in a sub-folder of their own."
            if loose
            else ""
        )
        raise ValueError(
            f"No image files were found in class sub-folders of {str(root)!r} "
            f"(looked for {', '.join(names)}).{hint} The layout is "
            "root/<class>/<image>, one sub-folder per class."
        )
    kept = [c for c, n in counts.items() if n]
    if len(kept) < 2:
        raise ValueError(
            f"{str(root)!r} holds images of one class only ({kept[0]!r}); a "
            "Siamese network learns by comparing classes, so it needs at "
            "least 2 sub-folders of images. If you passed the folder of one "
            "class, pass the folder above it; to read the images of one "
            "class, list them, e.g. sorted(Path(folder).glob('*.jpg'))."
        )


def load_image_folder(root, *, extensions=None, follow_links=False):
    """List the images of a folder with one sub-folder per class.

    The layout is ``root/<class>/<image>``, as scikit-learn's
    :func:`~sklearn.datasets.load_files` and torchvision's ``ImageFolder``
    read it: each sub-folder of ``root`` is a class, named after it, and
    holds that class's images, at any depth. Entries whose name starts with
    a dot are left out, as are files of other types. Classes are sorted by
    name and files by path, so the result is the same on every machine.
    Nothing is decoded: pass ``filenames`` as ``X`` to the estimators.

    Parameters
    ----------
    root : str or path-like
        The folder.
    extensions : str or sequence of str, default=None
        File name endings read as images, in any case;
        ``None``: :data:`sksiamese.images.IMAGE_EXTENSIONS` (``.png``,
        ``.jpg``, ``.jpeg``, ``.bmp``, ``.gif``, ``.tif``, ``.tiff``,
        ``.webp``, ``.pgm``, ``.ppm``).
    follow_links : bool, default=False
        Whether to enter symbolic links to folders.

    Returns
    -------
    data : sklearn.utils.Bunch
        ``filenames``: ndarray of str, the path of each image (``root``
        joined with its place under it); ``target``: ndarray of int64, the
        class index of each image into ``target_names``; ``target_names``:
        list of str, the class folder names, sorted; ``DESCR``: a line that
        says what was read.

    Raises
    ------
    ValueError
        If ``root`` is not a folder, holds no image in a class sub-folder
        (an empty folder, or images directly in ``root``), or images of
        fewer than two classes. Class folders without images are left out,
        with a warning.

    Examples
    --------
    >>> import tempfile
    >>> from pathlib import Path
    >>> import numpy as np
    >>> from PIL import Image
    >>> from sksiamese.datasets import load_image_folder
    >>> root = Path(tempfile.mkdtemp())
    >>> for name in ["cat/1.png", "cat/2.png", "dog/a.jpg"]:
    ...     (root / name).parent.mkdir(exist_ok=True)
    ...     Image.fromarray(np.zeros((8, 8, 3), np.uint8)).save(root / name)
    >>> data = load_image_folder(root)
    >>> data.target.tolist(), data.target_names
    ([0, 0, 1], ['cat', 'dog'])
    >>> [Path(f).name for f in data.filenames]
    ['1.png', '2.png', 'a.jpg']
    """
    root = Path(root)
    if not root.is_dir():
        raise ValueError(
            f"{str(root)!r} is not a folder; pass the folder that holds one "
            "sub-folder of images per class."
        )
    names = _extensions(extensions)
    folders = sorted(
        p for p in root.iterdir() if p.is_dir() and not p.name.startswith(".")
    )
    files = {f.name: _class_files(f, names, follow_links) for f in folders}
    _check_classes(root, names, {c: len(f) for c, f in files.items()})
    empty = [c for c, f in files.items() if not f]
    if empty:
        warnings.warn(
            f"Class folder(s) without images left out: {empty[:5]}.",
            UserWarning,
            stacklevel=2,
        )
    target_names = [c for c, f in files.items() if f]
    filenames = [str(p) for c in target_names for p in files[c]]
    target = np.repeat(
        np.arange(len(target_names)), [len(files[c]) for c in target_names]
    )
    return Bunch(
        filenames=np.array(filenames, dtype=object),
        target=target.astype(np.int64),
        target_names=target_names,
        DESCR=(
            f"Image folder {str(root)!r}: {len(filenames)} images in "
            f"{len(target_names)} classes."
        ),
    )


def _column(names, width, column, which, path):
    """Position of a column given by name (of the header ``names``) or
    position (below ``width``)."""
    if is_int(column):
        if 0 <= column < width:
            return int(column)
    elif names is not None and column in names:
        return names.index(column)
    has = f"whose header is {names!r}" if names is not None else "without a header"
    raise ValueError(
        f"{which}={column!r} names no column of {str(path)!r}, {has}; pass a "
        f"column name of the header or a position from 0 to {width - 1}."
    )


def _csv_rows(path, path_column, label_column, header, delimiter):
    """The (file, label) cells of each data row of a CSV file."""
    with open(path, newline="", encoding="utf-8-sig") as f:
        rows = [row for row in csv.reader(f, delimiter=delimiter) if row]
    if not rows:
        raise ValueError(f"{str(path)!r} is empty; it needs a row per image.")
    names, width = (rows[0] if header else None), len(rows[0])
    data = rows[1:] if header else rows
    p = _column(names, width, path_column, "path_column", path)
    q = _column(names, width, label_column, "label_column", path)
    short = [i for i, row in enumerate(data) if len(row) <= max(p, q)]
    if short:
        raise ValueError(
            f"{str(path)!r} has rows with too few cells, e.g. row "
            f"{short[0] + 1 + int(header)} (counting from 1); every row needs "
            "a path and a label."
        )
    if not data:
        raise ValueError(f"{str(path)!r} holds a header and no images.")
    return [row[p] for row in data], [row[q] for row in data]


def load_image_csv(
    path, *, path_column="path", label_column="label", header=True, delimiter=","
):
    """List the images named in a CSV file of paths and labels.

    Each row names an image file and its label. Relative paths are read
    from the CSV file's folder, so the file and its images travel
    together. Labels are read as strings; ``target`` numbers them in sorted
    order. Nothing is decoded: pass ``filenames`` as ``X``.

    Parameters
    ----------
    path : str or path-like
        The CSV file (UTF-8).
    path_column, label_column : str or int, default="path", "label"
        The columns of the image path and of the label: a name of the
        header, or a position counted from 0.
    header : bool, default=True
        Whether the first row names the columns. Without one, the columns
        must be given by position.
    delimiter : str, default=","
        The cell separator.

    Returns
    -------
    data : sklearn.utils.Bunch
        ``filenames``: ndarray of str, in the order of the rows;
        ``target``: ndarray of int64, the label index of each image into
        ``target_names``; ``target_names``: list of str, the distinct
        labels, sorted; ``labels``: ndarray of str, the label of each row
        as written; ``DESCR``: a line that says what was read.

    Raises
    ------
    ValueError
        If the file is empty, lacks a column, has short rows, or names
        image files that do not exist (the message lists them).

    Examples
    --------
    >>> import tempfile
    >>> from pathlib import Path
    >>> import numpy as np
    >>> from PIL import Image
    >>> from sksiamese.datasets import load_image_csv
    >>> root = Path(tempfile.mkdtemp())
    >>> for name in ["a.png", "b.png", "c.png"]:
    ...     Image.fromarray(np.zeros((8, 8), np.uint8)).save(root / name)
    >>> rows = ["path,label", "a.png,x", "b.png,y", "c.png,x"]
    >>> _ = (root / "labels.csv").write_text("\\n".join(rows))
    >>> data = load_image_csv(root / "labels.csv")
    >>> data.target.tolist(), data.target_names
    ([0, 1, 0], ['x', 'y'])
    """
    path = Path(path)
    if not path.is_file():
        raise ValueError(f"{str(path)!r} is not a file; pass the CSV file.")
    cells, labels = _csv_rows(path, path_column, label_column, bool(header), delimiter)
    base = path.parent
    filenames = np.array([str(base / c) for c in cells], dtype=object)
    check_files_exist(filenames, f"the CSV file {str(path)!r}")
    labels = np.array(labels, dtype=str)
    target_names, target = np.unique(labels, return_inverse=True)
    return Bunch(
        filenames=filenames,
        target=target.astype(np.int64),
        target_names=target_names.tolist(),
        labels=labels,
        DESCR=(
            f"Image list {str(path)!r}: {len(filenames)} images with "
            f"{len(target_names)} labels."
        ),
    )
