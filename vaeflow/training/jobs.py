"""`JobRunner`: training runs as separate processes the UI can start, watch, stop and list.

Each run is ``python -m vaeflow train --run-dir runs/NAME --resume --no-progress`` in its own
session (so a page reload or a UI restart does not take it down), with stdout and stderr
appended to the run's log.txt. The run directory is the only shared state: any JobRunner, in
any process, sees the same runs.
"""

from __future__ import annotations

import dataclasses
import fcntl
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from vaeflow.io import describe_os_error
from vaeflow.training.config import TrainConfig
from vaeflow.training.runs import (LOCK_FD_ENV, LOCK_FILE, RunDir, RunLockedError, process_stat,
                                  validate_run_name, write_lock_holder)

# Summary columns a run list shows, in this order.
HYPERPARAMETERS = ("preset", "latent_dim", "beta", "learning_rate", "lr_schedule", "batch_size",
                   "epochs", "seed")


class RunInProgressError(RuntimeError):
    """Another run is still training and the runner allows one at a time."""


class RunStartError(OSError):
    """The run's files could not be written (disk full, I/O error); the message says so and
    where. A new run's folder has been removed again."""


@dataclasses.dataclass(frozen=True)
class RunSummary:
    """One row of `JobRunner.list_runs`.

    `duration_s` runs until now while the run is running; `best_val_loss` is the lowest epoch
    ``val_loss`` so far (None before the first epoch ends).
    """

    name: str
    state: str | None
    error: str | None
    best_val_loss: float | None
    duration_s: float | None
    dataset: str | None
    hyperparameters: dict[str, Any]
    step: int | None
    epoch: int | None
    started: float | None
    path: str

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


class JobRunner:
    """Start, stop, list and watch training processes under one runs directory.

    Arguments:
        runs_root: the runs directory (``runs/``).
        max_active: how many runs may train at once (1: a second start is refused).
        python: the interpreter for the training processes.
        env: extra environment variables for them (CUDA_VISIBLE_DEVICES, ...).
    """

    def __init__(self, runs_root: str | os.PathLike = "runs", *, max_active: int = 1,
                 python: str = sys.executable, env: dict[str, str] | None = None) -> None:
        if max_active < 1:
            raise ValueError(f"max_active must be >= 1, got {max_active}")
        self.root = Path(runs_root)
        self.max_active = max_active
        self.python = python
        self.env = dict(env or {})
        self._processes: dict[int, subprocess.Popen] = {}  # pid -> our child, reaped on poll
        self._exit_codes: dict[int, int] = {}  # pid -> exit code of a child already reaped

    def run_dir(self, name: str) -> RunDir:
        """The `RunDir` of `name` (ValueError naming it when it could escape the root)."""
        return RunDir(self.root, name)

    # starting ---------------------------------------------------------------------------------
    def start(self, name: str, config: TrainConfig | None, data: str | os.PathLike | None = None,
              model_config: Any = None, *, resume: bool = False) -> RunDir:
        """Launch a training process for run `name` and return its `RunDir` at once.

        Arguments:
            name: the run's name (see `validate_run_name`).
            config: the recipe; `data` (a dataset path, or ``"stream"``) replaces its source.
                Unused with `resume` (None is fine there): the run's saved config wins.
            model_config: a `vaeflow.ModelConfig`; None means ``ModelConfig()``.
            resume: continue an existing run from its last checkpoint (its saved configs win).

        Raises:
            ValueError: naming `name` when it is unsafe, already used (without `resume`) or
                unknown (with `resume`); naming `data` when no data source is given.
            RunInProgressError: naming the run that is still training.
            RunStartError: (an OSError) the run's files could not be written, e.g. "disk full
                (<path>)"; a new run's folder is removed again.
        """
        run = self.run_dir(name)
        # The lock makes "check nothing runs, then claim" one step for every runner on this
        # directory (two browser tabs pressing Start together get one run, not two).
        self.root.mkdir(parents=True, exist_ok=True)
        with open(self.root / ".start.lock", "w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            existed = run.exists()
            try:
                return self._start_locked(run, config, data, model_config, resume)
            except OSError as error:
                if not existed:  # a half-made new run folder would block its name
                    shutil.rmtree(run.path, ignore_errors=True)
                raise RunStartError(f"could not start run {run.name!r}: "
                                    f"{describe_os_error(error, run.path)}") from error

    def _start_locked(self, run: RunDir, config: TrainConfig, data, model_config: Any,
                      resume: bool) -> RunDir:
        name = run.name
        active = self.active_runs()
        if len(active) >= self.max_active:
            raise RunInProgressError(
                f"run {active[0]!r} is still training; stop it before starting {name!r}")
        # The run's own lock, held from the checks below until the trainer takes it over: a
        # `python -m vaeflow train` started outside this runner can never slip in between.
        try:
            with run.lock() as lock:
                return self._claim_and_launch(run, config, data, model_config, resume, lock)
        except RunLockedError:
            raise RunInProgressError(f"run {name!r} is being trained by another process") from None

    def _claim_and_launch(self, run: RunDir, config: TrainConfig, data, model_config: Any,
                          resume: bool, lock: int) -> RunDir:
        name = run.name
        if resume:
            if not run.read_config():
                raise ValueError(f"run name {name!r} has no saved run to resume")
        else:
            if any(path.name != LOCK_FILE for path in run.path.iterdir()):
                raise ValueError(f"run name {name!r} is already used; choose another name")
            if data is not None:
                data = str(data)
                config = (config.replace(stream=True, data=None) if data == "stream"
                          else config.replace(data=data, stream=False))
            if not config.stream and not config.data:
                raise ValueError("data must be a dataset path or 'stream' (config has no source)")
            if model_config is None:
                from vaeflow.models import ModelConfig

                model_config = ModelConfig()
            run.write_config({"train": config.to_dict(), "model": model_config.to_dict()})
        # "running" before the process exists, so a second start is refused at once; the
        # trainer rewrites it with its own pid, and a process that dies early is caught by pid.
        run.write_status("running", pid=None)
        command = [self.python, "-m", "vaeflow", "train", "--run-dir", str(run.path),
                   "--resume", "--no-progress"]
        env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2", "PYTHONUNBUFFERED": "1", **self.env,
               LOCK_FD_ENV: str(lock)}
        with open(run.log_path, "ab") as log:
            log.write(f"$ {' '.join(command)}\n".encode())
            log.flush()
            try:
                process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT,
                                           stdin=subprocess.DEVNULL, start_new_session=True,
                                           env=env, pass_fds=(lock,))
            except OSError as error:
                run.write_status("failed", error=f"could not launch {command[0]}: {error}")
                raise
        self._processes[process.pid] = process
        write_lock_holder(lock, process.pid)  # the trainer holds the lock now, with us
        status = run.read_status()
        if status.get("state") == "running" and status.get("pid") is None:
            run.write_status("running", pid=process.pid)
        return run

    # watching ---------------------------------------------------------------------------------
    def status(self, name: str) -> dict[str, Any]:
        """`name`'s status.json, after marking it failed if its process has died."""
        run = self.run_dir(name)
        status = run.read_status()
        if status.get("state") != "running" or self._alive(status.get("pid"), status.get("pid_start")):
            return status
        if status.get("pid") is None and time.time() - (status.get("started") or 0) < 30:
            return status  # launched a moment ago; the pid lands in status.json shortly
        time.sleep(0.2)
        status = run.read_status()  # it may have written its final state just before exiting
        if status.get("state") != "running" or self._alive(status.get("pid"), status.get("pid_start")):
            return status
        code = self._exit_code(status.get("pid"))
        how = f"exit code {code}" if code is not None and code >= 0 else (
            f"signal {-code}" if code is not None else "no exit status")
        tail = run.log_tail(20)
        return run.write_status(
            "failed", pid=status.get("pid"),
            error=f"training process {status.get('pid')} died without finishing ({how}); "
                  f"last lines of log.txt:\n{tail}")

    def read_metrics(self, name: str) -> list[dict[str, Any]]:
        """All metrics records of `name` so far (see ARCHITECTURE.md for the keys)."""
        return self.run_dir(name).read_metrics()

    def active_runs(self) -> list[str]:
        """Names of runs whose process is alive and training (a run with damaged files is not)."""
        self._reap()
        active = []
        for name in self._names():
            try:
                if self.status(name).get("state") == "running":
                    active.append(name)
            except (ValueError, TypeError):
                continue
        return active

    def active_run(self) -> str | None:
        """The name of the run that is training, or None."""
        active = self.active_runs()
        return active[0] if active else None

    def list_runs(self) -> list[RunSummary]:
        """Every run under the root, newest first; a run whose files cannot be read is listed
        with state "broken" and the reason in `error`, after the others."""
        self._reap()
        summaries = []
        for name in self._names():
            try:
                summaries.append(self.summary(name))
            except Exception as error:  # noqa: BLE001 - any damaged file, one row, never the list
                summaries.append(RunSummary(
                    name=name, state="broken", error=f"{type(error).__name__}: {error}",
                    best_val_loss=None, duration_s=None, dataset=None, hyperparameters={},
                    step=None, epoch=None, started=None, path=str(self.run_dir(name).path)))
        return sorted(summaries, key=lambda s: -(s.started or 0.0))

    def summary(self, name: str) -> RunSummary:
        run = self.run_dir(name)
        status = self.status(name)
        config = run.read_config()
        train_config, model_config = config.get("train", {}), config.get("model", {})
        values = {**train_config, **model_config}
        metrics = run.read_metrics()
        val_losses = [r["val_loss"] for r in metrics
                      if r.get("kind") == "epoch" and r.get("val_loss") is not None]
        if status.get("best_val_loss") is not None:  # includes a final mid-epoch validation
            val_losses.append(status["best_val_loss"])
        started = status.get("started")
        if not all(v is None or isinstance(v, (int, float)) for v in (started, status.get("ended"))):
            raise ValueError(f"status.json of run {name!r}: 'started' and 'ended' must be times")
        ended = status.get("ended") or (time.time() if started else None)
        return RunSummary(
            name=name, state=status.get("state"), error=status.get("error"),
            best_val_loss=min(val_losses) if val_losses else None,
            duration_s=None if started is None else max(0.0, ended - started),
            dataset=("stream" if train_config.get("stream") else train_config.get("data")),
            hyperparameters={k: values[k] for k in HYPERPARAMETERS if k in values},
            step=metrics[-1].get("step") if metrics else None,
            epoch=max((r.get("epoch", 0) for r in metrics if r.get("kind") == "epoch"), default=None),
            started=started, path=str(run.path))

    # stopping ---------------------------------------------------------------------------------
    def request_stop(self, name: str) -> bool:
        """Ask run `name` to stop (SIGTERM) and return at once: True if a training process was
        signalled. The run finishes its step, checkpoints, saves its model and writes status
        "stopped" by itself; `stop` also waits for that."""
        status = self.status(name)
        if status.get("state") != "running" or status.get("pid") is None:
            return False
        _signal(status["pid"], signal.SIGTERM)
        return True

    def delete(self, name: str) -> None:
        """Remove run `name`'s directory (checkpoints, model, logs).

        Raises:
            RunInProgressError: while it trains.
            ValueError: naming `name` when it is unsafe or no such run exists.
        """
        run = self.run_dir(name)
        if not run.exists():
            raise ValueError(f"run {name!r} does not exist")
        try:
            running = self.status(name).get("state") == "running"
        except (ValueError, TypeError):  # damaged status.json: nothing trains from it
            running = False
        if running:
            raise RunInProgressError(f"run {name!r} is training; stop it before deleting it")
        shutil.rmtree(run.path)

    def stop(self, name: str, timeout: float = 60.0) -> dict[str, Any]:
        """Ask run `name` to stop (SIGTERM): it finishes its step, checkpoints, saves its model
        and marks itself "stopped". Waits up to `timeout` seconds, then kills it (SIGKILL) and
        marks it stopped with an error saying so. Returns the final status.
        """
        run = self.run_dir(name)
        status = self.status(name)
        if status.get("state") != "running":
            return status
        pid, pid_start = status.get("pid"), status.get("pid_start")
        if pid is None:  # started an instant ago: wait for the pid
            pid = self._wait_for_pid(run, timeout=10.0)
        if pid is not None:
            _signal(pid, signal.SIGTERM)
        deadline = time.time() + timeout
        while time.time() < deadline:
            if not self._alive(pid, pid_start):
                break
            time.sleep(0.1)
        else:
            _signal(pid, signal.SIGKILL)
            self._wait_dead(pid, 10.0)
            return run.write_status("stopped", pid=pid,
                                    error=f"did not stop within {timeout:.0f}s and was killed")
        status = run.read_status()
        if status.get("state") == "running":
            # SIGTERM arrived before the trainer installed its handler (still importing).
            status = run.write_status("stopped", pid=pid, reason="stopped before training began")
        return status

    # processes --------------------------------------------------------------------------------
    def _names(self) -> list[str]:
        if not self.root.is_dir():
            return []
        names = []
        for path in self.root.iterdir():
            try:
                validate_run_name(path.name)
            except ValueError:
                continue
            if path.is_dir() and ((path / "status.json").exists() or (path / "config.json").exists()):
                names.append(path.name)
        return sorted(names)

    def _reap(self) -> None:
        """Collect the exit status of our finished children, so none stays a zombie."""
        for pid, process in list(self._processes.items()):
            if process.poll() is not None:
                self._exit_codes[pid] = process.returncode
                del self._processes[pid]

    def _alive(self, pid: int | None, started: int | None = None) -> bool:
        if pid is None:
            return False
        process = self._processes.get(pid)
        if process is not None:
            return process.poll() is None  # also reaps our own finished children
        return _pid_is_training(pid, started)

    def _exit_code(self, pid: int | None) -> int | None:
        process = self._processes.get(pid) if pid is not None else None
        return self._exit_codes.get(pid) if process is None else process.poll()

    def _wait_for_pid(self, run: RunDir, timeout: float) -> int | None:
        deadline = time.time() + timeout
        while time.time() < deadline:
            pid = run.read_status().get("pid")
            if pid is not None:
                return pid
            time.sleep(0.05)
        return None

    def _wait_dead(self, pid: int, timeout: float) -> None:
        deadline = time.time() + timeout
        while self._alive(pid) and time.time() < deadline:
            time.sleep(0.05)


def _signal(pid: int | None, signum: int) -> None:
    if pid is None:
        return
    try:
        os.kill(pid, signum)
    except ProcessLookupError:
        pass


def _pid_is_training(pid: int, started: int | None) -> bool:
    """Whether `pid` is a live (not zombie) process that started at `started` (clock ticks, as
    recorded in status.json): a pid the OS has since given to another process does not count.
    """
    fields = process_stat(pid)
    if fields is None:
        if Path("/proc/self/stat").exists():
            return False  # /proc works, so the process is gone
        try:  # no /proc (macOS): fall back to signal 0
            os.kill(pid, 0)
        except (ProcessLookupError, PermissionError):
            return False
        return True
    if fields[0] in ("Z", "X"):  # exited, not yet reaped by its parent
        return False
    return started is None or int(fields[19]) == started
