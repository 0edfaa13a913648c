"""Parameter documentation shared by the estimators, written once.

Each fragment is inserted with :func:`sksiamese._utils.fill_doc` where a
docstring says ``{name}``; fragments are written for the parameter lists
of methods (continuation lines indented by 12 spaces).
"""

__all__ = ["DOCS"]

DOCS = {
    "X_fit": """X : array-like of shape (n_samples, n_features), (n_samples, height, \
width) or (n_samples, height, width, channels)
            Training samples: feature rows, grayscale images, or colour
            images channels last.""",
    "pairs": """pairs : array-like of shape (n_pairs, 2, ...)
            Two samples per pair, each laid out as in ``fit``.""",
    "same": """same : array-like of shape (n_pairs,)
            1 (or True) where both samples of a pair show the same class, 0
            (or False) where they do not; both must occur.""",
    "queries": """X : array-like, laid out as the verifier's samples
            Queries.""",
}
