"""Small transformers that compose embeddings with other features.

They are what a :class:`~sklearn.pipeline.FeatureUnion` needs to put a
learned embedding beside another description of the same samples (a Fisher
discriminant, say) or beside a second network, with a chosen share of the
distance for each part:

* :class:`Flatten` turns images into rows, for scikit-learn steps (PCA,
  linear discriminant analysis) that take rows only.
* :class:`DistanceScaler` divides a part by its typical distance between
  samples of different classes, so that parts of different scales weigh
  what ``transformer_weights`` says.

Examples
--------
Fisherfaces beside a Siamese network, each half of a squared distance:

>>> from sklearn.decomposition import PCA
>>> from sklearn.discriminant_analysis import LinearDiscriminantAnalysis
>>> from sklearn.pipeline import FeatureUnion, make_pipeline
>>> from sklearn.preprocessing import Normalizer
>>> from sksiamese import SiameseEmbedder
>>> from sksiamese.preprocessing import DistanceScaler, Flatten
>>> fisher = make_pipeline(
...     Flatten(), PCA(50, whiten=True), LinearDiscriminantAnalysis(),
...     Normalizer(), DistanceScaler())
>>> network = make_pipeline(SiameseEmbedder(), DistanceScaler())
>>> union = FeatureUnion([("network", network), ("fisher", fisher)],
...                      transformer_weights={"network": 0.5**0.5,
...                                           "fisher": 0.5**0.5})
"""

import numbers

import numpy as np
from sklearn.base import BaseEstimator, OneToOneFeatureMixin, TransformerMixin
from sklearn.utils._param_validation import Interval
from sklearn.utils.validation import check_array, check_is_fitted, validate_data

from ._utils import check_labels
from .verification import balanced_pairs

__all__ = ["DistanceScaler", "Flatten"]


class Flatten(TransformerMixin, BaseEstimator):
    """Turn samples of any shape into rows of their values.

    Images ``(n, height, width)`` or ``(n, height, width, channels)`` become
    rows ``(n, height * width * channels)``, in numpy's order; rows stay as
    they are. ``uint8`` pixels are scaled to ``[0, 1]``, as everywhere in
    the package; the output is float32 (float64 stays float64).

    Attributes
    ----------
    n_features_in_ : int
        Values per sample.
    sample_shape_ : tuple of int
        Shape of one sample seen in ``fit``.

    Examples
    --------
    >>> import numpy as np
    >>> from sksiamese.preprocessing import Flatten
    >>> Flatten().fit_transform(np.zeros((5, 8, 8), dtype=np.uint8)).shape
    (5, 64)
    """

    def fit(self, X, y=None):
        """Record the sample shape.

        Parameters
        ----------
        X : array-like of shape (n_samples, ...)
            Samples.
        y : None
            Ignored.

        Returns
        -------
        self : Flatten
        """
        X = self._check(X)
        self.sample_shape_ = X.shape[1:]
        self.n_features_in_ = int(np.prod(self.sample_shape_))
        return self

    def _check(self, X):
        uint8 = getattr(X, "dtype", None) == np.uint8
        return check_array(
            X, dtype=None if uint8 else (np.float64, np.float32), allow_nd=True
        )

    def transform(self, X):
        """Rows of the values of ``X``.

        Parameters
        ----------
        X : array-like of shape (n_samples, ...)
            Samples of the shape seen in ``fit``.

        Returns
        -------
        rows : ndarray of shape (n_samples, n_features_in_)
        """
        check_is_fitted(self, "sample_shape_")
        X = self._check(X)
        if X.shape[1:] != self.sample_shape_:
            raise ValueError(
                f"X has {int(np.prod(X.shape[1:]))} features, but Flatten is "
                f"expecting {self.n_features_in_} features as input: samples "
                f"had shape {self.sample_shape_} in fit and have shape "
                f"{X.shape[1:]} now."
            )
        rows = X.reshape(len(X), -1)
        if rows.dtype == np.uint8:
            return rows.astype(np.float32) / np.float32(255)
        return rows

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.three_d_array = True
        return tags


class DistanceScaler(OneToOneFeatureMixin, TransformerMixin, BaseEstimator):
    """Divide features by their median distance between different classes.

    Fitted with class labels, ``scale_`` is the median Euclidean distance
    between the two samples of the "different" pairs among
    :func:`~sksiamese.verification.balanced_pairs` of ``y`` (at most
    ``max_pairs``, drawn with ``random_state=0``); without labels, of random
    pairs. After it, a typical distance between classes is 1 whatever the
    features' own scale, so that in a
    :class:`~sklearn.pipeline.FeatureUnion` of scaled parts with
    ``transformer_weights`` ``sqrt(w_i)`` each part contributes ``w_i`` of
    a typical squared distance.

    Parameters
    ----------
    max_pairs : int, default=4000
        Largest number of pairs measured.

    Attributes
    ----------
    scale_ : float
        The distance the features are divided by (1.0 when it is 0).
    n_features_in_ : int
        Number of features.

    Examples
    --------
    >>> import numpy as np
    >>> from sksiamese.preprocessing import DistanceScaler
    >>> X = np.array([[0.0], [0.0], [10.0], [10.0]])
    >>> DistanceScaler().fit(X, [0, 0, 1, 1]).scale_
    10.0
    """

    _parameter_constraints = {
        "max_pairs": [Interval(numbers.Integral, 2, None, closed="left")],
    }

    def __init__(self, max_pairs=4000):
        self.max_pairs = max_pairs

    def fit(self, X, y=None):
        """Measure the median distance between classes.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Features.
        y : array-like of shape (n_samples,), default=None
            Class labels; ``None`` measures random pairs.

        Returns
        -------
        self : DistanceScaler
        """
        self._validate_params()
        X = validate_data(self, X, dtype=(np.float64, np.float32), reset=True)
        if y is None:
            rng = np.random.default_rng(0)
            n = min(self.max_pairs, len(X) * (len(X) - 1) // 2)
            a, b = rng.integers(0, len(X), size=(2, n))
            a, b = a[a != b], b[a != b]
        else:
            y = check_labels(y, len(X))
            pairs, same = balanced_pairs(y, self.max_pairs, random_state=0)
            a, b = pairs[same == 0].T
        distances = np.linalg.norm(X[a].astype(np.float64) - X[b], axis=1)
        scale = float(np.median(distances)) if len(distances) else 0.0
        self.scale_ = scale if scale > 0 else 1.0
        return self

    def transform(self, X):
        """Divide ``X`` by ``scale_``.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Features.

        Returns
        -------
        X_scaled : ndarray of shape (n_samples, n_features)
        """
        check_is_fitted(self, "scale_")
        X = validate_data(self, X, dtype=(np.float64, np.float32), reset=False)
        return X / X.dtype.type(self.scale_)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.transformer_tags.preserves_dtype = ["float64", "float32"]
        return tags
