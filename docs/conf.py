"""Sphinx configuration of the dks documentation (``nox -s docs``).

The build needs no network: no intersphinx inventory is fetched, and the gallery links
only to this project's own API pages. Only the fast examples (``examples/plot_*.py``) run
at build time; the full analysis (``examples/analyze_default_dataset.py``, minutes of CPU
time) is rendered with its code but not executed.
"""

import argparse
import os
import re
import sys
from pathlib import Path

DOCS = Path(__file__).resolve().parent
ROOT = DOCS.parent
sys.path.insert(0, str(ROOT))  # build the docs of this checkout, installed or not
sys.path.insert(0, str(DOCS / "_ext"))  # this build's extension (dks_sphinx)

# Figures are rendered off-screen, and examples see the same backend as the test suite.
os.environ.setdefault("MPLBACKEND", "Agg")

import dks  # after sys.path is set

# -- Project -------------------------------------------------------------------------------
project = "dks"
author = "dks developers"
copyright = "the dks developers"
version = dks.__version__
release = dks.__version__

# -- General -------------------------------------------------------------------------------
extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "sphinx.ext.mathjax",
    "sphinx.ext.viewcode",
    "numpydoc",
    "sphinx_gallery.gen_gallery",
    "dks_sphinx",  # docs/_ext: gallery order, short references to dks objects
]

templates_path = ["_templates"]
exclude_patterns = [
    "_build",
    "CONTRACTS.md",  # notes between developers, not user documentation
    "**.ipynb_checkpoints",
    "auto_examples/*.ipynb",
    "auto_examples/*.py",
    "auto_examples/*.zip",
    "auto_examples/*.md5",
    "auto_examples/*.pickle",
    "auto_examples/*.json",
]
root_doc = "index"
default_role = "literal"
pygments_style = "sphinx"

# -- autodoc / autosummary / numpydoc ------------------------------------------------------
autosummary_generate = True  # stubs in docs/generated/ (git-ignored), rebuilt every time
autosummary_imported_members = False
autodoc_default_options = {"members": True}
autodoc_typehints = "none"  # numpydoc sections carry the types
autodoc_member_order = "bysource"
autoclass_content = "class"

numpydoc_show_class_members = False  # the class template lists the members instead
numpydoc_class_members_toctree = False
numpydoc_attributes_as_param_list = True
numpydoc_xref_param_type = False

# -- sphinx-gallery ------------------------------------------------------------------------
sphinx_gallery_conf = {
    "examples_dirs": str(ROOT / "examples"),
    "gallery_dirs": "auto_examples",
    # Only the fast examples run at build time. examples/analyze_default_dataset.py does not
    # match: it is rendered (code and text) but never executed, since it takes minutes.
    "filename_pattern": r"/plot_",
    "ignore_pattern": r"__init__\.py",
    "within_subsection_order": "dks_sphinx.ExampleOrder",  # plot_* first, then the rest
    "abort_on_example_error": True,
    "backreferences_dir": "gen_modules/backreferences",  # git-ignored
    "doc_module": ("dks",),
    "download_all_examples": False,
    "write_computation_times": False,  # no generated sg_execution_times.rst in docs/
    "remove_config_comments": True,
    "image_scrapers": ("matplotlib",),
    "matplotlib_animations": False,
    "show_memory": False,
    "min_reported_time": 1,
}

# -- Command-line help -----------------------------------------------------------------------
# cli.rst includes the ``--help`` text of every command, generated here from the parser itself
# so that the page cannot drift from the code. Files go to docs/generated/ (git-ignored).
CLI_HELP_DIR = DOCS / "generated" / "cli"


def _write_cli_help():
    from dks.cli import build_parser

    columns = os.environ.get("COLUMNS")
    os.environ["COLUMNS"] = "92"  # argparse wraps to the terminal width
    try:
        parser = build_parser()
        texts = {"dks": parser.format_help()}
        for action in parser._actions:
            if isinstance(action, argparse._SubParsersAction):
                for name, sub in action.choices.items():
                    texts[f"dks_{name}"] = sub.format_help()
    finally:
        if columns is None:
            del os.environ["COLUMNS"]
        else:
            os.environ["COLUMNS"] = columns
    CLI_HELP_DIR.mkdir(parents=True, exist_ok=True)
    for name, text in texts.items():
        target = CLI_HELP_DIR / f"{name}.txt"
        if not target.is_file() or target.read_text(encoding="utf-8") != text:
            target.write_text(text, encoding="utf-8")


_write_cli_help()

# -- Methods inherited from scikit-learn ------------------------------------------------------
# The estimators' pages list the methods they inherit (transform, get_support, set_output,
# ...). scikit-learn's docstrings point to labels of scikit-learn's own documentation, which
# only an intersphinx inventory (a download) would resolve: show those references as text.
_SKLEARN_REF_TITLED = re.compile(r":(?:ref|term):`([^`<]+?)\s*<[^`>]+>`")
_SKLEARN_REF_EXAMPLE = re.compile(r":ref:`sphx_glr_[^`]*?(plot_\w+\.py)`")
_SKLEARN_REF_BARE = re.compile(r":(?:ref|term):`([^`]+)`")


def _sklearn_refs_as_text(app, what, name, obj, options, lines):
    if not (getattr(obj, "__module__", None) or "").startswith("sklearn."):
        return
    text = "\n".join(lines)
    text = _SKLEARN_REF_TITLED.sub(r"\1 of scikit-learn", text)
    text = _SKLEARN_REF_EXAMPLE.sub(r"the scikit-learn example ``\1``", text)
    text = _SKLEARN_REF_BARE.sub(r"\1", text)
    lines[:] = text.split("\n")


def setup(app):
    # Before numpydoc (priority 500) reformats the docstring.
    app.connect("autodoc-process-docstring", _sklearn_refs_as_text, priority=400)


# -- Math, offline ------------------------------------------------------------------------
# sphinx.ext.mathjax would load MathJax from a CDN, so that a locally built copy read offline
# shows raw ``\(D_{KS} > 0\)``. The ``sphinx-mathjax-offline`` extension (docs extra, from
# PyPI) ships MathJax 3, copies it into ``_build/html/_static/mathjax`` and points
# ``mathjax_path`` there: no third-party JavaScript lives in this repository.
extensions.append("sphinx-mathjax-offline")

# -- HTML ----------------------------------------------------------------------------------
# The theme of scikit-learn, NumPy and SciPy. Its navigation bar shows the top-level pages of
# the index's toctree; nothing is fetched from the network at build or view time.
html_theme = "pydata_sphinx_theme"
html_theme_options = {
    "navbar_align": "left",
    "header_links_before_dropdown": 8,
    "show_toc_level": 2,
    "navigation_with_keys": False,
    "secondary_sidebar_items": ["page-toc"],
    "footer_start": ["copyright"],
    "footer_end": ["sphinx-version", "theme-version"],
}
# Single pages need no left sidebar (the right one lists their sections).
html_sidebars = {
    page: []
    for page in ("index", "install", "user_guide", "cli", "results", "glossary", "changelog")
}
html_static_path = ["_static"]
html_css_files = ["dks.css"]
html_title = f"dks {release}"
html_show_sourcelink = False
