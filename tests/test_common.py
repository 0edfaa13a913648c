"""scikit-learn's shared estimator checks on every public estimator."""

import pytest
from sklearn.utils import estimator_checks
from sklearn.utils.estimator_checks import parametrize_with_checks

from sksiamese import Gallery, SiameseEmbedder, SiameseVerifier
from sksiamese.features import FaceDescriptors, GaborFeatures
from sksiamese.preprocessing import DistanceScaler, Flatten

_FAST = dict(max_epochs=2, embedding_dim=4, batch_size=32, device="cpu", random_state=0)


def _fast_embedder(**params):
    """The embedder, fast; ``loss="cosface"`` learns class proxies."""
    return SiameseEmbedder(**_FAST, **params)


def _fast_verifier(**params):
    return SiameseVerifier(_fast_embedder(**params), random_state=0)


# SiameseVerifier is fitted on class-labelled samples but predicts on pairs,
# arrays of shape (n_pairs, 2, ...). These checks fit it, then call predict,
# predict_proba or decision_function with the 2-D samples they fitted on,
# which are not pairs, so it raises a ValueError asking for pairs. The
# properties they test are tested on pairs in tests/test_verifier.py.
_PAIRS = (
    "predicts on 2-D samples; the verifier predicts on pairs (n_pairs, 2, ...) "
    "and refuses anything else"
)
EXPECTED_FAILED = {
    "SiameseVerifier": {
        "check_n_features_in_after_fitting": _PAIRS
        + " (a wrong sample shape in pairs is refused, see test_verifier.py)",
        "check_estimators_dtypes": _PAIRS,
        "check_dtype_object": _PAIRS,
        "check_estimators_nan_inf": _PAIRS + " (NaN in pairs is refused)",
        "check_estimators_pickle": _PAIRS + " (pickling is tested on pairs)",
        "check_f_contiguous_array_estimator": _PAIRS,
        "check_classifier_data_not_an_array": _PAIRS,
        "check_classifiers_classes": _PAIRS,
        "check_classifiers_train": _PAIRS,
        "check_supervised_y_2d": _PAIRS,
        "check_decision_proba_consistency": _PAIRS,
        "check_methods_sample_order_invariance": _PAIRS,
        "check_methods_subset_invariance": _PAIRS,
        "check_dict_unchanged": _PAIRS,
        "check_fit_idempotent": _PAIRS,
        "check_fit2d_predict1d": _PAIRS,
    }
}


def _expected_failed(estimator):
    return EXPECTED_FAILED.get(type(estimator).__name__, {})


@parametrize_with_checks(
    [
        _fast_embedder(),
        _fast_embedder(loss="cosface"),
        _fast_verifier(),
        _fast_verifier(loss="binary"),
        DistanceScaler(),
        Flatten(),
        Gallery(_fast_verifier(), threshold=0.0),
    ],
    expected_failed_checks=_expected_failed,
)
def test_sklearn_compatible(estimator, check):
    check(estimator)


# The image transformers read images only, (n, height, width[, channels]),
# which the data-driven shared checks never pass; the checks of the API
# contract need no data and run on them too.
_API_CHECKS = (
    "check_estimator_cloneable",
    "check_estimator_repr",
    "check_no_attributes_set_in_init",
    "check_parameters_default_constructible",
    "check_get_params_invariance",
    "check_set_params",
    "check_do_not_raise_errors_in_init_or_set_params",
    "check_estimator_tags_renamed",
)


@pytest.mark.parametrize("check_name", _API_CHECKS)
@pytest.mark.parametrize("transformer", [GaborFeatures(), FaceDescriptors()], ids=repr)
def test_image_transformers_follow_the_api_contract(transformer, check_name):
    check = getattr(estimator_checks, check_name)
    check(type(transformer).__name__, transformer)
