"""Shared helpers for the training tests: a tiny VAE and a small flow dataset on disk."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np

from vaeflow.datasets import generate_dataset, save_dataset
from vaeflow.models import ModelConfig

REPO = Path(__file__).resolve().parents[1]
# A few thousand parameters: every test trains in well under a second per epoch.
TINY = ModelConfig(encoder_channels=(4, 8), encoder_units=(16,), decoder_units=(16,),
                   decoder_channels=(8, 4))


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
