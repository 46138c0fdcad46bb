"""Developer tasks: ``nox -s tests``, ``lint``, ``docs``, ``bench``, ``demo``.

Sessions reuse the current interpreter's packages (``venv_backend="none"``) so that the
multi-GB torch install is not repeated per session; install with ``pip install -e .[dev]``.
"""

import nox

nox.options.sessions = ["lint", "tests"]
nox.options.default_venv_backend = "none"

#: The benchmarks of ``nox -s bench``, in order; each accepts ``--quick`` (a small smoke run,
#: ``nox -s bench -- --quick``), which tests/test_benchmarks.py checks.
BENCHMARKS = (
    "benchmarks/bench_characterize.py",
    "benchmarks/bench_select.py",
    "benchmarks/bench_class_size.py",
    "benchmarks/bench_embed.py",
    "benchmarks/bench_store.py",
    "benchmarks/bench_out_of_core.py",
    "benchmarks/bench_explore.py",
    "benchmarks/bench_gpu.py",
    "benchmarks/bench_sources.py",
    "benchmarks/bench_imagenet_scale.py",
    "benchmarks/bench_probe.py",
    "benchmarks/bench_validity.py",
    "benchmarks/bench_default_job.py",
    "benchmarks/bench_precision.py",
)


@nox.session
def tests(session):
    """The test suite (what CI runs). Extra arguments go to pytest."""
    session.run("python", "-m", "pytest", *session.posargs)


@nox.session
def lint(session):
    """ruff check and ruff format --check."""
    session.run("ruff", "check", ".")
    session.run("ruff", "format", "--check", ".")


@nox.session
def docs(session):
    """Build the HTML docs with warnings as errors.

    The ``docs`` extra of pyproject.toml is installed first (the theme, and MathJax for
    offline math come from PyPI), so that the session works on a fresh machine.
    """
    import tomllib

    with open("pyproject.toml", "rb") as fh:
        extras = tomllib.load(fh)["project"]["optional-dependencies"]
    session.run("python", "-m", "pip", "install", "--quiet", *extras["docs"])
    session.run(
        "python",
        "-m",
        "sphinx",
        "-E",
        "-W",
        "--keep-going",
        "-b",
        "html",
        "docs",
        "docs/_build/html",
    )


@nox.session
def bench(session):
    """Speed and memory benchmarks; each prints ratios against a baseline of the same run.

    ``nox -s bench -- --quick`` makes each a small smoke run.
    """
    for script in BENCHMARKS:
        session.run("python", script, *session.posargs)


@nox.session
def demo(session):
    """The main job on the default offline dataset (Fashion-MNIST + EfficientNet-Lite0)."""
    session.run("dks", "analyze", "--out", "dks_results", *session.posargs)
