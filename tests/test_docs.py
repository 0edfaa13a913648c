"""The README, the user guide and the examples speak of the current API.

Names removed in version 0.2 may appear in the changelog only, and the
changelog names every one of them; the estimators in the examples are
called with parameters they have; the README's tables list every
parameter of each estimator with the code's default; the defaults the
user guide states in its text are the code's, and its defaults tables are
made from the code.
"""

import ast
import importlib.util
import re
import sys
from pathlib import Path

import pytest

from sksiamese import Gallery, SiameseEmbedder, SiameseVerifier
from sksiamese.features import FaceDescriptors
from sksiamese.losses import LOSSES
from sksiamese.networks import EfficientNetLite0

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"
EXAMPLES = sorted((ROOT / "examples").glob("*.py"))
# folders of docs/ that the build writes, not pages anyone wrote
GENERATED = {"_build", "auto_examples", "gen_modules"}

# parameters of SiameseEmbedder and SiameseVerifier removed in 0.2
REMOVED_PARAMETERS = [
    "n_networks",
    "fisher_weight",
    "fisher_features",
    "fisher_components",
    "fisher_mirror",
    "fisher_augment",
    "fisher_copies",
    "test_time_augment",
    "tuples",
]
# attributes and parameters of other names removed or renamed in 0.2
REMOVED_NAMES = [
    "nets_",
    "fisher_",
    "fisher_scales_",
    "enrolled_identities_",
    "enrolled_embeddings_",
    "y_true_same",
]


def _texts():
    """The files that must use the current API, by name."""
    files = [ROOT / "README.md", *EXAMPLES]
    # the changelog and the benchmark pages name removed options where they
    # say what changed or what was measured with them
    files += [
        p
        for p in _pages()
        if p.name not in ("changelog.rst", "benchmarks.rst")
        and p.parent.name != "benchmarks"
    ]
    return {
        p.relative_to(ROOT).as_posix(): p.read_text(encoding="utf-8") for p in files
    }


def _pages():
    """Every .rst page written for the docs, subfolders included."""
    return sorted(
        p for p in DOCS.rglob("*.rst") if not GENERATED & set(p.relative_to(DOCS).parts)
    )


def _uses(text, name):
    if name == "tuples":  # a common word; only the parameter counts
        return re.search(r"\btuples\s*=", text) is not None
    return re.search(rf"(?<![\w.]){re.escape(name)}(?!\w)", text) is not None or (
        re.search(rf"\.{re.escape(name)}(?!\w)", text) is not None
    )


@pytest.mark.parametrize("name", REMOVED_PARAMETERS + REMOVED_NAMES)
def test_removed_names_only_in_the_changelog(name):
    users = [path for path, text in _texts().items() if _uses(text, name)]
    assert not users, f"{name} is gone from the API but {users} still use it"


@pytest.mark.parametrize("name", REMOVED_PARAMETERS + REMOVED_NAMES)
def test_changelog_names_every_removed_name(name):
    changelog = (DOCS / "changelog.rst").read_text(encoding="utf-8")
    assert re.search(rf"``(\w+\.)?{name}", changelog), (
        f"the changelog does not mention {name}"
    )


def test_changelog_in_the_toctree():
    index = (DOCS / "index.rst").read_text(encoding="utf-8")
    assert re.search(r"^\s+changelog\s*$", index, re.MULTILINE)


def _calls(tree, name):
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            func = node.func
            called = (
                func.id if isinstance(func, ast.Name) else getattr(func, "attr", "")
            )
            if called == name:
                yield node


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.name)
@pytest.mark.parametrize("estimator", [SiameseEmbedder, SiameseVerifier, Gallery])
def test_examples_pass_parameters_the_estimators_have(path, estimator):
    tree = ast.parse(path.read_text(encoding="utf-8"))
    params = set(estimator().get_params(deep=False))
    for call in _calls(tree, estimator.__name__):
        given = {k.arg for k in call.keywords if k.arg is not None}
        assert given <= params, (
            f"{path.name}:{call.lineno} passes {sorted(given - params)} to "
            f"{estimator.__name__}, which has no such parameter"
        )
        assert len(call.args) <= 1, (
            f"{path.name}:{call.lineno}: {estimator.__name__} takes one "
            "positional argument at most"
        )


@pytest.mark.parametrize("estimator", [SiameseEmbedder, SiameseVerifier, Gallery])
def test_readme_tables_list_every_parameter(estimator):
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    rows = [line for line in readme.splitlines() if line.startswith("| `")]
    listed = {
        name for row in rows for name in re.findall(r"`(\w+)`", row.split("|")[1])
    }
    missing = set(estimator().get_params(deep=False)) - listed
    assert not missing, f"README lists no default of {estimator.__name__}'s {missing}"


def _readme_defaults(heading):
    """``{name: default}`` from the README's parameter table under the
    heading that contains ``heading``, read as Python literals (a cell lists
    one default per name of its row)."""
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    found, inside = {}, False
    for line in readme.splitlines():
        if line.startswith("#"):
            inside = heading in line
            continue
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if not inside or len(cells) < 3 or not cells[0].startswith("`"):
            continue
        names = re.findall(r"`(\w+)`", cells[0])
        values = [v.strip().strip("`") for v in cells[1].split(", ")]
        if len(values) == len(names):
            found.update(zip(names, values, strict=True))
    return found


@pytest.mark.parametrize(
    "estimator, heading",
    [
        (SiameseEmbedder, "SiameseEmbedder"),
        (SiameseVerifier, "Verification"),
        (Gallery, "Gallery"),
    ],
)
def test_readme_defaults_are_the_codes(estimator, heading):
    documented = _readme_defaults(heading)
    params = estimator().get_params(deep=False)
    assert set(documented) <= set(params), set(documented) - set(params)
    assert len(documented) >= len(params) - 1  # every one, or all but one
    for name, text in documented.items():
        try:
            literal = ast.literal_eval(text)
        except (ValueError, SyntaxError):
            literal = text
        assert literal == params[name], (
            f"README says {estimator.__name__}({name}={text}), the code has "
            f"{params[name]!r}"
        )


# -- Defaults stated in the text of the README and the user guide ---------------

# (page, pattern whose group 1 is a documented default, the object that has
# the parameter, the parameter); a pattern that no longer matches fails too,
# so that a reworded claim is checked again here
STATED_DEFAULTS = [
    (
        "user_guide.rst",
        r'``loss="(\w+)"``[^\n]*, the default\)',
        SiameseEmbedder,
        "loss",
    ),
    (
        "user_guide.rst",
        r"``miner`` chooses; its default,\s+``(\S+)``",
        SiameseEmbedder,
        "miner",
    ),
    (
        "user_guide.rst",
        r"unit-length by default, ``normalize=(\w+)``",
        SiameseEmbedder,
        "normalize",
    ),
    (
        "user_guide.rst",
        r"The default,\s+``calibration=(\S+)``",
        SiameseVerifier,
        "calibration",
    ),
    (
        "user_guide.rst",
        r"``calibration_fraction`` of them, ([\d.]+) by default",
        SiameseVerifier,
        "calibration_fraction",
    ),
    (
        "recipes/faces.rst",
        r"``(\S+)`` \(the default\), ``\"f1\"``",
        SiameseVerifier,
        "threshold_strategy",
    ),
    (
        "recipes/faces.rst",
        r"``FaceDescriptors\(upsample=(\d+)\)``, the\s+default",
        FaceDescriptors,
        "upsample",
    ),
    (
        "recipes/choosing.rst",
        r"the defaults\s+\(``network=(\S+)``",
        SiameseEmbedder,
        "network",
    ),
    (
        "recipes/choosing.rst",
        r"``network=\S+``, ``loss=(\S+)``\)",
        SiameseEmbedder,
        "loss",
    ),
]


def test_class_holdout_threshold_stated_is_the_codes():
    from sksiamese import _verifier

    n = _verifier._MIN_CLASSES_FOR_CLASS_HOLDOUT
    words = {10: "ten"}
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    guide = (DOCS / "user_guide.rst").read_text(encoding="utf-8")
    assert re.findall(r"from (\d+) classes on", readme) == [str(n)]
    assert re.findall(r"picks classes from (\w+) classes on", guide) == [
        words.get(n, str(n))
    ]


def _literal(text):
    try:
        return ast.literal_eval(text)
    except (ValueError, SyntaxError):
        return text


def _default(owner, name):
    import inspect

    return inspect.signature(owner.__init__).parameters[name].default


@pytest.mark.parametrize(
    "page, pattern, owner, name",
    STATED_DEFAULTS,
    ids=[f"{page}:{name}" for page, _, _, name in STATED_DEFAULTS],
)
def test_defaults_stated_in_the_guide_are_the_codes(page, pattern, owner, name):
    text = (DOCS / page).read_text(encoding="utf-8")
    found = re.findall(pattern, text)
    assert found, f"{page} no longer states the default of {name}: check its text"
    for value in found:
        assert _literal(value) == _default(owner, name), (
            f"{page} says {owner.__name__}({name}={value}), the code has "
            f"{_default(owner, name)!r}"
        )


_LOSS_WORDS = {
    "multi-similarity": "multi_similarity",
    "triplet": "triplet",
    "contrastive": "contrastive",
    "CosFace": "cosface",
    "cosface": "cosface",
}


def _loss_margins_in_prose(text):
    """``(loss, margin)`` for each "0.2 for triplet" of a text."""
    words = "|".join(_LOSS_WORDS)
    pattern = rf"(\d+(?:\.\d+)?) (?:\(on the cosine\) |on the cosine )?for ({words})\b"
    return [(_LOSS_WORDS[w], float(m)) for m, w in re.findall(pattern, text)]


def _loss_margins_in_definitions(text):
    """``(loss, margin)`` for each ``loss="..."`` definition of the user
    guide that ends in "Default margin X"."""
    found = []
    for block in re.split(r"\n(?=``loss=)", text):
        head = re.match(r'``loss="(\w+)"``', block)
        body = block.split("\n\n")[0]
        margin = re.search(r"[Dd]efault margin (\d+(?:\.\d+)?)", body)
        if head and margin:
            found.append((head.group(1), float(margin.group(1))))
    return found


def test_loss_margins_stated_are_the_codes():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    guide = (DOCS / "user_guide.rst").read_text(encoding="utf-8")
    embedder_doc = SiameseEmbedder.__doc__
    stated = {
        "README.md": _loss_margins_in_prose(readme),
        "SiameseEmbedder's docstring": _loss_margins_in_prose(embedder_doc),
        "user_guide.rst": _loss_margins_in_definitions(guide),
    }
    # every loss with a margin is described, in the guide at least
    assert {loss for loss, _ in stated["user_guide.rst"]} == set(LOSSES)
    assert len(stated["README.md"]) >= 4
    for where, claims in stated.items():
        for loss, margin in claims:
            assert margin == LOSSES[loss][1], (
                f"{where} gives {loss} a default margin of {margin}, the code "
                f"{LOSSES[loss][1]}"
            )
            assert margin == _default(LOSSES[loss][0], "margin")


def test_catalogue_recipe_states_the_backbone_image_size():
    text = (DOCS / "recipes" / "catalogue.rst").read_text(encoding="utf-8")
    height, width = EfficientNetLite0.image_size
    assert f"read as {height}x{width} RGB" in text


# -- Defaults tables made from the code -----------------------------------------


def _defaults_table():
    """The docs' Sphinx extension that makes the defaults tables."""
    path = DOCS / "_ext" / "defaults_table.py"
    spec = importlib.util.spec_from_file_location("defaults_table", path)
    module = importlib.util.module_from_spec(spec)
    sys.modules.setdefault("defaults_table", module)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize("estimator", [SiameseEmbedder, SiameseVerifier, Gallery])
def test_defaults_page_has_a_table_per_estimator(estimator):
    page = (DOCS / "defaults.rst").read_text(encoding="utf-8")
    assert f".. defaults-table:: sksiamese.{estimator.__name__}\n" in page
    guide = (DOCS / "user_guide.rst").read_text(encoding="utf-8")
    assert re.search(r"^\s+defaults\s*$", guide, re.MULTILINE)


@pytest.mark.parametrize("estimator", [SiameseEmbedder, SiameseVerifier, Gallery])
def test_defaults_table_rows_are_the_codes(estimator):
    rows = _defaults_table().defaults_rows(estimator)
    params = estimator().get_params(deep=False)
    assert sorted(name for name, *_ in rows) == sorted(params)
    for name, default, values, what in rows:
        assert default == repr(params[name])
        # the docstring documents each parameter: a type and a sentence
        assert values, f"{estimator.__name__}'s docstring gives {name} no type"
        assert what.endswith((".", "...")), (name, what)
        assert "default=" not in values


def test_first_sentence_keeps_literals_whole():
    first = _defaults_table().first_sentence
    text = ["A sentence cut at ``a. b`` and (c. d) no sooner than", "here. Next."]
    assert first(text) == "A sentence cut at ``a. b`` and (c. d) no sooner than here."
    # a short first sentence takes the second with it
    assert first(["The encoder. It is a module."]) == "The encoder. It is a module."
