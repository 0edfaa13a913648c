"""Siamese networks as scikit-learn estimators."""

from ._distributed import DistributedTrainingError
from ._embedder import SiameseEmbedder
from ._monitor import CollapseWarning, TrainingDivergedError
from ._verifier import SiameseVerifier
from .evaluation import RetrievalEvaluator, make_retrieval_scorer, one_shot_evaluate
from .gallery import Gallery
from .images import ImageReader
from .plotting import (
    DistanceHistogramDisplay,
    EmbeddingDisplay,
    NeighborsDisplay,
    PairsDisplay,
    TrainingHistoryDisplay,
    VerificationCurveDisplay,
)

__version__ = "0.1.0.dev0"

__all__ = [
    "CollapseWarning",
    "DistanceHistogramDisplay",
    "DistributedTrainingError",
    "EmbeddingDisplay",
    "Gallery",
    "ImageReader",
    "NeighborsDisplay",
    "PairsDisplay",
    "RetrievalEvaluator",
    "SiameseEmbedder",
    "SiameseVerifier",
    "TrainingDivergedError",
    "TrainingHistoryDisplay",
    "VerificationCurveDisplay",
    "make_retrieval_scorer",
    "one_shot_evaluate",
    "__version__",
]
