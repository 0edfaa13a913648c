"""Convolutional encoders for small images."""

from torch import nn

__all__ = ["ConvNet"]


def _block(c_in, c_out, batch_norm):
    layers = [nn.Conv2d(c_in, c_out, 3, padding=1, bias=not batch_norm)]
    if batch_norm:
        layers.append(nn.BatchNorm2d(c_out))
    layers.append(nn.ReLU(inplace=True))
    return layers


class ConvNet(nn.Module):
    """A small convolutional encoder that adapts to the image size.

    Each stage is a 3x3 convolution (padding 1), optional batch norm, ReLU
    and a 2x2 max-pool while the feature map is larger than ``min_size``;
    the map is then average-pooled to at most ``pool_size`` and fed to a
    dense head.

    Parameters
    ----------
    input_shape : tuple of int
        ``(channels, height, width)`` of one image.
    embedding_dim : int, default=64
        Width of the output embedding.
    channels : tuple of int, default=(32, 64)
        Output channels of the convolution stages.
    hidden : int, default=128
        Width of the dense layer before the embedding; 0 for none.
    dropout : float, default=0.0
        Dropout before the embedding layer.
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
        channels=(32, 64),
        hidden=128,
        dropout=0.0,
        batch_norm=True,
        pool_size=4,
    ):
        super().__init__()
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
