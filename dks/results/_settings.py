"""The embedding settings, once: :class:`EmbedSettings`, the spec every reader takes them from.

The steps :func:`~dks.pipeline.embed` and :func:`~dks.pipeline.analyze` build their settings
with :meth:`EmbedSettings.of`; the command line names their flags with :func:`cli_flags`
(:func:`dks._options.cli_flag`) and passes them by :meth:`EmbedSettings.names`; the embedder
gets :meth:`EmbedSettings.embedder_parameters`; and each setting says where a results folder
records it (:func:`recorded`): the store's manifest, whose settings make the store's
fingerprint (so that a saved embedding is reused only with the same values), or
``embedding.json``, or both. :func:`dks.pipeline.load_results` reads the settings recorded in
the manifest alone from there (:data:`STORE_SETTINGS`).
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields

from dks._options import cli_flag
from dks.results._errors import AnalysisError

__all__ = [
    "DEFAULT_DATASET_MODEL",
    "DEFAULT_MODEL",
    "MODEL_SETTINGS",
    "STORE_SETTINGS",
    "EmbedSettings",
    "cli_flags",
    "manifest_settings",
    "recorded",
]

#: Model used with the default dataset (offline ImageNet weights).
DEFAULT_DATASET_MODEL = "efficientnet_lite0"

#: Model used with a folder of images (the paper's).
DEFAULT_MODEL = "vgg19"

#: Where a setting is recorded: ``"manifest"`` (the store's manifest, its one record),
#: ``"both"`` (``embedding.json`` as asked, the manifest as resolved), ``"embedding.json"``,
#: or None (how the run went, not what the embedding is: progress bars, workers, ...).
_RECORDS = ("manifest", "both", "embedding.json", None)


def _setting(default, doc, *, flag=None, embedder=None, record=None):
    """One field of :class:`EmbedSettings`: its default and what it is, for every reader.

    ``flag``: the CLI option where it is not the parameter's own (:func:`dks._options.cli_flag`
    names that one, ``--crop`` for ``crop_size``) but a switch that turns it off;
    ``embedder``: the :class:`~dks.embed.CNNEmbedder` parameter it goes to (default: the same
    name; ``""``: none); ``record``: where the results folder records it (:data:`_RECORDS`).
    """
    meta = {"doc": doc, "flag": flag, "embedder": embedder, "record": record}
    return field(default=default, metadata=meta)


@dataclass(frozen=True)
class EmbedSettings:
    """The embedding settings of :func:`~dks.pipeline.embed` and :func:`~dks.pipeline.analyze`.

    The one spec of them (see the module): names, defaults, what each is
    (``fields(EmbedSettings)[i].metadata["doc"]``), the CLI flag that sets it, the
    :class:`~dks.embed.CNNEmbedder` parameter it goes to and where a results folder records
    it. The public signatures repeat the names and defaults explicitly (tests check that
    they agree).
    """

    model: str | None = _setting(
        None, "model name; None: the default for the kind of images", record="both"
    )
    weights: str | None = _setting(
        "DEFAULT", "pretrained weights: DEFAULT, a name, a file, or None", record="both"
    )
    layers: str | list = _setting("paper", "layers embedded", record="both")
    crops: str = _setting("ten", "ten, center or none", record="manifest")
    resize: int | str | None = _setting("auto", "shorter side after resizing", record="manifest")
    crop_size: int | str = _setting("auto", "side of the crops", record="manifest")
    device: str = _setting("auto", "torch device (the manifest: its type)", record="both")
    precision: str = _setting(
        "auto",
        "compute precision; auto: bfloat16 on a CUDA GPU, float32 elsewhere",
        record="manifest",
    )
    batch_size: int = _setting(8, "images per forward pass", record="manifest")
    workers: int | None = _setting(
        None, "DataLoader processes decoding images", embedder="num_workers"
    )
    progress: bool = _setting(True, "show a progress bar", flag="--no-progress")
    seed: int = _setting(0, "seeds the subsets and random weights", embedder="random_state")
    on_error: str = _setting("skip", "an unreadable image: skip or raise", record="embedding.json")
    shard: tuple | None = _setting(None, "(k, n): fill only the k-th of n parts of the store")
    export_npy: bool = _setting(False, "also write embedding.npy", embedder="")
    background: object = _setting("white", "colour under transparent pixels", record="manifest")
    tokens: str = _setting("mean", "vision transformers: mean, cls or both", record="manifest")
    max_image_pixels: int | str | None = _setting(
        "auto",
        "images with more pixels are refused (decompression bombs): auto, N or None",
        record="embedding.json",
    )

    @classmethod
    def names(cls):
        """The names of the settings, in order."""
        return [f.name for f in fields(cls)]

    @classmethod
    def of(cls, arguments):
        """The settings among ``arguments`` (a step's ``locals()``), the shard parsed."""
        values = {f.name: arguments[f.name] for f in fields(cls)}
        return cls(**{**values, "shard": _parse_shard(values["shard"])})

    def embedder_parameters(self):
        """The keywords of :class:`~dks.embed.CNNEmbedder` (all but the model)."""
        out = {}
        for f in fields(self):
            name = f.metadata["embedder"]
            if f.name != "model" and name != "":
                out[name or f.name] = getattr(self, f.name)
        return out

    def model_name(self, default_dataset):
        """The model asked for, or the default for this kind of images."""
        if self.model is not None:
            return self.model
        return DEFAULT_DATASET_MODEL if default_dataset else DEFAULT_MODEL


def recorded(*where):
    """The settings recorded in one of ``where`` (values of ``record``), in spec order."""
    return tuple(f.name for f in fields(EmbedSettings) if f.metadata["record"] in where)


#: What the manifest records beside the settings: what the model fixes (the hash of its
#: parameters, its interpolation and normalization), resolved by the embedder.
MODEL_SETTINGS = ("parameters_sha256", "interpolation", "mean", "std")


def manifest_settings():
    """The keys of the settings in the store's manifest (and so in its fingerprint)."""
    return (*recorded("manifest", "both"), *MODEL_SETTINGS)


#: The settings whose one record is the store's manifest (``embedding.json`` keeps what the
#: run was asked and how it went); :func:`dks.results._io.read_embedding_meta` reads them
#: from there. Folders written before the store have them in ``embedding.json`` itself.
STORE_SETTINGS = (*recorded("manifest"), *MODEL_SETTINGS[1:])


def cli_flags():
    """``{name: flag}`` of the settings: the CLI option that sets each."""
    return {f.name: f.metadata["flag"] or cli_flag(f.name) for f in fields(EmbedSettings)}


def _parse_shard(shard):
    from dks.store import parse_shard

    try:
        return parse_shard(shard)
    except ValueError as exc:
        raise AnalysisError(str(exc)) from None
