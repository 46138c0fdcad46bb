"""Tests of the precision that ``precision="auto"`` picks, and of the CPU's bfloat16 flags."""

import pytest

torch = pytest.importorskip("torch")

from dks.embed import _arguments  # noqa: E402
from dks.embed._arguments import cpu_bfloat16_flags, resolve_precision  # noqa: E402

pytestmark = pytest.mark.torch

CPUINFO = """processor\t: 0
vendor_id\t: AuthenticAMD
flags\t\t: fpu vme sse2 avx2 avx512f {extra} xsave
bogomips\t: 4800.00

processor\t: 1
flags\t\t: fpu vme sse2 avx2 avx512f xsave
"""


@pytest.mark.parametrize(
    ("extra", "expected"),
    [
        ("avx512_bf16 amx_bf16 amx_tile", ("avx512_bf16", "amx_bf16")),
        ("avx512_bf16", ("avx512_bf16",)),
        ("amx_tile amx_bf16", ("amx_bf16",)),
        ("avx512_vnni", ()),  # neither (a prefix of a flag is not the flag)
        ("avx512_bf16x", ()),
    ],
)
def test_cpu_bfloat16_flags_reads_the_first_flags_line(tmp_path, extra, expected):
    path = tmp_path / "cpuinfo"
    path.write_text(CPUINFO.format(extra=extra))
    assert cpu_bfloat16_flags.__wrapped__(path) == expected


def test_cpu_bfloat16_flags_without_cpuinfo_is_empty(tmp_path):
    assert cpu_bfloat16_flags.__wrapped__(tmp_path / "absent") == ()
    (tmp_path / "empty").write_text("processor\t: 0\n")
    assert cpu_bfloat16_flags.__wrapped__(tmp_path / "empty") == ()


@pytest.mark.parametrize("flags", [(), ("avx512_bf16",), ("avx512_bf16", "amx_bf16")])
def test_auto_on_the_cpu_follows_the_fidelity_rule(monkeypatch, flags):
    """bfloat16 on the CPU failed the fidelity rule (docs/gpu.rst, bench_precision.py):
    auto stays float32 whatever the CPU computes natively; explicit choices are kept."""
    monkeypatch.setattr(_arguments, "cpu_bfloat16_flags", lambda: flags)
    cpu = torch.device("cpu")
    assert resolve_precision("auto", cpu) == "float32"
    for precision in ("float32", "bfloat16", "float16"):
        assert resolve_precision(precision, cpu) == precision
