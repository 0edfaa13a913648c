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
"""

import numbers

import numpy as np
import torch
from sklearn.utils.validation import _check_feature_names, check_array

from ._utils import check_labels, unique_codes

__all__ = [
    "check_pairs",
    "encode_labels",
    "network_input_shape",
    "to_batch",
    "validate_samples",
]


def _shape_tuple(input_shape):
    if isinstance(input_shape, numbers.Integral):
        return (int(input_shape),)
    return tuple(int(s) for s in input_shape)


def validate_samples(estimator, X, *, reset, name="X"):
    """Check ``X`` and record or compare its sample shape.

    Parameters
    ----------
    estimator : estimator
        Receives ``n_features_in_``, ``sample_shape_`` and, for data frames,
        ``feature_names_in_`` when ``reset`` is true; is compared with them
        otherwise.
    X : array-like of shape (n_samples, ...)
        Feature rows or images, see the module docstring for the layout rule.
    reset : bool
        True in ``fit``, False afterwards.
    name : str, default="X"
        Name used in error messages.

    Returns
    -------
    X : ndarray
        The validated array, ``uint8`` kept as is, everything else float32
        or float64 (not copied when it already is).
    """
    _check_feature_names(estimator, X, reset=reset)
    dtype = None if getattr(X, "dtype", None) == np.uint8 else "numeric"
    X = check_array(
        X,
        dtype=dtype,
        allow_nd=True,
        ensure_all_finite=True,
        input_name=name,
    )
    if X.ndim not in (2, 3, 4):
        raise ValueError(
            f"{name} must be 2-D (n_samples, n_features), 3-D (n_samples, "
            f"height, width) for grayscale images or 4-D (n_samples, height, "
            f"width, channels) for colour images; got an array of shape "
            f"{X.shape}."
        )
    if X.dtype != np.uint8 and X.dtype not in (np.float32, np.float64):
        X = X.astype(np.float32)
    if X.ndim == 4 and X.shape[1] in (1, 3, 4) and X.shape[3] > 4:
        raise ValueError(
            f"{name} has shape {X.shape}, which looks channels-first "
            "(n, channels, height, width). sksiamese reads 4-D arrays as "
            "channels-last (n, height, width, channels); pass "
            f"np.moveaxis({name}, 1, -1)."
        )
    sample_shape = X.shape[1:]
    if reset:
        estimator.sample_shape_ = sample_shape
        estimator.n_features_in_ = int(np.prod(sample_shape))
    elif sample_shape != estimator.sample_shape_:
        raise ValueError(
            f"{name} has {int(np.prod(sample_shape))} features, but "
            f"{type(estimator).__name__} is expecting "
            f"{estimator.n_features_in_} features as input: samples had shape "
            f"{estimator.sample_shape_} in fit and have shape {sample_shape} "
            "now. Pass data laid out as in fit, or fit again."
        )
    return X


def check_pairs(pairs, sample_shape=None, estimator=None):
    """``pairs`` as an array of shape ``(n_pairs, 2, *sample_shape)``.

    Parameters
    ----------
    pairs : array-like of shape (n_pairs, 2, ...)
        Two samples per pair.
    sample_shape : tuple of int, default=None
        The shape each sample must have (that of the fitted samples);
        ``None`` accepts any.
    estimator : estimator, default=None
        Named in the error when the sample shape differs.
    """
    if not hasattr(pairs, "shape") or not hasattr(pairs, "dtype"):
        pairs = np.asarray(pairs)
    shape = tuple(pairs.shape)
    expected = "(n_pairs, 2, ...)"
    if sample_shape is not None:
        expected = "(n_pairs, 2, " + ", ".join(map(str, sample_shape)) + ")"
    if len(shape) < 3 or shape[1] != 2:
        raise ValueError(
            f"pairs must be an array of shape {expected}: two samples per "
            f"pair, each laid out as in fit; got shape {shape}. To pair "
            "samples A[i] and B[i], pass np.stack([A, B], axis=1)."
        )
    if sample_shape is not None and shape[2:] != tuple(sample_shape):
        name = type(estimator).__name__ if estimator is not None else "the estimator"
        raise ValueError(
            f"pairs have samples of shape {shape[2:]}, but {name} was fitted "
            f"on samples of shape {tuple(sample_shape)}; pairs must have shape "
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


def to_batch(X, indices, net_shape, device="cpu", channels_last=False):
    """Gather ``X[indices]`` as a float32 tensor laid out for the network.

    Only the selected rows are converted: ``uint8`` is scaled to [0, 1],
    channels-last images become a ``(n, c, h, w)`` tensor, stored
    channels-first unless ``channels_last`` (the strides that CPU
    convolutions run fastest on; single-channel images always have them).
    """
    rows = np.ascontiguousarray(X[indices])
    if not rows.flags.writeable:  # a read-only array or memmap: copy the batch
        rows = rows.copy()
    batch = torch.from_numpy(rows)
    if batch.dtype == torch.uint8:
        batch = batch.to(device, non_blocking=True).float().div_(255.0)
    else:
        batch = batch.to(device=device, dtype=torch.float32, non_blocking=True)
    if len(net_shape) == 3:
        c, h, w = net_shape
        batch = batch.reshape(len(batch), h, w, c).permute(0, 3, 1, 2)
        return batch if channels_last else batch.contiguous()
    return batch.reshape(len(batch), *net_shape)


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
