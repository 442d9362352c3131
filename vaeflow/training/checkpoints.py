"""Atomic checkpoints: a crash or a kill at any moment leaves the last good checkpoint loadable.

Layout under ``runs/<name>/checkpoints/``:

    step-000000123/ckpt.*      tf.train.Checkpoint of model, optimizer (with its step counter)
    step-000000123/state.json  the trainer's position (epoch, step in epoch, best val_loss, time)
    latest.json                {"dir": "step-000000123", "step": 123}

A checkpoint is written into a hidden temporary directory, renamed into place, and only then does
latest.json (replaced atomically) point at it; older step directories are deleted afterwards.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

import tensorflow as tf

from vaeflow.io import write_json_atomic


class CheckpointError(ValueError):
    """A checkpoint is missing, corrupted or belongs to a different model."""


def _step_dir_name(step: int) -> str:
    return f"step-{step:09d}"


def latest_checkpoint(directory: str | os.PathLike) -> dict[str, Any] | None:
    """``{"dir": Path, "step": int, "state": dict}`` of the last good checkpoint, or None."""
    directory = Path(directory)
    try:
        pointer = json.loads((directory / "latest.json").read_text())
        step_dir = directory / pointer["dir"]
        state = json.loads((step_dir / "state.json").read_text())
    except FileNotFoundError:
        return None
    except (json.JSONDecodeError, KeyError, TypeError) as error:
        raise CheckpointError(f"checkpoint pointer in {str(directory)!r} is corrupted: {error}") from None
    return {"dir": step_dir, "step": int(pointer["step"]), "state": state}


def save_checkpoint(directory: str | os.PathLike, checkpoint: tf.train.Checkpoint, step: int,
                    state: dict[str, Any]) -> Path:
    """Write `checkpoint` and `state` as the checkpoint of `step`; return its directory.

    Arguments:
        directory: the run's ``checkpoints/`` directory (created on demand).
        checkpoint: holds the model and optimizer.
        step: the optimizer step the weights belong to.
        state: JSON-ready trainer position, saved beside the weights.
    """
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    final = directory / _step_dir_name(step)
    staging = Path(tempfile.mkdtemp(prefix=f".{final.name}.", suffix=".tmp", dir=directory))
    try:
        checkpoint.write(str(staging / "ckpt"))
        write_json_atomic(staging / "state.json", {**state, "step": step})
        if final.exists():  # the same step saved twice (stop right after an epoch's save)
            shutil.rmtree(final)
        os.replace(staging, final)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    write_json_atomic(directory / "latest.json", {"dir": final.name, "step": step})
    for old in directory.glob("step-*"):
        if old.name != final.name:
            shutil.rmtree(old, ignore_errors=True)
    for stale in directory.glob(".step-*.tmp"):  # left by a process killed mid-write
        shutil.rmtree(stale, ignore_errors=True)
    return final


def restore_checkpoint(directory: str | os.PathLike,
                       checkpoint: tf.train.Checkpoint) -> dict[str, Any] | None:
    """Load the last good checkpoint into `checkpoint`'s (already built) objects.

    Returns:
        The saved trainer state (with "step"), or None when there is no checkpoint.

    Raises:
        CheckpointError: naming the path, when the files are corrupted or hold another model.
    """
    latest = latest_checkpoint(directory)
    if latest is None:
        return None
    prefix = str(latest["dir"] / "ckpt")
    try:
        status = checkpoint.read(prefix)
        status.assert_existing_objects_matched()
    except (tf.errors.OpError, AssertionError, ValueError, IndexError, KeyError, OSError) as error:
        raise CheckpointError(
            f"checkpoint {prefix!r} cannot be loaded into this model "
            f"(corrupted or from a different architecture): {str(error).splitlines()[0]}") from None
    return latest["state"]
