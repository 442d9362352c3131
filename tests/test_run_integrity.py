"""A run directory's history under faults: one writer, resume without losing or doubling records,
no poisoned checkpoints, no leaked temporary files, disk-full failures recorded."""

import json
import subprocess
import sys

import numpy as np
import pytest

from training_util import TINY, small_dataset, vaeflow_env, weights
from vaeflow.cli import main
from vaeflow.training.config import TrainConfig
from vaeflow.training.jobs import JobRunner, RunInProgressError
from vaeflow.training.loop import train
from vaeflow.training.runs import RunDir, RunLockedError


@pytest.fixture(scope="module")
def data_file(tmp_path_factory):
    return small_dataset(tmp_path_factory.mktemp("data") / "flow.npz")


def _config(data_file, **changes):
    values = dict(data=str(data_file), epochs=2, batch_size=32, learning_rate=3e-3,
                  steps_per_window=3, seed=1)
    return TrainConfig(**{**values, **changes})


def _snapshot(run: RunDir) -> dict[str, bytes]:
    """Every file of `run` but its log and lock, by relative path."""
    return {str(p.relative_to(run.path)): p.read_bytes() for p in sorted(run.path.rglob("*"))
            if p.is_file() and p.name not in ("log.txt", ".lock")}


@pytest.fixture
def lock_holder():
    """Start a process (no TensorFlow) that holds a run's writer lock until the test ends."""
    processes = []

    def hold(run: RunDir) -> subprocess.Popen:
        run.create()
        code = ("import fcntl, os, sys; fd = os.open(sys.argv[1], os.O_RDWR | os.O_CREAT);"
                "fcntl.flock(fd, fcntl.LOCK_EX); os.write(fd, str(os.getpid()).encode());"
                "print('locked', flush=True); sys.stdin.read()")
        process = subprocess.Popen([sys.executable, "-c", code, str(run.lock_path)],
                                   stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        assert process.stdout.readline().strip() == "locked"
        processes.append(process)
        return process

    yield hold
    for process in processes:
        process.stdin.close()
        process.wait(timeout=10)


def test_a_second_writer_is_refused_and_changes_nothing(data_file, tmp_path, lock_holder, capsys):
    run = RunDir(tmp_path / "runs", "busy")
    train(_config(data_file, epochs=1), TINY, run)
    before = _snapshot(run)
    holder = lock_holder(run)  # stands for a trainer in another process (CLI or app)

    with pytest.raises(RunLockedError, match=rf"'busy'.*another process \(pid {holder.pid}\)"):
        train(_config(data_file, epochs=2), TINY, run, resume=True)
    assert main(["train", "--run-dir", str(run.path), "--resume", "--epochs", "2",
                 "--no-progress"]) == 3
    assert f"being trained by another process (pid {holder.pid})" in capsys.readouterr().err
    with pytest.raises(RunInProgressError, match="'busy' is being trained by another process"):
        JobRunner(run.root).start("busy", _config(data_file), resume=True)
    assert _snapshot(run) == before  # no status, metrics, config or checkpoint was touched

    holder.stdin.close()
    holder.wait(timeout=10)
    assert not run.is_locked()  # the OS releases the lock when its holder exits
    assert train(_config(data_file, epochs=2), TINY, run, resume=True).epoch == 2
