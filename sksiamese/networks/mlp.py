"""Fully connected encoders."""

import math
import numbers

import torch
from torch import nn

__all__ = ["MLP", "MLP3", "LinearMap"]


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
    output_relu : bool, default=False
        Whether a ReLU follows the embedding layer too.
    pool : int, default=1
        Images only: the mean over ``pool x pool`` blocks is what the
        first layer sees (edges that do not fill a block are dropped), so
        the network reads a coarser image than the estimator is given,
        for instance while a :class:`~sksiamese.features.GaborFeatures`
        step beside it filters the full one. On faces the network
        generalises to new people better from a coarse image (see the ORL
        benchmark).

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
        output_relu=False,
        pool=1,
    ):
        super().__init__()
        if not all(
            isinstance(h, numbers.Integral) and not isinstance(h, bool) and h >= 1
            for h in hidden
        ):
            raise ValueError(
                "MLP needs hidden of positive ints, the width of each hidden "
                f"layer (() for none); got hidden={tuple(hidden)!r}."
            )
        layers = [nn.Flatten()]
        width = math.prod(input_shape)
        if pool != 1:
            if len(input_shape) != 3:
                raise ValueError(
                    f"pool={pool} averages blocks of an image, but samples are "
                    f"feature rows of shape {tuple(input_shape)}; set pool=1 "
                    "or pass images."
                )
            channels, height, width = input_shape
            if not 1 <= pool <= min(height, width):
                raise ValueError(
                    f"pool={pool} must be between 1 and the image's smaller "
                    f"side ({min(height, width)})."
                )
            layers.insert(0, nn.AvgPool2d(pool))
            width = channels * (height // pool) * (width // pool)
        for h in hidden:
            layers.append(nn.Linear(width, h))
            if batch_norm:
                layers.append(nn.BatchNorm1d(h))
            layers.append(nn.ReLU())
            if dropout:
                layers.append(nn.Dropout(dropout))
            width = h
        layers.append(nn.Linear(width, embedding_dim))
        if output_relu:
            layers.append(nn.ReLU())
        self.layers = nn.Sequential(*layers)

    def forward(self, x):
        return self.layers(x)


class MLP3(MLP):
    """Three ReLU layers of 128 units with dropout 0.1 between them.

    The base network of the classic Keras MNIST Siamese example trained with
    RMSprop: ``Flatten, Dense(128, relu), Dropout(0.1), Dense(128, relu),
    Dropout(0.1), Dense(128, relu)``; the last layer is the embedding, of
    width ``embedding_dim`` (128 in the original). An :class:`MLP` with
    these defaults.

    Parameters
    ----------
    input_shape : tuple of int
        Shape of one sample; images are flattened.
    embedding_dim : int, default=128
        Width of the output embedding.
    hidden : tuple of int, default=(128, 128)
        Widths of the two hidden layers.
    dropout : float, default=0.1
        Dropout after each hidden layer.
    output_relu : bool, default=True
        Whether the embedding goes through a ReLU, as in the original.

    Examples
    --------
    >>> import torch
    >>> net = MLP3((28, 28))
    >>> net(torch.zeros(2, 28, 28)).shape
    torch.Size([2, 128])
    """

    def __init__(
        self,
        input_shape,
        embedding_dim=128,
        hidden=(128, 128),
        dropout=0.1,
        output_relu=True,
    ):
        super().__init__(
            input_shape,
            embedding_dim=embedding_dim,
            hidden=hidden,
            dropout=dropout,
            output_relu=output_relu,
        )


class LinearMap(nn.Module):
    """A linear map of feature rows that starts as the identity.

    For rows that are already a good embedding, such as the descriptors of a
    pretrained network (:class:`~sksiamese.features.FaceDescriptors`):
    training starts from the rows' own distances and only refines them,
    rather than from a random projection that must first relearn what the
    rows knew. Images are flattened.

    Parameters
    ----------
    input_shape : tuple of int
        Shape of one sample.
    embedding_dim : int, default=64
        Width of the output. With ``init="identity"`` it must equal the
        number of input values.
    init : {"identity", "random"}, default="identity"
        ``"identity"``: weights the identity matrix and biases zero, so the
        untrained map returns its input. ``"random"``: PyTorch's default
        initialisation of a linear layer.

    Examples
    --------
    >>> import torch
    >>> net = LinearMap((4,), embedding_dim=4)
    >>> x = torch.randn(3, 4)
    >>> bool(torch.equal(net(x), x))
    True
    """

    def __init__(self, input_shape, embedding_dim=64, init="identity"):
        super().__init__()
        width = math.prod(input_shape)
        if init not in ("identity", "random"):
            raise ValueError(f"init must be 'identity' or 'random'; got {init!r}.")
        if init == "identity" and embedding_dim != width:
            raise ValueError(
                f"LinearMap starts as the identity, which needs embedding_dim "
                f"equal to the {width} input values, but embedding_dim="
                f"{embedding_dim}. Set embedding_dim={width}, or "
                "network_params={'init': 'random'}."
            )
        self.flatten = nn.Flatten()
        self.linear = nn.Linear(width, embedding_dim)
        if init == "identity":
            with torch.no_grad():
                self.linear.weight.copy_(torch.eye(width))
                self.linear.bias.zero_()

    def forward(self, x):
        return self.linear(self.flatten(x))
