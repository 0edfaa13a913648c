"""Fits that do not depend on where they run: threads, joblib and dask."""

import numpy as np
import pytest
import torch
from sklearn.model_selection import GridSearchCV, StratifiedKFold
from sklearn.neighbors import KNeighborsClassifier
from sklearn.pipeline import make_pipeline

from sksiamese import SiameseEmbedder


def _embedder(**kw):
    return SiameseEmbedder(
        input_shape=(8, 8), max_epochs=2, device="cpu", random_state=0, **kw
    )


@pytest.fixture(scope="module")
def rows(digits):
    X, y = digits
    return X[:300].reshape(300, -1) / 16.0, y[:300]


def test_n_threads_fixes_the_model_whatever_the_process_setting(rows):
    X, y = rows
    before = torch.get_num_threads()
    fits = []
    for process_threads in (1, 2):
        torch.set_num_threads(process_threads)
        try:
            emb = _embedder(n_threads=1).fit(X, y)
            fits.append(emb.transform(X))
            assert torch.get_num_threads() == process_threads  # restored
        finally:
            torch.set_num_threads(before)
    np.testing.assert_array_equal(fits[0], fits[1])


def _search(n_jobs, backend=None):
    import joblib

    pipe = make_pipeline(_embedder(n_threads=1), KNeighborsClassifier(1))
    search = GridSearchCV(
        pipe,
        {"siameseembedder__margin": [0.05, 0.3]},
        cv=StratifiedKFold(2, shuffle=True, random_state=0),
        n_jobs=n_jobs,
    )
    with joblib.parallel_config(backend=backend or "loky"):
        return search


def test_grid_search_results_equal_on_one_process_loky_and_dask(rows):
    distributed = pytest.importorskip("distributed", reason="dask is in the test extra")
    X, y = rows
    serial = _search(1).fit(X, y)
    loky = _search(2).fit(X, y)
    with (
        distributed.LocalCluster(
            n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None
        ) as cluster,
        distributed.Client(cluster),
    ):
        import joblib

        dask_search = _search(-1)
        with joblib.parallel_config(backend="dask"):
            dask_search.fit(X, y)
    for key in ("split0_test_score", "split1_test_score", "mean_test_score"):
        np.testing.assert_array_equal(loky.cv_results_[key], serial.cv_results_[key])
        np.testing.assert_array_equal(
            dask_search.cv_results_[key], serial.cv_results_[key]
        )
    assert loky.best_params_ == dask_search.best_params_ == serial.best_params_
