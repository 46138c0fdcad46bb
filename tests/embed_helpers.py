"""Shared pieces of the CNNEmbedder tests: a tiny CNN, images, an independent reference.

The reference does not use any dks code: torchvision's functional transforms (``resize``,
``to_tensor``, ``normalize``, ``ten_crop``, ``center_crop``), forward hooks on the given
modules, the mean over space, then over crops.
"""

import numpy as np
import torch
from PIL import Image
from torch import nn
from torchvision.transforms import functional as TF

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


class TinyCNN(nn.Module):
    """conv-ReLU-pool-conv-ReLU-avgpool-fc-ReLU-fc: 4 + 6 + 5 features, fast at any size."""

    def __init__(self):
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(3, 4, 3, padding=1),
            nn.ReLU(inplace=True),
            nn.MaxPool2d(2),
            nn.Conv2d(4, 6, 3, padding=1),
            nn.ReLU(inplace=True),
        )
        self.pool = nn.AdaptiveAvgPool2d(2)
        self.head = nn.Sequential(nn.Flatten(), nn.Linear(24, 5), nn.ReLU(inplace=True))
        self.fc = nn.Linear(5, 3)

    def forward(self, x):
        return self.fc(self.head(self.pool(self.features(x))))


TINY_LAYERS = ["features.1", "features.4", "head"]
TINY_N_FEATURES = 4 + 6 + 5


def tiny_cnn(seed=0):
    """A seeded :class:`TinyCNN` in eval mode."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return TinyCNN().eval()


def seeded_module(builder, seed=0):
    """``builder()`` with torch's CPU generator seeded (and restored after)."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return builder().eval()


def random_images(n, size=(40, 48), seed=0, grey=False):
    """``n`` random uint8 images of ``size = (height, width)``."""
    rng = np.random.default_rng(seed)
    shape = size if grey else (*size, 3)
    return [rng.integers(0, 256, shape, dtype=np.uint8) for _ in range(n)]


def smooth_images(n, size=(40, 48), seed=0):
    """Random images with large-scale structure (closer to photos than white noise)."""
    rng = np.random.default_rng(seed)
    small = rng.integers(0, 256, (n, size[0] // 8 + 1, size[1] // 8 + 1, 3), dtype=np.uint8)
    return [
        np.asarray(Image.fromarray(s).resize((size[1], size[0]), Image.BILINEAR)) for s in small
    ]


def write_images(folder, images, fmt="png", prefix="img"):
    """Save arrays as image files in ``folder``; return the paths (str)."""
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for i, image in enumerate(images):
        path = folder / f"{prefix}{i:03d}.{fmt}"
        Image.fromarray(image).save(path)
        paths.append(str(path))
    return paths


def reference_embedding(
    model,
    modules,
    images,
    *,
    resize,
    crop,
    crops="ten",
    mean=IMAGENET_MEAN,
    std=IMAGENET_STD,
):
    """Embedding computed the plain way, one image at a time.

    Parameters
    ----------
    model : nn.Module
    modules : list of nn.Module
        Submodules whose outputs are the features, in column order.
    images : list of uint8 arrays (H, W, 3)
    resize, crop : int
    crops : {"ten", "center", "none"}
    """
    store = {}

    def make_hook(key):
        def hook(module, inputs, output):
            store[key] = (output.mean((2, 3)) if output.ndim == 4 else output).clone()

        return hook

    was_training = model.training
    model.eval()
    handles = [m.register_forward_hook(make_hook(k)) for k, m in enumerate(modules)]
    rows = []
    try:
        with torch.no_grad():
            for image in images:
                pil = TF.resize(Image.fromarray(image).convert("RGB"), resize)
                x = TF.normalize(TF.to_tensor(pil), mean, std)
                if crops == "ten":
                    batch = torch.stack(TF.ten_crop(x, crop))
                elif crops == "center":
                    batch = TF.center_crop(x, crop).unsqueeze(0)
                else:
                    batch = x.unsqueeze(0)
                model(batch)
                features = torch.cat([store[k] for k in range(len(modules))], dim=1)
                rows.append(features.mean(0).numpy())
    finally:
        for handle in handles:
            handle.remove()
        model.train(was_training)
    return np.stack(rows)


def vgg_paper_modules(vgg):
    """The paper's layers found independently: every ReLU of ``features``, then fc7."""
    relus = [m for m in vgg.features if isinstance(m, nn.ReLU)]
    fc_relus = [m for m in vgg.classifier if isinstance(m, nn.ReLU)]
    return [*relus, fc_relus[1]]


def assert_close(actual, expected, rtol=1e-4):
    """Relative agreement, with an absolute floor of ``rtol`` x the largest magnitude."""
    actual, expected = np.asarray(actual), np.asarray(expected)
    assert actual.shape == expected.shape
    scale = float(np.abs(expected).max()) or 1.0
    np.testing.assert_allclose(actual, expected, rtol=rtol, atol=rtol * scale * 1e-2)
