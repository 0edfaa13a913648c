"""Siamese networks as scikit-learn estimators."""

from ._embedder import SiameseEmbedder
from ._verifier import SiameseVerifier

__version__ = "0.1.0.dev0"

__all__ = ["SiameseEmbedder", "SiameseVerifier", "__version__"]
