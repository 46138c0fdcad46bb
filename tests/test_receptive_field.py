"""dks.embed.receptive_field against the empirical receptive field (non-zero input gradients)."""

import pytest

torch = pytest.importorskip("torch")
torchvision = pytest.importorskip("torchvision")

from torch import nn  # noqa: E402

from dks.embed import receptive_field  # noqa: E402
from dks.embed._efficientnet import efficientnet_lite0  # noqa: E402

pytestmark = pytest.mark.torch


def _positive(model):
    """Weights > 0, no bias, max pooling as average pooling: every gradient path is non-zero.

    Max pooling routes the gradient to one pixel of its window only, which would make the
    empirical field smaller than the geometric one; average pooling has the same geometry.
    """
    for _, child in list(model.named_modules()):
        for sub_name, sub in list(child.named_children()):
            if isinstance(sub, nn.MaxPool2d):
                pool = nn.AvgPool2d(sub.kernel_size, sub.stride, sub.padding, sub.ceil_mode)
                setattr(child, sub_name, pool)
    with torch.no_grad():
        for module in model.modules():
            if isinstance(module, (nn.Conv2d, nn.Linear)):
                module.weight.uniform_(0.5, 1.0)
                module.weight /= module.weight[0].numel()
                if module.bias is not None:
                    module.bias.zero_()
            elif isinstance(module, nn.BatchNorm2d):
                module.reset_parameters()
                module.weight.fill_(0.5)
    return model.eval()


def _empirical_box(model, path, size, row, col):
    """Bounding box of the input pixels whose gradient on position (row, col) is non-zero."""
    image = torch.rand(1, 3, size, size).add_(0.5).requires_grad_(True)
    out = {}
    layer = dict(model.named_modules())[path]
    handle = layer.register_forward_hook(lambda m, a, o: out.setdefault("map", o.clone()))
    try:
        model(image)
    finally:
        handle.remove()
    fmap = out["map"]
    fmap[0, :, row, col].sum().backward()
    nonzero = image.grad[0].abs().sum(0).nonzero()
    (top, left), (bottom, right) = nonzero.min(0).values, nonzero.max(0).values
    return (int(top), int(left), int(bottom) + 1, int(right) + 1), fmap.shape[-2:]


@pytest.mark.parametrize(
    ("name", "layer", "path"),
    [
        ("vgg11", "7", "7"),
        ("vgg11", "14", "14"),
        ("resnet18", "layer2", "layer2"),
        ("efficientnet_lite0", "blocks.5", "blocks.5"),
    ],
)
def test_geometry_matches_gradients(name, layer, path):
    torch.manual_seed(0)
    if name == "efficientnet_lite0":
        model = efficientnet_lite0(weights=None)
    elif name == "vgg11":  # its convolutional part: a sequential torchvision CNN
        model = torchvision.models.vgg.make_layers(torchvision.models.vgg.cfgs["A"])
    else:
        model = torchvision.models.get_model(name, weights=None)
    model = _positive(model)
    size = 64
    rf = receptive_field(model, layer, input_size=size)
    assert not rf.whole_image
    box, shape = _empirical_box(model, path, size, 0, 0)
    assert rf.box(0, 0) == box, rf
    for row, col in ((shape[0] // 2, shape[1] // 2), (shape[0] - 1, shape[1] // 3)):
        box, _ = _empirical_box(model, path, size, row, col)
        assert rf.box(row, col) == box, (row, col, rf)


def test_by_name_runs_on_meta_and_knows_vgg19():
    rf = receptive_field("vgg19", "conv5_4")
    assert (rf.size, rf.stride, rf.offset) == ((252, 252), (16, 16), (-118, -118))
    fc = receptive_field("vgg19", "fc7", input_size=(200, 100))
    assert fc.whole_image and fc.box(0, 0) == (0, 0, 200, 100)
    assert receptive_field("resnet18", "layer4").size == (435, 435)


def test_user_module_is_not_changed_and_bad_layer_lists_names():
    model = nn.Sequential(nn.Conv2d(3, 4, 5, stride=2, padding=2), nn.ReLU())
    rf = receptive_field(model, "1", input_size=(9, 11))
    assert (rf.size, rf.stride, rf.offset) == ((5, 5), (2, 2), (-2, -2))
    assert rf.box(0, 0) == (0, 0, 3, 3)
    assert model[0].weight.device.type == "cpu"
    with pytest.raises(ValueError, match="Unknown layer 'nope'"):
        receptive_field(model, "nope")


def test_unknown_spatial_op_is_refused():
    class Up(nn.Module):
        def forward(self, x):
            return nn.functional.interpolate(x, scale_factor=2.0)

    model = nn.Sequential(nn.Conv2d(3, 2, 3), Up(), nn.Conv2d(2, 2, 3))
    with pytest.raises(NotImplementedError, match=r"interpolate|upsample"):
        receptive_field(model, "2", input_size=16)
