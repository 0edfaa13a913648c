"""``.. defaults-table:: sksiamese.SiameseEmbedder``: a table of parameters.

The table is made from the estimator's signature and its numpydoc
docstring when the docs are built, so the defaults it shows are those of
the code: one row per parameter, with its default as ``repr`` gives it and
its type or values and the first sentence of its description.
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


def _sentences(text):
    """Split ``text`` after each full stop that ends a sentence, keeping
    inline literals and parentheses whole."""
    sentences, start = [], 0
    for match in re.finditer(r"\.(\s|$)", text):
        head = text[start : match.start() + 1]
        if head.count("``") % 2 == 0 and head.count("(") == head.count(")"):
            sentences.append(head.strip())
            start = match.end()
    rest = text[start:].strip()
    return sentences + ([rest] if rest else [])


def _outside_literals(text, sep):
    """Positions of ``sep`` in ``text`` outside inline literals and
    parentheses."""
    depth, literal, found = 0, False, []
    i = 0
    while i < len(text):
        if text.startswith("``", i):
            literal = not literal
            i += 2
            continue
        if not literal:
            depth += {"(": 1, ")": -1}.get(text[i], 0)
            if depth == 0 and text.startswith(sep, i):
                found.append(i)
        i += 1
    return found


def first_sentence(lines, short=40, long=220):
    """What a parameter is, from its numpydoc description: the first
    sentence, with the second when the first is shorter than ``short``
    characters, cut at its first semicolon when longer than ``long``."""
    text = " ".join(line.strip() for line in lines).strip()
    sentences = _sentences(text)
    if not sentences:
        return ""
    summary = sentences[0]
    if len(summary) < short and len(sentences) > 1:
        summary = f"{summary} {sentences[1]}"
    if len(summary) > long:
        cuts = _outside_literals(summary, "; ")
        if cuts:
            summary = summary[: cuts[0]] + "; ..."
    return summary


def _values(type_text):
    """The type of a parameter without its ``default=...`` part."""
    return re.sub(r",?\s*default\s*=.*$", "", type_text.strip()).strip()


def defaults_rows(cls):
    """``[(name, default repr, values, what it is)]`` of every parameter of
    ``cls.__init__``, in signature order.

    The description is looked up in the class docstring, where a line may
    document several parameters (``model_path, landmarks_path : ...``).
    """
    described = {}
    for param in NumpyDocString(inspect.getdoc(cls) or "")["Parameters"]:
        for name in param.name.split(","):
            described[name.strip()] = (_values(param.type), first_sentence(param.desc))
    rows = []
    for name, param in inspect.signature(cls.__init__).parameters.items():
        if name == "self" or param.kind in (param.VAR_POSITIONAL, param.VAR_KEYWORD):
            continue
        default = "(required)" if param.default is param.empty else repr(param.default)
        values, what = described.get(name, ("", ""))
        rows.append((name, default, values, what))
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
            "   :widths: 17 15 28 40",
            "",
            "   * - Parameter",
            "     - Default",
            "     - Values",
            "     - What it is",
        ]
        for name, default, values, what in defaults_rows(cls):
            lines += [
                f"   * - ``{name}``",
                f"     - ``{default}``",
                f"     - {values}",
                f"     - {what}",
            ]
        note = _keyword_only_note(cls)
        if note:
            lines += ["", note.replace("parameter", f"parameter of ``{short}``", 1)]
        container = nodes.container(classes=["defaults-table"])
        # the descriptions refer to methods as the class docstring does
        # (:meth:`fit`): parse them in the class's context
        context = self.env.ref_context
        saved = {key: context.get(key) for key in ("py:module", "py:class")}
        context["py:module"], _, context["py:class"] = dotted.rpartition(".")
        try:
            self.state.nested_parse(StringList(lines, source=dotted), 0, container)
        finally:
            for key, value in saved.items():
                if value is None:
                    context.pop(key, None)
                else:
                    context[key] = value
        return [container]


def setup(app):
    app.add_directive("defaults-table", DefaultsTable)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
