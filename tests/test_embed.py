"""Tests of CNNEmbedder (dks/embed/): equality with a reference, names, hooks, sklearn API."""

import pickle
import warnings

import numpy as np
import pytest

torch = pytest.importorskip("torch")
torchvision = pytest.importorskip("torchvision")

from sklearn.base import clone  # noqa: E402
from sklearn.pipeline import make_pipeline  # noqa: E402
from sklearn.utils._param_validation import InvalidParameterError  # noqa: E402
from torch import nn  # noqa: E402

from dks import KSCharacterizer  # noqa: E402
from dks.embed import CNNEmbedder  # noqa: E402
from tests.embed_helpers import (  # noqa: E402
    TINY_LAYERS,
    TINY_N_FEATURES,
    assert_close,
    random_images,
    reference_embedding,
    seeded_module,
    smooth_images,
    tiny_cnn,
    vgg_paper_modules,
    write_images,
)

pytestmark = pytest.mark.torch

PAPER_LAYERS = [
    *(f"conv{b}_{i}" for b, n in zip(range(1, 6), (2, 2, 4, 4, 4), strict=True)
      for i in range(1, n + 1)),
    "fc7",
]  # fmt: skip
PAPER_SIZES = [64, 64, 128, 128, *[256] * 4, *[512] * 8, 4096]


@pytest.fixture(scope="module")
def vgg():
    """torchvision's VGG19 with fixed random weights (shared: tests restore its state)."""
    return seeded_module(torchvision.models.vgg19, seed=0)


def tiny(**params):
    params = {
        "layers": TINY_LAYERS,
        "resize": 40,
        "crop_size": 32,
        "num_workers": 0,
        "progress": False,
        **params,
    }
    return CNNEmbedder(params.pop("model", None) or tiny_cnn(), **params)


def all_hooks(module):
    return [
        hook
        for m in module.modules()
        for hook in (*m._forward_hooks.values(), *m._forward_pre_hooks.values())
    ]


# --------------------------------------------------------------------------- reference


@pytest.mark.parametrize("crops", ["ten", "center"])
def test_vgg19_matches_reference(vgg, crops):
    images = smooth_images(2 if crops == "ten" else 3, size=(64, 64), seed=1)
    embedder = CNNEmbedder(
        vgg, crops=crops, resize=64, crop_size=56, batch_size=2, num_workers=0, progress=False
    )
    X = embedder.fit_transform(images)
    expected = reference_embedding(
        vgg, vgg_paper_modules(vgg), images, resize=64, crop=56, crops=crops
    )
    assert X.dtype == np.float32
    assert X.shape == (len(images), 9600)
    assert_close(X, expected)


@pytest.mark.slow
def test_vgg19_matches_reference_at_paper_sizes(vgg):
    """The spec's test: 256x256 inputs, ten crops of 224, default sizes."""
    images = smooth_images(1, size=(256, 256), seed=2)
    embedder = CNNEmbedder(vgg, num_workers=0, progress=False)
    X = embedder.fit_transform(images)
    expected = reference_embedding(vgg, vgg_paper_modules(vgg), images, resize=256, crop=224)
    assert_close(X, expected)


@pytest.mark.parametrize("crops", ["ten", "center"])
def test_resnet_matches_reference(crops):
    resnet = seeded_module(torchvision.models.resnet18, seed=3)
    layers = ["layer1", "layer3.1", "avgpool", "fc"]
    modules = dict(resnet.named_modules())
    images = smooth_images(3, size=(48, 60), seed=3)
    embedder = CNNEmbedder(
        resnet,
        layers=layers,
        crops=crops,
        resize=48,
        crop_size=40,
        num_workers=0,
        progress=False,
    )
    X = embedder.fit_transform(images)
    expected = reference_embedding(
        resnet, [modules[n] for n in layers], images, resize=48, crop=40, crops=crops
    )
    assert X.shape == (3, 64 + 256 + 512 + 1000)
    assert_close(X, expected)
    assert list(embedder.layer_slices_) == layers


def test_tiny_cnn_matches_reference_for_all_crop_modes():
    model = tiny_cnn()
    modules = dict(model.named_modules())
    images = random_images(4, size=(41, 50), seed=4)
    for crops in ("ten", "center", "none"):
        X = tiny(model=model, crops=crops, batch_size=3).fit_transform(images)
        expected = reference_embedding(
            model, [modules[n] for n in TINY_LAYERS], images, resize=40, crop=32, crops=crops
        )
        assert_close(X, expected)


def test_defaults_are_the_papers():
    params = CNNEmbedder().get_params()
    assert params["model"] == "vgg19"
    assert params["weights"] == "DEFAULT"
    assert params["layers"] == "paper"
    assert params["crops"] == "ten"
    assert params["resize"] == params["crop_size"] == "auto"  # VGG19's own: 256, 224
    assert params["interpolation"] is None and params["tokens"] == "mean"
    assert params["precision"] == "auto"  # float32 on the CPU (bfloat16 on a CUDA GPU)
    assert params["device"] == "auto"
    assert params["output"] is None
    assert params["on_error"] == "raise"
    assert params["progress"] is True


def test_default_preprocessing_is_resize_256_ten_crop_224(vgg):
    embedder = CNNEmbedder(vgg, progress=False)
    embedder.fit([np.zeros((300, 400, 3), np.uint8)])
    crops = embedder._preprocess(
        torchvision.transforms.functional.to_pil_image(np.zeros((300, 400, 3), np.uint8))
    )
    assert tuple(crops.shape) == (10, 224, 224, 3)
    assert embedder._preprocess.resize == 256
    assert embedder.mean_ == pytest.approx((0.485, 0.456, 0.406))
    assert embedder.std_ == pytest.approx((0.229, 0.224, 0.225))


# --------------------------------------------------------------------------- names


def test_paper_feature_names_and_order(vgg):
    embedder = CNNEmbedder(vgg, crop_size=32, resize=32, progress=False)
    embedder.fit([np.zeros((8, 8), np.uint8)])
    names = embedder.get_feature_names_out()
    assert names.shape == (9600,)
    assert names[0] == "conv1_1_0"
    assert names[63] == "conv1_1_63"
    assert names[64] == "conv1_2_0"
    assert names[-1] == "fc7_4095"
    assert embedder.layers_ == PAPER_LAYERS
    assert [s.stop - s.start for s in embedder.layer_slices_.values()] == PAPER_SIZES
    assert embedder.layer_slices_["conv1_1"] == slice(0, 64)
    assert embedder.layer_slices_["fc7"] == slice(5504, 9600)
    for layer, cols in embedder.layer_slices_.items():
        assert names[cols.start] == f"{layer}_0"
        assert names[cols.stop - 1] == f"{layer}_{cols.stop - cols.start - 1}"


def test_layer_list_sets_column_order(vgg):
    embedder = CNNEmbedder(vgg, layers=["fc6", "conv2_1"], resize=32, crop_size=32)
    embedder.set_params(progress=False).fit([np.zeros((8, 8), np.uint8)])
    assert embedder.layers_ == ["fc6", "conv2_1"]
    assert embedder.layer_slices_ == {"fc6": slice(0, 4096), "conv2_1": slice(4096, 4224)}


def test_feature_names_use_module_paths_for_other_models():
    embedder = tiny().fit([np.zeros((8, 8), np.uint8)])
    names = embedder.get_feature_names_out()
    assert names.tolist()[:5] == [f"features.1_{i}" for i in range(4)] + ["features.4_0"]
    assert names[-1] == "head_4"
    assert len(names) == TINY_N_FEATURES


# --------------------------------------------------------------------------- hooks


def test_hooks_removed_and_training_flags_restored():
    model = tiny_cnn().train()
    model.head.eval()  # a mixed state must come back as it was
    seen = []
    model.features.register_forward_pre_hook(lambda m, i: seen.append(m.training))
    before = all_hooks(model)
    embedder = tiny(model=model, batch_size=2)
    embedder.fit_transform(random_images(5))
    assert seen and not any(seen)  # eval() during the forward passes
    assert all_hooks(model) == before
    assert model.training and model.features.training and not model.head.training


class FailOnCall(nn.Module):
    """Wraps a model; the forward call number ``fail_at`` raises."""

    def __init__(self, model, fail_at):
        super().__init__()
        self.model = model
        self.fail_at = fail_at
        self.calls = 0

    def forward(self, x):
        self.calls += 1
        if self.calls == self.fail_at:
            raise RuntimeError("boom")
        return self.model(x)


def test_hooks_removed_after_exception_mid_batch():
    model = FailOnCall(tiny_cnn(), fail_at=3)  # call 1 is fit's probe, 2 the first batch
    model.train()
    embedder = tiny(model=model, layers=["model." + n for n in TINY_LAYERS], batch_size=2)
    with pytest.raises(RuntimeError, match="boom"):
        embedder.fit_transform(random_images(6))
    assert all_hooks(model) == []
    assert model.training and model.model.training


def test_hooks_removed_after_bad_input_mid_run(tmp_path):
    model = tiny_cnn().train()
    paths = write_images(tmp_path, random_images(4))
    (tmp_path / "broken.png").write_bytes(b"not a png")
    embedder = tiny(model=model, batch_size=2)
    with pytest.raises(ValueError, match=r"broken\.png"):
        embedder.fit_transform([*paths, str(tmp_path / "broken.png")])
    assert all_hooks(model) == []
    assert model.training


def test_forward_stops_after_last_needed_layer(vgg):
    calls = {"fc8": 0, "avgpool": 0}
    handles = [
        vgg.classifier[6].register_forward_hook(lambda *a: calls.__setitem__("fc8", 1)),
        vgg.avgpool.register_forward_hook(lambda *a: calls.__setitem__("avgpool", 1)),
    ]
    try:
        images = random_images(2, size=(32, 32))
        params = {"resize": 32, "crop_size": 32, "crops": "center", "progress": False}
        embedder = CNNEmbedder(vgg, **params).fit(images)  # fit's probe runs it all
        calls.update(fc8=0, avgpool=0)
        embedder.transform(images)
        assert calls == {"fc8": 0, "avgpool": 1}  # fc7 is needed, fc8 is not
        embedder = CNNEmbedder(vgg, layers=["conv1_1", "conv5_4"], **params).fit(images)
        calls.update(fc8=0, avgpool=0)
        embedder.transform(images)
        assert calls == {"fc8": 0, "avgpool": 0}  # no classifier work at all
    finally:
        for handle in handles:
            handle.remove()


def test_shared_module_is_rejected():
    resnet = seeded_module(torchvision.models.resnet18)
    embedder = CNNEmbedder(resnet, layers=["layer1.0.relu"], resize=32, crop_size=32)
    with pytest.raises(ValueError, match=r"'layer1.0.relu' runs 2 times"):
        embedder.fit([np.zeros((8, 8), np.uint8)])
    assert all_hooks(resnet) == []


# --------------------------------------------------------------------------- sklearn API


def test_pipeline_with_kscharacterizer(tmp_path):
    images = random_images(8, seed=5)
    y = np.array(["a", "b"] * 4)
    paths = write_images(tmp_path, images)
    pipe = make_pipeline(tiny(), KSCharacterizer())
    pipe.fit(paths, y)
    characterizer = pipe[-1]
    assert characterizer.dks_.shape == (2, TINY_N_FEATURES)
    assert list(characterizer.classes_) == ["a", "b"]
    X = pipe[0].transform(paths)
    expected = KSCharacterizer().fit(X, y).dks_
    np.testing.assert_array_equal(characterizer.dks_, expected)


@pytest.mark.parametrize(
    "check",
    [
        "check_no_attributes_set_in_init",
        "check_parameters_default_constructible",
        "check_get_params_invariance",
        "check_set_params",
        "check_estimator_repr",
        "check_estimator_cloneable",
        "check_valid_tag_types",
        "check_do_not_raise_errors_in_init_or_set_params",
        "check_estimator_tags_renamed",
        "check_mixin_order",
    ],
)
def test_sklearn_checks_that_do_not_feed_tabular_data(check):
    """The estimator contract checks that apply to an image transformer.

    The others of ``parametrize_with_checks`` fit on 2-D float arrays, which are not images.
    """
    from sklearn.utils import estimator_checks

    getattr(estimator_checks, check)("CNNEmbedder", CNNEmbedder())


def test_clone_and_params():
    embedder = tiny(batch_size=3)
    embedder.fit(random_images(2))
    copy = clone(embedder)
    assert not hasattr(copy, "model_")
    assert copy.get_params()["batch_size"] == 3
    assert copy.get_params()["model"] is not embedder.model  # modules are deep-copied
    X1 = embedder.transform(random_images(2))
    X2 = copy.fit_transform(random_images(2))
    np.testing.assert_array_equal(X1, X2)
    assert clone(CNNEmbedder()).get_params() == CNNEmbedder().get_params()


def test_pickle_round_trip():
    embedder = tiny().fit(random_images(1))
    restored = pickle.loads(pickle.dumps(embedder))
    images = random_images(3, seed=6)
    np.testing.assert_array_equal(restored.transform(images), embedder.transform(images))


def test_set_output_pandas():
    pd = pytest.importorskip("pandas")
    embedder = tiny().set_output(transform="pandas")
    frame = embedder.fit_transform(random_images(3))
    assert isinstance(frame, pd.DataFrame)
    assert list(frame.columns) == list(embedder.get_feature_names_out())


def test_not_fitted():
    from sklearn.exceptions import NotFittedError

    with pytest.raises(NotFittedError):
        tiny().transform(random_images(1))
    with pytest.raises(NotFittedError):
        tiny().get_feature_names_out()


def test_sample_indices_without_skipping():
    embedder = tiny()
    embedder.fit_transform(random_images(3))
    np.testing.assert_array_equal(embedder.sample_indices_, [0, 1, 2])
    assert embedder.skipped_ == []


@pytest.mark.parametrize(
    ("params", "match"),
    [
        ({"crops": "five"}, "'crops' parameter of CNNEmbedder must be"),
        ({"batch_size": 0}, "'batch_size' parameter"),
        ({"precision": "float64"}, "'precision' parameter"),
        ({"on_error": "ignore"}, "'on_error' parameter"),
        ({"layers": "all"}, "'layers' parameter"),
        ({"model": 3}, "'model' parameter"),
        ({"num_workers": -1}, "'num_workers' parameter"),
    ],
)
def test_invalid_parameters(params, match):
    with pytest.raises(InvalidParameterError, match=match):
        tiny(**params).fit(random_images(1))


@pytest.mark.parametrize(
    ("params", "match"),
    [
        ({"resize": 20}, "smaller than crop_size"),
        ({"resize": (40, 20)}, "smaller than crop_size"),
        ({"crop_size": (32, 32, 3)}, "pair of positive ints"),
        ({"mean": (0.5, 0.5)}, "'mean' parameter of CNNEmbedder must be 3"),
        ({"std": (0.5, 0.0, 0.5)}, "'std' parameter of CNNEmbedder must be 3 finite positive"),
        ({"device": "gpu"}, "'device' parameter"),
        ({"output": "features.csv"}, "ending in '.npy'"),
        ({"layers": []}, "empty list"),
        ({"layers": ["head", "head"]}, "listed twice"),
    ],
)
def test_invalid_parameter_values(params, match):
    with pytest.raises(ValueError, match=match):
        tiny(**params).fit(random_images(1))


def test_explicit_cuda_without_cuda_is_an_error(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    with pytest.raises(ValueError, match="CUDA is not available"):
        tiny(device="cuda").fit(random_images(1))
    assert tiny(device="auto").fit(random_images(1)).device_ == torch.device("cpu")


def test_cpu_model_is_channels_last():
    embedder = tiny(device="cpu").fit(random_images(1))
    weight = embedder.model_.features[0].weight
    assert weight.is_contiguous(memory_format=torch.channels_last)


@pytest.mark.parametrize("precision", ["bfloat16", "float16"])
def test_half_precision_is_close_to_float32(precision):
    images = smooth_images(3, seed=7)
    X32 = tiny().fit_transform(images)
    X16 = tiny(precision=precision).fit_transform(images)
    assert X16.dtype == np.float32
    np.testing.assert_allclose(X16, X32, rtol=0.05, atol=0.02 * np.abs(X32).max())


def test_progress_bar(capsys):
    tiny(progress=True).fit_transform(random_images(2))
    assert "CNNEmbedder" in capsys.readouterr().err
    tiny(progress=False).fit_transform(random_images(2))
    assert capsys.readouterr().err == ""


# --------------------------------------------------------------------------- output file


def test_output_file_equals_in_memory(tmp_path):
    images = random_images(5, seed=8)
    expected = tiny().fit_transform(images)
    path = tmp_path / "features.npy"
    embedder = tiny(output=path, batch_size=2)
    X = embedder.fit_transform(images)
    assert isinstance(X, np.memmap)
    assert not X.flags.writeable
    np.testing.assert_array_equal(X, expected)
    np.testing.assert_array_equal(np.load(path), expected)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["features.npy"]


def test_output_file_is_replaced_only_on_success(tmp_path):
    path = tmp_path / "features.npy"
    np.save(path, np.arange(3.0))
    paths = write_images(tmp_path / "img", random_images(3))
    (tmp_path / "img" / "zz_broken.png").write_bytes(b"\x89PNG broken")
    paths.append(str(tmp_path / "img" / "zz_broken.png"))
    with pytest.raises(ValueError, match=r"zz_broken\.png"):
        tiny(output=str(path), batch_size=2).fit_transform(paths)
    np.testing.assert_array_equal(np.load(path), np.arange(3.0))  # untouched
    assert sorted(p.name for p in tmp_path.iterdir()) == ["features.npy", "img"]
    fresh = tmp_path / "fresh.npy"
    with pytest.raises(ValueError, match=r"zz_broken\.png"):
        tiny(output=fresh, batch_size=2).fit_transform(paths)
    assert not fresh.exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["features.npy", "img"]


@pytest.mark.parametrize("n_good", [3, 12])
def test_output_file_with_skipped_inputs(tmp_path, n_good):
    images = random_images(n_good, seed=9)
    paths = write_images(tmp_path / "img", images)
    broken = tmp_path / "img" / "broken.png"
    broken.write_bytes(b"nope")
    paths.insert(1, str(broken))
    out = tmp_path / "features.npy"
    embedder = tiny(output=out, on_error="skip", batch_size=2)
    with pytest.warns(UserWarning, match="Skipped 1 of"):
        X = embedder.fit_transform(paths)
    expected = tiny().fit_transform(images)
    np.testing.assert_array_equal(np.load(out), expected)
    np.testing.assert_array_equal(X, expected)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["features.npy", "img"]


def test_npy_writer_moves_the_data_when_the_header_changes(tmp_path, monkeypatch):
    from dks.embed import _output

    def longer_header(shape):  # a version 2.0 header: longer than the 1.0 one on disk
        import io

        buffer = io.BytesIO()
        header = {"descr": "<f4", "fortran_order": False, "shape": shape}
        np.lib.format.write_array_header_2_0(buffer, header)
        return buffer.getvalue()

    monkeypatch.setattr(_output, "_header", longer_header)
    rows = np.arange(12, dtype=np.float32).reshape(4, 3)
    path = tmp_path / "x.npy"
    with _output.NpyWriter(path, 6, 3) as writer:
        writer.write(rows[:3])
        writer.write(rows[3:])
        result = writer.finish()
    np.testing.assert_array_equal(result, rows)
    np.testing.assert_array_equal(np.load(path), rows)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["x.npy"]


def test_output_folder_must_exist(tmp_path):
    with pytest.raises(FileNotFoundError, match="does not exist"):
        tiny(output=tmp_path / "missing" / "x.npy").fit(random_images(1))


def test_lazy_import_from_dks():
    """``import dks`` does not import torch (tests/test_common.py); the attribute works."""
    import dks

    assert dks.CNNEmbedder is CNNEmbedder


def test_no_warning_with_explicit_weights():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        tiny().fit(random_images(1))
