"""Siamese networks as scikit-learn estimators."""

from ._embedder import SiameseEmbedder

__version__ = "0.1.0.dev0"

__all__ = ["SiameseEmbedder", "__version__"]
