"""``.. defaults-table:: sksiamese.SiameseEmbedder``: a table of parameters.

The table is made from the estimator's signature and its numpydoc
docstring when the docs are built, so the defaults it shows are those of
the code: one row per parameter, with its default as ``repr`` gives it and
the first sentence of its description.
"""

import importlib
import inspect
import re

from docutils import nodes
from docutils.statemachine import StringList
from numpydoc.docscrape import NumpyDocString
from sphinx.util.docutils import SphinxDirective

__all__ = ["defaults_rows", "first_sentence", "setup"]


def _import(dotted):
    module_name, _, name = dotted.rpartition(".")
    return getattr(importlib.import_module(module_name), name)


def first_sentence(lines):
    """The first sentence of a numpydoc description, literals kept whole."""
    text = " ".join(line.strip() for line in lines).strip()
    for match in re.finditer(r"\.(\s|$)", text):
        head = text[: match.start() + 1]
        if head.count("``") % 2 == 0 and head.count("(") == head.count(")"):
            return head
    return text


def defaults_rows(cls):
    """``[(name, default repr, first sentence)]`` of every parameter of
    ``cls.__init__``, in signature order.

    The description is looked up in the class docstring, where a line may
    document several parameters (``model_path, landmarks_path : ...``).
    """
    described = {}
    for param in NumpyDocString(inspect.getdoc(cls) or "")["Parameters"]:
        for name in param.name.split(","):
            described[name.strip()] = first_sentence(param.desc)
    rows = []
    for name, param in inspect.signature(cls.__init__).parameters.items():
        if name == "self" or param.kind in (param.VAR_POSITIONAL, param.VAR_KEYWORD):
            continue
        default = "(required)" if param.default is param.empty else repr(param.default)
        rows.append((name, default, described.get(name, "")))
    return rows


def _keyword_only_note(cls):
    params = [
        p for n, p in inspect.signature(cls.__init__).parameters.items() if n != "self"
    ]
    positional = [p.name for p in params if p.kind is not p.KEYWORD_ONLY]
    if positional and len(positional) < len(params):
        names = ", ".join(f"``{n}``" for n in positional)
        return f"Every parameter after {names} is keyword-only."
    return ""


class DefaultsTable(SphinxDirective):
    """A list-table of the parameters of the class named as argument."""

    required_arguments = 1
    has_content = False

    def run(self):
        dotted = self.arguments[0]
        cls = _import(dotted)
        short = dotted.rpartition(".")[2]
        lines = [
            f".. list-table:: Parameters of :class:`~{dotted}` and their defaults",
            "   :header-rows: 1",
            "   :widths: 22 22 56",
            "",
            "   * - Parameter",
            "     - Default",
            "     - What it is",
        ]
        for name, default, sentence in defaults_rows(cls):
            lines += [
                f"   * - ``{name}``",
                f"     - ``{default}``",
                f"     - {sentence}",
            ]
        note = _keyword_only_note(cls)
        if note:
            lines += ["", note.replace("parameter", f"parameter of ``{short}``", 1)]
        container = nodes.container(classes=["defaults-table"])
        self.state.nested_parse(StringList(lines, source=dotted), 0, container)
        return [container]


def setup(app):
    app.add_directive("defaults-table", DefaultsTable)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
