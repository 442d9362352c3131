"""RunDir (names, metrics, status, log) and atomic checkpoints."""

import json

import numpy as np
import pytest
import tensorflow as tf

from vaeflow.training.checkpoints import (CheckpointError, StepCheckpoints, latest_checkpoint,
                                          restore_checkpoint, save_checkpoint)
from vaeflow.training.runs import RunDir, validate_run_name


@pytest.mark.parametrize("name", ["../evil", "..", ".", "a/b", "/abs", "", "-x", "a" * 65,
                                  "x..y", "sp ace", "tab\t", "ünï"])
def test_unsafe_run_names_raise_value_error_naming_the_name(tmp_path, name):
    with pytest.raises(ValueError, match="run name"):
        RunDir(tmp_path / "runs", name)
    assert not (tmp_path / "evil").exists()


def test_safe_names_stay_inside_the_root(tmp_path):
    for name in ["beta2", "study.v1", "run_3-b", "A" * 64]:
        run = RunDir(tmp_path / "runs", validate_run_name(name))
        assert run.path.parent == tmp_path / "runs"
    assert RunDir.from_path(tmp_path / "runs" / "x").name == "x"
    with pytest.raises(ValueError, match="run name"):
        RunDir.from_path(tmp_path / "runs" / "..")


def test_metrics_append_live_and_skip_a_half_written_line(tmp_path):
    run = RunDir(tmp_path, "r").create()
    run.append_metrics({"kind": "window", "step": 1, "loss": np.float32(2.5)})
    # a reader sees the line at once: the writer flushed it
    assert run.read_metrics() == [{"kind": "window", "step": 1, "loss": 2.5}]
    run.append_metrics({"step": 2, "loss": float("nan")})
    with open(run.metrics_path, "a") as stream:
        stream.write('{"step": 3, "lo')  # a writer caught mid-line
    assert [r["step"] for r in run.read_metrics()] == [1, 2]
    assert run.read_metrics()[1]["loss"] is None  # NaN is not JSON; it becomes null
    run.truncate_metrics(1)
    assert [r["step"] for r in run.read_metrics()] == [1]


def test_status_keeps_started_and_sets_ended(tmp_path):
    run = RunDir(tmp_path, "r").create()
    assert run.read_status() == {}
    running = run.write_status("running", pid=123)
    assert running["state"] == "running" and running["ended"] is None
    failed = run.write_status("failed", error="boom", pid=123)
    assert failed["started"] == running["started"] and failed["ended"] >= failed["started"]
    assert json.loads(run.status_path.read_text())["error"] == "boom"
    with pytest.raises(ValueError, match="state"):
        run.write_status("paused")


def test_log_tail(tmp_path):
    run = RunDir(tmp_path, "r").create()
    assert run.log_tail() == ""
    run.log_path.write_text("".join(f"line {i}\n" for i in range(100)) + "bar\r 50%\r100%\r\n")
    assert run.log_tail(3).splitlines() == ["line 98", "line 99", "100%"]


def _variables(value: float):
    module = tf.Module()
    module.w = tf.Variable(tf.fill([3], value))
    return module


def test_checkpoints_replace_atomically_and_keep_only_the_last(tmp_path):
    directory = tmp_path / "checkpoints"
    assert latest_checkpoint(directory) is None
    module = _variables(1.0)
    checkpoint = tf.train.Checkpoint(module=module)
    save_checkpoint(directory, checkpoint, 5, {"epoch": 1})
    module.w.assign(tf.fill([3], 2.0))
    save_checkpoint(directory, checkpoint, 9, {"epoch": 2})
    assert sorted(p.name for p in directory.glob("ckpt-*.index")) == ["ckpt-2.index"]
    latest = latest_checkpoint(directory)
    assert latest["step"] == 9 and latest["state"] == {"epoch": 2, "step": 9}

    fresh = _variables(0.0)
    state = restore_checkpoint(directory, tf.train.Checkpoint(module=fresh))
    assert state["epoch"] == 2
    np.testing.assert_array_equal(fresh.w.numpy(), [2.0, 2.0, 2.0])


def test_a_lost_pointer_or_a_torn_newest_checkpoint_falls_back_to_what_loads(tmp_path):
    directory = tmp_path / "checkpoints"
    module = _variables(1.0)
    checkpoints = StepCheckpoints(directory, tf.train.Checkpoint(module=module), [module.w])
    checkpoints.save(5, {"epoch": 1})
    (directory / "checkpoint").unlink()  # TensorFlow's pointer lost
    module.w.assign(tf.fill([3], 2.0))
    checkpoints.save(9, {"epoch": 2})  # numbers on from the files on disk, drops the older
    assert sorted(p.name for p in directory.glob("ckpt-*.index")) == ["ckpt-2.index"]
    (directory / "checkpoint").unlink()
    fresh = _variables(0.0)
    assert restore_checkpoint(directory, tf.train.Checkpoint(module=fresh))["step"] == 9
    np.testing.assert_array_equal(fresh.w.numpy(), [2.0, 2.0, 2.0])

    # a kill while the next save's files were being moved into place: its data never landed
    for name in ("ckpt-3.index", "ckpt-3.data-00000-of-00001"):
        (directory / name).write_bytes((directory / name.replace("3", "2", 1)).read_bytes())
    (directory / "ckpt-3.data-00000-of-00001").unlink()
    fresh = _variables(0.0)
    assert restore_checkpoint(directory, tf.train.Checkpoint(module=fresh))["step"] == 9

    # a checkpoint holding a NaN is not good: the older one is used
    module.w.assign([1.0, float("nan"), 1.0])
    checkpoints.save(12, {"epoch": 3})
    assert latest_checkpoint(directory)["step"] == 12
    fresh = _variables(0.0)
    with pytest.raises(CheckpointError, match="non-finite"):
        StepCheckpoints(directory, tf.train.Checkpoint(module=fresh), [fresh.w]).restore()


def test_checkpoints_of_the_earlier_step_directory_layout_still_load(tmp_path):
    directory = tmp_path / "checkpoints"
    module = _variables(3.0)
    tf.train.Checkpoint(module=module).write(str(directory / "step-000000007" / "ckpt"))
    (directory / "step-000000007" / "state.json").write_text(json.dumps({"epoch": 1, "step": 7}))
    assert latest_checkpoint(directory)["step"] == 7
    fresh = _variables(0.0)
    assert restore_checkpoint(directory, tf.train.Checkpoint(module=fresh))["epoch"] == 1
    np.testing.assert_array_equal(fresh.w.numpy(), [3.0, 3.0, 3.0])
    save_checkpoint(directory, tf.train.Checkpoint(module=fresh), 8, {"epoch": 1})
    assert not list(directory.glob("step-*")) and latest_checkpoint(directory)["step"] == 8


def test_foreign_or_corrupted_checkpoints_raise_checkpoint_error(tmp_path):
    directory = tmp_path / "checkpoints"
    save_checkpoint(directory, tf.train.Checkpoint(module=_variables(1.0)), 1, {})
    other = tf.Module()
    other.w = tf.Variable(tf.zeros([4, 4]))  # another architecture
    with pytest.raises(CheckpointError, match="cannot be loaded"):
        restore_checkpoint(directory, tf.train.Checkpoint(module=other))
    for data in directory.glob("ckpt-*.data*"):
        data.write_bytes(b"garbage")
    with pytest.raises(CheckpointError):
        restore_checkpoint(directory, tf.train.Checkpoint(module=_variables(0.0)))


def test_damaged_run_files_raise_a_value_error_naming_the_file(tmp_path):
    run = RunDir(tmp_path, "r").create()
    run.config_path.write_text("{torn")
    with pytest.raises(ValueError, match="config.json of run 'r' is not valid JSON"):
        run.read_config()
    run.status_path.write_text("[1]")
    with pytest.raises(ValueError, match="status.json of run 'r' holds a JSON list"):
        run.read_status()
    assert run.write_status("failed", error="x")["state"] == "failed"  # replaced, not kept
    run.metrics_path.write_text('{"step": 1}\n7\n[2]\n{"step": 3}\n')
    assert run.read_metrics() == [{"step": 1}, {"step": 3}]


def test_truncating_to_a_restored_step_keeps_each_record_once(tmp_path):
    run = RunDir(tmp_path, "t").create()
    records = [{"kind": "window", "epoch": 2, "step": 17}, {"kind": "window", "epoch": 2, "step": 18},
               {"kind": "epoch", "epoch": 1, "step": 9},  # out of order on purpose
               {"kind": "epoch", "epoch": 2, "step": 18, "loss": 1.0},  # not in the checkpoint yet
               {"kind": "epoch", "epoch": 2, "step": 18, "loss": None},  # an earlier kill's copy
               {"kind": "window", "epoch": 3, "step": 19}]
    run.metrics_path.write_text("".join(json.dumps(r) + "\n" for r in records))
    # the checkpoint of step 18 was saved mid-epoch: epoch 2 not complete in it
    run.truncate_metrics(18, completed_epochs=1)
    assert run.read_metrics() == records[:3]
    run.metrics_path.write_text("".join(json.dumps(r) + "\n" for r in records))
    run.truncate_metrics(18, completed_epochs=2)  # saved after epoch 2's record
    assert run.read_metrics() == records[:4]


def test_a_run_refused_before_writing_anything_leaves_no_folder(tmp_path):
    run = RunDir(tmp_path, "typo")
    with pytest.raises(ValueError, match="refused"), run.lock():
        raise ValueError("refused")
    assert not run.path.exists()
    with run.lock():
        run.write_config({})
    assert run.config_path.exists() and not run.is_locked()
