"""A dataset of images laid out in one sub-folder per class."""

from __future__ import annotations

import os
import posixpath
from collections.abc import Iterable, Sequence
from typing import Any, overload

from spdl.io._core import remote as _remote
from spdl.io._runtime import fetch as _fetch

__all__ = ["IMAGE_EXTENSIONS", "ImageFolder"]

# Still-image formats that spdl.io decodes natively in one batch call.
IMAGE_EXTENSIONS: tuple[str, ...] = (".bmp", ".jpeg", ".jpg", ".png", ".tif", ".tiff", ".webp")


class ImageFolder(Sequence[tuple[str, int]]):
    """Images in one sub-folder per class, as ``(path, label)`` pairs.

    The layout is torchvision's ``ImageFolder``: each directory directly under
    ``root`` is a class; the class names, sorted, get the labels ``0, 1, …``; every
    file below a class directory (searched recursively, symbolic links followed)
    whose name ends with one of ``extensions`` (case-insensitive) is a sample of that
    class. Samples are sorted by class, then by path, so the order is the same on
    every machine and every rank.

    ``root`` may also be a URL of a protocol that fsspec lists (``s3://``, ``gs://``,
    ``hf://``, ``memory://`` …, with the ``spdl[remote]`` extra): the samples are then
    URLs, which ``spdl.io`` fetches on its I/O pool. HTTP has no listing: give an
    HTTP dataset as a list of ``(url, label)`` pairs instead.

    Args:
        root: The directory (or the URL of the folder) holding the class directories.
        extensions: File extensions (with the dot; ``".seg.png"`` too) that count as
            images, or one such string.
        allow_empty: If ``False`` (the default), a class directory without any
            image is an error; if ``True``, such a class keeps its label but has no sample.

    Raises:
        FileNotFoundError: ``root`` does not exist, holds no class directory, or a
            class holds no image (unless ``allow_empty``).
        NotADirectoryError: ``root`` is not a directory.

    Example:
        >>> from spdl.dataloader import ImageFolder
        >>> dataset = ImageFolder("images")
        >>> dataset.classes
        ['cat', 'dog', 'fish']
        >>> len(dataset), dataset[0]
        (24, ('images/cat/0.jpg', 0))
    """

    def __init__(
        self,
        root: str | os.PathLike[str],
        *,
        extensions: Iterable[str] = IMAGE_EXTENSIONS,
        allow_empty: bool = False,
    ) -> None:
        self.root = os.fspath(root)
        # One string is one extension (as in torchvision), not its characters.
        names = (extensions,) if isinstance(extensions, str) else extensions
        self.extensions = tuple(ext.lower() for ext in names)
        self._fs: Any = None  # fsspec's filesystem of a URL root
        if _remote.is_url(self.root):
            self.root = _fetch.local_path(self.root) or self.root  # file:// is local
        if _remote.is_url(self.root):
            self._open_remote()
        elif not self.root or not os.path.exists(self.root):
            raise FileNotFoundError(
                f"ImageFolder: the root directory {self.root!r} does not exist."
            )
        elif not os.path.isdir(self.root):
            raise NotADirectoryError(f"ImageFolder: the root {self.root!r} is not a directory.")
        self.classes: list[str] = sorted(self._class_names())
        if not self.classes:
            raise FileNotFoundError(
                f"ImageFolder: {self.root!r} holds no class directory (expected one "
                "sub-directory per class)."
            )
        self.class_to_idx: dict[str, int] = {name: i for i, name in enumerate(self.classes)}
        self.samples: list[tuple[str, int]] = []
        empty = []
        for label, name in enumerate(self.classes):
            paths = self._images_in(name)
            if not paths:
                empty.append(name)
            self.samples.extend((path, label) for path in paths)
        if empty and not allow_empty:
            raise FileNotFoundError(
                f"ImageFolder: no image with an extension in {self.extensions} in the class "
                f"director{'y' if len(empty) == 1 else 'ies'} {empty} of {self.root!r}."
            )

    def _open_remote(self) -> None:
        if _remote.scheme(self.root) in ("http", "https"):
            raise ValueError(
                f"ImageFolder: {_remote.redact(self.root)}: HTTP cannot list a folder; "
                "give the dataset as a list of (url, label) pairs instead."
            )
        self._fs, self._path = _fetch._filesystem(self.root)
        if not self._fs.exists(self._path):
            raise FileNotFoundError(
                f"ImageFolder: the root directory {_remote.redact(self.root)!r} does not exist."
            )
        if not self._fs.isdir(self._path):
            raise NotADirectoryError(
                f"ImageFolder: the root {_remote.redact(self.root)!r} is not a directory."
            )

    def _class_names(self) -> list[str]:
        if self._fs is None:
            with os.scandir(self.root) as entries:
                return [entry.name for entry in entries if entry.is_dir()]
        listing = self._fs.ls(self._path, detail=True)
        names = [entry["name"] for entry in listing if entry["type"] == "directory"]
        return [posixpath.basename(name.rstrip("/")) for name in names]

    def _images_in(self, name: str) -> list[str]:
        if self._fs is None:
            return self._local_images_in(os.path.join(self.root, name))
        folder = posixpath.join(self._path, name)
        found = self._fs.find(folder)  # every file below it, recursively
        root = self.root.rstrip("/")
        return sorted(
            f"{root}/{posixpath.relpath(path, self._path)}"
            for path in found
            if path.lower().endswith(self.extensions)  # ".seg.png" too
        )

    def _local_images_in(self, directory: str) -> list[str]:
        paths: list[str] = []
        for parent, dirs, files in os.walk(directory, followlinks=True):
            dirs.sort()
            paths.extend(
                os.path.join(parent, file)
                for file in files
                if file.lower().endswith(self.extensions)
            )
        return sorted(paths)

    @property
    def targets(self) -> list[int]:
        """The label of every sample, in order."""
        return [label for _, label in self.samples]

    def __len__(self) -> int:
        return len(self.samples)

    @overload
    def __getitem__(self, index: int) -> tuple[str, int]: ...

    @overload
    def __getitem__(self, index: slice) -> list[tuple[str, int]]: ...

    def __getitem__(self, index: int | slice) -> tuple[str, int] | list[tuple[str, int]]:
        return self.samples[index]

    def __repr__(self) -> str:
        return (
            f"ImageFolder(root={self.root!r}, classes={len(self.classes)}, "
            f"samples={len(self.samples)})"
        )
