"""scikit-learn's shared estimator checks on every public estimator."""

from sklearn.utils.estimator_checks import parametrize_with_checks

from sksiamese import SiameseEmbedder


def _fast_embedder():
    return SiameseEmbedder(
        max_epochs=2, embedding_dim=4, batch_size=32, device="cpu", random_state=0
    )


EXPECTED_FAILED = {}


def _expected_failed(estimator):
    return EXPECTED_FAILED.get(type(estimator).__name__, {})


@parametrize_with_checks([_fast_embedder()], expected_failed_checks=_expected_failed)
def test_sklearn_compatible(estimator, check):
    check(estimator)
