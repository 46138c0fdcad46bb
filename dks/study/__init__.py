"""Studies across results folders: :func:`compare` puts several side by side.

``_compare`` reads the folders and writes the comparison; ``_compare_figures``,
``_compare_text`` and ``_compare_page`` are its figures, its text and its HTML page.
"""

from dks.study._compare import compare

__all__ = [
    "compare",
]
