"""CNNEmbedder on the families of torchvision and timm: paper layers, tokens, preprocessing.

Every embedding is compared with a plain reference that uses no dks code: torchvision's
functional transforms, forward hooks on modules picked here by hand (not by dks), the
mean over space (or over patch tokens, skipping a number of prefix tokens written here as
a literal), then over crops. Random weights, one image, one 32 x 32 centre crop: nothing is
downloaded and the networks run on a few pixels.
"""

import numpy as np
import pytest

torch = pytest.importorskip("torch")
torchvision = pytest.importorskip("torchvision")
timm = pytest.importorskip("timm")

from PIL import Image  # noqa: E402
from torch import nn  # noqa: E402
from torchvision.transforms import InterpolationMode  # noqa: E402
from torchvision.transforms import functional as TF  # noqa: E402

from dks.embed import CNNEmbedder  # noqa: E402
from tests.embed_helpers import assert_close, seeded_module, smooth_images  # noqa: E402

pytestmark = pytest.mark.torch

MEAN, STD = (0.485, 0.456, 0.406), (0.229, 0.224, 0.225)
ONE = [np.zeros((8, 8, 3), np.uint8)]
SMALL = {"crops": "center", "resize": 36, "crop_size": 32, "num_workers": 0, "progress": False}


def reference(
    model, taps, images, *, resize=36, crop=32, interpolation="bilinear", mean=MEAN, std=STD
):
    """Plain embedding: ``taps`` is a list of ``(module, reduce)``, ``reduce(output)``."""
    store = {}

    def make_hook(key, reduce):
        def hook(module, inputs, output):
            store[key] = reduce(output).float().clone()

        return hook

    handles = [m.register_forward_hook(make_hook(k, r)) for k, (m, r) in enumerate(taps)]
    rows = []
    try:
        with torch.no_grad():
            for image in images:
                pil = TF.resize(
                    Image.fromarray(image), resize, interpolation=InterpolationMode(interpolation)
                )
                x = TF.normalize(TF.to_tensor(pil), mean, std)
                model.eval()(TF.center_crop(x, crop).unsqueeze(0))
                rows.append(torch.cat([store[k] for k in range(len(taps))], 1)[0].numpy())
    finally:
        for handle in handles:
            handle.remove()
    return np.stack(rows)


def spatial(output):
    return output.mean((2, 3)) if output.ndim == 4 else output


def patches(prefix):
    return lambda output: output[:, prefix:].mean(1)


def cls(output):
    return output[:, 0]


def check(model, taps, names, images=None, reference_model=None, **params):
    """Embed with ``layers="paper"``; compare names and values with the reference."""
    images = smooth_images(1, (40, 44)) if images is None else images
    embedder = CNNEmbedder(
        model, interpolation="bilinear", mean=MEAN, std=STD, **{**SMALL, **params}
    )
    X = embedder.fit_transform(images)
    assert embedder.layers_ == names
    assert_close(X, reference(reference_model or model, taps, images))
    return embedder


# ----------------------------------------------------------------------- torchvision


def test_torchvision_resnet18():
    m = seeded_module(lambda: torchvision.models.resnet18(weights=None))
    blocks = [(s, i) for s in range(1, 5) for i in range(2)]
    taps = [(m.relu, spatial), *((getattr(m, f"layer{s}")[i], spatial) for s, i in blocks)]
    check(m, taps, ["relu", *(f"layer{s}.{i}" for s, i in blocks)])


def test_torchvision_densenet_takes_relu_after_norm5():
    m = seeded_module(lambda: torchvision.models.DenseNet(8, (2, 2, 2, 2), 16, num_classes=3))
    f = m.features
    taps = [
        (f.relu0, spatial),
        (f.transition1.relu, spatial),
        (f.transition2.relu, spatial),
        (f.transition3.relu, spatial),
        (f.norm5, lambda o: torch.relu(o).mean((2, 3))),  # torchvision's F.relu
    ]
    names = ["features.relu0", *(f"features.transition{i}.relu" for i in (1, 2, 3))]
    check(m, taps, [*names, "features.relu5"], images=smooth_images(1, (40, 44)))


def test_torchvision_mobilenet_v3_small():
    m = seeded_module(lambda: torchvision.models.mobilenet_v3_small(weights=None))
    taps = [*((c, spatial) for c in m.features), (m.classifier[1], spatial)]
    names = [f"features.{i}" for i in range(len(m.features))]
    check(m, taps, [*names, "classifier.1"])


def test_torchvision_regnet():
    m = seeded_module(lambda: torchvision.models.regnet_x_400mf(weights=None))
    blocks = [(f"block{s}", b) for s in range(1, 5) for b in range(len(m.trunk_output[s - 1]))]
    taps = [(m.stem, spatial), *((getattr(m.trunk_output, s)[b], spatial) for s, b in blocks)]
    names = ["stem", *(f"trunk_output.{s}.{s}-{b}" for s, b in blocks)]
    check(m, taps, names)


def test_torchvision_efficientnet_b0():
    m = seeded_module(lambda: torchvision.models.efficientnet_b0(weights=None))
    f = m.features
    middle = [(s, b) for s in range(1, 8) for b in range(len(f[s]))]
    taps = [(f[0], spatial), *((f[s][b], spatial) for s, b in middle), (f[8], spatial)]
    check(m, taps, ["features.0", *(f"features.{s}.{b}" for s, b in middle), "features.8"])


def test_torchvision_convnext_small_config():
    from torchvision.models.convnext import CNBlockConfig

    config = [CNBlockConfig(8, 16, 2), CNBlockConfig(16, None, 1)]
    m = seeded_module(lambda: torchvision.models.ConvNeXt(config, num_classes=3))
    taps = [
        (m.features[1][0], spatial),
        (m.features[1][1], spatial),
        (m.features[3][0], spatial),
        (m.classifier[1], spatial),
    ]
    check(m, taps, ["features.1.0", "features.1.1", "features.3.0", "classifier.1"])


def test_torchvision_vit_tokens_one_class_token():
    m = seeded_module(
        lambda: torchvision.models.VisionTransformer(32, 16, 2, 2, 16, 32, num_classes=3)
    )
    layers = m.encoder.layers
    names = ["encoder.layers.encoder_layer_0", "encoder.layers.encoder_layer_1", "encoder.ln"]
    mods = [layers[0], layers[1], m.encoder.ln]
    check(m, [(x, patches(1)) for x in mods], names)
    check(m, [(x, cls) for x in mods], names, tokens="cls")


# ------------------------------------------------------------------------------ timm


def timm_model(name, seed=0, **kwargs):
    return seeded_module(lambda: timm.create_model(name, pretrained=False, **kwargs), seed)


def test_timm_resnet18():
    m = timm_model("resnet18")
    blocks = [(s, i) for s in range(1, 5) for i in range(2)]
    taps = [(m.act1, spatial), *((getattr(m, f"layer{s}")[i], spatial) for s, i in blocks)]
    check(m, taps, ["act1", *(f"layer{s}.{i}" for s, i in blocks)])


def test_timm_convnext_atto_by_name_with_seeded_random_weights():
    m = timm_model("convnext_atto", seed=3)
    blocks = [(s, b) for s in range(4) for b in range(len(m.stages[s].blocks))]
    taps = [*((m.stages[s].blocks[b], spatial) for s, b in blocks), (m.head.pre_logits, spatial)]
    names = [*(f"stages.{s}.blocks.{b}" for s, b in blocks), "head.pre_logits"]
    with pytest.warns(UserWarning, match="random weights"):
        embedder = check("timm/convnext_atto", taps, names, None, m, weights=None, random_state=3)
    assert embedder.weights_ is None
    # the reference tells other weights apart
    with pytest.raises(AssertionError), pytest.warns(UserWarning, match="random weights"):
        check("timm/convnext_atto", taps, names, None, m, weights=None, random_state=4)


def test_timm_efficientnet_b0():
    m = timm_model("efficientnet_b0")
    blocks = [(s, b) for s in range(len(m.blocks)) for b in range(len(m.blocks[s]))]
    taps = [(m.bn1, spatial), *((m.blocks[s][b], spatial) for s, b in blocks), (m.bn2, spatial)]
    check(m, taps, ["bn1", *(f"blocks.{s}.{b}" for s, b in blocks), "bn2"])


def test_timm_mobilenetv3_and_regnet():
    m = timm_model("mobilenetv3_small_050")
    blocks = [(s, b) for s in range(len(m.blocks)) for b in range(len(m.blocks[s]))]
    taps = [
        (m.bn1, spatial),
        *((m.blocks[s][b], spatial) for s, b in blocks),
        (m.flatten, spatial),
    ]
    check(m, taps, ["bn1", *(f"blocks.{s}.{b}" for s, b in blocks), "flatten"])
    m = timm_model("regnetx_002")
    stages = [f"s{i}" for i in range(1, 5)]
    blocks = [(s, b) for s in stages for b, _ in getattr(m, s).named_children()]
    taps = [(m.stem, spatial), *((getattr(getattr(m, s), b), spatial) for s, b in blocks)]
    check(m, taps, ["stem", *(f"{s}.{b}" for s, b in blocks)])


@pytest.mark.parametrize("tokens", ["mean", "cls", "both"])
def test_timm_vit_tokens(tokens):
    m = timm_model("vit_tiny_patch16_224", img_size=32, depth=2)
    reduce = {
        "mean": patches(1),
        "cls": cls,
        "both": lambda o: torch.cat([patches(1)(o), cls(o)], 1),
    }[tokens]
    taps = [(m.blocks[0], reduce), (m.blocks[1], reduce), (m.head_drop, spatial)]
    embedder = check(m, taps, ["blocks.0", "blocks.1", "head_drop"], tokens=tokens)
    width = 2 * 192 if tokens == "both" else 192
    assert embedder.layer_slices_["blocks.0"] == slice(0, width)


def test_timm_vit_register_tokens_are_not_patches():
    m = timm_model("vit_tiny_patch16_224", img_size=32, depth=1, reg_tokens=4)
    assert m.num_prefix_tokens == 5
    check(m, [(m.blocks[0], patches(5)), (m.head_drop, spatial)], ["blocks.0", "head_drop"])


def test_tokens_without_class_token_or_prefix_count():
    m = timm_model(
        "vit_tiny_patch16_224", img_size=32, depth=1, class_token=False, global_pool="avg"
    )
    with pytest.raises(ValueError, match="has no class token; use tokens='mean'"):
        CNNEmbedder(m, tokens="cls", **SMALL).fit(smooth_images(1))

    class Tokens(nn.Module):  # (N, T, C) outputs, no num_prefix_tokens
        def __init__(self):
            super().__init__()
            self.proj = nn.Linear(3, 4)

        def forward(self, x):
            return self.proj(x.flatten(2).transpose(1, 2))

    with pytest.raises(ValueError, match="num_prefix_tokens"):
        CNNEmbedder(Tokens(), layers=["proj"], **SMALL).fit(smooth_images(1))
    module = Tokens()
    module.num_prefix_tokens = 0
    X = CNNEmbedder(module, layers=["proj"], **SMALL).fit_transform(smooth_images(1))
    assert X.shape == (1, 4)


# --------------------------------------------------------------------- preprocessing


def test_timm_preprocessing_from_pretrained_cfg_unless_overridden():
    m = timm_model("vit_tiny_patch16_224", img_size=32, depth=1)
    cfg = m.pretrained_cfg
    assert (cfg["crop_pct"], cfg["interpolation"], cfg["mean"]) == (0.9, "bicubic", (0.5,) * 3)
    embedder = CNNEmbedder(m, crops="center", num_workers=0, progress=False).fit(ONE)
    assert embedder.resize_ == 35 and embedder.crop_size_ == (32, 32)  # floor(32 / 0.9)
    assert embedder.interpolation_ == "bicubic" and embedder.mean_ == (0.5,) * 3
    images = smooth_images(1, (40, 44))
    taps = [(m.blocks[0], patches(1)), (m.head_drop, spatial)]
    own = CNNEmbedder(m, crops="center", resize=36, crop_size=32, num_workers=0, progress=False)
    expected = reference(m, taps, images, interpolation="bicubic", mean=(0.5,) * 3, std=(0.5,) * 3)
    assert_close(own.fit_transform(images), expected)
    assert own.interpolation_ == "bicubic"


def test_torchvision_preprocessing_from_weights_transform():
    with pytest.warns(UserWarning, match="random weights"):
        embedder = CNNEmbedder("efficientnet_b0", weights=None, crops="center").fit(ONE)
    assert (embedder.resize_, embedder.crop_size_) == (256, (224, 224))
    assert embedder.interpolation_ == "bicubic"  # EfficientNet_B0_Weights' transform
    with pytest.warns(UserWarning, match="random weights"):
        vgg = CNNEmbedder("vgg11", weights=None, layers=["conv1_1"], crops="center").fit(ONE)
    assert (vgg.resize_, vgg.crop_size_, vgg.interpolation_) == (256, (224, 224), "bilinear")


# --------------------------------------------------------------------- timm weights


def test_timm_weights_from_local_file(tmp_path):
    m = timm_model("convnext_atto", seed=5)
    path = tmp_path / "convnext_atto.pth"
    torch.save(m.state_dict(), path)
    images = smooth_images(1, (40, 44))
    embedder = CNNEmbedder(
        "timm/convnext_atto",
        weights=str(path),
        layers=["head.pre_logits"],
        interpolation="bilinear",
        mean=MEAN,
        std=STD,
        **SMALL,
    )
    X = embedder.fit_transform(images)
    assert embedder.weights_ == f"file {str(path)!r}"
    assert_close(X, reference(m, [(m.head.pre_logits, spatial)], images))


def test_timm_weights_errors(monkeypatch, tmp_path):
    with pytest.raises(ValueError, match=r"Unknown weights 'nope'.*d2_in1k"):
        CNNEmbedder("timm/convnext_atto", weights="nope").fit(ONE)
    with pytest.raises(ValueError, match="give the tag once"):
        CNNEmbedder("timm/convnext_atto.d2_in1k", weights="in1k").fit(ONE)
    with pytest.raises(ValueError, match=r"Unknown timm model.*'timm/convnext_atto'"):
        CNNEmbedder("timm/convnext_ato").fit(ONE)
    with pytest.raises(FileNotFoundError, match="not an existing file"):
        CNNEmbedder("timm/convnext_atto", weights=str(tmp_path / "missing.pth")).fit(ONE)

    def offline(*args, **kwargs):
        raise OSError("no network")

    monkeypatch.setattr(timm, "create_model", offline)
    with pytest.raises(OSError, match=r"no network.*weights='/path/to/model\.safetensors'"):
        CNNEmbedder("timm/convnext_atto").fit(ONE)
