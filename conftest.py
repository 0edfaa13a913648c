"""pytest set-up shared by the tests and the doctests of the package."""

import os
import sys

import pytest

# Draw off-screen: tests and doctests render figures, never show them.
os.environ.setdefault("MPLBACKEND", "Agg")


@pytest.fixture(autouse=True)
def _close_figures():
    """Close the figures a test or doctest made, so that none accumulate."""
    yield
    pyplot = sys.modules.get("matplotlib.pyplot")
    if pyplot is not None:
        pyplot.close("all")
