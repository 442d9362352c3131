"""Model weights are matched to variables by path, not position; version 1 files still load."""

import io
import json
import zipfile

import keras
import numpy as np
import pytest

from vaeflow.models import VAE, ModelConfig, load_model, save_model
from vaeflow.models.io import CONFIG_FILE, WEIGHTS_FILE, _sha256, build, read_header, read_weights
from training_util import TINY

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


def _forge(directory, replace_member, data: bytes) -> None:
    """Rewrite directory/weights.npz with `replace_member`'s bytes replaced by `data` (or added),
    and record the new file's sha256 in config.json, as a forger of both files would."""
    weights_path = directory / WEIGHTS_FILE
    with zipfile.ZipFile(weights_path) as archive:
        members = {name: archive.read(name) for name in archive.namelist()}
    members[replace_member] = data
    with zipfile.ZipFile(weights_path, "w", zipfile.ZIP_STORED) as archive:
        for name, content in members.items():
            archive.writestr(name, content)
    header = json.loads((directory / CONFIG_FILE).read_text())
    header["weights"]["sha256"] = _sha256(weights_path)
    (directory / CONFIG_FILE).write_text(json.dumps(header))


def _npy_header(shape, dtype="<f4") -> bytes:
    buffer = io.BytesIO()
    np.lib.format.write_array_header_1_0(buffer, {"descr": dtype, "fortran_order": False,
                                                  "shape": tuple(shape)})
    return buffer.getvalue()


@pytest.mark.parametrize("shape", [(2**40,), (2**20, 2**20)], ids=["4TB-vector", "4TB-matrix"])
def test_a_header_declaring_a_huge_array_is_refused_naming_the_file(tmp_path, shape):
    model = build(VAE(TINY))
    directory = save_model(model, tmp_path / "m")
    first = f"{model.weights[0].path}.npy"
    _forge(directory, first, _npy_header(shape) + b"\0" * 64)
    with pytest.raises(ValueError, match=f"{WEIGHTS_FILE}: {first} declares"):
        load_model(directory)


def test_a_weight_with_a_forged_shape_or_dtype_is_refused_before_the_file_is_read(tmp_path, monkeypatch):
    model = build(VAE(TINY))
    directory = save_model(model, tmp_path / "m")
    variable = model.weights[0]
    wrong_shape = (int(np.prod(variable.shape)),)  # same bytes, other shape
    _forge(directory, f"{variable.path}.npy", _npy_header(wrong_shape) + variable.numpy().tobytes())
    monkeypatch.setattr(np, "load", lambda *a, **k: pytest.fail("np.load before the headers were checked"))
    with pytest.raises(ValueError, match=f"weight {variable.path} has shape"):
        load_model(directory)
    _forge(directory, f"{variable.path}.npy", _npy_header(variable.shape, "<i4") + variable.numpy().tobytes())
    with pytest.raises(ValueError, match=f"weight {variable.path} is int32"):
        load_model(directory)


def test_a_weights_file_larger_than_the_network_is_refused_before_hashing(tmp_path, monkeypatch):
    directory = save_model(build(VAE(TINY)), tmp_path / "m")
    buffer = io.BytesIO()
    np.save(buffer, np.zeros(2**20, np.float32))  # 4 MB: far more than TINY's weights
    _forge(directory, "extra.npy", buffer.getvalue())
    monkeypatch.setattr("vaeflow.models.io._sha256", lambda path: pytest.fail("hashed first"))
    with pytest.raises(ValueError, match=f"{WEIGHTS_FILE} holds .* more than the weights of this network"):
        load_model(directory)
