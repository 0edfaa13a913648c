"""Convolutional encoders for small images.

:class:`ConvNet` adapts to the image size and is the default for images;
:class:`SmallConvNet`, :class:`ConvBNNet` and :class:`FaceConvNet` are the
networks of well-known Keras Siamese examples, layer for layer, with the
embedding width as a parameter.
"""

import numbers

from torch import nn

__all__ = ["ConvNet", "SmallConvNet", "ConvBNNet", "FaceConvNet"]


def _check_widths(values, name, owner):
    """Layer widths (channels, units): positive ints."""
    if not all(
        isinstance(v, numbers.Integral) and not isinstance(v, bool) and v >= 1
        for v in values
    ):
        raise ValueError(
            f"{owner} needs {name} of positive ints, one per layer; got "
            f"{name}={tuple(values)!r}."
        )


def _block(c_in, c_out, batch_norm):
    layers = [nn.Conv2d(c_in, c_out, 3, padding=1, bias=not batch_norm)]
    if batch_norm:
        layers.append(nn.BatchNorm2d(c_out))
    layers.append(nn.ReLU(inplace=True))
    return layers


class ConvNet(nn.Module):
    """A small convolutional encoder that adapts to the image size.

    Each stage is a 3x3 convolution (padding 1), optional batch norm, ReLU
    and a 2x2 max-pool while the feature map is at least 4 pixels on each
    side; the map is then average-pooled to at most ``pool_size`` and fed
    to a dense head.

    Parameters
    ----------
    input_shape : tuple of int
        ``(channels, height, width)`` of one image.
    embedding_dim : int, default=64
        Width of the output embedding.
    channels : tuple of int, default=(64, 64, 64, 64)
        Output channels of the convolution stages: four of 64 by default,
        the width of the Conv-4 of few-shot learning, which one-shot
        recognition of new classes needs (the benchmarks page compares it
        with two stages of 32 and 64).
    hidden : int, default=0
        Width of a dense layer before the embedding; 0 for none.
    dropout : float, default=0.3
        Dropout before the embedding layer: 0.3 lowered the one-shot error
        on new classes against none, and kept digits and MNIST level (the
        benchmarks page, "Choosing the defaults").
    batch_norm : bool, default=True
        Batch normalisation after each convolution.
    pool_size : int, default=4
        Largest spatial size fed to the dense head.

    Examples
    --------
    >>> import torch
    >>> net = ConvNet((1, 28, 28), embedding_dim=16)
    >>> net(torch.zeros(2, 1, 28, 28)).shape
    torch.Size([2, 16])
    """

    def __init__(
        self,
        input_shape,
        embedding_dim=64,
        channels=(64, 64, 64, 64),
        hidden=0,
        dropout=0.3,
        batch_norm=True,
        pool_size=4,
    ):
        super().__init__()
        _check_widths(channels, "channels", "ConvNet")
        c, h, w = input_shape
        layers = []
        for c_out in channels:
            layers += _block(c, c_out, batch_norm)
            if min(h, w) >= 4:
                layers.append(nn.MaxPool2d(2))
                h, w = h // 2, w // 2
            c = c_out
        ph, pw = min(h, pool_size), min(w, pool_size)
        layers += [nn.AdaptiveAvgPool2d((ph, pw)), nn.Flatten()]
        width = c * ph * pw
        if hidden:
            layers += [nn.Linear(width, hidden), nn.ReLU(inplace=True)]
            width = hidden
        if dropout:
            layers.append(nn.Dropout(dropout))
        layers.append(nn.Linear(width, embedding_dim))
        self.layers = nn.Sequential(*layers)

    def forward(self, x):
        return self.layers(x)


def _check_image_shape(input_shape, name):
    if len(input_shape) != 3:
        raise ValueError(
            f"{name} needs images of shape (channels, height, width); got "
            f"input_shape={tuple(input_shape)}."
        )


def _stages(c_in, size, specs, name):
    """Convolution stages: ``(c_out, kernel, padding, dropout)`` each.

    Each stage is convolution, ReLU, a 2x2 max-pool (skipped once the map
    is smaller than 2x2, so that small images still fit) and dropout.
    Returns the layers, the output channels and the map size.
    """
    h, w = size
    _check_widths([spec[0] for spec in specs], "channels", name)
    layers = []
    for c_out, kernel, padding, dropout in specs:
        layers += [nn.Conv2d(c_in, c_out, kernel, padding=padding), nn.ReLU()]
        if padding == 0:
            h, w = h - kernel + 1, w - kernel + 1
            if min(h, w) < 1:
                raise ValueError(
                    f"{name}: images of {size[0]}x{size[1]} pixels are too "
                    "small for its unpadded convolutions; resize them or use "
                    'network="conv".'
                )
        if min(h, w) >= 2:
            layers.append(nn.MaxPool2d(2))
            h, w = h // 2, w // 2
        if dropout:
            layers.append(nn.Dropout(dropout))
        c_in = c_out
    return layers, c_in, (h, w)


class SmallConvNet(nn.Module):
    """The small convolutional net of the classic Keras MNIST Siamese example.

    ``Conv2D(32, 3x3, relu), MaxPool(2), Conv2D(64, 3x3, relu), MaxPool(2),
    Flatten, Dense(128, relu)``: unpadded convolutions, and the last dense
    layer is the embedding (128 wide in the original). The example trains
    it with a contrastive loss on pairs.

    Parameters
    ----------
    input_shape : tuple of int
        ``(channels, height, width)`` of one image, at least 8x8 (pooling is
        skipped once the map is smaller than 2x2).
    embedding_dim : int, default=128
        Width of the embedding layer.
    channels : tuple of int, default=(32, 64)
        Output channels of the convolutions.
    dropout : float, default=0.0
        Dropout before the embedding layer (none in the original).
    output_relu : bool, default=True
        Whether the embedding goes through a ReLU, as in the original.

    Examples
    --------
    >>> import torch
    >>> net = SmallConvNet((1, 28, 28), embedding_dim=16)
    >>> net(torch.zeros(2, 1, 28, 28)).shape
    torch.Size([2, 16])
    """

    def __init__(
        self,
        input_shape,
        embedding_dim=128,
        channels=(32, 64),
        dropout=0.0,
        output_relu=True,
    ):
        super().__init__()
        _check_image_shape(input_shape, "SmallConvNet")
        c, h, w = input_shape
        specs = [(c_out, 3, 0, 0.0) for c_out in channels]
        layers, c, (h, w) = _stages(c, (h, w), specs, "SmallConvNet")
        layers.append(nn.Flatten())
        if dropout:
            layers.append(nn.Dropout(dropout))
        layers.append(nn.Linear(c * h * w, embedding_dim))
        if output_relu:
            layers.append(nn.ReLU())
        self.layers = nn.Sequential(*layers)

    def forward(self, x):
        return self.layers(x)


class ConvBNNet(nn.Module):
    """The Fashion-MNIST triplet network with batch norm and dropout.

    From the Keras Fashion-MNIST triplet-loss example: ``Conv2D(64, 3x3,
    relu), MaxPool(2), Conv2D(128, 3x3, relu), MaxPool(2), Flatten,
    Dense(128, relu), Dropout(0.2), Dense(64, relu), BatchNormalization``;
    the batch-normalised last layer is the embedding (64 wide in the
    original), trained with a triplet loss of margin 0.2 on squared
    distances.

    Parameters
    ----------
    input_shape : tuple of int
        ``(channels, height, width)`` of one image, at least 8x8.
    embedding_dim : int, default=64
        Width of the embedding layer.
    channels : tuple of int, default=(64, 128)
        Output channels of the convolutions.
    hidden : int, default=128
        Width of the dense layer before the embedding.
    dropout : float, default=0.2
        Dropout after that dense layer.

    Examples
    --------
    >>> import torch
    >>> net = ConvBNNet((1, 28, 28))
    >>> net(torch.zeros(3, 1, 28, 28)).shape
    torch.Size([3, 64])
    """

    def __init__(
        self, input_shape, embedding_dim=64, channels=(64, 128), hidden=128, dropout=0.2
    ):
        super().__init__()
        _check_image_shape(input_shape, "ConvBNNet")
        c, h, w = input_shape
        specs = [(c_out, 3, 0, 0.0) for c_out in channels]
        layers, c, (h, w) = _stages(c, (h, w), specs, "ConvBNNet")
        layers += [nn.Flatten(), nn.Linear(c * h * w, hidden), nn.ReLU()]
        if dropout:
            layers.append(nn.Dropout(dropout))
        layers += [
            nn.Linear(hidden, embedding_dim),
            nn.ReLU(),
            nn.BatchNorm1d(embedding_dim),
        ]
        self.layers = nn.Sequential(*layers)

    def forward(self, x):
        return self.layers(x)


class FaceConvNet(nn.Module):
    """The face-verification network of the Keras Olivetti faces example.

    Three blocks of ``Conv2D(same padding, relu), MaxPool(2), Dropout(0.3)``
    with 96 11x11, 256 5x5 and 384 3x3 filters, global average pooling,
    ``Dense(1024)`` and ``Dense(128)``, both linear; made for 64x64
    grayscale faces and trained on pairs through a sigmoid unit on the
    embedding distance (``loss="binary"`` here).

    Parameters
    ----------
    input_shape : tuple of int
        ``(channels, height, width)`` of one image.
    embedding_dim : int, default=128
        Width of the embedding layer.
    channels : tuple of int, default=(96, 256, 384)
        Filters of the three blocks.
    kernels : tuple of int, default=(11, 5, 3)
        Kernel sizes of the three blocks.
    hidden : int, default=1024
        Width of the dense layer before the embedding; 0 for none.
    dropout : float, default=0.3
        Dropout after each block.

    Examples
    --------
    >>> import torch
    >>> net = FaceConvNet((1, 16, 16), channels=(8, 8, 8), hidden=32)
    >>> net(torch.zeros(2, 1, 16, 16)).shape
    torch.Size([2, 128])
    """

    def __init__(
        self,
        input_shape,
        embedding_dim=128,
        channels=(96, 256, 384),
        kernels=(11, 5, 3),
        hidden=1024,
        dropout=0.3,
    ):
        super().__init__()
        _check_image_shape(input_shape, "FaceConvNet")
        if len(channels) != len(kernels):
            raise ValueError(
                f"channels={channels!r} and kernels={kernels!r} must have the "
                "same length."
            )
        c, h, w = input_shape
        pairs = zip(channels, kernels, strict=True)
        specs = [(c_out, k, "same", dropout) for c_out, k in pairs]
        layers, c, _ = _stages(c, (h, w), specs, "FaceConvNet")
        layers += [nn.AdaptiveAvgPool2d(1), nn.Flatten()]
        width = c
        if hidden:
            layers.append(nn.Linear(width, hidden))
            width = hidden
        layers.append(nn.Linear(width, embedding_dim))
        self.layers = nn.Sequential(*layers)

    def forward(self, x):
        return self.layers(x)
