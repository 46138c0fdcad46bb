"""dks.embed.feature_crops: the crop is where the filter fires, from a second pass."""

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from torch import nn  # noqa: E402

from dks.embed import CNNEmbedder, feature_crops  # noqa: E402

pytestmark = pytest.mark.torch


def _spot_detector():
    """Channel 0 of layer "3" responds to bright red; channel 1 to everything dark."""
    model = nn.Sequential(
        nn.Conv2d(3, 2, 3, padding=1),
        nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Conv2d(2, 2, 3, padding=1),
        nn.ReLU(),
        nn.AdaptiveAvgPool2d(1),
        nn.Flatten(),
        nn.Linear(2, 2),
    )
    with torch.no_grad():
        for module in model:
            if isinstance(module, (nn.Conv2d, nn.Linear)):
                module.weight.zero_()
                module.bias.zero_()
        model[0].weight[0, 0] = 1.0 / 9  # red
        model[0].weight[1, :] = -1.0 / 27  # darkness
        model[0].bias[1] = 3.0
        model[3].weight[0, 0] = 1.0 / 9
        model[3].weight[1, 1] = 1.0 / 9
        model[7].weight[0, 0] = 1.0
    return model.eval()


def _images():
    rng = np.random.default_rng(0)
    images, spots = [], []
    for i in range(5):
        image = np.zeros((48, 64, 3), dtype=np.uint8)
        top, left = rng.integers(4, 36), rng.integers(4, 52)
        size = 4 + 2 * i  # a larger spot, a stronger mean response
        image[top : top + size, left : left + size, 0] = 255
        images.append(image)
        spots.append((top, left, size))
    return images, spots


@pytest.fixture(scope="module")
def embedder():
    emb = CNNEmbedder(
        model=_spot_detector(),
        weights=None,
        layers=["4", "7"],
        crops="none",
        resize=None,
        mean=(0.0, 0.0, 0.0),
        std=(1.0, 1.0, 1.0),
        progress=False,
    )
    images, _ = _images()
    return emb.fit(images)


def test_crop_contains_the_spot_and_ranks_by_activation(embedder):
    images, spots = _images()
    X = embedder.transform(images)
    crops = feature_crops(embedder, images, "4_0", activations=X[:, 0], k=3)
    assert [c.index for c in crops] == [4, 3, 2]  # larger spots respond more
    for crop in crops:
        top, left, size = spots[crop.index]
        b_top, b_left, b_bottom, b_right = crop.box
        centre = (top + size / 2, left + size / 2)
        assert b_top <= centre[0] <= b_bottom and b_left <= centre[1] <= b_right
        assert crop.image.size == (b_right - b_left, b_bottom - b_top)
        assert (b_bottom - b_top) < 48 and (b_right - b_left) < 64  # a crop, not the image
        assert crop.value == pytest.approx(X[crop.index, 0])
        assert crop.peak > 0


def test_without_activations_every_image_is_ranked_and_lowest_works(embedder):
    images, _ = _images()
    best = feature_crops(embedder, images, 0, k=2)
    assert [c.index for c in best] == [4, 3]
    low = feature_crops(embedder, images, "4_0", k=2, lowest=True)
    assert [c.index for c in low] == [0, 1]


def test_fc_features_are_whole_images(embedder):
    images, _ = _images()
    (crop,) = feature_crops(embedder, images, "7_0", k=1)
    assert crop.box == (0, 0, 48, 64) and crop.image.size == (64, 48)


def test_errors(embedder):
    images, _ = _images()
    with pytest.raises(ValueError, match="Unknown feature 'conv9_1'"):
        feature_crops(embedder, images, "conv9_1")
    with pytest.raises(ValueError, match=r"activations must have one value per image \(5\)"):
        feature_crops(embedder, images, 0, activations=[1.0, 2.0])
    with pytest.raises(ValueError, match="k must be a positive integer"):
        feature_crops(embedder, images, 0, k=0)


def test_centre_crop_view_maps_back_to_the_original_image():
    """With resizing and centre crops, boxes are in the original image's pixels."""
    images, spots = _images()
    emb = CNNEmbedder(
        model=_spot_detector(),
        weights=None,
        layers=["4"],
        crops="center",
        resize=36,  # 48x64 -> 36x48, centre crop 32x32 at (2, 8)
        crop_size=32,
        mean=(0.0, 0.0, 0.0),
        std=(1.0, 1.0, 1.0),
        progress=False,
    ).fit(images)
    X = emb.transform(images)
    checked = 0
    for crop in feature_crops(emb, images, "4_0", activations=X[:, 0], k=5):
        top, left, bottom, right = crop.box
        assert 0 <= top < bottom <= 48 and 0 <= left < right <= 64
        assert crop.image.size == (right - left, bottom - top)
        s_top, s_left, size = spots[crop.index]
        centre = (s_top + size / 2, s_left + size / 2)
        inside_view = 3 <= centre[0] <= 45 and 11 <= centre[1] <= 53  # the view, in originals
        if inside_view and crop.peak > 0:
            assert top <= centre[0] <= bottom and left <= centre[1] <= right
            checked += 1
    assert checked >= 2


def _transparent_images():
    """RGBA images whose left third is fully transparent (over random colours)."""
    rng = np.random.default_rng(1)
    images = []
    for height, width in ((40, 52), (46, 44), (38, 60)):
        image = rng.integers(0, 256, (height, width, 4), dtype=np.uint8)
        image[..., 3] = 255
        image[:, : width // 3, 3] = 0
        images.append(image)
    return images


@pytest.mark.parametrize("crops", ["center", "none"])
def test_second_pass_sees_what_the_embedding_sees(crops):
    """feature_crops runs the embedder's preprocessing: a non-default resize, crop,
    interpolation, normalization and background give back the embedding's values."""
    from tests.embed_helpers import TINY_LAYERS, tiny_cnn

    images = _transparent_images()
    emb = CNNEmbedder(
        model=tiny_cnn(),
        weights=None,
        layers=TINY_LAYERS,
        crops=crops,
        resize=(36, 41) if crops == "none" else 35,
        crop_size=(30, 27),
        interpolation="bicubic",
        mean=(0.3, 0.5, 0.7),
        std=(0.2, 0.4, 0.3),
        background=(20, 200, 90),
        progress=False,
    ).fit(images)
    X = emb.transform(images)
    for j in (0, 5, emb.layer_slices_["head"].start + 1):  # two maps and a vector
        found = feature_crops(emb, images, j, k=len(images))
        assert sorted(c.index for c in found) == list(range(len(images)))
        for crop in found:
            assert crop.value == pytest.approx(float(X[crop.index, j]), rel=1e-5, abs=1e-6)


def test_crops_of_transparent_images_are_over_the_background():
    from tests.embed_helpers import TINY_LAYERS, tiny_cnn

    images = _transparent_images()
    emb = CNNEmbedder(
        model=tiny_cnn(),
        weights=None,
        layers=TINY_LAYERS,
        crops="none",
        resize=None,
        background="#123456",
        progress=False,
    ).fit(images)
    (crop,) = feature_crops(emb, images, "head_0", k=1)
    assert np.asarray(crop.image)[0, 0].tolist() == [0x12, 0x34, 0x56]
