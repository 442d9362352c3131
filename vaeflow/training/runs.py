"""`RunDir`: the files of one training run under ``runs/<name>/``.

    config.json     {"train": TrainConfig.to_dict(), "model": ModelConfig.to_dict()}
    metrics.jsonl   one JSON record per line, appended and flushed as training goes
    status.json     {"state": running|done|failed|stopped, "error", "pid", "started", "ended"}
    log.txt         human-readable log (and the job's stdout/stderr when launched by JobRunner)
    checkpoints/    the last good checkpoint (see vaeflow.training.checkpoints)
    model/          the final (best validation loss) model, written by vaeflow.save_model
    tb/             TensorBoard event files: ``tensorboard --logdir runs``

Every JSON file is replaced atomically; metrics.jsonl is append-only, and a reader skips a
last line that is still being written.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import json
import math
import os
import re
import time
from pathlib import Path
from typing import Any, Iterator

from vaeflow.io import write_json_atomic, write_text_atomic

STATES = ("running", "done", "failed", "stopped")
LOCK_FILE = ".lock"


class RunLockedError(RuntimeError):
    """Another process holds the run's writer lock: it is training that run right now."""
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")


def validate_run_name(name: str) -> str:
    """Return `name` if it is a safe run name, else raise ValueError naming it.

    A safe name is 1–64 characters of letters, digits, ``.``, ``_`` and ``-``, starting with a
    letter or digit, so it is one path component that cannot leave ``runs/`` (no ``/``, no ``..``).
    """
    if not isinstance(name, str) or not _NAME.fullmatch(name) or ".." in name:
        raise ValueError(
            f"run name {name!r} is not allowed: use 1-64 letters, digits, '.', '_' or '-', "
            "starting with a letter or digit, and no '..'")
    return name


class RunDir:
    """The directory ``<root>/<name>`` of one run, and typed access to its files.

    Arguments:
        root: the runs directory (``runs/``); created on demand.
        name: the run's name; see `validate_run_name`.

    Raises:
        ValueError: naming `name` when it could escape `root`.
    """

    def __init__(self, root: str | os.PathLike, name: str) -> None:
        self.name = validate_run_name(name)
        self.root = Path(root)
        self.path = self.root / self.name
        # Belt and braces: the resolved path must sit directly in the resolved root.
        if self.path.resolve().parent != self.root.resolve():
            raise ValueError(f"run name {name!r} escapes the runs directory {str(self.root)!r}")

    @classmethod
    def from_path(cls, path: str | os.PathLike) -> "RunDir":
        """The run at `path` (``runs/NAME``): root is its parent, name its last component."""
        path = Path(path)
        return cls(path.parent, path.name)

    def __repr__(self) -> str:
        return f"RunDir({str(self.root)!r}, {self.name!r})"

    # Paths -----------------------------------------------------------------------------------
    config_path = property(lambda self: self.path / "config.json")
    metrics_path = property(lambda self: self.path / "metrics.jsonl")
    status_path = property(lambda self: self.path / "status.json")
    log_path = property(lambda self: self.path / "log.txt")
    checkpoints_dir = property(lambda self: self.path / "checkpoints")
    model_dir = property(lambda self: self.path / "model")
    tb_dir = property(lambda self: self.path / "tb")
    lock_path = property(lambda self: self.path / LOCK_FILE)

    def exists(self) -> bool:
        return self.path.is_dir()

    def create(self) -> "RunDir":
        self.path.mkdir(parents=True, exist_ok=True)
        return self

    # the writer lock ---------------------------------------------------------------------------
    @contextlib.contextmanager
    def lock(self) -> Iterator["RunDir"]:
        """Hold the run's writer lock for the block, so one process at a time writes this run.

        The lock is an ``fcntl.flock`` on ``<run>/.lock`` (created on demand), released by the OS
        when the holder exits, even on ``kill -9``; the file keeps the holder's pid for messages.

        Raises:
            RunLockedError: naming the run and the pid of the process that holds it; nothing
                in the run has been touched.
        """
        self.create()
        fd = os.open(self.lock_path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError as error:
                if error.errno not in (errno.EWOULDBLOCK, errno.EACCES):
                    raise
                raise RunLockedError(
                    f"run {self.name!r} ({str(self.path)!r}) is being trained by another process"
                    f"{_holder(fd)}; stop it first, or wait for it to finish") from None
            os.ftruncate(fd, 0)
            os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
            yield self
        finally:
            os.close(fd)  # closing the descriptor releases the lock

    def is_locked(self) -> bool:
        """Whether a process holds the run's writer lock now."""
        try:
            fd = os.open(self.lock_path, os.O_RDONLY)
        except FileNotFoundError:
            return False
        try:
            fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except OSError:
            return True
        finally:
            os.close(fd)
        return False

    # config.json -----------------------------------------------------------------------------
    def write_config(self, config: dict[str, Any]) -> None:
        write_json_atomic(self.config_path, config)

    def read_config(self) -> dict[str, Any]:
        """The saved config dict; {} when the run has none yet.

        Raises:
            ValueError: naming config.json when it is not a JSON object.
        """
        return _read_json_object(self.config_path)

    # metrics.jsonl ---------------------------------------------------------------------------
    def append_metrics(self, record: dict[str, Any]) -> None:
        """Append one record as a JSON line and flush it to the OS, so readers see it now.

        Non-finite floats are written as null (JSON has no NaN).
        """
        line = json.dumps({k: _json_number(v) for k, v in record.items()}, allow_nan=False)
        self.path.mkdir(parents=True, exist_ok=True)
        with open(self.metrics_path, "a", encoding="utf-8") as stream:
            stream.write(line + "\n")
            stream.flush()

    def read_metrics(self) -> list[dict[str, Any]]:
        """All complete records in order; a half-written last line is skipped."""
        try:
            text = self.metrics_path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return []
        records = []
        for line in text.splitlines():
            try:
                record = json.loads(line)
            except json.JSONDecodeError:
                continue
            if isinstance(record, dict):  # a stray non-record line is skipped like a torn one
                records.append(record)
        return records

    def truncate_metrics(self, last_step: int) -> None:
        """Keep only records with ``step <= last_step`` (a resumed run rewrites what follows)."""
        kept = [r for r in self.read_metrics() if int(r.get("step", 0)) <= last_step]
        write_text_atomic(self.metrics_path, "".join(json.dumps(r) + "\n" for r in kept))

    # status.json -----------------------------------------------------------------------------
    def read_status(self) -> dict[str, Any]:
        """The status dict, or {} when the run has none yet.

        Raises:
            ValueError: naming status.json when it is not a JSON object.
        """
        return _read_json_object(self.status_path)

    def write_status(self, state: str, *, error: str | None = None, pid: int | None = None,
                     **extra: Any) -> dict[str, Any]:
        """Set the run's state. `started` is kept from the previous status (or set now), and
        `ended` is set for every state but "running".

        Raises:
            ValueError: naming `state` when it is not one of running, done, failed, stopped.
        """
        if state not in STATES:
            raise ValueError(f"state must be one of {STATES}, got {state!r}")
        try:
            previous = self.read_status()
        except ValueError:  # a damaged status is replaced, not kept
            previous = {}
        now = time.time()
        started = previous.get("started") if state != "running" or previous.get("state") == "running" else None
        status = {
            **extra,
            "state": state,
            "error": error,
            "pid": pid,
            # With the pid, its start time tells a live run from a reused pid.
            "pid_start": None if pid is None else process_start_time(pid),
            "started": started if started is not None else now,
            "ended": None if state == "running" else now,
        }
        write_json_atomic(self.status_path, status)
        return status

    # log.txt ---------------------------------------------------------------------------------
    def log_tail(self, lines: int = 20) -> str:
        """The last `lines` lines of log.txt ('' when there is none)."""
        try:
            with open(self.log_path, "rb") as stream:
                stream.seek(0, os.SEEK_END)
                stream.seek(max(0, stream.tell() - 64 * 1024))
                text = stream.read().decode("utf-8", errors="replace")
        except FileNotFoundError:
            return ""
        # A progress bar redraws its line with \r: keep what a terminal would show.
        shown = [line.rstrip("\r").rsplit("\r", 1)[-1] for line in text.split("\n")]
        return "\n".join([line for line in shown if line.strip()][-lines:])


def _holder(fd: int) -> str:
    """The holder's pid from a lock file, as " (pid N)"; empty before the holder has written it."""
    text = os.pread(fd, 32, 0).decode(errors="replace").strip()
    return f" (pid {text})" if text.isdigit() else ""


def _read_json_object(path: Path) -> dict[str, Any]:
    """The JSON object in `path`, {} when the file does not exist (ValueError naming it else)."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return {}
    except (OSError, UnicodeDecodeError) as error:
        raise ValueError(f"{path.name} of run {path.parent.name!r} is unreadable: {error}") from None
    try:
        value = json.loads(text)
    except (json.JSONDecodeError, RecursionError) as error:
        raise ValueError(f"{path.name} of run {path.parent.name!r} is not valid JSON: {error}") from None
    if not isinstance(value, dict):
        raise ValueError(f"{path.name} of run {path.parent.name!r} holds a JSON "
                         f"{type(value).__name__}, not an object")
    return value


def process_stat(pid: int) -> list[str] | None:
    """The fields of /proc/<pid>/stat after the command name (field 3, the state, comes first),
    or None when there is no such file."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return stat.rsplit(")", 1)[-1].split()  # fields 1-2 (pid, "(name)") end at the last ")"


def process_start_time(pid: int) -> int | None:
    """When process `pid` started (clock ticks since boot, from /proc), or None if unknown."""
    fields = process_stat(pid)
    return None if fields is None else int(fields[19])  # field 22


def _json_number(value: Any) -> Any:
    if hasattr(value, "item"):  # numpy scalar
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value
