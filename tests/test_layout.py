"""The layout of dks/, from its source: no import circle, no private name taken across
modules, few private modules at the top of ``dks/``, each shared by several parts, no
package reaching into another's private modules, and images read in one place.

The import graph is read with :mod:`ast` from every ``.py`` file under ``dks/``, imports
inside functions and ``if TYPE_CHECKING:`` blocks included (a function-level import hides a
circle from Python, not from the design), and so are the guarded imports
``import_optional("dks...", ...)`` of :mod:`dks._optional`. Relative imports are resolved
against the module's package. An edge goes to the deepest module that exists: ``from
dks.embed import _models`` is an edge to ``dks.embed._models``; ``from dks.embed import
CNNEmbedder`` one to the module that the package's ``__init__`` took it from.

A package's ``__init__`` re-exporting names of its own submodules is not a circle: importing
``dks.embed._output`` runs ``dks/embed/__init__.py`` first whatever the code says, so an edge
from a package to its own descendants says nothing about the design. Those edges are left
out; every other edge counts, including a submodule importing a name from an ancestor
package (``from dks import config_context`` inside ``dks/pipeline``), which is followed to the
module that defines the name when the ``__init__`` re-exports it.

Run ``python tests/test_layout.py`` to print the figures.
"""

from __future__ import annotations

import ast
import sys
from collections import defaultdict
from functools import cache
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1] / "dks"

#: At most this many private modules or packages directly under dks/.
MAX_TOP_PRIVATE = 6

#: At most this many functions take ``background`` (and as many ``max_image_pixels``): the
#: public signatures that offer the decoding settings to users, and the reader that checks
#: them; internal code passes one :class:`dks.sources.ImageReader`.
MAX_LOOSE_DECODING = 8

#: At most this many ``meta["..."]`` reads of results metadata by string key (the typed
#: :class:`dks.results.EmbeddingRecord` is read by field).
MAX_META_KEY_READS = 4

#: At most this many lines per module.
MAX_MODULE_LINES = 600


#: Findings that only the engine work (dks/_engine, characterize, select, thresholds and the
#: per-class rule folded into thresholds) removes; the marks go once it has landed.
@cache
def modules():
    """Dotted module name -> path, for every module and package of dks/."""
    found = {}
    for path in sorted(ROOT.rglob("*.py")):
        parts = list(path.relative_to(ROOT.parent).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        found[".".join(parts)] = path
    return found


def _is_package(name):
    return modules()[name].name == "__init__.py"


def _deepest(name):
    """The deepest module of dks that ``name`` (a dotted path) is or lies in, else None."""
    mods = modules()
    while name and name not in mods:
        name = name.rpartition(".")[0]
    return name or None


def _absolute(module, node):
    """The absolute module named by an ``ImportFrom`` node inside ``module``."""
    if not node.level:
        return node.module
    package = module if _is_package(module) else module.rpartition(".")[0]
    base = package.split(".")
    base = base[: len(base) - (node.level - 1)]
    return ".".join(base + ([node.module] if node.module else []))


@cache
def _trees():
    return {m: ast.parse(p.read_text(encoding="utf-8"), str(p)) for m, p in modules().items()}


@cache
def _reexports():
    """Package -> {name: defining module} for the names its ``__init__`` imports."""
    out = {}
    for m, tree in _trees().items():
        if not _is_package(m):
            continue
        names = {}
        for node in tree.body:
            if isinstance(node, ast.ImportFrom):
                target = _absolute(m, node)
                if target and target.startswith(m + "."):
                    for a in node.names:
                        names[a.asname or a.name] = f"{target}.{a.name}"
        out[m] = names
    return out


def _follow(package, name):
    """Where ``from package import name`` really leads (through re-exports), a module."""
    for _ in range(10):
        full = f"{package}.{name}"
        if full in modules():
            return full
        origin = _reexports().get(package, {}).get(name)
        if origin is None:
            return package
        package, name = origin.rpartition(".")[0], origin.rpartition(".")[2]
    return package  # pragma: no cover


@cache
def graph():
    """``(edges, private)``: module -> set of modules it imports (façade edges left out),
    and the ``(importer, name, owner)`` triples of private names taken across modules."""
    edges, private = defaultdict(set), set()
    for m, tree in _trees().items():
        edges[m]
        bound = {}  # local name -> dks module it stands for (for `alias._name` uses)
        for node in ast.walk(tree):
            targets = []
            if (  # import_optional("dks.x", ...), the guarded import of dks._optional
                isinstance(node, ast.Call)
                and getattr(node.func, "id", getattr(node.func, "attr", None)) == "import_optional"
                and node.args
                and isinstance(node.args[0], ast.Constant)
                and str(node.args[0].value).startswith("dks")
            ):
                targets.append(_deepest(node.args[0].value))
            elif isinstance(node, ast.Import):
                for a in node.names:
                    if a.name == "dks" or a.name.startswith("dks."):
                        t = _deepest(a.name)
                        targets.append(t)
                        if a.asname:
                            bound[a.asname] = t
            elif isinstance(node, ast.ImportFrom):
                base = _absolute(m, node)
                if not base or not (base == "dks" or base.startswith("dks.")):
                    continue
                base = _deepest(base)
                for a in node.names:
                    t = _follow(base, a.name) if _is_package(base) else base
                    targets.append(t)
                    if f"{base}.{a.name}" in modules():
                        bound[a.asname or a.name] = t
                    elif a.name.startswith("_") and not a.name.startswith("__") and t != m:
                        private.add((m, a.name, t))
            for t in targets:
                if t and t != m and not (_is_package(m) and t.startswith(m + ".")):
                    edges[m].add(t)
        for node in ast.walk(tree):
            if (
                isinstance(node, ast.Attribute)
                and isinstance(node.value, ast.Name)
                and node.value.id in bound
                and node.attr.startswith("_")
                and not node.attr.startswith("__")
                and f"{bound[node.value.id]}.{node.attr}" not in modules()
            ):
                private.add((m, node.attr, bound[node.value.id]))
    return dict(edges), sorted(private)


def circles():
    """The strongly connected components of more than one module (Tarjan), sorted."""
    edges, _ = graph()
    index, low, stack, on, found = {}, {}, [], set(), []

    def visit(v):
        index[v] = low[v] = len(index)
        stack.append(v)
        on.add(v)
        for w in sorted(edges.get(v, ())):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for v in sorted(edges):
        if v not in index:
            visit(v)
    return sorted(found)


def _part(module):
    """The part of dks a module belongs to: its subpackage or top-level module (``dks``
    for the package's own ``__init__``)."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "dks"


def top_private():
    """Private top-level module or package -> the other parts of dks that import it."""
    edges, _ = graph()
    out = {}
    for m in modules():
        parts = m.split(".")
        if len(parts) == 2 and parts[1].startswith("_") and parts[1] != "__main__":
            out[m] = sorted(
                {
                    _part(user)
                    for user, targets in edges.items()
                    if _part(user) != parts[1]
                    and any(t == m or t.startswith(m + ".") for t in targets)
                }
            )
    return out


def _package(module):
    """The non-private subpackage of dks a module lies in, else None."""
    parts = module.split(".")
    return parts[1] if len(parts) > 2 and not parts[1].startswith("_") else None


def cross_package_private():
    """``(importer, module)``: a module of another package importing a private module of a
    subpackage (``from dks.store._layout import x`` outside ``dks/store``); a package gives
    what others use through its ``__init__``."""
    found = set()
    for m, tree in _trees().items():
        for node in ast.walk(tree):
            names = []
            if isinstance(node, ast.ImportFrom):
                base = _absolute(m, node) or ""
                names = [base] + [f"{base}.{a.name}" for a in node.names]
            elif isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            for name in names:
                parts = name.split(".")
                if (
                    parts[0] == "dks"
                    and len(parts) > 2
                    and name in modules()
                    and any(p.startswith("_") for p in parts[2:])
                    and _package(name) is not None
                    and _package(name) != _package(m if len(m.split(".")) > 2 else m + ".x")
                ):
                    found.add((m, name))
    return sorted(found)


def loose_decoding_parameters():
    """``{"background": [...], "max_image_pixels": [...]}``: the functions taking each."""
    out = {"background": [], "max_image_pixels": []}
    for m, tree in _trees().items():
        for node in ast.walk(tree):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                args = {a.arg for a in node.args.args + node.args.kwonlyargs}
                for name in out:
                    if name in args:
                        out[name].append(f"{m}.{node.name}")
    return out


def meta_key_reads():
    """``meta["..."]`` reads, one entry per read (the module)."""
    import re

    return [
        m
        for m, path in modules().items()
        for _ in re.findall(r"meta\[\s*[\"']", path.read_text(encoding="utf-8"))
    ]


def image_openers():
    """The modules that call ``Image.open``."""
    return sorted(
        {
            m
            for m, tree in _trees().items()
            for node in ast.walk(tree)
            if isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and node.func.attr == "open"
            and getattr(node.func.value, "id", None) == "Image"
        }
    )


def report():
    """The figures, as text."""
    _, private = graph()
    lines = [f"{len(circles())} import circles:"]
    lines += ["  " + " <-> ".join(c) for c in circles()]
    lines.append(f"{len(private)} private names imported from another module:")
    lines += [f"  {m} takes {name} from {owner}" for m, name, owner in private]
    tops = top_private()
    lines.append(f"{len(tops)} private modules at the top of dks/ (at most {MAX_TOP_PRIVATE}):")
    lines += [f"  {m}: used by {', '.join(users) or 'nothing'}" for m, users in tops.items()]
    cross = cross_package_private()
    lines.append(f"{len(cross)} private modules of a package imported from another:")
    lines += [f"  {m} imports {name}" for m, name in cross]
    for name, where in loose_decoding_parameters().items():
        lines.append(f"{len(where)} functions take {name} (at most {MAX_LOOSE_DECODING})")
    lines.append(f"{len(meta_key_reads())} meta[...] reads (at most {MAX_META_KEY_READS})")
    lines.append(f"modules calling Image.open: {', '.join(image_openers())}")
    return "\n".join(lines)


# --------------------------------------------------------------------------------------------
# the graph reader itself, on the shapes it must recognize
# --------------------------------------------------------------------------------------------
def test_the_reader_sees_function_level_relative_and_facade_imports():
    edges, _ = graph()
    # `from dks.sources import ImageFolder`, inside a function, follows the re-export
    assert "dks.sources._image_folder" in edges["dks.analysis._image_set"]
    # a guarded import, inside a function
    assert "PIL.Image" not in edges["dks.plotting._thumbnails"]
    assert "dks.sources" in edges["dks.results._io"]  # the decoder, imported when used
    # a package's __init__ re-exporting its own submodules is not an edge
    assert not any(t.startswith("dks.report.") for t in edges["dks.report"])
    # `from dks import _config` is an edge to the module dks._config, not to dks
    assert "dks._config" in edges["dks.report._classes"]
    assert "dks._options" in edges["dks.study._compare"]


def test_the_reader_finds_a_circle_and_a_private_name(tmp_path, monkeypatch):
    pkg = tmp_path / "dks"
    (pkg / "sub").mkdir(parents=True)
    (pkg / "__init__.py").write_text("from dks.a import A\n")
    (pkg / "a.py").write_text("A = 1\ndef f():\n    from .sub._b import _hidden\n")
    (pkg / "sub" / "__init__.py").write_text("")
    (pkg / "sub" / "_b.py").write_text("import dks.a as a\n_hidden = a._x\n")
    monkeypatch.setattr(sys.modules[__name__], "ROOT", pkg)
    for f in (modules, _trees, _reexports, graph):
        f.cache_clear()
    try:
        assert circles() == [["dks.a", "dks.sub._b"]]
        _, private = graph()
        assert private == [("dks.a", "_hidden", "dks.sub._b"), ("dks.sub._b", "_x", "dks.a")]
    finally:
        monkeypatch.undo()
        for f in (modules, _trees, _reexports, graph):
            f.cache_clear()


# --------------------------------------------------------------------------------------------
# the layout
# --------------------------------------------------------------------------------------------
def test_no_import_circle():
    assert not circles(), "import circles:\n" + report()


def test_no_private_name_imported():
    assert not graph()[1], "private names taken across modules:\n" + report()


def test_few_private_modules_at_the_top_each_shared():
    """Each private top-level module serves two parts of dks or more (else it belongs in
    the one part that uses it), and there are few of them."""
    lonely = {m: users for m, users in top_private().items() if len(users) < 2}
    assert not lonely, f"used by fewer than two parts of dks: {lonely}\n" + report()
    assert len(top_private()) <= MAX_TOP_PRIVATE, report()


def test_no_package_imports_another_packages_private_module():
    assert not cross_package_private(), report()


def test_decoding_settings_travel_as_one_value():
    for name, where in loose_decoding_parameters().items():
        assert len(where) <= MAX_LOOSE_DECODING, f"{name}: {where}"


def test_results_metadata_is_read_by_field():
    assert len(meta_key_reads()) <= MAX_META_KEY_READS, sorted(set(meta_key_reads()))


def test_images_are_opened_in_the_image_input_package_only():
    assert image_openers() == ["dks.sources._decode"], report()


def test_private_module_names_say_which():
    """No two private modules share a file name (``_layers.py`` in four packages said
    nothing about which layers)."""
    names = defaultdict(list)
    for m in modules():
        if m.rpartition(".")[2].startswith("_") and not m.endswith("__main__"):
            names[m.rpartition(".")[2]].append(m)
    shared = {n: ms for n, ms in names.items() if len(ms) > 1 and not n.startswith("__")}
    assert not shared, shared


def test_modules_are_short():
    lines = {m: len(p.read_text(encoding="utf-8").splitlines()) for m, p in modules().items()}
    long = {m: n for m, n in lines.items() if n > MAX_MODULE_LINES}
    assert not long, long


def test_one_home_for_os_replace():
    users = sorted(
        m for m, p in modules().items() if "os.replace(" in p.read_text(encoding="utf-8")
    )
    assert users == ["dks._atomic"], users


def test_the_structure_readers_find_what_they_look_for(tmp_path, monkeypatch):
    pkg = tmp_path / "dks"
    for sub in ("a", "b"):
        (pkg / sub).mkdir(parents=True)
        (pkg / sub / "__init__.py").write_text("")
    (pkg / "__init__.py").write_text("")
    (pkg / "a" / "_x.py").write_text(
        "from PIL import Image\ndef f(background=1):\n    Image.open(1)\n"
    )
    (pkg / "b" / "_y.py").write_text(
        "from dks.a._x import f\nfrom dks.b import _z\nv = meta['k']\n"
        "def g(*, max_image_pixels=None):\n    pass\n"
    )
    (pkg / "b" / "_z.py").write_text("")
    monkeypatch.setattr(sys.modules[__name__], "ROOT", pkg)
    for f in (modules, _trees, _reexports, graph):
        f.cache_clear()
    try:
        assert cross_package_private() == [("dks.b._y", "dks.a._x")]
        assert loose_decoding_parameters() == {
            "background": ["dks.a._x.f"],
            "max_image_pixels": ["dks.b._y.g"],
        }
        assert meta_key_reads() == ["dks.b._y"]
        assert image_openers() == ["dks.a._x"]
    finally:
        monkeypatch.undo()
        for f in (modules, _trees, _reexports, graph):
            f.cache_clear()


if __name__ == "__main__":
    print(report())
