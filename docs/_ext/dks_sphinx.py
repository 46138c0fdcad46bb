"""Helpers of the dks documentation build (imported by ``docs/conf.py``)."""


class ExampleOrder:
    """Gallery order: the fast ``plot_*`` examples by file name, then the full analysis.

    sphinx-gallery takes it by name (``"dks_sphinx.ExampleOrder"``) so that the Sphinx
    configuration stays picklable.
    """

    def __init__(self, src_dir):
        self.src_dir = src_dir

    def __call__(self, filename):
        return (not filename.startswith("plot_"), filename)


def resolve_dks_reference(app, env, node, contnode):
    """Resolve a Python cross-reference to a dks object that Sphinx did not find.

    The estimators are documented where users import them (``dks.KSCharacterizer``), but
    their docstrings are written in their own modules and refer to neighbours by short
    names (``:func:`signed_ks_pvalues```) or by another public path
    (``:class:`dks.embed.CNNEmbedder```). Such a reference is resolved when exactly one
    documented dks object has that name (or that last component, for a ``dks.`` path).
    """
    if node.get("refdomain") != "py":
        return None
    target = node["reftarget"]
    context = node.get("py:module") or ""
    if not (target.startswith("dks.") or context.startswith("dks")):
        return None
    domain = env.get_domain("py")
    # Canonical aliases (dks.embed._embedder.CNNEmbedder for dks.CNNEmbedder) are left out.
    names = [n for n, e in domain.objects.items() if n.startswith("dks.") and not e.aliased]
    suffixes = [target.removeprefix("dks.")]
    if target.startswith("dks.") and "." in suffixes[0]:
        suffixes.append(target.rsplit(".", 1)[-1])
    for suffix in suffixes:
        matches = [n for n in names if n == f"dks.{suffix}" or n.endswith(f".{suffix}")]
        if len(matches) == 1:
            return domain.resolve_xref(
                env, node["refdoc"], app.builder, node["reftype"], matches[0], node, contnode
            )
    return None


def setup(app):
    app.connect("missing-reference", resolve_dks_reference)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
