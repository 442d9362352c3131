"""JobRunner: launch a real training process, watch it, refuse a second, stop it, catch a crash."""

import json
import os
import signal
import time
from pathlib import Path

import pytest

from training_util import TINY, small_dataset
from vaeflow.models import load_model
from vaeflow.training.checkpoints import latest_checkpoint
from vaeflow.training.config import TrainConfig
from vaeflow.training.jobs import JobRunner, RunInProgressError


def _wait(condition, timeout=120.0, what="condition"):
    deadline = time.time() + timeout
    while not condition():
        assert time.time() < deadline, f"timed out waiting for {what}"
        time.sleep(0.1)


def _exited(pid: int) -> bool:
    """Whether `pid` has exited: gone from /proc, or a zombie its parent has not reaped."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[-1].split()[0]
    except OSError:
        return True
    return state in ("Z", "X")


@pytest.fixture
def runner(tmp_path):
    runner = JobRunner(tmp_path / "runs")
    yield runner
    for name in runner.active_runs():  # never leave a training process behind
        runner.stop(name, timeout=20)


@pytest.mark.slow
def test_launch_watch_refuse_stop_resume_and_crash(runner, tmp_path):
    data = small_dataset(tmp_path / "flow.npz")
    config = TrainConfig(epochs=10_000, batch_size=32, steps_per_window=1, seed=0)
    run = runner.start("live", config, data=data, model_config=TINY)
    assert runner.active_run() == "live"

    # live metrics appear while the process is still running
    _wait(lambda: len(runner.read_metrics("live")) >= 3, what="live metrics")
    assert runner.status("live")["state"] == "running"
    pid = runner.status("live")["pid"]
    assert pid is not None and os.path.exists(f"/proc/{pid}")

    # one run at a time, also for another runner on the same directory (another UI session)
    for other in (runner, JobRunner(runner.root)):
        with pytest.raises(RunInProgressError, match="'live'"):
            other.start("second", config, data=data, model_config=TINY)
    assert not (runner.root / "second").exists()

    _wait(lambda: any(r["kind"] == "epoch" for r in runner.read_metrics("live")), what="an epoch")
    status = runner.stop("live", timeout=60)
    assert status["state"] == "stopped" and status["error"] is None
    assert not os.path.exists(f"/proc/{pid}") or open(f"/proc/{pid}/stat").read().split()[2] == "Z"
    assert latest_checkpoint(run.checkpoints_dir)["step"] == status["step"]
    assert load_model(run.path) is not None
    [summary] = runner.list_runs()
    assert (summary.name, summary.state, summary.dataset) == ("live", "stopped", str(data))
    assert summary.best_val_loss is not None and summary.hyperparameters["batch_size"] == 32
    assert runner.active_run() is None

    with pytest.raises(ValueError, match="already used"):
        runner.start("live", config, data=data, model_config=TINY)
    with pytest.raises(ValueError, match="run name"):
        runner.start("../escape", config, data=data, model_config=TINY)

    # resume, then kill -9 behind the runner's back: a fresh runner reports it failed, with the log
    stopped_at = status["step"]
    runner.start("live", config, resume=True)
    _wait(lambda: runner.read_metrics("live")[-1]["step"] > stopped_at + 3, what="resumed steps")
    pid = runner.status("live")["pid"]
    os.kill(pid, signal.SIGKILL)
    # A big TensorFlow process can take a while to tear down on a loaded box: wait for the OS.
    _wait(lambda: _exited(pid), timeout=60, what="the killed trainer to exit")
    failed = JobRunner(runner.root).status("live")
    assert failed["state"] == "failed"
    assert "died without finishing" in failed["error"] and f"resumed from step {stopped_at}" in failed["error"]
    assert runner.status("live")["state"] == "failed"
    assert runner.active_run() is None


def test_a_live_pid_counts_only_if_it_is_the_same_process(tmp_path):
    runner = JobRunner(tmp_path)
    run = runner.run_dir("inproc").create()
    run.write_config({"train": {"stream": True}})
    run.write_status("running", pid=os.getpid())  # e.g. vaeflow.train() in a notebook
    assert runner.status("inproc")["state"] == "running"
    assert runner.active_run() == "inproc"
    status = run.read_status()
    status["pid_start"] -= 1  # the pid now belongs to another process than the one recorded
    run.status_path.write_text(json.dumps(status))
    assert runner.status("inproc")["state"] == "failed"
    assert runner.active_run() is None
