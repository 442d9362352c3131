"""`train`: the loop that turns a `TrainConfig` into a finished run directory.

Per epoch it trains on the source's images in whole global batches, makes a ``window`` record
every `steps_per_window` steps and an ``epoch`` record after validating, and stops on the last
epoch, the time limit or a stop request (SIGTERM). What happens with the records, the best
model, checkpoints, early stopping, a non-finite loss and the progress bar is up to the
callbacks (`vaeflow.training.callbacks`). `train` holds the run directory's lock throughout.
"""

from __future__ import annotations

import contextlib
import dataclasses
import math
import os
import shutil
import threading
import time
from typing import Any, Callable, Sequence

import keras
import tensorflow as tf

from vaeflow.devices import training_device
from vaeflow.io import describe_os_error, is_disk_full
from vaeflow.training.callbacks import BestModel, Callback, default_callbacks
from vaeflow.training.checkpoints import CheckpointError, StepCheckpoints, latest_checkpoint
from vaeflow.training.config import TrainConfig
from vaeflow.training.data import make_source
from vaeflow.training.provenance import data_source_record
from vaeflow.training.process import RunLog, StopFlag
from vaeflow.training.runs import RunDir
from vaeflow.training.trainer import TERMS, Trainer, is_chief, make_strategy
from vaeflow.training.warm_start import fit_encoder_to_pca

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


def train(config: TrainConfig, model_config: Any = None, run_dir: RunDir | str | os.PathLike | None = None,
          *, resume: bool = False, restart: bool = False,
          build_model: Callable[[], keras.Model] | None = None,
          progress: bool = False, echo: bool = False, stop_event: threading.Event | None = None,
          strategy: tf.distribute.Strategy | None = None,
          callbacks: Sequence[Callback] = ()) -> TrainResult:
    """Train a VAE as `config` says, writing everything into `run_dir`.

    Arguments:
        config: the recipe and the data source (``data`` or ``stream``).
        model_config: the architecture (a `vaeflow.ModelConfig`); ignored when `build_model` is
            given (tests use tiny stand-ins).
        run_dir: a `RunDir` or a path ``runs/NAME``; None trains without writing files.
        resume: continue from the run's newest good checkpoint (same step, epoch, best
            val_loss); False refuses a directory that already holds a run. A run whose
            checkpoints are all gone resumes only if it has no history yet (no metrics, no
            model); otherwise it is refused unless `restart`. The run's config.json is
            rewritten with `config` only once the checkpoint has loaded and a validation with
            it was finite, so a resume that fails leaves the run resumable as it was.
        restart: with `resume`, train the run again from step 0, deleting its metrics,
            model, checkpoints and TensorBoard events first (never done without it).
        progress: show a tqdm bar on stderr.
        echo: copy log lines to stderr.
        stop_event: when set (or on SIGTERM/SIGINT in the main thread) the loop finishes the
            current step, checkpoints, saves the model and returns state "stopped".
        strategy: overrides `config.distribute`.
        callbacks: more `vaeflow.training.callbacks.Callback`s, called after the built-in
            ones but before the checkpoint (which saves their `state`).

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
        return _train_and_record(config, model_config, None, _Start(), build_model, progress,
                                 echo, stop_event, strategy, callbacks)
    # Held for the whole run, before anything in the directory is read or written: a second
    # writer (another CLI, the app, a notebook) is refused and changes nothing.
    with run.lock():
        start = _prepare_run_dir(run, config, model_config if build_model is None else None,
                                 resume, restart)
        return _train_and_record(config, model_config, run, start, build_model, progress, echo,
                                 stop_event, strategy, callbacks)


def _train_and_record(config, model_config, run, start, build_model, progress, echo, stop_event,
                      strategy, callbacks) -> TrainResult:
    """`_train` with the stop flag and log installed; a failure is recorded in status.json."""
    stop = StopFlag(stop_event)
    stop.install()
    log = RunLog(run, echo)
    try:
        return _train(config, model_config, run, start, build_model, progress, stop, log, strategy,
                      callbacks)
    except BaseException as error:
        if is_disk_full(error):
            message = describe_os_error(error, run.path if run is not None else "")
        else:
            message = f"{type(error).__name__}: {error}"[:4000]
        if run is not None:
            try:
                run.write_status("failed", error=message, pid=os.getpid())
            except OSError as status_error:
                log(f"could not record the failure in status.json: {status_error}")
        log(f"FAILED {message}")
        raise
    finally:
        stop.restore()
        log.close()


@dataclasses.dataclass(frozen=True)
class _Start:
    """How a run starts: fresh, resumed or restarted, and the config.json it should end with."""

    resume: bool = False
    restart: bool = False
    config_record: dict[str, Any] | None = None  # written once the resume is known to work
    changes: tuple[str, ...] = ()  # TrainConfig/ModelConfig fields this resume changes
    swept: tuple[str, ...] = ()  # temporary files killed writers had left


def _prepare_run_dir(run: RunDir, config: TrainConfig, model_config: Any, resume: bool,
                     restart: bool) -> _Start:
    """Check `run` can start as asked (holding its lock), sweep what killed writers left and
    mark it running. A fresh run's config.json is written now; a resume's later (`_Start`).
    """
    saved = run.read_config()
    if restart and not resume:
        raise ValueError("restart=True (--restart) starts an existing run over; it needs "
                         "resume=True (--resume)")
    if resume:
        if not saved:
            raise ValueError(f"run_dir {str(run.path)!r} has no run to resume")
        if not restart and latest_checkpoint(run.checkpoints_dir) is None and run.has_history():
            raise ValueError(
                f"run_dir {str(run.path)!r} has no usable checkpoint in "
                f"{str(run.checkpoints_dir)!r} to resume from; its metrics and model are kept. "
                "Pass restart=True (--restart) to train it again from step 0, deleting them")
    elif saved or run.metrics_path.exists() or run.checkpoints_dir.exists():
        raise ValueError(f"run_dir {str(run.path)!r} already holds a run; pass resume=True "
                         "(--resume) or choose another name")
    swept = run.sweep_temporaries()
    record = {"train": config.to_dict(),
              "data_source": data_source_record(config, getattr(model_config, "image_size", 36))}
    if model_config is not None:
        record["model"] = _model_config_dict(model_config)
    record = {**saved, **record}
    changes = tuple(f"{part}.{key}" for part in ("train", "model")
                    for key in sorted(set(saved.get(part) or {}) | set(record.get(part) or {}))
                    if (saved.get(part) or {}).get(key) != (record.get(part) or {}).get(key))
    if not resume:
        run.write_config(record)
    run.write_status("running", pid=os.getpid(), device=training_device())
    return _Start(resume=resume, restart=restart, config_record=record if resume else None,
                  changes=changes if resume and not restart else (),
                  swept=tuple(p.name for p in swept))


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


def _train(config, model_config, run, start, build_model, progress, stop, log, strategy,
           extra_callbacks) -> TrainResult:
    with _cpu_op_determinism():
        return _train_deterministically(config, model_config, run, start, build_model, progress,
                                        stop, log, strategy, extra_callbacks)


def _train_deterministically(config, model_config, run, start, build_model, progress, stop, log,
                             strategy, extra_callbacks) -> TrainResult:
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
        if start.swept:
            log(f"removed {len(start.swept)} temporary file(s) left by interrupted writes: "
                + ", ".join(start.swept))
        checkpoints = None if run is None else StepCheckpoints(
            run.checkpoints_dir, trainer.checkpoint,
            [*trainer.model.weights, *trainer.optimizer.variables])
        callbacks = default_callbacks(config, run, checkpoints, progress=progress,
                                      pending_config=start.config_record if start.resume else None,
                                      extra=extra_callbacks)
        loop = Loop(config, trainer, source, run, steps_per_epoch, stop, log, callbacks)
        if run is not None and start.restart:
            _clear_history(run)
            run.write_config(start.config_record)
            log("restarted: deleted the run's metrics, model, checkpoints and TensorBoard events")
        elif run is not None and start.resume:
            _resume(loop, checkpoints, start.changes)
        if config.encoder_init == "pca" and trainer.step == 0:  # a fresh start, not a resume
            fit_encoder_to_pca(trainer, source.epoch_images(0), log)
        state, reason, _ = loop.run_all()
        best_val_loss = next((c.best_val_loss for c in callbacks if isinstance(c, BestModel)), None)
        if run is not None:
            run.write_status(state, pid=os.getpid(), reason=reason, step=trainer.step,
                             epoch=loop.epoch, best_val_loss=best_val_loss)
        log(f"{state}: {reason}; step {trainer.step}, epoch {loop.epoch}, "
            f"best val_loss {best_val_loss}, {loop.elapsed():.1f}s of training")
        return TrainResult(state, reason, trainer.step, loop.epoch, best_val_loss, trainer.model)
    finally:
        source.close()


class Loop:
    """The epoch/step loop: trains the source's epochs in whole global batches, validates after
    each, makes the run's records (window, epoch, end) and hands everything to the callbacks
    (see `vaeflow.training.callbacks`), which write, checkpoint and decide to stop.

    Its own position (completed epochs, steps into the current one, training time and the
    partial window/epoch sums) and each callback's `state` make up the checkpoint's position;
    the sums make a resumed run's records equal to an uninterrupted run's (the same floats
    added in the same order).
    """

    def __init__(self, config, trainer, source, run, steps_per_epoch, stop, log,
                 callbacks: list[Callback]) -> None:
        self.config, self.trainer, self.source, self.run = config, trainer, source, run
        self.steps_per_epoch, self.stop, self.log = steps_per_epoch, stop, log
        self.callbacks = callbacks
        self.epoch = 0  # completed epochs
        self.step_in_epoch = 0
        self.elapsed_before = 0.0  # training seconds of earlier segments (resume)
        self.stop_reason: tuple[str, str] | None = None  # (state, reason) set to end the run
        self.epoch_sums, self.epoch_steps = dict.fromkeys(TERMS, 0.0), 0
        self.window_sums, self.window_steps = dict.fromkeys(TERMS, 0.0), 0
        self.segment_start = time.perf_counter()

    # position ---------------------------------------------------------------------------------
    def state(self) -> dict[str, Any]:
        """The position a checkpoint saves: the loop's, then every callback's."""
        state = {"epoch": self.epoch, "step_in_epoch": self.step_in_epoch,
                 "elapsed_s": self.elapsed(),
                 "epoch_sums": self.epoch_sums, "epoch_steps": self.epoch_steps,
                 "window_sums": self.window_sums, "window_steps": self.window_steps}
        for callback in self.callbacks:
            state.update(callback.state())
        return state

    def restore(self, state: dict[str, Any]) -> None:
        """Continue from a checkpoint's position (the weights are restored already)."""
        self.epoch, self.step_in_epoch = int(state["epoch"]), int(state["step_in_epoch"])
        self.elapsed_before = float(state["elapsed_s"])
        if "epoch_sums" in state:  # absent in checkpoints of earlier versions
            self.epoch_sums, self.epoch_steps = dict(state["epoch_sums"]), int(state["epoch_steps"])
            self.window_sums = dict(state["window_sums"])
            self.window_steps = int(state["window_steps"])
        for callback in self.callbacks:
            callback.restore(state)

    def elapsed(self) -> float:
        """Seconds of training, summed over resumes."""
        return self.elapsed_before + time.perf_counter() - self.segment_start

    def _call(self, hook: str, *args: Any) -> None:
        for callback in self.callbacks:
            getattr(callback, hook)(self, *args)

    # loop -------------------------------------------------------------------------------------
    def run_all(self) -> tuple[str, str, dict[str, Any] | None]:
        """Train to the end; returns (state, reason, the end record or None)."""
        self.segment_start = time.perf_counter()
        try:
            self._call("on_train_begin")
            while self.epoch < self.config.epochs and self.stop_reason is None:
                self.run_epoch()
            state, reason = self.stop_reason or ("done", "finished all epochs")
            end = None
            if self.step_in_epoch:  # ended mid-epoch: the newest weights may be the best ones
                val = self.trainer.evaluate(self.source.val_images)
                # Recorded (kind "end") so the run's files agree with its status on the last
                # step and the best validation loss.
                end = {"kind": "end", "epoch": self.epoch, "step": self.trainer.step,
                       **{f"val_{k}": v for k, v in val.items()}, "time": self.elapsed()}
            self._call("on_train_end", end)
        finally:
            for callback in self.callbacks:
                callback.close()
        return state, reason, end

    def run_epoch(self) -> None:
        """Train the rest of the current epoch, then validate (unless told to stop first)."""
        config, trainer = self.config, self.trainer
        images = self.source.epoch_images(self.epoch)
        if self.step_in_epoch == 0:
            self.epoch_sums, self.epoch_steps = dict.fromkeys(TERMS, 0.0), 0
            self.window_sums, self.window_steps = dict.fromkeys(TERMS, 0.0), 0
        # Rates count this segment's steps only (a resumed epoch's sums hold earlier ones).
        timed_epoch_steps = timed_window_steps = 0
        window_start = epoch_start = time.perf_counter()
        for batch in trainer.distribute(images, skip_batches=self.step_in_epoch):
            terms = trainer.train_step(batch)
            self.step_in_epoch += 1
            timed_window_steps += 1
            timed_epoch_steps += 1
            window = None
            if all(math.isfinite(v) for v in terms.values()):  # else NonFiniteStop ends the run
                for name in TERMS:
                    self.window_sums[name] += terms[name]
                    self.epoch_sums[name] += terms[name]
                self.window_steps += 1
                self.epoch_steps += 1
                if self.window_steps == config.steps_per_window:
                    now = time.perf_counter()
                    window = {"kind": "window", "epoch": self.epoch + 1, "step": trainer.step,
                              **{k: v / self.window_steps for k, v in self.window_sums.items()},
                              **trainer.schedule(),
                              "images_per_s": timed_window_steps * config.batch_size
                              / (now - window_start),
                              "time": self.elapsed()}
                    self.window_sums, self.window_steps = dict.fromkeys(TERMS, 0.0), 0
                    timed_window_steps, window_start = 0, now
            if self.stop.event.is_set():
                self.log(f"stop requested; stopping at step {trainer.step}")
                self.stop_reason = ("stopped", "stop requested")
            elif config.time_limit_s is not None and self.elapsed() >= config.time_limit_s:
                self.log(f"time limit {config.time_limit_s}s reached at step {trainer.step}")
                self.stop_reason = ("done", "time limit")
            if window is not None:  # written before a checkpoint can count this step
                self._call("on_window_end", window)
            self._call("on_step_end", terms)
            if self.stop_reason is not None:
                return
        train_seconds = time.perf_counter() - epoch_start
        val = trainer.evaluate(self.source.val_images)
        self.epoch += 1
        self.step_in_epoch = 0
        record = {"kind": "epoch", "epoch": self.epoch, "step": trainer.step,
                  **{k: (v / self.epoch_steps if self.epoch_steps else None)
                     for k, v in self.epoch_sums.items()},
                  **{f"val_{k}": v for k, v in val.items()}, **self._factor_r2(),
                  **trainer.schedule(),
                  "images_per_s": timed_epoch_steps * config.batch_size / max(train_seconds, 1e-9),
                  "time": self.elapsed()}
        if all(math.isfinite(v) for v in val.values()):
            self.log(f"epoch {self.epoch}/{config.epochs} step {trainer.step}: "
                     + " ".join(f"{k}={record[k]:.3f}" for k in record
                                if k not in ("kind", "epoch", "step") and record[k] is not None))
        if config.time_limit_s is not None and self.elapsed() >= config.time_limit_s:
            self.stop_reason = ("done", "time limit")
        self._call("on_epoch_end", record)

    def _factor_r2(self) -> dict[str, float]:
        """kNN R² of (a, cos θ, sin θ) from the validation images' posterior means
        (`metrics.factor_r2`): how much of the flow's factors the latent keeps. A folded 2-D
        latent shows as ``r2_a`` of 0.8-0.9 early in a run. Empty without factors."""
        from vaeflow.metrics import factor_r2, posterior_means

        factors = self.source.val_factors
        if factors is None or len(factors) < 20:
            return {}
        return factor_r2(posterior_means(self.trainer.model, self.source.val_images), factors)


def _resume(loop: Loop, checkpoints: StepCheckpoints, changes: tuple[str, ...]) -> None:
    """Load the newest good checkpoint into the trainer and `loop`, and cut metrics.jsonl back
    to what that checkpoint had recorded."""
    try:
        state = checkpoints.restore()
    except CheckpointError as error:
        if changes:
            raise CheckpointError(f"{error}; this resume changes {', '.join(changes)}: "
                                  "resume without the ones the checkpoint cannot take") from None
        raise
    if state is None:  # a run with no history yet (checked before): a fresh start
        loop.log(f"no checkpoint in {loop.run.checkpoints_dir} and no history; starting from step 0")
        return
    loop.restore(state)
    loop.trainer.use_configured_learning_rate()
    loop.run.truncate_metrics(loop.trainer.step, completed_epochs=loop.epoch)
    loop.log(f"resumed from step {loop.trainer.step} (epoch {loop.epoch}, "
             f"{loop.step_in_epoch} steps into it)")


def _clear_history(run: RunDir) -> None:
    """Delete what a run has trained (metrics, model, checkpoints, TensorBoard events)."""
    run.truncate_metrics(-1)
    for directory in (run.model_dir, run.checkpoints_dir, run.tb_dir):
        shutil.rmtree(directory, ignore_errors=True)
