"""Model directories: `config.json` (format header + ModelConfig + weights hash) and `weights.npz`.

    config.json   {"format": "vaeflow.model", "version": 2, "config": ModelConfig.to_dict(),
                   "weights": {"file": "weights.npz", "sha256": ..., "keys": "path",
                               "paths": [variable paths], "shapes": [...],
                               "dtype": "float32" | "float16"}}
    weights.npz   one array per variable, keyed by the variable's path (``encoder/conv_0/kernel``;
                  every layer is named in `architectures.py`), float32, or float16 to ship a
                  model at half the size (`save_model(..., weights_dtype="float16")`; the network
                  still computes in float32)

Loading matches arrays to variables by path and names any path missing on either side, so two
same-shaped weights can never swap. Version 1 files (arrays w000, w001, ... in the order of
`model.weights`, written before layers were named) are still read, by position, with every
shape checked.

Both files are written atomically, weights first; the hash in config.json ties the pair, so a
truncated, corrupted, swapped or foreign file is a `ValueError` on load, never a silently
wrong model. Before the hash, the file's size and its arrays' `.npy` headers are checked
against the network, so a forged header cannot make a load allocate more than the model.
"""

from __future__ import annotations

import hashlib
import importlib.resources
import json
import math
import os
import zipfile
import zlib
from pathlib import Path

import numpy as np

from vaeflow.io import atomic_path, check_format, write_json_atomic
from vaeflow.models.config import ModelConfig
from vaeflow.models.vae import VAE
from vaeflow.npz import ArrayHeader, array_header, gigabytes

FORMAT = "vaeflow.model"
VERSION = 2
READABLE_VERSIONS = (1, 2)  # 1: weights stored by position (see read_weights)
CONFIG_FILE = "config.json"
WEIGHTS_FILE = "weights.npz"


def _pretrained_dir() -> Path:
    """The shipped default model's folder (trained by the recipe in its RECIPE.md).

    An installed wheel carries it as package data, `vaeflow/pretrained` (pyproject.toml maps the
    checkout's top-level `pretrained/` there); a source checkout or an editable install reads the
    top-level folder itself.
    """
    installed = importlib.resources.files("vaeflow") / "pretrained"
    if installed.is_dir():
        return Path(str(installed))
    return Path(__file__).resolve().parents[2] / "pretrained"


PRETRAINED_DIR = _pretrained_dir()


WEIGHT_DTYPES = ("float32", "float16")


def save_model(model: VAE, path: str | os.PathLike, weights_dtype: str = "float32") -> Path:
    """Write `model` into the directory `path` (created if needed); returns the directory.

    `weights_dtype="float16"` stores the weights rounded to half precision (half the bytes);
    loading casts them back to float32, so the model's metrics must be measured after the round trip.

    Raises:
        ValueError: if `model` is not a `VAE` or `weights_dtype` is not float32 or float16.
    """
    if not isinstance(model, VAE):
        raise ValueError(f"model must be a vaeflow VAE, got {type(model).__name__}")
    if weights_dtype not in WEIGHT_DTYPES:
        raise ValueError(f"weights_dtype must be one of {WEIGHT_DTYPES}, got {weights_dtype!r}")
    directory = Path(path)
    directory.mkdir(parents=True, exist_ok=True)
    build(model)
    header = {
        "format": FORMAT,
        "version": VERSION,
        "config": model.config.to_dict(),
        "weights": write_weights(directory, model.weights, weights_dtype),
    }
    write_json_atomic(directory / CONFIG_FILE, header)
    return directory


def load_model(path: str | os.PathLike | None = None) -> VAE:
    """The VAE saved in `path`: a model directory, or a run directory holding `model/`.

    With no argument, the shipped pretrained default (`pretrained/`).

    Raises:
        ValueError: naming the file, if the directory, config or weights are missing,
            unreadable, of another format, or do not match each other.
    """
    directory = PRETRAINED_DIR if path is None else Path(path)
    if (directory / "model" / CONFIG_FILE).is_file():
        directory = directory / "model"
    config_path = directory / CONFIG_FILE
    if not config_path.is_file():
        raise ValueError(f"no model at {directory}: {CONFIG_FILE} is missing")
    header = read_header(config_path, FORMAT)
    try:
        config = ModelConfig.from_dict(header["config"])
    except (TypeError, ValueError) as error:
        raise ValueError(f"{config_path}: {error}") from None
    model = build(VAE(config))
    read_weights(directory, header, model.weights)
    return model


def load_matching_weights(model: VAE, path: str | os.PathLike) -> list[str]:
    """Copy the weights of the model saved in `path` into `model`, matching by variable path;
    returns the paths copied. `model`'s other variables (a flow prior added to a model trained
    with the normal prior, say) keep their values.

    Raises:
        ValueError: if `path` holds no readable model, or one of its weights has no variable of
            the same path and shape in `model` (another architecture).
    """
    source = load_model(path)
    target = {v.path: v for v in build(model).weights}
    for variable in source.weights:
        match = target.get(variable.path)
        if match is None or tuple(match.shape) != tuple(variable.shape):
            raise ValueError(f"init_from {str(path)!r}: its weight {variable.path} "
                             f"{tuple(variable.shape)} has no counterpart in the new model")
    for variable in source.weights:
        target[variable.path].assign(variable)
    return [v.path for v in source.weights]


def write_weights(directory: Path, variables, dtype: str = "float32") -> dict:
    """Write `variables` (as `dtype`) to directory/weights.npz atomically, each array keyed by its
    variable's path; returns the header's "weights" entry.

    Raises:
        ValueError: if two variables share a path, or a weight overflows `dtype`.
    """
    arrays = {}
    for v in variables:
        if v.path in arrays:
            raise ValueError(f"two weights share the path {v.path!r}; name the layers apart")
        array = np.asarray(v.numpy())
        with np.errstate(over="ignore"):  # overflow is checked just below, naming the weight
            stored = array.astype(dtype)
        if not np.all(np.isfinite(stored[np.isfinite(array)])):
            raise ValueError(f"weight {v.path} does not fit in {dtype} (largest |w| {np.abs(array).max():.3g})")
        arrays[v.path] = stored
    with atomic_path(directory / WEIGHTS_FILE) as tmp:
        with open(tmp, "wb") as f:  # a file object, so np.savez keeps the temporary name
            np.savez(f, **arrays)
    return {
        "file": WEIGHTS_FILE,
        "sha256": _sha256(directory / WEIGHTS_FILE),
        "keys": "path",
        "paths": list(arrays),
        "shapes": [list(a.shape) for a in arrays.values()],
        "dtype": dtype,
    }


def read_weights(directory: Path, header: dict, variables) -> None:
    """Assign directory/weights.npz to `variables`, after checking its hash, paths and shapes.

    Arrays are matched to variables by path (``"keys": "path"`` in the header's weights entry);
    an older file without that entry holds arrays w000, w001, ... matched by position.

    The file is bounded before it is hashed or read: its size by what this network's weights
    can take, and every array's `.npy` header must fit its variable (shape, float dtype) and
    what the file stores, so a forged header never makes it allocate more than the network.

    Raises:
        ValueError: naming the file, for a missing, corrupted, truncated, forged or oversized
            file, a path present on one side only, or a shape that differs.
    """
    weights_path = directory / WEIGHTS_FILE
    if not weights_path.is_file():
        raise ValueError(f"no weights at {weights_path}")
    variables = list(variables)
    by_path = header["weights"].get("keys") == "path"

    def match(stored: dict) -> list:
        return (_match_by_path(weights_path, stored, variables) if by_path
                else _match_by_position(weights_path, directory, stored, variables))

    # Bounded before anything is hashed or allocated: the file's size, then every array's
    # header must fit this network (a forged header could declare terabytes).
    _check_arrays(weights_path, variables, match(_array_headers(weights_path, variables)))
    if _sha256(weights_path) != header["weights"].get("sha256"):
        raise ValueError(
            f"{weights_path} does not match the sha256 recorded in {directory / CONFIG_FILE}: "
            "the weights are corrupted or belong to another model"
        )
    try:
        with np.load(weights_path, allow_pickle=False) as npz:
            stored = {name: npz[name] for name in npz.files}
    except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile, zlib.error) as error:
        raise ValueError(f"{weights_path} is not a readable weights file: {error}") from None
    arrays = match(stored)
    _check_arrays(weights_path, variables, arrays)  # the file may have changed since
    for variable, array in zip(variables, arrays):
        variable.assign(array.astype(variable.dtype))


# A weights file holds at most this many bytes per weight (float64, the widest float it may
# store) plus this much per array (zip and .npy headers, the variable path) and in all.
_MAX_BYTES_PER_WEIGHT = 8
_ARRAY_OVERHEAD = 4096
_FILE_OVERHEAD = 2**16


def _array_headers(weights_path: Path, variables) -> dict[str, ArrayHeader]:
    """The .npy headers of every array in the file, read without their data.

    Raises:
        ValueError: naming the file, when it is larger than this network's weights can be,
            unreadable, or one of its arrays is forged (see `vaeflow.npz.array_header`).
    """
    limit = _FILE_OVERHEAD + sum(_MAX_BYTES_PER_WEIGHT * math.prod(v.shape) + _ARRAY_OVERHEAD
                                 for v in variables)
    size = weights_path.stat().st_size
    if size > limit:
        raise ValueError(f"{weights_path} holds {gigabytes(size)}, more than the weights of this "
                         f"network can take ({gigabytes(limit)}): not its weights file")
    try:
        with zipfile.ZipFile(weights_path) as archive:
            return {name.removesuffix(".npy"): array_header(archive, name, f"{weights_path}: {name}")
                    for name in archive.namelist()}
    except (OSError, KeyError, EOFError, zipfile.BadZipFile, zlib.error, NotImplementedError,
            RuntimeError) as error:
        raise ValueError(f"{weights_path} is not a readable weights file: {error}") from None


def _check_arrays(weights_path: Path, variables, arrays) -> None:
    """Each array (or `ArrayHeader`) has its variable's shape and a float dtype."""
    for variable, array in zip(variables, arrays):
        if tuple(variable.shape) != tuple(array.shape):
            raise ValueError(
                f"{weights_path}: weight {variable.path} has shape {tuple(variable.shape)} in "
                f"the network but {tuple(array.shape)} in the file"
            )
        if array.dtype.kind != "f" or array.dtype.itemsize > _MAX_BYTES_PER_WEIGHT:
            raise ValueError(f"{weights_path}: weight {variable.path} is {array.dtype}, not "
                             "float16, float32 or float64")


def _match_by_path(weights_path: Path, stored: dict, variables) -> list[np.ndarray]:
    paths = [v.path for v in variables]
    missing = [p for p in paths if p not in stored]
    unexpected = sorted(set(stored) - set(paths))
    if missing or unexpected or len(set(paths)) != len(paths):
        raise ValueError(
            f"{weights_path} does not fit the network: weights missing from the file "
            f"{missing[:5]}{' ...' if len(missing) > 5 else ''}, in the file but not the network "
            f"{unexpected[:5]}{' ...' if len(unexpected) > 5 else ''}"
        )
    return [stored[p] for p in paths]


def _match_by_position(weights_path: Path, directory: Path, stored: dict, variables) -> list[np.ndarray]:
    """The version 1 layout: w000, w001, ... in the order of `variables`."""
    try:
        arrays = [stored[f"w{i:03d}"] for i in range(len(stored))]
    except KeyError as error:
        raise ValueError(f"{weights_path} is not a readable weights file: no array {error}") from None
    if len(arrays) != len(variables):
        raise ValueError(
            f"{weights_path} holds {len(arrays)} arrays but the network built from "
            f"{directory / CONFIG_FILE} has {len(variables)} weights"
        )
    return arrays


def read_header(config_path: str | os.PathLike, format: str = FORMAT,
                versions: tuple[int, ...] = READABLE_VERSIONS) -> dict:
    """The parsed config.json of a directory of ours; `ValueError` if it is not `format` in one
    of `versions` (`vaeflow.io.check_format`) or lacks its sections."""
    config_path = Path(config_path)
    try:
        header = json.loads(config_path.read_text())
    except (OSError, ValueError, RecursionError) as error:  # ValueError: JSON and Unicode errors
        raise ValueError(f"{config_path} is not valid JSON: {error or type(error).__name__}") from None
    version = header.get("version") if isinstance(header, dict) else None
    check_format(header, format, version if version in versions else versions[-1], str(config_path))
    if not isinstance(header.get("config"), dict) or not isinstance(header.get("weights"), dict):
        raise ValueError(f"{config_path} lacks its 'config' or 'weights' section")
    return header


def build(model: VAE) -> VAE:
    """Create the model's variables (Keras builds lazily) by one call on zeros."""
    model(np.zeros((1, *model.config.image_shape), np.float32))
    return model


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()
