"""Sphinx configuration of crossrec's documentation.

Build (warnings are errors; examples run):
    python -m sphinx -W --keep-going -b html docs docs/_build/html
    python -m sphinx -W --keep-going -b doctest docs docs/_build/doctest

The API reference (docs/api/, generated, not committed) is written from ``crossrec.__all__`` and
the ``__all__`` of the public modules each time the docs build, so a name added to the package
appears without editing the docs.
"""

from __future__ import annotations

import importlib
import re
import inspect
import os
import sys
import types
from pathlib import Path

from sphinx.ext.autodoc.mock import mock

DOCS = Path(__file__).resolve().parent
REPO = DOCS.parent
try:
    import crossrec  # the installed package (CI: the wheel) ...
except ImportError:  # ... or the working tree after scripts/dev_build.sh
    sys.path.insert(0, str(REPO / "python"))
    import crossrec

# Optional dependencies of optional modules: documented without being installed.
autodoc_mock_imports = ["dask", "distributed"]

project = "crossrec"
author = "crossrec developers"
copyright = "crossrec developers"
release = version = crossrec.__version__

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "sphinx.ext.doctest",
    "sphinx.ext.intersphinx",
    "sphinx.ext.mathjax",
    "numpydoc",
    "myst_parser",
    "sphinx_copybutton",
]
source_suffix = {".rst": "restructuredtext"}  # markdown only through the README includes
exclude_patterns = ["_build", "_generated"]
templates_path: list[str] = []

html_theme = "furo"
html_title = f"crossrec {release}"
html_static_path: list[str] = []

# numpydoc: the docstrings are numpydoc; members come from autodoc (:members:), not numpydoc's
# own autosummary tables, which would need stub pages of their own.
numpydoc_show_class_members = False
numpydoc_class_members_toctree = False
autodoc_default_options = {"member-order": "groupwise"}
autodoc_typehints = "none"  # the numpydoc Parameters sections say the types
autosummary_generate = False
add_module_names = False

# Examples: only the doctest/testcode directives of the guide pages run. The ``>>>`` lines in
# docstrings are illustrations on real data sets (not shipped), so they are not run as tests.
doctest_test_doctest_blocks = ""
doctest_global_setup = """
import numpy as np
import pandas as pd
import crossrec as cr
"""

# README sections are included (one source for set-up commands and benchmark tables); their
# headings start below the page's own title.
suppress_warnings = ["myst.header"]
myst_heading_anchors = 3

intersphinx_mapping = {
    "python": ("https://docs.python.org/3", None),
    "numpy": ("https://numpy.org/doc/stable", None),
    "scipy": ("https://docs.scipy.org/doc/scipy", None),
    "pandas": ("https://pandas.pydata.org/docs", None),
}
# No network on the build machines: intersphinx inventories are used when reachable only.
if os.environ.get("CROSSREC_DOCS_OFFLINE", "1") == "1":
    intersphinx_mapping = {}


# ---- the API reference, generated from __all__ -------------------------------------------------
# Public modules that are not in crossrec.__all__ but have a page (when they exist).
EXTRA_MODULES = ["crossrec.models.protocol", "crossrec.io", "crossrec.distributed"]
API = DOCS / "api"


def _kind(obj) -> str:
    if isinstance(obj, types.ModuleType):
        return "module"
    if inspect.isclass(obj):
        if issubclass(obj, BaseException):
            return "error"
        if issubclass(obj, crossrec.Recommender):
            return "model"
        return "class"
    return "function" if callable(obj) else "data"


def _names(module) -> list[str]:
    names = getattr(module, "__all__", None)
    if names is None:  # no __all__: what the module defines itself
        names = [
            n
            for n, v in vars(module).items()
            if not n.startswith("_") and getattr(v, "__module__", None) == module.__name__
        ]
    return sorted(names, key=str.lower)


def _object_page(qualname: str, kind: str) -> str:
    module, name = qualname.rsplit(".", 1)
    title = f"{qualname}\n{'=' * len(qualname)}\n\n.. currentmodule:: {module}\n\n"
    if kind == "model":  # the whole serving API comes from the base class
        return title + f".. autoclass:: {name}\n   :members:\n   :inherited-members:\n   :show-inheritance:\n"
    if kind in ("class", "error"):
        return title + f".. autoclass:: {name}\n   :members:\n   :show-inheritance:\n"
    if kind == "function":
        return title + f".. autofunction:: {name}\n"
    return title + f".. autodata:: {name}\n"


def _summary(module: str, names: list[str]) -> str:
    if not names:
        return ""
    rows = "\n".join(f"   {n}" for n in names)
    return f".. currentmodule:: {module}\n\n.. autosummary::\n   :nosignatures:\n\n{rows}\n\n"


def _write(pages: dict[str, str]) -> None:
    API.mkdir(exist_ok=True)
    for old in API.glob("*.rst"):
        if old.stem not in pages:
            old.unlink()
    for stem, text in pages.items():
        path = API / f"{stem}.rst"
        if not path.exists() or path.read_text() != text:  # unchanged files keep Sphinx's cache valid
            path.write_text(text)


def _module_page(module, pages: dict[str, str], documented: dict[int, str]) -> None:
    """One page per public module: its own objects in full, a link row for those documented elsewhere
    (each object is documented once: two descriptions of one class are a duplicate-object error)."""
    name = module.__name__
    parts, toc = [], []
    aliases: list[tuple[str, str]] = []
    groups: dict[str, list[str]] = {}
    for n in _names(module):
        obj = getattr(module, n)
        kind = _kind(obj)
        if kind == "module":
            _module_page(obj, pages, documented)
            toc.append(obj.__name__)
            continue
        if id(obj) in documented and kind != "data":
            groups.setdefault("Documented elsewhere", []).append(documented[id(obj)])
            continue
        if kind in ("model", "class") and obj.__name__ != n:
            # a short alias (distributed.ALS = DistributedALS): autodoc would print only "alias of";
            # document the class under the full name of its definition
            real = f"{obj.__module__}.{obj.__qualname__}"
            aliases.append((n, real))
            n = real
        documented[id(obj)] = f"{name}.{n}"
        groups.setdefault(kind, []).append(n)
    title = f"{name}\n{'=' * len(name)}\n\n.. automodule:: {name}\n   :no-members:\n\n"
    title += "".join(f"``{name}.{a}`` is :class:`{real}`.\n\n" for a, real in aliases)
    labels = {"model": "Models", "class": "Classes", "function": "Functions", "error": "Errors", "data": "Data"}
    for kind, label in labels.items():
        names = groups.get(kind, [])
        if not names:
            continue
        parts.append(f"{label}\n{'-' * len(label)}\n\n")
        for n in names:
            directive = {
                "model": f".. autoclass:: {n}\n   :members:\n   :inherited-members:\n   :show-inheritance:\n",
                "class": f".. autoclass:: {n}\n   :members:\n   :show-inheritance:\n",
                "error": f".. autoclass:: {n}\n   :show-inheritance:\n",
                "function": f".. autofunction:: {n}\n",
                "data": f".. autodata:: {n}\n   :no-value:\n",
            }[kind]
            parts.append(f".. currentmodule:: {name}\n\n{directive}\n")
    if groups.get("Documented elsewhere"):
        parts.append("Also here\n---------\n\nThe same objects as\n\n")
        parts.append(".. autosummary::\n   :nosignatures:\n\n")
        parts.append("".join(f"   ~{q}\n" for q in groups["Documented elsewhere"]) + "\n")
    if toc:
        parts.append("Submodules\n----------\n\n.. toctree::\n   :maxdepth: 1\n\n")
        parts.append("".join(f"   {t}\n" for t in toc) + "\n")
    pages[name] = title + "".join(parts)


def write_api_reference() -> None:
    pages: dict[str, str] = {}
    documented: dict[int, str] = {}
    groups: dict[str, list[str]] = {}
    with mock(autodoc_mock_imports):
        for n in _names(crossrec):
            obj = getattr(crossrec, n)
            kind = _kind(obj)
            groups.setdefault(kind, []).append(n)
            if kind != "module":
                documented[id(obj)] = f"crossrec.{n}"
                pages[f"crossrec.{n}"] = _object_page(f"crossrec.{n}", kind)
        modules = [getattr(crossrec, n) for n in groups.get("module", [])]
        for extra in EXTRA_MODULES:
            try:
                mod = importlib.import_module(extra)
            except ImportError:  # not written yet on this branch, or its own dependency is absent
                continue
            if mod not in modules:
                modules.append(mod)
        for mod in modules:
            _module_page(mod, pages, documented)

    index = [
        "API reference\n=============\n\n",
        "Everything below is generated from the docstrings (numpydoc) and the package's ``__all__``: ",
        "``import crossrec as cr`` gives every name in the first four tables.\n\n",
    ]
    labels = {"model": "Models", "class": "Data and results", "function": "Functions", "error": "Errors"}
    for kind, label in labels.items():
        if groups.get(kind):
            index.append(f"{label}\n{'-' * len(label)}\n\n" + _summary("crossrec", groups[kind]))
    index.append("Modules\n-------\n\n.. currentmodule:: None\n\n.. autosummary::\n   :nosignatures:\n\n")
    index.append("".join(f"   {m.__name__}\n" for m in modules) + "\n")
    toc = sorted(p for p in pages if p.count(".") == 1 or p in {m.__name__ for m in modules})
    index.append(".. toctree::\n   :hidden:\n\n" + "".join(f"   {p}\n" for p in toc))
    pages["index"] = "".join(index)
    _write(pages)


write_api_reference()


# ---- plain-text idioms of the docstrings that reST would misread --------------------------------
# Outside inline literals, roles and strong text (numpydoc's parameter names), |x| (an absolute value, not a substitution) and name_ (a
# fitted attribute, not a hyperlink reference) are escaped. Runs after numpydoc (priority 600).
_LITERAL = re.compile(r"(``.+?``|:[\w:.-]+:`[^`]*`|`[^`]*`_{0,2}|\*\*.+?\*\*)")
_TRAILING_UNDERSCORE = re.compile(r"(?<![\\\w])([A-Za-z][A-Za-z0-9_]*?)(_{1,2})(?=[\s.,;:)\]}]|$)")


def _escape_text(text: str) -> str:
    text = _TRAILING_UNDERSCORE.sub(lambda m: m.group(1) + "\\_" * len(m.group(2)), text)
    return re.sub(r"(?<!\\)\|", r"\\|", text)


def _indent(line: str) -> int:
    return len(line) - len(line.lstrip())


def escape_docstring(app, what, name, obj, options, lines) -> None:
    out: list[str] = []
    for line in lines:
        # "name : text" with an indented continuation and then the next "name : text" is a
        # definition list without its closing blank line: a blank line before every dedent ends
        # the indented block the way reST wants (harmless where the block already ended).
        if out and line.strip() and out[-1].strip() and _indent(line) < _indent(out[-1]):
            out.append("")
        if not (line.lstrip().startswith(("|", "+", "..")) or ("_" not in line and "|" not in line)):
            parts = _LITERAL.split(line)  # tables, line blocks and directives keep their syntax
            line = "".join(p if i % 2 else _escape_text(p) for i, p in enumerate(parts))
        out.append(line)
    lines[:] = out


def public_bases(app, name, obj, options, bases) -> None:
    """Show the nearest public ancestor instead of a private base class (``_FactorModel``)."""
    for k, base in enumerate(bases):
        if isinstance(base, type) and base.__name__.startswith("_"):
            bases[k] = next(b for b in base.__mro__ if not b.__name__.startswith("_"))


def setup(app):
    app.connect("autodoc-process-docstring", escape_docstring, priority=600)
    app.connect("autodoc-process-bases", public_bases)


# ---- the benchmark table, from the saved pytest-benchmark run ----------------------------------
def write_suite_table() -> None:
    """A list-table of benchmarks/results/suite.json: per group, crossrec's best time, each peer's
    time as a multiple of it, and the accuracy both reported (extra_info)."""
    import json

    out = DOCS / "_generated" / "suite.inc"
    out.parent.mkdir(exist_ok=True)
    path = REPO / "benchmarks" / "results" / "suite.json"
    if not path.exists():
        out.write_text("*No saved run* (``benchmarks/results/suite.json`` is missing).\n")
        return
    run = json.loads(path.read_text())
    groups: dict[str, list[dict]] = {}
    for b in run["benchmarks"]:
        groups.setdefault(b["group"], []).append(b)
    skip = ("library", "load_average_at_start")

    def accuracy(b: dict) -> str:
        info = {k: v for k, v in b.get("extra_info", {}).items() if k not in skip}
        # "ndcg@10" would become a mailto link: the @ is escaped
        return ", ".join(
            f"{k.replace('@', chr(92) + '@')} {v:.4g}" if isinstance(v, float) else f"{k} {v}" for k, v in info.items()
        )

    rows = []
    for group, items in groups.items():
        ours = [b for b in items if b["extra_info"].get("library") == "crossrec"]
        if not ours:
            continue
        base = ours[0]["stats"]["min"]
        # other crossrec variants (one thread) stay in the JSON; the table compares with the peers
        peers = [b for b in items if not b["extra_info"].get("library", "").startswith("crossrec")]
        peer_text = "; ".join(f"{b['extra_info'].get('library', b['name'])} {b['stats']['min'] / base:.2f}x" for b in peers)
        peer_acc = "; ".join(accuracy(b) for b in peers if accuracy(b))
        rows.append((group, f"{base:.4f} s", peer_text, accuracy(ours[0]), peer_acc))
    load = run.get("load_average_at_end")
    head = (
        f"Saved {run.get('datetime', '')[:16].replace('T', ' ')} UTC, Python "
        f"{run['machine_info'].get('python_version', '')}, {run['machine_info'].get('cpu', {}).get('count', '?')} cores"
        + (f", load average at the end {load[0]:.1f} (1 min) / {load[1]:.1f} (5 min)" if load else "")
        + ". Peer time as a multiple of crossrec's (> 1: crossrec faster).\n\n"
    )
    table = [".. list-table::", "   :header-rows: 1", "   :widths: 34 10 22 17 17", ""]
    for row in (("case", "crossrec", "peer time / crossrec", "crossrec accuracy", "peer accuracy"), *rows):
        table.append(f"   * - {row[0]}")
        table.extend(f"     - {cell}" for cell in row[1:])
    text = head + "\n".join(table) + "\n"
    if not out.exists() or out.read_text() != text:
        out.write_text(text)


write_suite_table()
