"""Training callbacks: the hooks a run calls, in order, and TensorBoard with or without the
tensorboard package."""

import sys
import types

import tensorflow as tf

from training_util import TINY
from vaeflow.training.callbacks import Callback, TensorBoardLog
from vaeflow.training.config import TrainConfig
from vaeflow.training.loop import train
from vaeflow.training.runs import RunDir


class Recorder(Callback):
    """Writes down every hook it sees, and carries a counter across checkpoints."""

    def __init__(self):
        self.calls, self.records, self.steps_seen = [], [], 0

    def on_train_begin(self, loop):
        self.calls.append("begin")

    def on_step_end(self, loop, terms):
        self.steps_seen += 1
        self.calls.append("step")

    def on_window_end(self, loop, record):
        self.records.append(record)

    def on_epoch_end(self, loop, record):
        self.records.append(record)
        if record["epoch"] == 2:
            loop.stop_reason = ("done", "seen enough")

    def on_train_end(self, loop, record):
        self.calls.append(("end", record))

    def state(self):
        return {"recorder_steps": self.steps_seen}


def test_a_callback_sees_every_step_and_record_and_can_end_the_run(tmp_path):
    config = TrainConfig(stream=True, stream_epoch_size=96, stream_val_size=32, batch_size=32,
                         epochs=5, steps_per_window=2, seed=3)
    recorder = Recorder()
    run = RunDir(tmp_path, "hooks")
    result = train(config, TINY, run, callbacks=[recorder])
    assert (result.state, result.reason, result.epoch, result.step) == ("done", "seen enough", 2, 6)
    assert recorder.calls == ["begin"] + ["step"] * 6 + [("end", None)]
    assert recorder.records == run.read_metrics()  # the same records metrics.jsonl holds
    from vaeflow.training.checkpoints import latest_checkpoint

    assert latest_checkpoint(run.checkpoints_dir)["state"]["recorder_steps"] == 6


def _tags(directory):
    tags = {}
    for event_file in directory.glob("events.out.tfevents.*"):
        for event in tf.compat.v1.train.summary_iterator(str(event_file)):
            for value in event.summary.value:
                tags[value.tag] = event.step
    return tags


RECORD = {"kind": "window", "epoch": 1, "step": 7, "loss": 3.5, "kl": None, "time": 1.0}


def test_tensorboard_scalars_use_tf_summary_scalar_when_tensorboard_is_installed(tmp_path,
                                                                                 monkeypatch):
    written = []
    monkeypatch.setitem(sys.modules, "tensorboard", types.ModuleType("tensorboard"))
    monkeypatch.setattr(tf.summary, "scalar", lambda name, data, step=None: written.append(
        (name, data, step)), raising=False)
    log = TensorBoardLog(tmp_path)
    log.on_window_end(None, RECORD)
    log.close()
    assert written == [("epoch", 1.0, 7), ("loss", 3.5, 7), ("time", 1.0, 7)]


def test_without_tensorboard_the_same_scalars_are_written_by_tensorflow_alone(tmp_path,
                                                                              monkeypatch):
    monkeypatch.setitem(sys.modules, "tensorboard", None)  # import tensorboard fails
    log = TensorBoardLog(tmp_path)
    log.on_window_end(None, RECORD)
    log.close()
    assert _tags(tmp_path) == {"epoch": 7, "loss": 7, "time": 7}
