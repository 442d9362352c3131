"""Model directories: `config.json` (format header + ModelConfig + weights hash) and `weights.npz`.

    config.json   {"format": "vaeflow.model", "version": 1, "config": ModelConfig.to_dict(),
                   "weights": {"file": "weights.npz", "sha256": ..., "shapes": [...],
                               "paths": [variable paths], "dtype": "float32" | "float16"}}
    weights.npz   arrays w000, w001, ... in the order of `model.weights`, float32, or float16
                  to ship a model at half the size (`save_model(..., weights_dtype="float16")`;
                  the network still computes in float32)

Both files are written atomically, weights first; the hash in config.json ties the pair, so a
truncated, corrupted, swapped or foreign file is a `ValueError` on load, never a silently
wrong model.
"""

from __future__ import annotations

import hashlib
import importlib.resources
import json
import os
import zipfile
from pathlib import Path

import numpy as np

from vaeflow.io import atomic_path, check_format, write_json_atomic
from vaeflow.models.config import ModelConfig
from vaeflow.models.vae import VAE

FORMAT = "vaeflow.model"
VERSION = 1
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


def write_weights(directory: Path, variables, dtype: str = "float32") -> dict:
    """Write `variables` (as `dtype`) to directory/weights.npz atomically; returns the header's
    "weights" entry."""
    arrays = {}
    for i, v in enumerate(variables):
        array = np.asarray(v.numpy())
        with np.errstate(over="ignore"):  # overflow is checked just below, naming the weight
            stored = array.astype(dtype)
        if not np.all(np.isfinite(stored[np.isfinite(array)])):
            raise ValueError(f"weight {v.path} does not fit in {dtype} (largest |w| {np.abs(array).max():.3g})")
        arrays[f"w{i:03d}"] = stored
    with atomic_path(directory / WEIGHTS_FILE) as tmp:
        with open(tmp, "wb") as f:  # a file object, so np.savez keeps the temporary name
            np.savez(f, **arrays)
    return {
        "file": WEIGHTS_FILE,
        "sha256": _sha256(directory / WEIGHTS_FILE),
        "shapes": [list(a.shape) for a in arrays.values()],
        "dtype": dtype,
        "paths": [v.path for v in variables],
    }


def read_weights(directory: Path, header: dict, variables) -> None:
    """Assign directory/weights.npz to `variables`, after checking its hash, count and shapes.

    Raises:
        ValueError: naming the file, for a missing, corrupted, truncated or mismatched file.
    """
    weights_path = directory / WEIGHTS_FILE
    if not weights_path.is_file():
        raise ValueError(f"no weights at {weights_path}")
    if _sha256(weights_path) != header["weights"].get("sha256"):
        raise ValueError(
            f"{weights_path} does not match the sha256 recorded in {directory / CONFIG_FILE}: "
            "the weights are corrupted or belong to another model"
        )
    try:
        with np.load(weights_path, allow_pickle=False) as npz:
            arrays = [npz[f"w{i:03d}"] for i in range(len(npz.files))]
    except (OSError, ValueError, KeyError, zipfile.BadZipFile) as error:
        raise ValueError(f"{weights_path} is not a readable weights file: {error}") from None
    variables = list(variables)
    if len(arrays) != len(variables):
        raise ValueError(
            f"{weights_path} holds {len(arrays)} arrays but the network built from "
            f"{directory / CONFIG_FILE} has {len(variables)} weights"
        )
    for variable, array in zip(variables, arrays):
        if tuple(variable.shape) != array.shape:
            raise ValueError(
                f"{weights_path}: weight {variable.path} has shape {tuple(variable.shape)} in "
                f"the network but {array.shape} in the file"
            )
    for variable, array in zip(variables, arrays):
        if array.dtype.kind != "f":
            raise ValueError(f"{weights_path}: weight {variable.path} is {array.dtype}, not floating point")
        variable.assign(array.astype(variable.dtype))


def read_header(config_path: str | os.PathLike, format: str = FORMAT, version: int = VERSION) -> dict:
    """The parsed config.json of a directory of ours; `ValueError` if it is not `format` and
    `version` (`vaeflow.io.check_format`) or lacks its sections."""
    config_path = Path(config_path)
    try:
        header = json.loads(config_path.read_text())
    except (OSError, ValueError, RecursionError) as error:  # ValueError: JSON and Unicode errors
        raise ValueError(f"{config_path} is not valid JSON: {error or type(error).__name__}") from None
    check_format(header, format, version, str(config_path))
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
