"""Pictures of embeddings, neighbours, pairs, training and verification.

Each picture is a *display* in the style of scikit-learn's
:class:`~sklearn.metrics.DetCurveDisplay`: a ``from_estimator`` class method
that computes what is drawn from a fitted estimator, a second class method
(``from_embeddings``, ``from_predictions`` or ``from_history``) that starts
from arrays already at hand, and ``plot(ax=None)``, which draws into ``ax``
(a new figure when None) and sets ``ax_`` and ``figure_``.

* :class:`EmbeddingDisplay`: a 2-D map of the embeddings (t-SNE or PCA),
  one colour per class, with a legend.
* :class:`NeighborsDisplay`: query images next to their nearest gallery
  images, with the distances.
* :class:`PairsDisplay`: pairs of images with their ``P(same)`` and the
  verdict at the threshold.
* :class:`TrainingHistoryDisplay`: training and validation loss per epoch.
* :class:`VerificationCurveDisplay`: ROC or DET curve of a verifier, with
  its equal error rate and its operating point.
* :class:`DistanceHistogramDisplay`: histograms of the distances of "same"
  and "different" pairs, with the threshold and the calibrated ``P(same)``.

Each display lives in a module of its own (``embedding``, ``neighbors``,
``pairs``, ``history``, ``curves``, ``histogram``); import them from here.
matplotlib is imported when something is drawn, never when this package is
imported.
"""

from .curves import VerificationCurveDisplay
from .embedding import EmbeddingDisplay
from .histogram import DistanceHistogramDisplay
from .history import TrainingHistoryDisplay
from .neighbors import NeighborsDisplay
from .pairs import PairsDisplay

__all__ = [
    "DistanceHistogramDisplay",
    "EmbeddingDisplay",
    "NeighborsDisplay",
    "PairsDisplay",
    "TrainingHistoryDisplay",
    "VerificationCurveDisplay",
]
