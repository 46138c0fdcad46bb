"""``layers="paper"`` for every supported family: which layers the paper's rule picks.

The paper (§3.1) embeds an image with the output of every convolutional layer of VGG19
after its ReLU, averaged over space, plus fc7, the last hidden layer. Its analogue for
another architecture is **the output of every block after its activation, plus the
pre-logits features** (the vector the classifier reads) when they are not already the
spatial mean of the last listed layer (for ResNet, RegNet, EfficientNet they are, and
listing them again would only duplicate columns). Blocks of the inverted-residual families
(MobileNet, EfficientNet) end with a linear projection by design: their output is taken as
it is. Dense blocks concatenate pre-activation maps, so DenseNet is taken per stage, after
the BatchNorm-ReLU that opens each transition.

A family is recognised by the class of the module (torchvision's or timm's), so a user's
module of such a class gets the same default. :func:`paper_layers` returns the names (module
paths, or aliases defined here) in network order. The table of families is in the user
guide (``docs/user_guide.rst``, "Supported models"); keep the two in step.
"""

import sys
from dataclasses import dataclass, field

import torch
from torch import nn

from dks.embed._torchvision import loaded_torchvision_models, torchvision_models

__all__ = ["PaperLayers", "num_prefix_tokens", "paper_layers", "vgg_aliases"]


@dataclass
class PaperLayers:
    """The paper's layers of a network.

    Attributes
    ----------
    family : str
        Family name, for messages and docs.
    layers : list of str
        Layer names in network order (module paths or keys of ``aliases``).
    aliases : dict of str to str
        Extra names mapped to module paths.
    post : dict of str to callable
        Activation applied to the output of an aliased layer before it is reduced (the
        ReLU that torchvision's DenseNet applies as a function after ``features.norm5``).
    """

    family: str
    layers: list
    aliases: dict = field(default_factory=dict)
    post: dict = field(default_factory=dict)


def vgg_aliases(module):
    """Paper names of a torchvision VGG: ``conv1_1`` ... ``conv5_4``, ``fc6``, ``fc7``.

    ``conv<b>_<i>`` is the ReLU after the ``i``-th convolution of block ``b`` (blocks end
    with max pooling), ``fc6`` and ``fc7`` the ReLUs of the classifier, so all are
    post-ReLU activations as in the paper. Works for every VGG depth, with or without
    batch normalization.

    Returns
    -------
    aliases : dict of str to str
        Paper name to module path (``"conv1_1" -> "features.1"``), in network order.
    """
    aliases = {}
    block, index = 1, 0
    for position, child in enumerate(module.features):
        if isinstance(child, nn.MaxPool2d):
            block, index = block + 1, 0
        elif isinstance(child, nn.ReLU):
            index += 1
            aliases[f"conv{block}_{index}"] = f"features.{position}"
    fc = 6
    for position, child in enumerate(module.classifier):
        if isinstance(child, nn.ReLU):
            aliases[f"fc{fc}"] = f"classifier.{position}"
            fc += 1
    return aliases


def _children(module, prefix):
    """``prefix.<child>`` for each child of ``module`` (the blocks of a stage)."""
    return [f"{prefix}.{name}" for name, _ in module.named_children()]


def _blocks(stages, prefix):
    """Every block of every stage: ``prefix.<stage>.<block>``."""
    return [
        b for name, stage in stages.named_children() for b in _children(stage, f"{prefix}.{name}")
    ]


# ----------------------------------------------------------------- torchvision families


def _tv_vgg(m):
    aliases = vgg_aliases(m)
    layers = [n for n in aliases if n.startswith("conv")]
    if "fc7" in aliases:
        layers.append("fc7")
    return PaperLayers("VGG", layers, aliases)


def _tv_resnet(m):
    stages = [f"layer{i}" for i in range(1, 5)]
    return PaperLayers(
        "ResNet", ["relu", *(b for s in stages for b in _children(getattr(m, s), s))]
    )


def _tv_regnet(m):
    return PaperLayers("RegNet", ["stem", *_blocks(m.trunk_output, "trunk_output")])


def _tv_densenet(m):
    transitions = [n for n, _ in m.features.named_children() if n.startswith("transition")]
    return PaperLayers(
        "DenseNet",
        ["features.relu0", *(f"features.{t}.relu" for t in transitions), "features.relu5"],
        aliases={"features.relu5": "features.norm5"},
        post={"features.relu5": torch.relu},
    )


def _tv_mobilenet_v2(m):
    return PaperLayers("MobileNetV2", _children(m.features, "features"))


def _tv_mobilenet_v3(m):
    return PaperLayers("MobileNetV3", [*_children(m.features, "features"), "classifier.1"])


def _tv_efficientnet(m):
    names = [n for n, _ in m.features.named_children()]
    middle = [b for n in names[1:-1] for b in _children(m.features[int(n)], f"features.{n}")]
    return PaperLayers("EfficientNet", [f"features.{names[0]}", *middle, f"features.{names[-1]}"])


def _tv_convnext(m):
    stages = [
        n
        for n, child in m.features.named_children()
        if any(isinstance(c, torchvision_models().convnext.CNBlock) for c in child.children())
    ]
    blocks = [b for n in stages for b in _children(m.features[int(n)], f"features.{n}")]
    return PaperLayers("ConvNeXt", [*blocks, "classifier.1"])


def _tv_vit(m):
    blocks = _children(m.encoder.layers, "encoder.layers")
    return PaperLayers("ViT", [*blocks, "encoder.ln"])


# ------------------------------------------------------------------------ timm families


def _timm_resnet(m):
    stages = [f"layer{i}" for i in range(1, 5)]
    return PaperLayers(
        "ResNet", ["act1", *(b for s in stages for b in _children(getattr(m, s), s))]
    )


def _timm_regnet(m):
    stages = [n for n, _ in m.named_children() if n.startswith("s") and n[1:].isdigit()]
    return PaperLayers(
        "RegNet", ["stem", *(b for s in stages for b in _children(getattr(m, s), s))]
    )


def _timm_efficientnet(m):
    return PaperLayers("EfficientNet", ["bn1", *_blocks(m.blocks, "blocks"), "bn2"])


def _timm_mobilenetv3(m):
    return PaperLayers("MobileNetV3", ["bn1", *_blocks(m.blocks, "blocks"), "flatten"])


def _timm_convnext(m):
    blocks = [
        b for n, s in m.stages.named_children() for b in _children(s.blocks, f"stages.{n}.blocks")
    ]
    return PaperLayers("ConvNeXt", [*blocks, "head.pre_logits"])


def _timm_vit(m):
    return PaperLayers("ViT", [*_children(m.blocks, "blocks"), "head_drop"])


def _timm_densenet(m):
    transitions = [n for n, _ in m.features.named_children() if n.startswith("transition")]
    return PaperLayers(
        "DenseNet",
        ["features.norm0", *(f"features.{t}.norm" for t in transitions), "features.norm5"],
    )


def _timm_families():
    if "timm" not in sys.modules:  # no timm model can exist: do not pay for the import
        return []
    try:
        from timm.models import (
            convnext,
            densenet,
            efficientnet,
            mobilenetv3,
            regnet,
            resnet,
            vision_transformer,
        )
    except ImportError:
        return []
    return [
        (resnet.ResNet, _timm_resnet),
        (regnet.RegNet, _timm_regnet),
        (efficientnet.EfficientNet, _timm_efficientnet),
        (mobilenetv3.MobileNetV3, _timm_mobilenetv3),
        (convnext.ConvNeXt, _timm_convnext),
        (vision_transformer.VisionTransformer, _timm_vit),
        (densenet.DenseNet, _timm_densenet),
    ]


def _torchvision_families():
    tvm = loaded_torchvision_models()
    if tvm is None:  # no torchvision model can exist: do not pay for the import
        return []
    return [
        (tvm.VGG, _tv_vgg),
        (tvm.ResNet, _tv_resnet),
        (tvm.RegNet, _tv_regnet),
        (tvm.DenseNet, _tv_densenet),
        (tvm.MobileNetV2, _tv_mobilenet_v2),
        (tvm.MobileNetV3, _tv_mobilenet_v3),
        (tvm.EfficientNet, _tv_efficientnet),
        (tvm.ConvNeXt, _tv_convnext),
        (tvm.VisionTransformer, _tv_vit),
    ]


def _families():
    return [*_torchvision_families(), *_timm_families()]


#: Families with a paper default, for messages (the docs have the table).
FAMILIES = (
    "VGG, ResNet (and ResNeXt, Wide ResNet), RegNet, DenseNet, MobileNetV2, MobileNetV3, "
    "EfficientNet (V1, V2), ConvNeXt and ViT of torchvision; ResNet, RegNet, EfficientNet, "
    "MobileNetV3, ConvNeXt, ViT and DenseNet of timm, and every other timm model through its "
    "feature_info stages"
)


def paper_layers(module):
    """The paper's layers of ``module``, or None when its family has none.

    Parameters
    ----------
    module : torch.nn.Module

    Returns
    -------
    paper : PaperLayers or None
    """
    for cls, rule in _families():
        if isinstance(module, cls):
            return rule(module)
    info = getattr(module, "feature_info", None)
    channels_first = getattr(module, "output_fmt", "NCHW") in ("NCHW", None)
    if info is not None and hasattr(module, "pretrained_cfg") and channels_first:
        # any other timm model (channels-last ones, e.g. Swin, have no paper default)
        try:
            names = [entry["module"] for entry in info]
        except (TypeError, KeyError):
            return None
        return PaperLayers(f"timm {type(module).__name__} (feature_info stages)", names)
    return None


def num_prefix_tokens(module):
    """``(n_prefix, has_class_token)`` of a token model, or ``(None, False)`` if unknown.

    timm models say it (``num_prefix_tokens``: class token plus register/distillation
    tokens; ``cls_token`` is None without a class token); torchvision's ViT has one class
    token; any module may declare ``num_prefix_tokens`` itself.
    """
    tvm = loaded_torchvision_models()
    if tvm is not None and isinstance(module, tvm.VisionTransformer):
        return 1, True
    count = getattr(module, "num_prefix_tokens", None)
    if count is None:
        return None, False
    count = int(count)
    if hasattr(module, "has_class_token"):
        has_class = bool(module.has_class_token)
    elif hasattr(module, "cls_token"):
        has_class = module.cls_token is not None
    else:
        has_class = count >= 1
    return count, has_class
