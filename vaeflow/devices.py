"""Which device TensorFlow trains on: the first GPU's name, or "CPU"."""

from __future__ import annotations

import tensorflow as tf


def _gpu_name(device: tf.config.PhysicalDevice) -> str:
    """The marketing name of a physical GPU ("NVIDIA A100-SXM4-40GB"), else its TF name."""
    try:
        details = tf.config.experimental.get_device_details(device)
    except (ValueError, RuntimeError):  # details are unavailable for some plugin devices
        details = {}
    return str(details.get("device_name") or device.name)


def training_device() -> str:
    """What `vaeflow.train` will run on: ``"GPU: <name>"`` (``"<n> GPUs: <name>"``) or ``"CPU"``.

    Reads the physical devices only, so calling it does not initialise TensorFlow's runtime
    (logical-device configuration stays possible afterwards).
    """
    gpus = tf.config.list_physical_devices("GPU")
    if not gpus:
        return "CPU"
    name = _gpu_name(gpus[0])
    return f"GPU: {name}" if len(gpus) == 1 else f"{len(gpus)} GPUs: {name}"


def describe_devices() -> dict[str, object]:
    """A JSON-ready summary: the training device, the physical CPUs and GPUs TF sees, and
    whether this TensorFlow build has CUDA. Initialises nothing.
    """
    gpus = tf.config.list_physical_devices("GPU")
    return {
        "training_device": training_device(),
        "gpus": [_gpu_name(gpu) for gpu in gpus],
        "cpus": len(tf.config.list_physical_devices("CPU")),
        "built_with_cuda": tf.test.is_built_with_cuda(),
        "tensorflow": tf.__version__,
    }
