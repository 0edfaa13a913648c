"""Examples whose data are missing stop with an error that names them.

The gallery must never show other data under an example's title: without
the ORL faces or the Omniglot archives, those examples raise before they
train anything.
"""

import runpy
from pathlib import Path

import pytest

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"


@pytest.mark.parametrize(
    "name, missing",
    [
        ("plot_orl_face_verification.py", "orl_faces.npz"),
        ("plot_omniglot_one_shot.py", "images_background_small1.zip"),
    ],
)
def test_example_without_its_data_fails(name, missing, tmp_path, monkeypatch):
    monkeypatch.setenv("SKSIAMESE_DATA", str(tmp_path))
    monkeypatch.setenv("MPLBACKEND", "Agg")
    with pytest.raises(FileNotFoundError, match=missing):
        runpy.run_path(str(EXAMPLES / name), run_name="__main__")
