"""TensorFlow's native start-up lines, held to the log level TensorFlow itself ignores for them.

TensorFlow 2.21 prints its first C++ log lines (absl's "before InitializeLog" banner, oneDNN,
the CUDA probe) before absl's logging is initialised, so `TF_CPP_MIN_LOG_LEVEL` does not reach
them; on a CPU machine they read like errors in every CLI command, in `vaeflow app`'s terminal
and in each run's log. `quiet_tensorflow_start()` imports TensorFlow and probes its devices
while file descriptor 2 passes through a filter that applies that level to those lines.
Every other line is forwarded as it arrives.
"""

from __future__ import annotations

import contextlib
import os
import re
import sys
import threading
from typing import Iterator

LEVEL_VAR = "TF_CPP_MIN_LOG_LEVEL"
# absl/glog line prefix: severity, MMDD, time, thread id, file:line]
_NATIVE_LINE = re.compile(rb"^([IWEF])\d{4} [\d:.]+\s+\d+ ([\w.-]+):\d+\] ")
_SEVERITY = {b"I": 0, b"W": 1, b"E": 2, b"F": 3}
_BANNER = b"WARNING: All log messages before absl::InitializeLog() is called are written to STDERR"


def min_log_level() -> int:
    """`$TF_CPP_MIN_LOG_LEVEL` as an int in 0..3 (0, TensorFlow's own default, when unset or bad)."""
    try:
        return min(max(int(os.environ.get(LEVEL_VAR, "0")), 0), 3)
    except ValueError:
        return 0


def drops(line: bytes, min_level: int) -> bool:
    """Whether a native stderr `line` is below `min_level` (TensorFlow's 0 info .. 3 fatal only).

    Drops: lines of a lower severity; absl's banner at level >= 1; at level >= 2, the failed
    CUDA probe (`cuInit`), which on a machine without a GPU driver is the normal case.
    Lines that are not native log lines are never dropped.
    """
    if min_level >= 1 and line.startswith(_BANNER):
        return True
    match = _NATIVE_LINE.match(line)
    if match is None:
        return False
    if _SEVERITY[match.group(1)] < min_level:
        return True
    return min_level >= 2 and match.group(2) == b"cuda_platform.cc" and b"failed call to cuInit" in line


@contextlib.contextmanager
def filtered_stderr(min_level: int) -> Iterator[None]:
    """Pass file descriptor 2 through `drops(line, min_level)` inside the block.

    Lines are forwarded by a thread as they arrive (a crash inside the block still shows what
    was written before it); the original descriptor is back in place on exit.
    """
    try:
        original = os.dup(2)
    except OSError:  # no stderr at all: nothing to filter
        yield
        return
    read_end, write_end = os.pipe()
    sys.stderr.flush()
    os.dup2(write_end, 2)
    os.close(write_end)

    def forward() -> None:
        with os.fdopen(read_end, "rb", buffering=0) as pipe:
            for line in iter(pipe.readline, b""):
                if not drops(line, min_level):
                    os.write(original, line)

    thread = threading.Thread(target=forward, name="vaeflow-native-stderr", daemon=True)
    thread.start()
    try:
        yield
    finally:
        sys.stderr.flush()
        os.dup2(original, 2)  # closes the pipe's last write end, so the thread sees EOF
        thread.join(timeout=5)
        os.close(original)


def quiet_tensorflow_start() -> None:
    """Import TensorFlow and probe its devices with the native start-up lines filtered by
    `$TF_CPP_MIN_LOG_LEVEL`. Does nothing when TensorFlow was imported before, or at level 0."""
    level = min_log_level()
    if "tensorflow" in sys.modules or level == 0:
        return
    with filtered_stderr(level):
        import tensorflow as tf

        # The CUDA probe runs on the first device query; run it here, inside the filter.
        # (Listing physical devices leaves them configurable: visible devices, threads.)
        tf.config.list_physical_devices()
