"""Checks of :class:`~dks.embed.CNNEmbedder`'s arguments that its constraints cannot express.

Sizes (an int or a ``(height, width)`` pair, crops that fit in the resized image), the
normalization triples, the device (CUDA asked for but absent is an error, never a silent
fallback) and the precision the device supports. Each error names the parameter, the value
and what to pass instead.
"""

import contextlib
import functools
import os
from numbers import Integral
from pathlib import Path

import numpy as np
import torch

from dks._options import option

__all__ = [
    "as_pair",
    "as_size",
    "as_triple",
    "autocast",
    "check_precision",
    "check_sizes",
    "cpu_bfloat16_flags",
    "machine_gpus",
    "probe_size",
    "resolve_device",
    "resolve_precision",
]


def as_pair(value, name):
    if isinstance(value, Integral):
        return (int(value), int(value))
    return as_size(value, name)


def as_size(value, name="resize"):
    if isinstance(value, Integral):
        return int(value)
    values = tuple(value)
    if len(values) != 2 or not all(isinstance(v, Integral) and v >= 1 for v in values):
        raise ValueError(
            f"The {name!r} parameter of CNNEmbedder must be a positive int or a pair of "
            f"positive ints (height, width). Got {value!r} instead."
        )
    return (int(values[0]), int(values[1]))


def check_sizes(crops, resize, crop_size):
    if crops == "none" or resize is None:
        return
    short = (resize, resize) if isinstance(resize, int) else resize
    if short[0] < crop_size[0] or short[1] < crop_size[1]:
        raise ValueError(
            f"resize={resize!r} makes images smaller than crop_size={crop_size!r}; the crops "
            "must fit in the resized image."
        )


def probe_size(crops, resize, crop_size):
    if crops != "none" or resize is None:
        return crop_size
    return (resize, resize) if isinstance(resize, int) else resize


def as_triple(value, name, positive=False):
    values = np.asarray(value, dtype=float).ravel()
    if (
        values.shape != (3,)
        or not np.all(np.isfinite(values))
        or (positive and not np.all(values > 0))
    ):
        kind = "positive " if positive else ""
        raise ValueError(
            f"The {name!r} parameter of CNNEmbedder must be 3 finite {kind}numbers (R, G, B) "
            f"or None. Got {value!r} instead."
        )
    return tuple(values.tolist())


def resolve_device(device):
    if isinstance(device, str) and device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        resolved = torch.device(device)
    except (RuntimeError, ValueError):
        raise ValueError(
            f"The '{option('device')}' parameter of CNNEmbedder must be 'auto', 'cpu', 'cuda', "
            f"'cuda:<index>' or a torch.device. Got {device!r} instead."
        ) from None
    if resolved.type == "cuda":
        if not torch.cuda.is_available():
            raise ValueError(
                f"{option('device', device)} was requested but CUDA is not available "
                f"(torch.cuda.is_available() is False). Use {option('device')} 'cpu', or "
                "'auto' to take CUDA only when present."
            )
        if resolved.index is not None and resolved.index >= torch.cuda.device_count():
            raise ValueError(
                f"{option('device', device)} was requested but there are only "
                f"{torch.cuda.device_count()} CUDA device(s)."
            )
    elif resolved.type == "mps" and not torch.backends.mps.is_available():
        raise ValueError(f"{option('device', device)} was requested but MPS is not available.")
    elif resolved.type not in ("cpu", "cuda", "mps"):
        raise ValueError(
            f"The '{option('device')}' parameter of CNNEmbedder must be 'auto', 'cpu', 'cuda' "
            "or 'mps'. "
            f"Got {device!r} instead."
        )
    return resolved


def check_precision(precision, device):
    if precision == "bfloat16" and device.type == "cuda" and not torch.cuda.is_bf16_supported():
        raise ValueError(
            f"precision='bfloat16' is not supported by the CUDA device {device}; use "
            "'float16' or 'float32'."
        )


#: The CPU flags (Linux ``/proc/cpuinfo``) of instructions that compute bfloat16 natively: the
#: AVX512-BF16 dot products and the AMX tiles, which oneDNN's bfloat16 kernels use.
BFLOAT16_FLAGS = ("avx512_bf16", "amx_bf16")


@functools.lru_cache(maxsize=1)
def cpu_bfloat16_flags(cpuinfo="/proc/cpuinfo"):
    """The :data:`BFLOAT16_FLAGS` this machine's CPU has: ``()`` if none or unknown.

    Read from ``cpuinfo`` (the first ``flags`` line; Linux only: elsewhere the file does not
    exist and the answer is ``()``, which keeps float32).
    """
    try:
        with Path(cpuinfo).open(encoding="ascii", errors="replace") as lines:
            flags = next((line for line in lines if line.startswith("flags")), "")
    except OSError:
        return ()
    present = set(flags.partition(":")[2].split())
    return tuple(flag for flag in BFLOAT16_FLAGS if flag in present)


def resolve_precision(precision, device):
    """The compute precision of ``precision="auto"``: bfloat16 on CUDA where supported.

    On a GPU the convolutions run on tensor cores at bfloat16, which keeps float32's range
    (no overflow, no loss scaling); the layer averages are still accumulated in float32.
    Elsewhere (CPU, MPS, GPUs without bfloat16) float32, so that the CPU results do not
    change: also on CPUs that compute bfloat16 natively (:func:`cpu_bfloat16_flags`), where
    bfloat16 moved some D_KS by far more than the fidelity rule of
    ``benchmarks/bench_precision.py`` allows: its rounding compounds through the layers and
    reorders images within features (docs: "Why bfloat16 moves D_KS so much").

    Parameters
    ----------
    precision : {"auto", "float32", "bfloat16", "float16"}
        The ``precision`` parameter.
    device : torch.device
        The resolved device.

    Returns
    -------
    str
        ``precision`` itself unless it is ``"auto"``.
    """
    if precision != "auto":
        return precision
    if device.type == "cuda" and torch.cuda.is_bf16_supported():
        return "bfloat16"
    return "float32"


def machine_gpus():
    """NVIDIA GPUs of the machine (``CUDA_VISIBLE_DEVICES`` hides some from torch)."""
    try:
        listed = len(os.listdir("/proc/driver/nvidia/gpus"))
    except OSError:  # not Linux, or not NVIDIA's driver
        listed = 0
    return max(listed, torch.cuda.device_count())


def autocast(device, dtype):
    """:func:`torch.autocast` to ``dtype`` on ``device``; no autocast for None."""
    if dtype is None:
        return contextlib.nullcontext()
    return torch.autocast(device.type, dtype=dtype)
