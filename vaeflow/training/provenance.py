"""What a run was trained on: recorded in its config.json, read back with visible warnings.

The record is the ``"data_source"`` entry of ``runs/<name>/config.json``:

    {"kind": "dataset", "path": abs path, "sha256": hex, "bytes": int, "mtime_ns": int,
     "n_images": int, "seed": int | null, "spec": FlowSpec.to_dict()}
    {"kind": "stream", "seed": int, "spec": FlowSpec.to_dict()}

`run_data_source` gives every reader (the Explore page, ``evaluate``) the spec the model was
trained on and, never silently, what is wrong with it: a run without a record, a dataset that
is gone or was replaced since.
"""

from __future__ import annotations

import dataclasses
import hashlib
import os
from pathlib import Path
from typing import Any

from vaeflow import validate
from vaeflow.flows.spec import FlowSpec
from vaeflow.training.config import TrainConfig


def stream_spec(image_size: int) -> FlowSpec:
    """The flow a streamed run renders: the study's chain at the model's image size."""
    return FlowSpec(image_size=image_size)


def file_sha256(path: str | os.PathLike) -> str:
    """The hex SHA-256 of a file, read in 1 MiB blocks."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(2**20), b""):
            digest.update(block)
    return digest.hexdigest()


def data_source_record(config: TrainConfig, image_size: int = 36) -> dict[str, Any]:
    """The ``data_source`` entry for a run that trains as `config` says (see the module doc).

    Never raises: a dataset that cannot be read is recorded with an ``"error"`` (the trainer
    then fails on it with its own message).
    """
    if config.stream:
        return {"kind": "stream", "seed": config.seed, "spec": stream_spec(image_size).to_dict()}
    from vaeflow.datasets import read_header

    path = os.path.abspath(str(config.data))
    try:
        header = read_header(path)
        stat = os.stat(path)
        return {"kind": "dataset", "path": path, "sha256": file_sha256(path), "bytes": stat.st_size,
                "mtime_ns": stat.st_mtime_ns, "n_images": header.n_images, "seed": header.seed,
                "spec": header.spec.to_dict()}
    except (OSError, ValueError) as error:
        return {"kind": "dataset", "path": path, "error": str(error)}


@dataclasses.dataclass(frozen=True)
class DataSource:
    """The spec a model was trained on, as far as its run can tell.

    Attributes:
        spec: the recorded spec; the study's `FlowSpec` (at the model's image size) when the
            run records none, and then `warnings` says so.
        kind: ``"dataset"``, ``"stream"``, ``"pretrained"`` or ``"unknown"``.
        path: the dataset file, for ``"dataset"``.
        warnings: one sentence each, naming the file concerned; empty when all is well.
    """

    spec: FlowSpec
    kind: str
    path: str | None = None
    warnings: tuple[str, ...] = ()


def run_data_source(run_dir: str | os.PathLike) -> DataSource:
    """What the model in `run_dir` was trained on, from its config.json's ``data_source``.

    `run_dir` may be a run directory (``runs/NAME``), its ``model/`` directory, or a model
    directory such as ``pretrained/`` (trained on the study's flow).

    Warnings (never exceptions) when: the run records no source (runs made before the record
    existed: the spec is then read from the dataset file named in the config, if it is still
    there); the recorded dataset is missing; it was changed since training (size, time and
    SHA-256 differ). In every case the spec returned is the one the run recorded, if any.
    """
    from vaeflow.models.io import PRETRAINED_DIR
    from vaeflow.training.runs import RunDir

    path = Path(run_dir)
    if path.name == "model" and (path.parent / "config.json").is_file():
        path = path.parent
    if path.resolve() == Path(PRETRAINED_DIR).resolve():
        return DataSource(FlowSpec(), "pretrained")
    config_path = path / "config.json"
    try:
        config = RunDir.from_path(path).read_config()
    except ValueError as error:
        return DataSource(FlowSpec(), "unknown", None, (f"{error}; using the study's flow spec",))
    if not config or "train" not in config:
        return DataSource(FlowSpec(), "unknown", None, (
            f"{config_path} records no training data (not a run); using the study's flow spec",))
    image_size = _image_size(config)
    record = config.get("data_source")
    if isinstance(record, dict) and isinstance(record.get("spec"), dict):
        try:
            spec = FlowSpec.from_dict(record["spec"])
        except ValueError as error:
            return DataSource(stream_spec(image_size), "unknown", None, (
                f"{config_path}: the recorded data_source spec is invalid ({error}); "
                "using the study's flow spec",))
        if record.get("kind") == "stream":
            return DataSource(spec, "stream")
        return DataSource(spec, "dataset", record.get("path"), _dataset_warnings(record, config_path))
    return _legacy_source(config, config_path, image_size)


def _image_size(config: dict[str, Any]) -> int:
    model = config.get("model")
    try:
        return validate.integer("image_size", model.get("image_size", 36), 8, 512)
    except (AttributeError, ValueError):  # a damaged model section: the study's size
        return 36


def _dataset_warnings(record: dict[str, Any], config_path: Path) -> tuple[str, ...]:
    data = record.get("path")
    if not isinstance(data, str):
        return (f"{config_path}: the data_source names no dataset file",)
    try:
        stat = os.stat(data)
    except FileNotFoundError:
        return (f"the dataset {data} this run trained on is missing; using the spec recorded in "
                f"{config_path}",)
    except OSError as error:
        return (f"the dataset {data} this run trained on cannot be read ({error.strerror}); "
                f"using the spec recorded in {config_path}",)
    if stat.st_size == record.get("bytes") and stat.st_mtime_ns == record.get("mtime_ns"):
        return ()  # unchanged since training, without hashing it again
    try:
        same = file_sha256(data) == record.get("sha256")
    except OSError:
        same = False
    if same:
        return ()
    return (f"the dataset {data} was replaced since this run trained on it (its SHA-256 differs); "
            f"using the spec recorded in {config_path}",)


def _legacy_source(config: dict[str, Any], config_path: Path, image_size: int) -> DataSource:
    """A run from before the ``data_source`` record: its spec from the files it names."""
    train = config.get("train") if isinstance(config.get("train"), dict) else {}
    if train.get("stream"):
        return DataSource(stream_spec(image_size), "stream")
    data = train.get("data")
    if not isinstance(data, str):
        return DataSource(stream_spec(image_size), "unknown", None, (
            f"{config_path} names no dataset; using the study's flow spec",))
    from vaeflow.datasets import read_header

    try:
        spec = read_header(data).spec
    except (OSError, ValueError) as error:
        reason = "is missing" if isinstance(error, FileNotFoundError) else f"cannot be read ({error})"
        return DataSource(stream_spec(image_size), "dataset", data, (
            f"the dataset {data} named in {config_path} {reason}, and the run records no spec of "
            "its own; using the study's flow spec",))
    return DataSource(spec, "dataset", data, (
        f"{config_path} records no data_source (an older run); the spec is read from {data}, "
        "which may have changed since the run trained on it",))
