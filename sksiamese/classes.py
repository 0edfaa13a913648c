"""Class augmentation: more training classes made from the ones given.

:class:`RotationClasses` fits an embedder with every rotation of every
class by 90, 180 and 270 degrees as a class of its own (the class
augmentation of prototypical networks on Omniglot, Snell et al., 2017):
four times the classes to tell apart, for data where a rotated drawing is
not the same class, such as handwritten characters. It is a meta-estimator
around any embedder, as :class:`~sklearn.calibration.CalibratedClassifierCV`
is around a classifier: ``transform`` embeds with the embedder fitted on
the augmented classes, and nothing is rotated there.
"""

import numbers

import numpy as np
from sklearn.base import (
    BaseEstimator,
    MetaEstimatorMixin,
    TransformerMixin,
    _fit_context,
    clone,
)
from sklearn.utils._param_validation import HasMethods
from sklearn.utils.validation import check_is_fitted

from ._data import encode_labels
from ._embedder import SiameseEmbedder
from .images import as_paths

__all__ = ["RotationClasses"]

_ANGLES = (90, 180, 270)


def _image_axes(X, embedder):
    """``X`` as an array of images ``(n, height, width[, channels])`` and the
    shape to give the rotated images back: 2-D rows are images of the
    embedder's ``input_shape``."""
    if isinstance(X, str | bytes) or as_paths(X) is not None:
        raise ValueError(
            "RotationClasses rotates images held in an array; X holds file "
            "paths. Read them into an array first, for example with "
            "np.stack([ImageReader(size, mode).read(p) for p in paths])."
        )
    X = np.asarray(X)
    if X.ndim in (3, 4):
        return X, X.shape[1:]
    shape = getattr(embedder, "input_shape", None)
    if X.ndim == 2 and isinstance(shape, (tuple, list)) and len(shape) in (2, 3):
        shape = tuple(int(v) for v in shape)
        if int(np.prod(shape)) != X.shape[1]:
            raise ValueError(
                f"X has {X.shape[1]} features per row, but the embedder's "
                f"input_shape={shape} holds {int(np.prod(shape))} values."
            )
        return X.reshape(len(X), *shape), (X.shape[1],)
    raise ValueError(
        "RotationClasses needs images: X of shape (n, height, width) or (n, "
        "height, width, channels), or 2-D rows with the embedder's input_shape "
        f"set to the image shape; got X of shape {X.shape} and input_shape="
        f"{shape!r}."
    )


class RotationClasses(MetaEstimatorMixin, TransformerMixin, BaseEstimator):
    """Fit an embedder with each rotation of each class as a new class.

    ``fit(X, y)`` rotates every training image by each of ``angles`` and
    fits a clone of ``embedder`` on the originals and the rotated copies,
    each rotation of class ``c`` labelled as a class of its own. The
    embedder thus learns to tell apart four times as many classes, which
    helps one-shot recognition of new classes when the training classes
    are few and a rotation makes a different symbol (handwritten
    characters). Leave it out where a rotation keeps the class (photos
    taken at any angle, textures) or turns one class into another (a 6
    and a 9).

    The copies are made in memory: ``fit`` holds ``1 + len(angles)``
    times the training images. An epoch of the embedder passes over all of
    them, so it costs as many times as long; give it proportionally fewer
    ``max_epochs`` to train for the same time. The extra classes pay off
    with more training than that: on Omniglot's unseen alphabets, 30 epochs
    over the copies with stronger distortions than the default's and no
    dropout cut the one-shot error by 29% against the defaults of the time
    (20 epochs, no dropout) and by 20% against today's (the benchmarks page
    has the figures).

    Parameters
    ----------
    embedder : estimator, default=None
        The embedder to fit, cloned; ``None`` is ``SiameseEmbedder()``. It
        must learn from class labels, as :class:`~sksiamese.SiameseEmbedder`
        does.
    angles : tuple of {90, 180, 270}, default=(90, 180, 270)
        The rotations, counter-clockwise in degrees, that make new classes.
        90 and 270 need square images.

    Attributes
    ----------
    embedder_ : estimator
        The embedder fitted on the images and their rotations.
    classes_ : ndarray of shape (n_classes,)
        The class labels of ``y``, as given (the rotated classes are the
        embedder's own ``classes_``: ``len(angles) + 1`` codes per class).
    n_features_in_ : int
        Number of values per sample.

    See Also
    --------
    sksiamese.augment : Distortions of each training batch that keep the
        class.

    Examples
    --------
    >>> import numpy as np
    >>> from sksiamese import SiameseEmbedder
    >>> from sksiamese.classes import RotationClasses
    >>> rng = np.random.default_rng(0)
    >>> X = rng.integers(0, 256, (40, 12, 12), dtype=np.uint8)
    >>> y = np.repeat(["a", "b", "c", "d"], 10)
    >>> model = RotationClasses(SiameseEmbedder(max_epochs=1, random_state=0))
    >>> model.fit(X, y).transform(X).shape
    (40, 64)
    >>> len(model.embedder_.classes_), model.classes_.tolist()
    (16, ['a', 'b', 'c', 'd'])
    """

    _parameter_constraints = {
        "embedder": [HasMethods(["fit", "transform"]), None],
        "angles": [tuple, list],
    }

    def __init__(self, embedder=None, *, angles=_ANGLES):
        self.embedder = embedder
        self.angles = angles

    def _check_angles(self):
        angles = list(self.angles)
        if (
            not angles
            or not all(isinstance(a, numbers.Integral) for a in angles)
            or not set(angles) <= set(_ANGLES)
            or len(set(angles)) != len(angles)
        ):
            raise ValueError(
                "RotationClasses needs angles, distinct values among 90, 180 "
                f"and 270 (degrees); got angles={self.angles!r}."
            )
        return [int(a) for a in angles]

    @_fit_context(prefer_skip_nested_validation=False)
    def fit(self, X, y):
        """Fit a clone of the embedder on ``X``, its rotations and the
        labels that make each rotation of a class a class of its own.

        Parameters
        ----------
        X : array-like of images
            ``(n, height, width)`` or ``(n, height, width, channels)``; or
            ``(n, n_features)`` rows with the embedder's ``input_shape`` set
            to the image shape.
        y : array-like of shape (n_samples,)
            Class labels.

        Returns
        -------
        self : RotationClasses
        """
        angles = self._check_angles()
        embedder = SiameseEmbedder() if self.embedder is None else self.embedder
        images, row_shape = _image_axes(X, embedder)
        if len(y) != len(images):
            raise ValueError(
                f"X has {len(images)} samples but y has {len(y)} labels; give "
                "one label per sample."
            )
        classes, codes, _ = encode_labels(y)
        if {90, 270} & set(angles) and images.shape[1] != images.shape[2]:
            raise ValueError(
                f"Rotations by 90 or 270 degrees turn {images.shape[1]}x"
                f"{images.shape[2]} images into {images.shape[2]}x"
                f"{images.shape[1]} ones; use square images or angles=(180,)."
            )
        turned = [images] + [np.rot90(images, a // 90, axes=(1, 2)) for a in angles]
        n_turns = len(turned)
        X_all = np.concatenate([t.reshape(len(t), *row_shape) for t in turned])
        y_all = np.concatenate([codes * n_turns + k for k in range(n_turns)])
        self.embedder_ = clone(embedder).fit(X_all, y_all)
        self.classes_ = classes
        self.n_features_in_ = int(np.prod(row_shape))
        return self

    def transform(self, X):
        """Embed ``X`` with the fitted embedder (no rotation).

        Parameters
        ----------
        X : array-like
            Samples as the embedder takes them.

        Returns
        -------
        embeddings : ndarray of shape (n_samples, embedding_dim)
        """
        check_is_fitted(self, "embedder_")
        return self.embedder_.transform(X)

    def get_feature_names_out(self, input_features=None):
        """The embedder's output feature names."""
        check_is_fitted(self, "embedder_")
        return self.embedder_.get_feature_names_out(input_features)
