"""Receptive fields from a network's geometry: which input pixels a feature-map position sees.

For one spatial axis, a feature map is described by three numbers: its *size* ``r`` (pixels
one position sees), *stride* ``j`` (pixels between neighbouring positions) and *offset*
``s`` (first input pixel of position 0, negative where padding is seen). Position ``i``
sees the input pixels ``[s + i*j, s + i*j + r)``. The input image is ``(r, j, s) = (1, 1, 0)``
and each operation maps the triple of its input to that of its output:

* convolution and pooling (kernel ``k``, stride ``t``, padding ``p``, dilation ``d``):
  ``r' = r + (k - 1) d j``, ``j' = j t``, ``s' = s - p j``;
* explicit padding (``F.pad``, e.g. TensorFlow "same" padding) of ``p`` before: ``s' = s - p j``;
* an element-wise operation of several maps of the same shape (a residual sum, a
  concatenation of channels): the union of their windows;
* anything that mixes every position (global pooling, flatten, a linear layer, a map
  broadcast from a global one as in squeeze-and-excitation): the whole image.

:func:`receptive_field` propagates the triples through a real forward pass on PyTorch's
``meta`` device (shapes only: no weights, no memory), intercepting every torch function with
a :class:`torch.overrides.TorchFunctionMode`, so any network made of these operations works,
whatever its module structure (sequential or branched). An operation that changes the
spatial layout in another way (interpolation, slicing) raises :class:`NotImplementedError`.
"""

from __future__ import annotations

import copy
from typing import NamedTuple

import torch
from torch import nn
from torch.overrides import TorchFunctionMode

__all__ = ["ReceptiveField", "receptive_field"]

_POOLS = {"max_pool2d", "max_pool2d_with_indices", "avg_pool2d"}
_ADAPTIVE = {"adaptive_avg_pool2d", "adaptive_max_pool2d"}


class ReceptiveField(NamedTuple):
    """Where the positions of a feature map look in the input image.

    Attributes
    ----------
    size : tuple of int
        ``(height, width)`` in input pixels seen by one position (before clipping to the image).
    stride : tuple of int
        ``(rows, columns)`` of input pixels between neighbouring positions.
    offset : tuple of int
        ``(top, left)`` input pixel of position ``(0, 0)``'s window; negative when the window
        reaches into the padding.
    image_size : tuple of int
        ``(height, width)`` of the input the field was computed for.
    whole_image : bool
        True when every position sees the whole image (fully connected layers, global
        pooling); then ``size`` is ``image_size`` and the feature map is ``1 x 1``.
    """

    size: tuple
    stride: tuple
    offset: tuple
    image_size: tuple
    whole_image: bool = False

    def box(self, row, col):
        """The input pixels seen by position ``(row, col)``, clipped to the image.

        Returns
        -------
        tuple of int
            ``(top, left, bottom, right)``, bottom and right exclusive.
        """
        if self.whole_image:
            return (0, 0, *self.image_size)
        top = self.offset[0] + row * self.stride[0]
        left = self.offset[1] + col * self.stride[1]
        height, width = self.image_size
        return (
            max(top, 0),
            max(left, 0),
            min(top + self.size[0], height),
            min(left + self.size[1], width),
        )


class _Geometry(NamedTuple):
    """Per axis ``(r, j, s)``, for rows and columns; ``whole`` for maps that see everything."""

    rows: tuple
    cols: tuple
    whole: bool = False


def _window(geo, kernel, stride, padding, dilation):
    axes = []
    for (r, j, s), k, t, p, d in zip(
        (geo.rows, geo.cols), kernel, stride, padding, dilation, strict=True
    ):
        axes.append((r + (k - 1) * d * j, j * t, s - p * j))
    return _Geometry(*axes, whole=geo.whole)


def _union(geos):
    if any(g.whole for g in geos):
        return _Geometry((0, 0, 0), (0, 0, 0), whole=True)
    axes = []
    for axis in ("rows", "cols"):
        triples = [getattr(g, axis) for g in geos]
        strides = {j for _, j, _ in triples}
        if len(strides) != 1:
            raise NotImplementedError(
                "receptive_field cannot combine feature maps of different strides "
                f"({sorted(strides)}) in one operation."
            )
        start = min(s for _, _, s in triples)
        end = max(s + r for r, _, s in triples)
        axes.append((end - start, strides.pop(), start))
    return _Geometry(*axes)


def _pair(value, default=None):
    if value is None:
        value = default
    if isinstance(value, int):
        return (value, value)
    value = tuple(value)
    return value * 2 if len(value) == 1 else value


def _argument(args, kwargs, position, name, default=None):
    if name in kwargs:
        return kwargs[name]
    return args[position] if len(args) > position else default


class _Tracer(TorchFunctionMode):
    """Attaches a :class:`_Geometry` to every tensor computed from the traced input."""

    def __init__(self):
        super().__init__()
        self.geometry = {}  # id(tensor) -> (tensor kept alive, geometry)

    def set(self, tensor, geometry):
        self.geometry[id(tensor)] = (tensor, geometry)

    def get(self, tensor):
        entry = self.geometry.get(id(tensor))
        return None if entry is None or entry[0] is not tensor else entry[1]

    def __torch_function__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        out = func(*args, **kwargs)
        inputs = [(t, g) for t in _tensors((args, kwargs)) if (g := self.get(t)) is not None]
        if inputs:
            for tensor in _tensors(out):
                self.set(tensor, self._propagate(func, args, kwargs, inputs, tensor))
        return out

    def _propagate(self, func, args, kwargs, inputs, out):
        name = getattr(func, "__name__", str(func)).lstrip("_")
        first, geo = inputs[0]
        if out.ndim != 4 or geo.whole:
            return _Geometry((0, 0, 0), (0, 0, 0), whole=True)
        if name == "conv2d":
            weight = _argument(args, kwargs, 1, "weight")
            kernel = tuple(weight.shape[-2:])
            dilation = _pair(_argument(args, kwargs, 5, "dilation", 1))
            padding = _argument(args, kwargs, 4, "padding", 0)
            if padding == "same":
                padding = tuple((k - 1) * d // 2 for k, d in zip(kernel, dilation, strict=True))
            elif padding == "valid":
                padding = (0, 0)
            stride = _pair(_argument(args, kwargs, 3, "stride", 1))
            return _window(geo, kernel, stride, _pair(padding), dilation)
        if name in _POOLS:
            kernel = _pair(_argument(args, kwargs, 1, "kernel_size"))
            stride = _pair(_argument(args, kwargs, 2, "stride") or kernel)
            padding = _pair(_argument(args, kwargs, 3, "padding", 0))
            dilation = (
                (1, 1)
                if name == "avg_pool2d"
                else _pair(_argument(args, kwargs, 4, "dilation", 1))
            )
            return _window(geo, kernel, stride, padding, dilation)
        if name == "pad":
            pad = [*_argument(args, kwargs, 1, "pad"), 0, 0, 0, 0]
            (r, j, s), (rc, jc, sc) = geo.rows, geo.cols
            return _Geometry((r, j, s - pad[2] * j), (rc, jc, sc - pad[0] * jc))
        same = [g for t, g in inputs if t.ndim == 4 and t.shape[-2:] == out.shape[-2:]]
        if name in _ADAPTIVE or len(same) < len(inputs):
            if first.shape[-2:] == out.shape[-2:] and len(same) == len(inputs):
                return geo
            if name in _ADAPTIVE or any(t.shape[-2:] == (1, 1) for t, _ in inputs):
                # Adaptive pooling to another size mixes regions of the input that depend
                # on the sizes; it is only met before fully connected layers, which see
                # everything anyway.
                return _Geometry((0, 0, 0), (0, 0, 0), whole=True)
            raise NotImplementedError(
                f"receptive_field does not know how {name!r} changes the spatial layout "
                f"({tuple(first.shape[-2:])} -> {tuple(out.shape[-2:])})."
            )
        return _union(same)


def _tensors(obj):
    if isinstance(obj, torch.Tensor):
        yield obj
    elif isinstance(obj, (list, tuple)):
        for item in obj:
            yield from _tensors(item)
    elif isinstance(obj, dict):
        for item in obj.values():
            yield from _tensors(item)


def _meta_module(model):
    """The network on the meta device (a copy for a user's module; names are built there)."""
    from dks.embed._models import LITE0, check_model_name, describe_module

    if isinstance(model, nn.Module):
        module = copy.deepcopy(model).to("meta")
        name = f"{type(model).__name__} module"
    elif isinstance(model, str):
        if model != LITE0:
            check_model_name(model)
        with torch.device("meta"):
            if model == LITE0:
                from dks.embed._efficientnet import efficientnet_lite0

                module = efficientnet_lite0(weights=None)
            else:
                import torchvision

                module = torchvision.models.get_model(model, weights=None)
        name = model
    else:
        raise TypeError(f"model must be a name or a torch.nn.Module; got {type(model).__name__}.")
    from dks.embed._models import IMAGENET_MEAN, IMAGENET_STD

    return describe_module(module.eval(), name, None, IMAGENET_MEAN, IMAGENET_STD)


def receptive_field(model, layer, *, input_size=224):
    """The receptive field of a layer's feature map, from the network's geometry.

    Parameters
    ----------
    model : str or torch.nn.Module
        A model name as for :class:`~dks.embed.CNNEmbedder` (``"vgg19"``,
        ``"efficientnet_lite0"``, any torchvision classification model) or a module.
        Nothing is downloaded: the network runs on PyTorch's ``meta`` device.
    layer : str
        A layer name as for :class:`~dks.embed.CNNEmbedder` (``"conv5_4"``, ``"features.35"``).
    input_size : int or tuple of int, default=224
        ``(height, width)`` of the input; it matters where padding depends on it
        (TensorFlow "same" padding, as in EfficientNet-Lite0).

    Returns
    -------
    ReceptiveField
        ``size``, ``stride`` and ``offset`` in input pixels; ``box(row, col)`` gives the
        pixels one position sees.

    Raises
    ------
    ValueError
        For an unknown layer (with the valid names).
    NotImplementedError
        If the network changes the spatial layout by an operation other than convolution,
        pooling or padding before ``layer``.

    Examples
    --------
    >>> from dks.embed import receptive_field
    >>> receptive_field("vgg19", "conv1_1").size
    (3, 3)
    >>> rf = receptive_field("vgg19", "conv5_4")
    >>> rf.size, rf.stride, rf.offset
    ((252, 252), (16, 16), (-118, -118))
    """
    info = _meta_module(model)
    ((name, path),) = info.resolve([layer])
    height, width = _pair(input_size)
    target = dict(info.module.named_modules())[path]
    found = {}
    tracer = _Tracer()

    def hook(module, args, output):
        found["geometry"] = tracer.get(output) if isinstance(output, torch.Tensor) else None
        raise _Stop

    handle = target.register_forward_hook(hook)
    image = torch.zeros(1, 3, height, width, device="meta")
    try:
        with torch.no_grad(), tracer:
            tracer.set(image, _Geometry((1, 1, 0), (1, 1, 0)))
            info.module(image)
    except _Stop:
        pass
    finally:
        handle.remove()
    geo = found.get("geometry")
    if geo is None:
        raise ValueError(
            f"Layer {name!r} of {info.name} does not output a feature map of the input."
        )
    if geo.whole:
        return ReceptiveField((height, width), (height, width), (0, 0), (height, width), True)
    (r, j, s), (rc, jc, sc) = geo.rows, geo.cols
    return ReceptiveField((r, rc), (j, jc), (s, sc), (height, width))


class _Stop(Exception):
    """Ends the traced forward pass after the requested layer."""
