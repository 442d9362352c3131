"""What a training run does besides training, one concern per callback.

`vaeflow.training.loop` steps through the epochs, validates and makes the run's records; the
callbacks here act on them, in list order, as Keras' and pythae's do:

    NonFiniteStop   fail the run on a NaN/inf loss (the last good checkpoint stays)
    ProgressBar     a tqdm bar on stderr
    MetricsLog      metrics.jsonl, one JSON line per record
    TensorBoardLog  event files under tb/ (the public ``tf.summary`` API when TensorBoard is
                    installed; TensorFlow's own writer otherwise)
    BestModel       model/ holds the weights of the lowest val_loss
    EarlyStopping   stop after ``patience`` epochs without a lower val_loss
    Checkpointing   step checkpoints (every ``checkpoint_every_s``, each epoch, at the end)

A callback that must survive a resume returns its position from `state` and takes it back in
`restore`; the loop stores them all inside the step checkpoint, so a resumed run continues
exactly. Records (see ARCHITECTURE.md) are dicts with ``kind`` "window", "epoch" or "end".
"""

from __future__ import annotations

import math
import os
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any, Sequence

import tensorflow as tf

from vaeflow.io import atomic_directory
from vaeflow.training.checkpoints import StepCheckpoints, latest_checkpoint
from vaeflow.training.trainer import NonFiniteLossError

if TYPE_CHECKING:
    from vaeflow.training.loop import Loop


class Callback:
    """One concern of a training run. Every hook is optional; the loop calls them in list order.

    The loop passed to each hook exposes ``config``, ``trainer`` (``.step``, ``.model``),
    ``run`` (a `RunDir` or None), ``epoch`` (completed epochs), ``step_in_epoch``,
    ``elapsed()``, ``log(message)`` and ``stop_reason``: set it to ``(state, reason)`` to end
    the run after the current step or epoch.
    """

    def on_train_begin(self, loop: "Loop") -> None:
        """Before the first step of this process (also after a resume)."""

    def on_step_end(self, loop: "Loop", terms: dict[str, float]) -> None:
        """After each optimizer step, with its batch means (may be non-finite)."""

    def on_window_end(self, loop: "Loop", record: dict[str, Any]) -> None:
        """After every ``steps_per_window`` steps, with the window's record."""

    def on_epoch_end(self, loop: "Loop", record: dict[str, Any]) -> None:
        """After each epoch's validation, with the epoch's record (``loop.epoch`` counts it)."""

    def on_train_end(self, loop: "Loop", record: dict[str, Any] | None) -> None:
        """When the run ends normally; `record` is the ``end`` record of a run that ended
        mid-epoch (validated once more), else None."""

    def close(self) -> None:
        """Release resources; called however the run ends, errors included."""

    def state(self) -> dict[str, Any]:
        """JSON-ready position that a resumed run needs (saved with each checkpoint)."""
        return {}

    def restore(self, state: dict[str, Any]) -> None:
        """Take back what `state` returned, from the checkpoint the run resumes from."""


def _validation(record: dict[str, Any]) -> dict[str, float]:
    return {k: v for k, v in record.items() if k.startswith("val_")}


class NonFiniteStop(Callback):
    """Fail the run (`NonFiniteLossError`) when a training or validation loss is NaN/inf,
    naming the step and the last good checkpoint, which stays in checkpoints/."""

    def on_step_end(self, loop, terms):
        if not all(math.isfinite(v) for v in terms.values()):
            self.fail(loop, "training loss", terms, loop.epoch + 1)

    def on_epoch_end(self, loop, record):
        val = _validation(record)
        if not all(v is not None and math.isfinite(v) for v in val.values()):
            self.fail(loop, "validation loss", val, loop.epoch)

    @staticmethod
    def fail(loop, where: str, values: dict[str, Any], epoch: int) -> None:
        last = None
        if loop.run is not None:
            latest = latest_checkpoint(loop.run.checkpoints_dir)
            last = latest and f"step {latest['step']} at {latest['path']}"
        raise NonFiniteLossError(
            f"non-finite {where} at step {loop.trainer.step} (epoch {epoch})"
            + "".join(f"{': ' if i == 0 else ', '}{k}={v}" for i, (k, v) in enumerate(values.items()))
            + f"; kept the last good checkpoint ({last or 'none yet'}). Try a lower learning rate.")


class ProgressBar(Callback):
    """A tqdm bar over all the run's steps, starting at the step the run is at."""

    def __init__(self) -> None:
        self.bar = None

    def on_train_begin(self, loop):
        from tqdm import tqdm

        self.bar = tqdm(total=loop.config.epochs * loop.steps_per_epoch, initial=loop.trainer.step,
                        unit="step", dynamic_ncols=True)

    def on_step_end(self, loop, terms):
        self.bar.update(1)
        self.bar.set_postfix(loss=f"{terms['loss']:.1f}", epoch=loop.epoch + 1)

    def close(self):
        if self.bar is not None:
            self.bar.close()
            self.bar = None


class MetricsLog(Callback):
    """Append every record to the run's metrics.jsonl."""

    def on_window_end(self, loop, record):
        loop.run.append_metrics(record)

    on_epoch_end = on_window_end

    def on_train_end(self, loop, record):
        if record is not None:
            loop.run.append_metrics(record)


def _public_scalar_summary():
    """`tf.summary.scalar` when the tensorboard package provides it, else None."""
    try:
        import tensorboard  # noqa: F401 -- tf.summary.scalar is TensorBoard's, loaded lazily
    except ImportError:
        return None
    return getattr(tf.summary, "scalar", None)


class TensorBoardLog(Callback):
    """Every record's numbers as TensorBoard scalars under tb/, named as in metrics.jsonl, at
    the record's step. Uses ``tf.summary.scalar`` when TensorBoard is installed; without it,
    writes the same scalar events through ``tf.summary.write`` (TensorFlow alone)."""

    def __init__(self, directory: str | os.PathLike) -> None:
        self.directory = str(directory)
        self.writer = None
        self.scalar = _public_scalar_summary() or _scalar_without_tensorboard

    def on_window_end(self, loop, record):
        if self.writer is None:
            self.writer = tf.summary.create_file_writer(self.directory)
        with self.writer.as_default(step=record["step"]):
            for name, value in record.items():
                if name not in ("kind", "step") and value is not None:
                    self.scalar(name, float(value), step=record["step"])
        self.writer.flush()

    on_epoch_end = on_window_end

    def on_train_end(self, loop, record):
        if record is not None:
            self.on_window_end(loop, record)

    def close(self):
        if self.writer is not None:
            self.writer.close()
            self.writer = None


def _scalar_without_tensorboard(name: str, value: float, step: int) -> None:
    from tensorflow.core.framework import summary_pb2

    metadata = summary_pb2.SummaryMetadata(
        plugin_data=summary_pb2.SummaryMetadata.PluginData(plugin_name="scalars"),
        data_class=summary_pb2.DATA_CLASS_SCALAR).SerializeToString()
    tf.summary.write(name, tf.constant(value, tf.float32), step=step, metadata=metadata)


class BestModel(Callback):
    """Keep the weights of the lowest validation loss in the run's model/ (and a model there at
    the end in any case). ``best_val_loss`` improves only by more than ``min_delta``."""

    def __init__(self, min_delta: float = 0.0) -> None:
        self.min_delta = min_delta
        self.best_val_loss: float | None = None

    def improves(self, val_loss: float) -> bool:
        return self.best_val_loss is None or val_loss < self.best_val_loss - self.min_delta

    def on_epoch_end(self, loop, record):
        if self.improves(record["val_loss"]):
            self.best_val_loss = record["val_loss"]
            self.save(loop)

    def on_train_end(self, loop, record):
        val_loss = None if record is None else record["val_loss"]
        if val_loss is not None and math.isfinite(val_loss) and self.improves(val_loss):
            self.best_val_loss = val_loss
            self.save(loop)
        elif loop.run is not None and not loop.run.model_dir.exists():
            self.save(loop)

    @staticmethod
    def save(loop) -> None:
        if loop.run is not None:
            save_model_atomic(loop.trainer.model, loop.run.model_dir)

    def state(self):
        return {"best_val_loss": self.best_val_loss}

    def restore(self, state):
        self.best_val_loss = state.get("best_val_loss")


class EarlyStopping(Callback):
    """End the run ("done") after `patience` epochs in a row without a val_loss lower than
    the best by more than `min_delta`."""

    def __init__(self, patience: int, min_delta: float = 0.0) -> None:
        self.patience, self.min_delta = patience, min_delta
        self.best: float | None = None
        self.bad_epochs = 0

    def on_epoch_end(self, loop, record):
        if self.best is None or record["val_loss"] < self.best - self.min_delta:
            self.best, self.bad_epochs = record["val_loss"], 0
        else:
            self.bad_epochs += 1
        if self.bad_epochs >= self.patience:
            loop.stop_reason = ("done", f"early stopping: no val_loss improvement in "
                                        f"{self.patience} epochs")

    def state(self):
        return {"bad_epochs": self.bad_epochs, "early_stopping_best": self.best}

    def restore(self, state):
        self.bad_epochs = int(state.get("bad_epochs", 0))
        # checkpoints of earlier versions kept one best for both
        self.best = state.get("early_stopping_best", state.get("best_val_loss"))


class Checkpointing(Callback):
    """Step checkpoints of the model, the optimizer and every callback's `state`: mid-epoch
    when ``checkpoint_every_s`` has passed, after each epoch and at the end.

    A checkpoint is written only when every weight is finite (else the run fails: the last good
    checkpoint must stay good). A resumed run's config.json (`pending_config`) is written with
    the first checkpoint after a finite validation, once the resume is known to work.
    """

    def __init__(self, checkpoints: StepCheckpoints, every_s: float,
                 pending_config: dict[str, Any] | None = None) -> None:
        self.checkpoints, self.every_s = checkpoints, every_s
        self.pending_config = pending_config
        self.validated = False
        self.last_time = time.perf_counter()

    def on_train_begin(self, loop):
        self.last_time = time.perf_counter()

    def on_step_end(self, loop, terms):
        if loop.stop_reason is None and time.perf_counter() - self.last_time >= self.every_s:
            self.save(loop)

    def on_epoch_end(self, loop, record):
        self.validated = True  # NonFiniteStop, earlier in the list, let a finite validation by
        self.save(loop)

    def on_train_end(self, loop, record):
        if record is not None:
            self.validated = all(v is not None and math.isfinite(v)
                                 for v in _validation(record).values())
        self.save(loop)

    def save(self, loop) -> None:
        if not self.checkpoints.finite():
            NonFiniteStop.fail(loop, "weights", {}, loop.epoch + (loop.step_in_epoch > 0))
        loop.run.sync_metrics()  # the records this checkpoint counts as written, on disk first
        self.checkpoints.save(loop.trainer.step, loop.state())
        if self.pending_config is not None and self.validated:
            loop.run.write_config(self.pending_config)
            self.pending_config = None
        self.last_time = time.perf_counter()


def save_model_atomic(model: Any, directory: Path) -> None:
    """`vaeflow.save_model` into a temporary sibling, then swap it into `directory`."""
    from vaeflow.models import save_model

    with atomic_directory(directory) as staging:
        save_model(model, staging)


def default_callbacks(config, run, checkpoints: StepCheckpoints | None, *, progress: bool,
                      pending_config: dict[str, Any] | None = None,
                      extra: Sequence[Callback] = ()) -> list[Callback]:
    """The callbacks `train` runs with, in order: the NaN stop first (nothing is written for a
    non-finite step or epoch), then `extra` after the built-in ones, checkpoints last (they
    save everyone else's state)."""
    callbacks: list[Callback] = [NonFiniteStop()]
    if progress:
        callbacks.append(ProgressBar())
    if run is not None:
        callbacks += [MetricsLog(), TensorBoardLog(run.tb_dir)]
    callbacks.append(BestModel(config.min_delta))
    if config.patience is not None:
        callbacks.append(EarlyStopping(config.patience, config.min_delta))
    callbacks += list(extra)
    if checkpoints is not None:
        callbacks.append(Checkpointing(checkpoints, config.checkpoint_every_s, pending_config))
    return callbacks
