"""JobRunner's process lifecycle without TensorFlow: a stand-in "python" plays the trainer."""

import json
import sys
import time

import pytest

import vaeflow
from vaeflow.training import RunInProgressError
from vaeflow.training.runs import RunDir, RunLockedError, process_stat

# Called as `<python> -m vaeflow train --run-dir DIR --resume --no-progress`: DIR is $5.
FINISHING_TRAINER = """#!/bin/sh
sleep 0.5  # after JobRunner.start has recorded the pid, as a real trainer's start-up is
printf '{"state": "done", "started": 1.0, "ended": 2.0, "pid": %s}' $$ > "$5/.status.tmp"
mv "$5/.status.tmp" "$5/status.json"  # atomic, as the trainer writes it: never seen half-written
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


# A trainer that starts slowly (as the real one imports TensorFlow), then takes the run's lock
# as `vaeflow.train` does and records whether it got it.
LOCKING_TRAINER = """#!{python}
import sys, time
from vaeflow.training.runs import RunDir, RunLockedError
time.sleep(1.0)
run = RunDir.from_path(sys.argv[5])
try:
    with run.lock():
        run.write_status("done", pid=None)
except RunLockedError as error:
    run.write_status("failed", error=str(error))
"""


def test_start_holds_the_run_lock_from_its_checks_until_its_trainer_has_it(tmp_path, monkeypatch):
    python = tmp_path / "fake-python"
    python.write_text(LOCKING_TRAINER.format(python=sys.executable))
    python.chmod(0o755)
    jobs = vaeflow.JobRunner(tmp_path / "runs", python=str(python))
    cli = []
    real_write_status = RunDir.write_status

    def write_status_as_a_cli_trainer_arrives(self, state, **fields):
        if not cli:  # between start's checks and its "running": a CLI `train` takes the lock
            try:
                with RunDir(self.root, self.name).lock():
                    cli.append("trained")
            except RunLockedError:
                cli.append("refused")
        return real_write_status(self, state, **fields)

    monkeypatch.setattr(RunDir, "write_status", write_status_as_a_cli_trainer_arrives)
    jobs.start("r", vaeflow.TrainConfig(), data="stream")
    monkeypatch.undo()
    assert cli == ["refused"], "a CLI trainer got the lock while start was claiming the run"
    run = jobs.run_dir("r")
    # Still held while the trainer starts up (no window for another writer), then the
    # trainer's own lock takes it over without a refusal.
    assert run.is_locked()
    with pytest.raises(RunLockedError):
        with run.lock():
            pass
    deadline = time.time() + 30
    while run.read_status().get("state") == "running":
        assert time.time() < deadline
        time.sleep(0.05)
    assert run.read_status()["state"] == "done", run.read_status()
    jobs.list_runs()  # reaps the trainer
    assert not run.is_locked()
