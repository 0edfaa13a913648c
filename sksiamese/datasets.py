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
from pathlib import Path, PurePosixPath

import numpy as np
from sklearn.utils import Bunch

__all__ = ["load_omniglot"]


def _image_size(image_size):
    if image_size is None:
        return None
    if isinstance(image_size, numbers.Integral):
        return int(image_size), int(image_size)
    height, width = (int(s) for s in image_size)
    return height, width


def _omniglot_files(path):
    """``(alphabet, character, drawer, reader)`` for every PNG under ``path``."""
    path = Path(path)
    if path.is_dir():
        names = sorted(p for p in path.rglob("*.png") if p.is_file())
        rel = [PurePosixPath(p.relative_to(path).as_posix()) for p in names]
        readers = [p.read_bytes for p in names]
        return rel, readers, None
    if zipfile.is_zipfile(path):
        archive = zipfile.ZipFile(path)
        names = sorted(n for n in archive.namelist() if n.lower().endswith(".png"))
        rel = [PurePosixPath(n) for n in names]
        readers = [lambda n=n: archive.read(n) for n in names]
        return rel, readers, archive
    raise ValueError(
        f"{str(path)!r} is neither a directory nor a zip archive of Omniglot "
        "images; pass the folder or the .zip file that holds "
        "<alphabet>/<character>/<image>.png."
    )


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
        If ``path`` is neither a folder nor a zip archive, or holds no PNG
        file inside an ``<alphabet>/<character>/`` folder.
    """
    from PIL import Image

    size = _image_size(image_size)
    names, readers, archive = _omniglot_files(path)
    try:
        rows, images = [], []
        for name, read in zip(names, readers, strict=True):
            if len(name.parts) < 3:
                continue
            alphabet, character = name.parts[-3], name.parts[-2]
            drawer = name.stem.rsplit("_", 1)[-1]
            with Image.open(io.BytesIO(read())) as img:
                img = img.convert("L")
                if size is not None and img.size != (size[1], size[0]):
                    img = img.resize((size[1], size[0]), Image.Resampling.BOX)
                pixels = np.asarray(img, dtype=np.uint8)
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
