"""torchvision, imported only where a torchvision model or its weights are asked for.

Importing torchvision takes seconds and a few hundred MB: its ``ops`` load
``torch._dynamo``, and with it sympy. EfficientNet-Lite0, the model of the default job,
its crops and its resizing (PIL's, :mod:`dks.embed._batching`) need none of it. Checks of
a module's class need no import either: no object can be an instance of a torchvision
class before torchvision is imported (:func:`loaded_torchvision_models`).
"""

import sys

__all__ = ["TorchvisionWeights", "loaded_torchvision_models", "torchvision_models"]


def torchvision_models():
    """``torchvision.models``, imported now if it is not yet."""
    import torchvision.models

    return torchvision.models


def loaded_torchvision_models():
    """``torchvision.models`` if it is imported already, else None.

    For the checks of a module's class: no module can be an instance of a torchvision
    class before torchvision is imported, so they need not import it.
    """
    return sys.modules.get("torchvision.models")


class _TorchvisionWeightsType(type):
    def __instancecheck__(cls, obj):
        tvm = loaded_torchvision_models()  # none exists before torchvision is imported
        return tvm is not None and isinstance(obj, tvm.WeightsEnum)


class TorchvisionWeights(metaclass=_TorchvisionWeightsType):
    """``isinstance(x, TorchvisionWeights)``: whether ``x`` is a torchvision ``WeightsEnum``.

    For :class:`~dks.embed.CNNEmbedder`'s parameter constraints, without importing
    torchvision. Named as torchvision names the class, for the messages of the constraints.
    """

    __module__ = "torchvision.models"
    __qualname__ = "WeightsEnum"
