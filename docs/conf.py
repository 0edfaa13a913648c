"""Sphinx configuration of the sksiamese documentation.

Build (from the project root; the examples are not run)::

    python -m sphinx -W --keep-going -b html docs docs/_build/html

Set ``SKSIAMESE_DOCS_RUN_EXAMPLES=1`` to run the examples and put their
pictures and output in the gallery (a few minutes), and
``SKSIAMESE_DOCS_INTERSPHINX=1`` to link names of Python, NumPy,
scikit-learn, PyTorch and matplotlib to their documentation (needs network
access).
"""

import importlib
import inspect
import os
import pkgutil
import re
import warnings

import sksiamese

project = "sksiamese"
copyright = "sksiamese contributors; BSD-3-Clause licence"
author = "sksiamese contributors"
release = sksiamese.__version__
version = release

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "sphinx.ext.mathjax",
    "sphinx.ext.doctest",
    "numpydoc",
    "sphinx_gallery.gen_gallery",
    "matplotlib.sphinxext.plot_directive",
]

root_doc = "index"
exclude_patterns = ["_build", "auto_examples/*.ipynb", "auto_examples/*.py"]
templates_path = ["_templates"]
default_role = "literal"

# -- API reference -----------------------------------------------------------

autosummary_generate = True
autodoc_default_options = {"members": True, "inherited-members": False}
autodoc_typehints = "none"
numpydoc_show_class_members = False
numpydoc_class_members_toctree = False
numpydoc_attributes_as_param_list = True

# -- Pictures in the user guide ----------------------------------------------

plot_include_source = True
plot_html_show_source_link = False
plot_html_show_formats = False
plot_formats = [("png", 96)]
plot_rcparams = {"figure.dpi": 96}
plot_pre_code = "import numpy as np\nimport matplotlib.pyplot as plt\n"

# -- Example gallery -----------------------------------------------------------

run_examples = os.environ.get("SKSIAMESE_DOCS_RUN_EXAMPLES", "0") == "1"

sphinx_gallery_conf = {
    "examples_dirs": "../examples",
    "gallery_dirs": "auto_examples",
    "filename_pattern": r"/plot_",
    # the examples run unless SKSIAMESE_DOCS_RUN_EXAMPLES=0; an example that
    # fails (its data missing, say) fails the build
    "plot_gallery": str(os.environ.get("SKSIAMESE_DOCS_RUN_EXAMPLES", "1") == "1"),
    "only_warn_on_example_error": False,
    "remove_config_comments": True,
    "doc_module": ("sksiamese",),
    "backreferences_dir": "gen_modules/backreferences",
    "within_subsection_order": "FileNameSortKey",
    "download_all_examples": False,
    "show_signature": False,
    "min_reported_time": 1,
}
# Examples run with a non-interactive backend and leave no warnings about it.
warnings.filterwarnings("ignore", message=".*non-interactive.*", category=UserWarning)
os.environ.setdefault("MPLBACKEND", "Agg")

# -- Links to other projects -------------------------------------------------

if os.environ.get("SKSIAMESE_DOCS_INTERSPHINX", "0") == "1":
    extensions.append("sphinx.ext.intersphinx")
    intersphinx_mapping = {
        "python": ("https://docs.python.org/3", None),
        "numpy": ("https://numpy.org/doc/stable", None),
        "sklearn": ("https://scikit-learn.org/stable", None),
        "torch": ("https://pytorch.org/docs/stable", None),
        "matplotlib": ("https://matplotlib.org/stable", None),
        "skorch": ("https://skorch.readthedocs.io/en/stable", None),
    }

# -- HTML ----------------------------------------------------------------------

html_theme = "pydata_sphinx_theme"
html_title = f"sksiamese {release}"
html_theme_options = {
    "navigation_with_keys": False,
    "show_prev_next": False,
    "secondary_sidebar_items": ["page-toc"],
}
html_sidebars = {"**": []}
html_static_path = []
html_show_sourcelink = False


# -- Every public name is documented -------------------------------------------


def public_objects():
    """``{qualified name: object}`` of every name in a public module's ``__all__``.

    Public modules are those of the package whose dotted path has no part
    starting with an underscore.
    """
    found = {"sksiamese": sksiamese}
    for info in pkgutil.walk_packages(sksiamese.__path__, "sksiamese."):
        if not any(part.startswith("_") for part in info.name.split(".")):
            found[info.name] = importlib.import_module(info.name)
    names = {}
    for module_name, module in found.items():
        for name in getattr(module, "__all__", ()):
            if not name.startswith("__"):
                names[f"{module_name}.{name}"] = getattr(module, name)
    return names


def _resolve(fullname):
    module_name, _, attr = fullname.rpartition(".")
    while module_name:
        try:
            obj = importlib.import_module(module_name)
        except ImportError:
            module_name, _, head = module_name.rpartition(".")
            attr = f"{head}.{attr}"
            continue
        for part in attr.split("."):
            obj = getattr(obj, part, None)
        return obj
    return None


def check_public_names_documented(app, env):
    """Warn about every public name that no page of the docs describes."""
    from sphinx.util import logging

    logger = logging.getLogger("sksiamese.docs")
    documented = env.get_domain("py").objects
    resolved = (_resolve(name) for name in documented)
    by_identity = {id(obj) for obj in resolved if obj is not None}
    for name, obj in sorted(public_objects().items()):
        if name in documented:
            continue
        if obj is not None and not isinstance(obj, (str, int, float)):
            if id(obj) in by_identity or (
                inspect.ismodule(obj) and obj.__name__ in documented
            ):
                continue
        logger.warning(
            "public name %s is not in the API reference (docs/api.rst)", name
        )


# -- Docstrings as reStructuredText ---------------------------------------------

# ``name_`` is a hyperlink reference in reStructuredText, but in docstrings it
# is a fitted attribute, as in "ndarray of shape (n_samples, embedding_dim_)".
_TRAILING_UNDERSCORE = re.compile(
    r"\b([A-Za-z][A-Za-z0-9_]*[A-Za-z0-9])_(?=[\s,.;:)\]]|$)"
)


def escape_fitted_attributes(app, what, name, obj, options, lines):
    """Escape ``name_`` outside literals so that it is not a reference."""
    for i, line in enumerate(lines):
        if line.lstrip().startswith((">>>", "...")):
            continue
        parts = line.split("`")
        for j in range(0, len(parts), 2):  # even parts lie outside backticks
            parts[j] = _TRAILING_UNDERSCORE.sub(r"\1\\_", parts[j])
        lines[i] = "`".join(parts)


def skip_metadata_request_methods(app, what, name, obj, skip, options):
    """Leave out scikit-learn's generated ``set_*_request`` methods."""
    if re.fullmatch(r"set_\w+_request", name):
        return True
    return None


def setup(app):
    app.connect("autodoc-process-docstring", escape_fitted_attributes, priority=600)
    app.connect("autodoc-skip-member", skip_metadata_request_methods)
    app.connect("env-check-consistency", check_public_names_documented)
