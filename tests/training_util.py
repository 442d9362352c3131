"""Shared helpers for the training tests: a tiny VAE and a small flow dataset on disk."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np

from vaeflow.datasets import generate_dataset, save_dataset
from vaeflow.models import ModelConfig
from vaeflow.training.config import TrainConfig

REPO = Path(__file__).resolve().parents[1]

def _tiny(config: ModelConfig) -> ModelConfig:
    """`config` with every layer width cut to ~1/16 (at least 2): the same architecture, a few
    thousand parameters, so every test trains in well under a second per epoch.
    """
    widths = {}
    for name in ("encoder_channels", "encoder_units", "decoder_units", "decoder_channels"):
        widths[name] = tuple(max(2, w // 16) for w in getattr(config, name))
    values = {**config.to_dict(), **widths}
    if values.get("fourier_features"):
        values["fourier_features"] = 8
    return ModelConfig.from_dict(values)


TINY = _tiny(ModelConfig())


def small_dataset(path: Path, n: int = 320, seed: int = 11) -> Path:
    """`n` real flow images saved as a dataset file at `path`."""
    save_dataset(generate_dataset(n, seed), path)
    return path


def weights(model) -> list[np.ndarray]:
    return [np.array(w.numpy()) for w in model.weights]


def vaeflow_env() -> dict[str, str]:
    """Environment for `python -m vaeflow` subprocesses: quiet TF, repo importable."""
    return {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2",
            "PYTHONPATH": os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")])}


def run_python(code: str, timeout: float = 120) -> subprocess.CompletedProcess:
    """Run `code` in a fresh interpreter (for settings TF only accepts before it initialises)."""
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=timeout, env=vaeflow_env(), cwd=REPO)


def small_config(data_file, **changes) -> TrainConfig:
    """The tests' quick recipe on `data_file` (2 epochs of batch 32, a record every 3 steps)."""
    values = dict(data=str(data_file), epochs=2, batch_size=32, learning_rate=3e-3,
                  steps_per_window=3, seed=1)
    return TrainConfig(**{**values, **changes})
