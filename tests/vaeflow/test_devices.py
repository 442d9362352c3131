"""training_device / describe_devices: what the trainer reports it runs on."""

import json

import tensorflow as tf

from vaeflow import devices


def test_reports_cpu_when_tensorflow_sees_no_gpu(monkeypatch):
    monkeypatch.setattr(tf.config, "list_physical_devices",
                        lambda kind=None: [] if kind == "GPU" else ["cpu"])
    assert devices.training_device() == "CPU"
    assert devices.describe_devices()["gpus"] == []


def test_reports_the_gpu_name(monkeypatch):
    gpu = tf.config.PhysicalDevice(name="/physical_device:GPU:0", device_type="GPU")
    monkeypatch.setattr(tf.config, "list_physical_devices",
                        lambda kind=None: [gpu] if kind == "GPU" else [])
    monkeypatch.setattr(tf.config.experimental, "get_device_details",
                        lambda device: {"device_name": "NVIDIA T4"})
    assert devices.training_device() == "GPU: NVIDIA T4"
    monkeypatch.setattr(tf.config, "list_physical_devices",
                        lambda kind=None: [gpu, gpu] if kind == "GPU" else [])
    assert devices.training_device() == "2 GPUs: NVIDIA T4"


def test_describe_devices_is_json_and_agrees_with_tensorflow():
    summary = devices.describe_devices()
    json.dumps(summary)
    gpus = tf.config.list_physical_devices("GPU")
    assert len(summary["gpus"]) == len(gpus)
    assert summary["training_device"] == ("CPU" if not gpus else devices.training_device())
