"""The README, the user guide and the examples speak of the current API.

Names removed in version 0.2 may appear in the changelog only, and the
changelog names every one of them; the estimators in the examples are
called with parameters they have; the README's tables list every
parameter of each estimator.
"""

import ast
import re
from pathlib import Path

import pytest

from sksiamese import Gallery, SiameseEmbedder, SiameseVerifier

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"
EXAMPLES = sorted((ROOT / "examples").glob("*.py"))

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
    files += [
        p
        for p in DOCS.glob("*.rst")
        if p.name not in ("changelog.rst", "benchmarks.rst")
    ]
    return {
        p.relative_to(ROOT).as_posix(): p.read_text(encoding="utf-8") for p in files
    }


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


@pytest.mark.parametrize("estimator", [SiameseEmbedder, SiameseVerifier])
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
    [(SiameseEmbedder, "SiameseEmbedder"), (SiameseVerifier, "Verification")],
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
