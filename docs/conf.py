"""Sphinx configuration of the sksiamese documentation.

Build (from the project root; the examples of the gallery are run, and an
example that fails fails the build)::

    python -m sphinx -W --keep-going -b html docs docs/_build/html

Set ``SKSIAMESE_DOCS_RUN_EXAMPLES=0`` to build the pages without running
the examples (a minute), and ``SKSIAMESE_DOCS_INTERSPHINX=1`` to link names of Python, NumPy,
scikit-learn, PyTorch, skorch and matplotlib to their documentation (needs
network access). A nitpicky build (``-n``) resolves every reference either
way: without the inventories, references into those projects are the only
ones let through unresolved.
"""

import importlib
import inspect
import os
import pkgutil
import re
import sys
import warnings
from pathlib import Path

import sksiamese

sys.path.insert(0, str(Path(__file__).resolve().parent / "_ext"))

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
    "defaults_table",
]

root_doc = "index"
exclude_patterns = [
    "_build",
    "_ext",
    "auto_examples/*.ipynb",
    "auto_examples/*.py",
]
templates_path = ["_templates"]
default_role = "literal"

# -- API reference -----------------------------------------------------------

autosummary_generate = True
autodoc_default_options = {"members": True}
autodoc_typehints = "none"
numpydoc_show_class_members = False
numpydoc_class_members_toctree = False
numpydoc_attributes_as_param_list = True

# -- Pictures in the user guide ----------------------------------------------

# The pictures of the user guide illustrate the text; the code that draws
# them is not what the page is about, so it is left out of the page.
plot_include_source = False
plot_html_show_source_link = False
plot_html_show_formats = False
plot_formats = [("png", 96)]
plot_rcparams = {"figure.dpi": 96}
plot_pre_code = "import numpy as np\nimport matplotlib.pyplot as plt\n"

# -- Example gallery -----------------------------------------------------------


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

intersphinx_mapping = {
    "python": ("https://docs.python.org/3", None),
    "numpy": ("https://numpy.org/doc/stable", None),
    "sklearn": ("https://scikit-learn.org/stable", None),
    "torch": ("https://docs.pytorch.org/docs/stable", None),
    "matplotlib": ("https://matplotlib.org/stable", None),
    "skorch": ("https://skorch.readthedocs.io/en/stable", None),
}
intersphinx = os.environ.get("SKSIAMESE_DOCS_INTERSPHINX", "0") == "1"
if intersphinx:
    extensions.append("sphinx.ext.intersphinx")
else:
    # Without network access the inventories of the projects above cannot
    # be read, and only they resolve references into those projects. These
    # references, and only these, are let through unresolved; with
    # SKSIAMESE_DOCS_INTERSPHINX=1 they are checked like all others.
    _EXTERNAL = ("sklearn", "numpy", "torch", "skorch", "matplotlib", "pathlib")
    nitpick_ignore_regex = [
        (r"py:.*", rf"({'|'.join(_EXTERNAL)})(\..*)?"),
    ]

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
# Inline literals and interpreted text (roles): inside them a backslash is
# shown as it is, so nothing in them is escaped.
_LITERAL = re.compile(r"(``.+?``|`[^`]*`)")


def escape_fitted_attributes(app, what, name, obj, options, lines):
    """Escape ``name_`` outside literals so that it is not a reference."""
    for i, line in enumerate(lines):
        if line.lstrip().startswith((">>>", "...")):
            continue
        parts = _LITERAL.split(line)
        for j in range(0, len(parts), 2):  # even parts lie outside literals
            parts[j] = _TRAILING_UNDERSCORE.sub(r"\1\\_", parts[j])
        lines[i] = "".join(parts)


def _function_of(obj):
    """The function behind a method, class method or property, or None."""
    if isinstance(obj, property):
        obj = obj.fget
    obj = getattr(obj, "__func__", obj)
    return obj if inspect.isfunction(obj) else None


def _owner(func):
    """The class whose body defines ``func``, or None."""
    owner_name, _, _ = func.__qualname__.rpartition(".")
    try:
        module = importlib.import_module(func.__module__)
    except ImportError:
        return None
    owner = module
    for part in owner_name.split("."):
        owner = getattr(owner, part, None)
    return owner if inspect.isclass(owner) else None


def _foreign(obj):
    """Whether ``obj`` is a member that another project's class defines, or
    a sksiamese method without a docstring of its own that would show the
    docstring of another project's method it overrides (PyTorch's
    ``Module.forward``: "Should be overridden by all subclasses")."""
    func = _function_of(obj)
    if func is None:
        return False
    if not func.__module__.startswith("sksiamese"):
        return True
    if func.__doc__ is not None:
        return False
    owner = _owner(func)
    if owner is None:
        return False
    for base in owner.__mro__[1:]:
        inherited = base.__dict__.get(func.__name__)
        if inherited is not None and getattr(inherited, "__doc__", None):
            return not base.__module__.startswith("sksiamese")
    return False


def skip_members(app, what, name, obj, skip, options):
    """Document the project's own members only.

    Classes are documented with their inherited members (those of the
    package's private base classes are part of their interface); members
    that scikit-learn, PyTorch or Python define, methods without a
    docstring of their own that would show another project's, and
    scikit-learn's generated ``set_*_request`` methods are left out.
    """
    if re.fullmatch(r"set_\w+_request", name):
        return True
    if _foreign(obj):
        return True
    return None


def setup(app):
    app.connect("autodoc-process-docstring", escape_fitted_attributes, priority=600)
    app.connect("autodoc-skip-member", skip_members)
    app.connect("env-check-consistency", check_public_names_documented)
