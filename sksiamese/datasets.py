"""Loaders for image data sets from files the user already has.

Nothing here downloads anything: each loader reads a path the caller gives.

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

import io
import numbers
import zipfile
import zlib
from pathlib import Path, PurePosixPath

import numpy as np
from sklearn.utils import Bunch

__all__ = ["load_omniglot"]


def _image_size(image_size):
    """``image_size`` as ``(height, width)``, or None; anything else refused."""
    if image_size is None:
        return None
    sides = (image_size,) * 2 if _is_int(image_size) else image_size
    if (
        isinstance(sides, tuple | list)
        and len(sides) == 2
        and all(_is_int(s) and s >= 1 for s in sides)
    ):
        return int(sides[0]), int(sides[1])
    raise ValueError(
        "image_size must be None (keep the original size), a positive int "
        "(square images) or a (height, width) pair of positive ints; got "
        f"{image_size!r}."
    )


def _is_int(value):
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


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
        if isinstance(exc, Image.UnidentifiedImageError):
            why = "PIL cannot identify an image in it"
        else:
            why = f"{type(exc).__name__}: {exc}"
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
