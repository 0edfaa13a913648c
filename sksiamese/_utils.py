"""Private helpers used by more than one module of the package.

Each lives here once: validators of the inputs that several public
functions take (same/different flags, label vectors), the docstring filler
that writes shared parameter documentation once, and small numerical
helpers. Nothing here imports torch.
"""

import numbers
import warnings

import numpy as np
from sklearn.exceptions import DataConversionWarning
from sklearn.utils import check_array

__all__ = [
    "check_embeddings",
    "check_labels",
    "check_positive_int",
    "check_same",
    "check_scores",
    "fill_doc",
    "unique_codes",
    "unit_rows",
]


def fill_doc(**fragments):
    """Decorator that writes shared parameter documentation into docstrings.

    Each ``{name}`` in the decorated object's docstring is replaced by
    ``fragments[name]``; the fragments are written once, next to the code
    they describe, and every function or class that takes the parameter
    shows the same words.

    Examples
    --------
    >>> X_DOC = "X : array-like\\n        Samples."
    >>> @fill_doc(X=X_DOC)
    ... def f(X):
    ...     '''Do it.
    ...
    ...     Parameters
    ...     ----------
    ...     {X}
    ...     '''
    >>> "Samples." in f.__doc__
    True
    """

    def decorate(obj):
        doc = obj.__doc__
        for name, text in fragments.items():
            doc = doc.replace("{" + name + "}", text)
        obj.__doc__ = doc
        return obj

    return decorate


def check_labels(y, n_samples=None, name="y"):
    """A 1-D label array, of ``n_samples`` entries when given, without NaN
    or None.

    Labels are returned as given (same values, same dtype; a column vector
    is raveled), so that what a user passes in is what comes back out.
    """
    if y is None:
        raise ValueError(f"{name} is required.")
    y = _as_label_array(y)
    if y.ndim == 2 and y.shape[1] == 1:
        warnings.warn(
            f"A column-vector {name} was passed when a 1d array was expected; "
            "it is raveled. Pass y.ravel() to silence this warning.",
            DataConversionWarning,
            stacklevel=3,
        )
        y = y.ravel()
    if y.ndim != 1:
        raise ValueError(
            f"{name} must be 1-D, one label per sample; got shape {y.shape}."
        )
    if n_samples is not None and y.shape[0] != n_samples:
        raise ValueError(
            f"{name} has {y.shape[0]} entries but there are {n_samples} samples; "
            "they must have the same length."
        )
    missing = _missing(y)
    if missing.any():
        where = np.flatnonzero(missing)[:5].tolist()
        raise ValueError(
            f"{name} holds missing labels (NaN or None) at positions {where}; "
            "every sample needs a label. Drop those samples or give them one."
        )
    return y


def _as_label_array(y):
    """``y`` as an array, without turning numbers into strings.

    ``np.asarray([7, "bob", 2.5])`` gives the strings ``"7"``, ``"bob"``
    and ``"2.5"``; a sequence of labels of mixed types becomes an object
    array of the labels themselves instead.
    """
    if not isinstance(y, (list, tuple)):
        return np.asarray(y)
    values = list(y)
    y = np.asarray(values)
    if y.ndim == 1 and y.dtype.kind in "US":
        if not all(isinstance(v, (str, bytes)) for v in values):
            y = np.empty(len(values), dtype=object)
            y[:] = values
    return y


def unique_codes(y):
    """The distinct labels of a 1-D array and each label's code.

    The labels are sorted when they can be compared (as
    :func:`numpy.unique` sorts them); labels of types that cannot be
    ordered together (numbers and strings, say) keep the order in which
    they first appear. Either way they are the labels as given.

    Returns
    -------
    classes : ndarray of shape (n_classes,)
    codes : ndarray of int64 of shape (n_samples,)
        ``classes[codes]`` equals ``y``.
    """
    try:
        classes, codes = np.unique(y, return_inverse=True)
        return classes, codes.ravel().astype(np.int64)
    except TypeError:
        index = {}
        codes = np.array([index.setdefault(v, len(index)) for v in y], dtype=np.int64)
        classes = np.empty(len(index), dtype=object)
        classes[:] = list(index)
        return classes, codes


def _missing(y):
    """Which entries of a label array are NaN or None."""
    if y.dtype.kind == "f":
        return np.isnan(y)
    if y.dtype.kind == "O":
        return np.array(
            [v is None or (isinstance(v, numbers.Real) and v != v) for v in y],
            dtype=bool,
        )
    return np.zeros(len(y), dtype=bool)


def check_same(same, n_pairs=None, *, both=True, name="same"):
    """Same/different flags of pairs as a boolean array.

    The one validator of such flags in the package: every function and
    method that takes them calls it, and calls them ``same``.

    Parameters
    ----------
    same : array-like of shape (n_pairs,)
        1 (or True) where both samples of a pair show the same class, 0 (or
        False) where they do not.
    n_pairs : int, default=None
        The number of pairs the flags must describe.
    both : bool, default=True
        Whether both values must occur (as fitting and ROC curves need).
    name : str, default="same"
        Name used in error messages.

    Returns
    -------
    same : ndarray of bool of shape (n_pairs,)
    """
    same = np.asarray(same)
    if same.ndim == 2 and same.shape[1] == 1:
        same = same.ravel()
    if same.ndim != 1:
        raise ValueError(
            f"{name} must be 1-D, one flag per pair; got an array of shape "
            f"{same.shape}."
        )
    if n_pairs is not None and len(same) != n_pairs:
        raise ValueError(
            f"{name} must hold one flag per pair ({n_pairs}); got {len(same)}."
        )
    if same.dtype.kind not in "biuf" and len(same):
        raise ValueError(
            f"{name} must hold 1 (or True) for same pairs and 0 (or False) for "
            f"different pairs; got values of type {same.dtype}. For class "
            "labels, pass them as y to fit."
        )
    values = set(np.unique(same).tolist()) if len(same) else set()
    if not values <= {0, 1}:
        shown = sorted(values, key=repr)[:5]
        raise ValueError(
            f"{name} must hold 1 (or True) for same pairs and 0 (or False) for "
            f"different pairs; got values {shown}. For class labels, pass them "
            "as y to fit."
        )
    if both and len(values) < 2:
        raise ValueError(
            f"{name} must contain both same (1) and different (0) pairs; got "
            f"only {'same' if values == {1} else 'different'} pairs."
            if values
            else f"{name} must contain both same (1) and different (0) pairs; got none."
        )
    return same.astype(bool)


def unit_rows(matrix):
    """Rows of a float matrix scaled to unit L2 norm, in its own dtype;
    all-zero rows stay zero."""
    norms = np.linalg.norm(matrix, axis=1, keepdims=True)
    return matrix / np.maximum(norms, np.finfo(matrix.dtype).tiny)


def check_embeddings(X, name="X"):
    """A 2-D array of finite floats (float32 kept, other types as float64).

    No copy is made of a float array that is already fine, so a read-only
    memory map stays one.
    """
    try:
        X = check_array(
            X,
            dtype=(np.float32, np.float64),
            input_name=name,
            ensure_2d=False,
            allow_nd=True,
        )
    except ValueError as exc:
        if "NaN" in str(exc) or "infinity" in str(exc):
            raise ValueError(
                f"{name} holds NaN or infinite values; embeddings must be "
                "finite. Check the embedder's training (its history_) and its "
                "inputs."
            ) from None
        raise
    if X.ndim != 2:
        raise ValueError(
            f"{name} must be a 2-D array of embeddings, one row per sample "
            f"(n_samples, n_features); got an array of shape {X.shape}. "
            "For a single embedding, pass it as one row: x.reshape(1, -1)."
        )
    return X


def check_positive_int(value, name, allow_none=False):
    """Refuse anything but a positive integer (or None when allowed)."""
    if value is None and allow_none:
        return
    if not isinstance(value, numbers.Integral) or isinstance(value, bool) or value < 1:
        raise ValueError(f"{name} must be a positive integer, got {value!r}.")


def check_scores(scores, n_pairs, name="scores"):
    """Finite scores of pairs as a float64 vector of ``n_pairs`` entries."""
    s = check_array(
        np.asarray(scores, dtype=np.float64), ensure_2d=False, input_name=name
    )
    if s.ndim != 1 or s.shape[0] != n_pairs:
        raise ValueError(
            f"{name} must be 1-dimensional with {n_pairs} entries, one per pair; "
            f"got shape {s.shape}."
        )
    return s


def is_int(value):
    """Whether ``value`` is an integer (and not a bool)."""
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


def check_image_size(value, name, none_means, shown=""):
    """An image size as ``(height, width)``, or None; anything else refused.

    ``value`` may be None, a positive int (square images) or a pair of
    positive ints; ``name`` and ``none_means`` (what None stands for) and
    ``shown`` (what precedes the value in the message) word the error.
    """
    if value is None:
        return None
    sides = (value, value) if is_int(value) else value
    if (
        isinstance(sides, tuple | list)
        and len(sides) == 2
        and all(is_int(s) and s >= 1 for s in sides)
    ):
        return int(sides[0]), int(sides[1])
    raise ValueError(
        f"{name} must be None ({none_means}), a positive int (square images) "
        f"or a (height, width) pair of positive ints; got {shown}{value!r}."
    )


def unreadable_reason(exc, Image):
    """Why PIL could not read an image, in words, from the error it raised."""
    if isinstance(exc, Image.UnidentifiedImageError):
        return "PIL cannot identify an image in it"
    return f"{type(exc).__name__}: {exc}"
