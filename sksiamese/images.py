"""Image files as samples: the rule that turns a file into pixels.

Wherever the package takes samples, it also takes **file paths**: a list
(or 1-D array) of ``str`` or :class:`pathlib.Path`, one image per sample,
as scikit-learn's text vectorisers take a list of strings. Pairs of files
are an array of shape ``(n_pairs, 2)`` of paths. The files are decoded a
batch at a time, never all at once, in DataLoader worker processes when
the embedder's ``num_workers`` asks for them.

One small object, :class:`ImageReader`, says how a file becomes pixels;
:class:`~sksiamese.SiameseEmbedder` takes it as its ``input_shape`` (the
image each sample becomes, as a shape is for flat rows), and the verifier
and the gallery use their embedder's:

1. **Orientation.** The EXIF orientation tag of photos is applied, so a
   portrait photo is upright.
2. **Colour mode.** Every image is converted to ``mode``: ``"L"``
   (grayscale, ITU-R 601-2 luma ``0.299 R + 0.587 G + 0.114 B``) or
   ``"RGB"`` (grayscale copied to the three channels); palette and CMYK
   images are converted as PIL converts them, transparent pixels are laid
   over black, 16-bit images are scaled to 8 bits. A collection that mixes
   grayscale and colour files is thus read in one mode.
3. **Size.** Every image is brought to ``size = (height, width)`` by
   ``fit``: ``"crop"`` scales it so that it covers the size and cuts the
   centre (no distortion, the borders of the longer side are lost),
   ``"pad"`` scales it to fit inside and fills the rest with black
   (nothing lost), ``"stretch"`` scales each side on its own. Resampling
   is bilinear (antialiased when shrinking); an image of the right size is
   left as it is.

The pixels are ``uint8``, shaped ``(height, width)`` in mode ``"L"`` and
``(height, width, 3)`` in mode ``"RGB"``: what an array of the same images
would hold, so that a model fitted on files transforms that array alike
(and the other way round). An unreadable, truncated or missing file raises
a ``ValueError`` that names it.

Examples
--------
>>> import tempfile
>>> from pathlib import Path
>>> import numpy as np
>>> from PIL import Image
>>> from sksiamese.images import ImageReader
>>> path = Path(tempfile.mkdtemp()) / "wide.png"
>>> Image.fromarray(np.zeros((30, 60, 3), np.uint8)).save(path)
>>> ImageReader(size=20, mode="L").read(path).shape
(20, 20)
>>> ImageReader(size=(20, 20), fit="pad").read(path).shape
(20, 20, 3)
"""

import os
import struct
import zlib

import numpy as np

from ._utils import check_image_size, is_int, unreadable_reason

__all__ = [
    "IMAGE_EXTENSIONS",
    "ImageFiles",
    "ImageReader",
]

#: File name endings read as images by :func:`sksiamese.datasets.load_image_folder`.
IMAGE_EXTENSIONS = (
    ".bmp",
    ".gif",
    ".jpeg",
    ".jpg",
    ".pgm",
    ".png",
    ".ppm",
    ".tif",
    ".tiff",
    ".webp",
)

_MODES = ("L", "RGB")
_FITS = ("crop", "pad", "stretch")
# PIL modes of one band, read as grayscale when the mode is taken from a file
_GRAY = {"1", "L", "LA", "La", "I", "I;16", "I;16B", "I;16L", "I;16N", "F"}
_SIXTEEN_BIT = {"I", "I;16", "I;16B", "I;16L", "I;16N"}
_ORIENTATION = 0x0112


def _check_size(size):
    """``size`` as ``(height, width)`` or None; anything else refused."""
    return check_image_size(
        size,
        "ImageReader size",
        "the size of the network, or else of the first training image",
        "size=",
    )


class ImageReader:
    """How image files become the pixels a network sees.

    See the module docstring for the rule in full: EXIF orientation, then
    the colour ``mode``, then ``size`` by ``fit``.

    Parameters
    ----------
    size : int, (height, width) or None, default=None
        Size of every image. An int means a square. ``None``: the
        estimator that reads the files chooses, see
        :class:`~sksiamese.SiameseEmbedder` (``read`` then keeps each
        file's own size).
    mode : {"L", "RGB"} or None, default=None
        ``"L"``: grayscale, ``(height, width)``; ``"RGB"``: colour,
        ``(height, width, 3)``. ``None``: the estimator chooses (``read``
        then gives grayscale files as ``"L"`` and others as ``"RGB"``).
    fit : {"crop", "pad", "stretch"}, default="crop"
        How an image of another shape is brought to ``size``: scaled to
        cover it and centre-cropped, scaled to fit in it and padded with
        black, or scaled to it without keeping the aspect ratio.

    Examples
    --------
    >>> from sksiamese.images import ImageReader
    >>> ImageReader(size=64, mode="RGB")
    ImageReader(size=64, mode='RGB')
    >>> ImageReader(size=64).get_params()
    {'size': 64, 'mode': None, 'fit': 'crop'}
    """

    _names = ("size", "mode", "fit")
    _defaults = (None, None, "crop")

    def __init__(self, size=None, *, mode=None, fit="crop"):
        _check_size(size)
        if mode is not None and mode not in _MODES:
            raise ValueError(
                f"ImageReader mode must be 'L' (grayscale), 'RGB' or None; got "
                f"mode={mode!r}."
            )
        if fit not in _FITS:
            raise ValueError(
                f"ImageReader fit must be one of {list(_FITS)}; got fit={fit!r}."
            )
        self.size = size
        self.mode = mode
        self.fit = fit

    def get_params(self, deep=True):
        """The parameters, as scikit-learn estimators give them."""
        return {name: getattr(self, name) for name in self._names}

    def set_params(self, **params):
        """Set parameters (checked as in the constructor); return self."""
        unknown = sorted(set(params) - set(self._names))
        if unknown:
            raise ValueError(
                f"ImageReader has no parameter {unknown[0]!r}; it has "
                f"{list(self._names)}."
            )
        merged = {**self.get_params(), **params}
        type(self)(merged.pop("size"), **merged)  # check before changing
        for name, value in params.items():
            setattr(self, name, value)
        return self

    def __repr__(self):
        shown = [
            f"{name}={getattr(self, name)!r}"
            for name, default in zip(self._names, self._defaults, strict=True)
            if getattr(self, name) != default
        ]
        return f"{type(self).__name__}({', '.join(shown)})"

    def __eq__(self, other):
        if type(other) is not type(self):
            return NotImplemented
        return self._key() == other._key()

    def __hash__(self):
        return hash(self._key())

    def _key(self):
        return (_check_size(self.size), self.mode, self.fit)

    def read(self, path):
        """The pixels of one image file, as a ``uint8`` array.

        Parameters
        ----------
        path : str or path-like
            The file.

        Returns
        -------
        pixels : ndarray of shape (height, width) or (height, width, 3)

        Raises
        ------
        ValueError
            When the file is missing, unreadable, truncated or no image; the
            message names it.
        """
        return _decode(path, _check_size(self.size), self.mode, self.fit)

    def resolve(self, path, size=None, mode=None):
        """This reader with its unset ``size`` and ``mode`` filled in.

        An unset size becomes ``size``, or else the size of the image at
        ``path`` (upright); an unset mode becomes ``mode``, or else ``"L"``
        when that image is grayscale and ``"RGB"`` when it is not.
        """
        own_size, own_mode = _check_size(self.size), self.mode
        size = own_size or (_check_size(size) if size is not None else None)
        mode = own_mode or mode
        if size is None or mode is None:
            image_size, gray = _peek(path)
            size = size or image_size
            mode = mode or ("L" if gray else "RGB")
        return type(self)(size, mode=mode, fit=self.fit)


def _unreadable(path, why):
    return ValueError(
        f"Cannot read the image file {str(path)!r} ({why}). The file is "
        "damaged, truncated or not an image: remove it from the samples or "
        "replace it."
    )


# what decoding a damaged file raises: PIL's errors (OSError and its
# UnidentifiedImageError, SyntaxError, ValueError, EOFError, struct.error,
# the decompressor's zlib.error) and its decompression-bomb guard
def _decoding_errors(Image):
    return (
        OSError,
        SyntaxError,
        ValueError,
        EOFError,
        struct.error,
        zlib.error,
        Image.DecompressionBombError,
    )


def _open(path):
    """Open ``path`` as a PIL image, upright; errors name the file."""
    from PIL import Image, ImageOps

    if not os.path.isfile(path):
        raise ValueError(
            f"The image file {str(path)!r} does not exist (or is not a file); "
            "check the path, which is read relative to the current directory "
            f"{os.getcwd()!r} unless it is absolute."
        )
    try:
        img = Image.open(path)
        img.load()
        if img.getexif().get(_ORIENTATION, 1) != 1:
            img = ImageOps.exif_transpose(img)
        return img
    except _decoding_errors(Image) as exc:
        raise _unreadable(path, unreadable_reason(exc, Image)) from exc


def _peek(path):
    """Size ``(height, width)`` of an image file and whether it is grayscale."""
    with _open(path) as img:
        return (img.height, img.width), img.mode in _GRAY


def _to_mode(img, mode):
    """``img`` converted to ``mode``: transparency over black, 16 bits to 8."""
    from PIL import Image

    if img.mode in _SIXTEEN_BIT:
        wide = np.asarray(img, dtype=np.int64).clip(0, 65535)
        img = Image.fromarray(((wide * 255 + 32767) // 65535).astype(np.uint8))
    if img.mode in ("RGBA", "LA", "La", "RGBa", "PA") or (
        img.mode == "P" and "transparency" in img.info
    ):
        rgba = img.convert("RGBA")
        black = Image.new("RGBA", rgba.size, (0, 0, 0, 255))
        img = Image.alpha_composite(black, rgba)
    if mode is None:
        mode = "L" if img.mode in _GRAY else "RGB"
    return img if img.mode == mode else img.convert(mode)


def _to_size(img, size, fit):
    from PIL import Image, ImageOps

    if size is None or img.size == (size[1], size[0]):
        return img
    target = (size[1], size[0])  # PIL sizes are (width, height)
    method = Image.Resampling.BILINEAR
    if fit == "crop":
        return ImageOps.fit(img, target, method)
    if fit == "pad":
        return ImageOps.pad(img, target, method, color=0)
    return img.resize(target, method)


def _decode(path, size, mode, fit):
    from PIL import Image

    img = _open(path)
    try:
        return np.array(_to_size(_to_mode(img, mode), size, fit), dtype=np.uint8)
    except _decoding_errors(Image) as exc:
        raise _unreadable(path, f"{type(exc).__name__}: {exc}") from exc
    finally:
        img.close()


def as_paths(X, name="X"):
    """``X`` as a 1-D object array of path strings when it is a sequence of
    file paths (``str`` or path-like), else None.

    A list, a tuple, a 1-D string or object array and a pandas Series of
    paths all count; an array of any other shape or of numbers does not.
    """
    if isinstance(X, list | tuple):
        if not X:
            return None
        values = X
    elif isinstance(X, np.ndarray) or hasattr(X, "__array__"):
        if not hasattr(X, "dtype") or getattr(X, "ndim", None) != 1:
            return None
        if X.dtype.kind not in "USO" or len(X) == 0:
            return None
        values = np.asarray(X, dtype=object)
    else:
        return None
    is_path = [isinstance(v, str | os.PathLike) for v in values]
    if not any(is_path):
        return None
    if not all(is_path):
        where = is_path.index(False)
        raise ValueError(
            f"{name} mixes file paths and other values: {name}[{where}] is "
            f"{values[where]!r}. Pass one path (str or pathlib.Path) per "
            "sample, or an array of samples."
        )
    paths = np.empty(len(values), dtype=object)
    paths[:] = [os.fspath(v) for v in values]
    return paths


def as_path_pairs(pairs):
    """Pairs of file paths as an object array of shape (n_pairs, 2), or None."""
    if isinstance(pairs, list | tuple):
        first = pairs[0] if len(pairs) else None
        if not (
            isinstance(first, list | tuple | np.ndarray)
            and len(first)
            and isinstance(first[0], str | os.PathLike)
        ):
            return None
    elif not (hasattr(pairs, "dtype") and pairs.dtype.kind in "USO"):
        return None
    try:
        array = np.asarray(pairs, dtype=object)
    except ValueError:  # ragged
        return None
    if array.ndim != 2 or array.shape[1] != 2:
        return None
    flat = as_paths(list(array.ravel()), "pairs")
    return None if flat is None else flat.reshape(array.shape)


def check_files_exist(paths, name="X"):
    """Refuse paths that name no file, before any training starts."""
    missing = [p for p in paths if not os.path.isfile(p)]
    if missing:
        shown = ", ".join(repr(p) for p in missing[:5])
        more = f" and {len(missing) - 5} more" if len(missing) > 5 else ""
        raise ValueError(
            f"{name} names {len(missing)} file(s) that do not exist: {shown}"
            f"{more}. Relative paths are read from the current directory "
            f"{os.getcwd()!r}; pass absolute paths, or paths that exist."
        )


class ImageFiles:
    """Image files read on demand as a ``uint8`` array of samples.

    Indexing (an int, a slice or an index array) decodes the files it
    names with ``reader`` and returns their pixels; nothing else is held
    in memory. The samples the estimators build from file paths.

    Parameters
    ----------
    paths : ndarray of str of shape (n_samples,)
        The files.
    reader : ImageReader
        With ``size`` and ``mode`` set.
    sample_shape : tuple of int, default=None
        Shape of one sample, when it differs from the decoded pixels' shape
        in layout only (``(height, width, 1)``, or a flat row); ``None``:
        that of the decoded pixels.
    """

    dtype = np.dtype(np.uint8)

    def __init__(self, paths, reader, sample_shape=None):
        self.paths = paths
        self.reader = reader
        h, w = _check_size(reader.size)
        pixels = (h, w) if reader.mode == "L" else (h, w, 3)
        if sample_shape is not None and np.prod(sample_shape) != np.prod(pixels):
            raise ValueError(
                f"Image files read as {pixels} pixels cannot make samples of "
                f"shape {tuple(sample_shape)}."
            )
        self.sample_shape = tuple(sample_shape or pixels)
        self._pixels = pixels

    @property
    def shape(self):
        return (len(self.paths), *self.sample_shape)

    @property
    def ndim(self):
        return len(self.shape)

    def __len__(self):
        return len(self.paths)

    def __getitem__(self, key):
        if is_int(key) or isinstance(key, np.integer):
            return self._read(self.paths[key])
        paths = self.paths[key]
        out = np.empty((len(paths), *self.sample_shape), dtype=np.uint8)
        for i, path in enumerate(paths):
            out[i] = self._read(path)
        return out

    def _read(self, path):
        pixels = self.reader.read(path)
        if pixels.shape != self._pixels:  # the reader's rule makes this rare
            raise ValueError(
                f"The image file {path!r} was read as {pixels.shape} pixels, "
                f"not {self._pixels}."
            )
        return pixels.reshape(self.sample_shape)

    def __repr__(self):
        return f"ImageFiles({len(self)} files, {self.reader!r})"


def reader_for_shape(reader, sample_shape):
    """``reader`` set to read files as samples of ``sample_shape`` (the
    shape of the fitted samples), or None when no image has that shape."""
    shape = tuple(sample_shape)
    if len(shape) == 2 or (len(shape) == 3 and shape[2] == 1):
        mode = "L"
    elif len(shape) == 3 and shape[2] == 3:
        mode = "RGB"
    else:
        return None
    reader = ImageReader() if reader is None else reader
    if reader.mode not in (None, mode):
        return None
    return ImageReader(shape[:2], mode=mode, fit=reader.fit)


def reader_of(input_shape):
    """The :class:`ImageReader` of an estimator's ``input_shape``: itself, one
    for a shape ``(height, width[, channels])``, or ``ImageReader()``."""
    if isinstance(input_shape, ImageReader):
        return input_shape
    if input_shape is None:
        return ImageReader()
    shape = tuple(input_shape)
    if len(shape) not in (2, 3) or (len(shape) == 3 and shape[2] not in (1, 3)):
        raise ValueError(
            f"input_shape={input_shape!r} cannot be the shape image files are "
            "read to: give (height, width) for grayscale, (height, width, 3) "
            "for RGB, or an ImageReader."
        )
    mode = "RGB" if len(shape) == 3 and shape[2] == 3 else "L"
    return ImageReader(shape[:2], mode=mode)


def files_as_samples(paths, input_shape, sample_shape=None, default=(None, None)):
    """Image files as the samples of an estimator, an :class:`ImageFiles`.

    Parameters
    ----------
    paths : ndarray of str
        The files.
    input_shape : tuple of int, ImageReader or None
        The estimator's ``input_shape``, see :func:`reader_of`.
    sample_shape : tuple of int, default=None
        The fitted samples' shape, which the files are read to; ``None`` in
        a new fit, where the reader's unset size and mode come from
        ``default``, or else from the first file.
    default : (size, mode), default=(None, None)
        What the network asks for, see :meth:`ImageReader.resolve`.
    """
    reader = reader_of(input_shape)
    if sample_shape is None:
        layout = None
        if not isinstance(input_shape, ImageReader) and input_shape is not None:
            layout = tuple(int(s) for s in input_shape)
        return ImageFiles(paths, reader.resolve(paths[0], *default), layout)
    shape = tuple(sample_shape)
    if len(shape) == 1 and not isinstance(input_shape, ImageReader | None):
        shape = tuple(int(s) for s in input_shape)
    fitted = reader_for_shape(reader, shape)
    if fitted is None:
        raise ValueError(
            f"The estimator was fitted on samples of shape {tuple(sample_shape)}"
            ", which image files cannot be read as (they read as grayscale "
            "(height, width) or RGB (height, width, 3) images, in the mode of "
            "its input_shape). Pass samples laid out as in fit."
        )
    return ImageFiles(paths, fitted, tuple(sample_shape))
