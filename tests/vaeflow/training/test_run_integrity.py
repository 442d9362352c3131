"""A run directory's history under faults: one writer, resume without losing or doubling records,
no poisoned checkpoints, no leaked temporary files, disk-full failures recorded."""

import json
import subprocess
import sys

import numpy as np
import pytest

from training_util import TINY, small_dataset, weights, small_config
from vaeflow.cli import main
from vaeflow.training.jobs import JobRunner, RunInProgressError
from vaeflow.training.loop import train
from vaeflow.training.runs import RunDir, RunLockedError


@pytest.fixture(scope="module")
def data_file(tmp_path_factory):
    return small_dataset(tmp_path_factory.mktemp("data") / "flow.npz")


_config = small_config


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
                "fcntl.flock(fd, fcntl.LOCK_EX); os.ftruncate(fd, 0); os.write(fd, str(os.getpid()).encode());"
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


@pytest.mark.slow
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


def _steps(run: RunDir, kind: str = "window") -> list[int]:
    return [r["step"] for r in run.read_metrics() if r["kind"] == kind]


def test_resume_recovers_without_the_pointer_and_never_drops_history_silently(data_file, tmp_path,
                                                                              capsys):
    run = RunDir(tmp_path, "pointer")
    train(_config(data_file, epochs=1, steps_per_window=1), TINY, run)
    (run.checkpoints_dir / "checkpoint").unlink()  # TensorFlow's pointer lost
    result = train(_config(data_file, epochs=2, steps_per_window=1), TINY, run, resume=True)
    assert "resumed from step 9" in run.log_path.read_text()
    assert _steps(run) == list(range(1, 19)) and result.step == 18

    for path in run.checkpoints_dir.iterdir():  # every checkpoint gone: nothing to resume from
        path.unlink()
    before = _snapshot(run)
    with pytest.raises(ValueError, match=r"no usable checkpoint.*metrics and model are kept.*--restart"):
        train(_config(data_file, epochs=3), TINY, run, resume=True)
    assert main(["train", "--run-dir", str(run.path), "--resume", "--no-progress"]) == 1
    assert "no usable checkpoint" in capsys.readouterr().err
    assert _snapshot(run) == before  # metrics.jsonl and model/ untouched, status too

    assert main(["train", "--run-dir", str(run.path), "--restart", "--epochs", "1",
                 "--no-progress"]) == 0
    assert _steps(run) == list(range(1, 10))  # history replaced, each step once
    assert [r["epoch"] for r in run.read_metrics() if r["kind"] == "epoch"] == [1]


def test_a_run_that_never_trained_resumes_from_step_0(data_file, tmp_path):
    run = RunDir(tmp_path, "fresh").create()  # as JobRunner.start leaves a new run
    run.write_config({"train": _config(data_file, epochs=1).to_dict(), "model": TINY.to_dict()})
    assert train(_config(data_file, epochs=1), TINY, run, resume=True).step == 9


def test_a_failed_resume_leaves_the_run_resumable_as_it_was(data_file, tmp_path, capsys):
    from vaeflow.training.checkpoints import CheckpointError

    run = RunDir(tmp_path, "bricked")
    train(_config(data_file, epochs=1, lr_schedule="cosine"), TINY, run)
    config_before = run.config_path.read_bytes()

    # a schedule the checkpoint's optimizer cannot load: refused, named, and not persisted
    with pytest.raises(CheckpointError, match=r"this resume changes .*train\.lr_schedule"):
        train(_config(data_file, epochs=2, lr_schedule="constant"), TINY, run, resume=True)
    assert run.config_path.read_bytes() == config_before
    # an absurd learning rate: the run fails on the non-finite loss, the rate is not persisted
    assert main(["train", "--run-dir", str(run.path), "--resume", "--lr", "1e9", "--epochs", "2",
                 "--no-progress"]) == 1
    assert "non-finite" in capsys.readouterr().err
    assert run.config_path.read_bytes() == config_before

    assert main(["train", "--run-dir", str(run.path), "--resume", "--epochs", "2",
                 "--no-progress"]) == 0  # a plain resume still works, from the last good step
    assert "resumed from step 9" in run.log_path.read_text().split("--lr")[-1]
    saved = run.read_config()["train"]
    assert (saved["epochs"], saved["learning_rate"], saved["lr_schedule"]) == (2, 3e-3, "cosine")
    assert _steps(run, "epoch") == [9, 18]


def _non_finite_values(prefix: str) -> int:
    import tensorflow as tf

    reader = tf.train.load_checkpoint(prefix)
    return sum(int((~np.isfinite(reader.get_tensor(name))).sum())
               for name, dtype in reader.get_variable_to_dtype_map().items() if dtype.is_floating)


def test_a_checkpoint_with_non_finite_weights_never_counts_as_good(data_file, tmp_path):
    from vaeflow.training.checkpoints import latest_checkpoint
    from vaeflow.training.trainer import NonFiniteLossError

    # At this rate the update after step 3 overflows weights while step 3's loss was finite;
    # checkpointing after every step used to keep those weights as "the last good checkpoint".
    run = RunDir(tmp_path, "huge-lr")
    with pytest.raises(NonFiniteLossError) as raised:
        train(_config(data_file, learning_rate=1e3, checkpoint_every_s=1e-9), TINY, run)
    latest = latest_checkpoint(run.checkpoints_dir)
    assert _non_finite_values(latest["path"]) == 0
    assert f"kept the last good checkpoint (step {latest['step']} at" in str(raised.value)
    assert run.read_status()["state"] == "failed"
    with pytest.raises(NonFiniteLossError):  # resuming the same recipe fails the same way...
        train(_config(data_file, learning_rate=1e3, checkpoint_every_s=1e-9), TINY, run, resume=True)
    assert f"resumed from step {latest['step']}" in run.log_path.read_text()  # ...from good weights
    assert _non_finite_values(latest_checkpoint(run.checkpoints_dir)["path"]) == 0


class _Killed(BaseException):
    """Stands for a kill -9: nothing after the point it is raised at gets written."""


def _kill_at_save(monkeypatch, step: int, nth: int) -> None:
    """Make the `nth` checkpoint save of `step` die before it writes anything."""
    from vaeflow.training.checkpoints import StepCheckpoints

    real, seen = StepCheckpoints.save, []

    def save(self, at_step, state):
        if at_step == step:
            seen.append(at_step)
            if len(seen) == nth:
                raise _Killed(f"killed at the save #{nth} of step {step}")
        return real(self, at_step, state)

    monkeypatch.setattr(StepCheckpoints, "save", save)


def _comparable(records):
    return [{k: v for k, v in r.items() if k not in ("time", "images_per_s")} for r in records]


@pytest.mark.slow
def test_kills_at_an_epoch_boundary_leave_each_record_once_and_the_same_run(data_file, tmp_path,
                                                                            monkeypatch):
    # A checkpoint after every step: step 18 (the last of epoch 2) is saved mid-epoch, then
    # again after epoch 2's record and best model. Kills between those two saves used to leave
    # epoch 2's record twice or three times, the extra copies without a training loss.
    config = _config(data_file, epochs=3, steps_per_window=2, checkpoint_every_s=1e-9)
    reference = train(config, TINY, RunDir(tmp_path, "whole"))
    expected = _comparable(RunDir(tmp_path, "whole").read_metrics())

    # killed after step 18's first save, then twice more in the resumed runs' saves of step 18;
    # and, in another run, killed in step 18's first save (resumes from step 17)
    for name, kills in [("killed", [(18, 2), (18, 1), (18, 1)]), ("killed-mid", [(18, 1)])]:
        run = RunDir(tmp_path, name)
        for step, nth in kills:
            _kill_at_save(monkeypatch, step, nth)
            with pytest.raises(_Killed):
                train(config, TINY, run, resume=run.config_path.exists())
            monkeypatch.undo()
        result = train(config, TINY, run, resume=True)

        assert _comparable(run.read_metrics()) == expected  # each record once, the same values
        assert [r["epoch"] for r in run.read_metrics() if r["kind"] == "epoch"] == [1, 2, 3]
        for ours, theirs in zip(weights(result.model), weights(reference.model)):
            np.testing.assert_array_equal(ours, theirs)


def test_temporary_files_left_by_killed_writers_are_swept_on_the_next_start(data_file, tmp_path):
    import os
    import time

    run = RunDir(tmp_path, "litter")
    train(_config(data_file, epochs=1), TINY, run)
    leftovers = [run.path / ".model.k2j3.tmp" / "weights.npz", run.path / ".model.old" / "config.json",
                 run.path / ".metrics.jsonl.x7.tmp", run.path / ".status.json.a1.tmp",
                 run.checkpoints_dir / "ckpt-9_temp" / "part-00000-of-00001.index",
                 run.checkpoints_dir / "checkpoint.tmp4f2e", run.checkpoints_dir / ".latest.json.q.tmp",
                 run.checkpoints_dir / ".step-000000011.abc.tmp" / "state.json"]
    for path in leftovers:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"x" * 100)
    hour_ago = time.time() - 3600
    os.utime(run.path / ".status.json.a1.tmp", (hour_ago, hour_ago))
    young = run.path / ".status.json.b2.tmp"  # may be a JobRunner's write in progress
    young.write_text("{}")

    train(_config(data_file, epochs=2), TINY, run, resume=True)
    assert not [p for p in leftovers if p.exists() or p.parent.exists() and p.parent != run.path
                and p.parent != run.checkpoints_dir]
    assert young.exists()
    assert "removed 8 temporary file(s)" in run.log_path.read_text()


def _disk_full(path) -> OSError:
    import errno

    return OSError(errno.ENOSPC, "No space left on device", str(path))


def test_a_full_disk_fails_the_run_and_says_so_and_where(data_file, tmp_path, monkeypatch, capsys):
    import vaeflow.training.runs as runs

    run = RunDir(tmp_path, "full")
    full = {"now": False}
    real_append, real_atomic = RunDir.append_metrics, runs.write_json_atomic

    def append_metrics(self, record):
        if record["step"] >= 4:
            full["now"] = True  # from here on no new file fits, as on a full disk
        if full["now"]:
            raise _disk_full(self.metrics_path)
        return real_append(self, record)

    def write_json_atomic(path, obj):
        if full["now"]:
            raise _disk_full(path)
        return real_atomic(path, obj)

    config_file = tmp_path / "config.json"
    config_file.write_text(json.dumps({"train": _config(data_file).to_dict(), "model": TINY.to_dict()}))
    monkeypatch.setattr(RunDir, "append_metrics", append_metrics)
    monkeypatch.setattr(runs, "write_json_atomic", write_json_atomic)
    assert main(["train", "--config", str(config_file), "--run-dir", str(run.path),
                 "--no-progress"]) == 1
    assert f"error: disk full ({run.metrics_path})" in capsys.readouterr().err
    status = run.read_status()
    assert status["state"] == "failed" and status["error"].startswith(f"disk full ({run.metrics_path})")


def test_start_on_a_full_disk_says_so_and_leaves_no_run_folder(data_file, tmp_path, monkeypatch):
    from vaeflow.training.jobs import RunStartError

    runner = JobRunner(tmp_path / "runs")
    monkeypatch.setattr(RunDir, "write_config", lambda self, config: (_ for _ in ()).throw(
        _disk_full(self.config_path)))
    with pytest.raises(RunStartError, match=r"could not start run 'new': disk full \(.*config\.json\)"):
        runner.start("new", _config(data_file), model_config=TINY)
    assert not (runner.root / "new").exists()
    assert runner.list_runs() == []


@pytest.mark.slow
def test_a_real_kill_9_between_an_epochs_record_and_its_checkpoint_resumes_exactly(data_file,
                                                                                   tmp_path):
    import signal

    from training_util import run_python

    config = _config(data_file, epochs=3, steps_per_window=2, checkpoint_every_s=1e-9)
    reference = train(config, TINY, RunDir(tmp_path, "whole"))
    run = RunDir(tmp_path, "killed")
    # The trainer SIGKILLs itself in the save after epoch 2's record (step 18's second save).
    code = f"""
import json, os, signal, sys
sys.path.insert(0, "tests")
from training_util import TINY
from vaeflow.training.checkpoints import StepCheckpoints
from vaeflow.training.config import TrainConfig
from vaeflow.training.loop import train

real, seen = StepCheckpoints.save, []
def save(self, step, state):
    seen.append(step)
    if seen.count(18) == 2:
        os.kill(os.getpid(), signal.SIGKILL)
    return real(self, step, state)
StepCheckpoints.save = save
train(TrainConfig.from_dict(json.loads({json.dumps(config.to_dict())!r})), TINY, {str(run.path)!r})
"""
    assert run_python(code, timeout=600).returncode == -signal.SIGKILL
    assert run.read_status()["state"] == "running" and not run.is_locked()
    assert [r["epoch"] for r in run.read_metrics() if r["kind"] == "epoch"] == [1, 2]

    result = train(config, TINY, run, resume=True)
    assert "resumed from step 18 (epoch 1, 9 steps into it)" in run.log_path.read_text()
    expected = _comparable(RunDir(tmp_path, "whole").read_metrics())
    assert _comparable(run.read_metrics()) == expected
    for ours, theirs in zip(weights(result.model), weights(reference.model)):
        np.testing.assert_array_equal(ours, theirs)
