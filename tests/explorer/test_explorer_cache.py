"""explorer.cache: which models the Explore page offers, their fingerprints and specs."""

import json
import os

import numpy as np

import vaeflow
from explorer import cache


def _fake_model_dir(path, payload=b"w"):
    path.mkdir(parents=True)
    (path / "config.json").write_text("{}")
    (path / "weights.npz").write_bytes(payload)


def test_pretrained_comes_first_then_finished_runs_newest_first(monkeypatch, tmp_path):
    runs = tmp_path / "runs"
    for name, age in (("old", 200), ("new", 100)):
        _fake_model_dir(runs / name / "model")
        os.utime(runs / name, (1e9 - age, 1e9 - age))
    (runs / "running").mkdir()  # no model/ yet
    monkeypatch.setenv("VAEFLOW_RUNS_DIR", str(runs))
    refs = cache.model_refs()
    assert [r.name for r in refs] == [cache.PRETRAINED, "new", "old"]
    assert refs[1].path == str(runs / "new")


def test_fingerprint_changes_when_the_weights_change(monkeypatch, tmp_path):
    runs = tmp_path / "runs"
    _fake_model_dir(runs / "r" / "model")
    monkeypatch.setenv("VAEFLOW_RUNS_DIR", str(runs))
    before = cache.model_refs()[1]
    (runs / "r" / "model" / "weights.npz").write_bytes(b"retrained, longer")
    after = cache.model_refs()[1]
    assert before.fingerprint != after.fingerprint and before != after


def test_a_run_is_drawn_with_the_spec_of_its_dataset(tmp_path):
    spec = vaeflow.FlowSpec(a_mean=1.5, cmap="viridis")
    data = tmp_path / "d.npz"
    vaeflow.save_dataset(vaeflow.FlowDataset(np.zeros((1, 36, 36, 3), np.uint8),
                                             np.zeros((1, 2), np.float32), spec, seed=0), data)
    run = tmp_path / "run"
    run.mkdir()
    (run / "config.json").write_text(json.dumps({"train": {"data": str(data)}, "model": {}}))
    ref = cache.ModelRef("run", str(run), "")
    assert cache.spec_for(ref) == spec
    # a missing dataset file: the study's spec, with a warning that names the file
    (run / "config.json").write_text(json.dumps({"train": {"data": str(tmp_path / "gone.npz")}}))
    source = cache.data_source(ref)
    assert source.spec == vaeflow.FlowSpec() and "gone.npz" in source.warnings[0]


def test_prior_samples_are_the_metrics_prior_samples_in_uint8(tmp_path):
    """One sampler: the Explore page's prior samples for a seed are the images the FID uses."""
    import keras

    from vaeflow.metrics import prior_samples
    from vaeflow.models import VAE, ModelConfig, load_model, save_model

    keras.utils.set_random_seed(0)
    save_model(VAE(ModelConfig()), tmp_path / "m")
    ref = cache.ModelRef("m", str(tmp_path / "m"), "")
    shown = cache.prior_samples(ref, 5, 9)
    measured = prior_samples(load_model(tmp_path / "m"), 5, seed=9)
    np.testing.assert_array_equal(shown, np.round(np.clip(measured, 0, 1) * 255).astype(np.uint8))
    assert not np.array_equal(shown, cache.prior_samples(ref, 5, 10))


def test_model_names_follow_the_runs_folder_without_a_cache(monkeypatch, tmp_path):
    """The Explore page polls these names: a run that finishes shows up at the next poll."""
    runs = tmp_path / "runs"
    monkeypatch.setenv("VAEFLOW_RUNS_DIR", str(runs))
    assert cache.model_names() == [cache.PRETRAINED]
    _fake_model_dir(runs / "fresh" / "model")
    assert cache.model_names() == [r.name for r in cache.model_refs()] == [cache.PRETRAINED, "fresh"]
