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
import shutil
import time
from pathlib import Path
from typing import Any, Iterator

from vaeflow.io import check_name, fsync, write_json_atomic, write_text_atomic

STATES = ("running", "done", "failed", "stopped")
LOCK_FILE = ".lock"
# The descriptor of a run's lock, held and passed on by the process that launched this one.
LOCK_FD_ENV = "VAEFLOW_RUN_LOCK_FD"


class RunLockedError(RuntimeError):
    """Another process holds the run's writer lock: it is training that run right now."""
def validate_run_name(name: str) -> str:
    """Return `name` if it is a safe run name (`vaeflow.io.check_name`: one path component that
    cannot leave ``runs/``), else raise ValueError naming it."""
    return check_name(name, "run name")


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
    def lock(self) -> Iterator[int]:
        """Hold the run's writer lock for the block, so one process at a time writes this run.

        The lock is an ``fcntl.flock`` on ``<run>/.lock`` (created on demand), released by the OS
        when the holder exits, even on ``kill -9``; the file keeps the holder's pid for messages.
        Yields the lock file's descriptor. A process that launches the run's trainer passes it
        on (``pass_fds=(fd,)`` and ``$VAEFLOW_RUN_LOCK_FD=fd``), and the trainer's `lock` takes
        it over: the lock never lapses between the launcher's checks and the trainer.

        Raises:
            RunLockedError: naming the run and the pid of the process that holds it; nothing
                in the run has been touched.
        """
        created = not self.path.exists()
        self.create()
        fd = self._handed_over_lock()
        if fd is None:
            fd = os.open(self.lock_path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)  # a no-op on a handed-over lock
            except OSError as error:
                if error.errno not in (errno.EWOULDBLOCK, errno.EACCES):
                    raise
                raise RunLockedError(
                    f"run {self.name!r} ({str(self.path)!r}) is being trained by another process"
                    f"{_holder(fd)}; stop it first, or wait for it to finish") from None
            write_lock_holder(fd, os.getpid())
            yield fd
        finally:
            os.close(fd)  # closing the last descriptor of the lock releases it
            if created and os.listdir(self.path) == [LOCK_FILE]:
                # refused before writing anything (a typo'd --resume): leave no folder behind
                self.lock_path.unlink(missing_ok=True)
                with contextlib.suppress(OSError):
                    self.path.rmdir()

    def _handed_over_lock(self) -> int | None:
        """The descriptor of this run's lock file that the parent process passed on, if any."""
        text = os.environ.pop(LOCK_FD_ENV, "")
        if not text.isdigit():
            return None
        fd = int(text)
        try:
            if not os.path.samestat(os.fstat(fd), os.stat(self.lock_path)):
                return None  # another run's, or a number that means nothing here
        except OSError:
            return None
        os.set_inheritable(fd, False)
        return fd

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

    def sync_metrics(self) -> None:
        """Make the records appended so far durable (``fsync``): a checkpoint claims them, so
        they must reach the disk before it does, or a power loss could drop history that a
        resume from that checkpoint never writes again."""
        if self.metrics_path.exists():
            fsync(self.metrics_path)

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
            except (ValueError, RecursionError):  # torn, or beyond what json can read
                continue
            if isinstance(record, dict):  # a stray non-record line is skipped like a torn one
                records.append(record)
        return records

    def truncate_metrics(self, last_step: int, completed_epochs: int | None = None) -> None:
        """Keep the records a run restored at `last_step` has already made, each once.

        Kept: records with ``step < last_step``, and at ``last_step`` itself the windows and
        ends, and the ``epoch`` records of epochs ≤ `completed_epochs` (when given). An epoch
        record at `last_step` for an epoch the checkpoint had not completed (a kill between the
        epoch's record and its checkpoint) goes: the resumed run writes it again. A record
        repeated by an earlier such kill keeps its first copy. The file is replaced atomically.
        """
        kept, seen = [], set()
        for record in self.read_metrics():
            step, epoch = record.get("step", 0), record.get("epoch", 0)
            if not (_is_integer(step) and _is_integer(epoch)):
                continue  # a damaged record has no place in the history to keep
            if step > last_step:
                continue
            if (step == last_step and record.get("kind") == "epoch" and completed_epochs is not None
                    and epoch > completed_epochs):
                continue
            key = (record.get("kind"), step, record.get("epoch"))
            if key not in seen:
                seen.add(key)
                kept.append(record)
        write_text_atomic(self.metrics_path, "".join(json.dumps(r) + "\n" for r in kept))

    def has_history(self) -> bool:
        """Whether the run has trained: metrics records, a model or checkpoint files."""
        from vaeflow.training.checkpoints import has_checkpoint_files

        return bool(self.read_metrics()) or self.model_dir.exists() or has_checkpoint_files(
            self.checkpoints_dir)

    def sweep_temporaries(self, min_age_s: float = 60.0) -> list[Path]:
        """Delete the temporary files and directories killed writers left in the run:
        ``.model.*.tmp`` staging directories, ``.model.old``, ``.metrics.jsonl.*.tmp`` and
        the checkpoints' temporaries; another process's ``.status.json.*.tmp`` or
        ``.config.json.*.tmp`` only once older than `min_age_s` (a JobRunner may be writing
        one). Call it only while holding the run's lock. Returns what was deleted.
        """
        from vaeflow.training.checkpoints import sweep_temporaries

        swept = sweep_temporaries(self.checkpoints_dir)
        if not self.path.is_dir():
            return swept
        now = time.time()
        for path in self.path.iterdir():
            name = path.name
            if not name.startswith("."):
                continue
            if name.startswith((".status.json.", ".config.json.")):
                try:
                    if now - path.stat().st_mtime < min_age_s:
                        continue
                except FileNotFoundError:
                    continue
            elif not (name.endswith(".tmp") or name == f".{self.model_dir.name}.old"):
                continue
            if path.is_dir():
                shutil.rmtree(path, ignore_errors=True)
            else:
                path.unlink(missing_ok=True)
            swept.append(path)
        return swept

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
        try:
            write_json_atomic(self.status_path, status)
        except OSError:
            # On a full disk the temporary file may not fit while rewriting the small file in
            # place, into the blocks it frees, still does: the failure must get recorded.
            if not self.status_path.exists():
                raise
            with open(self.status_path, "w", encoding="utf-8") as stream:
                stream.write(json.dumps(status, indent=2, sort_keys=True) + "\n")
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


def write_lock_holder(fd: int, pid: int) -> None:
    """Record `pid` in the lock file open as `fd`, for the messages of refused writers."""
    os.ftruncate(fd, 0)
    os.pwrite(fd, f"{pid}\n".encode(), 0)


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


def _is_integer(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _json_number(value: Any) -> Any:
    if hasattr(value, "item"):  # numpy scalar
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value
