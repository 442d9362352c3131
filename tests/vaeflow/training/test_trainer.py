"""The trainer: steps, loss, NaN handling, save/load, determinism, resume after a kill."""

import json
import signal
import subprocess
import sys
import threading
import time

import numpy as np
import pytest
import tensorflow as tf

from training_util import TINY, small_dataset, vaeflow_env, weights, small_config
from vaeflow.datasets import load_dataset
from vaeflow.models import VAE, load_model
from vaeflow.training.checkpoints import latest_checkpoint
from vaeflow.training.config import TrainConfig
from vaeflow.training.runs import RunDir
from vaeflow.training.loop import train
from vaeflow.training.trainer import NonFiniteLossError, Trainer

TERMS = {"loss", "reconstruction", "kl"}


@pytest.fixture(scope="module")
def data_file(tmp_path_factory):
    return small_dataset(tmp_path_factory.mktemp("data") / "flow.npz")


_config = small_config


def test_a_train_step_changes_every_weight_and_an_eval_step_changes_none(data_file):
    images = load_dataset(data_file).images[:64]
    trainer = Trainer(lambda: VAE(TINY), _config(data_file), steps_per_epoch=10)
    before = weights(trainer.model)
    terms = trainer.train_step(images[:32])
    assert set(terms) == TERMS and all(np.isfinite(v) for v in terms.values())
    assert trainer.step == 1
    after = weights(trainer.model)
    trainable = {id(v) for v in trainer.model.trainable_variables}
    for variable, old, new in zip(trainer.model.weights, before, after):
        if id(variable) in trainable:
            assert not np.array_equal(old, new), f"{variable.path} did not move"

    evaluated = trainer.evaluate(images)
    assert set(evaluated) == TERMS
    for old, new in zip(after, weights(trainer.model)):
        np.testing.assert_array_equal(old, new)
    assert trainer.step == 1
    assert trainer.evaluate(images) == evaluated  # fixed validation noise


@pytest.mark.slow
def test_loss_falls_and_metrics_use_the_shared_names(data_file, tmp_path):
    run = RunDir(tmp_path, "falls")
    result = train(_config(data_file, epochs=4), TINY, run)
    assert result.state == "done" and result.epoch == 4 and result.step == 4 * (288 // 32)
    records = run.read_metrics()
    epochs = [r for r in records if r["kind"] == "epoch"]
    windows = [r for r in records if r["kind"] == "window"]
    assert set(epochs[0]) == {"kind", "epoch", "step", "loss", "reconstruction", "kl", "val_loss",
                              "val_reconstruction", "val_kl", "r2_a", "r2_cos_theta",
                              "r2_sin_theta", "beta", "learning_rate", "images_per_s", "time"}
    assert set(windows[0]) == {"kind", "epoch", "step", "loss", "reconstruction", "kl",
                               "beta", "learning_rate", "images_per_s", "time"}
    assert [r["epoch"] for r in epochs] == [1, 2, 3, 4]
    assert epochs[-1]["val_loss"] < 0.8 * epochs[0]["val_loss"]
    assert windows[-1]["loss"] < 0.8 * windows[0]["loss"]
    for r in epochs:
        assert r["val_loss"] == pytest.approx(r["val_reconstruction"] + r["val_kl"], rel=1e-5)
    assert run.read_status()["state"] == "done"
    assert result.best_val_loss == min(r["val_loss"] for r in epochs)
    assert "device: CPU" in run.log_path.read_text()

    # TensorBoard event files carry the same names
    tags = set()
    for event_file in run.tb_dir.glob("events.out.tfevents.*"):
        for event in tf.compat.v1.train.summary_iterator(str(event_file)):
            tags.update(value.tag for value in event.summary.value)
    assert {"loss", "val_loss", "val_kl", "images_per_s", "time"} <= tags


_POISON = {}


class PoisonedVAE(VAE):
    """A VAE whose training loss turns NaN from its `after`-th train step on (a poisoned batch)."""

    after = 12

    def __init__(self, config):
        super().__init__(config)
        _POISON["calls"] = tf.Variable(0)  # outside the model: not one of its weights

    def elbo_terms(self, x, beta=1.0, seed=None, training=False):
        terms = super().elbo_terms(x, beta=beta, seed=seed, training=training)
        if not training:
            return terms
        calls = _POISON["calls"]
        calls.assign_add(1)
        poison = tf.where(calls > self.after, float("nan"), 0.0)
        return {name: value + poison for name, value in terms.items()}


@pytest.mark.slow
def test_a_nan_loss_stops_with_a_clear_error_and_keeps_the_last_good_checkpoint(data_file, tmp_path):
    run = RunDir(tmp_path, "nan")
    with pytest.raises(NonFiniteLossError, match=r"non-finite training loss at step 13 .*step 9"):
        train(_config(data_file, epochs=3), build_model=lambda: PoisonedVAE(TINY), run_dir=run)
    status = run.read_status()
    assert status["state"] == "failed" and "non-finite training loss" in status["error"]
    assert latest_checkpoint(run.checkpoints_dir)["step"] == 9  # end of epoch 1, before the NaN

    trainer = Trainer(lambda: VAE(TINY), _config(data_file), steps_per_epoch=9)
    from vaeflow.training.checkpoints import restore_checkpoint

    assert restore_checkpoint(run.checkpoints_dir, trainer.checkpoint)["epoch"] == 1
    assert trainer.step == 9
    assert all(np.isfinite(w).all() for w in weights(trainer.model))
    model = load_model(run.model_dir)  # the best model so far, also intact
    assert all(np.isfinite(w).all() for w in weights(model))


@pytest.mark.slow
def test_saved_model_and_checkpoint_give_the_same_outputs(data_file, tmp_path):
    run = RunDir(tmp_path, "saved")
    result = train(_config(data_file, epochs=1), TINY, run)
    x = load_dataset(data_file).images[:8].astype(np.float32) / 255.0
    z = np.random.default_rng(0).normal(size=(8, 2)).astype(np.float32)
    loaded = load_model(run.path)
    np.testing.assert_array_equal(loaded.decode(z), result.model.decode(z))
    np.testing.assert_array_equal(loaded.encode(x).mean(), result.model.encode(x).mean())

    from vaeflow.training.checkpoints import restore_checkpoint

    fresh = Trainer(lambda: VAE(TINY), _config(data_file), steps_per_epoch=9)
    restore_checkpoint(run.checkpoints_dir, fresh.checkpoint)
    np.testing.assert_array_equal(fresh.model.decode(z), result.model.decode(z))


def _comparable(records):
    return [{k: v for k, v in r.items() if k not in ("time", "images_per_s")} for r in records]


@pytest.mark.slow
def test_the_same_seed_gives_identical_weights_and_metrics(data_file, tmp_path):
    runs = [RunDir(tmp_path, name) for name in ("a", "b", "c")]
    results = [train(_config(data_file, seed=seed), TINY, run)
               for seed, run in zip((5, 5, 6), runs)]
    assert _comparable(runs[0].read_metrics()) == _comparable(runs[1].read_metrics())
    for w0, w1 in zip(weights(results[0].model), weights(results[1].model)):
        np.testing.assert_array_equal(w0, w1)
    assert _comparable(runs[0].read_metrics()) != _comparable(runs[2].read_metrics())
    from tensorflow.python.framework import config as framework_config

    assert not framework_config.is_op_determinism_enabled()  # the host process is left as it was


@pytest.mark.slow
def test_stream_trains_on_fresh_images_and_early_stopping_and_stop_requests_work(tmp_path):
    config = TrainConfig(stream=True, stream_epoch_size=64, stream_val_size=32, stream_repeats=2,
                         batch_size=32, epochs=5, patience=1, min_delta=1e9, seed=2)
    run = RunDir(tmp_path, "stream")
    result = train(config, TINY, run)
    # epoch 1 sets the best; epoch 2 cannot beat it by 1e9 nats: patience 1 stops there
    assert result.state == "done" and result.epoch == 2 and "early stopping" in result.reason
    assert json.loads(run.config_path.read_text())["train"]["stream"] is True

    stop = threading.Event()
    stop.set()  # already requested: the loop stops after its first step
    stopped = train(config.replace(patience=None), TINY, RunDir(tmp_path, "stopped"), stop_event=stop)
    assert stopped.state == "stopped" and stopped.step == 1
    status = RunDir(tmp_path, "stopped").read_status()
    assert status["state"] == "stopped"
    # The mid-epoch validation at the stop is in the metrics too, so the page agrees with status.
    last = RunDir(tmp_path, "stopped").read_metrics()[-1]
    assert last["kind"] == "end" and last["step"] == 1 == status["step"]
    assert last["val_loss"] == pytest.approx(status["best_val_loss"])
    assert latest_checkpoint(tmp_path / "stopped" / "checkpoints")["step"] == 1
    assert load_model(tmp_path / "stopped") is not None


@pytest.mark.slow
def test_bad_input_is_refused_before_training(data_file, tmp_path):
    train(_config(data_file, epochs=1), TINY, RunDir(tmp_path, "once"))
    with pytest.raises(ValueError, match="already holds a run"):
        train(_config(data_file, epochs=1), TINY, RunDir(tmp_path, "once"))
    with pytest.raises(ValueError, match="batch_size"):
        train(_config(data_file, batch_size=1000), TINY, RunDir(tmp_path, "big"))
    with pytest.raises(ValueError, match="TrainConfig.data"):
        train(TrainConfig(), TINY)
    from vaeflow.models import ModelConfig

    small_images = ModelConfig.from_dict({**TINY.to_dict(), "image_size": 32})
    with pytest.raises(ValueError, match="36x36 but the model's image_size is 32"):
        train(_config(data_file), small_images, RunDir(tmp_path, "size"))
    if not tf.config.list_physical_devices("GPU"):
        with pytest.raises(ValueError, match="mixed_precision needs a GPU"):
            train(_config(data_file, mixed_precision=True), TINY)
    with pytest.raises(ValueError, match="no run to resume"):
        train(_config(data_file), TINY, RunDir(tmp_path, "nothing"), resume=True)


@pytest.mark.slow
def test_resume_after_kill_continues_from_the_checkpoint(data_file, tmp_path):
    run = RunDir(tmp_path, "killed")
    config = _config(data_file, epochs=1000, steps_per_window=1)
    config_file = tmp_path / "config.json"
    config_file.write_text(json.dumps({"train": config.to_dict(), "model": TINY.to_dict()}))
    process = subprocess.Popen(
        [sys.executable, "-m", "vaeflow", "train", "--config", str(config_file),
         "--run-dir", str(run.path), "--no-progress"],
        env=vaeflow_env(), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.time() + 120
        while latest_checkpoint(run.checkpoints_dir) is None or latest_checkpoint(
                run.checkpoints_dir)["step"] < 18:
            assert process.poll() is None and time.time() < deadline
            time.sleep(0.02)
    finally:
        process.send_signal(signal.SIGKILL)
        process.wait()
    checkpoint = latest_checkpoint(run.checkpoints_dir)
    before = run.read_metrics()
    assert run.read_status()["state"] == "running"  # killed: it never got to say otherwise
    assert before[-1]["step"] >= checkpoint["step"]

    epochs = checkpoint["state"]["epoch"] + 2
    result = train(config.replace(epochs=epochs), TINY, run, resume=True)
    assert f"resumed from step {checkpoint['step']}" in run.log_path.read_text()
    after = run.read_metrics()
    steps = [r["step"] for r in after if r["kind"] == "window"]
    assert steps == list(range(1, result.step + 1))  # no step twice, none missing
    kept = [r for r in before if r["step"] <= checkpoint["step"]]
    assert after[:len(kept)] == kept  # the killed run's records up to the checkpoint survive
    assert result.step == epochs * 9 and result.epoch == epochs
    assert run.read_status()["state"] == "done"
