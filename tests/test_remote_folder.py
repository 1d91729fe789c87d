"""ImageFolder over an fsspec URL lists the same samples as on disk, as URLs that load."""

from __future__ import annotations

import pathlib

import numpy as np
import pytest
from media import image_bytes

from spdl.dataloader import ImageBatchLoader, ImageFolder

fsspec = pytest.importorskip("fsspec")  # torch, a test dependency, requires it

CLASSES = {"cat": 3, "dog": 2, "fish": 1}


@pytest.fixture
def folders(tmp_path: pathlib.Path) -> tuple[pathlib.Path, str]:
    """The same class folders on disk and in fsspec's memory filesystem."""
    memory = fsspec.filesystem("memory")
    root, url = tmp_path / "images", f"memory://spdl-folder-{tmp_path.name}"
    rng = np.random.default_rng(0)
    for name, count in CLASSES.items():
        for i in range(count):
            pixels = rng.integers(0, 256, (24, 32, 3), dtype=np.uint8)
            data = image_bytes(pixels, "PNG")
            nested = "deep/" if i == 0 else ""  # files below a class folder count too
            (root / name / nested).mkdir(parents=True, exist_ok=True)
            (root / name / f"{nested}{i}.png").write_bytes(data)
            memory.pipe(f"{url}/{name}/{nested}{i}.png", data)
    memory.pipe(f"{url}/cat/notes.txt", b"not an image")
    (root / "cat" / "notes.txt").write_bytes(b"not an image")
    yield root, url
    memory.rm(url, recursive=True)


def test_a_url_root_lists_what_the_same_folder_on_disk_lists(
    folders: tuple[pathlib.Path, str],
) -> None:
    root, url = folders
    local, remote = ImageFolder(root), ImageFolder(url)
    assert remote.classes == local.classes == sorted(CLASSES)
    assert len(remote) == len(local) == sum(CLASSES.values())
    assert remote.targets == local.targets
    for (path, _), (remote_url, _) in zip(local, remote, strict=True):
        assert remote_url == f"{url}/{pathlib.Path(path).relative_to(root).as_posix()}"


def test_the_listed_urls_load_like_the_files(folders: tuple[pathlib.Path, str]) -> None:
    root, url = folders
    loader = ImageBatchLoader((24, 32), transform=None)
    local, local_labels = loader(list(ImageFolder(root)))
    remote, remote_labels = loader(list(ImageFolder(url)))
    assert np.array_equal(np.asarray(remote), np.asarray(local))
    assert np.array_equal(np.asarray(remote_labels), np.asarray(local_labels))


def test_a_missing_url_root_and_an_http_root_fail_clearly(
    folders: tuple[pathlib.Path, str],
) -> None:
    _, url = folders
    with pytest.raises(FileNotFoundError, match="does not exist"):
        ImageFolder(f"{url}-missing")
    with pytest.raises(NotADirectoryError):
        ImageFolder(f"{url}/cat/1.png")
    with pytest.raises(ValueError, match="HTTP cannot list"):
        ImageFolder("https://user:secret@example.com/images")
    with pytest.raises(ValueError) as info:
        ImageFolder("https://user:secret@example.com/images")
    assert "secret" not in str(info.value)


def test_a_file_url_root_is_the_local_folder(folders: tuple[pathlib.Path, str]) -> None:
    root, _ = folders
    assert list(ImageFolder(root.as_uri())) == list(ImageFolder(root))
