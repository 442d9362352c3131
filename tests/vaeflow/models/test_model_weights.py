"""Model weights are matched to variables by path, not position; version 1 files still load."""

import json

import keras
import numpy as np
import pytest

from vaeflow.models import VAE, ModelConfig, load_model, save_model
from vaeflow.models.io import CONFIG_FILE, WEIGHTS_FILE, _sha256, build, read_header, read_weights

X = np.random.default_rng(0).random((3, 36, 36, 3)).astype(np.float32)


def test_variable_paths_do_not_depend_on_layers_built_before():
    first = [v.path for v in build(VAE(ModelConfig())).weights]
    for _ in range(3):  # Keras numbers unnamed layers per process: dense, dense_1, ...
        keras.layers.Dense(4).build((None, 2))
        keras.layers.Conv2D(2, 3).build((None, 8, 8, 3))
    again = [v.path for v in build(VAE(ModelConfig())).weights]
    assert again == first
    assert "decoder/dense_0/bias" in first and "decoder/dense_1/bias" in first


def test_weights_are_assigned_by_path_whatever_the_variable_order(tmp_path):
    model = build(VAE(ModelConfig()))
    save_model(model, tmp_path / "m")
    other = build(VAE(ModelConfig()))
    header = read_header(tmp_path / "m" / CONFIG_FILE)
    # decoder/dense_1/bias and dense_2/bias have the same shape: by position they would swap
    read_weights(tmp_path / "m", header, list(reversed(other.weights)))
    for a, b in zip(model.weights, other.weights):
        np.testing.assert_array_equal(a.numpy(), b.numpy())


def test_a_path_missing_from_the_file_is_named(tmp_path):
    save_model(VAE(ModelConfig()), tmp_path / "m")
    flow = build(VAE(ModelConfig(prior="flow")))
    header = read_header(tmp_path / "m" / CONFIG_FILE)
    with pytest.raises(ValueError, match="prior_coupling_0/hidden_0/kernel"):
        read_weights(tmp_path / "m", header, flow.weights)


def test_version_1_files_load_by_position(tmp_path):
    model = build(VAE(ModelConfig()))
    directory = tmp_path / "v1"
    directory.mkdir()
    arrays = {f"w{i:03d}": v.numpy() for i, v in enumerate(model.weights)}
    with open(directory / WEIGHTS_FILE, "wb") as f:
        np.savez(f, **arrays)
    header = {"format": "vaeflow.model", "version": 1,
              "config": {k: v for k, v in model.config.to_dict().items() if not k.startswith("prior")},
              "weights": {"file": WEIGHTS_FILE, "sha256": _sha256(directory / WEIGHTS_FILE),
                          "dtype": "float32", "shapes": [list(a.shape) for a in arrays.values()],
                          "paths": [f"old/auto_name_{i}" for i in range(len(arrays))]}}
    (directory / CONFIG_FILE).write_text(json.dumps(header))
    loaded = load_model(directory)
    np.testing.assert_array_equal(loaded(X), model(X))


def test_shipped_model_is_stored_by_path():
    header = read_header(__import__("vaeflow").models.io.PRETRAINED_DIR / CONFIG_FILE)
    assert header["version"] == 2 and header["weights"]["keys"] == "path"
    with np.load(__import__("vaeflow").models.io.PRETRAINED_DIR / WEIGHTS_FILE) as npz:
        assert "encoder/conv_0/kernel" in npz.files
