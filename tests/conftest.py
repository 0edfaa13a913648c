import os
from pathlib import Path

import numpy as np
import pytest
from sklearn.datasets import load_digits

SHARED_DATA = Path(
    os.environ.get(
        "SKSIAMESE_DATA", Path(__file__).parents[1] / ".." / "shared" / "data"
    )
)


@pytest.fixture(scope="session")
def digits():
    """Digits as 8x8 images; read-only so that no test can mutate them."""
    d = load_digits()
    X, y = d.images.astype(np.float32), d.target
    X.setflags(write=False)
    y.setflags(write=False)
    return X, y


@pytest.fixture(scope="session")
def small_digits(digits):
    """200 digit images, 20 per class."""
    X, y = digits
    idx = np.concatenate([np.flatnonzero(y == c)[:20] for c in range(10)])
    return X[idx], y[idx]


@pytest.fixture
def shared_data():
    if not SHARED_DATA.is_dir():
        pytest.skip(f"shared data directory {SHARED_DATA} is not present")
    return SHARED_DATA
