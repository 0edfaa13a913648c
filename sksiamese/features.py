"""Fixed image features that need no training.

:class:`GaborFeatures` describes each image by the magnitude of its
responses to a bank of Gabor filters (oriented band-pass filters at several
scales), the classic description of faces before deep networks. In a
:class:`~sklearn.pipeline.Pipeline` it serves as the input of a Fisher
discriminant beside a network (in a :class:`~sklearn.pipeline.FeatureUnion`,
see the user guide) and as a baseline that learns nothing but a linear
model (Gabor, PCA and linear discriminant analysis, then nearest
neighbours).

:class:`FaceDescriptors` describes each face by the 128-D output of dlib's
pretrained face network, what millions of photos of other people taught:
estimators fitted on these rows learn from few photos of few people what
they could not learn from pixels (optional extra ``faces``).
"""

import functools
import importlib.util
import numbers
import os
import warnings

import numpy as np
from scipy.signal import fftconvolve
from sklearn.base import BaseEstimator, TransformerMixin, _fit_context
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.validation import check_is_fitted

from ._data import network_input_shape, validate_samples

__all__ = ["GaborFeatures", "FaceDescriptors", "gabor_kernel"]

_BATCH = 1024  # images filtered at a time: bounded memory


def gabor_kernel(frequency, theta, bandwidth=0.56):
    """A complex Gabor kernel of zero mean and unit L1 norm.

    Parameters
    ----------
    frequency : float
        Spatial frequency of the carrier, in cycles per pixel.
    theta : float
        Orientation of the carrier in radians (0: vertical stripes, which
        respond to horizontal changes).
    bandwidth : float, default=0.56
        Standard deviation of the Gaussian envelope times ``frequency``:
        0.56 gives filters of about one octave.

    Returns
    -------
    kernel : ndarray of complex128, of shape (2r + 1, 2r + 1)
        ``r`` is 2.5 standard deviations of the envelope, rounded up.
    """
    sigma = bandwidth / frequency
    r = int(np.ceil(2.5 * sigma))
    y, x = np.mgrid[-r : r + 1, -r : r + 1].astype(np.float64)
    along = x * np.cos(theta) + y * np.sin(theta)
    kernel = np.exp(-(x**2 + y**2) / (2 * sigma**2)) * np.exp(
        2j * np.pi * frequency * along
    )
    kernel -= kernel.mean()  # no response to uniform brightness
    return kernel / np.abs(kernel).sum()


def _block_mean(maps, pool):
    """Mean over ``pool x pool`` blocks of ``(n, h, w)`` maps, edges trimmed."""
    if pool == 1:
        return maps
    n, h, w = maps.shape
    h, w = h - h % pool, w - w % pool
    return maps[:, :h, :w].reshape(n, h // pool, pool, w // pool, pool).mean((2, 4))


class _ImageTransformer(TransformerMixin, BaseEstimator):
    """What the image transformers share: feature rows refused (``_reads``
    says what the transformer does with images) and the tags of an
    estimator that takes 3-D or 4-D image arrays."""

    _reads = "reads images"

    def _image_shape(self, sample_shape):
        """``(channels, height, width)`` of the samples (``input_shape`` may
        lay rows out as images); feature rows are refused."""
        shape = network_input_shape(sample_shape, self.input_shape)
        if len(shape) != 3:
            raise ValueError(
                f"{type(self).__name__} {self._reads}, but the samples are "
                f"feature rows of shape {tuple(sample_shape)}. Pass images (n, "
                "height, width[, channels]) or set input_shape=(height, width)."
            )
        return shape

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.two_d_array = False
        tags.input_tags.three_d_array = True
        tags.requires_fit = True
        return tags


class GaborFeatures(_ImageTransformer):
    """Magnitudes of Gabor filter responses of images, as feature rows.

    Each image (colour images: the mean of their channels) is filtered by
    ``n_scales * n_orientations`` complex Gabor kernels. The magnitude of
    each response map is averaged over ``pool x pool`` blocks and, with
    ``standardize``, brought to zero mean and unit variance within the image,
    so that the features do not depend on contrast. The maps are
    concatenated, scale by scale, orientation by orientation.

    The kernels have zero mean, so uniform brightness gives no response,
    but images are padded with zeros beyond their borders: near a border,
    where the larger kernels reach past it, the maps also respond to how
    bright the image is there, the outline of hair and background on a
    face. On faces of people never seen in training this ranks pairs
    better than padding by reflection or by the edge values, or centring
    each image first (ROC AUC 0.980 against 0.962-0.975 and 0.967 for a
    linear discriminant on 14x11 ORL photos, over 16 random choices of
    the unseen people; the first figure is ``benchmarks/bench_orl_linear.py``'s,
    the others were measured with variants of this class outside it).

    Nothing is learned: ``fit`` records the image shape and builds the
    kernels.

    Parameters
    ----------
    n_scales : int, default=5
        Number of frequencies, from ``max_frequency`` down, each
        ``scale_ratio`` times lower than the one before.
    n_orientations : int, default=8
        Number of orientations, evenly spaced over half a turn.
    max_frequency : float, default=0.25
        Highest frequency in cycles per pixel (at most 0.5, the Nyquist
        frequency). 0.25 suits images of 10 to 60 pixels across a face.
    scale_ratio : float, default=sqrt(2)
        Ratio between successive frequencies.
    bandwidth : float, default=0.56
        Envelope standard deviation times frequency (see
        :func:`gabor_kernel`).
    pool : int, default=1
        Side of the blocks over which each magnitude map is averaged; 2
        divides the number of features by 4.
    standardize : bool, default=True
        Scale each magnitude map of each image to zero mean and unit
        variance.
    input_shape : tuple of int, default=None
        For 2-D ``X`` only: the image shape of each row, ``(height,
        width)`` or ``(height, width, channels)``. Images may also be
        passed as 3-D ``(n, height, width)`` or 4-D ``(n, height, width,
        channels)`` arrays.

    Attributes
    ----------
    n_features_in_ : int
        Values per input sample.
    sample_shape_ : tuple of int
        Shape of one input sample.
    image_shape_ : tuple of int
        ``(height, width)`` of the filtered images.
    frequencies_ : ndarray of shape (n_scales,)
        Frequencies of the kernels, in cycles per pixel.
    kernels_ : list of ndarray
        The ``n_scales * n_orientations`` complex kernels.
    n_features_out_ : int
        Width of the output rows.

    Examples
    --------
    >>> import numpy as np
    >>> from sksiamese.features import GaborFeatures
    >>> images = np.random.default_rng(0).random((4, 14, 12))
    >>> GaborFeatures(n_scales=2, n_orientations=4, pool=2).fit_transform(images).shape
    (4, 336)
    """

    _reads = "filters images"

    _parameter_constraints = {
        "n_scales": [Interval(numbers.Integral, 1, None, closed="left")],
        "n_orientations": [Interval(numbers.Integral, 1, None, closed="left")],
        "max_frequency": [Interval(numbers.Real, 0, 0.5, closed="right")],
        "scale_ratio": [Interval(numbers.Real, 1, None, closed="neither")],
        "bandwidth": [Interval(numbers.Real, 0, None, closed="neither")],
        "pool": [Interval(numbers.Integral, 1, None, closed="left")],
        "standardize": ["boolean"],
        "input_shape": [tuple, list, None],
    }

    def __init__(
        self,
        n_scales=5,
        n_orientations=8,
        max_frequency=0.25,
        scale_ratio=np.sqrt(2),
        bandwidth=0.56,
        pool=1,
        standardize=True,
        input_shape=None,
    ):
        self.n_scales = n_scales
        self.n_orientations = n_orientations
        self.max_frequency = max_frequency
        self.scale_ratio = scale_ratio
        self.bandwidth = bandwidth
        self.pool = pool
        self.standardize = standardize
        self.input_shape = input_shape

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y=None):
        """Record the image shape and build the kernels.

        Parameters
        ----------
        X : array-like of shape (n_samples, height, width[, channels]) or \
                (n_samples, n_features) with ``input_shape``
            Images.
        y : None
            Ignored.

        Returns
        -------
        self : GaborFeatures
        """
        X = validate_samples(self, X, reset=True)
        shape = self._image_shape(X.shape[1:])
        if shape[1] < self.pool or shape[2] < self.pool:
            raise ValueError(
                f"pool={self.pool} is larger than the images "
                f"({shape[1]}x{shape[2]}); lower pool."
            )
        self.image_shape_ = shape[1:]
        self.frequencies_ = self.max_frequency / self.scale_ratio ** np.arange(
            self.n_scales
        )
        self.kernels_ = [
            gabor_kernel(f, np.pi * o / self.n_orientations, self.bandwidth)
            for f in self.frequencies_
            for o in range(self.n_orientations)
        ]
        h, w = (s // self.pool for s in self.image_shape_)
        self.n_features_out_ = len(self.kernels_) * h * w
        return self

    def transform(self, X):
        """Gabor magnitude features of images.

        Parameters
        ----------
        X : array-like
            Images laid out as in ``fit``; ``uint8`` pixels are scaled to
            ``[0, 1]``.

        Returns
        -------
        features : ndarray of float32, of shape (n_samples, n_features_out_)
        """
        check_is_fitted(self, "kernels_")
        X = validate_samples(self, X, reset=False)
        c, h, w = self._image_shape(self.sample_shape_)
        out = np.empty((len(X), self.n_features_out_), dtype=np.float32)
        for start in range(0, len(X), _BATCH):
            batch = np.asarray(X[start : start + _BATCH])
            scale = 1 / 255 if batch.dtype == np.uint8 else 1.0
            images = batch.reshape(len(batch), h, w, c).mean(axis=3) * scale
            out[start : start + len(batch)] = self._filter(images)
        return out

    def _filter(self, images):
        maps = []
        for kernel in self.kernels_:
            response = fftconvolve(images, kernel[None], mode="same", axes=(1, 2))
            m = _block_mean(np.abs(response), self.pool).reshape(len(images), -1)
            if self.standardize:
                m = m - m.mean(axis=1, keepdims=True)
                m /= m.std(axis=1, keepdims=True) + 1e-8
            maps.append(m)
        return np.concatenate(maps, axis=1)

    def get_feature_names_out(self, input_features=None):
        """Names ``gabor{scale}_{orientation}_{row}_{column}`` of the outputs."""
        check_is_fitted(self, "kernels_")
        h, w = (s // self.pool for s in self.image_shape_)
        return np.asarray(
            [
                f"gabor{s}_{o}_{i}_{j}"
                for s in range(self.n_scales)
                for o in range(self.n_orientations)
                for i in range(h)
                for j in range(w)
            ],
            dtype=object,
        )


_FACES_HELP = (
    "FaceDescriptors needs dlib and the face_recognition_models weights: "
    "pip install 'sksiamese[faces]' (dlib-bin and face_recognition_models "
    "from the package index), or pass the paths of dlib's "
    "dlib_face_recognition_resnet_model_v1.dat and "
    "shape_predictor_5_face_landmarks.dat as model_path and landmarks_path."
)


def _import_dlib():
    try:
        import dlib
    except ImportError as exc:
        raise ImportError(_FACES_HELP) from exc
    return dlib


def _model_paths(model_path, landmarks_path):
    """The two weight files: the given paths, or face_recognition_models'.

    The package is located, not imported: its ``__init__`` needs
    ``pkg_resources``, which recent setuptools no longer ship.
    """
    if model_path is None or landmarks_path is None:
        spec = importlib.util.find_spec("face_recognition_models")
        if spec is None or not spec.submodule_search_locations:
            raise ImportError(_FACES_HELP)
        folder = os.path.join(list(spec.submodule_search_locations)[0], "models")
        if model_path is None:
            model_path = os.path.join(
                folder, "dlib_face_recognition_resnet_model_v1.dat"
            )
        if landmarks_path is None:
            landmarks_path = os.path.join(
                folder, "shape_predictor_5_face_landmarks.dat"
            )
    return os.fspath(model_path), os.fspath(landmarks_path)


@functools.lru_cache(maxsize=4)
def _face_models(model_path, landmarks_path):
    """dlib's detector, landmark predictor and descriptor network, loaded
    once per process (they are not picklable, so estimators hold paths)."""
    dlib = _import_dlib()
    for path in (model_path, landmarks_path):
        if not os.path.isfile(path):
            raise ValueError(f"{path!r} is not a file; check the path. {_FACES_HELP}")
    return (
        dlib,
        dlib.get_frontal_face_detector(),
        dlib.shape_predictor(landmarks_path),
        dlib.face_recognition_model_v1(model_path),
    )


class FaceDescriptors(_ImageTransformer):
    """128-D face descriptors from dlib's pretrained ResNet, as feature rows.

    Each image goes through dlib's face pipeline: the largest face found by
    its HOG detector, five landmarks (eye corners and nose), a 150x150 crop
    aligned on them, and a 29-layer ResNet trained by metric learning on
    about three million photos of some 7,500 people (99.38% on the LFW
    benchmark). Photos of one person lie close together, at a Euclidean
    distance mostly below 0.6, and people it never saw are no exception.

    On faces, a :class:`~sksiamese.SiameseVerifier` or
    :class:`~sksiamese.SiameseEmbedder` fitted on these rows, rather than
    on pixels, starts from what millions of photos taught and learns the
    rest from yours, best with ``network="linear"`` and
    ``embedding_dim=128`` (:class:`~sksiamese.networks.LinearMap`, a map
    that starts as the identity): on the ORL faces, trained on 30 people and judged on
    the other 10, pairs are ranked almost perfectly (see the ORL
    benchmark). The descriptors need no training, so compute them once and
    fit, predict and enrol on the rows: pairs are then arrays of shape
    ``(n_pairs, 2, 128)``.

    Needs ``dlib`` (or the ``dlib-bin`` wheels) and the weights of the
    ``face_recognition_models`` package (``pip install 'sksiamese[faces]'``),
    or the two weight files given by path. Nothing is downloaded at run
    time. The weights are dlib's, released into the public domain; the
    photos they were trained on were collected from the web, so check that
    this suits your use.

    Nothing is learned: ``fit`` checks the input and that the models load.

    Parameters
    ----------
    upsample : int, default=1
        How many times the detector doubles the image before it searches:
        it finds faces down to about 80 pixels across at 0, 40 at 1, and is
        several times slower for each doubling.
    detect : bool, default=True
        Whether to search each image for a face. False: every image is
        taken to be a face crop, its whole extent as the face box (faster,
        and right for photos already cropped to the face).
    no_face : {"whole_image", "error"}, default="whole_image"
        What happens when the detector finds no face in an image:
        ``"whole_image"`` takes the whole image as the face box, as with
        ``detect=False``, and warns how many images that was;
        ``"error"`` raises a ``ValueError`` naming them.
    n_jitters : int, default=0
        Above 1, each face is also described after this many random small
        shifts, zooms and mirrorings, and the descriptors averaged: a
        little more accurate, ``n_jitters`` times slower.
    padding : float, default=0.25
        Margin around the landmarks in the aligned crop, as a fraction of
        the face size (dlib's default; the network was trained with it).
    model_path, landmarks_path : str or path-like, default=None
        The descriptor network and the five-landmark predictor, dlib's
        ``dlib_face_recognition_resnet_model_v1.dat`` and
        ``shape_predictor_5_face_landmarks.dat``. None: the files of the
        ``face_recognition_models`` package.
    input_shape : tuple of int, default=None
        For 2-D ``X`` only: the image shape of each row, ``(height,
        width)`` or ``(height, width, channels)``.

    Attributes
    ----------
    n_features_in_ : int
        Values per input sample.
    sample_shape_ : tuple of int
        Shape of one input sample.
    image_shape_ : tuple of int
        ``(height, width)`` of the images.
    n_features_out_ : int
        128, the width of the descriptors.

    Notes
    -----
    Images are grayscale ``(n, height, width)`` or colour ``(n, height,
    width, 3)``, channels last; a single channel is repeated, as dlib
    expects RGB. ``uint8`` pixels are read as ``[0, 255]``, floating-point
    ones must lie in ``[0, 1]``. The descriptors are the network's output
    as is, not scaled to unit length: use Euclidean distances, or leave
    ``normalize=True`` on the estimator fitted on them.

    Examples
    --------
    A photo that ships with matplotlib:

    >>> import matplotlib.cbook as cbook
    >>> import matplotlib.pyplot as plt
    >>> from sksiamese.features import FaceDescriptors
    >>> with cbook.get_sample_data("grace_hopper.jpg") as f:
    ...     photo = plt.imread(f)
    >>> photo.shape, photo.dtype
    ((600, 512, 3), dtype('uint8'))
    >>> faces = FaceDescriptors().fit(photo[None])
    >>> a = faces.transform(photo[None])
    >>> b = faces.transform(photo[None, :, ::-1])  # the mirror image
    >>> a.shape
    (1, 128)
    >>> bool(np.linalg.norm(a - b) < 0.6)  # the same person
    True
    """

    _reads = "describes faces in images"

    _parameter_constraints = {
        "upsample": [Interval(numbers.Integral, 0, None, closed="left")],
        "detect": ["boolean"],
        "no_face": [StrOptions({"whole_image", "error"})],
        "n_jitters": [Interval(numbers.Integral, 0, None, closed="left")],
        "padding": [Interval(numbers.Real, 0, None, closed="left")],
        "model_path": [str, os.PathLike, None],
        "landmarks_path": [str, os.PathLike, None],
        "input_shape": [tuple, list, None],
    }

    def __init__(
        self,
        upsample=1,
        detect=True,
        no_face="whole_image",
        n_jitters=0,
        padding=0.25,
        model_path=None,
        landmarks_path=None,
        input_shape=None,
    ):
        self.upsample = upsample
        self.detect = detect
        self.no_face = no_face
        self.n_jitters = n_jitters
        self.padding = padding
        self.model_path = model_path
        self.landmarks_path = landmarks_path
        self.input_shape = input_shape

    def _models(self):
        return _face_models(*_model_paths(self.model_path, self.landmarks_path))

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y=None):
        """Check the images and load the models.

        Parameters
        ----------
        X : array-like of shape (n_samples, height, width[, channels]) or \
                (n_samples, n_features) with ``input_shape``
            Images.
        y : None
            Ignored.

        Returns
        -------
        self : FaceDescriptors
        """
        X = validate_samples(self, X, reset=True)
        c, h, w = self._image_shape(X.shape[1:])
        self._models()  # fail here, not in transform, when they cannot load
        self.image_shape_ = (h, w)
        self.n_features_out_ = 128
        return self

    def _image_shape(self, sample_shape):
        shape = super()._image_shape(sample_shape)
        if shape[0] not in (1, 3):
            raise ValueError(
                f"FaceDescriptors reads grayscale or RGB images, but the "
                f"samples have {shape[0]} channels; drop the alpha channel "
                "(X[..., :3]) or convert them to RGB."
            )
        return shape

    def _rgb(self, image, c, h, w):
        """One sample as the contiguous RGB uint8 array dlib reads."""
        image = np.asarray(image).reshape(h, w, c)
        if image.dtype != np.uint8:
            low, high = float(image.min()), float(image.max())
            if low < 0 or high > 1:
                raise ValueError(
                    f"FaceDescriptors reads floating-point pixels in [0, 1], "
                    f"but an image has values in [{low:.4g}, {high:.4g}]; "
                    "divide pixels in [0, 255] by 255, or pass them as uint8."
                )
            image = np.rint(image * 255).astype(np.uint8)
        if c == 1:
            image = np.repeat(image, 3, axis=2)
        return np.ascontiguousarray(image)

    def transform(self, X):
        """Face descriptors of images.

        Parameters
        ----------
        X : array-like
            Images laid out as in ``fit``.

        Returns
        -------
        descriptors : ndarray of float32, of shape (n_samples, 128)

        Raises
        ------
        ValueError
            With ``no_face="error"``, when no face is found in some images.
        """
        check_is_fitted(self, "n_features_out_")
        X = validate_samples(self, X, reset=False)
        c, h, w = self._image_shape(self.sample_shape_)
        dlib, detector, landmarks, network = self._models()
        whole = dlib.rectangle(0, 0, w - 1, h - 1)
        out = np.empty((len(X), self.n_features_out_), dtype=np.float32)
        missed = []
        for i in range(len(X)):
            image = self._rgb(X[i], c, h, w)
            box = whole
            if self.detect:
                found = detector(image, self.upsample)
                if len(found):
                    box = max(found, key=lambda r: r.area())
                else:
                    missed.append(i)
            if missed and self.no_face == "error":
                continue  # report every image without a face at once
            shape = landmarks(image, box)
            out[i] = network.compute_face_descriptor(
                image, shape, self.n_jitters, self.padding
            )
        if missed:
            shown = ", ".join(str(i) for i in missed[:10])
            more = "" if len(missed) <= 10 else f" and {len(missed) - 10} more"
            if self.no_face == "error":
                raise ValueError(
                    f"No face was found in {len(missed)} of {len(X)} images "
                    f"(positions {shown}{more}). Set upsample higher to find "
                    'smaller faces, or no_face="whole_image" to describe '
                    "the whole image instead."
                )
            warnings.warn(
                f"No face was found in {len(missed)} of {len(X)} images "
                f"(positions {shown}{more}); the whole image was taken as "
                "the face box. Set upsample higher to find smaller faces, or "
                "detect=False for photos already cropped to the face.",
                UserWarning,
                stacklevel=2,
            )
        return out

    def get_feature_names_out(self, input_features=None):
        """Names ``face0`` to ``face127`` of the outputs."""
        check_is_fitted(self, "n_features_out_")
        return np.asarray(
            [f"face{i}" for i in range(self.n_features_out_)], dtype=object
        )
