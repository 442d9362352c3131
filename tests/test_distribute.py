"""tf.distribute: MirroredStrategy over 2 logical CPU devices.

Logical devices must be configured before TensorFlow initialises its runtime, so the training
runs in a fresh interpreter and reports back as JSON.
"""

import json

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
config = TrainConfig(data=str(data), distribute="mirrored", epochs=3, batch_size=32,
                     learning_rate=3e-3, seed=0)
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


def test_mirrored_strategy_on_two_logical_cpus_trains_in_sync(tmp_path):
    completed = run_python(SCRIPT.replace("ROOT", repr(str(tmp_path))), timeout=240)
    assert completed.returncode == 0, completed.stderr[-3000:]
    report = json.loads(completed.stdout.strip().splitlines()[-1])
    assert "replicas: 2" in report["log"]
    assert report["variable_type"] == "MirroredVariable"
    assert len(report["devices"]) == 2 and all("CPU" in d for d in report["devices"])
    # all-reduced gradients keep every replica's copy identical although each saw other images
    assert report["replicas_agree"]
    assert report["step"] == 3 * (288 // 32)
    losses = report["val_losses"]
    assert all(b < a for a, b in zip(losses, losses[1:])), losses
    assert report["reload_matches"]
