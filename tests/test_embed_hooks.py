"""Tests of the forward pass in parts (dks/embed/_hooks.py, CNNEmbedder on the CPU)."""

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from torch import nn  # noqa: E402

import dks  # noqa: E402
from dks.embed import CNNEmbedder  # noqa: E402
from dks.embed._hooks import ActivationMeter, LayerRecorder  # noqa: E402
from tests.embed_helpers import TINY_LAYERS, random_images, tiny_cnn  # noqa: E402

pytestmark = pytest.mark.torch

#: TinyCNN at 32 x 32, one crop: the first convolution reads 3 x 32 x 32 and writes
#: 4 x 32 x 32 float32 values, the largest input + output of its layers (the in-place ReLU
#: after it writes into its input: 4 x 32 x 32 once).
TINY_CROP_BYTES = (3 + 4) * 32 * 32 * 4


def _paths(model):
    names = dict(model.named_modules())
    return [(name, name) for name in TINY_LAYERS if name in names]


def test_activation_meter_counts_the_largest_input_and_output():
    model = tiny_cnn()
    with ActivationMeter(model) as meter, torch.inference_mode():
        model(torch.zeros(1, 3, 32, 32))
    assert meter.peak == TINY_CROP_BYTES
    with ActivationMeter(model) as meter, torch.inference_mode():
        model(torch.zeros(3, 3, 32, 32))
    assert meter.peak == 3 * TINY_CROP_BYTES  # proportional to the rows
    assert not model.features[0]._forward_hooks  # removed on exit


def test_activation_meter_sees_a_layer_larger_than_its_neighbours():
    model = nn.Sequential(nn.Conv2d(3, 2, 1), nn.Conv2d(2, 16, 1), nn.Conv2d(16, 1, 1))
    with ActivationMeter(model) as meter, torch.inference_mode():
        model(torch.zeros(1, 3, 8, 8))
    assert meter.peak == (2 + 16) * 8 * 8 * 4


@pytest.mark.parametrize("rows", [1, 2, 3, 7, 100])
def test_run_in_parts_equals_one_run(rows):
    model = tiny_cnn()
    x = torch.rand(7, 3, 32, 32, generator=torch.Generator().manual_seed(0))
    sizes = []
    model.register_forward_pre_hook(lambda m, inputs: sizes.append(len(inputs[0])))
    with LayerRecorder(model, _paths(model), None) as recorder, torch.inference_mode():
        whole = recorder.run(x)
        parts = recorder.run(x, rows=rows)
    assert sizes[0] == 7 and sizes[1:] == [min(rows, 7 - i) for i in range(0, 7, rows)]
    for a, b in zip(whole, parts, strict=True):
        torch.testing.assert_close(b, a, rtol=1e-6, atol=1e-7)


@pytest.mark.parametrize(("budget_images", "rows"), [(2, 20), (2.5, 20), (0.3, 10), (100, 50)])
def test_embedder_runs_whole_images_within_the_memory_budget(budget_images, rows):
    images = random_images(5)
    params = {"layers": TINY_LAYERS, "resize": 40, "crop_size": 32, "num_workers": 0,
              "batch_size": 5, "progress": False}  # fmt: skip
    expected = CNNEmbedder(tiny_cnn(), **params).fit_transform(images)  # the whole batch
    model = tiny_cnn()
    sizes = []
    model.register_forward_pre_hook(lambda m, inputs: sizes.append(len(inputs[0])))
    budget = int(budget_images * 10 * TINY_CROP_BYTES)  # ten crops per image
    with dks.config_context(embed_cpu_forward_bytes=budget):
        embedder = CNNEmbedder(model, **params).fit(images)
        assert embedder._crop_bytes == TINY_CROP_BYTES
        sizes.clear()
        X = embedder.transform(images)
    assert sizes == [min(rows, 50 - i) for i in range(0, 50, rows)]
    np.testing.assert_allclose(X, expected, rtol=1e-6, atol=1e-7)


def _offset_cnn():
    """Conv (large positive outputs, ~256 +- 8) -> in-place ReLU -> conv: under a bfloat16
    autocast every output is a bfloat16 of 8 significant bits (a step of 1 or 2 at 256), so a
    mean rounded to bfloat16 is off by up to 1 where a float32 one is exact to ~1e-5."""
    model = nn.Sequential(nn.Conv2d(3, 5, 3, padding=1), nn.ReLU(inplace=True),
                          nn.Conv2d(5, 2, 1))  # fmt: skip
    with torch.no_grad():
        model[0].weight.normal_(0, 2.0, generator=torch.Generator().manual_seed(1))
        model[0].bias.fill_(256.0)
    return model.eval()


def test_reductions_under_bfloat16_autocast_accumulate_in_float32():
    """Oracle: the spatial mean of each hooked bfloat16 activation, and the mean of an image's
    crops, equal numpy's float64 means of the same bfloat16 values (the activations that the
    autocast forward computed, captured by a second hook), not a mean rounded to bfloat16."""
    model = _offset_cnn()
    layers = [("a", "1"), ("b", "2")]
    raw = {}
    for _, path in layers:  # a copy of each activation, as the forward pass made it
        module = dict(model.named_modules())[path]
        module.register_forward_hook(lambda m, i, out, p=path: raw.setdefault(p, out.clone()))
    crops = torch.rand(6, 3, 24, 20, generator=torch.Generator().manual_seed(2))
    bf16 = torch.autocast("cpu", dtype=torch.bfloat16)
    with LayerRecorder(model, layers) as recorder, torch.inference_mode(), bf16:
        indices, X = recorder.embed_batch([([0, 1, 2], crops)], "cpu", [5, 2], n_crops=2)
    assert all(raw[p].dtype == torch.bfloat16 for _, p in layers)  # autocast did compute
    assert X.dtype == np.float32
    activations = [raw[p].float().numpy().astype(np.float64) for _, p in layers]
    per_crop = np.concatenate([a.mean(axis=(2, 3)) for a in activations], axis=1)
    expected = per_crop.reshape(3, 2, -1).mean(axis=1)  # the two crops of each image
    np.testing.assert_array_equal(indices, [0, 1, 2])
    np.testing.assert_allclose(X, expected, rtol=2e-6)
    # The check can fail: the same means rounded to bfloat16 are far outside its tolerance.
    rounded = torch.from_numpy(expected).to(torch.bfloat16).double().numpy()
    assert np.abs(rounded - expected).max() > 100 * 2e-6 * np.abs(expected).max()
