"""tf.distribute: MirroredStrategy over 2 logical CPU devices.

Logical devices must be configured before TensorFlow initialises its runtime, so the training
runs in a fresh interpreter and reports back as JSON.
"""

import json

import pytest

from training_util import run_python

SCRIPT = r"""
import json, sys
import numpy as np
import tensorflow as tf

cpu = tf.config.list_physical_devices("CPU")[0]
tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)

sys.path.insert(0, "tests")
from training_util import TINY, small_dataset
from vaeflow.models import load_model
from vaeflow.training import RunDir, TrainConfig, train

root = ROOT
data = small_dataset(__import__("pathlib").Path(root) / "flow.npz")
run = RunDir(root, "mirrored")
import vaeflow.training.warm_start as warm_start
warm_start.STEPS = 30  # the PCA warm start runs under the strategy too
config = TrainConfig(data=str(data), distribute="mirrored", epochs=3, batch_size=32,
                     learning_rate=3e-3, seed=0, encoder_init="pca")
result = train(config, TINY, run)
variables = [v.value for v in result.model.trainable_variables]
components = [[np.array(c.numpy()) for c in v.values] for v in variables]
epochs = [r for r in run.read_metrics() if r["kind"] == "epoch"]
loaded = load_model(run.path)
z = np.zeros((2, 2), np.float32)
print(json.dumps({
    "log": run.log_path.read_text(),
    "variable_type": type(variables[0]).__name__,
    "devices": sorted(c.device for c in variables[0].values),
    "replicas_agree": all(all(np.array_equal(c[0], other) for other in c[1:]) for c in components),
    "val_losses": [r["val_loss"] for r in epochs],
    "step": result.step,
    "reload_matches": bool(np.array_equal(loaded.decode(z), result.model.decode(z))),
}))
"""


@pytest.mark.slow
def test_mirrored_strategy_on_two_logical_cpus_trains_in_sync(tmp_path):
    completed = run_python(SCRIPT.replace("ROOT", repr(str(tmp_path))), timeout=240)
    assert completed.returncode == 0, completed.stderr[-3000:]
    report = json.loads(completed.stdout.strip().splitlines()[-1])
    assert "replicas: 2" in report["log"] and "encoder warm start" in report["log"]
    assert report["variable_type"] == "MirroredVariable"
    assert len(report["devices"]) == 2 and all("CPU" in d for d in report["devices"])
    # all-reduced gradients keep every replica's copy identical although each saw other images
    assert report["replicas_agree"]
    assert report["step"] == 3 * (288 // 32)
    losses = report["val_losses"]
    assert all(b < a for a, b in zip(losses, losses[1:])), losses
    assert report["reload_matches"]


def _free_ports(n):
    import socket

    sockets = [socket.socket() for _ in range(n)]
    for s in sockets:
        s.bind(("localhost", 0))
    ports = [s.getsockname()[1] for s in sockets]
    for s in sockets:
        s.close()
    return ports


@pytest.mark.slow
def test_multi_worker_mirrored_strategy_from_tf_config(tmp_path):
    """Two worker processes on this host, configured only through TF_CONFIG, train as one."""
    import subprocess
    import sys

    from training_util import TINY, small_dataset, vaeflow_env
    from vaeflow.training.runs import RunDir

    data = small_dataset(tmp_path / "flow.npz", n=192)
    config_file = tmp_path / "config.json"
    config_file.write_text(json.dumps({
        "train": {"data": str(data), "epochs": 2, "batch_size": 32, "seed": 0},
        "model": TINY.to_dict()}))
    cluster = {"worker": [f"localhost:{port}" for port in _free_ports(2)]}
    workers = []
    for index in range(2):
        env = {**vaeflow_env(),
               "TF_CONFIG": json.dumps({"cluster": cluster, "task": {"type": "worker", "index": index}})}
        workers.append(subprocess.Popen(
            [sys.executable, "-m", "vaeflow", "train", "--config", str(config_file),
             "--run-dir", str(tmp_path / "multi"), "--no-progress"],
            env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True))
    try:
        outputs = [worker.communicate(timeout=240)[0] for worker in workers]
    finally:
        for worker in workers:
            if worker.poll() is None:
                worker.kill()
    assert [w.returncode for w in workers] == [0, 0], outputs[0][-2000:] + outputs[1][-2000:]
    chief, other = RunDir(tmp_path, "multi"), RunDir(tmp_path / "multi" / "workers", "worker-1")
    assert "replicas: 2" in chief.log_path.read_text()
    assert chief.read_status()["state"] == other.read_status()["state"] == "done"
    # one model, trained in lockstep: both workers saw the same all-reduced losses
    def losses(run):
        return [{k: v for k, v in r.items() if k not in ("time", "images_per_s")}
                for r in run.read_metrics()]

    assert losses(chief) == losses(other)
    assert (chief.model_dir / "weights.npz").read_bytes() == (other.model_dir / "weights.npz").read_bytes()
    from vaeflow.training.checkpoints import latest_checkpoint

    assert latest_checkpoint(chief.checkpoints_dir)["step"] == latest_checkpoint(other.checkpoints_dir)["step"]
