"""Pretrained torchvision backbones with a dense embedding head.

torchvision is an optional dependency (``pip install sksiamese[vision]``);
it is imported only when a backbone is built.
"""

import os
from pathlib import Path

import torch
from torch import nn

__all__ = ["ResNet50"]

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


def _adapt_first_conv(conv, channels):
    """``conv`` for ``channels`` input channels, from RGB weights.

    The RGB filters are averaged and repeated over the new channels, scaled
    by ``3 / channels``, so that a grey image (equal channels) gives the
    responses it gave as an RGB image with three equal channels.
    """
    new = nn.Conv2d(
        channels,
        conv.out_channels,
        conv.kernel_size,
        stride=conv.stride,
        padding=conv.padding,
        bias=conv.bias is not None,
    )
    with torch.no_grad():
        mean = conv.weight.mean(dim=1, keepdim=True)
        new.weight.copy_(mean.repeat(1, channels, 1, 1) * (3.0 / channels))
        if conv.bias is not None:
            new.bias.copy_(conv.bias)
    return new


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
        mean, std = torch.tensor(_MEAN), torch.tensor(_STD)
        if channels != 3:
            mean, std = mean.mean().repeat(channels), std.mean().repeat(channels)
        self.input_normalization = bool(input_normalization)
        self.register_buffer("mean", mean.view(1, -1, 1, 1))
        self.register_buffer("std", std.view(1, -1, 1, 1))

        with torch.no_grad():
            model.eval()
            width = model(torch.zeros(1, *input_shape)).shape[1]
        layers, prev = [], width
        for h in head:
            layers += [nn.Linear(prev, h), nn.ReLU(), nn.BatchNorm1d(h)]
            if dropout:
                layers.append(nn.Dropout(dropout))
            prev = h
        layers.append(nn.Linear(prev, embedding_dim))
        self.head = nn.Sequential(*layers)
        self.train()

    def _freeze(self, trainable_layers, pretrained):
        if isinstance(trainable_layers, str):
            if trainable_layers == "auto":
                trainable_layers = ["layer4"] if pretrained else list(_BLOCKS)
            elif trainable_layers == "all":
                trainable_layers = list(_BLOCKS)
            else:
                trainable_layers = [trainable_layers]
        trainable_layers = list(trainable_layers)
        unknown = sorted(set(trainable_layers) - set(_BLOCKS))
        if unknown:
            raise ValueError(
                f"trainable_layers names unknown blocks {unknown}; choose among "
                f"{list(_BLOCKS)}, or 'all'."
            )
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
