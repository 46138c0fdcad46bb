"""Forward hooks that collect reduced layer outputs and stop the forward pass early.

:class:`LayerRecorder` is a context manager. On entry it puts the model in ``eval()`` mode
and registers one forward hook per requested layer; on exit (also after an exception) it
removes exactly those hooks and restores each submodule's own ``training`` flag.

Each hook reduces its layer's output at once, inside the hook: a ``(N, C, H, W)`` output
becomes its spatial mean ``(N, C)`` (computed in float32), a ``(N, C)`` output is copied,
and a ``(N, T, C)`` token sequence (vision transformers) becomes the mean of its patch
tokens, its class token, or both (:class:`Reducer`). Which leading tokens are not patches
(class, register, distillation tokens) is told by the model, never guessed from shapes.
Reducing or copying inside the hook matters because later modules may modify the tensor in
place (VGG's ReLUs are ``inplace=True``); it also means no full activation map is kept.
The hook of the last layer to run raises :class:`StopForward`, which :meth:`run` catches,
so the network computes nothing after the last layer that is needed.
"""

import contextlib

import numpy as np
import torch

__all__ = [
    "ActivationMeter",
    "LayerRecorder",
    "Reducer",
    "StopForward",
    "probe",
    "reduce_output",
]


class StopForward(Exception):
    """Raised by the hook of the last needed layer to end the forward pass."""


def reduce_output(output, name):
    """Reduce one layer output to ``(N, C)`` float32.

    Parameters
    ----------
    output : torch.Tensor
        ``(N, C)`` (copied) or ``(N, C, H, W)`` (averaged over ``H, W``).
    name : str
        Layer name, for the error message.

    Returns
    -------
    reduced : torch.Tensor of shape (N, C), float32
    """
    if not isinstance(output, torch.Tensor):
        raise TypeError(
            f"Layer {name!r} returns a {type(output).__name__}, not a tensor; pick one of its "
            "submodules (see dks.embed.list_layers())."
        )
    if output.ndim == 4:
        return output.mean(dim=(2, 3), dtype=torch.float32)
    if output.ndim == 2:
        return output.to(dtype=torch.float32, copy=True)
    raise ValueError(
        f"Layer {name!r} returns a tensor of shape {tuple(output.shape)}; CNNEmbedder handles "
        "(N, C) outputs, channels-first (N, C, H, W) feature maps (averaged over H, W) and "
        "(N, tokens, C) token sequences of vision transformers. Pick a layer with such an "
        "output."
    )


class Reducer:
    """Reduce layer outputs to ``(N, F)`` float32, token sequences included.

    Parameters
    ----------
    tokens : {"mean", "cls", "both"}
        For ``(N, T, C)`` outputs: ``"mean"`` of the patch tokens (the paper's spatial
        average), the ``"cls"`` token, or ``"both"`` (``C`` mean columns, then ``C`` class
        token columns).
    prefix_tokens : int or None
        Number of leading non-patch tokens (class, registers, distillation); None when the
        model does not say, which makes token outputs an error.
    class_token : bool
        Whether token 0 is a class token.
    post : dict of str to callable, optional
        Function applied to the output of the named layers first (an activation that the
        model applies as a function, not a module).
    model_name : str
        For messages.
    """

    def __init__(
        self,
        tokens="mean",
        prefix_tokens=None,
        class_token=False,
        post=None,
        model_name="the model",
    ):
        self.tokens = tokens
        self.prefix_tokens = prefix_tokens
        self.class_token = class_token
        self.post = dict(post or {})
        self.model_name = model_name

    def width(self, channels, ndim):
        """Features of a layer of ``channels`` channels and ``ndim`` output dimensions."""
        return 2 * channels if ndim == 3 and self.tokens == "both" else channels

    def __call__(self, output, name):
        """Reduce the output of layer ``name`` to ``(N, F)`` float32."""
        if name in self.post:
            output = self.post[name](output)
        if not (isinstance(output, torch.Tensor) and output.ndim == 3):
            return reduce_output(output, name)
        if self.prefix_tokens is None:
            raise ValueError(
                f"Layer {name!r} returns a tensor of shape {tuple(output.shape)}, read as "
                f"tokens (N, tokens, C) of a vision transformer, but {self.model_name} does "
                "not say how many leading tokens are not patches. Set the attribute "
                "num_prefix_tokens on the module (1 for a class token, 0 for none), as timm "
                "models do, or pick a layer with (N, C) or (N, C, H, W) outputs."
            )
        parts = []
        if self.tokens in ("mean", "both"):
            patches = output[:, self.prefix_tokens :]
            if patches.shape[1] == 0:
                raise ValueError(
                    f"Layer {name!r} returns {output.shape[1]} tokens, all prefix tokens; "
                    "use tokens='cls' or another layer."
                )
            parts.append(patches.mean(dim=1, dtype=torch.float32))
        if self.tokens in ("cls", "both"):
            if not self.class_token:
                raise ValueError(
                    f"tokens={self.tokens!r} but {self.model_name} has no class token; use "
                    "tokens='mean'."
                )
            parts.append(output[:, 0].to(dtype=torch.float32, copy=True))
        return parts[0] if len(parts) == 1 else torch.cat(parts, dim=1)


class LayerRecorder:
    """Hooks on ``layers`` of ``model`` that record their reduced outputs.

    Parameters
    ----------
    model : torch.nn.Module
    layers : list of (str, str)
        ``(feature name, module path)`` pairs.
    stop_after : str or None
        Module path of the last layer the forward pass needs; its hook raises
        :class:`StopForward`. None runs the whole forward pass.
    count_calls : bool, default=False
        Record how many times each hooked module runs (see :attr:`calls`).
    reduce : callable, optional
        ``reduce(output, name) -> (N, F)`` tensor; default :func:`reduce_output`.

    Attributes
    ----------
    calls : dict of str to int
        Calls of each module path in the last :meth:`run`, if ``count_calls``.
    order : list of str
        Module paths in the order their hooks first ran in the last :meth:`run`.
    """

    def __init__(self, model, layers, stop_after=None, *, count_calls=False, reduce=None):
        self.model = model
        self.reduce = reduce_output if reduce is None else reduce
        self.layers = list(layers)
        self.stop_after = stop_after
        self.count_calls = count_calls
        self.calls = {}
        self.order = []
        self._outputs = {}
        self._handles = []
        self._flags = []

    def __enter__(self):
        self._flags = [(module, module.training) for module in self.model.modules()]
        try:
            self.model.eval()
            modules = dict(self.model.named_modules())
            for name, path in self.layers:
                hook = self._make_hook(name, path)
                self._handles.append(modules[path].register_forward_hook(hook))
        except BaseException:
            self._cleanup()
            raise
        return self

    def __exit__(self, *exc_info):
        self._cleanup()
        return False

    def _cleanup(self):
        for handle in self._handles:
            handle.remove()
        self._handles = []
        for module, training in self._flags:
            module.training = training
        self._flags = []

    def _make_hook(self, name, path):
        stop = path == self.stop_after

        def hook(module, inputs, output):
            if self.count_calls:
                self.calls[path] = self.calls.get(path, 0) + 1
                if path in self._outputs:
                    return
            self.order.append(path)
            self._outputs[path] = self.reduce(output, name)
            if stop:
                raise StopForward

        return hook

    def run(self, x, rows=None):
        """Run the model on ``x``; return the reduced outputs, in the order of ``layers``.

        Parameters
        ----------
        x : torch.Tensor
            A batch the model accepts.
        rows : int or None, default=None
            Run at most this many rows of ``x`` at once (None: all): the activations of a
            forward pass grow with its rows, and the reduced outputs do not depend on how
            the rows are grouped.

        Returns
        -------
        outputs : list of torch.Tensor of shape (N, C_l), float32
        """
        if rows is not None and len(x) > rows:
            parts = [self.run(x[i : i + rows]) for i in range(0, len(x), rows)]
            return [torch.cat(layer) for layer in zip(*parts, strict=True)]
        self._outputs = {}
        self.calls = {}
        self.order = []
        with contextlib.suppress(StopForward):
            self.model(x)
        missing = [name for name, path in self.layers if path not in self._outputs]
        if missing:
            raise RuntimeError(
                f"Layer(s) {', '.join(map(repr, missing))} did not run in the forward pass "
                "of the model; pick modules that its forward() calls."
            )
        outputs = [self._outputs[path] for _, path in self.layers]
        self._outputs = {}
        return outputs

    def embed_batch(self, groups, device, dims, n_crops, rows=None):
        """Features of a batch's images, ``(indices, float32 array)`` in input order.

        ``groups`` are ``(indices, crops)`` of one crop size each; ``dims`` the features of
        each layer at fit time; the ``n_crops`` crops of an image are averaged; ``rows``
        crops at most run at once (:meth:`run`).
        """
        all_indices, all_features = [], []
        for indices, crops in groups:
            x = crops.to(device, non_blocking=True)
            outputs = self.run(x, rows=rows)
            for (name, _), out, dim in zip(self.layers, outputs, dims, strict=True):
                if out.shape[1] != dim:
                    raise ValueError(
                        f"Layer {name!r} gave {out.shape[1]} features for a crop of "
                        f"{tuple(x.shape[2:])} pixels but {dim} at fit time; its size "
                        "depends on the image size. Use fixed-size crops."
                    )
            features = torch.cat(outputs, dim=1)
            if n_crops > 1:
                features = features.view(len(indices), n_crops, -1).mean(dim=1)
            all_indices.extend(indices)
            all_features.append(features.cpu().numpy())
        indices = np.asarray(all_indices, dtype=np.int64)
        if len(all_features) == 1:
            return indices, all_features[0]
        if not all_features:
            return indices, None
        order = np.argsort(indices, kind="stable")
        return indices[order], np.concatenate(all_features)[order]


def probe(module, layers, x, reduce=None, *, sort=False):
    """Run ``x`` (a blank crop) once: the layer widths, their order, the activations' size.

    Parameters
    ----------
    module : torch.nn.Module
    layers : list of (str, str)
        ``(feature name, module path)`` pairs.
    x : torch.Tensor
        One input.
    reduce : callable, optional
        As for :class:`LayerRecorder`.
    sort : bool, default=False
        Return ``layers`` (and widths) sorted by the order in which they run.

    Returns
    -------
    layers : list of (str, str)
    widths : list of int
    order : list of str
        Module paths in the order their hooks ran.
    activation_bytes : int
        The activations that the forward pass of ``x`` held at once (:class:`ActivationMeter`).
    """
    recorder = LayerRecorder(module, layers, None, count_calls=True, reduce=reduce)
    with recorder, ActivationMeter(module) as meter, torch.inference_mode():
        outputs = recorder.run(x)
    repeated = {p: c for p, c in recorder.calls.items() if c > 1}
    if repeated:
        path, count = next(iter(repeated.items()))
        raise ValueError(
            f"Layer module {path!r} runs {count} times in one forward pass (a module "
            "shared by several places of the network, e.g. the ReLU of a ResNet block); "
            "its output is ambiguous. Pick a module that runs once, e.g. its parent."
        )
    widths = [int(o.shape[1]) for o in outputs]
    if sort:
        rank = {path: i for i, path in enumerate(recorder.order)}
        pairs = sorted(zip(layers, widths, strict=True), key=lambda p: rank[p[0][1]])
        layers, widths = [p[0] for p in pairs], [p[1] for p in pairs]
    return list(layers), widths, recorder.order, meter.peak


class ActivationMeter:
    """While entered, measure the bytes of activations a forward pass holds at once.

    An estimate: the largest sum, over the leaf modules that run, of the bytes of a module's
    input and output tensors (both are alive while it runs; in a chain of layers, that pair
    is the peak; an in-place output is its input, counted once). It grows in proportion to
    the rows of the input, so a forward pass of one crop gives the cost of a crop. The hooks
    are removed on exit.

    Parameters
    ----------
    module : torch.nn.Module
    """

    def __init__(self, module):
        self.module = module
        self.peak = 0
        self._handles = []

    def __enter__(self):
        leaves = [m for m in self.module.modules() if next(m.children(), None) is None]
        self._handles = [m.register_forward_hook(self._hook) for m in leaves]
        return self

    def __exit__(self, *exc_info):
        for handle in self._handles:
            handle.remove()
        self._handles = []
        return False

    def _hook(self, module, inputs, output):
        tensors = {t.data_ptr(): t for t in _tensors((inputs, output))}  # in place: once
        self.peak = max(self.peak, sum(t.numel() * t.element_size() for t in tensors.values()))


def _tensors(value):
    if isinstance(value, torch.Tensor):
        yield value
    elif isinstance(value, (tuple, list)):
        for item in value:
            yield from _tensors(item)
