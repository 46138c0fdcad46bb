"""timm models for :class:`~dks.embed.CNNEmbedder`: ``model="timm/<name>"``.

The prefix is the one timm uses for its weights on the Hugging Face hub
(``timm/convnext_tiny.fb_in1k``). ``<name>`` is an architecture (``convnext_tiny``),
optionally with a pretrained tag (``convnext_tiny.fb_in1k``). The weights follow the same
rules as for torchvision models:

* ``"DEFAULT"``: timm's pretrained weights (the tag of the name, or timm's default tag),
  downloaded from the hub into Hugging Face's cache on first use;
* a tag name (``"fb_in22k_ft_in1k"``): those pretrained weights;
* a path: a local weights file (``.safetensors``, ``.pth``, ``.bin``), loaded by timm
  through ``pretrained_cfg_overlay=dict(file=path)`` (the offline way);
* ``None``: random weights.

The preprocessing comes from the model's pretrained configuration (``pretrained_cfg``):
mean, std, interpolation, and the crop (``input_size``) and resize
(``floor(crop / crop_pct)``, the shorter side) of timm's evaluation transform; the input
size of a transformer built for another size (``img_size=``) is the one it was built for.
timm is an optional dependency (``pip install dks[timm]``).
"""

import math
import os

from dks._optional import import_optional
from dks._options import option

__all__ = [
    "PREFIX",
    "build_timm",
    "check_timm_name",
    "is_timm_name",
    "timm_preprocessing",
]

PREFIX = "timm/"


def is_timm_name(model):
    """Whether ``model`` names a timm model (``"timm/..."``)."""
    return isinstance(model, str) and model.startswith(PREFIX)


def _import_timm():
    return import_optional("timm", "A model named 'timm/...'", needs="timm", extra="timm")


def check_timm_name(model):
    """Raise a ValueError naming close matches if ``model`` is not a timm architecture."""
    _split(model)


def _split(model):
    """``"timm/arch.tag"`` -> ``("arch", "tag" or None)``, checking the architecture."""
    timm = _import_timm()
    name = model[len(PREFIX) :]
    arch, _, tag = name.partition(".")
    if not timm.is_model(arch):
        import difflib

        close = difflib.get_close_matches(arch, timm.list_models(), n=3, cutoff=0.6)
        hint = f" Did you mean {' or '.join(repr(PREFIX + c) for c in close)}?" if close else ""
        raise ValueError(
            f"Unknown timm model {model!r}.{hint} See timm.list_models() for the names; write "
            f"them as '{PREFIX}<name>'."
        )
    return arch, tag or None


def _check_tag(arch, tag, model):
    from timm.models import get_pretrained_cfg

    try:
        found = get_pretrained_cfg(f"{arch}.{tag}") is not None
    except RuntimeError:
        found = False
    if not found:
        import timm

        tags = [n.partition(".")[2] for n in timm.list_pretrained(f"{arch}.*")]
        raise ValueError(
            f"Unknown weights {tag!r} for model {model!r}: not a pretrained tag of timm "
            f"({', '.join(tags) or 'none'}) nor an existing file."
        )


def build_timm(model, weights, *, seeded, warn_random, is_path, existing_file):
    """Build a timm model.

    Parameters
    ----------
    model : str
        ``"timm/<arch>[.<tag>]"``.
    weights : str, os.PathLike or None
        As described in the module docstring.
    seeded : callable
        Context manager factory seeding torch for random weights.
    warn_random : callable
        Warns that the weights are random.
    is_path, existing_file : callable
        The weights-path helpers of :mod:`dks.embed._models` (one rule for all models).

    Returns
    -------
    module : torch.nn.Module
        In eval mode.
    description : str or None
        The weights loaded, for ``weights_``.
    """
    timm = _import_timm()
    arch, tag = _split(model)
    name = arch if tag is None else f"{arch}.{tag}"
    if weights is None:
        warn_random()
        with seeded():
            module = timm.create_model(name, pretrained=False)
        return module.eval(), None
    if isinstance(weights, (str, os.PathLike)) and is_path(weights):
        path = existing_file(weights, model)
        try:
            module = timm.create_model(
                name, pretrained=True, pretrained_cfg_overlay=dict(file=os.fspath(path))
            )
        except (RuntimeError, ValueError, KeyError, OSError) as exc:
            raise ValueError(
                f"Cannot load the weights file {os.fspath(path)!r} into {model!r}: {exc}. It "
                "must hold the weights of that architecture (a timm checkpoint, "
                ".safetensors or a state_dict saved with torch.save)."
            ) from None
        return module.eval(), f"file {os.fspath(weights)!r}"
    if not isinstance(weights, str):
        raise ValueError(
            f"The weights of {model!r} must be 'DEFAULT', a pretrained tag, the path of a "
            f"weights file or None; got {weights!r}."
        )
    if weights != "DEFAULT":
        if tag is not None and weights != tag:
            raise ValueError(
                f"{option('model', model)} names the tag {tag!r} but "
                f"{option('weights', weights)}; give the "
                "tag once, in the model name or as weights."
            )
        tag = weights
        _check_tag(arch, tag, model)
        name = f"{arch}.{tag}"
    try:
        module = timm.create_model(name, pretrained=True)
    except Exception as exc:  # hub errors (no network) come in many classes
        raise OSError(
            f"Could not get the pretrained weights of {PREFIX}{name}: timm downloads them from "
            f"the Hugging Face hub (https://huggingface.co/{PREFIX}{name}) and that failed: "
            f"{type(exc).__name__}: {exc}. This machine may have no network access. Download "
            "the weights file (model.safetensors) elsewhere and pass its path, "
            f"{option('weights', '/path/to/model.safetensors')}; timm loads it offline."
        ) from exc
    loaded = module.pretrained_cfg.get("tag")
    return module.eval(), f"{PREFIX}{arch}.{loaded}" if loaded else f"{PREFIX}{name}"


def timm_preprocessing(module):
    """``(mean, std, resize, crop_size, interpolation)`` from a timm ``pretrained_cfg``.

    Returns None when ``module`` has no such configuration. ``resize`` is the shorter side
    (an int) for square inputs, else ``(height, width)``; ``crop_size`` is
    ``(height, width)``.
    """
    cfg = getattr(module, "pretrained_cfg", None)
    if not isinstance(cfg, dict) or "input_size" not in cfg:
        return None
    height, width = (int(v) for v in cfg["input_size"][-2:])
    built = getattr(getattr(module, "patch_embed", None), "img_size", None)
    if isinstance(built, (tuple, list)) and len(built) == 2:  # a ViT built for another size
        height, width = (int(v) for v in built)
    crop_pct = float(cfg.get("crop_pct") or 1.0)
    if height == width:
        resize = math.floor(height / crop_pct)
    else:
        resize = (math.floor(height / crop_pct), math.floor(width / crop_pct))
    interpolation = cfg.get("interpolation") or "bilinear"
    if interpolation not in ("bilinear", "bicubic", "nearest"):
        interpolation = "bilinear"
    return (
        tuple(map(float, cfg.get("mean", (0.485, 0.456, 0.406)))),
        tuple(map(float, cfg.get("std", (0.229, 0.224, 0.225)))),
        resize,
        (height, width),
        interpolation,
    )
