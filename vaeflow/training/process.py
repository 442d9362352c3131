"""The training process's plumbing: its log (log.txt, and stderr above the progress bar) and its
stop flag (SIGTERM / SIGINT, or the caller's event)."""

from __future__ import annotations

import logging
import os
import signal
import sys
import threading
from pathlib import Path
from typing import Any

from vaeflow.training.runs import RunDir


class RunLog:
    """Log lines to log.txt (and to stderr unless stderr already is log.txt)."""

    def __init__(self, run: RunDir | None, echo: bool) -> None:
        self.logger = logging.getLogger(f"vaeflow.training.{id(self)}")
        self.logger.setLevel(logging.INFO)
        self.logger.propagate = False
        formatter = logging.Formatter("%(asctime)s %(message)s", "%Y-%m-%d %H:%M:%S")
        if run is not None:
            handler = logging.FileHandler(run.log_path, encoding="utf-8")
            handler.setFormatter(formatter)
            self.logger.addHandler(handler)
        if echo and not (run is not None and _stderr_is(run.log_path)):
            stream = _TqdmHandler()
            stream.setFormatter(formatter)
            self.logger.addHandler(stream)

    def __call__(self, message: str) -> None:
        self.logger.info(message)

    def close(self) -> None:
        for handler in list(self.logger.handlers):
            handler.close()
            self.logger.removeHandler(handler)


class _TqdmHandler(logging.Handler):
    """Writes to stderr above a live progress bar instead of through it."""

    def emit(self, record: logging.LogRecord) -> None:
        from tqdm import tqdm

        tqdm.write(self.format(record), file=sys.stderr)


def _stderr_is(path: Path) -> bool:
    try:
        return os.path.samestat(os.fstat(2), os.stat(path))
    except OSError:
        return False


class StopFlag:
    """Set by SIGTERM/SIGINT (when `train` runs on the main thread) or by the caller."""

    def __init__(self, event: threading.Event | None) -> None:
        self.event = event or threading.Event()
        self.previous: dict[int, Any] = {}

    def install(self) -> None:
        if threading.current_thread() is not threading.main_thread():
            return
        for signum in (signal.SIGTERM, signal.SIGINT):
            self.previous[signum] = signal.signal(signum, lambda *_: self.event.set())

    def restore(self) -> None:
        for signum, handler in self.previous.items():
            signal.signal(signum, handler)
