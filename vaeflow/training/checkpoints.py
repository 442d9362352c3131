"""Step checkpoints: a crash or a kill at any moment leaves the last good checkpoint loadable.

Layout under ``runs/<name>/checkpoints/``, kept by a `tf.train.CheckpointManager`:

    ckpt-<n>.index, ckpt-<n>.data-*   model, optimizer (with its step counter) and the trainer's
                                      position (epoch, step in epoch, best val_loss, time, ...)
                                      as one JSON string variable, so weights and position are
                                      written together
    checkpoint                        TensorFlow's pointer to the newest ``ckpt-<n>`` (replaced
                                      atomically after the files are complete)

``n`` counts saves, not steps (a step saved twice, mid-epoch and then at the epoch's end, gets
two prefixes, so a save never overwrites the files of the checkpoint it replaces); the step is
in the position. Only the newest checkpoint is kept, and the older one is deleted only once
the new one is fsync'ed (TensorFlow writes without fsync): after a power loss, too, one of the
two is whole on disk. When the pointer is lost, the newest
``ckpt-<n>`` on disk that loads is used (`StepCheckpoints.restore`). Directories from earlier versions
(``step-<step>/ckpt.*`` + ``state.json``) are still read.
"""

from __future__ import annotations

import json
import os
import re
import shutil
from pathlib import Path
from typing import Any, Sequence

import numpy as np
import tensorflow as tf

from vaeflow.io import fsync


class CheckpointError(ValueError):
    """A checkpoint is missing, corrupted or belongs to a different model."""


_PREFIX = re.compile(r"ckpt-(\d+)\.index")
_LEGACY = re.compile(r"step-(\d+)")
_POSITION_KEY = "position/.ATTRIBUTES/VARIABLE_VALUE"


class StepCheckpoints:
    """The step checkpoints of one run: save the newest, restore the newest good one.

    Arguments:
        directory: the run's ``checkpoints/`` directory (created on the first save).
        checkpoint: a `tf.train.Checkpoint` of the (already built) objects to save and restore.
        variables: the variables that must be finite for a checkpoint to count as good
            (the model's weights and the optimizer's slots); none are checked by default.
    """

    def __init__(self, directory: str | os.PathLike, checkpoint: tf.train.Checkpoint,
                 variables: Sequence[tf.Variable] = ()) -> None:
        self.directory = Path(directory)
        self.objects = checkpoint
        self.variables = [v for v in variables if tf.as_dtype(v.dtype).is_floating]
        self._position = tf.Variable("", dtype=tf.string, trainable=False)
        self._root = tf.train.Checkpoint(run=checkpoint, position=self._position)
        _ = self._root.save_counter  # created now (it is lazy), so that a restore fills it
        self._manager: tf.train.CheckpointManager | None = None

    def save(self, step: int, state: dict[str, Any]) -> Path:
        """Write the objects and `state` (JSON-ready) as the checkpoint of `step`, then drop
        the older one. Returns the new checkpoint's path prefix.
        """
        if self._manager is None:
            self.directory.mkdir(parents=True, exist_ok=True)
            # max_to_keep=2: the manager must not delete the previous checkpoint inside save(),
            # before the new one is fsync'ed; the loop below deletes it once that is done.
            self._manager = tf.train.CheckpointManager(self._root, str(self.directory), max_to_keep=2)
            # Number on from what is on disk, also when TensorFlow's pointer file is lost.
            self._root.save_counter.assign(max(_numbers(self.directory), default=0))
        self._position.assign(json.dumps({**state, "step": int(step)}))
        prefix = self._manager.save()
        # TensorFlow does not fsync: make the new checkpoint and its pointer durable before the
        # older one goes, so after a power loss one of the two is whole on disk.
        for path in self.directory.glob(f"{Path(prefix).name}.*"):
            fsync(path)
        fsync(self.directory / "checkpoint")
        fsync(self.directory)
        # Only now, with the new checkpoint complete and pointed to, do the older ones go
        # (also those the manager does not know of: a lost pointer, earlier versions' step-*).
        for number in _numbers(self.directory):
            old = self.directory / f"ckpt-{number}"
            if str(old) != prefix:
                for path in self.directory.glob(f"ckpt-{number}.*"):
                    path.unlink(missing_ok=True)
        for legacy in self.directory.glob("step-*"):
            shutil.rmtree(legacy, ignore_errors=True)
        return Path(prefix)

    def finite(self) -> bool:
        """Whether every checked variable holds only finite values now."""
        return all(np.isfinite(v.numpy()).all() for v in self.variables)

    def restore(self) -> dict[str, Any] | None:
        """Load the newest good checkpoint into the objects and return its position (with
        "step"); None when there is no checkpoint at all.

        A checkpoint is good when it reads, matches the objects and holds only finite values;
        a bad newest one falls back to an older one still on disk.

        Raises:
            CheckpointError: naming the path, when no checkpoint on disk is good.
        """
        first_error = None
        for kind, prefix, state in _candidates(self.directory):
            try:
                if state is None:
                    raise CheckpointError(f"checkpoint {prefix!r} holds no readable position")
                target = self._root if kind == "ckpt" else self.objects
                status = target.read(prefix)
                status.assert_existing_objects_matched()
                if not self.finite():
                    raise CheckpointError(f"checkpoint {prefix!r} holds non-finite weights")
            except (tf.errors.OpError, AssertionError, ValueError, IndexError, KeyError,
                    OSError) as error:
                if first_error is None:
                    first_error = error if isinstance(error, CheckpointError) else CheckpointError(
                        f"checkpoint {prefix!r} cannot be loaded into this model (corrupted or "
                        f"from a different architecture): {str(error).splitlines()[0]}")
                continue
            return state
        if first_error is not None:
            raise first_error
        return None


def _numbers(directory: Path) -> list[int]:
    """The save numbers n of the ``ckpt-<n>.index`` files in `directory`."""
    if not directory.is_dir():
        return []
    return [int(m[1]) for m in map(_PREFIX.fullmatch, os.listdir(directory)) if m]


def _read_position(prefix: str) -> dict[str, Any] | None:
    try:
        text = tf.train.load_checkpoint(prefix).get_tensor(_POSITION_KEY)
    except (tf.errors.OpError, ValueError, KeyError, TypeError, IndexError, OSError):
        return None  # torn or foreign files: not a candidate (TF's reader raises all of these)
    return _parse_position(text)


def _parse_position(text: str | bytes) -> dict[str, Any] | None:
    """A position: a JSON object with an integer "step"; None for anything else."""
    try:
        state = json.loads(text)
    except (ValueError, RecursionError):
        return None
    step = state.get("step") if isinstance(state, dict) else None
    return state if isinstance(step, int) and not isinstance(step, bool) else None


def _candidates(directory: Path) -> list[tuple[str, str, dict[str, Any] | None]]:
    """(kind, path prefix, position or None) of every checkpoint on disk, newest first.

    The highest ``ckpt-<n>`` is the newest: TensorFlow completes its files before the pointer
    moves and before the older ones go, so this holds with the pointer lost or stale too.
    Earlier versions' ``step-*`` come last.
    """
    if not directory.is_dir():
        return []
    found = [("ckpt", prefix, _read_position(prefix))
             for prefix in (str(directory / f"ckpt-{n}") for n in sorted(_numbers(directory), reverse=True))]
    legacy = sorted(((int(m[1]), directory / m[0])
                     for m in map(_LEGACY.fullmatch, os.listdir(directory)) if m), reverse=True)
    for _, step_dir in legacy:
        try:
            state = _parse_position((step_dir / "state.json").read_text())
        except (OSError, ValueError):
            state = None
        if (step_dir / "ckpt.index").exists():
            found.append(("step", str(step_dir / "ckpt"), state))
    return found


def latest_checkpoint(directory: str | os.PathLike) -> dict[str, Any] | None:
    """``{"path": prefix, "step": int, "state": dict}`` of the newest checkpoint on disk whose
    position reads, or None. (Whether its weights load is `StepCheckpoints.restore`'s check.)
    """
    for _, prefix, state in _candidates(Path(directory)):
        if state is not None:
            return {"path": prefix, "step": int(state["step"]), "state": state}
    return None


def has_checkpoint_files(directory: str | os.PathLike) -> bool:
    """Whether `directory` holds any checkpoint files, readable or not."""
    return bool(_candidates(Path(directory)))


def save_checkpoint(directory: str | os.PathLike, checkpoint: tf.train.Checkpoint, step: int,
                    state: dict[str, Any]) -> Path:
    """`StepCheckpoints(directory, checkpoint).save(step, state)`, for one-off saves."""
    return StepCheckpoints(directory, checkpoint).save(step, state)


def restore_checkpoint(directory: str | os.PathLike,
                       checkpoint: tf.train.Checkpoint) -> dict[str, Any] | None:
    """`StepCheckpoints(directory, checkpoint).restore()`, for one-off restores."""
    return StepCheckpoints(directory, checkpoint).restore()


def sweep_temporaries(directory: str | os.PathLike) -> list[Path]:
    """Delete what killed saves leave in a ``checkpoints/`` directory: TensorFlow's
    ``ckpt-<n>_temp`` shards and pointer temp files, and earlier versions' ``.step-*.tmp``.
    Call it only while holding the run's lock. Returns what was deleted.
    """
    directory = Path(directory)
    if not directory.is_dir():
        return []
    swept = []
    for path in directory.iterdir():
        name = path.name
        if (re.fullmatch(r"ckpt-\d+_temp.*", name) or name.startswith("checkpoint.tmp")
                or (name.startswith(".") and name.endswith(".tmp"))):
            shutil.rmtree(path, ignore_errors=True) if path.is_dir() else path.unlink(missing_ok=True)
            swept.append(path)
    return swept
