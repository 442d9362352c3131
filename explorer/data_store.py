"""The app's folder of datasets: list, save and validate `.npz` files under `data/`.

File format and validation belong to `vaeflow` (`save_dataset`, `load_dataset`); this module
only names files, keeps them inside the folder and describes them for the table.
The folder is `data/` in the user's workspace (`explorer.workspace`: `$VAEFLOW_DATA_DIR`, else
`$VAEFLOW_HOME/data`, else `./data`, where the README's CLI commands write too).
"""

from __future__ import annotations

import dataclasses
import functools
import os
import tempfile
from pathlib import Path

import numpy as np

import vaeflow
from explorer import workspace
from vaeflow.datasets import MAX_BYTES_ENV, check_dataset
from vaeflow.io import atomic_path, check_name


def preview(n: int, seed: int, spec: "vaeflow.FlowSpec") -> tuple[np.ndarray, np.ndarray]:
    """The first `n` images and factors of ``generate_dataset(N, seed, spec)`` for any N ≥ n
    (the same bytes: each factor has its own seeded stream)."""
    dataset = vaeflow.generate_dataset(n, seed, spec)
    return dataset.images, dataset.factors


def data_dir() -> Path:
    """The datasets folder: `$VAEFLOW_DATA_DIR`, else `data/` in the workspace
    (`$VAEFLOW_HOME`, else the working directory); see `explorer.workspace`."""
    return workspace.folder(workspace.DATA_VAR, "data")


def dataset_path(name: str, folder: Path | None = None) -> Path:
    """`<folder>/<name>.npz` for a plain name (letters, digits, `_ . -`; at most 64).

    A trailing `.npz` in `name` is accepted and not doubled.

    Raises:
        ValueError: naming `name` when it is empty, too long, or could leave the folder.
    """
    stem = name.strip()
    if stem.lower().endswith(".npz"):
        stem = stem[:-4]
    return (folder or data_dir()) / f"{check_name(stem, 'dataset name')}.npz"


@dataclasses.dataclass(frozen=True)
class DatasetInfo:
    """One row of the datasets table. `error` is set (and the rest empty) for a bad file."""

    name: str
    path: Path
    n_images: int | None
    megabytes: float
    seed: int | None
    spec: dict | None
    error: str | None = None


def describe(path: Path) -> DatasetInfo:
    """A dataset's size, seed and spec, with the verdict `load_dataset` would give, from
    `vaeflow.datasets.check_dataset` (headers first, then the data read through once).

    The verdict is cached per file version (path, size, mtime, inode, size limit), so listing
    the folder again costs one `stat` per file. Never raises for a bad file: the problem goes
    into `DatasetInfo.error`.
    """
    path = Path(path)
    megabytes = 0.0
    try:
        stat = path.stat()
        megabytes = stat.st_size / 1e6
        return _describe(path, (stat.st_size, stat.st_mtime_ns, stat.st_ino),
                         os.environ.get(MAX_BYTES_ENV))
    except OSError as error:  # deleted since the folder was listed, unreadable: not cached
        return _problem(path, megabytes, error)


@functools.lru_cache(maxsize=256)
def _describe(path: Path, version: tuple, max_bytes_text: str | None) -> DatasetInfo:
    """`describe` for one version of the file; `version` and `max_bytes_text` key the cache."""
    megabytes = version[0] / 1e6
    try:
        header = check_dataset(path)
    except ValueError as error:  # DatasetFileError, or a bad size limit in the environment
        return _problem(path, megabytes, error)
    return DatasetInfo(path.stem, path, header.n_images, megabytes, header.seed, header.spec.to_dict())


def _problem(path: Path, megabytes: float, error: Exception) -> DatasetInfo:
    message = str(error).replace(f"{path}: ", "").replace(str(path), "the file")
    return DatasetInfo(path.stem, path, None, megabytes, None, None, message)


def list_datasets(folder: Path | None = None) -> list[DatasetInfo]:
    """Every `*.npz` in the folder, newest first (temporary files of a write are skipped)."""
    folder = folder or data_dir()
    if not folder.is_dir():
        return []
    paths = [p for p in folder.glob("*.npz") if not p.name.startswith(".")]
    paths.sort(key=lambda p: p.stat().st_mtime, reverse=True)
    return [describe(p) for p in paths]


def save(dataset: "vaeflow.FlowDataset", name: str, *, overwrite: bool = False,
         folder: Path | None = None) -> Path:
    """Save `dataset` as `<folder>/<name>.npz` (atomically, by `vaeflow.save_dataset`).

    Raises:
        ValueError: naming `name` if it is not a plain name, or if the file exists and
            `overwrite` is False.
    """
    path = dataset_path(name, folder)
    try:
        vaeflow.save_dataset(dataset, path, overwrite=overwrite)
    except FileExistsError:  # also when another tab saved this name a moment ago
        raise ValueError(f"name {path.stem!r} is taken: a dataset with that name exists") from None
    return path


def load_upload(content: bytes) -> "vaeflow.FlowDataset":
    """Validate uploaded bytes as a vaeflow dataset by loading them with `vaeflow.load_dataset`.

    Raises:
        ValueError: with a message for the user when the bytes are not a valid dataset
            (foreign, truncated or corrupted); never another exception type.
    """
    with tempfile.TemporaryDirectory(prefix="vaeflow-upload-") as tmp:
        path = Path(tmp) / "upload.npz"
        path.write_bytes(content)
        try:
            return vaeflow.load_dataset(path)
        except ValueError as error:  # the temporary path and class names mean nothing to the user
            text = str(error).replace(str(path), "the file").replace("FlowDataset.", "")
            raise ValueError(text) from None
        except Exception as error:  # load_dataset promises ValueError; be safe for the UI
            raise ValueError(f"not a vaeflow dataset ({type(error).__name__}: {error})") from None


def save_upload(content: bytes, name: str, *, overwrite: bool = False,
                folder: Path | None = None) -> Path:
    """Validate an upload (see `load_upload`) and store its bytes unchanged under `name`.

    Raises:
        ValueError: for an invalid file or name (see `load_upload`, `dataset_path`).
    """
    load_upload(content)
    path = dataset_path(name, folder)
    try:
        with atomic_path(path, suffix=".npz", overwrite=overwrite) as tmp:
            tmp.write_bytes(content)
    except FileExistsError:
        raise ValueError(f"name {path.stem!r} is taken: a dataset with that name exists") from None
    return path


def delete_dataset(name: str, folder: Path | None = None) -> Path:
    """Remove `<folder>/<name>.npz`.

    Raises:
        ValueError: naming `name` when it is not a plain name or no such dataset exists.
    """
    path = dataset_path(name, folder)
    try:
        path.unlink()
    except FileNotFoundError:
        raise ValueError(f"no dataset named {path.stem!r}") from None
    return path
