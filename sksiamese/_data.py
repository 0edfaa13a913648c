"""From user arrays to network batches: validation, image layout and scaling.

The layout rule, used everywhere in the package:

* 2-D ``(n_samples, n_features)``: feature rows. With ``input_shape`` set,
  each row is reshaped to that image shape before it reaches the network.
* 3-D ``(n_samples, height, width)``: grayscale images.
* 4-D ``(n_samples, height, width, channels)``: colour images, channels
  last, as numpy, PIL, matplotlib and scikit-image store them. An array that
  looks channels-first (second axis 1, 3 or 4 and last axis larger than 4) is
  refused with a message that says how to transpose it.

``uint8`` arrays are pixels in ``[0, 255]`` and are scaled to ``[0, 1]``;
other dtypes reach the network as float32 without scaling. The conversion is
done one batch at a time, so the data are never copied as a whole.

Two kinds of samples are read lazily, a batch at a time:

* an :class:`numpy.memmap` (of any of the layouts above) is kept as it is:
  only the rows of a batch are read from the file, and checked for NaN
  then;
* a sequence of image file paths (see :mod:`sksiamese.images`) is one
  sample per path; the estimators that read the pixels decode them with
  their :class:`~sksiamese.images.ImageReader`, as samples of shape
  ``(height, width)`` or ``(height, width, 3)``. Pairs of files have shape
  ``(n_pairs, 2)``.
"""

import numbers

import numpy as np
import torch
from sklearn.utils.validation import _check_feature_names, check_array

from ._utils import check_labels, unique_codes
from .images import ImageFiles, as_path_pairs, as_paths, check_files_exist

__all__ = [
    "LazyRows",
    "check_pairs",
    "encode_labels",
    "gather_rows",
    "is_lazy",
    "network_input_shape",
    "rows_to_batch",
    "take_rows",
    "to_batch",
    "validate_samples",
]


def _shape_tuple(input_shape):
    if isinstance(input_shape, numbers.Integral):
        return (int(input_shape),)
    return tuple(int(s) for s in input_shape)


class LazyRows:
    """Rows ``index`` of lazily read samples (a memmap, image files), read
    only when a batch asks for them: a subset that copies nothing.

    Parameters
    ----------
    base : numpy.memmap, ImageFiles or LazyRows
        The samples.
    index : array-like of int
        Positions in ``base``.
    """

    def __init__(self, base, index):
        index = np.asarray(index, dtype=np.int64)
        if isinstance(base, LazyRows):
            base, index = base.base, base.index[index]
        self.base = base
        self.index = index

    @property
    def shape(self):
        return (len(self.index), *self.base.shape[1:])

    @property
    def dtype(self):
        return self.base.dtype

    @property
    def ndim(self):
        return len(self.shape)

    def __len__(self):
        return len(self.index)

    def __getitem__(self, key):
        rows = self.index[key]
        if np.ndim(rows) == 0:
            return self.base[int(rows)]
        return self.base[rows]


def is_lazy(X):
    """Whether ``X`` is read a batch at a time (memmap, files, their rows)."""
    return isinstance(X, np.memmap | ImageFiles | LazyRows)


def take_rows(X, index):
    """``X[index]``, without reading anything when ``X`` is lazy."""
    if is_lazy(X):
        return LazyRows(X, index)
    return X[index]


def _describe(shape):
    return "file paths" if shape == () else f"samples of shape {shape}"


def _check_lazy(X, name):
    """A memmap's layout and dtype, checked without reading its data."""
    if X.dtype.kind not in "biuf":
        raise ValueError(
            f"{name} is a memory-mapped array of dtype {X.dtype}; samples must "
            "be numbers (uint8 pixels, or floats)."
        )
    if len(X) == 0:
        raise ValueError(
            f"Found array with 0 sample(s) (shape={X.shape}) while a minimum of "
            f"1 is required by {name}."
        )
    return X


def _samples(X, name, read_files):
    """``X`` as checked samples: an array, a memmap, file paths or files."""
    paths = as_paths(X, name)
    if paths is not None:
        check_files_exist(paths, name)
        return paths if read_files is None else read_files(paths)
    if isinstance(X, np.memmap | LazyRows):
        return _check_lazy(X, name)
    dtype = None if getattr(X, "dtype", None) == np.uint8 else "numeric"
    X = check_array(
        X,
        dtype=dtype,
        allow_nd=True,
        ensure_all_finite=True,
        input_name=name,
    )
    if X.dtype != np.uint8 and X.dtype not in (np.float32, np.float64):
        X = X.astype(np.float32)
    return X


def validate_samples(estimator, X, *, reset, name="X", read_files=None):
    """Check ``X`` and record or compare its sample shape.

    Parameters
    ----------
    estimator : estimator
        Receives ``n_features_in_``, ``sample_shape_`` and, for data frames,
        ``feature_names_in_`` when ``reset`` is true; is compared with them
        otherwise.
    X : array-like of shape (n_samples, ...), memmap or sequence of paths
        Feature rows or images, see the module docstring for the layout rule.
    reset : bool
        True in ``fit``, False afterwards.
    name : str, default="X"
        Name used in error messages.
    read_files : callable, default=None
        ``read_files(paths)`` turns checked file paths into samples (an
        :class:`~sksiamese.images.ImageFiles`); ``None`` keeps the paths,
        whose sample shape is ``()``: one path per sample.

    Returns
    -------
    X : ndarray, memmap, LazyRows, ImageFiles or ndarray of paths
        The validated samples: arrays ``uint8`` kept as is, everything else
        float32 or float64 (not copied when it already is); memmaps and
        files as they are, read a batch at a time.
    """
    _check_feature_names(estimator, X, reset=reset)
    X = _samples(X, name, read_files)
    if X.ndim not in (1, 2, 3, 4) or (X.ndim == 1 and X.dtype != object):
        raise ValueError(
            f"{name} must be 2-D (n_samples, n_features), 3-D (n_samples, "
            f"height, width) for grayscale images, 4-D (n_samples, height, "
            f"width, channels) for colour images, or a sequence of image file "
            f"paths; got an array of shape {X.shape}."
        )
    if X.ndim == 4 and X.shape[1] in (1, 3, 4) and X.shape[3] > 4:
        raise ValueError(
            f"{name} has shape {X.shape}, which looks channels-first "
            "(n, channels, height, width). sksiamese reads 4-D arrays as "
            "channels-last (n, height, width, channels); pass "
            f"np.moveaxis({name}, 1, -1)."
        )
    sample_shape = tuple(X.shape[1:])
    if reset:
        estimator.sample_shape_ = sample_shape
        estimator.n_features_in_ = int(np.prod(sample_shape))
    elif sample_shape != tuple(estimator.sample_shape_):
        raise ValueError(_shape_changed(estimator, name, sample_shape))
    return X


def _shape_changed(estimator, name, shape):
    fitted = tuple(estimator.sample_shape_)
    if () in (fitted, shape):  # file paths on one side
        what = f"it was fitted on {_describe(fitted)} and is given {_describe(shape)}"
    else:
        what = f"samples had shape {fitted} in fit and have shape {shape}"
    return (
        f"{name} has {int(np.prod(shape))} features, but "
        f"{type(estimator).__name__} is expecting {estimator.n_features_in_} "
        f"features as input: {what} now. Pass data laid out as in fit, or fit "
        "again."
    )


def check_pairs(pairs, sample_shape=None, estimator=None):
    """``pairs`` as an array of shape ``(n_pairs, 2, *sample_shape)``.

    Parameters
    ----------
    pairs : array-like of shape (n_pairs, 2, ...) or (n_pairs, 2) of paths
        Two samples per pair; pairs of image files are pairs of paths.
    sample_shape : tuple of int, default=None
        The shape each sample must have (that of the fitted samples, ``()``
        for file paths); ``None`` accepts any.
    estimator : estimator, default=None
        Named in the error when the sample shape differs.
    """
    paths = as_path_pairs(pairs)
    if paths is not None:
        pairs = paths
    elif not hasattr(pairs, "shape") or not hasattr(pairs, "dtype"):
        pairs = np.asarray(pairs)
    shape = tuple(pairs.shape)
    expected = "(n_pairs, 2, ...)"
    if sample_shape is not None:
        expected = "(n_pairs, 2, " + ", ".join(map(str, sample_shape)) + ")"
    if (len(shape) < 3 and paths is None) or shape[1:2] != (2,):
        raise ValueError(
            f"pairs must be an array of shape {expected}: two samples per "
            f"pair, each laid out as in fit (or of shape (n_pairs, 2) for "
            f"pairs of image files); got shape {shape}. To pair samples A[i] "
            "and B[i], pass np.stack([A, B], axis=1)."
        )
    if sample_shape is not None and shape[2:] != tuple(sample_shape):
        name = type(estimator).__name__ if estimator is not None else "the estimator"
        raise ValueError(
            f"pairs have {_describe(shape[2:])}, but {name} was fitted on "
            f"{_describe(tuple(sample_shape))}; pairs must have shape "
            f"{expected}."
        )
    return pairs


def network_input_shape(sample_shape, input_shape=None):
    """Shape of one sample as the network sees it.

    Returns ``(n_features,)`` for feature rows and ``(channels, height,
    width)`` for images.
    """
    if input_shape is not None:
        shape = _shape_tuple(input_shape)
        n_features = int(np.prod(sample_shape))
        if int(np.prod(shape)) != n_features:
            raise ValueError(
                f"input_shape={input_shape!r} holds {int(np.prod(shape))} "
                f"values, but samples have {n_features} features."
            )
        if len(shape) == 2:
            return (1, *shape)
        if len(shape) == 3:
            h, w, c = shape
            return (c, h, w)
        if len(shape) == 1:
            return shape
        raise ValueError(
            f"input_shape must be (height, width) or (height, width, "
            f"channels); got {input_shape!r}."
        )
    if len(sample_shape) == 1:
        return tuple(sample_shape)
    if len(sample_shape) == 2:
        return (1, *sample_shape)
    h, w, c = sample_shape
    return (c, h, w)


def gather_rows(X, indices):
    """``X[indices]`` as a writeable numpy array of its own.

    Lazy samples are read here, for these rows only: a memmap's rows come
    from the file (and are checked for NaN then), image files are decoded.
    """
    rows = X[indices]
    if isinstance(rows, np.memmap) or not rows.flags.writeable:
        rows = np.array(rows)  # a read-only array or a view of the file
    rows = np.ascontiguousarray(rows)
    if rows.dtype.kind == "f" and is_lazy(X) and not np.isfinite(rows).all():
        raise ValueError(
            "The memory-mapped samples hold NaN or infinite values (found in "
            "the rows of a batch); replace them, or drop those rows."
        )
    return rows


def rows_to_batch(rows, net_shape, device="cpu", channels_last=False):
    """Gathered rows as a float32 tensor laid out for the network.

    ``uint8`` is scaled to [0, 1], channels-last images become a ``(n, c,
    h, w)`` tensor, stored channels-first unless ``channels_last`` (the
    strides that CPU convolutions run fastest on; single-channel images
    always have them).
    """
    batch = rows if isinstance(rows, torch.Tensor) else torch.from_numpy(rows)
    if batch.dtype == torch.uint8:
        batch = batch.to(device, non_blocking=True).float().div_(255.0)
    else:
        batch = batch.to(device=device, dtype=torch.float32, non_blocking=True)
    if len(net_shape) == 3:
        c, h, w = net_shape
        batch = batch.reshape(len(batch), h, w, c).permute(0, 3, 1, 2)
        return batch if channels_last else batch.contiguous()
    return batch.reshape(len(batch), *net_shape)


def to_batch(X, indices, net_shape, device="cpu", channels_last=False):
    """Gather ``X[indices]`` as a float32 tensor laid out for the network.

    Only the selected rows are read and converted, see :func:`gather_rows`
    and :func:`rows_to_batch`.
    """
    return rows_to_batch(gather_rows(X, indices), net_shape, device, channels_last)


def encode_labels(y):
    """Validate class labels and encode them as ``0..n_classes-1``.

    Labels are kept as given (see :func:`sksiamese._utils.unique_codes`);
    NaN and None are refused. Raises a ``ValueError`` for a single class or
    a class with one sample, since neither allows the positive and
    negative pairs that training needs.
    """
    y = check_labels(y)
    classes, codes = unique_codes(y)
    counts = np.bincount(codes, minlength=len(classes))
    if len(classes) < 2:
        raise ValueError(
            f"y holds one class only ({classes[0]!r}); a Siamese network learns "
            "by comparing samples of different classes, so it needs at least "
            "2 classes."
        )
    lonely = classes[counts < 2]
    if len(lonely):
        shown = ", ".join(repr(c) for c in lonely[:5].tolist())
        more = f" and {len(lonely) - 5} more" if len(lonely) > 5 else ""
        raise ValueError(
            f"Class {shown}{more} has only 1 sample; each class needs at least "
            "2 samples to form a positive pair. Remove such classes or add "
            "samples."
        )
    return classes, codes, counts
