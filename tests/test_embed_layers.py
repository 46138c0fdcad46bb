"""Layer discovery (dks/embed/_discover.py), paper defaults per family (dks/embed/_layers.py)
and ``dks layers MODEL``. Architectures only (meta device): no weights, no downloads."""

import pytest

torch = pytest.importorskip("torch")
torchvision = pytest.importorskip("torchvision")

from dks.cli import main  # noqa: E402
from dks.embed import CNNEmbedder, describe_layers  # noqa: E402
from dks.embed._models import model_info  # noqa: E402
from tests.embed_helpers import TINY_LAYERS, tiny_cnn  # noqa: E402

pytestmark = pytest.mark.torch


def test_describe_layers_of_resnet18_by_hand():
    layers = describe_layers("resnet18", input_size=64)
    by_name = {layer.name: layer for layer in layers}
    # shapes worked out by hand: stem /4 after the max pooling, then /1, /2, /2, /2
    assert by_name["relu"].shape == (64, 32, 32)
    assert by_name["layer1.1"].shape == (64, 16, 16)
    assert by_name["layer4.1"].shape == (512, 2, 2)
    assert by_name["avgpool"].shape == (512, 1, 1)
    assert by_name["fc"].shape == (1000,) and by_name["fc"].n_features == 1000
    assert by_name["layer4.1"].kind == "BasicBlock"
    paper = [layer.name for layer in layers if layer.paper]
    assert paper == ["relu", *(f"layer{s}.{b}" for s in range(1, 5) for b in range(2))]
    # ordered by depth: each block after the previous one, a stage after its blocks
    names = [layer.name for layer in layers]
    assert names.index("layer1.1") < names.index("layer1") < names.index("layer2.0")
    # modules that run more than once (the shared ReLU of a block) are not listed
    assert "layer1.0.relu" not in by_name


def test_describe_layers_vgg_aliases_and_densenet_post_activation():
    vgg = describe_layers("vgg11", input_size=32)
    paper = [layer for layer in vgg if layer.paper]
    assert [layer.name for layer in paper][:2] == ["conv1_1", "conv2_1"]
    assert paper[0].module == "features.1" and paper[-1].name == "fc7"
    assert sum(layer.n_features for layer in paper) == 64 + 128 + 2 * 256 + 4 * 512 + 4096
    dense = {layer.name: layer for layer in describe_layers("densenet121", input_size=64)}
    assert dense["features.relu5"].module == "features.norm5"
    assert dense["features.relu5"].paper and not dense["features.norm5"].paper


def test_describe_layers_tokens_double_with_both():
    vit = torchvision.models.VisionTransformer(32, 16, 2, 2, 16, 32)
    assert CNNEmbedder(vit).list_layers()[0].shape == (16, 2, 2)  # its own size: 32
    mean = {layer.name: layer for layer in describe_layers(vit)}
    both = {layer.name: layer for layer in describe_layers(vit, tokens="both")}
    assert mean["encoder.ln"].shape == (5, 16)  # 4 patches + the class token
    assert (mean["encoder.ln"].n_features, both["encoder.ln"].n_features) == (16, 32)
    with pytest.raises(ValueError, match="tokens must be"):
        describe_layers(vit, tokens="all")


def test_describe_layers_wrong_input_size_names_the_fix():
    vit = torchvision.models.VisionTransformer(32, 16, 1, 2, 16, 32)
    with pytest.raises(ValueError, match=r"does not run on an input of 48x48.*input_size"):
        describe_layers(vit, input_size=48)


def test_embedder_list_layers_uses_its_crop_size_and_module():
    embedder = CNNEmbedder(tiny_cnn(), crop_size=16, layers=TINY_LAYERS)
    layers = {layer.name: layer for layer in embedder.list_layers()}
    assert layers["features.4"].shape == (6, 8, 8)
    assert layers["head"].n_features == 5
    assert not any(layer.paper for layer in layers.values())  # no family: no default
    assert not hasattr(embedder, "model_")  # needs no fitting


FAMILIES = {
    "vgg11": "VGG",
    "resnet18": "ResNet",
    "resnext50_32x4d": "ResNet",
    "regnet_x_400mf": "RegNet",
    "densenet121": "DenseNet",
    "mobilenet_v2": "MobileNetV2",
    "mobilenet_v3_small": "MobileNetV3",
    "efficientnet_b0": "EfficientNet",
    "efficientnet_v2_s": "EfficientNet",
    "convnext_tiny": "ConvNeXt",
    "vit_b_16": "ViT",
    "efficientnet_lite0": "EfficientNet-Lite0",
}


@pytest.mark.parametrize("name", sorted(FAMILIES))
def test_every_torchvision_family_has_paper_layers_that_resolve(name):
    info = model_info(name)
    assert info.family == FAMILIES[name]
    resolved = info.resolve("paper")
    assert len(resolved) == len(info.default_layers) >= 5


@pytest.mark.parametrize(
    ("name", "family", "last"),
    [
        ("timm/resnet18", "ResNet", "layer4.1"),
        ("timm/convnext_atto", "ConvNeXt", "head.pre_logits"),
        ("timm/efficientnet_b0", "EfficientNet", "bn2"),
        ("timm/mobilenetv3_small_050", "MobileNetV3", "flatten"),
        ("timm/regnetx_002", "RegNet", "s4.b7"),
        ("timm/vit_tiny_patch16_224", "ViT", "head_drop"),
        ("timm/densenet121", "DenseNet", "features.norm5"),
        ("timm/dla34", "timm DLA (feature_info stages)", "level5"),
    ],
)
def test_timm_families(name, family, last):
    pytest.importorskip("timm")
    info = model_info(name)
    assert info.family.startswith(family.split(" (")[0])
    assert info.default_layers[-1] == last
    info.resolve("paper")


def test_timm_channels_last_models_have_no_paper_default():
    pytest.importorskip("timm")
    info = model_info("timm/swin_tiny_patch4_window7_224")  # stages are (N, H, W, C)
    assert info.default_layers is None


def test_cli_layers(capsys):
    assert main(["layers", "resnet18", "--input-size", "64", "--paper"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0].split() == ["layer", "type", "output", "features"]
    assert out[1].split() == ["*", "relu", "ReLU", "64x32x32", "64"]
    assert out[-2].split() == ["*", "layer4.1", "BasicBlock", "512x2x2", "512"]
    assert out[-1] == "9 layers; * = --layers paper (9 layers, 1984 features)"
    assert main(["layers", "vgg11", "--input-size", "32", "--paper", "-q"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[1].split() == ["*", "conv1_1", "(features.1)", "ReLU", "64x32x32", "64"]
    assert len(out) == 1 + 9  # header and rows; -q drops the summary
    assert main(["layers", "resnet05"]) == 1
    assert "Did you mean 'resnet50'" in capsys.readouterr().err
