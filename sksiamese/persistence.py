"""Save fitted estimators without pickle, and load them without running code.

Loading a pickle (``pickle.load``, ``joblib.load``, ``torch.load`` without
``weights_only=True``) runs whatever code the file holds: never load a
pickled model from a source you do not trust. :func:`save_model` writes a
fitted estimator as a zip file of two parts instead:

* ``model.json``: the class of each estimator (from a fixed list), its
  parameters and its fitted metadata, as plain JSON;
* ``tensors.pt``: the network weights and the fitted arrays, as a dict of
  tensors written by :func:`torch.save` and read back with
  ``torch.load(..., weights_only=True)``, which refuses anything but
  tensors and plain containers.

:func:`load_model` rebuilds the estimator from those parts and refuses any
file that holds anything else: an unknown class, a parameter that is not
plain data, a pickle. What can be saved so: :class:`~sksiamese.SiameseEmbedder`
with a named network, loss, miner and optimiser (and an
:class:`~sksiamese.images.ImageReader`); :class:`~sksiamese.SiameseVerifier`
and :class:`~sksiamese.Gallery` built on such embedders, in Pipelines,
FeatureUnions, FrozenEstimators and
:class:`~sksiamese.classes.RotationClasses`; the package's transformers and
a few scikit-learn ones (:data:`SAFE_CLASSES`). A model fitted on a GPU loads on a
CPU-only machine.

Examples
--------
>>> import numpy as np, tempfile, os
>>> from sklearn.datasets import load_digits
>>> from sksiamese import SiameseEmbedder
>>> from sksiamese.persistence import load_model, save_model
>>> X, y = load_digits(return_X_y=True)
>>> emb = SiameseEmbedder(embedding_dim=8, max_epochs=1, random_state=0).fit(X, y)
>>> path = os.path.join(tempfile.mkdtemp(), "embedder.zip")
>>> save_model(emb, path)
>>> back = load_model(path)
>>> bool(np.array_equal(back.transform(X), emb.transform(X)))
True
"""

import io
import json
import numbers
import zipfile

import numpy as np
import torch
from sklearn.decomposition import PCA
from sklearn.discriminant_analysis import LinearDiscriminantAnalysis
from sklearn.frozen import FrozenEstimator
from sklearn.isotonic import IsotonicRegression
from sklearn.pipeline import FeatureUnion, Pipeline
from sklearn.preprocessing import MinMaxScaler, Normalizer, StandardScaler
from skorch.history import History

from ._embedder import SiameseEmbedder
from ._training import resolve_device
from ._verifier import SiameseVerifier
from .classes import RotationClasses
from .features import FaceDescriptors, GaborFeatures
from .gallery import Gallery
from .images import ImageReader
from .neighbors import make_index
from .preprocessing import DistanceScaler, Flatten
from .verification import SigmoidCalibrator

__all__ = ["SAFE_CLASSES", "load_model", "save_model"]

_FORMAT = "sksiamese-model"
_VERSION = 1
_MEMBERS = {"model.json", "tensors.pt"}

#: Estimators whose fitted state is plain data and arrays, saved as such.
SAFE_CLASSES = {
    cls.__name__: cls
    for cls in (
        DistanceScaler,
        FaceDescriptors,
        Flatten,
        GaborFeatures,
        LinearDiscriminantAnalysis,
        MinMaxScaler,
        Normalizer,
        PCA,
        StandardScaler,
        SigmoidCalibrator,
    )
}


class _Writer:
    """Turns estimators into JSON trees, with their arrays set aside."""

    def __init__(self):
        self.tensors = {}

    def tensor(self, value):
        key = f"t{len(self.tensors)}"
        self.tensors[key] = torch.as_tensor(np.ascontiguousarray(value))
        return {"tensor": key}

    def value(self, value, where):
        """Plain data as JSON; arrays as tensors; anything else refused."""
        if value is None or isinstance(value, (bool, str)):
            return value
        if isinstance(value, numbers.Integral):
            return int(value)
        if isinstance(value, numbers.Real):
            return float(value)
        if isinstance(value, np.ndarray):
            if value.dtype.kind in "biuf":
                return {**self.tensor(value), "dtype": value.dtype.str}
            return {
                "array": [self.value(v, where) for v in value.tolist()],
                "dtype": value.dtype.str,
            }
        if isinstance(value, (list, tuple)):
            items = [self.value(v, where) for v in value]
            return {"tuple": items} if isinstance(value, tuple) else items
        if isinstance(value, dict) and all(isinstance(k, str) for k in value):
            return {"dict": {k: self.value(v, where) for k, v in value.items()}}
        if type(value) is ImageReader:
            return {"image_reader": self.value(value.get_params(), where)}
        raise ValueError(
            f"{where} is {value!r}, which is not plain data (numbers, strings, "
            "arrays, lists): it cannot be saved without pickle. Use names "
            "for the network, loss, miner and optimiser, or save with pickle "
            "and load the file only if you trust its source."
        )

    def params(self, est):
        name = type(est).__name__
        return {
            k: self.value(v, f"{name}'s parameter {k}")
            for k, v in est.get_params(deep=False).items()
        }

    def estimator(self, est):
        if isinstance(est, SiameseEmbedder):
            return self.embedder(est)
        if isinstance(est, SiameseVerifier):
            return self.verifier(est)
        if isinstance(est, Gallery):
            return self.gallery(est)
        if isinstance(est, (Pipeline, FeatureUnion)):
            kind = "steps" if isinstance(est, Pipeline) else "transformer_list"
            parts = [[n, self.estimator(s)] for n, s in getattr(est, kind)]
            params = {k: v for k, v in est.get_params(deep=False).items() if k != kind}
            return {
                "class": type(est).__name__,
                "parts": parts,
                "params": {k: self.value(v, k) for k, v in params.items()},
            }
        if isinstance(est, FrozenEstimator):
            return {"class": "FrozenEstimator", "inner": self.estimator(est.estimator)}
        if isinstance(est, RotationClasses):
            tree = {
                "class": "RotationClasses",
                "params": {"angles": self.value(est.angles, "angles")},
                "embedder": None
                if est.embedder is None
                else self.estimator(est.embedder),
            }
            if hasattr(est, "embedder_"):
                tree["fitted"] = {
                    "embedder_": self.estimator(est.embedder_),
                    "classes_": self.value(est.classes_, "classes_"),
                    "n_features_in_": int(est.n_features_in_),
                }
            return tree
        if isinstance(est, IsotonicRegression):  # its interpolator is rebuilt
            return {
                "class": "IsotonicRegression",
                "params": self.params(est),
                "points": [
                    self.value(est.X_thresholds_, "X_thresholds_"),
                    self.value(est.y_thresholds_, "y_thresholds_"),
                ],
            }
        if type(est).__name__ in SAFE_CLASSES:
            return self.plain(est)
        raise ValueError(
            f"{type(est).__name__} cannot be saved without pickle; the "
            f"classes that can are SiameseEmbedder, SiameseVerifier, Gallery, "
            f"Pipeline, FeatureUnion, FrozenEstimator, RotationClasses and "
            f"{sorted(SAFE_CLASSES)}."
        )

    def plain(self, est):
        name = type(est).__name__
        fitted = {
            k: self.value(v, f"{name}.{k}")
            for k, v in vars(est).items()
            if k.endswith("_") and not k.startswith("__")
        }
        private = {
            k: self.value(v, f"{name}.{k}")
            for k, v in vars(est).items()
            if k.startswith("_") and not k.startswith("__") and _plain(v)
        }
        return {
            "class": name,
            "params": self.params(est),
            "fitted": fitted,
            "private": private,
        }

    def embedder(self, est):
        tree = {"class": "SiameseEmbedder", "params": self.params(est)}
        if not hasattr(est, "net_"):
            return tree
        net = est.net_
        fitted = {
            k: self.value(getattr(est, k), k)
            for k in _EMBEDDER_FITTED
            if hasattr(est, k)
        }
        fitted["history"] = self.value(_epochs(net.history), "history_")
        fitted["module"] = {
            k: self.tensor(v.cpu()) for k, v in net.module_.state_dict().items()
        }
        fitted["criterion"] = {
            k: self.tensor(v.cpu()) for k, v in net.criterion_.state_dict().items()
        }
        tree["fitted"] = fitted
        return tree

    def verifier(self, est):
        own = {k: v for k, v in est.get_params(deep=False).items() if k != "embedder"}
        tree = {
            "class": "SiameseVerifier",
            "params": {k: self.value(v, k) for k, v in own.items()},
            "embedder": None if est.embedder is None else self.estimator(est.embedder),
        }
        if hasattr(est, "embedder_"):
            fitted = {
                k: self.value(getattr(est, k), k)
                for k in _VERIFIER_FITTED
                if hasattr(est, k)
            }
            fitted["embedder_"] = self.estimator(est.embedder_)
            fitted["calibrator_"] = self.estimator(est.calibrator_)
            tree["fitted"] = fitted
        return tree

    def gallery(self, est):
        own = {k: v for k, v in est.get_params(deep=False).items() if k != "verifier"}
        if not isinstance(est.index, str):
            raise ValueError(
                "A Gallery with an index object cannot be saved without "
                "pickle; give index by name ('exact', 'faiss', ...)."
            )
        tree = {
            "class": "Gallery",
            "params": {k: self.value(v, k) for k, v in own.items()},
            "verifier": None if est.verifier is None else self.estimator(est.verifier),
        }
        if hasattr(est, "index_"):
            tree["fitted"] = {
                "verifier_": self.estimator(est.verifier_),
                "enrolled_labels_": self.value(est.enrolled_labels_, "labels"),
                "threshold_": est.threshold_,
                "embeddings": self.tensor(est.index_.reconstruct()),
            }
        return tree


_EMBEDDER_FITTED = (
    "classes_",
    "n_features_in_",
    "feature_names_in_",
    "sample_shape_",
    "network_input_shape_",
    "embedding_dim_",
    "device_",
    "n_iter_",
)
_VERIFIER_FITTED = (
    "classes_",
    "n_features_in_",
    "feature_names_in_",
    "sample_shape_",
    "threshold_",
    "calibration_",
    "calibration_distances_",
    "calibration_same_",
)


def _plain(value):
    if value is None or isinstance(value, (bool, str, numbers.Number)):
        return True
    if isinstance(value, (list, tuple)):
        return all(_plain(v) for v in value)
    return isinstance(value, np.ndarray) and value.dtype.kind in "biufUS"


def _epochs(history):
    """The per-epoch entries of a skorch History, without the batches."""
    return [
        {k: v for k, v in row.items() if k != "batches" and _plain(v)}
        for row in history
    ]


def save_model(estimator, path):
    """Save a fitted (or unfitted) estimator without pickle.

    Parameters
    ----------
    estimator : estimator
        A :class:`~sksiamese.SiameseEmbedder`, :class:`~sksiamese.SiameseVerifier`
        or :class:`~sksiamese.Gallery` (see the module docstring for what
        they may be built of).
    path : str or path-like
        The file to write (a zip archive; ``.zip`` is a good suffix).

    Raises
    ------
    ValueError
        When some part of the estimator is not plain data: a network, loss
        or optimiser given as a class or instance, a callback, an
        estimator of a class outside :data:`SAFE_CLASSES`.
    """
    writer = _Writer()
    tree = {
        "format": _FORMAT,
        "version": _VERSION,
        "estimator": writer.estimator(estimator),
    }
    buffer = io.BytesIO()
    torch.save(writer.tensors, buffer)
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("model.json", json.dumps(tree, indent=1))
        archive.writestr("tensors.pt", buffer.getvalue())


def load_model(path, *, device=None):
    """Load an estimator written by :func:`save_model`, running no code of it.

    Parameters
    ----------
    path : str or path-like
        A file written by :func:`save_model`.
    device : str, default=None
        Where to put the networks: ``None`` keeps the device they were
        fitted on when it is available here and uses the CPU otherwise (a
        model fitted on a GPU loads on a CPU-only machine).

    Returns
    -------
    estimator : estimator

    Raises
    ------
    ValueError
        When the file is not such an archive (a pickle, say), or names a
        class outside the ones that can be saved.
    """
    try:
        with zipfile.ZipFile(path) as archive:
            names = set(archive.namelist())
            if names != _MEMBERS:
                raise ValueError(f"it holds {sorted(names)}")
            tree = json.loads(archive.read("model.json"))
            blob = archive.read("tensors.pt")
    except (zipfile.BadZipFile, ValueError, UnicodeDecodeError) as exc:
        raise ValueError(
            f"{path} is not a model file written by sksiamese.persistence."
            f"save_model ({exc}). Files of other formats, pickles above all, "
            "are refused: loading a pickle runs the code it holds."
        ) from None
    if not isinstance(tree, dict) or tree.get("format") != _FORMAT:
        raise ValueError(f"{path} is not a model file written by save_model.")
    if tree.get("version") != _VERSION:
        raise ValueError(
            f"{path} has format version {tree.get('version')!r}; this version "
            f"of sksiamese reads version {_VERSION}."
        )
    try:
        tensors = torch.load(io.BytesIO(blob), map_location="cpu", weights_only=True)
    except Exception as exc:  # weights_only refuses anything but tensors
        raise ValueError(
            f"{path}: its tensors.pt holds more than tensors, which load_model "
            f"refuses ({type(exc).__name__}: {str(exc)[:200]})."
        ) from None
    return _Reader(tensors, device).estimator(tree["estimator"])


class _Reader:
    """Rebuilds estimators from the JSON trees of :class:`_Writer`."""

    def __init__(self, tensors, device):
        self.tensors = tensors
        self.device = device

    def value(self, value):
        if isinstance(value, list):
            return [self.value(v) for v in value]
        if not isinstance(value, dict):
            return value
        if "tensor" in value:
            array = self.tensors[value["tensor"]].numpy()
            return array.astype(np.dtype(value["dtype"])) if "dtype" in value else array
        if "array" in value:
            items = [self.value(v) for v in value["array"]]
            dtype = np.dtype(value["dtype"])
            if dtype.kind == "O":
                out = np.empty(len(items), dtype=object)
                out[:] = items
                return out
            return np.asarray(items, dtype=dtype)
        if "tuple" in value:
            return tuple(self.value(v) for v in value["tuple"])
        if "dict" in value:
            return {k: self.value(v) for k, v in value["dict"].items()}
        if "image_reader" in value:
            params = self.value(value["image_reader"])
            if not isinstance(params, dict) or set(params) - {"size", "mode", "fit"}:
                raise ValueError(f"bad image reader in model file: {params!r}")
            return ImageReader(**params)
        raise ValueError(f"unknown value in model file: {sorted(value)}")

    def params(self, tree):
        return {k: self.value(v) for k, v in tree.get("params", {}).items()}

    def estimator(self, tree):
        name = tree.get("class")
        build = {
            "SiameseEmbedder": self.embedder,
            "SiameseVerifier": self.verifier,
            "Gallery": self.gallery,
            "Pipeline": self.composite,
            "FeatureUnion": self.composite,
            "FrozenEstimator": lambda t: FrozenEstimator(self.estimator(t["inner"])),
            "RotationClasses": self.rotation_classes,
            "IsotonicRegression": lambda t: IsotonicRegression(**self.params(t)).fit(
                *(self.value(v) for v in t["points"])
            ),
        }.get(name)
        if build is not None:
            return build(tree)
        if name not in SAFE_CLASSES:
            raise ValueError(
                f"The model file names the class {name!r}, which load_model "
                "does not build; it builds only the classes save_model writes."
            )
        est = SAFE_CLASSES[name](**self.params(tree))
        for k, v in {**tree.get("fitted", {}), **tree.get("private", {})}.items():
            setattr(est, k, self.value(v))
        return est

    def rotation_classes(self, tree):
        embedder = tree.get("embedder")
        est = RotationClasses(
            None if embedder is None else self.estimator(embedder), **self.params(tree)
        )
        fitted = tree.get("fitted")
        if fitted is not None:
            est.embedder_ = self.estimator(fitted["embedder_"])
            est.classes_ = self.value(fitted["classes_"])
            est.n_features_in_ = int(fitted["n_features_in_"])
        return est

    def composite(self, tree):
        parts = [(n, self.estimator(t)) for n, t in tree["parts"]]
        cls = Pipeline if tree["class"] == "Pipeline" else FeatureUnion
        return cls(parts, **self.params(tree))

    def embedder(self, tree):
        est = SiameseEmbedder(**self.params(tree))
        fitted = tree.get("fitted")
        if fitted is None:
            return est
        for k in _EMBEDDER_FITTED:
            if k in fitted:
                setattr(est, k, self.value(fitted[k]))
        for k in ("sample_shape_", "network_input_shape_"):
            est.__dict__[k] = tuple(getattr(est, k))
        if self.device is not None:
            est.device_ = self.device
        elif str(est.device_).startswith("cuda") and not torch.cuda.is_available():
            est.device_ = "cpu"
        est.device_ = resolve_device(est.device_)
        net = est._rebuild_net(len(getattr(est, "classes_", [])) or None)
        try:
            net.module_.load_state_dict(self._state(fitted["module"]))
            net.criterion_.load_state_dict(self._state(fitted["criterion"]))
        except RuntimeError as exc:
            first = str(exc).strip().splitlines()[0]
            raise ValueError(
                "The weights in the model file do not fit the network that its "
                f"parameters build with this version of sksiamese ({first} ...). "
                "A default network can change from version to version: "
                "ConvNet's became four stages of 64 channels without a hidden "
                "layer in 0.2 (from channels=(32, 64) and hidden=128). Load "
                "the file with the version that saved it, or fit again; models "
                "that name every network parameter in network_params load "
                "across such changes."
            ) from None
        net.history = History(self.value(fitted["history"]))
        est.net_ = net
        est.history_ = net.history
        return est

    def _state(self, entries):
        return {k: self.tensors[v["tensor"]] for k, v in entries.items()}

    def verifier(self, tree):
        params = self.params(tree)
        embedder = tree.get("embedder")
        est = SiameseVerifier(
            None if embedder is None else self.estimator(embedder), **params
        )
        fitted = tree.get("fitted")
        if fitted is not None:
            for k in _VERIFIER_FITTED:
                if k in fitted:
                    setattr(est, k, self.value(fitted[k]))
            est.sample_shape_ = tuple(est.sample_shape_)
            est.embedder_ = self.estimator(fitted["embedder_"])
            est.calibrator_ = self.estimator(fitted["calibrator_"])
        return est

    def gallery(self, tree):
        verifier = tree.get("verifier")
        est = Gallery(
            None if verifier is None else self.estimator(verifier), **self.params(tree)
        )
        fitted = tree.get("fitted")
        if fitted is not None:
            est.verifier_ = self.estimator(fitted["verifier_"])
            est.threshold_ = fitted["threshold_"]
            est.n_features_in_ = est.verifier_.n_features_in_
            embeddings = self.value(fitted["embeddings"])
            est.index_ = make_index(est.index).fit(embeddings)
            est.enrolled_labels_ = self.value(fitted["enrolled_labels_"])
            est._encode()
        return est
