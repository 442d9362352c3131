"""TensorFlow's native start-up lines obey TF_CPP_MIN_LOG_LEVEL; every other line gets through."""

from __future__ import annotations

import os
import re
import subprocess
import sys

import pytest

from vaeflow import native_log

BANNER = b"WARNING: All log messages before absl::InitializeLog() is called are written to STDERR\n"
INFO = b"I0000 00:00:1796215460.018476   15868 cudart_stub.cc:31] Could not find cuda drivers on your machine.\n"
CUINIT = (b"E0000 00:00:1796215478.890990   15868 cuda_platform.cc:52] failed call to cuInit: INTERNAL: "
          b"CUDA error: Failed call to cuInit: UNKNOWN ERROR (303)\n")
OTHER_ERROR = b"E0000 00:00:1796215478.890990   15868 op_kernel.cc:1857] OP_REQUIRES failed: out of memory\n"
OURS = b"error: --n must be >= 1, got 0\n"


@pytest.mark.parametrize("line, level, dropped", [
    (BANNER, 2, True), (BANNER, 0, False),
    (INFO, 1, True), (INFO, 0, False),
    (CUINIT, 2, True), (CUINIT, 1, False),
    (OTHER_ERROR, 2, False), (OTHER_ERROR, 3, True),
    (OURS, 3, False), (b"Traceback (most recent call last):\n", 3, False),
])
def test_drops_only_native_lines_below_the_level(line, level, dropped):
    assert native_log.drops(line, level) is dropped


def test_filtered_stderr_forwards_everything_else_in_order(capfd):
    with native_log.filtered_stderr(2):
        for line in (BANNER, INFO, OURS, CUINIT, OTHER_ERROR):
            os.write(2, line)
    assert capfd.readouterr().err.encode() == OURS + OTHER_ERROR
    os.write(2, INFO)  # the real descriptor is back: nothing filtered after the block
    assert capfd.readouterr().err.encode() == INFO


@pytest.mark.slow
def test_importing_vaeflow_prints_no_tensorflow_start_up_lines():
    # TF_CPP_MIN_LOG_LEVEL unset: vaeflow's default (2) applies, to the pre-init lines as well.
    env = {k: v for k, v in os.environ.items() if k != native_log.LEVEL_VAR}
    result = subprocess.run([sys.executable, "-c", "import vaeflow, tensorflow as tf; tf.constant(1.0) + 1"],
                            env=env, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    native = [line for line in result.stderr.splitlines()
              if re.match(r"[IWEF]\d{4} ", line) or "absl::InitializeLog" in line]
    assert native == []
