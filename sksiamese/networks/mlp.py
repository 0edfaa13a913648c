"""Fully connected encoders."""

import math

from torch import nn

__all__ = ["MLP"]


class MLP(nn.Module):
    """A multi-layer perceptron encoder for feature rows or small images.

    Parameters
    ----------
    input_shape : tuple of int
        Shape of one sample; images are flattened.
    embedding_dim : int, default=64
        Width of the output embedding.
    hidden : tuple of int, default=(256, 256)
        Widths of the hidden layers, each followed by ReLU and dropout.
    dropout : float, default=0.1
        Dropout probability after each hidden layer.
    batch_norm : bool, default=False
        Whether to add batch normalisation before each ReLU.

    Examples
    --------
    >>> import torch
    >>> net = MLP((64,), embedding_dim=8)
    >>> net(torch.zeros(3, 64)).shape
    torch.Size([3, 8])
    """

    def __init__(
        self,
        input_shape,
        embedding_dim=64,
        hidden=(256, 256),
        dropout=0.1,
        batch_norm=False,
    ):
        super().__init__()
        layers = [nn.Flatten()]
        width = math.prod(input_shape)
        for h in hidden:
            layers.append(nn.Linear(width, h))
            if batch_norm:
                layers.append(nn.BatchNorm1d(h))
            layers.append(nn.ReLU())
            if dropout:
                layers.append(nn.Dropout(dropout))
            width = h
        layers.append(nn.Linear(width, embedding_dim))
        self.layers = nn.Sequential(*layers)

    def forward(self, x):
        return self.layers(x)
