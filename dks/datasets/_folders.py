"""Images written as an ImageFolder (one sub-folder per class) and class names made safe as
folder names."""

import os
import re
from pathlib import Path

import numpy as np

__all__ = ["export_image_folder", "folder_name"]

_UNSAFE = re.compile(r'[\x00-\x1f/\\:*?"<>|]+')


def folder_name(name):
    """A class name made safe as a folder name (``"T-shirt/top"`` -> ``"T-shirt-top"``).

    Path separators, characters that Windows forbids and control characters become ``-``;
    leading dots (hidden folders, which :func:`dks.embed.image_folder` ignores) and
    trailing dots and spaces are removed.

    Parameters
    ----------
    name : object
        The class name (converted with ``str``).

    Returns
    -------
    str

    Examples
    --------
    >>> from dks.datasets import folder_name
    >>> folder_name("T-shirt/top")
    'T-shirt-top'
    """
    text = _UNSAFE.sub("-", str(name)).lstrip(".").rstrip(". ")
    if not text:
        raise ValueError(f"The class name {name!r} cannot be made into a folder name.")
    return text


def export_image_folder(images, y, class_names=None, root="images"):
    """Write images as PNG files in ImageFolder layout: ``root/<class>/<index>.png``.

    Parameters
    ----------
    images : array-like of shape (n_images, H, W) or (n_images, H, W, 3), uint8
        Grey or RGB images.
    y : array-like of shape (n_images,)
        Labels: indices into ``class_names``, or the class names themselves when
        ``class_names`` is None.
    class_names : sequence of str or None, default=None
        Name of each label. Folder names are made from them with :func:`folder_name`.
    root : str or os.PathLike, default="images"
        The folder to create; it must not exist, or be empty.

    Returns
    -------
    paths : list of str
        The file written for each image, in the order of ``images``. File names are the
        row index, zero-padded (``00042.png``), so that a sorted listing (as
        :func:`dks.embed.image_folder` does) keeps the order of ``images`` within a class.

    Raises
    ------
    FileExistsError
        If ``root`` exists and is not an empty folder.
    ValueError
        For images or labels of the wrong shape or dtype, or two classes whose folder
        names would coincide.

    Examples
    --------
    >>> import numpy as np
    >>> from dks.datasets import export_image_folder
    >>> images = np.zeros((2, 8, 8), dtype=np.uint8)
    >>> export_image_folder(images, [0, 1], ["a", "b"], "tmp_images")  # doctest: +SKIP
    ['tmp_images/a/0.png', 'tmp_images/b/1.png']
    """
    from PIL import Image

    images = np.asarray(images)
    if images.dtype != np.uint8 or not (
        images.ndim == 3 or (images.ndim == 4 and images.shape[-1] == 3)
    ):
        raise ValueError(
            "images must be a uint8 array of shape (n_images, H, W) or (n_images, H, W, 3); "
            f"got {images.dtype} of shape {images.shape}."
        )
    y = np.asarray(y)
    if y.shape != (images.shape[0],):
        raise ValueError(f"y must have shape ({images.shape[0]},); got {y.shape}.")
    if class_names is None:
        names = [str(label) for label in y.tolist()]
    else:
        class_names = [str(c) for c in class_names]
        if not np.issubdtype(y.dtype, np.integer) or (
            y.size and (y.min() < 0 or y.max() >= len(class_names))
        ):
            raise ValueError(
                f"With class_names, y must hold integer labels in 0..{len(class_names) - 1}."
            )
        names = [class_names[i] for i in y.tolist()]
    folders = {}
    for name in dict.fromkeys(names):
        folder = folder_name(name)
        clash = [other for other, f in folders.items() if f.lower() == folder.lower()]
        if clash:
            raise ValueError(
                f"The classes {clash[0]!r} and {name!r} would share the folder {folder!r}."
            )
        folders[name] = folder
    root = Path(root)
    if root.exists() and (not root.is_dir() or any(root.iterdir())):
        raise FileExistsError(f"{str(root)!r} exists and is not an empty folder.")
    for folder in folders.values():
        (root / folder).mkdir(parents=True, exist_ok=True)
    width = max(1, len(str(max(images.shape[0] - 1, 0))))
    paths = []
    for index, (image, name) in enumerate(zip(images, names, strict=True)):
        path = root / folders[name] / f"{index:0{width}d}.png"
        Image.fromarray(image).save(path, format="PNG")
        paths.append(os.fspath(path))
    return paths
