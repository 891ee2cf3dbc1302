"""Sphinx configuration of the eegbench documentation.

Build (warnings are errors, as in CI)::

    python -m sphinx -W --keep-going -b html docs docs/_build/html
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

from numpydoc.numpydoc import DEDUPLICATION_TAG

DOCS = Path(__file__).resolve().parent
ROOT = DOCS.parent
sys.path.insert(0, str(ROOT))  # the checkout's eegbench, also without an install
sys.path.insert(0, str(DOCS / "_ext"))

import eegbench  # noqa: E402
from eegbench._compat import import_braindecode_models  # noqa: E402

# braindecode (and, through it, moabb and its pydantic models) imported once before autodoc
# starts: imported later, inside a directive, pydantic fails to build moabb's NEMAR models.
import_braindecode_models()

project = "eegbench"
author = "eegbench contributors"
copyright = "eegbench contributors"  # noqa: A001 - Sphinx's name
release = version = eegbench.__version__

extensions = [
    "myst_parser",
    "numpydoc",
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "sphinx.ext.graphviz",
    "sphinx.ext.viewcode",
    "eegbench_tables",
]

source_suffix = {".rst": "restructuredtext", ".md": "markdown"}
exclude_patterns = ["_build", "Thumbs.db", ".DS_Store"]
templates_path = ["_templates"]
root_doc = "index"

# -- Markdown (MyST) ---------------------------------------------------------------------------
myst_enable_extensions = ["colon_fence", "deflist"]
myst_heading_anchors = 3

# -- API reference -----------------------------------------------------------------------------
autosummary_generate = True
autosummary_imported_members = False
autodoc_default_options = {"members": True, "show-inheritance": True}
autodoc_typehints = "none"  # numpydoc's "Parameters" sections carry the types
autodoc_member_order = "bysource"
# Methods a class overrides without a docstring (torch.autograd.Function.forward, sklearn's
# set_*_request) would otherwise show their base class's text, with its cross-references.
autodoc_inherit_docstrings = False
numpydoc_show_class_members = False  # members are documented by autodoc on the same page
numpydoc_class_members_toctree = False
numpydoc_xref_param_type = False


# -- HTML --------------------------------------------------------------------------------------
html_theme = "pydata_sphinx_theme"
html_title = f"eegbench {release}"
html_theme_options = {
    "navigation_with_keys": False,
    "show_toc_level": 2,
    "header_links_before_dropdown": 7,
}
graphviz_output_format = "png"  # an <img>: the headless-browser check sees it load


# -- Docstrings written for readers of the source ----------------------------------------------
# The package's docstrings are numpydoc; a few use plain-text notation that reStructuredText
# reads otherwise. These hooks render them as meant, so no module needs an edit for the docs.

#: ``|x|`` (an absolute value) would be a reStructuredText substitution reference.
_ABSOLUTE_VALUE = re.compile(r"(?<![\\`|\w])\|([A-Za-z_][\w.]*)\|(?![`|\w])")


#: A list item, whose continuation lines are indented in valid reStructuredText.
_LIST_ITEM = re.compile(r"\s*([-*+]|\d+\.|#\.)\s")


def _escape_absolute_values(lines: list[str]) -> None:
    for i, line in enumerate(lines):
        if "``" not in line:
            lines[i] = _ABSOLUTE_VALUE.sub(r"\\|\1\\|", line)


def _freeform_comment(lines: list[str]) -> bool:
    """True when a ``#:`` comment continues a line with a deeper indent (not valid rST)."""
    for previous, line in zip(lines, lines[1:], strict=False):
        indent = len(line) - len(line.lstrip())
        opens_block = previous.rstrip().endswith("::") or _LIST_ITEM.match(previous)
        if previous.strip() and line.strip() and not opens_block and indent > len(
                previous) - len(previous.lstrip()):
            return True
    return False


def process_docstring(app, what, name, obj, options, lines: list[str]) -> None:
    """Escape ``|x|``; show free-form ``#:`` comments (e.g. a version history) verbatim.

    ``#:`` comments of module data and attributes are plain reStructuredText, not numpydoc
    (numpydoc would render them as a code block): they are marked as already processed.
    """
    _escape_absolute_values(lines)
    if what in ("data", "attribute"):
        if _freeform_comment(lines):
            lines[:] = ["::", "", *[f"    {line}" for line in lines]]
        lines.extend(["", "..", DEDUPLICATION_TAG])


_METADATA_REQUEST = re.compile(r"set_\w+_request")


def skip_member(app, what, name, obj, skip, options):
    """Leave out scikit-learn's generated ``set_*_request`` methods (not eegbench's API)."""
    if _METADATA_REQUEST.fullmatch(name):
        return True
    return None


def setup(app):
    """Connect the docstring hooks."""
    app.connect("autodoc-skip-member", skip_member)
    # before numpydoc (priority 500), which appends its own marker lines
    app.connect("autodoc-process-docstring", process_docstring, priority=400)
