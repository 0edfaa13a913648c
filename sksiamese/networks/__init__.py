"""Encoder networks and the rule that turns a ``network`` parameter into one.

``network`` may be a registered name (see :data:`NETWORKS`), ``"auto"``
(:class:`MLP` for feature rows, :class:`ConvNet` for images), a
``torch.nn.Module`` subclass or factory, or a ``torch.nn.Module`` instance.
Classes and factories receive ``input_shape`` and ``embedding_dim`` when
their signature accepts them, plus ``network_params``; instances are copied,
so the estimator's parameter is never trained in place.

The registered names:

* ``"mlp"``: :class:`MLP`, dense ReLU layers (256, 256) with dropout 0.1.
* ``"linear"``: :class:`LinearMap`, a linear map that starts as the
  identity, for rows that already are an embedding (pretrained
  descriptors).
* ``"mlp3"``: :class:`MLP3`, three dense ReLU layers of 128 with dropout
  0.1, the network of the Keras MNIST Siamese example trained with RMSprop.
* ``"conv"``: :class:`ConvNet`, four 3x3 convolution and batch-norm stages
  of 64 channels (the Conv-4 of few-shot learning) that adapt to the image
  size (the default for images).
* ``"small_conv"``: :class:`SmallConvNet`, conv32-pool-conv64-pool-dense128,
  the Keras MNIST Siamese example trained with a contrastive loss.
* ``"conv_bn"``: :class:`ConvBNNet`, conv64-pool-conv128-pool-dense128-
  dropout 0.2-dense64-batch norm, the Keras Fashion-MNIST triplet example.
* ``"face_conv"``: :class:`FaceConvNet`, conv96 11x11, conv256 5x5 and
  conv384 3x3 blocks with pooling and dropout 0.3, global average pooling,
  dense1024 and dense128, the Keras Olivetti faces example.
* ``"efficientnet_lite0"``: :class:`EfficientNetLite0`, EfficientNet-Lite0
  with its ImageNet weights (shipped in a package, nothing downloaded), a
  512-256 dense head and only its last block trained; reads image files as
  224x224 RGB (needs the ``pretrained`` extra).
* ``"resnet50"``: :class:`~sksiamese.networks.backbones.ResNet50`,
  torchvision's ResNet-50 with a 512-256-256 dense head and only its last
  block trained, the Keras triplet image-similarity example (needs
  ``torchvision``, the ``vision`` extra).

A network class may say what image files are read to for it, unless the
estimator's :class:`~sksiamese.images.ImageReader` says otherwise, with the
class attributes ``image_size = (height, width)`` and ``image_mode``
(``"L"`` or ``"RGB"``); the pretrained backbones do.
"""

import copy
import inspect
import numbers

from torch import nn

from .backbones import EfficientNetLite0, ResNet50
from .conv import ConvBNNet, ConvNet, FaceConvNet, SmallConvNet
from .mlp import MLP, MLP3, LinearMap

__all__ = [
    "MLP",
    "MLP3",
    "LinearMap",
    "ConvNet",
    "SmallConvNet",
    "ConvBNNet",
    "FaceConvNet",
    "EfficientNetLite0",
    "ResNet50",
    "NETWORKS",
    "build_network",
    "network_image_defaults",
]

#: Networks available by name.
NETWORKS = {
    "mlp": MLP,
    "mlp3": MLP3,
    "linear": LinearMap,
    "conv": ConvNet,
    "small_conv": SmallConvNet,
    "conv_bn": ConvBNNet,
    "face_conv": FaceConvNet,
    "efficientnet_lite0": EfficientNetLite0,
    "resnet50": ResNet50,
}


def network_image_defaults(network):
    """``(image_size, image_mode)`` that a ``network`` parameter asks image
    files to be read to (each None when it asks nothing)."""
    if isinstance(network, str):
        network = NETWORKS.get(network)
    cls = network if isinstance(network, type) else type(network)
    return getattr(cls, "image_size", None), getattr(cls, "image_mode", None)


def _check_params(factory, params):
    """``network_params`` that ``factory`` cannot take, named before it is
    called rather than in a ``TypeError`` from its constructor."""
    try:
        sig = inspect.signature(factory)
    except (TypeError, ValueError):
        return
    kinds = [p.kind for p in sig.parameters.values()]
    if inspect.Parameter.VAR_KEYWORD in kinds:
        return
    keyword = (inspect.Parameter.POSITIONAL_OR_KEYWORD, inspect.Parameter.KEYWORD_ONLY)
    names = [n for n, p in sig.parameters.items() if p.kind in keyword]
    unknown = [k for k in params if k not in names]
    if unknown:
        takes = [n for n in names if n not in ("input_shape", "embedding_dim")]
        label = getattr(factory, "__name__", repr(factory))
        raise ValueError(
            f"network_params has {', '.join(map(repr, unknown))}, which {label} "
            f"does not take; it takes {takes or 'none'}."
        )


def _accepted(factory, kwargs):
    try:
        sig = inspect.signature(factory)
    except (TypeError, ValueError):
        return kwargs
    params = sig.parameters.values()
    if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params):
        return kwargs
    return {k: v for k, v in kwargs.items() if k in sig.parameters}


def build_network(network, input_shape, embedding_dim, network_params=None):
    """Build the encoder described by ``network``.

    Parameters
    ----------
    network : str, type, callable or torch.nn.Module
        See the module docstring.
    input_shape : tuple of int
        ``(n_features,)`` or ``(channels, height, width)``.
    embedding_dim : int
        Requested output width.
    network_params : dict, default=None
        Extra keyword arguments for the network constructor.

    Returns
    -------
    module : torch.nn.Module
    """
    params = dict(network_params or {})
    shape = tuple(input_shape)
    if not shape or not all(
        isinstance(s, numbers.Integral) and not isinstance(s, bool) and s >= 1
        for s in shape
    ):
        raise ValueError(
            "input_shape must be (n_features,) or (channels, height, width), "
            f"every size a positive int; got input_shape={shape}."
        )
    if (
        not isinstance(embedding_dim, numbers.Integral)
        or isinstance(embedding_dim, bool)
        or embedding_dim < 1
    ):
        raise ValueError(
            f"embedding_dim must be a positive int; got {embedding_dim!r}."
        )
    if isinstance(network, nn.Module):
        if params:
            raise ValueError(
                "network_params cannot be applied to a network instance; pass "
                "the network class or a factory instead."
            )
        return copy.deepcopy(network)
    if isinstance(network, str):
        name = network
        if name == "auto":
            name = "mlp" if len(input_shape) == 1 else "conv"
        if name not in NETWORKS:
            raise ValueError(
                f"Unknown network {network!r}; choose one of "
                f"{sorted(['auto', *NETWORKS])}, a torch.nn.Module class or "
                "instance, or a callable returning one."
            )
        network = NETWORKS[name]
        if issubclass(network, (MLP, LinearMap)):
            pass
        elif len(shape) == 1:
            raise ValueError(
                f"network={name!r} needs images, but samples are feature rows "
                f"of shape {shape}. Pass images, or set input_shape="
                "(height, width) or (height, width, channels)."
            )
        elif len(shape) != 3:
            raise ValueError(
                f"network={name!r} needs images of shape (channels, height, "
                f"width); got input_shape={shape}. For grayscale images of "
                "shape (height, width), pass (1, height, width)."
            )
    if not callable(network):
        raise ValueError(
            f"network must be a name, a torch.nn.Module or a callable; got {network!r}."
        )
    _check_params(network, params)
    base = {"input_shape": shape, "embedding_dim": embedding_dim}
    module = network(**_accepted(network, base), **params)
    if not isinstance(module, nn.Module):
        raise ValueError(
            f"network factory {network!r} returned {type(module).__name__}, "
            "not a torch.nn.Module."
        )
    return module
