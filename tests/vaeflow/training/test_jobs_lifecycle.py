"""JobRunner's process lifecycle without TensorFlow: a stand-in "python" plays the trainer."""

import json
import time

import pytest

import vaeflow
from vaeflow.training import RunInProgressError
from vaeflow.training.runs import process_stat

# Called as `<python> -m vaeflow train --run-dir DIR --resume --no-progress`: DIR is $5.
FINISHING_TRAINER = """#!/bin/sh
sleep 0.5  # after JobRunner.start has recorded the pid, as a real trainer's start-up is
printf '{"state": "done", "started": 1.0, "ended": 2.0, "pid": %s}' $$ > "$5/status.json"
exit 0
"""


@pytest.fixture
def jobs(tmp_path):
    python = tmp_path / "fake-python"
    python.write_text(FINISHING_TRAINER)
    python.chmod(0o755)
    return vaeflow.JobRunner(tmp_path / "runs", python=str(python))


def _finished(jobs, name):
    deadline = time.time() + 30
    while jobs.run_dir(name).read_status().get("state") != "done":
        assert time.time() < deadline
        time.sleep(0.05)
    return jobs.run_dir(name).read_status()["pid"]


def test_a_finished_run_is_reaped_not_left_a_zombie(jobs):
    jobs.start("r", vaeflow.TrainConfig(), data="stream")
    pid = _finished(jobs, "r")
    time.sleep(0.3)  # the child has exited: it is a zombie until its parent collects it
    assert [s.state for s in jobs.list_runs()] == ["done"]
    assert process_stat(pid) is None, "the finished trainer is still a <defunct> child"


def test_delete_removes_a_finished_run_and_refuses_a_running_one(jobs):
    jobs.start("r", vaeflow.TrainConfig(), data="stream")
    _finished(jobs, "r")
    jobs.delete("r")
    assert not jobs.run_dir("r").exists() and jobs.list_runs() == []
    with pytest.raises(ValueError, match="'r' does not exist"):
        jobs.delete("r")
    running = jobs.run_dir("live").create()
    running.write_config({"train": {}})
    (running.path / "status.json").write_text(json.dumps({"state": "running", "pid": None,
                                                          "started": time.time()}))
    with pytest.raises(RunInProgressError, match="'live' is training"):
        jobs.delete("live")
    assert running.exists()
