"""`train`: the loop that turns a `TrainConfig` into a finished run directory.

Per epoch it trains on the source's images in whole global batches, writes a ``window`` record
every `steps_per_window` steps and an ``epoch`` record after validating, keeps the best model in
``model/``, checkpoints, and stops on the last epoch, early stopping, the time limit, a stop
request (SIGTERM) or a non-finite loss (which fails the run and keeps the last good checkpoint).
"""

from __future__ import annotations

import contextlib
import dataclasses
import math
import os
import shutil
import tempfile
import threading
import time
from pathlib import Path
from typing import Any, Callable

import keras
import tensorflow as tf
from tensorflow.core.framework import summary_pb2

from vaeflow.devices import training_device
from vaeflow.training.checkpoints import latest_checkpoint, restore_checkpoint, save_checkpoint
from vaeflow.training.config import TrainConfig
from vaeflow.training.data import make_source
from vaeflow.training.provenance import data_source_record
from vaeflow.training.process import RunLog, StopFlag
from vaeflow.training.runs import RunDir
from vaeflow.training.trainer import TERMS, NonFiniteLossError, Trainer, is_chief, make_strategy

_SCALAR_METADATA = summary_pb2.SummaryMetadata(
    plugin_data=summary_pb2.SummaryMetadata.PluginData(plugin_name="scalars"),
    data_class=summary_pb2.DATA_CLASS_SCALAR).SerializeToString()


@dataclasses.dataclass(frozen=True)
class TrainResult:
    """How a run ended. `state` is "done" or "stopped"; `reason` says why it ended."""

    state: str
    reason: str
    step: int
    epoch: int
    best_val_loss: float | None
    model: Any = dataclasses.field(repr=False, compare=False)


def _default_build_model(model_config: Any) -> Callable[[], keras.Model]:
    from vaeflow.models import VAE

    return lambda: VAE(model_config)


def _model_config_dict(model_config: Any) -> dict[str, Any]:
    if hasattr(model_config, "to_dict"):
        return model_config.to_dict()
    return dataclasses.asdict(model_config)


def _save_model_atomic(model: keras.Model, directory: Path) -> None:
    """`vaeflow.save_model` into a temporary sibling, then swap it into `directory`."""
    from vaeflow.models import save_model

    staging = Path(tempfile.mkdtemp(prefix=f".{directory.name}.", suffix=".tmp", dir=directory.parent))
    old = directory.with_name(f".{directory.name}.old")
    try:
        save_model(model, staging)
        shutil.rmtree(old, ignore_errors=True)
        if directory.exists():
            os.replace(directory, old)
        os.replace(staging, directory)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
        shutil.rmtree(old, ignore_errors=True)


def train(config: TrainConfig, model_config: Any = None, run_dir: RunDir | str | os.PathLike | None = None,
          *, resume: bool = False, build_model: Callable[[], keras.Model] | None = None,
          progress: bool = False, echo: bool = False, stop_event: threading.Event | None = None,
          strategy: tf.distribute.Strategy | None = None) -> TrainResult:
    """Train a VAE as `config` says, writing everything into `run_dir`.

    Arguments:
        config: the recipe and the data source (``data`` or ``stream``).
        model_config: the architecture (a `vaeflow.ModelConfig`); ignored when `build_model` is
            given (tests use tiny stand-ins).
        run_dir: a `RunDir` or a path ``runs/NAME``; None trains without writing files.
        resume: continue from the run's last checkpoint (same step, epoch, best val_loss);
            False refuses a directory that already holds a run.
        progress: show a tqdm bar on stderr.
        echo: copy log lines to stderr.
        stop_event: when set (or on SIGTERM/SIGINT in the main thread) the loop finishes the
            current step, checkpoints, saves the model and returns state "stopped".
        strategy: overrides `config.distribute`.

    Returns:
        A `TrainResult` ("done" after the last epoch, early stopping or the time limit;
        "stopped" on request).

    Raises:
        NonFiniteLossError: the loss became NaN/inf; status.json says "failed" and names the
            step, and the last good checkpoint stays in checkpoints/.
        ValueError: bad data, or `run_dir` already holds a run and `resume` is False.
        RunLockedError: another process is training `run_dir`; nothing in it was changed.
    """
    run = RunDir.from_path(run_dir) if run_dir is not None and not isinstance(run_dir, RunDir) else run_dir
    # First: MultiWorkerMirroredStrategy must exist before TF's runtime starts.
    strategy = strategy or make_strategy(config.distribute)
    if run is not None and not is_chief(strategy):
        # Every worker trains and checkpoints; the chief's files are the run's, the others'
        # go to workers/worker-<i>/ inside it, so nothing is written twice to one path.
        run = RunDir(run.path / "workers", f"worker-{strategy.cluster_resolver.task_id}")
    if run is None:
        return _train_and_record(config, model_config, None, resume, build_model, progress, echo,
                                 stop_event, strategy)
    # Held for the whole run, before anything in the directory is read or written: a second
    # writer (another CLI, the app, a notebook) is refused and changes nothing.
    with run.lock():
        _prepare_run_dir(run, config, model_config if build_model is None else None, resume)
        return _train_and_record(config, model_config, run, resume, build_model, progress, echo,
                                 stop_event, strategy)


def _train_and_record(config, model_config, run, resume, build_model, progress, echo, stop_event,
                      strategy) -> TrainResult:
    """`_train` with the stop flag and log installed; a failure is recorded in status.json."""
    stop = StopFlag(stop_event)
    stop.install()
    log = RunLog(run, echo)
    try:
        return _train(config, model_config, run, resume, build_model, progress, stop, log, strategy)
    except BaseException as error:
        message = f"{type(error).__name__}: {error}"[:4000]
        if run is not None:
            run.write_status("failed", error=message, pid=os.getpid())
        log(f"FAILED {message}")
        raise
    finally:
        stop.restore()
        log.close()


def _prepare_run_dir(run: RunDir, config: TrainConfig, model_config: Any, resume: bool) -> None:
    saved = run.read_config()
    if resume:
        if not saved:
            raise ValueError(f"run_dir {str(run.path)!r} has no run to resume")
    elif saved or run.metrics_path.exists() or run.checkpoints_dir.exists():
        raise ValueError(f"run_dir {str(run.path)!r} already holds a run; pass resume=True "
                         "(--resume) or choose another name")
    run.create()
    record = {"train": config.to_dict(),
              "data_source": data_source_record(config, getattr(model_config, "image_size", 36))}
    if model_config is not None:
        record["model"] = _model_config_dict(model_config)
    run.write_config({**saved, **record})
    run.write_status("running", pid=os.getpid(), device=training_device())


@contextlib.contextmanager
def _cpu_op_determinism():
    """Deterministic kernels on CPU for the duration of a run (bit-identical runs for a fixed
    seed), restored afterwards so a host process (tests, notebooks) is left as it was.
    """
    from tensorflow.python.framework import config as framework_config  # for is/disable

    was_enabled = framework_config.is_op_determinism_enabled()
    if not tf.config.list_physical_devices("GPU"):
        tf.config.experimental.enable_op_determinism()
    try:
        yield
    finally:
        if not was_enabled:
            framework_config.disable_op_determinism()


def _train(config, model_config, run, resume, build_model, progress, stop, log, strategy) -> TrainResult:
    with _cpu_op_determinism():
        return _train_deterministically(config, model_config, run, resume, build_model, progress,
                                        stop, log, strategy)


def _train_deterministically(config, model_config, run, resume, build_model, progress, stop, log,
                             strategy) -> TrainResult:
    build_model = build_model or _default_build_model(model_config)
    started = time.perf_counter()
    image_size = getattr(model_config, "image_size", 36) if model_config is not None else 36
    source = make_source(config, image_size)
    try:
        steps_per_epoch = source.epoch_size // config.batch_size
        if steps_per_epoch < 1:
            raise ValueError(f"TrainConfig.batch_size ({config.batch_size}) exceeds the "
                             f"{source.epoch_size} training images of {source.label}")
        trainer = Trainer(build_model, config, steps_per_epoch, strategy)
        log(f"device: {training_device()}; replicas: {trainer.replicas}; data: {source.label} "
            f"({source.epoch_size} images/epoch, {len(source.val_images)} validation); "
            f"jit_compile: {trainer.jit_compile}; prepared in {time.perf_counter() - started:.1f}s")
        loop = _Loop(config, trainer, source, run, steps_per_epoch, stop, log, progress)
        if resume and run is not None:
            loop.restore()
        return loop.run()
    finally:
        source.close()


class _Loop:
    """The epoch/step loop and its bookkeeping (windows, validation, checkpoints, stopping)."""

    def __init__(self, config, trainer, source, run, steps_per_epoch, stop, log, progress) -> None:
        self.config, self.trainer, self.source, self.rundir = config, trainer, source, run
        self.steps_per_epoch, self.stop, self.log, self.progress = steps_per_epoch, stop, log, progress
        self.epoch = 0  # completed epochs
        self.step_in_epoch = 0
        self.best_val_loss: float | None = None
        self.bad_epochs = 0
        self.elapsed_before = 0.0  # training seconds of earlier segments (resume)
        self.checkpoint_dir = None if run is None else run.checkpoints_dir
        self.writer = None
        self.segment_start = self.last_checkpoint_time = time.perf_counter()

    # state ------------------------------------------------------------------------------------
    def state(self) -> dict[str, Any]:
        return {"epoch": self.epoch, "step_in_epoch": self.step_in_epoch,
                "best_val_loss": self.best_val_loss, "bad_epochs": self.bad_epochs,
                "elapsed_s": self.elapsed()}

    def restore(self) -> None:
        state = restore_checkpoint(self.checkpoint_dir, self.trainer.checkpoint)
        if state is None:
            self.log(f"no checkpoint in {self.rundir.checkpoints_dir}; starting from step 0")
            self.rundir.truncate_metrics(0)
            return
        self.epoch, self.step_in_epoch = int(state["epoch"]), int(state["step_in_epoch"])
        self.best_val_loss = state["best_val_loss"]
        self.bad_epochs = int(state["bad_epochs"])
        self.elapsed_before = float(state["elapsed_s"])
        self.rundir.truncate_metrics(self.trainer.step)
        self.log(f"resumed from step {self.trainer.step} (epoch {self.epoch}, "
                 f"{self.step_in_epoch} steps into it)")

    def elapsed(self) -> float:
        return self.elapsed_before + time.perf_counter() - self.segment_start

    def checkpoint(self) -> None:
        if self.checkpoint_dir is not None:
            save_checkpoint(self.checkpoint_dir, self.trainer.checkpoint, self.trainer.step,
                            self.state())
        self.last_checkpoint_time = time.perf_counter()

    def emit(self, record: dict[str, Any]) -> None:
        if self.rundir is None:
            return
        self.rundir.append_metrics(record)
        if self.writer is None:
            self.writer = tf.summary.create_file_writer(str(self.rundir.tb_dir))
        with self.writer.as_default(step=record["step"]):
            for name, value in record.items():
                if name not in ("kind", "step") and value is not None:
                    # tf.summary.scalar needs the tensorboard package; this writes the same
                    # event (scalar plugin metadata) with TensorFlow alone.
                    tf.summary.write(name, tf.constant(value, tf.float32),
                                     metadata=_SCALAR_METADATA)
        self.writer.flush()

    def improves(self, val_loss: float) -> bool:
        return self.best_val_loss is None or val_loss < self.best_val_loss - self.config.min_delta

    def save_model(self) -> None:
        """Write the current weights to the run's model/."""
        if self.rundir is not None:
            _save_model_atomic(self.trainer.model, self.rundir.model_dir)

    def fail_non_finite(self, where: str, terms: dict[str, float]) -> None:
        last = self.checkpoint_dir and _describe_checkpoint(self.checkpoint_dir)
        message = (f"non-finite {where} at step {self.trainer.step} (epoch {self.epoch + 1}): "
                   + ", ".join(f"{k}={v}" for k, v in terms.items())
                   + f"; kept the last good checkpoint ({last or 'none yet'}). "
                   "Try a lower learning rate.")
        raise NonFiniteLossError(message)

    # loop -------------------------------------------------------------------------------------
    def run(self) -> TrainResult:
        self.segment_start = time.perf_counter()
        total_steps = self.config.epochs * self.steps_per_epoch
        bar = None
        if self.progress:
            from tqdm import tqdm

            bar = tqdm(total=total_steps, initial=self.trainer.step, unit="step", dynamic_ncols=True)
        reason = "finished all epochs"
        state = "done"
        try:
            while self.epoch < self.config.epochs:
                outcome = self.run_epoch(bar)
                if outcome is not None:
                    state, reason = outcome
                    break
        finally:
            if bar is not None:
                bar.close()
        if self.step_in_epoch:  # ended mid-epoch: the newest weights may be the best ones
            val = self.trainer.evaluate(self.source.val_images)
            # Recorded (kind "end") so the run's files agree with its status on the last step
            # and the best validation loss.
            self.emit({"kind": "end", "epoch": self.epoch, "step": self.trainer.step,
                       **{f"val_{k}": v for k, v in val.items()}, "time": self.elapsed()})
            if math.isfinite(val["loss"]) and self.improves(val["loss"]):
                self.best_val_loss = val["loss"]
                self.save_model()
        self.checkpoint()
        if self.rundir is not None and not self.rundir.model_dir.exists():
            self.save_model()
        if self.rundir is not None:
            self.rundir.write_status(state, pid=os.getpid(), reason=reason, step=self.trainer.step,
                                  epoch=self.epoch, best_val_loss=self.best_val_loss)
        self.log(f"{state}: {reason}; step {self.trainer.step}, epoch {self.epoch}, "
                 f"best val_loss {self.best_val_loss}, {self.elapsed():.1f}s of training")
        return TrainResult(state, reason, self.trainer.step, self.epoch, self.best_val_loss,
                           self.trainer.model)

    def run_epoch(self, bar) -> tuple[str, str] | None:
        """Train the rest of the current epoch, then validate. Returns (state, reason) to end."""
        config, trainer = self.config, self.trainer
        images = self.source.epoch_images(self.epoch)
        epoch_sums, epoch_steps = dict.fromkeys(TERMS, 0.0), 0
        window_sums, window_steps = dict.fromkeys(TERMS, 0.0), 0
        window_start = epoch_start = time.perf_counter()
        for batch in trainer.distribute(images, skip_batches=self.step_in_epoch):
            terms = trainer.train_step(batch)
            self.step_in_epoch += 1
            if not all(math.isfinite(v) for v in terms.values()):
                self.fail_non_finite("training loss", terms)
            for name in TERMS:
                window_sums[name] += terms[name]
                epoch_sums[name] += terms[name]
            window_steps += 1
            epoch_steps += 1
            if bar is not None:
                bar.update(1)
                bar.set_postfix(loss=f"{terms['loss']:.1f}", epoch=self.epoch + 1)
            if window_steps == config.steps_per_window:
                now = time.perf_counter()
                self.emit({"kind": "window", "epoch": self.epoch + 1, "step": trainer.step,
                           **{k: v / window_steps for k, v in window_sums.items()},
                           **trainer.schedule(),
                           "images_per_s": window_steps * config.batch_size / (now - window_start),
                           "time": self.elapsed()})
                window_sums, window_steps, window_start = dict.fromkeys(TERMS, 0.0), 0, now
            if self.stop.event.is_set():
                self.log(f"stop requested; stopping at step {trainer.step}")
                return "stopped", "stop requested"
            if config.time_limit_s is not None and self.elapsed() >= config.time_limit_s:
                self.log(f"time limit {config.time_limit_s}s reached at step {trainer.step}")
                return "done", "time limit"
            if time.perf_counter() - self.last_checkpoint_time >= config.checkpoint_every_s:
                self.checkpoint()
        train_seconds = time.perf_counter() - epoch_start
        val = trainer.evaluate(self.source.val_images)
        if not all(math.isfinite(v) for v in val.values()):
            self.fail_non_finite("validation loss", val)
        self.epoch += 1
        self.step_in_epoch = 0
        improved = self.improves(val["loss"])
        if improved:
            self.best_val_loss, self.bad_epochs = val["loss"], 0
        else:
            self.bad_epochs += 1
        record = {"kind": "epoch", "epoch": self.epoch, "step": trainer.step,
                  **{k: (v / epoch_steps if epoch_steps else None) for k, v in epoch_sums.items()},
                  **{f"val_{k}": v for k, v in val.items()}, **trainer.schedule(),
                  "images_per_s": epoch_steps * config.batch_size / max(train_seconds, 1e-9),
                  "time": self.elapsed()}
        self.emit(record)
        self.log(f"epoch {self.epoch}/{config.epochs} step {trainer.step}: "
                 + " ".join(f"{k}={record[k]:.3f}" for k in record
                            if k not in ("kind", "epoch", "step") and record[k] is not None))
        if improved:
            self.save_model()
        self.checkpoint()
        if config.patience is not None and self.bad_epochs >= config.patience:
            return "done", f"early stopping: no val_loss improvement in {config.patience} epochs"
        if config.time_limit_s is not None and self.elapsed() >= config.time_limit_s:
            return "done", "time limit"
        return None


def _describe_checkpoint(directory: Path) -> str | None:
    """Where the last good checkpoint is, for error messages."""
    latest = latest_checkpoint(directory)
    return None if latest is None else f"step {latest['step']} at {latest['dir']}"
