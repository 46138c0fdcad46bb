"""Layer discovery: which layers of a model can be embedded, with their output shapes.

:func:`describe_layers` runs the model once on a blank input with a forward hook on every
submodule and reports each one whose output :class:`~dks.embed.CNNEmbedder` can reduce
(``(N, C)``, ``(N, C, H, W)``, or tokens ``(N, T, C)``) and that runs exactly once per
forward pass, in the order the outputs become available (network depth). A named model is
built on PyTorch's ``meta`` device when it can be: shapes without weights or arithmetic.
"""

from typing import NamedTuple

import torch
from torch import nn

from dks._options import option
from dks.embed._models import model_info

__all__ = ["Layer", "describe_layers"]


class Layer(NamedTuple):
    """A layer that can be embedded.

    Attributes
    ----------
    name : str
        The name to pass in ``layers`` (a module path, or a paper alias such as ``conv1_1``).
    module : str
        Its module path.
    kind : str
        The module's class name.
    shape : tuple of int
        Output shape of one input, without the batch axis.
    n_features : int
        Columns it gives in the embedding (with the given ``tokens``).
    paper : bool
        Whether ``layers="paper"`` includes it.
    """

    name: str
    module: str
    kind: str
    shape: tuple
    n_features: int
    paper: bool


def _n_features(shape, tokens):
    if len(shape) == 2:  # tokens (T, C)
        return 2 * shape[1] if tokens == "both" else shape[1]
    return shape[0]


def _trace(module, size):
    """Shapes, call counts and completion order of every submodule on a blank input."""
    shapes, calls, order, handles = {}, {}, [], []
    flags = [(m, m.training) for m in module.modules()]

    def make_hook(path):
        def hook(_module, _inputs, output):
            calls[path] = calls.get(path, 0) + 1
            if calls[path] == 1:
                order.append(path)
                if isinstance(output, torch.Tensor):
                    shapes[path] = tuple(output.shape[1:])

        return hook

    try:
        module.eval()
        for path, sub in module.named_modules():
            if path:
                handles.append(sub.register_forward_hook(make_hook(path)))
        parameter = next(module.parameters(), None)
        device = parameter.device if parameter is not None else torch.device("cpu")
        x = torch.zeros((1, 3, *size), device=device)
        with torch.inference_mode():
            module(x)
    finally:
        for handle in handles:
            handle.remove()
        for sub, training in flags:
            sub.training = training
    return shapes, calls, order


def describe_layers(model="vgg19", *, input_size=None, tokens="mean"):
    """The layers of a model that can be embedded, with their output shapes.

    Parameters
    ----------
    model : str or torch.nn.Module, default="vgg19"
        A model as for :class:`~dks.embed.CNNEmbedder` (``"resnet50"``,
        ``"timm/convnext_tiny"``, ...) or a module. No weights are downloaded.
    input_size : int, (int, int) or None, default=None
        Crop size, ``(height, width)`` or a side; None: the model's own input size.
    tokens : {"mean", "cls", "both"}, default="mean"
        As for :class:`~dks.embed.CNNEmbedder`: ``"both"`` doubles the features of token
        layers.

    Returns
    -------
    layers : list of Layer
        In the order the layers run (paper aliases, like VGG's ``conv1_1``, named so).

    Examples
    --------
    >>> from dks.embed import describe_layers
    >>> layers = describe_layers("resnet18", input_size=64)
    >>> [(l.name, l.shape) for l in layers if l.paper][-1]
    ('layer4.1', (512, 2, 2))
    """
    if tokens not in ("mean", "cls", "both"):
        raise ValueError(f"tokens must be 'mean', 'cls' or 'both'; got {tokens!r}.")
    info = model_info(model)
    if input_size is None:
        size = info.crop_size
    elif isinstance(input_size, int):
        size = (input_size, input_size)
    else:
        size = tuple(int(v) for v in input_size)
    try:
        try:
            shapes, calls, order = _trace(info.module, size)
        except (NotImplementedError, RuntimeError):
            if isinstance(model, nn.Module):
                raise
            info = model_info(model, meta=False)  # an operation without a meta kernel
            shapes, calls, order = _trace(info.module, size)
    except Exception as exc:
        reason = str(exc).rstrip(".!")
        raise ValueError(
            f"{info.name} does not run on an input of {size[0]}x{size[1]} pixels (height x "
            f"width): {type(exc).__name__}: {reason}. Pass the input size it expects "
            f"({option('input_size')}); its own is {info.crop_size}."
        ) from exc
    paper = set(info.default_layers or ())
    names = {}  # module path -> names (aliases first)
    for alias, path in info.aliases.items():
        names.setdefault(path, []).append(alias)
    layers = []
    for path in order:
        shape = shapes.get(path)
        if calls[path] != 1 or shape is None or len(shape) not in (1, 2, 3):
            continue
        module = info.module.get_submodule(path)
        for name in [*names.get(path, []), path]:
            layers.append(
                Layer(
                    name,
                    path,
                    type(module).__name__,
                    shape,
                    _n_features(shape, tokens),
                    name in paper,
                )
            )
    return layers
