"""explorer.heldout_store: held-out sets are rendered once, read back, never reused across
renderers, and the folder stays bounded."""

import os

import numpy as np
import pytest

import vaeflow
from explorer import heldout_store

SPEC_JSON = vaeflow.FlowSpec().to_json()


def test_a_set_is_rendered_once_then_read_back(tmp_path, monkeypatch):
    first = heldout_store.load_or_render(SPEC_JSON, 12, 3, "v1", tmp_path)
    expected = vaeflow.generate_dataset(12, 3)
    np.testing.assert_array_equal(first[0], expected.images)
    np.testing.assert_array_equal(first[1], expected.factors)
    monkeypatch.setattr(vaeflow, "generate_dataset", lambda *a, **k: pytest.fail("rendered again"))
    second = heldout_store.load_or_render(SPEC_JSON, 12, 3, "v1", tmp_path)
    np.testing.assert_array_equal(second[0], first[0])
    assert second[0].dtype == np.uint8 and second[1].dtype == np.float32


def test_another_renderer_or_a_broken_file_renders_again_and_old_files_go(tmp_path, monkeypatch):
    heldout_store.load_or_render(SPEC_JSON, 6, 0, "old", tmp_path)
    (old_file,) = tmp_path.glob("heldout-old-*.npz")
    calls = []
    real = vaeflow.generate_dataset
    monkeypatch.setattr(vaeflow, "generate_dataset", lambda *a, **k: calls.append(a) or real(*a, **k))
    heldout_store.load_or_render(SPEC_JSON, 6, 0, "new", tmp_path)
    assert len(calls) == 1 and not old_file.exists()
    (new_file,) = tmp_path.glob("heldout-*.npz")
    new_file.write_bytes(b"PK\x03\x04 truncated")
    images, _ = heldout_store.load_or_render(SPEC_JSON, 6, 0, "new", tmp_path)
    assert len(calls) == 2 and images.shape == (6, 36, 36, 3)
    assert [p.name for p in tmp_path.iterdir()] == [new_file.name]  # no temp files left


def test_the_folder_keeps_only_the_newest_sets_of_this_renderer(tmp_path):
    for seed in range(heldout_store.KEEP + 2):
        heldout_store.load_or_render(SPEC_JSON, 2, seed, "v", tmp_path)
        # distinct mtimes, oldest first, whatever the file system's clock resolution
        path = heldout_store.heldout_path(tmp_path, SPEC_JSON, 2, seed, "v")
        os.utime(path, (1e9 + seed, 1e9 + seed))
    heldout_store.prune(tmp_path, "v")
    kept = {p.name for p in tmp_path.glob("*.npz")}
    assert kept == {heldout_store.heldout_path(tmp_path, SPEC_JSON, 2, seed, "v").name
                    for seed in range(2, heldout_store.KEEP + 2)}


def test_the_cache_folder_follows_the_environment(tmp_path, monkeypatch):
    monkeypatch.setenv("VAEFLOW_CACHE_DIR", str(tmp_path / "c"))
    assert heldout_store.cache_dir() == tmp_path / "c"
    monkeypatch.delenv("VAEFLOW_CACHE_DIR")
    monkeypatch.setenv("HOME", str(tmp_path))
    assert heldout_store.cache_dir() == tmp_path / ".cache" / "vaeflow"
